//! Firebase Cloud Messaging, HTTP v1 API with service-account OAuth.

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod response;

/// The implementation the registry lists.
pub(crate) type Api = config::FcmConfig;
