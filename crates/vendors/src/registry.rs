//! The registry's view of a vendor: [`VendorEntry`] turns a vendor's [`VendorApi`]
//! implementation into an object the one table in `lib.rs` can hold, so the crate's public
//! functions look a vendor up instead of matching on it.

use crate::CheckedFields;
use crate::cert::CertView;
use crate::driver::{Driver, Profile, VendorApi};
use crate::fields::Fields;
use crate::http::{Http, VendorRequest};
use crate::quota::{DailyQuota, RateLimit};
use herald_core::{Adapter, AdapterError, Invalid, Notification, Outcome, Target};
use serde_json::{Map, Value};
use std::marker::PhantomData;
use std::sync::Arc;

/// What previews show in place of a credential header's value.
pub(crate) const REDACTED: &str = "<redacted>";

/// One vendor, as the registry sees it.
pub(crate) trait VendorEntry: Sync {
    fn profile(&self) -> &'static Profile;
    /// Checks a certificate's vendor fields and splits them into public and secret parts.
    fn check_certificate_fields(&self, fields: Map<String, Value>) -> Result<CheckedFields, Invalid>;
    fn check_token(&self, token: &Value) -> Result<String, Invalid>;
    fn build_adapter(&self, view: CertView<'_>, http: &Http) -> Result<Arc<dyn Adapter>, AdapterError>;
    fn preview_requests(
        &self,
        view: CertView<'_>,
        notification: &Notification,
        targets: &[Target],
        credential: &str,
    ) -> Result<Result<Vec<VendorRequest>, Outcome>, AdapterError>;
    fn sign_locally(&self, view: CertView<'_>) -> Result<Option<String>, AdapterError>;
}

/// The entry of the vendor implemented by `V`.
pub(crate) struct Entry<V>(PhantomData<fn() -> V>);

impl<V> Entry<V> {
    pub(crate) const NEW: Self = Self(PhantomData);
}

impl<V: VendorApi> VendorEntry for Entry<V> {
    fn profile(&self) -> &'static Profile {
        &V::PROFILE
    }

    fn check_certificate_fields(&self, mut fields: Map<String, Value>) -> Result<CheckedFields, Invalid> {
        let mut reader = Fields::new(V::PROFILE.vendor.as_str(), &mut fields);
        let warnings = (V::PROFILE.check_fields)(&mut reader)?;
        reader.finish()?;
        let mut checked = CheckedFields {
            warnings,
            ..CheckedFields::default()
        };
        for (key, value) in fields {
            if value.is_null() {
                continue;
            }
            if V::PROFILE.secret_fields.contains(&key.as_str()) {
                checked.secrets.insert(key, value);
            } else {
                checked.public.insert(key, value);
            }
        }
        Ok(checked)
    }

    fn check_token(&self, token: &Value) -> Result<String, Invalid> {
        V::check_token(token)
    }

    fn build_adapter(&self, view: CertView<'_>, http: &Http) -> Result<Arc<dyn Adapter>, AdapterError> {
        let api = V::try_from(view)?;
        let http = api.client(http)?;
        let defaults = &view.cert.defaults;
        let rate = defaults
            .requests_per_second
            .unwrap_or(V::PROFILE.requests_per_second);
        let quota = DailyQuota::new(defaults.daily_quota, V::PROFILE.quota_day_offset_hours);
        Ok(Arc::new(Driver::new(api, http, RateLimit::new(rate), quota)))
    }

    fn preview_requests(
        &self,
        view: CertView<'_>,
        notification: &Notification,
        targets: &[Target],
        credential: &str,
    ) -> Result<Result<Vec<VendorRequest>, Outcome>, AdapterError> {
        let api = V::try_from(view)?;
        let payload = match api.prepare(notification) {
            Ok(payload) => payload,
            Err(outcome) => return Ok(Err(outcome)),
        };
        let mut requests = Vec::new();
        for chunk in targets.chunks(V::PROFILE.max_batch.max(1)) {
            match api.exchange(credential, &payload, chunk).preview() {
                Ok(built) => requests.extend(built),
                Err(outcome) => return Ok(Err(outcome)),
            }
        }
        for request in &mut requests {
            for (name, value) in &mut request.headers {
                if V::PROFILE.credential_headers.contains(&name.as_str()) {
                    *value = REDACTED.to_string();
                }
            }
        }
        Ok(Ok(requests))
    }

    fn sign_locally(&self, view: CertView<'_>) -> Result<Option<String>, AdapterError> {
        V::try_from(view)?.sign_locally()
    }
}
