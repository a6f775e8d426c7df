//! Meizu Flyme Push HTTP API with a per-request md5 parameter signature.

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod response;

/// The implementation the registry lists.
pub(crate) type Api = config::MeizuConfig;
