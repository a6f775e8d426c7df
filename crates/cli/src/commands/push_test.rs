//! `herald push-test`: asks a running Herald to diagnose a user's (or one device's) push path
//! and send a test push, and prints the steps and the vendor trace.

use anyhow::Context;
use serde_json::{Value, json};

/// Flags of `herald push-test`.
#[derive(Debug, clap::Args)]
pub struct PushTestArgs {
    /// Herald's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// App id.
    #[arg(long)]
    app: String,
    /// App secret (or use --admin-token).
    #[arg(long, env = "HERALD_APP_SECRET")]
    secret: Option<String>,
    /// Admin token instead of the app secret.
    #[arg(long, env = "HERALD_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// The user to diagnose.
    #[arg(long)]
    user: String,
    /// Only this device.
    #[arg(long)]
    device: Option<String>,
    /// Test push title.
    #[arg(long)]
    title: Option<String>,
    /// Test push body.
    #[arg(long)]
    body: Option<String>,
    /// Print the vendor request/response trace too.
    #[arg(long)]
    trace: bool,
}

/// Runs the command.
pub fn run(args: PushTestArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let url = format!(
            "{}/v1/apps/{}/push-test",
            args.server.trim_end_matches('/'),
            args.app
        );
        let mut request = reqwest::Client::new()
            .post(url)
            .json(&json!({"user": args.user, "device": args.device, "title": args.title, "body": args.body}));
        request = match (&args.secret, &args.admin_token) {
            (Some(secret), _) => request.basic_auth(&args.app, Some(secret)),
            (None, Some(token)) => request.bearer_auth(token),
            (None, None) => anyhow::bail!("give --secret (or HERALD_APP_SECRET) or --admin-token"),
        };
        let response = request.send().await.context("cannot reach Herald")?;
        let status = response.status();
        let body: Value = response.json().await.context("Herald's answer is not JSON")?;
        if !status.is_success() {
            anyhow::bail!(
                "{}: {}",
                body["code"].as_str().unwrap_or("error"),
                body["message"].as_str().unwrap_or("")
            );
        }
        for step in body["steps"].as_array().into_iter().flatten() {
            let mark = if step["ok"] == true { "ok " } else { "NO " };
            println!(
                "[{mark}] {:<28} {}",
                step["name"].as_str().unwrap_or(""),
                step["detail"].as_str().unwrap_or("")
            );
        }
        if args.trace {
            println!("{}", serde_json::to_string_pretty(&body["trace"])?);
        }
        Ok(())
    })
}
