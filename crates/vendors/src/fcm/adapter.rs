//! The FCM adapter: glue between the shared driver and FCM's auth, request and response. FCM
//! v1 has no batch API, so the driver sends one request per token, concurrently.

use super::config::FcmConfig;
use super::request::FcmMessage;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential};
use crate::driver::VendorApi;
use crate::http::Http;
use herald_core::{AdapterError, Notification, Outcome, Target, Vendor};

/// Tokens per FCM request: v1 takes exactly one. [DOC: vendor-apis.md §2.3]
pub(crate) const MAX_BATCH: usize = 1;

#[derive(Debug)]
pub(crate) struct FcmApi {
    pub(crate) config: FcmConfig,
}

impl VendorApi for FcmApi {
    type Payload = FcmMessage;

    fn vendor(&self) -> Vendor {
        Vendor::Fcm
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn prepare(&self, notification: &Notification) -> Result<FcmMessage, Outcome> {
        request::message(&self.config, notification)
    }

    async fn authenticate(&self, http: &Http) -> Result<Credential, AuthFailure> {
        auth::fetch_token(http, &self.config).await
    }

    async fn send_chunk(
        &self,
        http: &Http,
        credential: &str,
        message: &FcmMessage,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        let mut outcomes = Vec::with_capacity(targets.len());
        for target in targets {
            let answer = http
                .send(&request::send_request(&self.config, message, target, credential))
                .await?;
            outcomes.push(response::classify(&answer));
        }
        Ok(outcomes)
    }
}
