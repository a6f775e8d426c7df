//! APNs as the shared driver sees it: its constants, the client (with certificate auth, one of
//! its own presenting the `.p12`), and the request of one device. APNs has no batch primitive;
//! the driver sends a notification's devices concurrently and the pooled HTTP/2 connection
//! multiplexes them as streams.

use super::config::{self, ApnsAuth, ApnsConfig};
use super::request::ApnsAlert;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential, now_seconds};
use crate::driver::{LocalSigning, Profile, VendorApi};
use crate::exchange::Step;
use crate::http::Http;
use crate::rules::{Categories, UsedDefaults};
use herald_core::{AdapterError, Invalid, Notification, Outcome, Platform, Target, Vendor};
use serde_json::Value;

impl VendorApi for ApnsConfig {
    type Payload = ApnsAlert;

    const PROFILE: Profile = Profile {
        vendor: Vendor::Apns,
        // No batch primitive. [SDK: apns2 `client.go`]
        max_batch: 1,
        requests_per_second: 5_000,
        quota_day_offset_hours: 0,
        platforms: &[Platform::Ios],
        secret_fields: config::SECRET_FIELDS,
        check_fields: config::check,
        fields: config::FIELDS,
        credential_headers: &["authorization"],
        defaults: UsedDefaults {
            // The category is the app's action-button set: any name.
            category: Some(Categories::Any),
            ..UsedDefaults::COMMON
        },
        local_signing: Some(LocalSigning {
            what: "ES256 provider JWT",
            renewed: "every 50 min",
        }),
    };

    /// The hex string of the token bytes (64 hex digits today).
    fn check_token(token: &Value) -> Result<String, Invalid> {
        let text = crate::token::check_opaque(Vendor::Apns, token)?;
        if !(text.len() >= 32 && text.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(Invalid::new(
                "token",
                "invalid_token_format",
                "an APNs device token is the hex string of the token bytes (64 hex digits today)",
            ));
        }
        Ok(text)
    }

    /// Certificate auth: a client of its own presenting the `.p12` as TLS client certificate.
    fn client(&self, shared: &Http) -> Result<Http, AdapterError> {
        match &self.auth {
            ApnsAuth::Certificate(identity) => shared.with_identity(identity.pem.expose()),
            ApnsAuth::Token(_) => Ok(shared.clone()),
        }
    }

    /// The provider JWT; certificate auth signs nothing (the TLS handshake authenticates).
    fn sign_locally(&self) -> Result<Option<String>, AdapterError> {
        match &self.auth {
            ApnsAuth::Token(key) => auth::provider_token(key, now_seconds())
                .map(Some)
                .map_err(AuthFailure::into_adapter_error),
            ApnsAuth::Certificate(_) => Ok(None),
        }
    }

    fn prepare(&self, notification: &Notification) -> Result<ApnsAlert, Outcome> {
        request::alert(self, notification)
    }

    async fn authenticate(&self, _http: &Http) -> Result<Credential, AuthFailure> {
        match &self.auth {
            ApnsAuth::Token(key) => auth::fresh_token(key),
            // The TLS client certificate of this adapter's own client is the credential.
            ApnsAuth::Certificate(_) => Ok(Credential::forever("")),
        }
    }

    fn exchange<'a>(&'a self, credential: &'a str, alert: &'a ApnsAlert, targets: &'a [Target]) -> Step<'a> {
        Step::single(
            targets,
            |target| request::send_request(self, alert, target, credential),
            response::classify,
        )
    }
}
