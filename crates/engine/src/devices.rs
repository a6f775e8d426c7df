//! A device's life, whichever transport asks: its push token (bind, unbind), its live session
//! (connect, disconnect), its app state (foreground, background with the unread count), and
//! the end of its session (logout, kick). The HTTP client API and the WebSocket gateway both
//! call these, so a rule (a negative unread is refused, an ended session must log in again)
//! holds on both.

use crate::error::ServiceError;
use crate::presence::{DeviceKey, PresenceHub, Registration, SessionSignal};
use crate::protocol::ServerFrame;
use crate::vendor_rules::VendorRules;
use herald_core::ids::check_id;
use herald_core::store::Binding;
use herald_core::{Certificate, Device, Invalid, Platform, SessionState, Store};
use serde_json::Value;
use std::sync::Arc;

/// Messages per page of a sync.
const SYNC_PAGE: u32 = 200;

/// A push token to bind, as the phone app gives it.
#[derive(Debug, Clone, Copy)]
pub struct TokenBinding<'a> {
    /// The certificate by numeric id (Tencent style)…
    pub certificate_id: Option<i64>,
    /// …or by name (Agora style). Exactly one of the two.
    pub certificate_name: Option<&'a str>,
    /// The vendor token; for Web Push the browser's subscription object.
    pub token: &'a Value,
    /// The device's platform.
    pub platform: Platform,
}

/// A device that may connect: its id was checked (before a WebSocket upgrade, so that a bad
/// id is an HTTP error and not a closed socket).
#[derive(Debug, Clone)]
pub struct Admission {
    key: DeviceKey,
}

/// A connected device's session on this node.
#[derive(Debug)]
pub struct LiveSession {
    key: DeviceKey,
    registration: Registration,
}

impl LiveSession {
    /// The device.
    pub fn key(&self) -> &DeviceKey {
        &self.key
    }

    /// The next signal for the session (a frame to send, or close); `None` when the hub
    /// dropped it. Cancel-safe.
    pub async fn next_signal(&mut self) -> Option<SessionSignal> {
        self.registration.signals.recv().await
    }
}

/// The pages of a sync: every message after the starting point, and where it stopped.
#[derive(Debug)]
pub struct SyncPages {
    /// `message` frames, oldest first.
    pub frames: Vec<ServerFrame>,
    /// The last sequence number sent (the starting point when nothing was).
    pub seq: i64,
    /// Why the sync stopped early, if it did.
    pub failed: Option<ServiceError>,
}

/// The device use cases. Cheap to clone.
#[derive(Clone)]
pub struct Devices {
    store: Arc<dyn Store>,
    hub: PresenceHub,
    vendors: Arc<dyn VendorRules>,
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devices").finish_non_exhaustive()
    }
}

impl Devices {
    /// The device use cases over a store, this node's presence hub and the vendors' rules.
    pub fn new(store: Arc<dyn Store>, hub: PresenceHub, vendors: Arc<dyn VendorRules>) -> Self {
        Self { store, hub, vendors }
    }

    /// Whether the device has a live session (on any node).
    pub fn is_connected(&self, key: &DeviceKey) -> bool {
        self.hub.is_connected(key)
    }

    /// Binds the device's push token through a certificate that serves its platform. The
    /// token leaves any other device of the app that had it, and a logged-out or kicked
    /// device starts a new session.
    pub async fn bind_token(
        &self,
        key: &DeviceKey,
        request: TokenBinding<'_>,
    ) -> Result<Device, ServiceError> {
        check_id("device", &key.device)?;
        let cert = self.certificate(&key.app, &request).await?;
        if !self.vendors.serves_platform(cert.vendor, request.platform) {
            return Err(Invalid::new(
                "platform",
                "platform_mismatch",
                format!(
                    "certificate `{}` is {}, which does not deliver to {} devices",
                    cert.name,
                    cert.vendor,
                    request.platform.as_str()
                ),
            )
            .into());
        }
        let token = self.vendors.check_token(cert.vendor, request.token)?;
        let binding = Binding {
            platform: request.platform,
            certificate_id: cert.id,
            vendor: cert.vendor,
            token: &token,
        };
        let bound = self.store.bind_token(key, &binding).await?;
        tracing::info!(app = %key.app, user = %key.user, device = %key.device, vendor = %cert.vendor, "Push token bound.");
        Ok(bound)
    }

    async fn certificate(&self, app: &str, request: &TokenBinding<'_>) -> Result<Certificate, ServiceError> {
        match (request.certificate_id, request.certificate_name) {
            (Some(id), None) => Ok(self.store.get_certificate(app, id).await?),
            (None, Some(name)) => Ok(self.store.find_certificate_by_name(app, name).await?),
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

    /// Forgets the device's push token.
    pub async fn unbind_token(&self, key: &DeviceKey) -> Result<Device, ServiceError> {
        Ok(self.store.unbind_token(key).await?)
    }

    /// The app went to the background: pushes start, the icon shows `unread` (0 or more).
    pub async fn background(&self, key: &DeviceKey, unread: i64) -> Result<Device, ServiceError> {
        if unread < 0 {
            return Err(Invalid::field("unread", "unread must be 0 or more").into());
        }
        self.set_app_state(key, SessionState::Background, unread).await
    }

    /// The app came to the foreground: no pushes while it stays there; the badge is cleared.
    pub async fn foreground(&self, key: &DeviceKey) -> Result<Device, ServiceError> {
        self.set_app_state(key, SessionState::Online, 0).await
    }

    async fn set_app_state(
        &self,
        key: &DeviceKey,
        state: SessionState,
        badge: i64,
    ) -> Result<Device, ServiceError> {
        let current = self.store.get_device(key).await?;
        // A logged-out or kicked device must log in again (bind its token or connect) before
        // its app state means anything.
        if current.state.is_ended() {
            return Err(ServiceError::SessionEnded {
                device: current.device_id,
                state: current.state,
            });
        }
        Ok(self.store.set_session(key, state, Some(badge)).await?)
    }

    /// Ends the device's session and closes its live connection; with `unbind` the token is
    /// forgotten too.
    pub async fn logout(&self, key: &DeviceKey, unbind: bool) -> Result<Device, ServiceError> {
        let device = self.store.logout(key, unbind).await?;
        self.hub.kick(key, "logged out");
        Ok(device)
    }

    /// Ends the device's session from the app's backend: it is closed if connected (told
    /// `reason`) and gets no pushes until it logs in again.
    pub async fn kick(&self, key: &DeviceKey, reason: &str) -> Result<Device, ServiceError> {
        let device = self.store.set_session(key, SessionState::Kicked, None).await?;
        self.hub.kick(key, reason);
        tracing::info!(app = %key.app, user = %key.user, device = %key.device, "Device kicked.");
        Ok(device)
    }

    /// Checks that a device may connect, before its connection is taken.
    pub fn admit(&self, app: &str, user: &str, device: &str) -> Result<Admission, ServiceError> {
        check_id("device", device)?;
        Ok(Admission {
            key: DeviceKey::new(app, user, device),
        })
    }

    /// Starts the device's live session: it is online (a logged-out or kicked device starts
    /// a new session) and replaces any earlier session of the device.
    pub async fn connect(
        &self,
        admission: Admission,
        platform: Platform,
    ) -> Result<LiveSession, ServiceError> {
        let Admission { key } = admission;
        self.store
            .open_session(&key, platform, SessionState::Online)
            .await?;
        let registration = self.hub.join(key.clone());
        metrics::gauge!("herald_live_sessions").increment(1.0);
        Ok(LiveSession { key, registration })
    }

    /// Ends a live session. The device goes offline (it gets pushes) unless the session was
    /// replaced or kicked: then the state belongs to whoever replaced or kicked it.
    pub async fn disconnect(&self, session: LiveSession, kicked: bool) {
        metrics::gauge!("herald_live_sessions").decrement(1.0);
        let key = &session.key;
        if self.hub.leave(key, session.registration.id)
            && !kicked
            && let Ok(current) = self.store.get_device(key).await
            && !current.state.is_ended()
        {
            let _ = self.store.set_session(key, SessionState::Offline, None).await;
        }
    }

    /// Records that the device has everything up to `seq`.
    pub async fn ack(&self, key: &DeviceKey, seq: i64) -> Result<(), ServiceError> {
        Ok(self.store.ack(key, seq).await?)
    }

    /// Every inbox entry of the user after `after` (default: the device's last ack), oldest
    /// first, as `message` frames.
    pub async fn sync(&self, key: &DeviceKey, after: Option<i64>) -> SyncPages {
        let mut after = match after {
            Some(after) => after,
            None => self.store.acked(key).await.unwrap_or(0),
        };
        let mut frames = Vec::new();
        loop {
            let page = match self
                .store
                .inbox_after(&key.app, &key.user, after, SYNC_PAGE)
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    return SyncPages {
                        frames,
                        seq: after,
                        failed: Some(error.into()),
                    };
                }
            };
            let full = page.len() == SYNC_PAGE as usize;
            for (seq, message) in page {
                after = seq;
                frames.push(ServerFrame::message(seq, &message, &key.user));
            }
            if !full {
                return SyncPages {
                    frames,
                    seq: after,
                    failed: None,
                };
            }
        }
    }
}
