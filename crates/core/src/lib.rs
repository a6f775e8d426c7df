//! Herald's domain: the words every other crate speaks (apps, certificates, users, devices,
//! groups), the rules that decide what may be stored, and the traits the I/O crates implement.
//!
//! Nothing here touches a socket, a file or a database: the store, the vendor adapters and the
//! server plug into the traits defined here.

pub mod app;
pub mod cache;
pub mod certificate;
pub mod delivery;
pub mod device;
pub mod error_text;
pub mod group;
pub mod ids;
pub mod message;
pub mod notify;
pub mod presence;
pub mod push;
pub mod quota;
pub mod routing;
pub mod secret;
pub mod store;
pub mod strict_json;
pub mod user;
pub mod vendor;

pub use app::App;
pub use certificate::{Certificate, CertificateDefaults, ClickAction, NewCertificate};
pub use device::{Device, DeviceKey, Platform, SessionState};
pub use group::Group;
pub use push::{
    Adapter, AdapterError, CredentialCheck, CredentialFailure, CredentialRequest, Notification, Outcome,
    Priority, Target,
};
pub use secret::Secret;
pub use store::{Store, StoreError};
pub use user::{DoNotDisturb, PushSettings, User};
pub use vendor::Vendor;

/// Milliseconds since the Unix epoch: the one time representation the store keeps.
/// A field of this type in an API schema carries `#[schema(value_type = i64)]`: utoipa sees
/// through the alias only by name, and would otherwise add a schema named `i64`.
pub type Millis = i64;

/// The current time in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    jiff::Timestamp::now().as_millisecond()
}

/// A rule broken by input: which field, a stable machine code, and a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The offending field, as the caller spelled it (`members[2]`, `private_key`).
    pub field: String,
    /// Stable snake_case code, e.g. `missing_field`, `invalid_private_key`.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Invalid {
    /// A rule broken by `field`.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// A required field that was not given.
    pub fn missing(field: &str) -> Self {
        Self::new(field, "missing_field", format!("`{field}` is required"))
    }

    /// A field that has the wrong shape or value.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::new(field, "invalid_field", message)
    }
}
