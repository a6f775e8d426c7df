//! Certificate changes: a create or update is parsed and checked as a whole (common fields
//! here, vendor fields by the vendor's rules) before anything is written; after a write the
//! caches that hold certificates (routing's per-app list, the adapters) are told, so the change
//! is in effect on this node at once.

use crate::adapters::AdapterRegistry;
use crate::error::ServiceError;
use crate::messaging::Messenger;
use crate::vendor_rules::VendorRules;
use herald_core::{
    Certificate, CertificateDefaults, ClickAction, Invalid, NewCertificate, Secret, Store, Vendor,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A certificate as stored, with advice for the operator.
#[derive(Debug, Clone)]
pub struct SavedCertificate {
    /// The stored certificate (no secret values).
    pub certificate: Certificate,
    /// Things that work but will hurt (deprecated auth, a missing IM channel).
    pub warnings: Vec<String>,
}

/// Creates, updates and deletes certificates. Cheap to clone.
#[derive(Clone)]
pub struct CertificateChanges {
    store: Arc<dyn Store>,
    vendors: Arc<dyn VendorRules>,
    messenger: Messenger,
    adapters: AdapterRegistry,
}

impl std::fmt::Debug for CertificateChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateChanges").finish_non_exhaustive()
    }
}

impl CertificateChanges {
    /// Certificate changes over a store, with the caches to tell.
    pub fn new(
        store: Arc<dyn Store>,
        vendors: Arc<dyn VendorRules>,
        messenger: Messenger,
        adapters: AdapterRegistry,
    ) -> Self {
        Self {
            store,
            vendors,
            messenger,
            adapters,
        }
    }

    /// Adds a certificate to an app from every field given (common and vendor ones).
    pub async fn create(
        &self,
        app: &str,
        fields: Map<String, Value>,
    ) -> Result<SavedCertificate, ServiceError> {
        self.store.get_app(app).await?;
        let vendor = parse_vendor(fields.get("vendor"))?;
        let (cert, warnings) = parse(self.vendors.as_ref(), vendor, fields)?;
        let certificate = self.store.create_certificate(app, &cert).await?;
        self.messenger.forget_certificates(app);
        tracing::info!(%app, certificate = certificate.id, %vendor, "Certificate created.");
        Ok(SavedCertificate {
            certificate,
            warnings,
        })
    }

    /// Changes a certificate: given fields replace stored ones, omitted fields (secrets too)
    /// stay, `null` removes an optional field; the result is checked as a whole.
    pub async fn update(
        &self,
        app: &str,
        id: i64,
        changes: Map<String, Value>,
    ) -> Result<SavedCertificate, ServiceError> {
        let current = self.store.get_certificate(app, id).await?;
        if changes.contains_key("vendor") && parse_vendor(changes.get("vendor"))? != current.vendor {
            return Err(Invalid::new(
                "vendor",
                "vendor_immutable",
                "a certificate's vendor cannot change; create a new certificate instead",
            )
            .into());
        }
        let secrets = self.store.certificate_secrets(app, id).await?;
        let mut merged = stored_fields(&current, secrets.expose());
        for (key, value) in changes {
            if value.is_null() {
                merged.remove(&key);
            } else {
                merged.insert(key, value);
            }
        }
        let (cert, warnings) = parse(self.vendors.as_ref(), current.vendor, merged)?;
        let certificate = self.store.replace_certificate(app, id, &cert).await?;
        self.forget(app, id);
        tracing::info!(%app, certificate = id, "Certificate updated.");
        Ok(SavedCertificate {
            certificate,
            warnings,
        })
    }

    /// Deletes a certificate; devices bound through it lose their token binding.
    pub async fn delete(&self, app: &str, id: i64) -> Result<(), ServiceError> {
        self.store.delete_certificate(app, id).await?;
        self.forget(app, id);
        tracing::info!(%app, certificate = id, "Certificate deleted.");
        Ok(())
    }

    /// An app was deleted: its certificates are gone with it.
    pub fn app_deleted(&self, app: &str) {
        self.messenger.forget_certificates(app);
    }

    fn forget(&self, app: &str, id: i64) {
        self.messenger.forget_certificates(app);
        self.adapters.forget(app, id);
    }
}

/// Every field of a stored certificate, secrets included, in the shape a create takes.
fn stored_fields(current: &Certificate, secrets: &Map<String, Value>) -> Map<String, Value> {
    let mut fields = current.fields.clone();
    fields.extend(secrets.clone());
    fields.insert("name".into(), Value::String(current.name.clone()));
    fields.insert("enabled".into(), Value::Bool(current.enabled));
    fields.insert(
        "click_action".into(),
        serde_json::to_value(&current.click_action).unwrap_or(Value::Null),
    );
    fields.insert(
        "defaults".into(),
        serde_json::to_value(&current.defaults).unwrap_or(Value::Null),
    );
    if let Some(url) = &current.base_url {
        fields.insert("base_url".into(), Value::String(url.clone()));
    }
    fields
}

/// The `vendor` field.
fn parse_vendor(value: Option<&Value>) -> Result<Vendor, Invalid> {
    match value {
        Some(Value::String(s)) => s
            .parse::<Vendor>()
            .map_err(|e| Invalid::new("vendor", "unknown_vendor", e.to_string())),
        None | Some(Value::Null) => Err(Invalid::missing("vendor")),
        Some(_) => Err(Invalid::field("vendor", "`vendor` must be a string")),
    }
}

/// Turns a full set of fields (common + vendor) into a checked certificate and its warnings.
fn parse(
    vendors: &dyn VendorRules,
    vendor: Vendor,
    mut body: Map<String, Value>,
) -> Result<(NewCertificate, Vec<String>), Invalid> {
    let name = match body.remove("name") {
        Some(Value::String(name)) => name,
        None | Some(Value::Null) => return Err(Invalid::missing("name")),
        Some(_) => return Err(Invalid::field("name", "`name` must be a string")),
    };
    herald_core::ids::check_id("name", &name).map_err(|e| Invalid {
        code: "invalid_name",
        ..e
    })?;
    let enabled = match body.remove("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(Invalid::field("enabled", "`enabled` must be true or false")),
    };
    let click_action: ClickAction = match body.remove("click_action") {
        None | Some(Value::Null) => ClickAction::OpenApp,
        // An internally tagged enum would take `["open_app"]` by position: objects only.
        Some(v) if !v.is_object() => {
            return Err(Invalid::new(
                "click_action",
                "invalid_click_action",
                "click_action must be an object such as {\"type\":\"open_app\"}",
            ));
        }
        Some(v) => herald_core::strict_json::deserialize(v).map_err(|e| {
            Invalid::new(
                "click_action",
                "invalid_click_action",
                format!("{e}; use {{\"type\":\"open_app\"}}, {{\"type\":\"open_url\",\"url\":...}} or {{\"type\":\"open_page\",\"page\":...}}"),
            )
        })?,
    };
    click_action.validate()?;
    let defaults: CertificateDefaults = match body.remove("defaults") {
        None | Some(Value::Null) => CertificateDefaults::default(),
        Some(v) => {
            herald_core::strict_json::deserialize(v).map_err(|e| Invalid::field("defaults", e.to_string()))?
        }
    };
    vendors.check_defaults(vendor, &defaults)?;
    let base_url = match body.remove("base_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) => Some(base_url(&url)?),
        Some(_) => return Err(Invalid::field("base_url", "`base_url` must be a string")),
    };
    body.remove("vendor");
    let checked = vendors.check_certificate_fields(vendor, body)?;
    Ok((
        NewCertificate {
            vendor,
            name,
            enabled,
            click_action,
            defaults,
            base_url,
            fields: checked.public,
            secrets: Secret::new(checked.secrets),
        },
        checked.warnings,
    ))
}

/// An endpoint override: an http or https URL with a host, kept without a trailing `/`.
fn base_url(url: &str) -> Result<String, Invalid> {
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if parsed.is_none() {
        return Err(Invalid::new(
            "base_url",
            "invalid_url",
            "base_url must be an http:// or https:// URL",
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vendor_rules::VendorFields;
    use herald_core::Platform;
    use serde_json::json;

    /// Vendor rules that take every field as public, except `key` (secret) and `bad` (refused).
    struct Lenient;

    impl VendorRules for Lenient {
        fn serves_platform(&self, _: Vendor, _: Platform) -> bool {
            true
        }
        fn check_token(&self, _: Vendor, token: &Value) -> Result<String, Invalid> {
            Ok(token.to_string())
        }
        fn check_defaults(&self, _: Vendor, _: &CertificateDefaults) -> Result<(), Invalid> {
            Ok(())
        }
        fn check_certificate_fields(
            &self,
            _: Vendor,
            fields: Map<String, Value>,
        ) -> Result<VendorFields, Invalid> {
            if fields.contains_key("bad") {
                return Err(Invalid::field("bad", "refused by the vendor"));
            }
            let (secrets, public) = fields.into_iter().partition(|(k, _)| k == "key");
            Ok(VendorFields {
                public,
                secrets,
                warnings: vec!["advice".into()],
            })
        }
    }

    fn fields(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn common_fields_are_read_and_vendor_fields_split_by_the_vendor_rules() {
        let (cert, warnings) = parse(
            &Lenient,
            Vendor::Fcm,
            fields(
                json!({"vendor": "fcm", "name": "main", "base_url": "http://127.0.0.1:9/",
                          "project": "p", "key": "s"}),
            ),
        )
        .expect("valid");
        assert_eq!((cert.name.as_str(), cert.enabled), ("main", true));
        assert_eq!(cert.base_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(cert.click_action, ClickAction::OpenApp);
        assert_eq!(
            cert.fields,
            fields(json!({"project": "p"})),
            "vendor is not a vendor field"
        );
        assert_eq!(cert.secrets.expose(), &fields(json!({"key": "s"})));
        assert_eq!(warnings, vec!["advice".to_string()]);
    }

    #[test]
    fn a_broken_rule_names_its_field() {
        let cases = [
            (json!({}), "name", "missing_field"),
            (json!({"name": "no spaces please"}), "name", "invalid_name"),
            (json!({"name": "n", "enabled": "yes"}), "enabled", "invalid_field"),
            (
                json!({"name": "n", "base_url": "ftp://host"}),
                "base_url",
                "invalid_url",
            ),
            (
                json!({"name": "n", "click_action": {"type": "dance"}}),
                "click_action",
                "invalid_click_action",
            ),
            (json!({"name": "n", "bad": 1}), "bad", "invalid_field"),
        ];
        for (body, field, code) in cases {
            let error = parse(&Lenient, Vendor::Fcm, fields(body.clone())).expect_err("refused");
            assert_eq!((error.field.as_str(), error.code), (field, code), "{body}");
        }
        assert_eq!(
            parse_vendor(Some(&json!("nokia"))).expect_err("unknown").code,
            "unknown_vendor"
        );
        assert_eq!(parse_vendor(None).expect_err("missing").code, "missing_field");
    }

    #[test]
    fn stored_fields_give_back_what_a_create_took() {
        let (new, _) = parse(
            &Lenient,
            Vendor::Fcm,
            fields(json!({"name": "main", "enabled": false, "base_url": "https://push.example", "project": "p", "key": "s"})),
        )
        .expect("valid");
        let stored = Certificate {
            id: 1,
            app_id: "app".into(),
            vendor: new.vendor,
            name: new.name.clone(),
            enabled: new.enabled,
            click_action: new.click_action.clone(),
            defaults: new.defaults.clone(),
            base_url: new.base_url.clone(),
            fields: new.fields.clone(),
            secret_fields: vec!["key".into()],
            created_at: 0,
            updated_at: 0,
        };
        let (again, _) = parse(
            &Lenient,
            Vendor::Fcm,
            stored_fields(&stored, new.secrets.expose()),
        )
        .expect("valid");
        assert_eq!(
            (
                again.name,
                again.enabled,
                again.click_action,
                again.defaults,
                again.base_url,
                again.fields
            ),
            (
                new.name,
                new.enabled,
                new.click_action,
                new.defaults,
                new.base_url,
                new.fields
            )
        );
        assert_eq!(again.secrets.expose(), new.secrets.expose());
    }
}
