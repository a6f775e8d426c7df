//! OPPO as the shared driver sees it: its constants and the one request of a chunk.

use super::config::{self, OppoConfig};
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential, now_seconds};
use crate::driver::{LocalSigning, Profile, VendorApi};
use crate::exchange::Step;
use crate::http::Http;
use crate::rules::{Categories, UsedDefaults};
use herald_core::{AdapterError, Notification, Outcome, Platform, Target, Vendor};
use serde_json::Value;

impl VendorApi for OppoConfig {
    type Payload = Value;

    const PROFILE: Profile = Profile {
        vendor: Vendor::Oppo,
        // Messages per `unicast_batch` request. [DOC id=11238; SDK]
        max_batch: 1000,
        // The smallest published tier is 5,000 QPS.
        requests_per_second: 4_000,
        quota_day_offset_hours: 8,
        platforms: &[Platform::Android],
        secret_fields: config::SECRET_FIELDS,
        check_fields: config::check,
        fields: config::FIELDS,
        credential_headers: &[],
        defaults: UsedDefaults {
            channel_id: true,
            category: Some(Categories::OneOf(config::CATEGORIES)),
            notify_level: Some(config::check_notify_level),
            ..UsedDefaults::COMMON
        },
        local_signing: Some(LocalSigning {
            what: "SHA-256 auth sign",
            renewed: "every ~24 h (auth_token)",
        }),
    };

    fn sign_locally(&self) -> Result<Option<String>, AdapterError> {
        let now_ms = now_seconds() * 1000;
        Ok(Some(auth::sign(
            &self.app_key,
            now_ms,
            self.master_secret.expose(),
        )))
    }

    fn prepare(&self, notification: &Notification) -> Result<Value, Outcome> {
        request::notification(self, notification)
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
