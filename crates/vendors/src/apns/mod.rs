//! Apple Push Notification service: HTTP/2 provider API with token (.p8) authentication or
//! certificate (.p12, TLS client certificate) authentication.

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod certificate;
pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod response;

/// The implementation the registry lists.
pub(crate) type Api = config::ApnsConfig;
