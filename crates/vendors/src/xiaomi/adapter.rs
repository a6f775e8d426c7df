//! Xiaomi as the shared driver sees it: its constants and the one request of a chunk, which
//! carries the AppSecret read from the sealed config (never from the token cache).

use super::config::{self, XiaomiConfig};
use super::request::XiaomiFields;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential};
use crate::driver::{Profile, VendorApi};
use crate::exchange::Step;
use crate::http::Http;
use crate::rules::UsedDefaults;
use herald_core::{Notification, Outcome, Platform, Target, Vendor};

impl VendorApi for XiaomiConfig {
    type Payload = XiaomiFields;

    const PROFILE: Profile = Profile {
        vendor: Vendor::Xiaomi,
        // RegIds per request. [UNCONFIRMED: vendor-apis.md §5.3, commonly quoted]
        max_batch: 1000,
        requests_per_second: 3_000,
        quota_day_offset_hours: 8,
        platforms: &[Platform::Android],
        secret_fields: config::SECRET_FIELDS,
        check_fields: config::check,
        fields: config::FIELDS,
        credential_headers: &["authorization"],
        defaults: UsedDefaults {
            channel_id: true,
            ..UsedDefaults::COMMON
        },
        local_signing: None,
    };

    fn prepare(&self, notification: &Notification) -> Result<XiaomiFields, Outcome> {
        request::message(self, notification)
    }

    async fn authenticate(&self, _http: &Http) -> Result<Credential, AuthFailure> {
        Ok(auth::static_credential())
    }

    fn exchange<'a>(
        &'a self,
        _credential: &'a str,
        fields: &'a XiaomiFields,
        targets: &'a [Target],
    ) -> Step<'a> {
        Step::batch(
            targets,
            |tokens| request::send_request(self, fields, tokens, self.app_secret.expose()),
            response::classify,
        )
    }
}
