//! Why a use case of the engine did not happen. Each transport turns it into its own answer
//! (an HTTP status with an error body, an `error` frame), so the two cannot disagree on what
//! was refused.

use herald_core::{Invalid, SessionState, StoreError};

/// A refused or failed use case.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input breaks a rule (a 400 over HTTP).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Not found, taken, or the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The device is logged out or kicked: it must log in again (bind its token or connect)
    /// before its app state means anything.
    #[error("device `{device}` is {state}; log in again first")]
    SessionEnded {
        /// The device.
        device: String,
        /// `logged_out` or `kicked`.
        state: SessionState,
    },
    /// A device sends only as its own user.
    #[error("a phone app sends only as its own user")]
    WrongSender,
}
