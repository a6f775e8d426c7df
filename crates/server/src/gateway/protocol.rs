//! The gateway's side of the live protocol. The frames themselves ([`ClientFrame`],
//! [`ServerFrame`]) are defined in `herald_engine::protocol`, because the engine makes frames
//! too and cannot depend on this crate; here a client's text becomes a frame, and a failure
//! becomes an `error` frame with the same code and message as the HTTP API gives for it.

use crate::error::ApiError;
use serde_json::Value;

pub use herald_engine::protocol::{ClientFrame, ServerFrame};

/// A client's text frame, or the `malformed_frame` error that answers it.
pub fn parse(text: &str) -> Result<ClientFrame, ServerFrame> {
    serde_json::from_str(text)
        .map_err(|e| ServerFrame::error("malformed_frame", format!("not a known frame: {e}")))
}

/// The `error` frame of a failure (an internal one is logged and shown as a generic message,
/// as over HTTP).
pub fn error(error: impl Into<ApiError>) -> ServerFrame {
    let error = error.into();
    ServerFrame::error(error.code(), error.message())
}

/// The `error` frame that answers a refused `send`, with the `send`'s `ref`.
pub fn send_error(reference: Option<Value>, error: impl Into<ApiError>) -> ServerFrame {
    let error = error.into();
    ServerFrame::send_error(reference, error.code(), error.message())
}

/// The app state a `state` frame names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppVisibility {
    /// `foreground`.
    Foreground,
    /// `background`, with the unread count (0 when not given).
    Background {
        /// Badge to show.
        unread: i64,
    },
}

/// Reads a `state` frame's fields; an unknown state is answered with `invalid_state`.
pub fn app_visibility(state: &str, unread: Option<i64>) -> Result<AppVisibility, ServerFrame> {
    match state {
        "foreground" => Ok(AppVisibility::Foreground),
        "background" => Ok(AppVisibility::Background {
            unread: unread.unwrap_or(0),
        }),
        other => Err(ServerFrame::error(
            "invalid_state",
            format!("`{other}` is not foreground or background"),
        )),
    }
}
