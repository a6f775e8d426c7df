//! Xiaomi MiPush server HTTP API (`Authorization: key=<AppSecret>`).

pub(crate) mod config;
