//! Delivery records and push jobs: what routing decided for each device of a message, and the
//! durable job of each push until its final outcome. The job queue is kept in the store
//! (committed with the message), so a crash between accepting a message and pushing it loses
//! nothing.

use crate::device::DeviceKey;
use crate::routing::{Decision, Reason};
use crate::{Millis, Vendor};
use serde::{Deserialize, Serialize};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting to be sent (or to be retried).
    Queued,
    /// Taken by a dispatcher.
    InFlight,
    /// The vendor took it.
    Accepted,
    /// The vendor called the token dead; it was unbound.
    InvalidToken,
    /// Refused for good.
    Rejected,
    /// Not sent within its TTL.
    Expired,
    /// A vendor quota was used up.
    QuotaExceeded,
    /// Delivered live only (no push needed).
    Live,
    /// Neither pushed nor delivered live (see the reason).
    Skipped,
}

impl DeliveryState {
    /// The state's id string.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::InFlight => "in_flight",
            DeliveryState::Accepted => "accepted",
            DeliveryState::InvalidToken => "invalid_token",
            DeliveryState::Rejected => "rejected",
            DeliveryState::Expired => "expired",
            DeliveryState::QuotaExceeded => "quota_exceeded",
            DeliveryState::Live => "live",
            DeliveryState::Skipped => "skipped",
        }
    }

    /// Parses a state id.
    pub fn parse(s: &str) -> Option<Self> {
        use DeliveryState::*;
        [
            Queued,
            InFlight,
            Accepted,
            InvalidToken,
            Rejected,
            Expired,
            QuotaExceeded,
            Live,
            Skipped,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// Whether nothing more will happen.
    pub fn is_final(self) -> bool {
        !matches!(self, DeliveryState::Queued | DeliveryState::InFlight)
    }
}

/// A push to create with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPush {
    /// Certificate carrying it.
    pub certificate_id: i64,
    /// Its vendor.
    pub vendor: Vendor,
    /// The device token at routing time.
    pub token: String,
    /// The sound the user chose for this conversation kind, if any.
    pub sound: Option<String>,
    /// Give up after this time.
    pub expires_at: Millis,
}

/// What routing decided for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPlan {
    /// Recipient user.
    pub user_id: String,
    /// Recipient device.
    pub device_id: String,
    /// The decision.
    pub decision: Decision,
    /// Why.
    pub reason: Reason,
    /// The push job, when the decision pushes.
    pub push: Option<PlannedPush>,
}

/// One attempt at the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// When it was made, ms since the epoch.
    pub at: Millis,
    /// `accepted`, `invalid_token`, `retry`, `auth_expired`, `quota_exceeded`, `rejected`, `transport_error`.
    pub outcome: String,
    /// The vendor's code or reason.
    pub code: Option<String>,
    /// Request round trip in milliseconds.
    pub latency_ms: u64,
}

/// The record of one device's delivery of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryRecord {
    /// Record id (also the push job id).
    pub id: i64,
    /// The message.
    pub message_id: String,
    /// Recipient user.
    pub user_id: String,
    /// Recipient device.
    pub device_id: String,
    /// `live`, `live_and_push`, `push` or `skip`.
    pub decision: String,
    /// Why (`pushed`, `online_in_foreground`, `conversation_muted`…).
    pub reason: String,
    /// Vendor, when pushed.
    pub vendor: Option<Vendor>,
    /// Certificate, when pushed.
    pub certificate_id: Option<i64>,
    /// Where it stands.
    pub state: DeliveryState,
    /// Vendor attempts so far.
    pub attempts: u32,
    /// The vendor's last code or reason.
    pub vendor_code: Option<String>,
    /// The vendor's message id.
    pub vendor_msg_id: Option<String>,
    /// Each attempt.
    pub log: Vec<Attempt>,
    /// Created, ms since the epoch.
    pub created_at: Millis,
    /// Last change, ms since the epoch.
    pub updated_at: Millis,
}

/// A push job handed to a dispatcher (serialisable: the scale-out queue carries it as the
/// payload of a JetStream message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushJob {
    /// Job (and record) id.
    pub id: i64,
    /// App.
    pub app_id: String,
    /// Message.
    pub message_id: String,
    /// Recipient user.
    pub user_id: String,
    /// Recipient device.
    pub device_id: String,
    /// Certificate.
    pub certificate_id: i64,
    /// Vendor.
    pub vendor: Vendor,
    /// Token.
    pub token: String,
    /// The device's badge after this push.
    pub badge: i64,
    /// The user's sound for this conversation kind.
    pub sound: Option<String>,
    /// Attempts already made.
    pub attempts: u32,
    /// Give up after this.
    pub expires_at: Millis,
    /// When the message was accepted (for send-to-vendor latency).
    pub created_at: Millis,
}

impl PushJob {
    /// The device the job pushes to.
    pub fn device_key(&self) -> DeviceKey {
        DeviceKey::new(&self.app_id, &self.user_id, &self.device_id)
    }
}

/// What became of a job after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    /// The job.
    pub id: i64,
    /// New state: final, or `Queued` again for a retry.
    pub state: DeliveryState,
    /// For a retry: not before this time.
    pub not_before: Option<Millis>,
    /// The attempt made.
    pub attempt: Attempt,
    /// The vendor's message id, when accepted.
    pub vendor_msg_id: Option<String>,
    /// For an invalid token: unbind it from the device (if still bound there).
    pub unbind: Option<DeviceKey>,
}
