//! The scale-out pieces that live in NATS: state every node must see at once (who holds which
//! device's live session) and work any node may take, kept out of PostgreSQL because it
//! changes far too often to be worth a row write each time.

pub mod presence;
pub mod queue;

mod node;

pub use node::{ClusterNode, ClusterOptions, join};
