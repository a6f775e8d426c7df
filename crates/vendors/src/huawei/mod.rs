//! Huawei Push Kit (HMS Core) REST v1 with OAuth client credentials.

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod response;

/// The implementation the registry lists.
pub(crate) type Api = config::HuaweiConfig;
