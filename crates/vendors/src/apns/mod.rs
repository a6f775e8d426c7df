//! Apple Push Notification service: HTTP/2 provider API with token (.p8) authentication
//! (certificate .p12 authentication is refused with a configuration error for now).

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod response;
