//! vivo as the shared driver sees it: its constants and the requests of a chunk. A chunk of
//! one goes through `send`; larger chunks save the payload, then push it to the list with the
//! `taskId` vivo answered.

use super::config::{self, VivoConfig};
use super::request::VivoMessage;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential, now_seconds};
use crate::driver::{LocalSigning, Profile, VendorApi};
use crate::exchange::Step;
use crate::http::Http;
use crate::rules::{Categories, UsedDefaults};
use herald_core::{AdapterError, Notification, Outcome, Platform, Target, Vendor};

impl VendorApi for VivoConfig {
    type Payload = VivoMessage;

    const PROFILE: Profile = Profile {
        vendor: Vendor::Vivo,
        // regIds per `pushToList` request (2–1000). [DOC doc/362; SDK code 10153]
        max_batch: 1000,
        requests_per_second: 500,
        quota_day_offset_hours: 8,
        platforms: &[Platform::Android],
        secret_fields: config::SECRET_FIELDS,
        check_fields: config::check,
        fields: config::FIELDS,
        credential_headers: &["authtoken"],
        defaults: UsedDefaults {
            category: Some(Categories::OneOf(config::CATEGORIES)),
            classification: Some(config::check_classification),
            ..UsedDefaults::COMMON
        },
        local_signing: Some(LocalSigning {
            what: "MD5 auth sign",
            renewed: "every 2 h (authToken)",
        }),
    };

    fn sign_locally(&self) -> Result<Option<String>, AdapterError> {
        let now_ms = now_seconds() * 1000;
        Ok(Some(auth::sign(
            self.app_id,
            &self.app_key,
            now_ms,
            self.app_secret.expose(),
        )))
    }

    fn prepare(&self, notification: &Notification) -> Result<VivoMessage, Outcome> {
        request::message(self, notification)
    }

    fn credential_endpoint(&self) -> Option<&str> {
        Some(&self.auth_url)
    }

    async fn authenticate(&self, http: &Http) -> Result<Credential, AuthFailure> {
        auth::fetch_token(http, self).await
    }

    fn exchange<'a>(
        &'a self,
        credential: &'a str,
        message: &'a VivoMessage,
        targets: &'a [Target],
    ) -> Step<'a> {
        let tokens: Vec<&str> = targets.iter().map(|t| t.token.as_str()).collect();
        if let [token] = tokens[..] {
            let request = request::send_request(self, message, token, credential);
            return Step::last(request, move |answer| response::classify(answer, &tokens));
        }
        let save = request::save_list_payload_request(self, message, &tokens, credential);
        let saved_tokens = tokens.clone();
        Step::then(
            save,
            move |saved| response::saved_task(saved, &saved_tokens),
            "<taskId>",
            move |task_id| {
                let push = request::push_to_list_request(self, message, task_id, &tokens, credential);
                Step::last(push, move |answer| response::classify(answer, &tokens))
            },
        )
    }
}
