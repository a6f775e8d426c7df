//! The Web Push adapter: glue between the shared driver and VAPID, encryption, request and
//! response. One subscription per request (each has its own endpoint and keys).

use super::auth::{self, WebpushVapidCache};
use super::config::WebpushConfig;
use super::request::WebpushMessage;
use super::{encrypt, request, response};
use crate::auth::{AuthFailure, Credential, now_seconds};
use crate::driver::VendorApi;
use crate::http::Http;
use herald_core::{AdapterError, Notification, Outcome, Target, Vendor};

/// Subscriptions per request: each has its own endpoint. [DOC: RFC 8030 §5]
pub(crate) const MAX_BATCH: usize = 1;

#[derive(Debug)]
pub(crate) struct WebpushApi {
    pub(crate) config: WebpushConfig,
    pub(crate) vapid: WebpushVapidCache,
}

impl WebpushApi {
    pub(crate) fn new(config: WebpushConfig) -> Self {
        Self {
            config,
            vapid: WebpushVapidCache::default(),
        }
    }

    async fn send_one(
        &self,
        http: &Http,
        message: &WebpushMessage,
        target: &Target,
    ) -> Result<Outcome, AdapterError> {
        let subscription = match request::subscription(&target.token) {
            Ok(subscription) => subscription,
            Err(reason) => return Ok(Outcome::InvalidToken { reason }),
        };
        let body = match encrypt::encrypt(&message.plaintext, &subscription.p256dh, &subscription.auth) {
            Ok(body) => body,
            Err(e) => {
                return Ok(Outcome::InvalidToken {
                    reason: e.to_string(),
                });
            }
        };
        let jwt = match self
            .vapid
            .token(&self.config, &subscription.origin, now_seconds())
        {
            Ok(jwt) => jwt,
            Err(reason) => return Ok(Outcome::rejected("vapid_key", reason)),
        };
        let authorization = auth::authorization(&jwt, &self.config.public_key);
        let answer = http
            .send(&request::send_request(
                message,
                &subscription,
                body,
                authorization,
            ))
            .await?;
        Ok(response::classify(&answer))
    }
}

impl VendorApi for WebpushApi {
    type Payload = WebpushMessage;

    fn vendor(&self) -> Vendor {
        Vendor::Webpush
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
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

    async fn send_chunk(
        &self,
        http: &Http,
        _credential: &str,
        message: &WebpushMessage,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        let mut outcomes = Vec::with_capacity(targets.len());
        for target in targets {
            outcomes.push(self.send_one(http, message, target).await?);
        }
        Ok(outcomes)
    }
}
