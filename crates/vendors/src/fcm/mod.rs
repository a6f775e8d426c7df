//! Firebase Cloud Messaging, HTTP v1 API with service-account OAuth.

pub(crate) mod config;
