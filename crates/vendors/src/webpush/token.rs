//! A Web Push token is the browser's `PushSubscription`: an object, or its JSON text.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::Invalid;
use serde_json::Value;

/// Checks an uploaded subscription and returns it as compact JSON (endpoint and keys only).
pub(crate) fn check(token: &Value) -> Result<String, Invalid> {
    match token {
        Value::Object(_) => check_subscription(token),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(parsed @ Value::Object(_)) => check_subscription(&parsed),
            _ => Err(bad_subscription(
                "the token must be the browser's PushSubscription object",
            )),
        },
        _ => Err(Invalid::new(
            "token",
            "invalid_token_format",
            "a webpush token must be a string",
        )),
    }
}

fn bad_subscription(message: &str) -> Invalid {
    Invalid::new("token", "invalid_subscription", message)
}

/// `{"endpoint": "https://...", "keys": {"p256dh": <65-byte point>, "auth": <16 bytes>}}`.
fn check_subscription(sub: &Value) -> Result<String, Invalid> {
    let endpoint = sub
        .get("endpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_subscription("`endpoint` is missing"))?;
    let url = url::Url::parse(endpoint).map_err(|_| bad_subscription("`endpoint` is not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(bad_subscription("`endpoint` must be an https URL"));
    }
    let key = |name: &str| -> Result<Vec<u8>, Invalid> {
        let text = sub
            .get("keys")
            .and_then(|k| k.get(name))
            .and_then(Value::as_str)
            .ok_or_else(|| bad_subscription(&format!("`keys.{name}` is missing")))?;
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| bad_subscription(&format!("`keys.{name}` is not base64url")))
    };
    let p256dh = key("p256dh")?;
    if p256dh.len() != 65 || p256::PublicKey::from_sec1_bytes(&p256dh).is_err() {
        return Err(bad_subscription(
            "`keys.p256dh` is not an uncompressed P-256 public key",
        ));
    }
    if key("auth")?.len() != 16 {
        return Err(bad_subscription("`keys.auth` must be 16 bytes"));
    }
    let compact = serde_json::json!({
        "endpoint": endpoint,
        "keys": {"p256dh": sub["keys"]["p256dh"], "auth": sub["keys"]["auth"]},
    });
    Ok(compact.to_string())
}
