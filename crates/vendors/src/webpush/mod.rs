//! Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291).

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod encrypt;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod token;

/// The implementation the registry lists.
pub(crate) type Api = adapter::WebpushApi;
