//! Huawei Push Kit (HMS Core) REST v1 with OAuth client credentials.

pub(crate) mod config;
