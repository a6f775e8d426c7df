//! Meizu as the shared driver sees it: its constants and the one signed request of a chunk.

use super::config::{self, MeizuConfig};
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential};
use crate::driver::{LocalSigning, Profile, VendorApi};
use crate::exchange::Step;
use crate::http::Http;
use crate::rules::UsedDefaults;
use herald_core::{AdapterError, Notification, Outcome, Platform, Target, Vendor};

impl VendorApi for MeizuConfig {
    type Payload = String;

    const PROFILE: Profile = Profile {
        vendor: Vendor::Meizu,
        // pushIds per request. [Fact sheet §8.3 / SDK: ≤ 100; the older README says 1000]
        max_batch: 100,
        requests_per_second: 200,
        quota_day_offset_hours: 8,
        platforms: &[Platform::Android],
        secret_fields: config::SECRET_FIELDS,
        check_fields: config::check,
        fields: config::FIELDS,
        credential_headers: &[],
        defaults: UsedDefaults {
            notice_msg_type: Some(config::check_notice_type),
            ..UsedDefaults::COMMON
        },
        local_signing: Some(LocalSigning {
            what: "MD5 request sign",
            renewed: "every request",
        }),
    };

    /// The signature of a small sample request: Meizu signs every request.
    fn sign_locally(&self) -> Result<Option<String>, AdapterError> {
        let message = r#"{"noticeBarInfo":{"title":"t","content":"c"}}"#;
        let params = [
            ("appId", self.app_id.as_str()),
            ("messageJson", message),
            ("pushIds", "p1,p2"),
        ];
        Ok(Some(auth::sign(&params, self.app_secret.expose())))
    }

    fn prepare(&self, notification: &Notification) -> Result<String, Outcome> {
        request::message_json(self, notification)
    }

    async fn authenticate(&self, _http: &Http) -> Result<Credential, AuthFailure> {
        Ok(auth::per_request_signature())
    }

    fn exchange<'a>(&'a self, _credential: &'a str, message: &'a String, targets: &'a [Target]) -> Step<'a> {
        Step::batch(
            targets,
            |tokens| request::send_request(self, message, tokens),
            response::classify,
        )
    }
}
