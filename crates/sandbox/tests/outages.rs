//! Outages of a whole emulator for a while, injected through `POST /faults`: answering 503
//! (with or without `Retry-After`), hanging (connections accepted, requests never answered),
//! and refusing connections (listener and open connections closed). Each ends on its own
//! after its seconds, and touches only its vendor.

mod common;

use common::sandbox;
use herald_core::Vendor;
use herald_sandbox::Sandbox;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A request to the Huawei emulator's send path (unauthenticated: outside an outage it is
/// answered by the emulator itself, never 503).
async fn send(
    client: &reqwest::Client,
    sandbox: &Sandbox,
    vendor: Vendor,
) -> Result<reqwest::Response, reqwest::Error> {
    client
        .post(format!("{}/v1/104412345/messages:send", sandbox.url(vendor)))
        .json(&json!({"message": {"token": ["t1"]}}))
        .send()
        .await
}

async fn inject(client: &reqwest::Client, sandbox: &Sandbox, fault: Value) {
    let status = client
        .post(format!("{}/faults", sandbox.inspect_url))
        .json(&fault)
        .send()
        .await
        .expect("inject")
        .status();
    assert_eq!(status, 204, "{fault}");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client")
}

#[tokio::test]
async fn an_unavailable_vendor_answers_503_with_retry_after_for_its_seconds() {
    let sandbox = sandbox().await;
    let client = client();
    inject(
        &client,
        &sandbox,
        json!({"vendor": "huawei", "kind": "unavailable", "retry_after": 1, "seconds": 1}),
    )
    .await;
    let during = send(&client, &sandbox, Vendor::Huawei).await.expect("answered");
    assert_eq!(during.status(), 503);
    assert_eq!(during.headers()["retry-after"], "1");
    let other = send(&client, &sandbox, Vendor::Honor).await.expect("answered");
    assert_ne!(other.status(), 503, "other vendors are not affected");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = send(&client, &sandbox, Vendor::Huawei).await.expect("answered");
    assert_ne!(after.status(), 503, "the outage ended");

    // Without Retry-After.
    inject(
        &client,
        &sandbox,
        json!({"vendor": "huawei", "kind": "unavailable", "seconds": 5}),
    )
    .await;
    let during = send(&client, &sandbox, Vendor::Huawei).await.expect("answered");
    assert_eq!(during.status(), 503);
    assert!(during.headers().get("retry-after").is_none());
    sandbox.state.clear_faults();
    assert_ne!(
        send(&client, &sandbox, Vendor::Huawei)
            .await
            .expect("answered")
            .status(),
        503,
        "cleared"
    );
}

#[tokio::test]
async fn a_hanging_vendor_accepts_and_never_answers_for_its_seconds() {
    let sandbox = sandbox().await;
    let client = client();
    inject(
        &client,
        &sandbox,
        json!({"vendor": "huawei", "kind": "hang", "seconds": 1}),
    )
    .await;
    let started = Instant::now();
    let during = send(&client, &sandbox, Vendor::Huawei).await;
    assert!(
        during.as_ref().is_err_and(reqwest::Error::is_timeout),
        "{during:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(500));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        send(&client, &sandbox, Vendor::Huawei).await.is_ok(),
        "answered again"
    );
}

#[tokio::test]
async fn a_vendor_refusing_connections_closes_its_listener_and_open_connections_for_its_seconds() {
    let sandbox = sandbox().await;
    let client = client();
    // A kept-alive connection exists before the refusal starts.
    assert!(send(&client, &sandbox, Vendor::Huawei).await.is_ok());
    inject(
        &client,
        &sandbox,
        json!({"vendor": "huawei", "kind": "refuse_connections", "seconds": 1}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let during = send(&client, &sandbox, Vendor::Huawei).await;
    assert!(during.as_ref().is_err_and(|e| e.is_connect()), "{during:?}");
    let fresh = reqwest::Client::new();
    let during = send(&fresh, &sandbox, Vendor::Huawei).await;
    assert!(
        during.as_ref().is_err_and(|e| e.is_connect()),
        "a new connection is refused: {during:?}"
    );
    assert!(
        send(&client, &sandbox, Vendor::Honor).await.is_ok(),
        "other vendors still listen"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        send(&fresh, &sandbox, Vendor::Huawei).await.is_ok(),
        "listening again on the same port"
    );
}
