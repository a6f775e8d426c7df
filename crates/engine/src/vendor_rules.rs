//! What the engine asks of the vendors when a token is bound or a certificate is saved. The
//! engine depends on `herald-core` only: the server plugs the vendors crate in here, as it
//! plugs in the adapters ([`crate::adapters::AdapterFactory`]).

use herald_core::{CertificateDefaults, Invalid, Platform, Vendor};
use serde_json::{Map, Value};

/// A certificate's vendor fields after checking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VendorFields {
    /// Fields shown by the API as they are.
    pub public: Map<String, Value>,
    /// Write-only fields, sealed at rest.
    pub secrets: Map<String, Value>,
    /// Things that work but will hurt (shown on create and update).
    pub warnings: Vec<String>,
}

/// The per-vendor rules for tokens and certificates.
pub trait VendorRules: Send + Sync {
    /// Whether the vendor delivers to devices of this platform.
    fn serves_platform(&self, vendor: Vendor, platform: Platform) -> bool;
    /// Checks a push token's shape; returns the token as stored.
    fn check_token(&self, vendor: Vendor, token: &Value) -> Result<String, Invalid>;
    /// Checks a certificate's option defaults against the vendor's value sets.
    fn check_defaults(&self, vendor: Vendor, defaults: &CertificateDefaults) -> Result<(), Invalid>;
    /// Checks the vendor's own certificate fields and splits them into public and secret.
    fn check_certificate_fields(
        &self,
        vendor: Vendor,
        fields: Map<String, Value>,
    ) -> Result<VendorFields, Invalid>;
}
