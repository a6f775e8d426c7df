//! `herald sandbox`: runs every vendor emulator on fixed local ports with credentials and a CA
//! kept in `./herald-sandbox/`, so the certificate definitions it prints stay valid across
//! restarts. `--print-config` prints them without starting anything.

use anyhow::Context;
use herald_core::Vendor;
use herald_sandbox::{Credentials, Sandbox, SandboxOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// First port; the emulators take the next ones in the order of `PORT_ORDER`, the inspection
/// API the one after.
pub const DEFAULT_BASE_PORT: u16 = 9100;

/// Flags of `herald sandbox`.
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Print certificate definitions (JSON) pointing at the sandbox, and exit.
    #[arg(long)]
    print_config: bool,
    /// Folder for the sandbox's credentials and CA.
    #[arg(long, default_value = "herald-sandbox")]
    dir: PathBuf,
    /// First port of the emulators.
    #[arg(long, default_value_t = DEFAULT_BASE_PORT)]
    base_port: u16,
    /// Do not print notifications as they arrive.
    #[arg(long)]
    quiet: bool,
    /// Keep no inboxes or request logs (for benchmarks: measure Herald, not the log).
    #[arg(long)]
    no_record: bool,
    /// The benchmarks' fast sink: accept and count every send without checking credentials,
    /// signatures or encryption, keep no inboxes or logs, print nothing.
    #[arg(long)]
    sink: bool,
}

/// The URLs the emulators get when started from `base_port` (same order as `Sandbox::start`).
pub fn planned_urls(base_port: u16) -> BTreeMap<Vendor, String> {
    let mut urls: BTreeMap<Vendor, String> = herald_sandbox::plain_http_vendors()
        .zip(base_port..)
        .map(|(v, p)| (v, format!("http://127.0.0.1:{p}")))
        .collect();
    let apns_port = base_port + urls.len() as u16;
    urls.insert(Vendor::Apns, format!("https://localhost:{apns_port}"));
    urls
}

/// Loads or creates the persisted credentials and CA key.
pub fn load_or_create(dir: &Path) -> anyhow::Result<(Credentials, Option<String>)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let creds_file = dir.join("credentials.json");
    let credentials = match std::fs::read_to_string(&creds_file) {
        Ok(text) => {
            serde_json::from_str(&text).with_context(|| format!("{} is damaged", creds_file.display()))?
        }
        Err(_) => {
            let generated = Credentials::generate().context("cannot generate sandbox credentials")?;
            std::fs::write(&creds_file, serde_json::to_string_pretty(&generated)?)?;
            generated
        }
    };
    let ca_key = std::fs::read_to_string(dir.join("ca-key.pem")).ok();
    Ok((credentials, ca_key))
}

/// Runs the command.
pub fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let (credentials, ca_key) = load_or_create(&args.dir)?;
    if args.print_config {
        let definitions = credentials.certificate_definitions(&planned_urls(args.base_port));
        println!("{}", serde_json::to_string_pretty(&definitions)?);
        return Ok(());
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut options = SandboxOptions::new(credentials);
        options.console = !args.quiet && !args.sink;
        options.record = !args.no_record && !args.sink;
        options.sink = args.sink;
        options.base_port = args.base_port;
        options.ca_key_pem = ca_key;
        let sandbox = Sandbox::start(options).await.context("cannot start the sandbox")?;
        std::fs::write(args.dir.join("ca-key.pem"), &sandbox.ca_key_pem)?;
        let ca_file = args.dir.join("ca.pem");
        std::fs::write(&ca_file, &sandbox.ca_pem)?;
        println!("Herald sandbox: every vendor API emulated on this machine.");
        for (vendor, url) in &sandbox.urls {
            println!("  {:<8} {url}", vendor.as_str());
        }
        println!("  inspect  {}  (GET /stats, /inbox/<vendor>/<token>, /requests/<vendor>; POST /faults)", sandbox.inspect_url);
        println!();
        println!("Point Herald at it:");
        println!("  HERALD_TRUSTED_CA_FILE={} herald serve", ca_file.display());
        println!("  herald sandbox --print-config   # certificate definitions to POST to /v1/apps/<app>/certificates");
        println!();
        if args.sink {
            println!("Sink mode: every send is accepted and counted unchecked (GET /stats). Ctrl-C stops.");
        } else {
            println!("Notifications appear below as a phone would show them. Ctrl-C stops.");
        }
        let _ = tokio::signal::ctrl_c().await;
        drop(sandbox);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn planned_urls_cover_every_vendor() {
        let urls = super::planned_urls(9100);
        assert_eq!(urls.len(), 9);
        assert!(urls[&herald_core::Vendor::Apns].starts_with("https://"));
    }
}
