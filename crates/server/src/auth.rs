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

/// The prefix of app secrets (`hrs_…`); the admin token's is `hra_`.
const APP_SECRET_PREFIX: &str = "hrs_";

/// How the admin token is sent, for messages.
const ADMIN_HOW: &str = "Authorization: Bearer <admin token>";
/// How an app backend authenticates, for messages.
const APP_HOW: &str = "HTTP Basic: user = app id, password = app secret";
/// How a phone app authenticates, for messages.
const USER_HOW: &str = "Authorization: Bearer <user token>, minted by the app's backend";

/// What the `Authorization` header holds. Knowing which kind of credential came lets a refusal
/// say "these are app credentials; this route needs the admin token" instead of only
/// "missing credentials".
#[derive(Debug)]
enum Presented<'a> {
    /// No `Authorization` header.
    Nothing,
    /// HTTP Basic, decoded: app id and secret.
    Basic(String, String),
    /// `Bearer <token>`.
    Bearer(&'a str),
    /// Another scheme, or a header that cannot be read (`Basic` that is not base64 of
    /// `id:secret`); the scheme as sent, if any.
    Unreadable(String),
}

fn presented(parts: &Parts) -> Presented<'_> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Presented::Nothing;
    };
    let Ok(value) = value.to_str() else {
        return Presented::Unreadable(String::new());
    };
    let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Bearer(credentials.trim());
    }
    if scheme.eq_ignore_ascii_case("basic")
        && let Some((id, secret)) = decode_basic(credentials)
    {
        return Presented::Basic(id, secret);
    }
    Presented::Unreadable(scheme.to_string())
}

fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn is_admin_token(token: &str, state: &AppState) -> bool {
    bool::from(
        token_hash(token)
            .as_bytes()
            .ct_eq(state.admin_token_hash.as_bytes()),
    )
}

/// Whether `token` has the shape of a user token (a JWT naming its app), signed or not.
fn looks_like_user_token(token: &str) -> bool {
    jsonwebtoken::decode_header(token).is_ok_and(|header| header.kid.is_some())
}

/// The refusal of a header Herald cannot read as any credential; `wanted` says what to send.
fn unreadable(scheme: &str, wanted: &str) -> ApiError {
    let what = if scheme.eq_ignore_ascii_case("basic") {
        "the HTTP Basic credentials cannot be read (base64 of `app id:app secret`)".to_string()
    } else if scheme.is_empty() {
        "the Authorization header cannot be read".to_string()
    } else {
        format!("`{scheme}` is not an authorization scheme Herald takes")
    };
    ApiError::unauthorized("unsupported_authorization", format!("{what}; send {wanted}"))
}

/// The operator, proven by the admin token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let wrong_kind = |what: &str| {
            ApiError::unauthorized(
                "admin_token_required",
                format!("{what}; this route needs the admin token ({ADMIN_HOW})"),
            )
        };
        match presented(parts) {
            Presented::Nothing => Err(ApiError::unauthorized(
                "missing_credentials",
                format!("this route needs the admin token ({ADMIN_HOW})"),
            )),
            Presented::Bearer(token) if is_admin_token(token, state) => Ok(Admin),
            Presented::Basic(..) => Err(wrong_kind("these are app credentials")),
            Presented::Bearer(token) if token.starts_with(APP_SECRET_PREFIX) => {
                Err(wrong_kind("this is an app secret"))
            }
            Presented::Bearer(token) if looks_like_user_token(token) => {
                Err(wrong_kind("this is a user token"))
            }
            Presented::Bearer(_) => Err(ApiError::unauthorized(
                "invalid_admin_token",
                "the admin token is not valid",
            )),
            Presented::Unreadable(scheme) => Err(unreadable(&scheme, ADMIN_HOW)),
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
        let wrong_kind = |what: &str| {
            ApiError::unauthorized(
                "app_credentials_required",
                format!("{what}; this route needs the app's credentials ({APP_HOW}) or the admin token"),
            )
        };
        let (id, secret) = match presented(parts) {
            Presented::Bearer(token) if is_admin_token(token, state) => {
                state.store.get_app(&app).await?;
                return Ok(AppAccess { app });
            }
            Presented::Basic(id, secret) => (id, secret),
            Presented::Nothing => {
                return Err(ApiError::unauthorized(
                    "missing_credentials",
                    format!("authenticate with {APP_HOW}"),
                ));
            }
            Presented::Bearer(token) if token.starts_with(APP_SECRET_PREFIX) => {
                return Err(wrong_kind("an app secret is not sent as a bearer token"));
            }
            Presented::Bearer(token) if looks_like_user_token(token) => {
                return Err(wrong_kind("this is a user token"));
            }
            Presented::Bearer(_) => {
                return Err(ApiError::unauthorized(
                    "invalid_admin_token",
                    format!(
                        "the bearer token is not the admin token; an app backend authenticates with {APP_HOW}"
                    ),
                ));
            }
            Presented::Unreadable(scheme) => {
                return Err(unreadable(&scheme, &format!("{APP_HOW}, or {ADMIN_HOW}")));
            }
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
        let wrong_kind = |what: &str| {
            ApiError::unauthorized(
                "user_token_required",
                format!("{what}; this route needs a user token ({USER_HOW})"),
            )
        };
        let token = match (presented(parts), query_token(parts)) {
            (Presented::Bearer(token), _) => token.to_string(),
            (_, Some(token)) => token,
            (Presented::Nothing, None) => {
                return Err(ApiError::unauthorized(
                    "missing_credentials",
                    format!("this route needs a user token ({USER_HOW})"),
                ));
            }
            (Presented::Basic(..), None) => return Err(wrong_kind("these are app credentials")),
            (Presented::Unreadable(scheme), None) => return Err(unreadable(&scheme, USER_HOW)),
        };
        if is_admin_token(&token, state) {
            return Err(wrong_kind("this is the admin token"));
        }
        if token.starts_with(APP_SECRET_PREFIX) {
            return Err(wrong_kind("this is an app secret"));
        }
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
