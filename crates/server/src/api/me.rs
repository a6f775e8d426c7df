//! Client API (the phone app, user token): push token binding, app state (background with the
//! unread count, foreground), logout, and the user's own push settings.

use super::views::DeviceView;
use crate::auth::UserSession;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, OptionalJson};
use crate::state::AppState;
use axum::extract::State;
use herald_core::ids::check_id;
use herald_core::store::Binding;
use herald_core::{Certificate, Device, Invalid, Platform, PushSettings, SessionState};
use herald_engine::DeviceKey;
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
    /// The vendor token; for Web Push the browser's subscription object.
    #[schema(value_type = Object)]
    pub token: Value,
    /// `ios`, `android`, `harmony` or `web`.
    pub platform: Platform,
}

/// Body of `POST .../background`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Background {
    /// Unread count to show on the app icon; pushes add to it.
    #[serde(default)]
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

fn view(state: &AppState, device: Device) -> DeviceView {
    let connected = state.hub.is_connected(&DeviceKey::new(
        &device.app_id,
        &device.user_id,
        &device.device_id,
    ));
    DeviceView::new(device, connected)
}

async fn resolve_certificate(state: &AppState, app: &str, body: &BindToken) -> Result<Certificate, ApiError> {
    match (body.certificate_id, &body.certificate_name) {
        (Some(id), None) => Ok(state.store.get_certificate(app, id).await?),
        (None, Some(name)) => Ok(state.store.find_certificate_by_name(app, name).await?),
        (Some(_), Some(_)) => Err(Invalid::new(
            "certificate_id",
            "ambiguous_certificate",
            "give certificate_id or certificate_name, not both",
        )
        .into()),
        (None, None) => Err(Invalid::new(
            "certificate_id",
            "missing_certificate",
            "name the certificate that carries this token: certificate_id or certificate_name",
        )
        .into()),
    }
}

/// Binds the device's push token. The token leaves any other device of the app that had it,
/// and a logged-out or kicked device starts a new session.
#[utoipa::path(put, path = "/v1/me/devices/{device}/push-token", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id chosen by the app")),
    request_body = BindToken,
    responses((status = 200, body = DeviceView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn bind_push_token(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
    ApiJson(body): ApiJson<BindToken>,
) -> ApiResult<ApiJson<DeviceView>> {
    check_id("device", &device)?;
    let cert = resolve_certificate(&state, &me.app, &body).await?;
    if !herald_vendors::serves_platform(cert.vendor, body.platform) {
        return Err(Invalid::new(
            "platform",
            "platform_mismatch",
            format!(
                "certificate `{}` is {}, which does not deliver to {} devices",
                cert.name,
                cert.vendor,
                body.platform.as_str()
            ),
        )
        .into());
    }
    let token = herald_vendors::check_token(cert.vendor, &body.token)?;
    let binding = Binding {
        platform: body.platform,
        certificate_id: cert.id,
        vendor: cert.vendor,
        token: &token,
    };
    let bound = state
        .store
        .bind_token(&DeviceKey::new(&me.app, &me.user, &device), &binding)
        .await?;
    tracing::info!(app = %me.app, user = %me.user, %device, vendor = %cert.vendor, "Push token bound.");
    Ok(ApiJson(view(&state, bound)))
}

/// Forgets the device's push token.
#[utoipa::path(delete, path = "/v1/me/devices/{device}/push-token", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id")),
    responses((status = 200, body = DeviceView), (status = 404, body = ErrorBody)))]
pub async fn unbind_push_token(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
) -> ApiResult<ApiJson<DeviceView>> {
    let device = state
        .store
        .unbind_token(&DeviceKey::new(&me.app, &me.user, &device))
        .await?;
    Ok(ApiJson(view(&state, device)))
}

/// The app went to the background: pushes start, the icon shows `unread`.
#[utoipa::path(post, path = "/v1/me/devices/{device}/background", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id")),
    request_body = Option<Background>,
    responses((status = 200, body = DeviceView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn background(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
    OptionalJson(body): OptionalJson<Background>,
) -> ApiResult<ApiJson<DeviceView>> {
    if body.unread < 0 {
        return Err(Invalid::field("unread", "unread must be 0 or more").into());
    }
    let current = state
        .store
        .get_device(&DeviceKey::new(&me.app, &me.user, &device))
        .await?;
    ensure_in_session(&current)?;
    let device = state
        .store
        .set_session(
            &DeviceKey::new(&me.app, &me.user, &device),
            SessionState::Background,
            Some(body.unread),
        )
        .await?;
    Ok(ApiJson(view(&state, device)))
}

/// The app came to the foreground: no pushes while it stays there; the badge is cleared.
#[utoipa::path(post, path = "/v1/me/devices/{device}/foreground", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id")),
    responses((status = 200, body = DeviceView), (status = 404, body = ErrorBody)))]
pub async fn foreground(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
) -> ApiResult<ApiJson<DeviceView>> {
    let current = state
        .store
        .get_device(&DeviceKey::new(&me.app, &me.user, &device))
        .await?;
    ensure_in_session(&current)?;
    let device = state
        .store
        .set_session(
            &DeviceKey::new(&me.app, &me.user, &device),
            SessionState::Online,
            Some(0),
        )
        .await?;
    Ok(ApiJson(view(&state, device)))
}

/// A logged-out or kicked device must log in again (bind its token or connect) before its app
/// state means anything.
fn ensure_in_session(device: &Device) -> Result<(), ApiError> {
    if device.state.is_ended() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "session_ended",
            format!(
                "device `{}` is {}; log in again first",
                device.device_id, device.state
            ),
        ));
    }
    Ok(())
}

/// Ends the device's session; with `unbind: true` the token is forgotten too.
#[utoipa::path(post, path = "/v1/me/devices/{device}/logout", tag = "client", security(("user_token" = [])),
    params(("device" = String, Path, description = "Device id")),
    request_body = Option<Logout>,
    responses((status = 200, body = DeviceView), (status = 404, body = ErrorBody)))]
pub async fn logout(
    me: UserSession,
    State(state): State<AppState>,
    ApiPath(device): ApiPath<String>,
    OptionalJson(body): OptionalJson<Logout>,
) -> ApiResult<ApiJson<DeviceView>> {
    let device_row = state
        .store
        .logout(&DeviceKey::new(&me.app, &me.user, &device), body.unbind)
        .await?;
    state
        .hub
        .kick(&DeviceKey::new(&me.app, &me.user, &device), "logged out");
    Ok(ApiJson(view(&state, device_row)))
}

/// The caller's own devices.
#[utoipa::path(get, path = "/v1/me/devices", tag = "client", security(("user_token" = [])),
    responses((status = 200, body = Vec<DeviceView>)))]
pub async fn list_my_devices(
    me: UserSession,
    State(state): State<AppState>,
) -> ApiResult<ApiJson<Vec<DeviceView>>> {
    let devices = state.store.list_devices(&me.app, &me.user).await?;
    Ok(ApiJson(devices.into_iter().map(|d| view(&state, d)).collect()))
}

/// Reads the caller's push settings.
#[utoipa::path(get, path = "/v1/me/push-settings", tag = "client", security(("user_token" = [])),
    responses((status = 200, body = PushSettings), (status = 401, body = ErrorBody)))]
pub async fn get_push_settings(
    me: UserSession,
    State(state): State<AppState>,
) -> ApiResult<ApiJson<PushSettings>> {
    Ok(ApiJson(state.store.push_settings(&me.app, &me.user).await?))
}

/// Replaces the caller's push settings.
#[utoipa::path(put, path = "/v1/me/push-settings", tag = "client", security(("user_token" = [])),
    request_body = PushSettings,
    responses((status = 200, body = PushSettings), (status = 400, body = ErrorBody)))]
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
