//! The OPPO emulator over HTTP: the auth call must carry `sha256(app_key + timestamp +
//! master_secret)`, a send must carry a valid `auth_token` (form field or header), and a
//! message missing a required field is refused with OPPO's code 40 — as OPPO answers.

mod common;

use common::sandbox;

use herald_core::Vendor;
use herald_sandbox::Sandbox;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn form(pairs: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        form.append_pair(k, v);
    }
    form.finish()
}

async fn post(url: String, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> Value {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded;charset=UTF-8")
        .body(form(pairs));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("answer");
    assert_eq!(
        response.status().as_u16(),
        200,
        "OPPO answers business errors with HTTP 200"
    );
    response.json().await.expect("json")
}

fn sign(key: &str, timestamp: &str, secret: &str) -> String {
    Sha256::digest(format!("{key}{timestamp}{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn auth(sandbox: &Sandbox, secret: &str) -> Value {
    let creds = &sandbox.state.credentials;
    let timestamp = jiff::Timestamp::now().as_millisecond().to_string();
    let signature = sign(&creds.oppo_app_key, &timestamp, secret);
    post(
        format!("{}/server/v1/auth", sandbox.url(Vendor::Oppo)),
        &[
            ("app_key", &creds.oppo_app_key),
            ("timestamp", &timestamp),
            ("sign", &signature),
        ],
        &[],
    )
    .await
}

async fn token(sandbox: &Sandbox) -> String {
    let secret = sandbox.state.credentials.oppo_master_secret.clone();
    let answer = auth(sandbox, &secret).await;
    assert_eq!(answer["code"], 0, "{answer}");
    answer["data"]["auth_token"]
        .as_str()
        .expect("auth_token")
        .to_string()
}

fn message(notification: Value) -> String {
    json!({"target_type": 2, "target_value": "OPPO_CN_0001", "notification": notification}).to_string()
}

async fn unicast(sandbox: &Sandbox, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> Value {
    post(
        format!(
            "{}/server/v1/message/notification/unicast",
            sandbox.url(Vendor::Oppo)
        ),
        pairs,
        headers,
    )
    .await
}

#[tokio::test]
async fn a_wrong_signature_is_refused_with_code_16() {
    let sandbox = sandbox().await;
    let answer = auth(&sandbox, "not-the-master-secret").await;
    assert_eq!(answer, json!({"code": 16, "message": "Invalid Signature"}));
}

#[tokio::test]
async fn a_stale_timestamp_is_refused_with_code_19() {
    let sandbox = sandbox().await;
    let creds = &sandbox.state.credentials;
    let stale = (jiff::Timestamp::now().as_millisecond() - 11 * 60 * 1000).to_string();
    let signature = sign(&creds.oppo_app_key, &stale, &creds.oppo_master_secret);
    let answer = post(
        format!("{}/server/v1/auth", sandbox.url(Vendor::Oppo)),
        &[
            ("app_key", &creds.oppo_app_key),
            ("timestamp", &stale),
            ("sign", &signature),
        ],
        &[],
    )
    .await;
    assert_eq!(answer, json!({"code": 19, "message": "Invalid Timestamp"}));
}

#[tokio::test]
async fn a_message_without_a_title_is_refused_with_code_40() {
    let sandbox = sandbox().await;
    let token = token(&sandbox).await;
    let answer = unicast(
        &sandbox,
        &[
            ("auth_token", &token),
            ("message", &message(json!({"content": "hi"}))),
        ],
        &[],
    )
    .await;
    assert_eq!(
        answer,
        json!({"code": 40, "message": "Missing Required Arguments: title"})
    );
    assert_eq!(sandbox.state.counters()[&Vendor::Oppo].delivered, 0);
}

#[tokio::test]
async fn a_send_without_or_with_a_wrong_auth_token_is_refused() {
    let sandbox = sandbox().await;
    let body = message(json!({"title": "t", "content": "c"}));
    let missing = unicast(&sandbox, &[("message", &body)], &[]).await;
    assert_eq!(missing, json!({"code": 29, "message": "Missing Auth Token"}));
    let wrong = unicast(&sandbox, &[("auth_token", "made-up"), ("message", &body)], &[]).await;
    assert_eq!(wrong, json!({"code": 11, "message": "Invalid Auth Token"}));
}

#[tokio::test]
async fn the_token_is_accepted_as_a_header_and_camel_case_fields_are_read() {
    let sandbox = sandbox().await;
    let token = token(&sandbox).await;
    let body = message(
        json!({"title": "Alice", "content": "hi", "clickActionType": 2, "clickActionUrl": "https://example.com/c/1",
        "actionParameters": "{\"conversation\":\"c1\"}"}),
    );
    let answer = unicast(&sandbox, &[("message", &body)], &[("auth_token", &token)]).await;
    assert_eq!(answer["code"], 0, "{answer}");
    assert!(answer["data"]["messageId"].is_string());
    let inbox = sandbox.state.inbox(Vendor::Oppo, "OPPO_CN_0001");
    assert_eq!(inbox[0].click, "open url https://example.com/c/1");
    assert_eq!(inbox[0].ext.as_deref(), Some("{\"conversation\":\"c1\"}"));
}

#[tokio::test]
async fn action_parameters_that_are_not_a_json_object_are_refused_with_code_41() {
    let sandbox = sandbox().await;
    let token = token(&sandbox).await;
    let body = message(json!({"title": "t", "content": "c", "action_parameters": "not json"}));
    let answer = unicast(&sandbox, &[("auth_token", &token), ("message", &body)], &[]).await;
    assert_eq!(answer["code"], 41, "{answer}");
}
