//! The Honor emulator over HTTP: both token paths check the client id and secret exactly, and
//! the send endpoint refuses a request missing a required part (the `timestamp` header, the
//! token list) with Honor's code, and reports unknown tokens in `expireTokens`.

mod common;

use common::sandbox;

use herald_core::Vendor;
use herald_sandbox::Sandbox;
use serde_json::{Value, json};

const TOKEN_PATHS: [&str; 2] = [
    "/auth/token",
    "/auth/realms/developer/protocol/openid-connect/token",
];

async fn token_request(sandbox: &Sandbox, path: &str, secret: &str) -> (u16, Value) {
    let creds = &sandbox.state.credentials;
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "client_credentials"),
            ("client_id", &creds.honor_client_id),
            ("client_secret", secret),
        ])
        .finish();
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sandbox.url(Vendor::Honor)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("token request");
    (response.status().as_u16(), response.json().await.expect("json"))
}

async fn access_token(sandbox: &Sandbox) -> String {
    let secret = sandbox.state.credentials.honor_client_secret.clone();
    let (status, body) = token_request(sandbox, TOKEN_PATHS[0], &secret).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_string()
}

async fn send(sandbox: &Sandbox, access: &str, timestamp: Option<&str>, body: &Value) -> (u16, Value) {
    let app_id = &sandbox.state.credentials.honor_app_id;
    let mut request = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/{app_id}/sendMessage",
            sandbox.url(Vendor::Honor)
        ))
        .bearer_auth(access)
        .json(body);
    if let Some(timestamp) = timestamp {
        request = request.header("timestamp", timestamp);
    }
    let response = request.send().await.expect("send");
    (response.status().as_u16(), response.json().await.expect("json"))
}

fn message(tokens: &[&str]) -> Value {
    json!({"data": "{\"c\":1}",
           "android": {"ttl": "86400s", "notification": {"title": "Alice", "body": "Lunch?", "clickAction": {"type": 3}, "importance": "NORMAL"}},
           "token": tokens})
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_on_both_token_paths() {
    let sandbox = sandbox().await;
    for path in TOKEN_PATHS {
        let (status, body) = token_request(&sandbox, path, "not-the-secret").await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(
            body,
            json!({"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"})
        );
        let secret = sandbox.state.credentials.honor_client_secret.clone();
        let (status, body) = token_request(&sandbox, path, &secret).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["token_type"], "Bearer");
    }
    let (status, body) = send(&sandbox, "not-issued", Some("1700000000000"), &message(&["t"])).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], 80200001);
}

#[tokio::test]
async fn a_request_missing_a_required_part_is_refused_with_honors_code() {
    let sandbox = sandbox().await;
    let access = access_token(&sandbox).await;
    let now = jiff::Timestamp::now().as_millisecond().to_string();

    let (status, body) = send(&sandbox, &access, None, &message(&["t"])).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 80100001, "{body}");

    let mut without_tokens = message(&["t"]);
    without_tokens.as_object_mut().expect("object").remove("token");
    let (status, body) = send(&sandbox, &access, Some(&now), &without_tokens).await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(80100001)), "{body}");

    let mut without_click = message(&["t"]);
    without_click["android"]["notification"]
        .as_object_mut()
        .expect("object")
        .remove("clickAction");
    let (status, body) = send(&sandbox, &access, Some(&now), &without_click).await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(80100001)), "{body}");
}

#[tokio::test]
async fn unknown_tokens_come_back_in_expire_tokens() {
    let sandbox = sandbox().await;
    let access = access_token(&sandbox).await;
    let now = jiff::Timestamp::now().as_millisecond().to_string();
    let (status, body) = send(
        &sandbox,
        &access,
        Some(&now),
        &message(&["phone-1", "invalid-phone"]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], 200);
    assert_eq!(body["data"]["expireTokens"], json!(["invalid-phone"]));
    let inbox = sandbox.state.inbox(Vendor::Honor, "phone-1");
    assert_eq!(
        (inbox[0].title.as_str(), inbox[0].click.as_str()),
        ("Alice", "open app")
    );
    assert!(sandbox.state.inbox(Vendor::Honor, "invalid-phone").is_empty());
}
