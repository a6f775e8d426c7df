//! Loads the configuration in layers: built-in defaults, then the TOML file, then `HERALD_*`
//! environment variables (`HERALD_DATA_DIR`, `HERALD_LISTEN`…), then command-line flags.

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use herald_server::Config;
use std::collections::BTreeSet;
use std::path::Path;

/// Default configuration file, read when it exists.
const DEFAULT_FILE: &str = "herald.toml";

/// Prefix of the environment variables that carry settings.
const PREFIX: &str = "HERALD_";

/// Environment variables that are not configuration keys.
const NOT_KEYS: &[&str] = &["HERALD_CONFIG", "HERALD_LOG"];

/// `HERALD_TEST_*` variables steer the test suite (which backend, which services), never a
/// server.
const TEST_PREFIX: &str = "TEST_";

/// The configuration in effect, and the `HERALD_*` variables that name no setting.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// Ignored variables (e.g. a wrapper script's own `HERALD_SOMETHING`), to be warned about
    /// once logging is set up. Only their names: values may be secrets.
    pub ignored_env: Vec<String>,
}

impl Loaded {
    /// Logs one warning per ignored variable.
    pub fn warn_ignored(&self) {
        for name in &self.ignored_env {
            tracing::warn!(variable = %name, "Ignoring {name}: it names no Herald setting (see `herald config`).");
        }
    }
}

/// The setting names (`listen`, `data_dir`…): the keys of the default configuration.
fn setting_names() -> anyhow::Result<BTreeSet<String>> {
    let defaults = serde_json::to_value(Config::default()).context("cannot list the settings")?;
    Ok(defaults
        .as_object()
        .map(|fields| fields.keys().cloned().collect())
        .unwrap_or_default())
}

/// The `HERALD_*` variables of this process that name no setting (and are none of the
/// variables read elsewhere).
fn unknown_variables(settings: &BTreeSet<String>) -> Vec<String> {
    let mut unknown: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with(PREFIX) && !NOT_KEYS.contains(&name.as_str()))
        .filter(|name| {
            let key = &name[PREFIX.len()..];
            !key.to_ascii_uppercase().starts_with(TEST_PREFIX)
                && !settings.contains(&key.to_ascii_lowercase())
        })
        .collect();
    unknown.sort();
    unknown
}

/// Loads the configuration: unknown keys in the file are refused (a typo there is a mistake
/// to fix), unknown `HERALD_*` variables are ignored and reported (the environment is shared
/// with whatever starts Herald).
pub fn load(file: Option<&Path>) -> anyhow::Result<Loaded> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    match file {
        Some(path) => {
            anyhow::ensure!(
                path.exists(),
                "configuration file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file_exact(path));
        }
        None if Path::new(DEFAULT_FILE).exists() => figment = figment.merge(Toml::file_exact(DEFAULT_FILE)),
        None => {}
    }
    let settings = setting_names()?;
    let known = settings.clone();
    figment = figment
        .merge(Env::prefixed(PREFIX).filter(move |key| known.contains(&key.as_str().to_ascii_lowercase())));
    let config = figment.extract().context("invalid configuration")?;
    Ok(Loaded {
        config,
        ignored_env: unknown_variables(&settings),
    })
}
