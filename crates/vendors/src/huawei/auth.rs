//! Huawei OAuth 2.0 client credentials: the app id and secret are exchanged for an access token
//! valid 3600 s (cached by the driver until shortly before expiry).

use super::config::HuaweiConfig;
use crate::auth::{AuthFailure, Credential};
use crate::http::{Http, VendorRequest};
use std::time::Duration;

/// The token request.
pub(crate) fn token_request(config: &HuaweiConfig) -> VendorRequest {
    VendorRequest::form(
        config.auth_url.clone(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &config.app_id),
            ("client_secret", config.app_secret.expose()),
        ],
    )
}

/// Exchanges the app credentials for an access token.
pub(crate) async fn fetch_token(http: &Http, config: &HuaweiConfig) -> Result<Credential, AuthFailure> {
    let response = http
        .send(&token_request(config))
        .await
        .map_err(AuthFailure::Transport)?;
    let body = response.json().unwrap_or_default();
    match body["access_token"].as_str() {
        // Huawei's FAQ: some encoders escape `/` in the token; use it unescaped.
        Some(token) if response.status == 200 => Ok(Credential {
            token: token.replace("\\/", "/"),
            valid_for: Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3600)),
        }),
        _ if response.status >= 500 => Err(AuthFailure::Transport(herald_core::AdapterError::Transport(
            format!("Huawei OAuth answered {}", response.status),
        ))),
        _ => Err(AuthFailure::Refused {
            code: format!(
                "auth_{}",
                body["sub_error"]
                    .as_i64()
                    .or(body["error"].as_i64())
                    .unwrap_or(i64::from(response.status))
            ),
            reason: format!(
                "Huawei refused the app credentials: {}",
                body["error_description"].as_str().unwrap_or("no description")
            ),
        }),
    }
}
