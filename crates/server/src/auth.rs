//! Who is calling: the operator (admin token), an app's backend (HTTP Basic with the app id
//! and secret), or a phone app (a user token minted by the app's backend).
//!
//! User tokens are HS256 JWTs signed with the app secret; the header's `kid` names the app so
//! the right secret can be looked up. Rotating the secret invalidates every token of the app
//! (on the other nodes of a cluster within two seconds: secrets are cached that long).

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use herald_core::cache::TtlCache;
use herald_core::{Secret, StoreError};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

/// How long an app secret read from the store is used without reading it again: another node
/// of a cluster sees a rotation within this time (this node at once).
const SECRET_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// App secrets recently read, so that a busy app's requests do not each read and unseal the
/// secret (one store round trip per request at a thousand messages a second).
#[derive(Debug, Clone)]
pub struct SecretCache(TtlCache<Secret<String>>);

impl Default for SecretCache {
    fn default() -> Self {
        Self(TtlCache::new(SECRET_CACHE_TTL))
    }
}

impl SecretCache {
    /// The app's secret, from the cache when read less than `SECRET_CACHE_TTL` ago.
    pub async fn get(&self, store: &dyn herald_core::Store, app: &str) -> Result<Secret<String>, StoreError> {
        if let Some(secret) = self.0.get(app) {
            return Ok(secret);
        }
        let secret = store.app_secret(app).await?;
        self.0.put(app, secret.clone());
        Ok(secret)
    }

    /// Drops the app's secret (rotated or deleted on this node).
    pub fn forget(&self, app: &str) {
        self.0.forget(app);
    }
}

/// Hex SHA-256 of a token: what the store keeps instead of the admin token.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh random credential: `prefix` followed by 32 random bytes in base64url.
pub fn random_credential(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

fn basic(parts: &Parts) -> Option<(String, String)> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn is_admin(parts: &Parts, state: &AppState) -> bool {
    bearer(parts).is_some_and(|token| {
        bool::from(
            token_hash(token)
                .as_bytes()
                .ct_eq(state.admin_token_hash.as_bytes()),
        )
    })
}

/// The operator, proven by the admin token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if bearer(parts).is_none() {
            return Err(ApiError::unauthorized(
                "missing_credentials",
                "send the admin token as `Authorization: Bearer <token>`",
            ));
        }
        if is_admin(parts, state) {
            Ok(Admin)
        } else {
            Err(ApiError::unauthorized(
                "invalid_admin_token",
                "the admin token is not valid",
            ))
        }
    }
}

/// Access to the app named in the path: its backend (Basic app id + secret) or the operator.
#[derive(Debug, Clone)]
pub struct AppAccess {
    /// The app id from the path, now proven.
    pub app: String,
}

impl FromRequestParts<AppState> for AppAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let params = axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(ApiError::from)?;
        let app = params
            .get("app")
            .cloned()
            .ok_or_else(|| ApiError::internal(&"route without an {app} segment uses AppAccess"))?;
        if is_admin(parts, state) {
            state.store.get_app(&app).await?;
            return Ok(AppAccess { app });
        }
        let Some((id, secret)) = basic(parts) else {
            return Err(ApiError::unauthorized(
                "missing_credentials",
                "authenticate with HTTP Basic: user = app id, password = app secret",
            ));
        };
        if id != app {
            return Err(ApiError::forbidden(
                "wrong_app",
                "these credentials belong to another app than the one in the path",
            ));
        }
        let stored = match state.secrets.get(state.store.as_ref(), &app).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::unauthorized(
                    "invalid_app_credentials",
                    "app id or secret is wrong",
                ));
            }
            Err(other) => return Err(other.into()),
        };
        if bool::from(stored.expose().as_bytes().ct_eq(secret.as_bytes())) {
            Ok(AppAccess { app })
        } else {
            Err(ApiError::unauthorized(
                "invalid_app_credentials",
                "app id or secret is wrong",
            ))
        }
    }
}

/// The claims of a user token.
#[derive(Debug, Serialize, Deserialize)]
struct UserClaims {
    /// The user id.
    sub: String,
    /// The app id (also in the header's `kid`).
    app: String,
    iat: i64,
    exp: i64,
}

/// Signs a user token valid until `expires_at` (seconds since the epoch).
pub fn mint_user_token(
    app: &str,
    user: &str,
    secret: &Secret<String>,
    expires_at: i64,
) -> Result<String, ApiError> {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(app.to_string());
    let claims = UserClaims {
        sub: user.to_string(),
        app: app.to_string(),
        iat: jiff::Timestamp::now().as_second(),
        exp: expires_at,
    };
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .map_err(|e| ApiError::internal(&e))
}

/// A phone app's user, proven by a user token (header, or `?token=` for WebSocket clients).
#[derive(Debug, Clone)]
pub struct UserSession {
    /// The app.
    pub app: String,
    /// The user.
    pub user: String,
}

fn query_token(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    url_param(query, "token")
}

fn url_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_string())
    })
}

impl FromRequestParts<AppState> for UserSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .map(str::to_string)
            .or_else(|| query_token(parts))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing_credentials",
                    "send the user token as `Authorization: Bearer <token>`",
                )
            })?;
        verify_user_token(state, &token).await
    }
}

async fn verify_user_token(state: &AppState, token: &str) -> Result<UserSession, ApiError> {
    let invalid = || {
        ApiError::unauthorized(
            "invalid_token",
            "the user token is malformed or not signed by this app",
        )
    };
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    let app = header.kid.ok_or_else(invalid)?;
    let secret = match state.secrets.get(state.store.as_ref(), &app).await {
        Ok(secret) => secret,
        Err(StoreError::NotFound { .. }) => return Err(invalid()),
        Err(other) => return Err(other.into()),
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let data = jsonwebtoken::decode::<UserClaims>(
        token,
        &DecodingKey::from_secret(secret.expose().as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        ErrorKind::ExpiredSignature => {
            ApiError::unauthorized("token_expired", "the user token has expired; mint a new one")
        }
        _ => invalid(),
    })?;
    if data.claims.app != app {
        return Err(invalid());
    }
    Ok(UserSession {
        app,
        user: data.claims.sub,
    })
}
