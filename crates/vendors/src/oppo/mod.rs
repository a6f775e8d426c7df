//! OPPO (HeyTap) Push server API v1 with a sha256-signed auth token.

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod response;

/// The implementation the registry lists.
pub(crate) type Api = config::OppoConfig;
