//! The APNs emulator over its real transport (TLS, HTTP/2): it checks the provider JWT's
//! signature, kid, iss and age, the mandatory headers and the payload limit, and answers with
//! APNs' own status, `{"reason"}` body and `apns-id` header.

mod common;

use common::{sandbox, testdata};

use herald_sandbox::Sandbox;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};

fn client(sandbox: &Sandbox, http1: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(sandbox.ca_pem.as_bytes()).expect("CA");
    let builder = reqwest::Client::builder().add_root_certificate(ca);
    if http1 { builder.http1_only() } else { builder }
        .build()
        .expect("client")
}

/// A provider token signed with `pem` (PKCS#8), issued `age` seconds ago.
fn provider_token(pem: &str, key_id: &str, team_id: &str, age: i64) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key_id.into());
    let iat = jiff::Timestamp::now().as_second() - age;
    let key = EncodingKey::from_ec_pem(pem.as_bytes()).expect("key");
    jsonwebtoken::encode(&header, &json!({"iss": team_id, "iat": iat}), &key).expect("jwt")
}

fn good_token(sandbox: &Sandbox) -> String {
    let c = &sandbox.state.credentials;
    provider_token(&c.apns_private_key_pem, &c.apns_key_id, &c.apns_team_id, 0)
}

const DEVICE: &str = "00000000000000000000000000000000000000000000000000000000000000a1";

struct Answer {
    status: u16,
    apns_id: Option<String>,
    version: reqwest::Version,
    body: Value,
}

async fn post(
    client: &reqwest::Client,
    sandbox: &Sandbox,
    token: &str,
    headers: &[(&str, String)],
    body: String,
) -> Answer {
    let mut request = client
        .post(format!(
            "{}/3/device/{token}",
            sandbox.url(herald_core::Vendor::Apns)
        ))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    let version = response.version();
    let apns_id = response
        .headers()
        .get("apns-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.expect("body");
    Answer {
        status,
        apns_id,
        version,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

fn headers(jwt: &str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("bearer {jwt}")),
        ("apns-topic", "com.example.chat".into()),
        ("apns-push-type", "alert".into()),
        ("apns-priority", "10".into()),
        ("apns-id", "8a7d2c34-0f5e-4a1b-9c3d-2e1f0a9b8c7d".into()),
    ]
}

fn alert() -> String {
    json!({"aps": {"alert": {"title": "Alice", "body": "Hi"}}}).to_string()
}

#[tokio::test]
async fn a_correct_request_is_delivered_over_http2_and_echoes_the_apns_id() {
    let sandbox = sandbox().await;
    let answer = post(
        &client(&sandbox, false),
        &sandbox,
        DEVICE,
        &headers(&good_token(&sandbox)),
        alert(),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.version, reqwest::Version::HTTP_2);
    assert_eq!(
        answer.apns_id.as_deref(),
        Some("8a7d2c34-0f5e-4a1b-9c3d-2e1f0a9b8c7d")
    );
    let inbox = sandbox.state.inbox(herald_core::Vendor::Apns, DEVICE);
    assert_eq!((inbox[0].title.as_str(), inbox[0].body.as_str()), ("Alice", "Hi"));
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_refused_as_invalid_provider_token() {
    let sandbox = sandbox().await;
    let other = p256::SecretKey::random(&mut rand::thread_rng())
        .to_pkcs8_pem(LineEnding::LF)
        .expect("pem");
    let c = &sandbox.state.credentials;
    let forged = provider_token(&other, &c.apns_key_id, &c.apns_team_id, 0);
    let answer = post(
        &client(&sandbox, false),
        &sandbox,
        DEVICE,
        &headers(&forged),
        alert(),
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body, json!({"reason": "InvalidProviderToken"}));
    assert!(answer.apns_id.is_some(), "apns-id is on every answer");

    let wrong_team = provider_token(&c.apns_private_key_pem, &c.apns_key_id, "ZZZZZ99999", 0);
    let answer = post(
        &client(&sandbox, false),
        &sandbox,
        DEVICE,
        &headers(&wrong_team),
        alert(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.body),
        (403, json!({"reason": "InvalidProviderToken"}))
    );
    assert!(sandbox.state.inbox(herald_core::Vendor::Apns, DEVICE).is_empty());
}

#[tokio::test]
async fn a_token_older_than_an_hour_is_expired() {
    let sandbox = sandbox().await;
    let c = &sandbox.state.credentials;
    let stale = provider_token(&c.apns_private_key_pem, &c.apns_key_id, &c.apns_team_id, 3700);
    let answer = post(
        &client(&sandbox, false),
        &sandbox,
        DEVICE,
        &headers(&stale),
        alert(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.body),
        (403, json!({"reason": "ExpiredProviderToken"}))
    );
}

#[tokio::test]
async fn missing_authorization_and_missing_topic_get_apples_reasons() {
    let sandbox = sandbox().await;
    let client = client(&sandbox, false);
    let mut no_auth = headers("x");
    no_auth.remove(0);
    let answer = post(&client, &sandbox, DEVICE, &no_auth, alert()).await;
    assert_eq!(
        (answer.status, answer.body),
        (403, json!({"reason": "MissingProviderToken"}))
    );

    let mut no_topic = headers(&good_token(&sandbox));
    no_topic.retain(|(name, _)| *name != "apns-topic");
    let answer = post(&client, &sandbox, DEVICE, &no_topic, alert()).await;
    assert_eq!(
        (answer.status, answer.body),
        (400, json!({"reason": "MissingTopic"}))
    );

    let answer = post(
        &client,
        &sandbox,
        DEVICE,
        &headers(&good_token(&sandbox)),
        String::new(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.body),
        (400, json!({"reason": "PayloadEmpty"}))
    );
}

#[tokio::test]
async fn bad_headers_tokens_and_sizes_are_refused() {
    let sandbox = sandbox().await;
    let client = client(&sandbox, false);
    let jwt = good_token(&sandbox);
    let with = |name: &'static str, value: &str| {
        let mut h = headers(&jwt);
        h.retain(|(n, _)| *n != name);
        h.push((name, value.to_string()));
        h
    };
    let cases = [
        (
            with("apns-topic", "com.other.app"),
            DEVICE,
            alert(),
            400,
            "TopicDisallowed",
        ),
        (with("apns-priority", "7"), DEVICE, alert(), 400, "BadPriority"),
        (
            with("apns-id", "not-a-uuid"),
            DEVICE,
            alert(),
            400,
            "BadMessageId",
        ),
        (
            with("apns-collapse-id", &"c".repeat(65)),
            DEVICE,
            alert(),
            400,
            "BadCollapseId",
        ),
        (headers(&jwt), "not-hex-token", alert(), 400, "BadDeviceToken"),
        (
            headers(&jwt),
            DEVICE,
            format!(r#"{{"aps":{{}},"x":"{}"}}"#, "y".repeat(4096)),
            413,
            "PayloadTooLarge",
        ),
    ];
    for (headers, token, body, status, reason) in cases {
        let answer = post(&client, &sandbox, token, &headers, body).await;
        assert_eq!((answer.status, &answer.body["reason"]), (status, &json!(reason)));
    }
    let gone = post(
        &client,
        &sandbox,
        &format!("{:0>64}", "dead0001"),
        &headers(&jwt),
        alert(),
    )
    .await;
    assert_eq!((gone.status, &gone.body["reason"]), (410, &json!("Unregistered")));
    assert!(
        gone.body["timestamp"].is_i64(),
        "410 carries the timestamp: {:?}",
        gone.body
    );
}

#[tokio::test]
async fn http1_is_not_served() {
    let sandbox = sandbox().await;
    let answer = post(
        &client(&sandbox, true),
        &sandbox,
        DEVICE,
        &headers(&good_token(&sandbox)),
        alert(),
    )
    .await;
    assert_eq!(answer.status, 505);
}

/// A client presenting the key and certificate of a base64 `.p12` as TLS client certificate.
fn client_with_p12(sandbox: &Sandbox, p12_b64: &str, password: &str) -> reqwest::Client {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(p12_b64.trim().replace(['\n', '\r'], ""))
        .expect("base64");
    let store = p12_keystore::KeyStore::from_pkcs12(&der, password, p12_keystore::Pkcs12ImportPolicy::Strict)
        .expect("p12");
    let (_, chain) = store.private_key_chain().expect("key and certificate");
    let pem = |label: &str, der: &[u8]| {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        )
    };
    let mut identity = pem("PRIVATE KEY", chain.key().as_der());
    for cert in chain.certs() {
        identity.push_str(&pem("CERTIFICATE", cert.as_der()));
    }
    let ca = reqwest::Certificate::from_pem(sandbox.ca_pem.as_bytes()).expect("CA");
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(identity.as_bytes()).expect("identity"))
        .build()
        .expect("client")
}

fn headers_without_token() -> Vec<(&'static str, String)> {
    headers("")
        .into_iter()
        .filter(|(name, _)| *name != "authorization")
        .collect()
}

#[tokio::test]
async fn certificate_auth_needs_the_known_client_certificate() {
    let sandbox = sandbox().await;
    // Neither a provider token nor a client certificate.
    let answer = post(
        &client(&sandbox, false),
        &sandbox,
        DEVICE,
        &headers_without_token(),
        alert(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.body),
        (403, json!({"reason": "MissingProviderToken"}))
    );

    // The sandbox's own push certificate, no token: delivered.
    let c = &sandbox.state.credentials;
    let known = client_with_p12(
        &sandbox,
        &c.apns_certificate_p12_b64,
        &c.apns_certificate_password,
    );
    let answer = post(&known, &sandbox, DEVICE, &headers_without_token(), alert()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.version, reqwest::Version::HTTP_2);
    assert_eq!(sandbox.state.inbox(herald_core::Vendor::Apns, DEVICE).len(), 1);

    // A certificate the emulator does not know.
    let stranger = client_with_p12(&sandbox, &testdata("apns_p12.b64"), "secret");
    let answer = post(&stranger, &sandbox, DEVICE, &headers_without_token(), alert()).await;
    assert_eq!(
        (answer.status, answer.body),
        (403, json!({"reason": "BadCertificate"}))
    );
}
