//! `herald config`: shows the configuration in effect as TOML that can be pasted into
//! `herald.toml`: every key with its resolved value (the database URL and master key file as
//! they will be used), passwords in URLs masked.

use std::path::Path;

/// Prints the effective configuration.
pub fn run(file: Option<&Path>) -> anyhow::Result<()> {
    let loaded = crate::settings::load(file)?;
    for name in &loaded.ignored_env {
        eprintln!("warning: ignoring {name}: it names no Herald setting");
    }
    let mut config = loaded.config;
    config.database_url = herald_server::redact_database_url(&config.effective_database_url());
    config.master_key_file = config.effective_master_key_file().display().to_string();
    config.nats_url = herald_server::redact_database_url(&config.nats_url);
    print!("{}", toml::to_string(&config)?);
    Ok(())
}
