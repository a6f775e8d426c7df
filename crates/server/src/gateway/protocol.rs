//! The gateway's side of the live protocol. The frames themselves ([`ClientFrame`],
//! [`ServerFrame`]) are defined in `herald_engine::protocol`, because the engine makes frames
//! too and cannot depend on this crate; here a client's text becomes a frame, and a failure
//! becomes an `error` frame with the same code and message as the HTTP API gives for it.

use crate::error::ApiError;
use crate::extract::{read_json, read_object};
use crate::refusal::{Input, describe, describe_at, is_about_a_value};
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
        Value::Object(frame) => {
            serde_path_to_error::deserialize(Value::Object(frame.clone())).map_err(|refused| {
                let path = refused.path().clone();
                let message = refused.into_inner().to_string();
                let unlocated = path.iter().next().is_none() && is_about_a_value(&message);
                error(match unlocated.then(|| culprit(&frame, &message)).flatten() {
                    Some(field) => describe_at(Input::Frame, vec![field], &message),
                    None => describe(Input::Frame, &path, &message),
                })
            })
        }
        // serde would read the `type` from a list's first item: a frame is an object.
        other => read_object::<ClientFrame>(other, Input::Frame).map_err(error),
    }
}

/// The field of `frame` that `message` is about. serde reads a frame (an internally tagged
/// enum) from a buffer that loses the path, so each field is tried alone with the `type`: the
/// one that alone gets the same refusal is the one to blame (the `type` itself when the frame
/// with nothing else does).
fn culprit(frame: &serde_json::Map<String, Value>, message: &str) -> Option<String> {
    let kind = frame.get("type")?;
    let same_refusal = |fields: serde_json::Map<String, Value>| {
        serde_json::from_value::<ClientFrame>(Value::Object(fields)).is_err_and(|e| e.to_string() == message)
    };
    let alone = |key: &str, value: &Value| {
        let mut fields = serde_json::Map::new();
        fields.insert("type".into(), kind.clone());
        fields.insert(key.into(), value.clone());
        fields
    };
    if same_refusal(alone("type", kind)) {
        return Some("type".into());
    }
    frame
        .iter()
        .filter(|(key, _)| key.as_str() != "type")
        .find(|(key, value)| same_refusal(alone(key, value)))
        .map(|(key, _)| key.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The `error` frame answering `text`, as JSON.
    fn refusal(text: &str) -> Value {
        let frame = parse(text).expect_err(text);
        serde_json::from_str(&frame.to_text()).expect("json")
    }

    #[test]
    fn refused_frames_say_what_is_wrong_in_the_bodys_words() {
        let error = refusal("{\"type\": \"ping\"");
        assert_eq!(error["code"], "malformed_frame");
        assert_eq!(
            error["message"],
            "the frame is not valid JSON: EOF while parsing an object at line 1 column 15"
        );

        let error = refusal(r#"{"type": "dance"}"#);
        assert_eq!(error["code"], "malformed_frame");
        assert_eq!(
            error["message"],
            "`type` cannot be `dance`; it must be one of `send`, `ack`, `state`, `sync`, `ping`"
        );

        let error = refusal("[1]");
        assert_eq!(error["message"], "the frame must be a JSON object, not a list");

        let error = refusal(r#"{"type": "ack"}"#);
        assert_eq!(
            (&error["code"], &error["message"]),
            (
                &serde_json::json!("missing_field"),
                &serde_json::json!("`seq` is missing; it is required")
            )
        );

        let error = refusal(r#"{"type": "state", "state": "background", "unread": "five"}"#);
        assert_eq!(error["message"], "`unread` must be a whole number, not \"five\"");
        let error = refusal(r#"{"type": "ack", "seq": "five"}"#);
        assert_eq!(error["code"], "malformed_frame");
        assert_eq!(error["message"], "`seq` must be a whole number, not \"five\"");

        let error = refusal(r#"{"type": "send", "ref": 7, "to": "bob", "content": {"text": "hi"}}"#);
        assert_eq!(
            (&error["code"], &error["ref"], &error["message"]),
            (
                &serde_json::json!("missing_field"),
                &serde_json::json!(7),
                &serde_json::json!("`kind` is missing; it is required")
            )
        );
    }
}
