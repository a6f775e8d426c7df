//! vivo Push server API with an md5-signed auth token.

pub(crate) mod config;
