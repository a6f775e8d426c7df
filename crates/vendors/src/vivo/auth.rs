//! vivo auth: `POST /message/auth` with `sign = md5(appId + appKey + timestamp + appSecret)`
//! returns an `authToken` (valid 24 h; vivo asks to refresh it every 1–2 h).

use super::config::VivoConfig;
use crate::auth::{AuthFailure, Credential, md5_hex, now_millis};
use crate::http::{Http, VendorRequest};
use herald_core::AdapterError;
use serde_json::json;
use std::time::Duration;

/// How long a token is used: the token lives 24 h, but vivo recommends refreshing every 1–2 h
/// from a central cache. [DOC doc/362; modood/pushapi `AuthRes` comment]
const TOKEN_REUSE: Duration = Duration::from_secs(2 * 3600);

/// The signature: lowercase hex MD5 of the trimmed parts concatenated. [SDK `SignUtils`; DOC]
pub(crate) fn sign(app_id: u64, app_key: &str, timestamp: i64, app_secret: &str) -> String {
    md5_hex(&format!(
        "{app_id}{}{timestamp}{}",
        app_key.trim(),
        app_secret.trim()
    ))
}

/// The auth request at `timestamp` (epoch milliseconds; vivo accepts ±10 minutes).
pub(crate) fn token_request(config: &VivoConfig, timestamp: i64) -> VendorRequest {
    let signature = sign(
        config.app_id,
        &config.app_key,
        timestamp,
        config.app_secret.expose(),
    );
    VendorRequest::json(
        config.auth_url.clone(),
        &json!({"appId": config.app_id, "appKey": config.app_key, "timestamp": timestamp, "sign": signature}),
    )
}

/// Exchanges the signed app credentials for an auth token.
pub(crate) async fn fetch_token(http: &Http, config: &VivoConfig) -> Result<Credential, AuthFailure> {
    let response = http
        .send(&token_request(config, now_millis()))
        .await
        .map_err(AuthFailure::Transport)?;
    let body = response.json().unwrap_or_default();
    let result = body["result"].as_i64();
    match body["authToken"].as_str() {
        Some(token) if result == Some(0) && !token.is_empty() => Ok(Credential {
            token: token.to_string(),
            valid_for: TOKEN_REUSE,
        }),
        _ if response.status >= 500 || result == Some(10072) => {
            Err(AuthFailure::Transport(AdapterError::Transport(format!(
                "vivo auth answered {}: {}",
                response.status,
                response.text()
            ))))
        }
        _ => Err(AuthFailure::Refused {
            code: format!("auth_{}", result.unwrap_or(i64::from(response.status))),
            reason: format!(
                "vivo refused the app credentials: {}",
                body["desc"].as_str().unwrap_or("no description")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_md5_of_id_key_timestamp_and_secret() {
        assert_eq!(
            sign(10004, "key", 1501484120000, "secret"),
            md5_hex("10004key1501484120000secret")
        );
    }
}
