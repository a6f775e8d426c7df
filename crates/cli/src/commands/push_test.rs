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
        let steps = body["steps"].as_array().cloned().unwrap_or_default();
        for step in &steps {
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
        verdict(&steps)?;
        Ok(())
    })
}

/// Whether the test went through: at least one test push was sent and every one was accepted.
/// Otherwise an error naming the first step that failed, so the command exits non-zero.
fn verdict(steps: &[Value]) -> anyhow::Result<()> {
    let name = |step: &Value| step["name"].as_str().unwrap_or("").to_string();
    let pushes: Vec<&Value> = steps
        .iter()
        .filter(|step| name(step).ends_with("test push"))
        .collect();
    let failed_push = pushes.iter().find(|step| step["ok"] != true);
    if !pushes.is_empty() && failed_push.is_none() {
        return Ok(());
    }
    let first_failure = failed_push
        .copied()
        .or_else(|| steps.iter().find(|step| step["ok"] != true));
    match first_failure {
        Some(step) => anyhow::bail!(
            "the test push failed at `{}`: {}",
            name(step),
            step["detail"].as_str().unwrap_or("")
        ),
        None => anyhow::bail!("no test push was sent: the user has no device with a push token"),
    }
}

#[cfg(test)]
mod tests {
    use super::verdict;
    use serde_json::json;

    #[test]
    fn a_failed_or_missing_test_push_is_an_error_naming_the_step() {
        let accepted = json!([{"name": "user", "ok": true, "detail": ""},
                              {"name": "device:p test push", "ok": true, "detail": "accepted"}]);
        assert!(verdict(accepted.as_array().expect("array")).is_ok());

        let refused = json!([{"name": "device:p token", "ok": true, "detail": ""},
                             {"name": "device:p test push", "ok": false, "detail": "the vendor answered rejected"}]);
        let error = verdict(refused.as_array().expect("array")).expect_err("a failed push fails");
        assert!(
            error
                .to_string()
                .contains("`device:p test push`: the vendor answered rejected"),
            "{error}"
        );

        let no_token = json!([{"name": "device:p token", "ok": false, "detail": "no push token is bound"}]);
        let error = verdict(no_token.as_array().expect("array")).expect_err("nothing sent fails");
        assert!(error.to_string().contains("`device:p token`"), "{error}");

        let no_device = json!([{"name": "devices", "ok": true, "detail": "0 device(s)"}]);
        assert!(verdict(no_device.as_array().expect("array")).is_err());
    }
}
