//! What crosses the boundary between Herald's data path and a vendor adapter: a vendor-neutral
//! [`Notification`], the [`Target`] devices it goes to, and the [`Outcome`] of each.
//!
//! A vendor's verdict (accepted, invalid token, retry later, quota, rejected) is a normal
//! `Outcome`, never an `Err`: errors are for transport, configuration and bugs.

use crate::{ClickAction, Vendor};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Delivery urgency. Chat messages are `High`: the vendors' instant lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Deliver now, wake the device.
    #[default]
    High,
    /// Power-considerate delivery.
    Normal,
}

/// One notification, before any vendor shaped it. Built by routing from a message, its push
/// info and the certificate's defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Notification {
    /// Herald's id for this notification (the message id): de-duplication on the phone, APNs
    /// `apns-id` seed, vivo `requestId`.
    pub id: String,
    /// Title line (sender nickname or group name by default).
    pub title: String,
    /// Body text.
    pub body: String,
    /// iOS subtitle.
    pub subtitle: Option<String>,
    /// App data passed through untouched (a string; OPPO requires a JSON object in it).
    pub ext: Option<String>,
    /// Sound name; `Some("none")` means silent (iOS: no sound, no vibration).
    pub sound: Option<String>,
    /// Whether the icon badge counts this notification.
    pub badge: bool,
    /// What tapping does.
    pub click_action: ClickAction,
    /// Large image URL.
    pub image: Option<String>,
    /// Android notification channel (private-message channel for chat).
    pub channel_id: Option<String>,
    /// Vendor category (`IM` for chat; APNs: the action category).
    pub category: Option<String>,
    /// Huawei/Honor importance.
    pub importance: Option<String>,
    /// vivo classification (1 = system message).
    pub classification: Option<u8>,
    /// OPPO notify level.
    pub notify_level: Option<u8>,
    /// Meizu notice type (1 = private message).
    pub notice_msg_type: Option<u8>,
    /// Launcher activity for the Huawei/Honor badge.
    pub badge_class: Option<String>,
    /// Conversation grouping (APNs `thread-id`, Android tag).
    pub thread_id: Option<String>,
    /// Let an iOS notification service extension change the content.
    pub mutable_content: bool,
    /// A newer notification with the same id replaces an older one on the device.
    pub collapse_id: Option<String>,
    /// How long the vendor should keep trying, in seconds.
    pub ttl_seconds: u32,
    /// Urgency.
    pub priority: Priority,
}

/// One device a notification goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The vendor token (Web Push: the subscription JSON).
    pub token: String,
    /// The device's badge count after this notification, for vendors that set an absolute
    /// number (APNs); batch vendors add one instead.
    pub badge: Option<u32>,
}

impl Target {
    /// A target without a badge number.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            badge: None,
        }
    }
}

/// What the vendor did with one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Taken by the vendor for delivery.
    Accepted {
        /// The vendor's message or request id, when it gives one.
        vendor_msg_id: Option<String>,
    },
    /// The token is dead: unbind it.
    InvalidToken {
        /// The vendor's reason string or code.
        reason: String,
    },
    /// Try again later (after `after`, when the vendor said).
    Retry {
        /// Delay asked for by the vendor (Retry-After).
        after: Option<Duration>,
        /// The vendor's reason string or code.
        reason: String,
    },
    /// The vendor credential expired and one refresh did not help.
    AuthExpired {
        /// The vendor's reason string or code.
        reason: String,
    },
    /// A vendor quota is used up (daily or per-device).
    QuotaExceeded {
        /// The vendor's reason string or code.
        reason: String,
    },
    /// Refused for good (bad request, configuration, payload over a limit).
    Rejected {
        /// The vendor's code (or Herald's, e.g. `payload_too_large`).
        code: String,
        /// What was wrong.
        reason: String,
    },
}

impl Outcome {
    /// The final-state name used in delivery records and metric labels.
    pub fn state(&self) -> &'static str {
        match self {
            Outcome::Accepted { .. } => "accepted",
            Outcome::InvalidToken { .. } => "invalid_token",
            Outcome::Retry { .. } => "retry",
            Outcome::AuthExpired { .. } => "auth_expired",
            Outcome::QuotaExceeded { .. } => "quota_exceeded",
            Outcome::Rejected { .. } => "rejected",
        }
    }

    /// A rejection before anything was sent.
    pub fn rejected(code: &str, reason: impl Into<String>) -> Self {
        Outcome::Rejected {
            code: code.into(),
            reason: reason.into(),
        }
    }
}

/// A failure that is not a vendor's verdict: the request did not get an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// Connecting, TLS, timeout, or the connection dropped: worth retrying.
    #[error("transport: {0}")]
    Transport(String),
    /// The vendor answered something the adapter cannot read (not its documented shape).
    #[error("unexpected vendor answer: {0}")]
    Protocol(String),
    /// The certificate cannot be used (a key does not parse).
    #[error("configuration: {0}")]
    Config(String),
}

impl AdapterError {
    /// Whether sending again may succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(self, AdapterError::Transport(_) | AdapterError::Protocol(_))
    }
}

/// One vendor credential, ready to send. Built per certificate; holds its auth token cache,
/// rate limiter and quota counter.
#[async_trait]
pub trait Adapter: Send + Sync + std::fmt::Debug {
    /// The vendor.
    fn vendor(&self) -> Vendor;
    /// Most targets one vendor request can carry (1 where there is no batch API).
    fn max_batch(&self) -> usize;
    /// Sends one notification to targets (any number: the adapter splits at its batch limit)
    /// and returns one outcome per target, in order.
    async fn send(
        &self,
        notification: &Notification,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError>;
    /// Obtains a fresh credential the way sends do (an OAuth exchange, a local signature),
    /// bypassing the cache, so the push test tool can report it as a step of its own. `None`
    /// when the certificate's key is sent as it is and there is nothing to obtain.
    async fn check_credential(&self) -> Option<CredentialCheck> {
        None
    }
    /// The certificate's daily quota as this adapter counts it, for the engine to share with
    /// the other nodes through the store.
    fn quota(&self) -> Option<std::sync::Arc<crate::quota::DailyQuota>> {
        None
    }
}

/// How a certificate's credential was obtained, for the push test tool.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CredentialCheck {
    /// How the credential is obtained, in words ("an access token from the vendor's OAuth
    /// endpoint", "an ES256 provider JWT signed locally").
    pub source: String,
    /// The request made for it, when one is made: method and URL.
    pub request: Option<CredentialRequest>,
    /// Why no credential could be had; `None` when it worked.
    pub failure: Option<CredentialFailure>,
}

/// The request a credential is obtained with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CredentialRequest {
    /// HTTP method.
    pub method: String,
    /// Where it went.
    pub url: String,
}

/// Why a credential could not be had.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CredentialFailure {
    /// The vendor answered and refused the app's credentials (wrong secret, wrong key).
    Refused {
        /// The vendor's code.
        code: String,
        /// The vendor's reason.
        reason: String,
    },
    /// The request got no answer: the transport cause (DNS, refused, TLS, timeout).
    NoAnswer {
        /// The cause.
        cause: String,
    },
    /// The certificate's key cannot be used to sign.
    Unusable {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for CredentialFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialFailure::Refused { code, reason } => {
                write!(f, "the vendor refused the app's credentials ({code}): {reason}")
            }
            CredentialFailure::NoAnswer { cause } => write!(f, "no answer: {cause}"),
            CredentialFailure::Unusable { reason } => write!(f, "the key cannot sign: {reason}"),
        }
    }
}
