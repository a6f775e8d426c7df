//! The vendors crate's rules, plugged into the engine's use cases (binding a token, saving a
//! certificate): the engine does not depend on the vendors crate, the server joins the two.

use herald_core::{CertificateDefaults, Invalid, Platform, Vendor};
use herald_engine::{VendorFields, VendorRules};
use serde_json::{Map, Value};

/// [`VendorRules`] as `herald-vendors` defines them.
#[derive(Debug, Clone, Copy, Default)]
pub struct VendorChecks;

impl VendorRules for VendorChecks {
    fn serves_platform(&self, vendor: Vendor, platform: Platform) -> bool {
        herald_vendors::serves_platform(vendor, platform)
    }

    fn check_token(&self, vendor: Vendor, token: &Value) -> Result<String, Invalid> {
        herald_vendors::check_token(vendor, token)
    }

    fn check_defaults(&self, vendor: Vendor, defaults: &CertificateDefaults) -> Result<(), Invalid> {
        herald_vendors::check_defaults(vendor, defaults)
    }

    fn check_certificate_fields(
        &self,
        vendor: Vendor,
        fields: Map<String, Value>,
    ) -> Result<VendorFields, Invalid> {
        let checked = herald_vendors::check_certificate_fields(vendor, fields)?;
        Ok(VendorFields {
            public: checked.public,
            secrets: checked.secrets,
            warnings: checked.warnings,
        })
    }
}
