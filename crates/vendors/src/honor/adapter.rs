//! The Honor adapter: glue between the shared driver and Honor's auth, request and response.

use super::config::HonorConfig;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential, now_millis};
use crate::driver::VendorApi;
use crate::http::Http;
use herald_core::{AdapterError, Notification, Outcome, Target, Vendor};
use serde_json::Value;

/// Tokens per Honor request: Huawei's 1000 assumed. [UNCONFIRMED: vendor-apis.md §4.2]
pub(crate) const MAX_BATCH: usize = 1000;

#[derive(Debug)]
pub(crate) struct HonorApi {
    pub(crate) config: HonorConfig,
}

impl VendorApi for HonorApi {
    type Payload = Value;

    fn vendor(&self) -> Vendor {
        Vendor::Honor
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn prepare(&self, notification: &Notification) -> Result<Value, Outcome> {
        request::message(&self.config, notification)
    }

    async fn authenticate(&self, http: &Http) -> Result<Credential, AuthFailure> {
        auth::fetch_token(http, &self.config).await
    }

    async fn send_chunk(
        &self,
        http: &Http,
        credential: &str,
        message: &Value,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        let tokens: Vec<&str> = targets.iter().map(|t| t.token.as_str()).collect();
        let request = request::send_request(&self.config, message, &tokens, credential, now_millis());
        let answer = http.send(&request).await?;
        Ok(response::classify(&answer, &tokens))
    }
}
