//! The FCM emulator over HTTP: the token endpoint verifies the service account's RS256
//! assertion exactly (a wrong signature or audience is refused as Google refuses it), and the
//! send endpoint refuses a message missing its target with Google's RPC error.

mod common;

use common::sandbox;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::Vendor;
use herald_sandbox::Sandbox;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// An assertion for the sandbox's service account with `aud`, signed with its key.
fn assertion(sandbox: &Sandbox, aud: &str) -> String {
    let creds = &sandbox.state.credentials;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(creds.fcm_private_key_id.clone());
    let now = jiff::Timestamp::now().as_second();
    let claims =
        json!({"iss": creds.fcm_client_email, "scope": SCOPE, "aud": aud, "iat": now, "exp": now + 3600});
    let key = EncodingKey::from_rsa_pem(creds.fcm_private_key_pem.as_bytes()).expect("key");
    jsonwebtoken::encode(&header, &claims, &key).expect("jwt")
}

async fn post_form(url: String, pairs: &[(&str, &str)]) -> (u16, Value) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("token request");
    (response.status().as_u16(), response.json().await.expect("json"))
}

async fn access_token(sandbox: &Sandbox) -> String {
    let url = format!("{}/token", sandbox.url(Vendor::Fcm));
    let (status, body) = post_form(
        url.clone(),
        &[("grant_type", GRANT), ("assertion", &assertion(sandbox, &url))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"].as_str().expect("token").to_string()
}

async fn send(sandbox: &Sandbox, access: &str, body: &Value) -> (u16, Value) {
    let project = &sandbox.state.credentials.fcm_project_id;
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/projects/{project}/messages:send",
            sandbox.url(Vendor::Fcm)
        ))
        .bearer_auth(access)
        .json(body)
        .send()
        .await
        .expect("send");
    (response.status().as_u16(), response.json().await.expect("json"))
}

#[tokio::test]
async fn an_assertion_with_a_wrong_signature_is_refused_like_google() {
    let sandbox = sandbox().await;
    let url = format!("{}/token", sandbox.url(Vendor::Fcm));
    // Claims swapped under a signature made for other claims: the signature no longer matches.
    let good = assertion(&sandbox, &url);
    let other = assertion(&sandbox, "https://oauth2.googleapis.com/token");
    let parts: Vec<&str> = good.split('.').collect();
    let other_parts: Vec<&str> = other.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], other_parts[1], parts[2]);
    let (status, body) = post_form(url.clone(), &[("grant_type", GRANT), ("assertion", &forged)]).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    );

    // A signature over garbage bytes is refused the same way.
    let garbage = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode([7u8; 256]));
    let (status, body) = post_form(url.clone(), &[("grant_type", GRANT), ("assertion", &garbage)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // A well-signed assertion for another audience is refused too.
    let elsewhere = assertion(&sandbox, "https://example.com/token");
    let (status, body) = post_form(url.clone(), &[("grant_type", GRANT), ("assertion", &elsewhere)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // The right assertion gets a token; an unknown bearer is UNAUTHENTICATED.
    let (status, body) = post_form(url, &[("grant_type", GRANT), ("assertion", &good)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(&sandbox, "ya29.not-issued", &json!({"message": {"token": "t"}})).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_token_request_without_its_assertion_is_refused() {
    let sandbox = sandbox().await;
    let (status, body) = post_form(
        format!("{}/token", sandbox.url(Vendor::Fcm)),
        &[("grant_type", GRANT)],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_request", "error_description": "Missing required parameter: assertion"})
    );
}

#[tokio::test]
async fn a_message_missing_its_target_gets_invalid_argument() {
    let sandbox = sandbox().await;
    let access = access_token(&sandbox).await;
    let (status, body) = send(
        &sandbox,
        &access,
        &json!({"message": {"notification": {"title": "Hi", "body": "there"}}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 400);
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let details = body["error"]["details"].as_array().expect("details");
    assert!(
        details.iter().any(|d| d["errorCode"] == "INVALID_ARGUMENT"),
        "{body}"
    );
    assert!(
        details
            .iter()
            .any(|d| d["fieldViolations"][0]["field"] == "message"),
        "{body}"
    );

    let (status, body) = send(&sandbox, &access, &json!({})).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "{body}"
    );
}

#[tokio::test]
async fn a_good_message_is_delivered_and_an_unknown_token_is_unregistered() {
    let sandbox = sandbox().await;
    let access = access_token(&sandbox).await;
    let message = |token: &str| {
        json!({"message": {"token": token, "notification": {"title": "Alice", "body": "Lunch?"},
            "data": {"ext": "{\"c\":1}"}, "android": {"priority": "high", "ttl": "86400s"}}})
    };
    let (status, body) = send(&sandbox, &access, &message("phone-1")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["name"]
            .as_str()
            .expect("name")
            .starts_with("projects/herald-test-1/messages/")
    );
    let inbox = sandbox.state.inbox(Vendor::Fcm, "phone-1");
    assert_eq!(
        (
            inbox[0].title.as_str(),
            inbox[0].body.as_str(),
            inbox[0].ext.as_deref()
        ),
        ("Alice", "Lunch?", Some("{\"c\":1}"))
    );

    let (status, body) = send(&sandbox, &access, &message("invalid-phone")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["details"][0]["errorCode"], "UNREGISTERED");
}

#[tokio::test]
async fn data_values_must_be_strings_and_ttl_a_duration() {
    let sandbox = sandbox().await;
    let access = access_token(&sandbox).await;
    let (status, _) = send(
        &sandbox,
        &access,
        &json!({"message": {"token": "t", "data": {"n": 1}}}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        &sandbox,
        &access,
        &json!({"message": {"token": "t", "android": {"ttl": "1 day"}}}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        &sandbox,
        &access,
        &json!({"message": {"token": "t", "android": {"ttl": "2419201s"}}}),
    )
    .await;
    assert_eq!(status, 400);
}
