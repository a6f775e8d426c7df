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

#[tokio::test]
async fn the_sink_accepts_unchecked_sends_and_counts_them() {
    let sandbox = sink().await;
    let http = reqwest::Client::new();

    // FCM with an access token no OAuth exchange issued.
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
    assert_eq!(fcm.status(), 200);
    let answer: Value = fcm.json().await.expect("json");
    assert!(
        answer["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("projects/")),
        "{answer}"
    );

    // Web Push to a subscription never made, unsigned, with a body that decrypts to nothing.
    let webpush = http
        .post(format!("{}/push/never-subscribed", sandbox.url(Vendor::Webpush)))
        .header("ttl", "60")
        .body(vec![0u8; 40])
        .send()
        .await
        .expect("webpush");
    assert_eq!(webpush.status(), 201);

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
    assert_eq!(fcm.status(), 401);
    let webpush = http
        .post(format!("{}/push/never-subscribed", sandbox.url(Vendor::Webpush)))
        .header("ttl", "60")
        .body(vec![0u8; 40])
        .send()
        .await
        .expect("webpush");
    assert_eq!(webpush.status(), 404);
}
