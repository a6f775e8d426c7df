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

/// What came of one attempt, as its log entry names it. Stored in each delivery's attempt log
/// and shown by the deliveries API as the snake_case id; every id ever written is a variant,
/// so an old log still reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The vendor took the push.
    Accepted,
    /// The vendor called the token dead.
    InvalidToken,
    /// The vendor asked to try again; another attempt is due.
    Retry,
    /// Given up: the TTL ran out (or the attempts did) before the vendor took it.
    Expired,
    /// The vendor credential kept failing after a refresh.
    AuthExpired,
    /// A vendor quota was used up.
    QuotaExceeded,
    /// Refused for good, by the vendor or before sending.
    Rejected,
    /// The request got no answer (connection, TLS, timeout, unreadable answer).
    TransportError,
}

impl AttemptOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: [AttemptOutcome; 8] = [
        AttemptOutcome::Accepted,
        AttemptOutcome::InvalidToken,
        AttemptOutcome::Retry,
        AttemptOutcome::Expired,
        AttemptOutcome::AuthExpired,
        AttemptOutcome::QuotaExceeded,
        AttemptOutcome::Rejected,
        AttemptOutcome::TransportError,
    ];

    /// The outcome's id string (as stored and as the API shows it).
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Accepted => "accepted",
            AttemptOutcome::InvalidToken => "invalid_token",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Expired => "expired",
            AttemptOutcome::AuthExpired => "auth_expired",
            AttemptOutcome::QuotaExceeded => "quota_exceeded",
            AttemptOutcome::Rejected => "rejected",
            AttemptOutcome::TransportError => "transport_error",
        }
    }
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`AttemptOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an attempt outcome")]
pub struct UnknownAttemptOutcome(pub String);

impl std::str::FromStr for AttemptOutcome {
    type Err = UnknownAttemptOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttemptOutcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == s)
            .ok_or_else(|| UnknownAttemptOutcome(s.to_string()))
    }
}

impl PartialEq<str> for AttemptOutcome {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for AttemptOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One attempt at the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// When it was made, ms since the epoch.
    #[schema(value_type = i64)]
    pub at: Millis,
    /// What came of it.
    pub outcome: AttemptOutcome,
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
    #[schema(value_type = i64)]
    pub created_at: Millis,
    /// Last change, ms since the epoch.
    #[schema(value_type = i64)]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The id strings are what attempt logs hold and what the deliveries API shows: each
    /// outcome's id, its JSON and its parse agree, so a log written before still reads.
    #[test]
    fn attempt_outcome_ids_match_their_json_and_parse_back() {
        let ids: Vec<&str> = AttemptOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            ids,
            [
                "accepted",
                "invalid_token",
                "retry",
                "expired",
                "auth_expired",
                "quota_exceeded",
                "rejected",
                "transport_error"
            ]
        );
        for outcome in AttemptOutcome::ALL {
            let json = serde_json::to_value(outcome).expect("serialises");
            assert_eq!(json, serde_json::Value::String(outcome.as_str().into()));
            assert_eq!(outcome.as_str().parse::<AttemptOutcome>(), Ok(outcome));
            assert_eq!(outcome, outcome.as_str());
        }
        assert_eq!(
            "delivered".parse::<AttemptOutcome>(),
            Err(UnknownAttemptOutcome("delivered".into()))
        );
    }
}
