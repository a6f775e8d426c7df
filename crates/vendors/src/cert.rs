//! Reading a stored certificate (public fields, secrets, overrides) when an adapter is built.
//! Fields were checked when the certificate was saved, so a missing one here is reported as a
//! configuration error rather than a panic.

use herald_core::{AdapterError, Certificate, ClickAction};
use serde_json::{Map, Value};

/// A certificate with its decrypted secrets.
#[derive(Clone, Copy)]
pub(crate) struct CertView<'a> {
    pub(crate) cert: &'a Certificate,
    pub(crate) secrets: &'a Map<String, Value>,
}

impl std::fmt::Debug for CertView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertView")
            .field("id", &self.cert.id)
            .finish_non_exhaustive()
    }
}

impl<'a> CertView<'a> {
    pub(crate) fn value(&self, key: &str) -> Option<&'a Value> {
        self.secrets
            .get(key)
            .or_else(|| self.cert.fields.get(key))
            .filter(|v| !v.is_null())
    }

    pub(crate) fn opt_str(&self, key: &str) -> Option<String> {
        match self.value(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<String, AdapterError> {
        self.opt_str(key)
            .ok_or_else(|| AdapterError::Config(format!("certificate {} has no `{key}`", self.cert.id)))
    }

    pub(crate) fn opt_u8(&self, key: &str) -> Option<u8> {
        self.value(key)?.as_u64().and_then(|n| u8::try_from(n).ok())
    }

    /// The endpoint override, or the vendor's production URL.
    pub(crate) fn base_url(&self, production: &str) -> String {
        self.cert
            .base_url
            .clone()
            .unwrap_or_else(|| production.to_string())
            .trim_end_matches('/')
            .to_string()
    }

    pub(crate) fn click_action(&self) -> &'a ClickAction {
        &self.cert.click_action
    }
}

/// Android intent URI for an activity class of a package (vendors that take intents).
pub(crate) fn activity_intent(package: &str, page: &str) -> String {
    if page.starts_with("intent:") {
        page.to_string()
    } else {
        let class = if page.starts_with('.') {
            format!("{package}{page}")
        } else {
            page.to_string()
        };
        format!("intent:#Intent;component={package}/{class};end")
    }
}
