//! The OPPO adapter: glue between the shared driver and OPPO's auth, request and response.

use super::config::OppoConfig;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential};
use crate::driver::VendorApi;
use crate::http::Http;
use herald_core::{AdapterError, Notification, Outcome, Target, Vendor};
use serde_json::Value;

/// Messages per `unicast_batch` request. [DOC id=11238; SDK]
pub(crate) const MAX_BATCH: usize = 1000;

#[derive(Debug)]
pub(crate) struct OppoApi {
    pub(crate) config: OppoConfig,
}

impl VendorApi for OppoApi {
    type Payload = Value;

    fn vendor(&self) -> Vendor {
        Vendor::Oppo
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn prepare(&self, notification: &Notification) -> Result<Value, Outcome> {
        request::notification(&self.config, notification)
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
        let answer = http
            .send(&request::send_request(&self.config, message, &tokens, credential))
            .await?;
        Ok(response::classify(&answer, &tokens))
    }
}
