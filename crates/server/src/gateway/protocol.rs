//! The gateway's side of the live protocol. The frames themselves ([`ClientFrame`],
//! [`ServerFrame`]) are defined in `herald_engine::protocol`, because the engine makes frames
//! too and cannot depend on this crate; here a client's text becomes a frame, and a failure
//! becomes an `error` frame with the same code and message as the HTTP API gives for it.

use crate::error::ApiError;
use crate::extract::{read_json, read_object};
use crate::refusal::{Input, describe};
use herald_core::message::SendMessage;
use serde_json::Value;

pub use herald_engine::protocol::{ClientFrame, ServerFrame};

/// A client's text frame, or the error that answers it, in the words a body's mistakes get:
/// `malformed_frame` for text that is not JSON or not a known frame, `unknown_field` and
/// `missing_field` naming the field.
///
/// A `send` frame's message fields are read as `POST /v1/me/messages` reads its body, and a
/// refusal carries the frame's `ref`: read through `ClientFrame`, they are a flattened struct,
/// whose unknown fields serde ignores.
pub fn parse(text: &str) -> Result<ClientFrame, ServerFrame> {
    let value: Value = read_json(text.as_bytes(), Input::Frame).map_err(error)?;
    match value {
        Value::Object(mut fields) if fields.get("type").and_then(Value::as_str) == Some("send") => {
            fields.remove("type");
            let reference = fields.remove("ref").filter(|r| !r.is_null());
            match read_object::<SendMessage>(Value::Object(fields), Input::Frame) {
                Ok(message) => Ok(ClientFrame::Send {
                    reference,
                    message: Box::new(message),
                }),
                Err(refused) => Err(send_error(reference, refused)),
            }
        }
        other => serde_path_to_error::deserialize(other).map_err(|refused| {
            let path = refused.path().clone();
            error(describe(Input::Frame, &path, &refused.into_inner().to_string()))
        }),
    }
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
