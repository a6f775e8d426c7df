//! Honor OAuth 2.0 client credentials: the console's Client ID and Client Secret (not the App
//! Secret) are exchanged for an access token (3600 s, cached by the driver until shortly
//! before expiry). [DOC: vendor-apis.md §4.1; lifetime UNCONFIRMED, observed in SDK structs]

use super::config::HonorConfig;
use crate::auth::{AuthFailure, Credential};
use crate::http::{Http, VendorRequest};
use herald_core::AdapterError;
use std::time::Duration;

/// The token request.
pub(crate) fn token_request(config: &HonorConfig) -> VendorRequest {
    VendorRequest::form(
        config.auth_url.clone(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &config.client_id),
            ("client_secret", config.client_secret.expose()),
        ],
    )
}

/// Exchanges the client credentials for an access token.
pub(crate) async fn fetch_token(http: &Http, config: &HonorConfig) -> Result<Credential, AuthFailure> {
    let response = http
        .send(&token_request(config))
        .await
        .map_err(AuthFailure::Transport)?;
    let body = response.json().unwrap_or_default();
    match body["access_token"].as_str() {
        Some(token) if response.status == 200 => Ok(Credential {
            token: token.to_string(),
            valid_for: Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3600)),
        }),
        _ if response.status >= 500 => Err(AuthFailure::Transport(AdapterError::Transport(format!(
            "Honor OAuth answered {}",
            response.status
        )))),
        // Honor's IAM is an OpenID Connect server: errors are `{"error","error_description"}`.
        _ => Err(AuthFailure::Refused {
            code: format!(
                "auth_{}",
                body["error"]
                    .as_str()
                    .map_or_else(|| response.status.to_string(), str::to_string)
            ),
            reason: format!(
                "Honor refused the client credentials: {}",
                body["error_description"].as_str().unwrap_or("no description")
            ),
        }),
    }
}
