//! Loads the configuration in layers: built-in defaults, then the TOML file, then `HERALD_*`
//! environment variables (`HERALD_DATA_DIR`, `HERALD_LISTEN`…), then command-line flags.

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use herald_server::Config;
use std::path::Path;

/// Default configuration file, read when it exists.
const DEFAULT_FILE: &str = "herald.toml";

/// Environment variables that are not configuration keys.
const NOT_KEYS: &[&str] = &["HERALD_CONFIG", "HERALD_LOG"];

/// `HERALD_TEST_*` variables steer the test suite (which backend, which services), never a
/// server.
const TEST_PREFIX: &str = "TEST_";

/// The configuration in effect.
pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
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
    figment = figment.merge(
        Env::prefixed("HERALD_")
            .ignore(&NOT_KEYS.iter().map(|k| &k["HERALD_".len()..]).collect::<Vec<_>>())
            .filter(|key| !key.as_str().to_ascii_uppercase().starts_with(TEST_PREFIX)),
    );
    figment.extract().context("invalid configuration")
}
