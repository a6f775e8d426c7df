//! One live session: registers in the presence hub, marks the device online, then relays
//! frames both ways until the socket closes, the device is kicked or replaced.

use crate::api::messages::{SendMessage, outgoing, send_error};
use crate::auth::UserSession;
use crate::state::AppState;
use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures_util::{SinkExt, StreamExt};
use herald_core::{Platform, SessionState};
use herald_engine::{DeviceKey, SessionSignal};
use serde::Deserialize;
use serde_json::{Value, json};

/// Messages per page of a sync.
const SYNC_PAGE: u32 = 200;

/// A frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Send {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        #[serde(flatten)]
        message: Box<SendMessage>,
    },
    Ack {
        seq: i64,
    },
    State {
        state: String,
        #[serde(default)]
        unread: Option<i64>,
    },
    Sync {
        after: Option<i64>,
    },
    Ping,
}

fn error_frame(code: &str, message: &str) -> String {
    json!({"type": "error", "code": code, "message": message}).to_string()
}

pub(super) async fn run(
    socket: WebSocket,
    state: AppState,
    me: UserSession,
    device: String,
    platform: Platform,
) {
    let key = DeviceKey::new(&me.app, &me.user, &device);
    let (mut tx, mut rx) = socket.split();
    if let Err(error) = state
        .store
        .open_session(&key, platform, SessionState::Online)
        .await
    {
        tracing::warn!(%error, "Could not open a device session.");
        let _ = tx
            .send(WsMessage::Text(
                error_frame("internal_error", "session could not start").into(),
            ))
            .await;
        return;
    }
    let mut registration = state.hub.join(key.clone());
    metrics::gauge!("herald_live_sessions").increment(1.0);
    let mut kicked = false;
    loop {
        tokio::select! {
            signal = registration.signals.recv() => match signal {
                Some(SessionSignal::Frame { text: frame }) => {
                    if tx.send(WsMessage::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
                Some(SessionSignal::Close { reason }) => {
                    kicked = true;
                    let _ = tx.send(WsMessage::Text(json!({"type": "kicked", "reason": reason}).to_string().into())).await;
                    let _ = tx.send(WsMessage::Close(None)).await;
                    break;
                }
                None => break,
            },
            incoming = rx.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    for reply in handle(&state, &me, &device, text.as_str()).await {
                        if tx.send(WsMessage::Text(reply.into())).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    metrics::gauge!("herald_live_sessions").decrement(1.0);
    // A replaced or kicked session leaves the state to whoever replaced or kicked it.
    if state.hub.leave(&key, registration.id)
        && !kicked
        && let Ok(current) = state.store.get_device(&key).await
        && !current.state.is_ended()
    {
        let _ = state.store.set_session(&key, SessionState::Offline, None).await;
    }
}

/// Handles one client frame; returns the frames to send back.
async fn handle(state: &AppState, me: &UserSession, device: &str, text: &str) -> Vec<String> {
    let frame: ClientFrame = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(e) => return vec![error_frame("malformed_frame", &format!("not a known frame: {e}"))],
    };
    match frame {
        ClientFrame::Send {
            reference,
            mut message,
        } => {
            if message.from.as_ref().is_some_and(|f| *f != me.user) {
                return vec![error_frame("wrong_sender", "a device sends only as its own user")];
            }
            message.from = None;
            let result = match outgoing(&me.app, me.user.clone(), *message, Some(device.to_string())) {
                Ok(out) => state.messenger.send(out).await.map_err(send_error),
                Err(e) => Err(e),
            };
            match result {
                Ok(report) => vec![json!({"type": "sent", "ref": reference, "message_id": report.message_id,
                                          "seq": report.sender_seq, "pushed": report.pushed, "live": report.live})
                .to_string()],
                Err(e) => vec![json!({"type": "error", "ref": reference, "code": e.code(), "message": e.message()}).to_string()],
            }
        }
        ClientFrame::Ack { seq } => match state
            .store
            .ack(&DeviceKey::new(&me.app, &me.user, device), seq)
            .await
        {
            Ok(()) => Vec::new(),
            Err(e) => vec![error_frame("internal_error", &e.to_string())],
        },
        ClientFrame::State {
            state: app_state,
            unread,
        } => {
            let (session, badge) = match app_state.as_str() {
                "foreground" => (SessionState::Online, Some(0)),
                "background" => (SessionState::Background, Some(unread.unwrap_or(0).max(0))),
                other => {
                    return vec![error_frame(
                        "invalid_state",
                        &format!("`{other}` is not foreground or background"),
                    )];
                }
            };
            match state
                .store
                .set_session(&DeviceKey::new(&me.app, &me.user, device), session, badge)
                .await
            {
                Ok(_) => Vec::new(),
                Err(e) => vec![error_frame("internal_error", &e.to_string())],
            }
        }
        ClientFrame::Sync { after } => sync(state, me, device, after).await,
        ClientFrame::Ping => vec![json!({"type": "pong"}).to_string()],
    }
}

/// Every inbox entry after `after` (default: the device's last ack), oldest first.
async fn sync(state: &AppState, me: &UserSession, device: &str, after: Option<i64>) -> Vec<String> {
    let mut after = match after {
        Some(after) => after,
        None => state
            .store
            .acked(&DeviceKey::new(&me.app, &me.user, device))
            .await
            .unwrap_or(0),
    };
    let mut frames = Vec::new();
    loop {
        let page = match state.store.inbox_after(&me.app, &me.user, after, SYNC_PAGE).await {
            Ok(page) => page,
            Err(e) => {
                frames.push(error_frame("internal_error", &e.to_string()));
                break;
            }
        };
        let full = page.len() == SYNC_PAGE as usize;
        for (seq, message) in page {
            after = seq;
            frames.push(
                json!({"type": "message", "seq": seq, "message": message.client_view(&me.user)}).to_string(),
            );
        }
        if !full {
            break;
        }
    }
    frames.push(json!({"type": "synced", "seq": after}).to_string());
    frames
}
