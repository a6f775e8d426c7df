//! Apple Push Notification service: HTTP/2 provider API with token (.p8) or certificate (.p12)
//! authentication.

pub(crate) mod config;
