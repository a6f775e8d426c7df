//! Herald's data path, between the API surface and the stores: who is connected (presence),
//! what happens to a message for each recipient device (messaging: routing and commit), and
//! how push jobs reach the vendors (dispatch). Depends on the `herald-core` traits only; the
//! vendor adapters come in through an [`adapters::AdapterFactory`].

pub mod adapters;
pub mod dispatch;
pub mod messaging;
pub mod outcome;
pub mod presence;
pub mod recorder;
pub mod retry;

pub use adapters::{AdapterFactory, AdapterRegistry};
pub use dispatch::{
    CertificateHealth, DispatchConfig, Dispatcher, GroupKey, Handoff, HealthState, HoldPolicy,
};
pub use messaging::{Messenger, Outgoing, SendError, SendReport};
pub use presence::{DeviceKey, PresenceHub, SessionSignal};
