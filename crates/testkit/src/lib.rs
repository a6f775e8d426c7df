//! Test support shared by the integration suites.
//!
//! The scale-out suites need NATS with JetStream and PostgreSQL. [`services`] finds them (the
//! URL a developer names, else the usual local port) or starts private ones from the installed
//! binaries, so `cargo test --workspace` works on a machine where nothing is running. Where a
//! service can be neither found nor started, [`harness::run`] reports every test of the suite
//! as *ignored* and says why, instead of letting them pass having run nothing; under CI
//! (`CI` set) that is a failure.

pub mod harness;
pub mod services;

pub use harness::{AsyncTest, Requirement, Suite, run};
