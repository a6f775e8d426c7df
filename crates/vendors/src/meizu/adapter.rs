//! The Meizu adapter: glue between the shared driver and Meizu's signed request and response.

use super::config::MeizuConfig;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential};
use crate::driver::VendorApi;
use crate::http::Http;
use herald_core::{AdapterError, Notification, Outcome, Target, Vendor};

/// pushIds per request. [Fact sheet §8.3 / SDK: ≤ 100; the older README says 1000]
pub(crate) const MAX_BATCH: usize = 100;

#[derive(Debug)]
pub(crate) struct MeizuApi {
    pub(crate) config: MeizuConfig,
}

impl VendorApi for MeizuApi {
    type Payload = String;

    fn vendor(&self) -> Vendor {
        Vendor::Meizu
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn prepare(&self, notification: &Notification) -> Result<String, Outcome> {
        request::message_json(&self.config, notification)
    }

    async fn authenticate(&self, _http: &Http) -> Result<Credential, AuthFailure> {
        Ok(auth::per_request_signature())
    }

    async fn send_chunk(
        &self,
        http: &Http,
        _credential: &str,
        message: &String,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        let tokens: Vec<&str> = targets.iter().map(|t| t.token.as_str()).collect();
        let answer = http
            .send(&request::send_request(&self.config, message, &tokens))
            .await?;
        Ok(response::classify(&answer, &tokens))
    }
}
