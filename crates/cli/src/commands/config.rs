//! `herald config`: shows the configuration in effect, with the database and NATS passwords
//! masked.

use std::path::Path;

/// Prints the effective configuration as TOML-like `key = value` lines.
pub fn run(file: Option<&Path>) -> anyhow::Result<()> {
    let loaded = crate::settings::load(file)?;
    for name in &loaded.ignored_env {
        eprintln!("warning: ignoring {name}: it names no Herald setting");
    }
    let mut config = loaded.config;
    config.database_url = herald_store_redact(&config.effective_database_url());
    config.nats_url = herald_store_redact(&config.nats_url);
    println!("{}", serde_json::to_string_pretty(&config)?);
    Ok(())
}

fn herald_store_redact(url: &str) -> String {
    herald_server::redact_database_url(url)
}
