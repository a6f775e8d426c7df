//! OPPO auth: `POST /server/v1/auth` with `sign = sha256(app_key + timestamp + master_secret)`
//! returns an `auth_token` valid 24 h (cached by the driver; code 11 on a send refreshes it).

use super::config::OppoConfig;
use crate::auth::{AuthFailure, Credential, now_millis, sha256_hex};
use crate::http::{Http, VendorRequest};
use herald_core::AdapterError;
use std::time::Duration;

/// `auth_token` lifetime. [DOC 6.2: "valid 24 h"]
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The signature: lowercase hex SHA-256 of the plain concatenation, no separators, with the
/// MasterSecret (not the AppSecret). [SDK `Auth.java`; DOC id=11234]
pub(crate) fn sign(app_key: &str, timestamp: i64, master_secret: &str) -> String {
    sha256_hex(&format!("{app_key}{timestamp}{master_secret}"))
}

/// The auth request at `timestamp` (epoch milliseconds; OPPO accepts ±10 minutes).
pub(crate) fn token_request(config: &OppoConfig, timestamp: i64) -> VendorRequest {
    let timestamp_text = timestamp.to_string();
    let signature = sign(&config.app_key, timestamp, config.master_secret.expose());
    VendorRequest::form(
        config.auth_url.clone(),
        &[
            ("app_key", &config.app_key),
            ("sign", &signature),
            ("timestamp", &timestamp_text),
        ],
    )
}

/// Exchanges the signed app key for an auth token.
pub(crate) async fn fetch_token(http: &Http, config: &OppoConfig) -> Result<Credential, AuthFailure> {
    let response = http
        .send(&token_request(config, now_millis()))
        .await
        .map_err(AuthFailure::Transport)?;
    let body = response.json().unwrap_or_default();
    let code = body["code"].as_i64();
    match body["data"]["auth_token"].as_str() {
        Some(token) if code == Some(0) => Ok(Credential {
            token: token.to_string(),
            valid_for: TOKEN_LIFETIME,
        }),
        // -1 unavailable, -2 flow control, 5xx: worth asking again later.
        _ if response.status >= 500 || matches!(code, Some(-1 | -2)) => {
            Err(AuthFailure::Transport(AdapterError::Transport(format!(
                "OPPO auth answered {}: {}",
                response.status,
                response.text()
            ))))
        }
        _ => Err(AuthFailure::Refused {
            code: format!("auth_{}", code.unwrap_or(i64::from(response.status))),
            reason: format!(
                "OPPO refused the app key or signature: {}",
                body["message"].as_str().unwrap_or("no message")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_sha256_of_key_timestamp_and_master_secret() {
        assert_eq!(sign("k", 1, "s"), sha256_hex("k1s"));
        assert_eq!(sign("k", 1, "s").len(), 64);
    }
}
