//! OPPO (HeyTap) Push server API v1 with a sha256-signed auth token.

pub(crate) mod config;
