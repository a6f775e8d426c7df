//! The APNs adapter: glue between the shared driver and APNs auth (provider JWT, or the `.p12`
//! client certificate of the adapter's own HTTP client), request and response.
//! One device per request; the driver sends a notification's devices concurrently and the
//! pooled HTTP/2 connection multiplexes them as streams.

use super::config::{ApnsAuth, ApnsConfig};
use super::request::ApnsAlert;
use super::{auth, request, response};
use crate::auth::{AuthFailure, Credential};
use crate::driver::VendorApi;
use crate::http::Http;
use herald_core::{AdapterError, Notification, Outcome, Target, Vendor};

/// Devices per APNs request: APNs has no batch primitive. [SDK: apns2 `client.go`]
pub(crate) const MAX_BATCH: usize = 1;

#[derive(Debug)]
pub(crate) struct ApnsApi {
    pub(crate) config: ApnsConfig,
}

impl VendorApi for ApnsApi {
    type Payload = ApnsAlert;

    fn vendor(&self) -> Vendor {
        Vendor::Apns
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }

    fn prepare(&self, notification: &Notification) -> Result<ApnsAlert, Outcome> {
        request::alert(&self.config, notification)
    }

    async fn authenticate(&self, _http: &Http) -> Result<Credential, AuthFailure> {
        match &self.config.auth {
            ApnsAuth::Token(key) => auth::fresh_token(key),
            // The TLS client certificate of this adapter's own client is the credential.
            ApnsAuth::Certificate(_) => Ok(Credential::forever("")),
        }
    }

    async fn send_chunk(
        &self,
        http: &Http,
        credential: &str,
        alert: &ApnsAlert,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        let mut outcomes = Vec::with_capacity(targets.len());
        for target in targets {
            let answer = http
                .send(&request::send_request(&self.config, alert, target, credential))
                .await?;
            outcomes.push(response::classify(&answer));
        }
        Ok(outcomes)
    }
}
