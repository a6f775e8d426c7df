//! Herald's data path, between the API surface and the stores: who is connected (presence),
//! what happens to a message for each recipient device (messaging: routing and commit), and
//! how push jobs reach the vendors (dispatch). It also owns the use cases both transports
//! offer (a device's token and session in `devices`, certificate changes in `certificates`,
//! message checks in `validate`) and the live protocol's frames (`protocol`), so HTTP and the
//! WebSocket only translate. Depends on the `herald-core` traits only; the vendors come in
//! through an [`adapters::AdapterFactory`] and the [`vendor_rules::VendorRules`].

pub mod adapters;
pub mod certificates;
pub mod devices;
pub mod dispatch;
pub mod error;
pub mod messaging;
pub mod outcome;
pub mod presence;
pub mod protocol;
pub mod recorder;
pub mod retention;
pub mod retry;
#[cfg(test)]
mod test_logs;
pub mod validate;
pub mod vendor_rules;

pub use adapters::{AdapterFactory, AdapterRegistry};
pub use certificates::{CertificateChanges, SavedCertificate};
pub use devices::{Admission, Devices, LiveSession, SyncPages, TokenBinding};
pub use dispatch::{
    CertificateHealth, DispatchConfig, Dispatcher, GroupKey, Handoff, HealthState, HoldPolicy,
};
pub use error::ServiceError;
pub use messaging::{Messenger, Outgoing, SendError, SendReport};
pub use presence::{DeviceKey, PresenceHub, SessionSignal};
pub use protocol::{ClientFrame, ServerFrame};
pub use retention::{Retention, RetentionPolicy};
pub use vendor_rules::{VendorFields, VendorRules};
