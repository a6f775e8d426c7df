//! `herald serve`: prepare the data folder and store, print the admin token on first start,
//! serve until SIGTERM or Ctrl-C, then finish in-flight requests.

use anyhow::Context;
use herald_server::{Config, LogFormat};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Flags of `herald serve` (each overrides the file and environment).
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data folder for the embedded database and master key.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Runs the server.
pub fn run(file: Option<&Path>, args: ServeArgs) -> anyhow::Result<()> {
    let loaded = crate::settings::load(file)?;
    let mut config = loaded.config.clone();
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    init_logging(config.log_format);
    loaded.warn_ignored();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let data_dir = config.data_dir.clone();
    let prepared = herald_server::prepare(config)
        .await
        .context("cannot prepare Herald's data")?;
    if let Some(token) = &prepared.new_admin_token {
        println!();
        println!("  Herald admin token (shown once, only its hash is stored):");
        println!();
        println!("      {token}");
        println!();
        println!("  Use it as `Authorization: Bearer <token>` on the admin API.");
        println!();
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, data_dir = %data_dir.display(), "Herald is listening.");
    herald_server::run(listener, prepared.state, shutdown_signal()).await?;
    tracing::info!("Herald stopped.");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("Shutting down: finishing in-flight requests.");
}

pub(crate) fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
