//! APNs provider API emulator, served over TLS with HTTP/2: `POST /3/device/{token}` checks the
//! ES256 provider JWT against the credentials' public key (alg, kid, iss, iat ≤ 1 h old), the
//! headers (`apns-topic` = bundle id, `apns-push-type`, `apns-priority`, `apns-id`,
//! `apns-expiration`, `apns-collapse-id` ≤ 64 bytes) and the payload (≤ 4096 bytes, 5120 for
//! VoIP), and answers as APNs does: `200` with an empty body, or the status and
//! `{"reason": …}`, with `apns-id` on every response. [SDK: apns2 `client.go`, `response.go`]
//! Without an `authorization` header the request must come over a TLS connection whose client
//! certificate is the credentials' APNs push certificate (certificate auth), else
//! `403 BadCertificate` (`403 MissingProviderToken` when the client showed no certificate).

use crate::emulator::{ClientCertificate, fault, header};
use crate::state::{Delivered, FaultKind, SandboxState, is_unknown_device};
use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use herald_core::Vendor;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use std::sync::Arc;

const VENDOR: Vendor = Vendor::Apns;
/// Payload limit of every push type but VoIP.
const MAX_PAYLOAD: usize = 4096;
/// Payload limit of VoIP pushes.
const MAX_VOIP_PAYLOAD: usize = 5120;
/// Longest `apns-collapse-id`.
const MAX_COLLAPSE_ID: usize = 64;
/// Provider tokens older than this are stale (`403 ExpiredProviderToken`).
const MAX_TOKEN_AGE_SECONDS: i64 = 3600;
/// Clock skew tolerated for an `iat` in the future.
const MAX_FUTURE_IAT_SECONDS: i64 = 300;
/// Push types and the topic suffix each one needs.
const PUSH_TYPES: &[(&str, &str)] = &[
    ("alert", ""),
    ("background", ""),
    ("mdm", ""),
    ("voip", ".voip"),
    ("complication", ".complication"),
    ("fileprovider", ".pushkit.fileprovider"),
    ("liveactivity", ".push-type.liveactivity"),
    ("location", ".location-query"),
    ("pushtotalk", ".voip-ptt"),
];

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/3/device/{token}", any(send))
        .fallback(bad_path)
        .with_state(state)
}

/// APNs tokens are hex, so the sandbox's `invalid` prefix cannot mark an unregistered device
/// on its own: hex tokens whose significant digits start with `dead` (`0…0dead…`) play that
/// role, next to `invalid…` tokens (which are not hex and get `BadDeviceToken`).
pub(crate) fn is_unregistered(token: &str) -> bool {
    is_unknown_device(token) || token.trim_start_matches('0').starts_with("dead")
}

/// A random canonical UUID (version 4).
fn uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An APNs answer: `apns-id` always, `apns-unique-id` as the development environment adds.
fn answer(status: StatusCode, apns_id: &str, body: Option<Value>) -> Response {
    let mut response = match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(apns_id) {
        headers.insert("apns-id", value);
    }
    if let Ok(value) = HeaderValue::from_str(&uuid()) {
        headers.insert("apns-unique-id", value);
    }
    response
}

fn reason(status: StatusCode, apns_id: &str, reason: &str) -> Response {
    answer(status, apns_id, Some(json!({"reason": reason})))
}

async fn bad_path(State(state): State<Arc<SandboxState>>) -> Response {
    state.refused(VENDOR);
    reason(StatusCode::NOT_FOUND, &uuid(), "BadPath")
}

/// Why a provider token was refused.
enum ApnsTokenError {
    Missing,
    Invalid,
    Expired,
}

#[derive(serde::Deserialize)]
struct ApnsClaims {
    iss: String,
    iat: i64,
}

/// Checks `authorization: bearer <jwt>` against the team's key.
fn check_provider_token(state: &SandboxState, headers: &HeaderMap) -> Result<(), ApnsTokenError> {
    let value = header(headers, "authorization").ok_or(ApnsTokenError::Missing)?;
    let (scheme, jwt) = value.split_once(' ').ok_or(ApnsTokenError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || jwt.trim().is_empty() {
        return Err(ApnsTokenError::Missing);
    }
    let jwt = jwt.trim();
    let now = jiff::Timestamp::now().as_second();
    // A token that verified stays good until it reaches the age limit.
    state.apns_tokens.check(jwt, now, || {
        verify_provider_token(state, jwt, now).map(|iat| ((), iat + MAX_TOKEN_AGE_SECONDS + 1))
    })
}

/// Checks the signature, key id, team and age of a provider token; returns its `iat`.
fn verify_provider_token(state: &SandboxState, jwt: &str, now: i64) -> Result<i64, ApnsTokenError> {
    let creds = &state.credentials;
    let head = jsonwebtoken::decode_header(jwt).map_err(|_| ApnsTokenError::Invalid)?;
    if head.alg != Algorithm::ES256 || head.kid.as_deref() != Some(creds.apns_key_id.as_str()) {
        return Err(ApnsTokenError::Invalid);
    }
    let key = DecodingKey::from_ec_pem(creds.apns_public_key_pem.as_bytes())
        .map_err(|_| ApnsTokenError::Invalid)?;
    // Provider tokens carry no `exp` and no `aud`: only the signature, `iss` and `iat` count.
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<ApnsClaims>(jwt, &key, &validation)
        .map_err(|_| ApnsTokenError::Invalid)?
        .claims;
    if claims.iss != creds.apns_team_id {
        return Err(ApnsTokenError::Invalid);
    }
    let age = now - claims.iat;
    if age > MAX_TOKEN_AGE_SECONDS {
        return Err(ApnsTokenError::Expired);
    }
    if age < -MAX_FUTURE_IAT_SECONDS {
        return Err(ApnsTokenError::Invalid);
    }
    Ok(claims.iat)
}

/// Certificate auth: the client certificate must be the credentials' push certificate.
fn check_client_certificate(state: &SandboxState, presented: &[u8]) -> bool {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(state.credentials.apns_certificate_pem.as_bytes())
        .filter_map(Result::ok)
        .any(|known| known.as_ref() == presented)
}

/// The header rules; `Err` is the reason APNs gives.
fn check_headers(state: &SandboxState, headers: &HeaderMap) -> Result<&'static str, &'static str> {
    let push_type = header(headers, "apns-push-type").unwrap_or_else(|| "alert".into());
    let suffix = PUSH_TYPES
        .iter()
        .find(|(name, _)| *name == push_type)
        .map(|(_, s)| *s)
        .ok_or("InvalidPushType")?;
    let topic = header(headers, "apns-topic").ok_or("MissingTopic")?;
    let bundle = &state.credentials.bundle_id;
    if !topic.starts_with(bundle.as_str()) {
        return Err("TopicDisallowed");
    }
    if topic[bundle.len()..] != *suffix {
        return Err("BadTopic");
    }
    if let Some(priority) = header(headers, "apns-priority")
        && !matches!(priority.as_str(), "1" | "5" | "10")
    {
        return Err("BadPriority");
    }
    if let Some(expiration) = header(headers, "apns-expiration")
        && expiration.parse::<u64>().is_err()
    {
        return Err("BadExpirationDate");
    }
    if header(headers, "apns-collapse-id").is_some_and(|id| id.len() > MAX_COLLAPSE_ID) {
        return Err("BadCollapseId");
    }
    Ok(if push_type == "voip" { "voip" } else { "other" })
}

async fn send(
    State(state): State<Arc<SandboxState>>,
    method: Method,
    version: Version,
    Path(token): Path<String>,
    client_certificate: Option<Extension<ClientCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.count_request(VENDOR);
    let given_id = header(&headers, "apns-id");
    let apns_id = given_id
        .clone()
        .filter(|id| is_uuid(id))
        .map(|id| id.to_lowercase())
        .unwrap_or_else(uuid);
    let refuse = |status: StatusCode, why: &str| {
        state.refused(VENDOR);
        reason(status, &apns_id, why)
    };
    if method != Method::POST {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed");
    }
    // The real service only negotiates h2; an HTTP/1.1 request never reaches it.
    if version != Version::HTTP_2 {
        return refuse(StatusCode::HTTP_VERSION_NOT_SUPPORTED, "HTTP/2 is required");
    }
    if headers
        .iter()
        .any(|(name, _)| headers.get_all(name).iter().count() > 1)
    {
        return refuse(StatusCode::BAD_REQUEST, "DuplicateHeaders");
    }
    let presented = client_certificate.and_then(|Extension(ClientCertificate(der))| der);
    match check_provider_token(&state, &headers) {
        _ if state.sink => {}
        Ok(()) => {}
        Err(ApnsTokenError::Missing) => match presented {
            Some(der) if check_client_certificate(&state, &der) => {}
            Some(_) => return refuse(StatusCode::FORBIDDEN, "BadCertificate"),
            None => return refuse(StatusCode::FORBIDDEN, "MissingProviderToken"),
        },
        Err(ApnsTokenError::Invalid) => return refuse(StatusCode::FORBIDDEN, "InvalidProviderToken"),
        Err(ApnsTokenError::Expired) => return refuse(StatusCode::FORBIDDEN, "ExpiredProviderToken"),
    }
    if given_id.is_some_and(|id| !is_uuid(&id)) {
        return refuse(StatusCode::BAD_REQUEST, "BadMessageId");
    }
    let kind = match check_headers(&state, &headers) {
        Ok(kind) => kind,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, why),
    };
    if token.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "MissingDeviceToken");
    }
    if !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return refuse(StatusCode::BAD_REQUEST, "BadDeviceToken");
    }
    if body.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "PayloadEmpty");
    }
    if body.len()
        > if kind == "voip" {
            MAX_VOIP_PAYLOAD
        } else {
            MAX_PAYLOAD
        }
    {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
    }
    let payload = match serde_json::from_slice::<Value>(&body) {
        Ok(payload) if payload["aps"].is_object() => payload,
        // [UNCONFIRMED] APNs documents no reason for a payload that is not JSON with `aps`.
        _ => return refuse(StatusCode::BAD_REQUEST, "BadPayload"),
    };
    match fault(&state, VENDOR, &[token.as_str()]).await {
        Some(FaultKind::InvalidToken) => return unregistered(&state, &apns_id),
        Some(FaultKind::ServerError) => {
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError");
        }
        Some(FaultKind::TooManyRequests { retry_after }) => {
            let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests");
            response.headers_mut().insert("retry-after", retry_after.into());
            return response;
        }
        Some(FaultKind::AuthExpired) => return refuse(StatusCode::FORBIDDEN, "ExpiredProviderToken"),
        // APNs has no daily quota; its throttle is per device token.
        Some(FaultKind::QuotaExhausted) => return refuse(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
        Some(FaultKind::Slow { .. }) | None => {}
    }
    if is_unregistered(&token) {
        return unregistered(&state, &apns_id);
    }
    let alert = &payload["aps"]["alert"];
    let (title, body_text) = match alert {
        Value::String(text) => (String::new(), text.clone()),
        _ => (text(&alert["title"]), text(&alert["body"])),
    };
    state.deliver(Delivered {
        vendor: VENDOR,
        token: token.clone(),
        title,
        body: body_text,
        click: describe_click(&payload),
        ext: payload.get("ext").and_then(Value::as_str).map(str::to_string),
        raw: payload.clone(),
    });
    answer(StatusCode::OK, &apns_id, None)
}

/// `410 Unregistered` with the last time the token was seen invalid.
fn unregistered(state: &SandboxState, apns_id: &str) -> Response {
    state.refused(VENDOR);
    let now = jiff::Timestamp::now().as_millisecond();
    answer(
        StatusCode::GONE,
        apns_id,
        Some(json!({"reason": "Unregistered", "timestamp": now})),
    )
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// APNs has no click action: Herald's custom `click` key (or the category) tells the app.
fn describe_click(payload: &Value) -> String {
    let click = &payload["click"];
    match click["type"].as_str() {
        Some("open_url") => format!("open url {}", click["url"].as_str().unwrap_or("?")),
        Some("open_page") => format!("open page {}", click["page"].as_str().unwrap_or("?")),
        _ => match payload["aps"]["category"].as_str() {
            Some(category) => format!("open app (category {category})"),
            None => "open app".into(),
        },
    }
}
