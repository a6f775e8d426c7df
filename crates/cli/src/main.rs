//! The `herald` binary: one artifact with subcommands. This is the only crate that uses
//! `anyhow`: errors here are turned into a sentence for the person at the terminal.

mod commands;
mod settings;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Herald: a self-hosted chat server whose speciality is offline push.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about)]
struct Cli {
    /// Configuration file (TOML). Default: ./herald.toml when it exists.
    #[arg(long, global = true, env = "HERALD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default). Zero configuration: data goes to ./herald-data.
    Serve(commands::serve::ServeArgs),
    /// Print the configuration in effect (secrets redacted).
    Config,
    /// Run local emulators of every vendor API (and print certificates that point at them).
    Sandbox(commands::sandbox::SandboxArgs),
    /// Measure fan-out throughput, CPU, memory and latency through the sandbox.
    Bench(commands::bench::BenchArgs),
    /// See the whole system work: sandbox, Herald, devices in every state, messages.
    Demo(commands::demo::DemoArgs),
    /// Diagnose a user's push path on a running Herald and send a test push.
    PushTest(commands::push_test::PushTestArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve(Default::default())) {
        Command::Serve(args) => commands::serve::run(cli.config.as_deref(), args),
        Command::Config => commands::config::run(cli.config.as_deref()),
        Command::Sandbox(args) => commands::sandbox::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::PushTest(args) => commands::push_test::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("herald: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
