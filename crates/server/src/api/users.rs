//! Server API (the app's backend): users and profiles, user tokens, a user's devices, kicks.

use super::views::DeviceView;
use crate::auth::{AppAccess, mint_user_token};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, OptionalJson};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::ids::check_id;
use herald_core::store::ProfileUpdate;
use herald_core::{Invalid, Millis, User};
use herald_engine::DeviceKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Shortest user token lifetime, in seconds.
const MIN_TOKEN_TTL: u64 = 60;
/// Longest user token lifetime: 90 days.
const MAX_TOKEN_TTL: u64 = 90 * 24 * 3600;
/// Lifetime when none is asked for: 7 days.
const DEFAULT_TOKEN_TTL: u64 = 7 * 24 * 3600;

/// Body of `PUT /v1/apps/{app}/users/{user}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutUser {
    /// Display name (default title of C2C notifications; 1 to 128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub nickname: Option<String>,
    /// Avatar image URL (http or https).
    pub avatar_url: Option<String>,
}

/// Body of `POST /v1/apps/{app}/users/{user}/tokens`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MintToken {
    /// Lifetime in seconds (60 to 7,776,000; default 604,800 = 7 days).
    #[schema(minimum = 60, maximum = 7776000)]
    pub ttl_seconds: Option<u64>,
}

/// A user token for the phone app.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserToken {
    /// Send as `Authorization: Bearer <token>` (or `?token=` on the WebSocket).
    pub token: String,
    /// Expiry, ms since the epoch.
    #[schema(value_type = i64)]
    pub expires_at: Millis,
}

/// Body of a kick.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Kick {
    /// Shown to the device in the `kicked` frame.
    pub reason: Option<String>,
}

fn check_profile(body: &PutUser) -> Result<(), Invalid> {
    if let Some(nickname) = &body.nickname {
        herald_core::ids::check_name("nickname", nickname)?;
    }
    if let Some(url) = &body.avatar_url {
        let ok =
            url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Err(Invalid::new(
                "avatar_url",
                "invalid_url",
                "avatar_url must be an http:// or https:// URL",
            ));
        }
    }
    Ok(())
}

/// Creates a user or updates its profile.
#[utoipa::path(put, path = "/v1/apps/{app}/users/{user}", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"),
        ("user" = String, Path, description = "User id: letters, digits, `_ . @ -`", min_length = 1, max_length = 128)),
    request_body = Option<PutUser>,
    responses((status = 200, description = "The user, updated", body = User), (status = 201, description = "The user, created", body = User), (status = 400, body = ErrorBody),
        (status = 404, description = "No such app (`app_not_found`, admin token only)", body = ErrorBody)))]
pub async fn put_user(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String)>,
    OptionalJson(body): OptionalJson<PutUser>,
) -> ApiResult<(StatusCode, ApiJson<User>)> {
    let (_, user) = path;
    check_id("user", &user)?;
    check_profile(&body)?;
    let update = ProfileUpdate {
        nickname: body.nickname,
        avatar_url: body.avatar_url,
    };
    let (stored, created) = state.store.upsert_user(&access.app, &user, &update).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(stored)))
}

/// Reads a user's profile.
#[utoipa::path(get, path = "/v1/apps/{app}/users/{user}", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("user" = String, Path, description = "User id")),
    responses((status = 200, description = "The user's profile", body = User), (status = 404, body = ErrorBody)))]
pub async fn get_user(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String)>,
) -> ApiResult<ApiJson<User>> {
    let (_, user) = path;
    Ok(ApiJson(state.store.get_user(&access.app, &user).await?))
}

/// Mints a user token (creating the user if new).
#[utoipa::path(post, path = "/v1/apps/{app}/users/{user}/tokens", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"),
        ("user" = String, Path, description = "User id: letters, digits, `_ . @ -`", min_length = 1, max_length = 128)),
    request_body = Option<MintToken>,
    responses((status = 201, description = "A user token and when it expires", body = UserToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such app (`app_not_found`, admin token only)", body = ErrorBody)))]
pub async fn mint_token(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String)>,
    OptionalJson(body): OptionalJson<MintToken>,
) -> ApiResult<(StatusCode, ApiJson<UserToken>)> {
    let (_, user) = path;
    check_id("user", &user)?;
    let ttl = body.ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL);
    if !(MIN_TOKEN_TTL..=MAX_TOKEN_TTL).contains(&ttl) {
        return Err(Invalid::field(
            "ttl_seconds",
            format!("ttl_seconds must be between {MIN_TOKEN_TTL} and {MAX_TOKEN_TTL}"),
        )
        .into());
    }
    state
        .store
        .upsert_user(&access.app, &user, &ProfileUpdate::default())
        .await?;
    let secret = state.secrets.get(state.store.as_ref(), &access.app).await?;
    let expires_at = jiff::Timestamp::now().as_second() + i64::try_from(ttl).unwrap_or(i64::MAX);
    let token = mint_user_token(&access.app, &user, &secret, expires_at)?;
    Ok((
        StatusCode::CREATED,
        ApiJson(UserToken {
            token,
            expires_at: expires_at * 1000,
        }),
    ))
}

/// Lists a user's devices with session state, certificate, masked token and badge.
#[utoipa::path(get, path = "/v1/apps/{app}/users/{user}/devices", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("user" = String, Path, description = "User id")),
    responses((status = 200, description = "The user's devices (tokens masked)", body = Vec<DeviceView>), (status = 404, body = ErrorBody)))]
pub async fn list_devices(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String)>,
) -> ApiResult<ApiJson<Vec<DeviceView>>> {
    let (_, user) = path;
    state.store.get_user(&access.app, &user).await?;
    let devices = state.store.list_devices(&access.app, &user).await?;
    Ok(ApiJson(
        devices
            .into_iter()
            .map(|d| {
                let connected = state
                    .hub
                    .is_connected(&DeviceKey::new(&d.app_id, &d.user_id, &d.device_id));
                DeviceView::new(d, connected)
            })
            .collect(),
    ))
}

/// Ends a device's session: it is closed if connected and gets no pushes until it logs in again.
#[utoipa::path(post, path = "/v1/apps/{app}/users/{user}/devices/{device}/kick", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("user" = String, Path, description = "User id"),
        ("device" = String, Path, description = "Device id")),
    request_body = Option<Kick>,
    responses((status = 200, description = "The device, its session ended", body = DeviceView), (status = 404, body = ErrorBody)))]
pub async fn kick_device(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String, String)>,
    OptionalJson(body): OptionalJson<Kick>,
) -> ApiResult<ApiJson<DeviceView>> {
    let (_, user, device) = path;
    let reason = body.reason.unwrap_or_else(|| "kicked by the server".into());
    let kicked = state
        .devices
        .kick(&DeviceKey::new(&access.app, &user, &device), &reason)
        .await?;
    Ok(ApiJson(DeviceView::new(kicked, false)))
}
