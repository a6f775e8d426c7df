//! One live session: the engine starts it (the device is online, registered in the presence
//! hub), then frames are relayed both ways until the socket closes or the device is kicked or
//! replaced. Each client frame becomes a call of an engine use case; its result becomes the
//! frames sent back.

use super::protocol::{self, AppVisibility, ClientFrame, ServerFrame};
use crate::api::messages::send_error;
use crate::auth::UserSession;
use crate::state::AppState;
use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures_util::{SinkExt, StreamExt};
use herald_core::Platform;
use herald_engine::{Admission, DeviceKey, SessionSignal, validate};

pub(super) async fn run(
    socket: WebSocket,
    state: AppState,
    me: UserSession,
    admission: Admission,
    platform: Platform,
) {
    let (mut tx, mut rx) = socket.split();
    let mut session = match state.devices.connect(admission, platform).await {
        Ok(session) => session,
        Err(error) => {
            tracing::warn!(%error, "Could not open a device session.");
            let frame = ServerFrame::error("internal_error", "session could not start");
            let _ = tx.send(WsMessage::Text(frame.to_text().into())).await;
            return;
        }
    };
    let key = session.key().clone();
    let mut kicked = false;
    loop {
        tokio::select! {
            signal = session.next_signal() => match signal {
                Some(SessionSignal::Frame { text: frame }) => {
                    if tx.send(WsMessage::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
                Some(SessionSignal::Close { reason }) => {
                    kicked = true;
                    let _ = tx.send(WsMessage::Text(ServerFrame::Kicked { reason }.to_text().into())).await;
                    let _ = tx.send(WsMessage::Close(None)).await;
                    break;
                }
                None => break,
            },
            incoming = rx.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    for reply in handle(&state, &me, &key, text.as_str()).await {
                        if tx.send(WsMessage::Text(reply.to_text().into())).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    state.devices.disconnect(session, kicked).await;
}

/// Handles one client frame; returns the frames to send back.
async fn handle(state: &AppState, me: &UserSession, key: &DeviceKey, text: &str) -> Vec<ServerFrame> {
    let frame = match protocol::parse(text) {
        Ok(frame) => frame,
        Err(malformed) => return vec![malformed],
    };
    match frame {
        ClientFrame::Send { reference, message } => {
            let result = match validate::device_message(&me.app, &me.user, *message, Some(key.device.clone()))
            {
                Ok(out) => state.messenger.send(out).await.map_err(send_error),
                Err(refused) => Err(refused.into()),
            };
            match result {
                Ok(report) => vec![ServerFrame::sent(reference, &report)],
                Err(error) => vec![protocol::send_error(reference, error)],
            }
        }
        ClientFrame::Ack { seq } => match state.devices.ack(key, seq).await {
            Ok(()) => Vec::new(),
            Err(error) => vec![protocol::error(error)],
        },
        ClientFrame::State {
            state: app_state,
            unread,
        } => {
            let changed = match protocol::app_visibility(&app_state, unread) {
                Ok(AppVisibility::Foreground) => state.devices.foreground(key).await,
                Ok(AppVisibility::Background { unread }) => state.devices.background(key, unread).await,
                Err(invalid) => return vec![invalid],
            };
            match changed {
                Ok(_) => Vec::new(),
                Err(error) => vec![protocol::error(error)],
            }
        }
        ClientFrame::Sync { after } => {
            let pages = state.devices.sync(key, after).await;
            let mut frames = pages.frames;
            if let Some(error) = pages.failed {
                frames.push(protocol::error(error));
            }
            frames.push(ServerFrame::Synced { seq: pages.seq });
            frames
        }
        ClientFrame::Ping => vec![ServerFrame::Pong],
    }
}
