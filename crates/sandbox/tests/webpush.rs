//! The Web Push emulator over HTTP: subscriptions are made on it, and a push must carry a
//! VAPID JWT that verifies with its `k=` key (the key the subscription was made with), the
//! RFC 8030 headers and an aes128gcm body that decrypts with the subscription's keys.

mod common;

use common::sandbox;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::Vendor;
use herald_sandbox::Sandbox;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};

async fn subscribe(sandbox: &Sandbox) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/subscriptions", sandbox.url(Vendor::Webpush)))
        .json(&json!({}))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(response.status().as_u16(), 201);
    response.json().await.expect("subscription")
}

/// `Authorization: vapid t=…, k=…` signed with `secret`, announcing `public`.
fn vapid(endpoint: &str, secret: &p256::SecretKey, public: &p256::PublicKey) -> String {
    let url = reqwest::Url::parse(endpoint).expect("url");
    let aud = url.origin().ascii_serialization();
    let exp = jiff::Timestamp::now().as_second() + 3600;
    let key = EncodingKey::from_ec_der(secret.to_pkcs8_der().expect("der").as_bytes());
    let jwt = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &json!({"aud": aud, "exp": exp, "sub": "mailto:ops@example.com"}),
        &key,
    )
    .expect("jwt");
    format!(
        "vapid t={jwt}, k={}",
        URL_SAFE_NO_PAD.encode(public.to_encoded_point(false).as_bytes())
    )
}

fn sandbox_vapid_key(sandbox: &Sandbox) -> p256::SecretKey {
    let bytes = URL_SAFE_NO_PAD
        .decode(&sandbox.state.credentials.vapid_private_key)
        .expect("b64");
    p256::SecretKey::from_slice(&bytes).expect("key")
}

async fn push(endpoint: &str, headers: &[(&str, String)], body: Vec<u8>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(endpoint).body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn headers(authorization: String) -> Vec<(&'static str, String)> {
    vec![
        ("ttl", "60".into()),
        ("urgency", "high".into()),
        ("content-encoding", "aes128gcm".into()),
        ("content-type", "application/octet-stream".into()),
        ("authorization", authorization),
    ]
}

#[tokio::test]
async fn a_vapid_token_with_a_wrong_signature_is_refused_with_401() {
    let sandbox = sandbox().await;
    let sub = subscribe(&sandbox).await;
    let endpoint = sub["endpoint"].as_str().expect("endpoint");
    assert!(endpoint.contains("/push/"), "{endpoint}");
    let real = sandbox_vapid_key(&sandbox);
    let forger = p256::SecretKey::random(&mut rand::thread_rng());
    // Signed by another key while claiming the sandbox's public key.
    let (status, body) = push(
        endpoint,
        &headers(vapid(endpoint, &forger, &real.public_key())),
        vec![0; 200],
    )
    .await;
    assert_eq!((status, &body["errno"]), (401, &json!(109)), "{body}");
    assert_eq!(sandbox.state.counters()[&Vendor::Webpush].delivered, 0);
}

#[tokio::test]
async fn a_key_other_than_the_subscribed_one_is_forbidden() {
    let sandbox = sandbox().await;
    let sub = subscribe(&sandbox).await;
    let endpoint = sub["endpoint"].as_str().expect("endpoint");
    let other = p256::SecretKey::random(&mut rand::thread_rng());
    let (status, body) = push(
        endpoint,
        &headers(vapid(endpoint, &other, &other.public_key())),
        vec![0; 200],
    )
    .await;
    assert_eq!((status, &body["errno"]), (403, &json!(109)), "{body}");
}

#[tokio::test]
async fn missing_ttl_and_a_body_that_does_not_decrypt_are_bad_requests() {
    let sandbox = sandbox().await;
    let sub = subscribe(&sandbox).await;
    let endpoint = sub["endpoint"].as_str().expect("endpoint");
    let key = sandbox_vapid_key(&sandbox);
    let mut no_ttl = headers(vapid(endpoint, &key, &key.public_key()));
    no_ttl.retain(|(name, _)| *name != "ttl");
    let (status, body) = push(endpoint, &no_ttl, vec![0; 200]).await;
    assert_eq!((status, &body["errno"]), (400, &json!(111)), "{body}");

    let (status, body) = push(
        endpoint,
        &headers(vapid(endpoint, &key, &key.public_key())),
        vec![7; 200],
    )
    .await;
    assert_eq!((status, &body["errno"]), (400, &json!(110)), "{body}");

    let (status, _) = push(
        endpoint,
        &headers(vapid(endpoint, &key, &key.public_key())),
        vec![0; 4097],
    )
    .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn unknown_and_expired_subscriptions_are_404_and_410() {
    let sandbox = sandbox().await;
    let key = sandbox_vapid_key(&sandbox);
    for (id, expected) in [("0123456789abcdef", 404), ("invalid-000001", 410)] {
        let endpoint = format!("{}/push/{id}", sandbox.url(Vendor::Webpush));
        let (status, _) = push(
            &endpoint,
            &headers(vapid(&endpoint, &key, &key.public_key())),
            vec![0; 200],
        )
        .await;
        assert_eq!(status, expected, "{id}");
    }
}
