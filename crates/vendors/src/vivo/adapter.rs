//! The vivo adapter: glue between the shared driver and vivo's auth, request and response. A
//! chunk of one goes through `send`; larger chunks save the payload, then push it to the list.

use super::config::VivoConfig;
use super::request::VivoMessage;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential};
use crate::driver::VendorApi;
use crate::http::Http;
use herald_core::{AdapterError, Notification, Outcome, Target, Vendor};

/// regIds per `pushToList` request (2–1000). [DOC doc/362; SDK code 10153]
pub(crate) const MAX_BATCH: usize = 1000;

#[derive(Debug)]
pub(crate) struct VivoApi {
    pub(crate) config: VivoConfig,
}

impl VendorApi for VivoApi {
    type Payload = VivoMessage;

    fn vendor(&self) -> Vendor {
        Vendor::Vivo
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn prepare(&self, notification: &Notification) -> Result<VivoMessage, Outcome> {
        request::message(&self.config, notification)
    }

    async fn authenticate(&self, http: &Http) -> Result<Credential, AuthFailure> {
        auth::fetch_token(http, &self.config).await
    }

    async fn send_chunk(
        &self,
        http: &Http,
        credential: &str,
        message: &VivoMessage,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        let tokens: Vec<&str> = targets.iter().map(|t| t.token.as_str()).collect();
        if let [token] = tokens[..] {
            let answer = http
                .send(&request::send_request(&self.config, message, token, credential))
                .await?;
            return Ok(response::classify(&answer, &tokens));
        }
        let saved = http
            .send(&request::save_list_payload_request(
                &self.config,
                message,
                &tokens,
                credential,
            ))
            .await?;
        let task_id = match response::saved_task(&saved, &tokens) {
            Ok(task_id) => task_id,
            Err(outcomes) => return Ok(outcomes),
        };
        let answer = http
            .send(&request::push_to_list_request(
                &self.config,
                message,
                &task_id,
                &tokens,
                credential,
            ))
            .await?;
        Ok(response::classify(&answer, &tokens))
    }
}
