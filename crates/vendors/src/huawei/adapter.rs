//! Huawei as the shared driver sees it: its constants and the one request of a chunk.

use super::config::{self, HuaweiConfig};
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential};
use crate::driver::{Profile, VendorApi};
use crate::exchange::Step;
use crate::http::Http;
use crate::rules::{Categories, IMPORTANCE, UsedDefaults};
use herald_core::{Notification, Outcome, Platform, Target, Vendor};
use serde_json::Value;

impl VendorApi for HuaweiConfig {
    type Payload = Value;

    const PROFILE: Profile = Profile {
        vendor: Vendor::Huawei,
        max_batch: 1000,
        requests_per_second: 1_000,
        quota_day_offset_hours: 8,
        platforms: &[Platform::Android, Platform::Harmony],
        secret_fields: config::SECRET_FIELDS,
        check_fields: config::check,
        fields: config::FIELDS,
        credential_headers: &["authorization"],
        defaults: UsedDefaults {
            channel_id: true,
            category: Some(Categories::OneOf(config::CATEGORIES)),
            importance: Some(IMPORTANCE),
            badge_class: true,
            ..UsedDefaults::COMMON
        },
        local_signing: None,
    };

    fn prepare(&self, notification: &Notification) -> Result<Value, Outcome> {
        request::message(self, notification)
    }

    fn credential_endpoint(&self) -> Option<&str> {
        Some(&self.auth_url)
    }

    async fn authenticate(&self, http: &Http) -> Result<Credential, AuthFailure> {
        auth::fetch_token(http, self).await
    }

    fn exchange<'a>(&'a self, credential: &'a str, message: &'a Value, targets: &'a [Target]) -> Step<'a> {
        Step::batch(
            targets,
            |tokens| request::send_request(self, message, tokens, credential),
            response::classify,
        )
    }
}
