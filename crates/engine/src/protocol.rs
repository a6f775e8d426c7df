//! The live protocol: the JSON text frames between a connected device and Herald, tagged by
//! `type` (README, "WebSocket"). They are defined here, below the server, because the engine
//! makes frames too (a live `message`, the pages of a sync); the gateway parses and sends them
//! (`herald_server::gateway::protocol`). Their schemas (`utoipa::ToSchema`) are the server's
//! OpenAPI description of the WebSocket, so the doc comments below are what clients read.

use crate::messaging::SendReport;
use herald_core::message::{Message, SendMessage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A frame from the client.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Send a message as the device's user; the answer carries `ref` back.
    Send {
        /// The client's own reference for the answer.
        #[serde(rename = "ref")]
        reference: Option<Value>,
        /// The message (the body of `POST /v1/me/messages`).
        #[serde(flatten)]
        message: Box<SendMessage>,
    },
    /// Everything up to `seq` arrived.
    Ack {
        /// The user's sequence number.
        seq: i64,
    },
    /// The app went to the foreground or the background.
    State {
        /// `foreground` or `background`.
        state: String,
        /// Badge to show while in the background.
        #[serde(default)]
        unread: Option<i64>,
    },
    /// Send every message after `after` (default: the device's last ack).
    Sync {
        /// A sequence number of the user.
        after: Option<i64>,
    },
    /// Answered by `pong`.
    Ping,
}

/// A frame to the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A `send` was accepted.
    Sent {
        /// The `ref` of the `send` (`null` when it had none).
        #[serde(rename = "ref", default)]
        #[schema(required = true)]
        reference: Value,
        /// The new message.
        message_id: String,
        /// The sender's sequence number for it.
        seq: i64,
        /// Devices a push was queued for.
        push_queued: usize,
        /// The same count under its first name, kept for clients written before `push_queued`.
        pushed: usize,
        /// Devices that got it live.
        live: usize,
    },
    /// A message, live or from a sync.
    Message {
        /// The receiving user's sequence number (gap-free).
        seq: i64,
        /// The message as that user sees it.
        message: Value,
    },
    /// A sync is complete up to `seq`.
    Synced {
        /// The last sequence number sent.
        seq: i64,
    },
    /// The session ends (logged out, kicked, replaced); the socket closes next.
    Kicked {
        /// Why.
        reason: String,
    },
    /// The answer to `ping`.
    Pong,
    /// A frame was refused or failed.
    Error {
        /// The `ref` of a refused `send` (`null` when it had none); absent otherwise.
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
        /// The same code as the HTTP API gives for the same failure.
        code: String,
        /// What went wrong.
        message: String,
    },
}

/// What is sent when a frame cannot be written as JSON (it always can: every field is a
/// string, a number or JSON already).
const UNWRITABLE: &str = r#"{"type":"error","code":"internal_error","message":"frame could not be written"}"#;

impl ServerFrame {
    /// `message` as `viewer` sees it, with `viewer`'s sequence number: the one place a
    /// `message` frame is made, for live delivery and for sync alike.
    pub fn message(seq: i64, message: &Message, viewer: &str) -> Self {
        Self::Message {
            seq,
            message: message.client_view(viewer),
        }
    }

    /// The answer to an accepted `send`.
    pub fn sent(reference: Option<Value>, report: &SendReport) -> Self {
        Self::Sent {
            reference: reference.unwrap_or(Value::Null),
            message_id: report.message_id.clone(),
            seq: report.sender_seq,
            push_queued: report.push_queued,
            pushed: report.push_queued,
            live: report.live,
        }
    }

    /// An error that answers no `send`.
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Error {
            reference: None,
            code: code.into(),
            message: message.into(),
        }
    }

    /// The answer to a refused `send`: it carries the `ref` (`null` when the `send` had none).
    pub fn send_error(reference: Option<Value>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Error {
            reference: Some(reference.unwrap_or(Value::Null)),
            code: code.into(),
            message: message.into(),
        }
    }

    /// The frame's JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| UNWRITABLE.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::message::{Destination, MessageKind};
    use serde_json::json;

    fn as_json(frame: &ServerFrame) -> Value {
        serde_json::from_str(&frame.to_text()).expect("json")
    }

    #[test]
    fn server_frames_have_the_documented_shape() {
        let report = SendReport {
            message_id: "msg_1".into(),
            sender_seq: 7,
            push_queued: 1,
            live: 2,
            ..SendReport::default()
        };
        assert_eq!(
            as_json(&ServerFrame::sent(Some(json!("r1")), &report)),
            json!({"type": "sent", "ref": "r1", "message_id": "msg_1", "seq": 7, "push_queued": 1, "pushed": 1, "live": 2})
        );
        assert_eq!(
            as_json(&ServerFrame::sent(None, &report))["ref"],
            Value::Null,
            "a sent frame always has its ref"
        );
        assert_eq!(as_json(&ServerFrame::Pong), json!({"type": "pong"}));
        assert_eq!(
            as_json(&ServerFrame::Synced { seq: 8 }),
            json!({"type": "synced", "seq": 8})
        );
        assert_eq!(
            as_json(&ServerFrame::Kicked {
                reason: "logged out".into()
            }),
            json!({"type": "kicked", "reason": "logged out"})
        );
        assert_eq!(
            as_json(&ServerFrame::error("invalid_state", "no")),
            json!({"type": "error", "code": "invalid_state", "message": "no"}),
            "an error that answers no send has no ref"
        );
        assert_eq!(
            as_json(&ServerFrame::send_error(None, "wrong_sender", "no")),
            json!({"type": "error", "ref": null, "code": "wrong_sender", "message": "no"})
        );
    }

    #[test]
    fn a_message_frame_names_the_conversation_from_the_viewers_side() {
        let message = Message {
            id: "msg_1".into(),
            app_id: "app".into(),
            from: "alice".into(),
            to: Destination::C2c { to: "bob".into() },
            kind: MessageKind::Text,
            content: json!({"text": "hi"}),
            push: Default::default(),
            attributes: Default::default(),
            sender_nickname: None,
            group_name: None,
            created_at: 1,
        };
        let frame = as_json(&ServerFrame::message(3, &message, "bob"));
        assert_eq!((&frame["type"], &frame["seq"]), (&json!("message"), &json!(3)));
        assert_eq!(frame["message"]["conversation"], "c2c:alice");
        assert_eq!(frame["message"]["content"]["text"], "hi");
    }

    #[test]
    fn client_frames_parse_from_the_documented_shape() {
        let send: ClientFrame = serde_json::from_value(
            json!({"type": "send", "ref": "r1", "to": "bob", "kind": "text", "content": {"text": "hi"}}),
        )
        .expect("send");
        assert!(
            matches!(send, ClientFrame::Send { reference: Some(r), message } if r == "r1" && message.to.as_deref() == Some("bob"))
        );
        let state: ClientFrame =
            serde_json::from_value(json!({"type": "state", "state": "background", "unread": 3}))
                .expect("state");
        assert!(matches!(state, ClientFrame::State { state, unread: Some(3) } if state == "background"));
        let sync: ClientFrame = serde_json::from_value(json!({"type": "sync"})).expect("sync");
        assert!(matches!(sync, ClientFrame::Sync { after: None }));
        assert!(serde_json::from_value::<ClientFrame>(json!({"type": "dance"})).is_err());
    }
}
