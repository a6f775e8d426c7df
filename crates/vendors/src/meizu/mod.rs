//! Meizu Flyme Push HTTP API with a per-request md5 parameter signature.

pub(crate) mod config;
