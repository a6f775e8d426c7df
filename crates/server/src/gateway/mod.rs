//! The WebSocket gateway: a device logs in with its user token, device id and platform; the
//! connection is its presence (connected + foreground = online). Live messages come down with
//! the user's gap-free sequence number; the client acks, switches foreground/background, sends
//! messages and syncs what it missed. A second login of the device replaces the first; a kick
//! closes the socket with a reason.

pub mod frames;
pub mod protocol;
mod session;

use crate::auth::UserSession;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;
use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::response::Response;
use herald_core::Platform;
use serde::Deserialize;

/// Query of `GET /v1/connect`. Unknown parameters are refused, as unknown body fields are, so
/// that a misspelt one is reported instead of ignored.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConnectQuery {
    /// The device id chosen by the app: letters, digits, `_ . @ -`.
    #[param(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.@-]+$")]
    pub device: String,
    /// `ios`, `android`, `harmony` or `web`.
    #[param(value_type = Platform)]
    pub platform: String,
    /// The user token, for clients that cannot set headers.
    #[allow(dead_code)]
    pub token: Option<String>,
}

/// Opens a device's live session (WebSocket). Frames are JSON text objects tagged by `type`:
/// the client sends `ClientFrame`s (`send`, `ack`, `state`, `sync`, `ping`), the server sends
/// `ServerFrame`s (`sent`, `message`, `synced`, `kicked`, `pong`, `error`); both are schemas of
/// this document (`#/components/schemas/ClientFrame`, `#/components/schemas/ServerFrame`).
#[utoipa::path(get, path = "/v1/connect", tag = "client", security(("user_token" = [])),
    params(ConnectQuery),
    responses((status = 101, description = "Switching to the WebSocket protocol. Frames are JSON \
        text: the client sends [`ClientFrame`](#/components/schemas/ClientFrame)s, the server \
        [`ServerFrame`](#/components/schemas/ServerFrame)s (also linked by `x-websocket-frames`)."),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn connect(
    me: UserSession,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ConnectQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade?;
    let admission = state.devices.admit(&me.app, &me.user, &query.device)?;
    let platform: Platform = query
        .platform
        .parse()
        .map_err(|e: String| ApiError::from(herald_core::Invalid::field("platform", e)))?;
    Ok(upgrade.on_upgrade(move |socket| session::run(socket, state, me, admission, platform)))
}
