//! Xiaomi MiPush server HTTP API (`Authorization: key=<AppSecret>`).

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod response;

/// The implementation the registry lists.
pub(crate) type Api = config::XiaomiConfig;
