//! The benchmarks' fast sink: sends are accepted and counted without their credentials,
//! signatures or encryption being checked — requests the checking emulators refuse.

use herald_core::Vendor;
use herald_sandbox::{Credentials, Sandbox, SandboxOptions};
use serde_json::{Value, json};

async fn sink() -> Sandbox {
    let mut options = SandboxOptions::new(Credentials::generate().expect("credentials"));
    options.sink = true;
    options.record = false;
    Sandbox::start(options).await.expect("sandbox")
}

/// Sends what only the sink takes: an FCM message under an access token no OAuth exchange
/// issued, and a Web Push to a subscription never made, unsigned, whose body decrypts to
/// nothing. Returns the FCM status and answer and the Web Push status.
async fn unchecked_sends(sandbox: &Sandbox) -> (u16, Value, u16) {
    let http = reqwest::Client::new();
    let project = &sandbox.state.credentials.fcm_project_id;
    let fcm = http
        .post(format!(
            "{}/v1/projects/{project}/messages:send",
            sandbox.url(Vendor::Fcm)
        ))
        .bearer_auth("ya29.never-issued")
        .json(&json!({"message": {"token": "phone-1", "notification": {"title": "Hi", "body": "there"}}}))
        .send()
        .await
        .expect("fcm");
    let fcm_status = fcm.status().as_u16();
    let fcm_answer: Value = fcm.json().await.unwrap_or(Value::Null);
    let webpush = http
        .post(format!("{}/push/never-subscribed", sandbox.url(Vendor::Webpush)))
        .header("ttl", "60")
        .body(vec![0u8; 40])
        .send()
        .await
        .expect("webpush");
    (fcm_status, fcm_answer, webpush.status().as_u16())
}

#[tokio::test]
async fn the_sink_accepts_unchecked_sends_and_counts_them() {
    let sandbox = sink().await;
    let (fcm, answer, webpush) = unchecked_sends(&sandbox).await;
    assert_eq!(fcm, 200);
    assert!(
        answer["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("projects/")),
        "{answer}"
    );
    assert_eq!(webpush, 201);

    let counters = sandbox.state.counters();
    for vendor in [Vendor::Fcm, Vendor::Webpush] {
        let counted = counters.get(&vendor).copied().unwrap_or_default();
        assert_eq!(
            (counted.requests, counted.delivered, counted.refused),
            (1, 1, 0),
            "{vendor}"
        );
    }
}

#[tokio::test]
async fn without_the_sink_the_same_sends_are_refused() {
    let sandbox = Sandbox::start(SandboxOptions::new(Credentials::generate().expect("credentials")))
        .await
        .expect("sandbox");
    let (fcm, _, webpush) = unchecked_sends(&sandbox).await;
    assert_eq!(fcm, 401);
    assert_eq!(webpush, 404);
}
