//! Xiaomi MiPush server HTTP API (`Authorization: key=<AppSecret>`).

pub(crate) mod adapter;
pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod response;
