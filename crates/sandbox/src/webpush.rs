//! Web Push service emulator (RFC 8030 + RFC 8291 + RFC 8292). `POST /subscriptions` plays the
//! browser subscribing: it makes a UA key pair and auth secret, keeps the private half, and
//! returns the subscription whose endpoint is this emulator's `/push/{id}`. `POST /push/{id}`
//! checks the VAPID JWT against its `k=` key (and that key against the one subscribed with),
//! the headers and the size, then DECRYPTS the aes128gcm body with the subscription's key and
//! shows the decrypted title and body on the fake phone; `201 Created` + `Location`.
//! Error bodies follow Mozilla autopush's `{code, errno, error, message}`. [3P: autopush-rs
//! "Error Codes" page]

use crate::emulator::{fault, header};
use crate::state::{Delivered, FaultKind, SandboxState, is_unknown_device};
use crate::verified::VerifiedTokens;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::Vendor;
use hkdf::Hkdf;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const VENDOR: Vendor = Vendor::Webpush;
/// Push services must accept (and this one accepts at most) 4096-byte bodies. [DOC: RFC 8030 §7.2]
const MAX_BODY: usize = 4096;
/// VAPID tokens may not live longer than 24 hours. [DOC: RFC 8292 §2]
const MAX_JWT_LIFETIME_SECONDS: i64 = 24 * 3600;
/// Longest `Topic`. [DOC: RFC 8030 §5.4]
const MAX_TOPIC: usize = 32;

/// A subscription as the push service keeps it: the browser's private key and auth secret
/// (to decrypt, as the browser would) and the application server key it was made for.
struct WebpushSubscription {
    /// The subscription JSON exactly as handed out: the device token the inbox is keyed by.
    token: String,
    ua_secret: p256::SecretKey,
    auth: [u8; 16],
    server_key: String,
}

struct WebpushEmulator {
    state: Arc<SandboxState>,
    subscriptions: Mutex<HashMap<String, WebpushSubscription>>,
    /// `Authorization` values (with the audience) that verified: the `k=` key, until `exp`.
    verified: VerifiedTokens<String>,
}

type Shared = Arc<WebpushEmulator>;

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    let emulator = Arc::new(WebpushEmulator {
        state,
        subscriptions: Mutex::new(HashMap::new()),
        verified: VerifiedTokens::default(),
    });
    Router::new()
        .route("/subscriptions", post(subscribe))
        .route("/push/{id}", post(push))
        .with_state(emulator)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim().trim_end_matches('=')).ok()
}

/// The origin clients reach this emulator at (the VAPID `aud`).
fn origin(headers: &HeaderMap) -> String {
    format!(
        "http://{}",
        header(headers, "host").unwrap_or_else(|| "localhost".into())
    )
}

/// An autopush-style error.
fn error(status: StatusCode, errno: u16, message: &str) -> Response {
    let body = json!({
        "code": status.as_u16(),
        "errno": errno,
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    (status, Json(body)).into_response()
}

/// `POST /subscriptions` (`{"applicationServerKey"?}`): what `pushManager.subscribe()` does in a
/// browser. The key defaults to the sandbox's VAPID public key.
async fn subscribe(State(emulator): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    if !request.is_object() {
        return error(StatusCode::BAD_REQUEST, 999, "the body must be a JSON object");
    }
    let server_key = match request["applicationServerKey"].as_str() {
        Some(key) => {
            match unb64(key).filter(|k| k.len() == 65 && p256::PublicKey::from_sec1_bytes(k).is_ok()) {
                Some(bytes) => b64(&bytes),
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        110,
                        "applicationServerKey is not a P-256 public key",
                    );
                }
            }
        }
        None => emulator.state.credentials.vapid_public_key.clone(),
    };
    let ua_secret = p256::SecretKey::random(&mut rand::thread_rng());
    let auth: [u8; 16] = rand::random();
    let id = format!("{:032x}", rand::random::<u128>());
    // The same object, key order included, as Herald stores a browser's subscription.
    let subscription = json!({
        "endpoint": format!("{}/push/{id}", origin(&headers)),
        "keys": {"p256dh": b64(ua_secret.public_key().to_encoded_point(false).as_bytes()), "auth": b64(&auth)},
    });
    let token = subscription.to_string();
    let entry = WebpushSubscription {
        token: token.clone(),
        ua_secret,
        auth,
        server_key,
    };
    emulator
        .subscriptions
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id, entry);
    (StatusCode::CREATED, [("content-type", "application/json")], token).into_response()
}

#[derive(serde::Deserialize)]
struct VapidClaims {
    exp: i64,
    sub: String,
}

/// [`check_vapid`] once per token and audience until the token's `exp`.
fn verified_vapid(
    emulator: &WebpushEmulator,
    headers: &HeaderMap,
    audience: &str,
) -> Result<String, &'static str> {
    let value = header(headers, "authorization").ok_or("missing Authorization header")?;
    emulator.verified.check(
        &format!("{audience} {value}"),
        jiff::Timestamp::now().as_second(),
        || check_vapid(&value, audience),
    )
}

/// Checks `Authorization: vapid t=<jwt>, k=<key>`; returns `k` and the token's `exp`.
/// [DOC: RFC 8292 §3]
fn check_vapid(value: &str, audience: &str) -> Result<(String, i64), &'static str> {
    let (scheme, params) = value.split_once(' ').ok_or("malformed Authorization header")?;
    if !scheme.eq_ignore_ascii_case("vapid") {
        return Err("the Authorization scheme must be vapid");
    }
    let param = |name: &str| {
        params
            .split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
    };
    let (jwt, key) = (param("t").ok_or("missing t=")?, param("k").ok_or("missing k=")?);
    let point = unb64(key)
        .filter(|k| k.len() == 65)
        .ok_or("k= is not a 65-byte P-256 public key")?;
    p256::PublicKey::from_sec1_bytes(&point).map_err(|_| "k= is not a P-256 public key")?;
    let head = jsonwebtoken::decode_header(jwt).map_err(|_| "t= is not a JWT")?;
    if head.alg != Algorithm::ES256 {
        return Err("the VAPID JWT must be ES256");
    }
    let decoding = DecodingKey::from_ec_components(&b64(&point[1..33]), &b64(&point[33..]))
        .map_err(|_| "k= is not a P-256 public key")?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    validation.set_audience(&[audience]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<VapidClaims>(jwt, &decoding, &validation)
        .map_err(|_| "the VAPID JWT signature, aud or exp does not verify with k=")?
        .claims;
    if claims.exp - jiff::Timestamp::now().as_second() > MAX_JWT_LIFETIME_SECONDS {
        return Err("the VAPID JWT exp is more than 24 hours away");
    }
    if !(claims.sub.starts_with("mailto:") || claims.sub.starts_with("https://")) {
        return Err("the VAPID sub must be a mailto: or https: URI");
    }
    Ok((b64(&point), claims.exp))
}

/// The RFC 8030 headers; `Err` = (errno, message) of a 400.
fn check_headers(headers: &HeaderMap) -> Result<(), (u16, &'static str)> {
    let ttl = header(headers, "ttl").ok_or((111, "missing TTL header"))?;
    ttl.trim()
        .parse::<u64>()
        .map_err(|_| (112, "TTL must be a number of seconds"))?;
    if let Some(urgency) = header(headers, "urgency")
        && !matches!(urgency.as_str(), "very-low" | "low" | "normal" | "high")
    {
        return Err((111, "Urgency must be very-low, low, normal or high"));
    }
    if let Some(topic) = header(headers, "topic") {
        let alphabet = topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if topic.is_empty() || topic.len() > MAX_TOPIC || !alphabet {
            return Err((
                111,
                "Topic must be at most 32 characters of the URL-safe base64 alphabet",
            ));
        }
    }
    if !header(headers, "content-encoding").is_some_and(|e| e.eq_ignore_ascii_case("aes128gcm")) {
        return Err((110, "Content-Encoding must be aes128gcm"));
    }
    Ok(())
}

async fn push(
    State(emulator): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &emulator.state;
    state.count_request(VENDOR);
    if state.sink {
        // Neither the subscription, the VAPID signature nor the encryption is checked.
        state.deliver(Delivered {
            vendor: VENDOR,
            token: id,
            title: String::new(),
            body: String::new(),
            click: "open app".into(),
            ext: None,
            raw: Value::Null,
        });
        return StatusCode::CREATED.into_response();
    }
    let refuse = |status: StatusCode, errno: u16, message: &str| {
        state.refused(VENDOR);
        error(status, errno, message)
    };
    if is_unknown_device(&id) {
        return refuse(
            StatusCode::GONE,
            103,
            "the subscription has expired or was unsubscribed",
        );
    }
    let (token, ua_secret, auth, server_key) = {
        let subscriptions = emulator
            .subscriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match subscriptions.get(&id) {
            Some(s) => (s.token.clone(), s.ua_secret.clone(), s.auth, s.server_key.clone()),
            None => return refuse(StatusCode::NOT_FOUND, 102, "no such subscription"),
        }
    };
    let key = match verified_vapid(&emulator, &headers, &origin(&headers)) {
        Ok(key) => key,
        Err(why) => return refuse(StatusCode::UNAUTHORIZED, 109, why),
    };
    if key != server_key {
        return refuse(
            StatusCode::FORBIDDEN,
            109,
            "the VAPID key is not the one the subscription was made with",
        );
    }
    if let Err((errno, why)) = check_headers(&headers) {
        return refuse(StatusCode::BAD_REQUEST, errno, why);
    }
    if body.len() > MAX_BODY {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            104,
            "the message body exceeds 4096 bytes",
        );
    }
    match fault(state, VENDOR, &[token.as_str()]).await {
        Some(FaultKind::InvalidToken) => {
            return refuse(StatusCode::GONE, 103, "the subscription has expired");
        }
        Some(FaultKind::ServerError) => {
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, 999, "internal error");
        }
        Some(FaultKind::TooManyRequests { retry_after }) => {
            let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, 201, "too many messages, back off");
            response.headers_mut().insert("retry-after", retry_after.into());
            return response;
        }
        Some(FaultKind::AuthExpired) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                109,
                "the VAPID token is no longer accepted",
            );
        }
        // Push services publish no daily quota; the nearest answer is a back-off.
        Some(FaultKind::QuotaExhausted) => {
            return refuse(StatusCode::TOO_MANY_REQUESTS, 201, "message quota used up");
        }
        Some(FaultKind::Slow { .. }) | None => {}
    }
    let Some(plaintext) = decrypt(&body, &ua_secret, &auth) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            110,
            "the body does not decrypt with the subscription's keys (aes128gcm)",
        );
    };
    let message: Value = serde_json::from_slice(&plaintext).unwrap_or(Value::Null);
    let (title, text) = match &message {
        Value::Object(_) => (field(&message["title"]), field(&message["body"])),
        _ => (String::new(), String::from_utf8_lossy(&plaintext).into_owned()),
    };
    state.deliver(Delivered {
        vendor: VENDOR,
        token,
        title,
        body: text,
        click: describe_click(&message["click"]),
        ext: message.get("ext").and_then(Value::as_str).map(str::to_string),
        raw: message.clone(),
    });
    let location = format!("{}/m/{:032x}", origin(&headers), rand::random::<u128>());
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert("location", value);
    }
    if let Some(ttl) = headers.get("ttl") {
        response.headers_mut().insert("ttl", ttl.clone());
    }
    response
}

fn field(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn describe_click(click: &Value) -> String {
    match click["type"].as_str() {
        Some("open_url") => format!("open url {}", click["url"].as_str().unwrap_or("?")),
        Some("open_page") => format!("open page {}", click["page"].as_str().unwrap_or("?")),
        _ => "open app".into(),
    }
}

/// Decrypts an RFC 8291 `aes128gcm` body as the browser would; `None` when anything is off.
pub(crate) fn decrypt(body: &[u8], ua_secret: &p256::SecretKey, auth: &[u8]) -> Option<Vec<u8>> {
    let salt = body.get(..16)?;
    let idlen = usize::from(*body.get(20)?);
    if idlen != 65 {
        return None;
    }
    let as_public_bytes = body.get(21..21 + idlen)?;
    let sealed = body.get(21 + idlen..)?;
    let as_public = p256::PublicKey::from_sec1_bytes(as_public_bytes).ok()?;
    let ua_public = ua_secret.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), as_public.as_affine());
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(ua_public.as_bytes());
    info.extend_from_slice(as_public_bytes);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&info, &mut ikm)
        .ok()?;
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).ok()?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).ok()?;
    let cipher = Aes128Gcm::new_from_slice(&cek).ok()?;
    let mut record = cipher.decrypt(&Nonce::from(nonce), sealed).ok()?;
    // Strip the padding: trailing zeros, then the last-record delimiter 0x02.
    while record.last() == Some(&0) {
        record.pop();
    }
    (record.pop()? == 0x02).then_some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8291 Appendix A: the published body decrypts to the published message.
    #[test]
    fn decrypts_the_rfc_8291_example() {
        let ua =
            p256::SecretKey::from_slice(&unb64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94").expect("b64"))
                .expect("key");
        let auth = unb64("BTBZMqHH6r4Tts7J_aSIgg").expect("b64");
        let body = unb64(
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
        )
        .expect("b64");
        assert_eq!(
            decrypt(&body, &ua, &auth).as_deref(),
            Some(&b"When I grow up, I want to be a watermelon"[..])
        );
        assert_eq!(
            decrypt(&body, &ua, &[0; 16]),
            None,
            "a wrong auth secret does not decrypt"
        );
    }
}
