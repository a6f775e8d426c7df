//! Client API (the phone app, user token): push token binding, app state (background with the
//! unread count, foreground), logout, and the user's own push settings. The device use cases
//! are the engine's (`herald_engine::Devices`, shared with the WebSocket gateway).

use super::views::DeviceView;
use crate::auth::UserSession;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, OptionalJson};
use crate::state::AppState;
use axum::extract::State;
use herald_core::{Device, Platform, PushSettings};
use herald_engine::{DeviceKey, TokenBinding};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Body of `PUT /v1/me/devices/{device}/push-token`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindToken {
    /// The certificate by numeric id (Tencent style)…
    pub certificate_id: Option<i64>,
    /// …or by name (Agora style). Give exactly one.
    pub certificate_name: Option<String>,
    /// The vendor token (a string); for Web Push the browser's subscription object.
    #[schema(value_type = Value)]
    pub token: Value,
    /// `ios`, `android`, `harmony` or `web`.
    pub platform: Platform,
}

/// Body of `POST .../background`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Background {
    /// Unread count to show on the app icon (0 or more); pushes add to it.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub unread: i64,
}

/// Body of `POST .../logout`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Logout {
    /// Also forget the push token (default false: the token is kept, but no pushes are sent
    /// until the user logs in again).
    #[serde(default)]
    pub unbind: bool,
}

/// The caller's device `device`.
fn key(me: &UserSession, device: &str) -> DeviceKey {
    DeviceKey::new(&me.app, &me.user, device)
}

fn view(state: &AppState, device: Device) -> DeviceView {
    let connected = state.devices.is_connected(&DeviceKey::new(
        &device.app_id,
        &device.user_id,
        &device.device_id,
    ));
    DeviceView::new(device, connected)
}

/// Binds the device's push token. The token leaves any other device of the app that had it,
/// and a logged-out or kicked device starts a new session.
#[utoipa::path(put, path = "/v1/me/devices/{device}/push-token", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id chosen by the app")),
    request_body = BindToken,
    responses((status = 200, description = "The device with its binding (token masked)", body = DeviceView), (status = 400, body = ErrorBody),
        (status = 404, description = "No such certificate (`certificate_not_found`)", body = ErrorBody)))]
pub async fn bind_push_token(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
    ApiJson(body): ApiJson<BindToken>,
) -> ApiResult<ApiJson<DeviceView>> {
    let binding = TokenBinding {
        certificate_id: body.certificate_id,
        certificate_name: body.certificate_name.as_deref(),
        token: &body.token,
        platform: body.platform,
    };
    let bound = state.devices.bind_token(&key(&me, &device), binding).await?;
    Ok(ApiJson(view(&state, bound)))
}

/// Forgets the device's push token.
#[utoipa::path(delete, path = "/v1/me/devices/{device}/push-token", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id")),
    responses((status = 200, description = "The device, without a binding", body = DeviceView), (status = 404, body = ErrorBody)))]
pub async fn unbind_push_token(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
) -> ApiResult<ApiJson<DeviceView>> {
    let device = state.devices.unbind_token(&key(&me, &device)).await?;
    Ok(ApiJson(view(&state, device)))
}

/// The app went to the background: pushes start, the icon shows `unread`.
#[utoipa::path(post, path = "/v1/me/devices/{device}/background", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id")),
    request_body = Option<Background>,
    responses((status = 200, description = "The device, in the background", body = DeviceView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The device logged out or was kicked (`session_ended`): bind its token or connect first", body = ErrorBody)))]
pub async fn background(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
    OptionalJson(body): OptionalJson<Background>,
) -> ApiResult<ApiJson<DeviceView>> {
    let device = state.devices.background(&key(&me, &device), body.unread).await?;
    Ok(ApiJson(view(&state, device)))
}

/// The app came to the foreground: no pushes while it stays there; the badge is cleared.
#[utoipa::path(post, path = "/v1/me/devices/{device}/foreground", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id")),
    responses((status = 200, description = "The device, in the foreground", body = DeviceView), (status = 404, body = ErrorBody),
        (status = 409, description = "The device logged out or was kicked (`session_ended`): bind its token or connect first", body = ErrorBody)))]
pub async fn foreground(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
) -> ApiResult<ApiJson<DeviceView>> {
    let device = state.devices.foreground(&key(&me, &device)).await?;
    Ok(ApiJson(view(&state, device)))
}

/// Ends the device's session; with `unbind: true` the token is forgotten too.
#[utoipa::path(post, path = "/v1/me/devices/{device}/logout", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id")),
    request_body = Option<Logout>,
    responses((status = 200, description = "The device, logged out", body = DeviceView), (status = 404, body = ErrorBody)))]
pub async fn logout(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
    OptionalJson(body): OptionalJson<Logout>,
) -> ApiResult<ApiJson<DeviceView>> {
    let device = state.devices.logout(&key(&me, &device), body.unbind).await?;
    Ok(ApiJson(view(&state, device)))
}

/// The caller's own devices.
#[utoipa::path(get, path = "/v1/me/devices", tag = "client", security(("user_token" = [])),
    responses((status = 200, description = "The caller's devices (tokens masked)", body = Vec<DeviceView>)))]
pub async fn list_my_devices(
    me: UserSession,
    State(state): State<AppState>,
) -> ApiResult<ApiJson<Vec<DeviceView>>> {
    let devices = state.store.list_devices(&me.app, &me.user).await?;
    Ok(ApiJson(devices.into_iter().map(|d| view(&state, d)).collect()))
}

/// Reads the caller's push settings.
#[utoipa::path(get, path = "/v1/me/push-settings", tag = "client", security(("user_token" = [])),
    responses((status = 200, description = "The caller's push settings", body = PushSettings), (status = 401, body = ErrorBody)))]
pub async fn get_push_settings(
    me: UserSession,
    State(state): State<AppState>,
) -> ApiResult<ApiJson<PushSettings>> {
    Ok(ApiJson(state.store.push_settings(&me.app, &me.user).await?))
}

/// Replaces the caller's push settings.
#[utoipa::path(put, path = "/v1/me/push-settings", tag = "client", security(("user_token" = [])),
    request_body = PushSettings,
    responses((status = 200, description = "The settings as stored", body = PushSettings), (status = 400, body = ErrorBody)))]
pub async fn put_push_settings(
    me: UserSession,
    State(state): State<AppState>,
    ApiJson(settings): ApiJson<PushSettings>,
) -> ApiResult<ApiJson<PushSettings>> {
    settings.validate()?;
    state
        .store
        .set_push_settings(&me.app, &me.user, &settings)
        .await?;
    Ok(ApiJson(settings))
}
