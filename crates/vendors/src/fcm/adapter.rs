//! FCM as the shared driver sees it: its constants and the request of one token. FCM v1 has no
//! batch API, so the driver sends one request per token, concurrently.

use super::config::{self, FcmConfig};
use super::request::FcmMessage;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential, now_seconds};
use crate::driver::{LocalSigning, Profile, VendorApi};
use crate::exchange::Step;
use crate::http::Http;
use crate::rules::UsedDefaults;
use herald_core::{AdapterError, Notification, Outcome, Platform, Target, Vendor};

impl VendorApi for FcmConfig {
    type Payload = FcmMessage;

    const PROFILE: Profile = Profile {
        vendor: Vendor::Fcm,
        // v1 takes exactly one token. [DOC: vendor-apis.md §2.3]
        max_batch: 1,
        // FCM allows 600,000 messages a minute per project.
        requests_per_second: 5_000,
        quota_day_offset_hours: 0,
        platforms: &[Platform::Android, Platform::Ios, Platform::Web],
        secret_fields: config::SECRET_FIELDS,
        check_fields: config::check,
        fields: config::FIELDS,
        credential_headers: &["authorization"],
        defaults: UsedDefaults {
            channel_id: true,
            ..UsedDefaults::COMMON
        },
        local_signing: Some(LocalSigning {
            what: "RS256 assertion",
            renewed: "every ~55 min (OAuth token lifetime)",
        }),
    };

    /// The service-account assertion exchanged for an access token.
    fn sign_locally(&self) -> Result<Option<String>, AdapterError> {
        auth::assertion(self, now_seconds())
            .map(Some)
            .map_err(AuthFailure::into_adapter_error)
    }

    fn prepare(&self, notification: &Notification) -> Result<FcmMessage, Outcome> {
        request::message(self, notification)
    }

    fn credential_endpoint(&self) -> Option<&str> {
        Some(&self.token_url)
    }

    async fn authenticate(&self, http: &Http) -> Result<Credential, AuthFailure> {
        auth::fetch_token(http, self).await
    }

    fn exchange<'a>(
        &'a self,
        credential: &'a str,
        message: &'a FcmMessage,
        targets: &'a [Target],
    ) -> Step<'a> {
        Step::single(
            targets,
            |target| request::send_request(self, message, target, credential),
            response::classify,
        )
    }
}
