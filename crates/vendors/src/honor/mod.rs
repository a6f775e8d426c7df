//! Honor Push, modelled on Huawei's API with its own hosts and camelCase fields.

pub(crate) mod config;
