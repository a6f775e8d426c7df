//! FCM service-account OAuth (RFC 7523 JWT bearer grant): an RS256 assertion signed with the
//! account's key is exchanged at its `token_uri` for an access token of about an hour, cached
//! by the driver until shortly before expiry. [DOC: vendor-apis.md §2.1]

use super::config::FcmConfig;
use crate::auth::{AuthFailure, Credential, now_seconds};
use crate::http::{Http, VendorRequest};
use herald_core::AdapterError;
use jsonwebtoken::{Algorithm, Header};
use std::time::Duration;

/// The scope FCM sends need (`cloud-platform` is also accepted; the narrow one is asked for).
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The grant type of the token request.
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google refuses assertions living longer than an hour.
const ASSERTION_LIFETIME: i64 = 3600;

#[derive(serde::Serialize)]
struct FcmClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// The signed assertion issued at `iat` (unix seconds).
pub(crate) fn assertion(config: &FcmConfig, iat: i64) -> Result<String, AuthFailure> {
    let mut header = Header::new(Algorithm::RS256);
    if !config.private_key_id.is_empty() {
        header.kid = Some(config.private_key_id.clone());
    }
    let claims = FcmClaims {
        iss: &config.client_email,
        scope: SCOPE,
        aud: &config.token_uri,
        iat,
        exp: iat + ASSERTION_LIFETIME,
    };
    jsonwebtoken::encode(&header, &claims, config.signing_key.expose()).map_err(|e| AuthFailure::Refused {
        code: "invalid_private_key".into(),
        reason: format!("cannot sign the FCM service-account assertion: {e}"),
    })
}

/// The token request carrying `assertion`.
pub(crate) fn token_request(config: &FcmConfig, assertion: &str) -> VendorRequest {
    VendorRequest::form(
        config.token_url.clone(),
        &[("grant_type", GRANT_TYPE), ("assertion", assertion)],
    )
}

/// Exchanges a fresh assertion for an access token.
pub(crate) async fn fetch_token(http: &Http, config: &FcmConfig) -> Result<Credential, AuthFailure> {
    let request = token_request(config, &assertion(config, now_seconds())?);
    let response = http.send(&request).await.map_err(AuthFailure::Transport)?;
    let body = response.json().unwrap_or_default();
    match body["access_token"].as_str() {
        Some(token) if response.status == 200 => Ok(Credential {
            token: token.to_string(),
            valid_for: Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3600)),
        }),
        _ if response.status >= 500 => Err(AuthFailure::Transport(AdapterError::Transport(format!(
            "Google OAuth answered {}",
            response.status
        )))),
        // `invalid_grant` (bad signature, clock skew, disabled key) and `invalid_client`
        // (unknown account) both mean the service account must be fixed.
        _ => Err(AuthFailure::Refused {
            code: format!("auth_{}", body["error"].as_str().unwrap_or("http_status")),
            reason: format!(
                "Google refused the service account ({}): {}",
                response.status,
                body["error_description"].as_str().unwrap_or("no description")
            ),
        }),
    }
}
