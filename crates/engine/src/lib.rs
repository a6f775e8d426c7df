//! Herald's data path, between the API surface and the stores: who is connected (presence),
//! what happens to a message for each recipient device (routing), and how push jobs reach the
//! vendors (dispatch). Depends on the `herald-core` traits only.

pub mod presence;

pub use presence::{DeviceKey, PresenceHub, SessionSignal};
