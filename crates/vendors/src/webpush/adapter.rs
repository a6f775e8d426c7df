//! Web Push as the shared driver sees it: its constants, and per subscription the encrypted
//! body and the VAPID authorization of its push service. One subscription per request (each
//! has its own endpoint and keys).

use super::auth::{self, WebpushVapidCache};
use super::config::{self, WebpushConfig};
use super::request::WebpushMessage;
use super::{encrypt, request, response, token};
use crate::auth::{AuthFailure, Credential, now_seconds};
use crate::cert::CertView;
use crate::driver::{LocalSigning, Profile, VendorApi};
use crate::exchange::Step;
use crate::http::Http;
use crate::rules::UsedDefaults;
use herald_core::{AdapterError, Invalid, Notification, Outcome, Platform, Target, Vendor};
use serde_json::Value;

/// A certificate's VAPID key and the tokens signed with it, one per push-service origin.
#[derive(Debug)]
pub(crate) struct WebpushApi {
    pub(crate) config: WebpushConfig,
    pub(crate) vapid: WebpushVapidCache,
}

/// Reads a stored certificate; no VAPID token is signed yet.
impl TryFrom<CertView<'_>> for WebpushApi {
    type Error = AdapterError;

    fn try_from(view: CertView<'_>) -> Result<Self, AdapterError> {
        Ok(Self {
            config: WebpushConfig::try_from(view)?,
            vapid: WebpushVapidCache::default(),
        })
    }
}

impl WebpushApi {
    /// The request of one subscription, or its outcome when none can be made.
    fn step<'a>(&self, message: &WebpushMessage, target: &Target) -> Step<'a> {
        let subscription = match request::subscription(&target.token) {
            Ok(subscription) => subscription,
            Err(reason) => return Step::Done(vec![Outcome::InvalidToken { reason }]),
        };
        let body = match encrypt::encrypt(&message.plaintext, &subscription.p256dh, &subscription.auth) {
            Ok(body) => body,
            Err(e) => {
                let reason = e.to_string();
                return Step::Done(vec![Outcome::InvalidToken { reason }]);
            }
        };
        let jwt = match self
            .vapid
            .token(&self.config, &subscription.origin, now_seconds())
        {
            Ok(jwt) => jwt,
            Err(reason) => return Step::Done(vec![Outcome::rejected("vapid_key", reason)]),
        };
        let authorization = auth::authorization(&jwt, &self.config.public_key);
        let request = request::send_request(message, &subscription, body, authorization);
        Step::last(request, |answer| vec![response::classify(answer)])
    }
}

impl VendorApi for WebpushApi {
    type Payload = WebpushMessage;

    const PROFILE: Profile = Profile {
        vendor: Vendor::Webpush,
        // Each subscription has its own endpoint. [DOC: RFC 8030 §5]
        max_batch: 1,
        requests_per_second: 5_000,
        quota_day_offset_hours: 0,
        platforms: &[Platform::Web],
        secret_fields: config::SECRET_FIELDS,
        check_fields: config::check,
        fields: config::FIELDS,
        credential_headers: &["authorization"],
        defaults: UsedDefaults::COMMON,
        local_signing: Some(LocalSigning {
            what: "ES256 VAPID JWT",
            renewed: "every 11 h per push service",
        }),
    };

    fn check_token(token: &Value) -> Result<String, Invalid> {
        token::check(token)
    }

    /// A VAPID JWT for a sample push service, valid for 12 hours.
    fn sign_locally(&self) -> Result<Option<String>, AdapterError> {
        auth::vapid_jwt(&self.config, "https://push.example.net", now_seconds() + 43_200)
            .map(Some)
            .map_err(AdapterError::Config)
    }

    fn prepare(&self, notification: &Notification) -> Result<WebpushMessage, Outcome> {
        request::message(&self.config, notification)
    }

    /// VAPID tokens are per push-service origin and kept by the adapter; the driver's
    /// credential is empty. Being asked for a new one (first use, or after a 401) drops them.
    async fn authenticate(&self, _http: &Http) -> Result<Credential, AuthFailure> {
        self.vapid.clear();
        Ok(Credential::forever(""))
    }

    fn exchange<'a>(
        &'a self,
        _credential: &'a str,
        message: &'a WebpushMessage,
        targets: &'a [Target],
    ) -> Step<'a> {
        Step::of_one(targets, |target| self.step(message, target))
    }
}
