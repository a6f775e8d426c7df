//! Meizu Flyme Push HTTP API with a per-request md5 parameter signature.

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod response;
