//! Device tokens as the phone uploads them: which platforms a vendor serves, and what a token
//! of that vendor looks like (APNs hex, a Web Push subscription object, an opaque string).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::{Invalid, Platform, Vendor};
use serde_json::Value;

/// Longest opaque token accepted.
const MAX_TOKEN_LEN: usize = 4096;

/// Whether a vendor delivers to a platform.
pub fn serves_platform(vendor: Vendor, platform: Platform) -> bool {
    match vendor {
        Vendor::Apns => platform == Platform::Ios,
        Vendor::Fcm => matches!(platform, Platform::Android | Platform::Ios | Platform::Web),
        Vendor::Huawei => matches!(platform, Platform::Android | Platform::Harmony),
        Vendor::Honor | Vendor::Xiaomi | Vendor::Oppo | Vendor::Vivo | Vendor::Meizu => {
            platform == Platform::Android
        }
        Vendor::Webpush => platform == Platform::Web,
    }
}

/// Checks an uploaded token and returns the string to store (for Web Push, the subscription
/// object as compact JSON).
pub fn check_token(vendor: Vendor, token: &Value) -> Result<String, Invalid> {
    match (vendor, token) {
        (Vendor::Webpush, Value::Object(_)) => check_subscription(token),
        (Vendor::Webpush, Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(parsed @ Value::Object(_)) => check_subscription(&parsed),
            _ => Err(bad_subscription(
                "the token must be the browser's PushSubscription object",
            )),
        },
        (_, Value::String(text)) => {
            let text = text.trim();
            if text.is_empty()
                || text.len() > MAX_TOKEN_LEN
                || text.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(Invalid::new(
                    "token",
                    "invalid_token_format",
                    format!(
                        "a {vendor} token is a non-empty string of at most {MAX_TOKEN_LEN} characters without spaces"
                    ),
                ));
            }
            if vendor == Vendor::Apns && !(text.len() >= 32 && text.bytes().all(|b| b.is_ascii_hexdigit())) {
                return Err(Invalid::new(
                    "token",
                    "invalid_token_format",
                    "an APNs device token is the hex string of the token bytes (64 hex digits today)",
                ));
            }
            Ok(text.to_string())
        }
        _ => Err(Invalid::new(
            "token",
            "invalid_token_format",
            format!("a {vendor} token must be a string"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apns_tokens_must_be_hex_and_others_opaque() {
        assert!(check_token(Vendor::Apns, &json!("a".repeat(64))).is_ok());
        assert!(check_token(Vendor::Apns, &json!("not-hex-token-not-hex-token-not-hex")).is_err());
        assert!(check_token(Vendor::Huawei, &json!("IQAAAACy0kYhAAC9xgR2")).is_ok());
        assert!(check_token(Vendor::Fcm, &json!("has space")).is_err());
        assert!(check_token(Vendor::Fcm, &json!(42)).is_err());
    }

    #[test]
    fn vendors_serve_their_platforms_only() {
        assert!(serves_platform(Vendor::Apns, Platform::Ios));
        assert!(!serves_platform(Vendor::Apns, Platform::Android));
        assert!(serves_platform(Vendor::Huawei, Platform::Harmony));
        assert!(!serves_platform(Vendor::Xiaomi, Platform::Web));
    }
}
