//! The Xiaomi adapter: glue between the shared driver and MiPush's static key, form fields and
//! answers.

use super::config::XiaomiConfig;
use super::request::XiaomiFields;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential};
use crate::driver::VendorApi;
use crate::http::Http;
use herald_core::{AdapterError, Notification, Outcome, Target, Vendor};

/// RegIds per Xiaomi request. [UNCONFIRMED: vendor-apis.md §5.3, commonly quoted]
pub(crate) const MAX_BATCH: usize = 1000;

#[derive(Debug)]
pub(crate) struct XiaomiApi {
    pub(crate) config: XiaomiConfig,
}

impl VendorApi for XiaomiApi {
    type Payload = XiaomiFields;

    fn vendor(&self) -> Vendor {
        Vendor::Xiaomi
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn prepare(&self, notification: &Notification) -> Result<XiaomiFields, Outcome> {
        request::message(&self.config, notification)
    }

    async fn authenticate(&self, _http: &Http) -> Result<Credential, AuthFailure> {
        Ok(auth::static_credential())
    }

    async fn send_chunk(
        &self,
        http: &Http,
        _credential: &str,
        fields: &XiaomiFields,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        let reg_ids: Vec<&str> = targets.iter().map(|t| t.token.as_str()).collect();
        let request = request::send_request(&self.config, fields, &reg_ids, self.config.app_secret.expose());
        let answer = http.send(&request).await?;
        Ok(response::classify(&answer, &reg_ids))
    }
}
