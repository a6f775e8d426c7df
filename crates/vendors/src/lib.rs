//! One adapter per push vendor. Each vendor lives in its own folder with the same role-named
//! files (`config.rs`, `auth.rs`, `request.rs`, `response.rs`, `adapter.rs`) and its constants
//! in `mod.rs`; vendor folders never import each other: shared code lives in this crate's root
//! modules. The table below is the only place that lists the vendors.

mod auth;
mod cert;
mod describe;
mod driver;
mod exchange;
mod fields;
pub mod http;
mod limits;
mod quota;
mod registry;
mod retry;
mod rules;
mod token;

mod apns;
mod fcm;
mod honor;
mod huawei;
mod meizu;
mod oppo;
mod vivo;
mod webpush;
mod xiaomi;

pub use describe::{CertificateField, CertificateFields, FieldShape};
pub use driver::LocalSigning;

use cert::CertView;
use herald_core::{
    Adapter, AdapterError, Certificate, CertificateDefaults, Invalid, Notification, Outcome, Platform,
    Target, Vendor,
};
use http::{Http, VendorRequest};
use registry::{Entry, VendorEntry};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The registry: each vendor's implementation, one line per vendor.
fn entry(vendor: Vendor) -> &'static dyn VendorEntry {
    match vendor {
        Vendor::Apns => &Entry::<apns::Api>::NEW,
        Vendor::Fcm => &Entry::<fcm::Api>::NEW,
        Vendor::Huawei => &Entry::<huawei::Api>::NEW,
        Vendor::Honor => &Entry::<honor::Api>::NEW,
        Vendor::Xiaomi => &Entry::<xiaomi::Api>::NEW,
        Vendor::Oppo => &Entry::<oppo::Api>::NEW,
        Vendor::Vivo => &Entry::<vivo::Api>::NEW,
        Vendor::Meizu => &Entry::<meizu::Api>::NEW,
        Vendor::Webpush => &Entry::<webpush::Api>::NEW,
    }
}

/// A certificate's vendor fields after checking: split into what may be shown and what must be
/// sealed, plus advice for the operator (deprecated auth, missing IM channel).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedFields {
    /// Fields returned by the API as they are.
    pub public: Map<String, Value>,
    /// Write-only fields, to be sealed at rest.
    pub secrets: Map<String, Value>,
    /// Things that work but will hurt (shown on create and update).
    pub warnings: Vec<String>,
}

/// The write-only fields of a vendor.
pub fn secret_fields(vendor: Vendor) -> &'static [&'static str] {
    entry(vendor).profile().secret_fields
}

/// A vendor's certificate fields, described: every key its check reads, with shape, required
/// flag, fixed values and meaning (the server's OpenAPI document shows them as one schema per
/// vendor). Which of them are write-only is [`secret_fields`].
pub fn certificate_fields(vendor: Vendor) -> &'static CertificateFields {
    &entry(vendor).profile().fields
}

/// Targets a vendor takes in one request (1 = no batch API).
pub fn max_batch(vendor: Vendor) -> usize {
    entry(vendor).profile().max_batch
}

/// What a vendor signs locally when its credential runs out (`None`: the credential comes
/// from the vendor or is a static key).
pub fn local_signing(vendor: Vendor) -> Option<LocalSigning> {
    entry(vendor).profile().local_signing
}

/// Whether a vendor delivers to a platform.
pub fn serves_platform(vendor: Vendor, platform: Platform) -> bool {
    entry(vendor).profile().platforms.contains(&platform)
}

/// Checks an uploaded token and returns the string to store (for Web Push, the subscription
/// object as compact JSON).
pub fn check_token(vendor: Vendor, token: &Value) -> Result<String, Invalid> {
    entry(vendor).check_token(token)
}

/// Checks a certificate's defaults against what its vendor understands: an option the vendor
/// has no use for is refused rather than silently ignored.
pub fn check_defaults(vendor: Vendor, defaults: &CertificateDefaults) -> Result<(), Invalid> {
    rules::check_defaults(vendor, &entry(vendor).profile().defaults, defaults)
}

/// Checks a vendor's certificate fields deeply (keys parse, ids have the vendor's shape, value
/// sets are the vendor's) and splits them into public and secret parts. `fields` holds only the
/// vendor's own fields, none of the common ones (`name`, `click_action`…).
pub fn check_certificate_fields(
    vendor: Vendor,
    fields: Map<String, Value>,
) -> Result<CheckedFields, Invalid> {
    entry(vendor).check_certificate_fields(fields)
}

/// Builds the adapter of one certificate (its credentials, token cache, rate limit and quota).
pub fn build_adapter(
    cert: &Certificate,
    secrets: &Map<String, Value>,
    http: &Http,
) -> Result<Arc<dyn Adapter>, AdapterError> {
    entry(cert.vendor).build_adapter(CertView { cert, secrets }, http)
}

/// The requests an adapter sends for a notification, built by the same code as when it sends
/// (with `credential` in place of the cached access token), without sending them: for
/// reviewing request shapes and for traces. Headers that carry a credential are shown as
/// `<redacted>`; where a request needs a value from an earlier answer (vivo's `taskId`), a
/// placeholder stands in.
pub fn preview_requests(
    cert: &Certificate,
    secrets: &Map<String, Value>,
    notification: &Notification,
    targets: &[Target],
    credential: &str,
) -> Result<Result<Vec<VendorRequest>, Outcome>, AdapterError> {
    entry(cert.vendor).preview_requests(CertView { cert, secrets }, notification, targets, credential)
}

/// Performs the vendor's local signing step once, as the adapter does when its cached
/// credential runs out (APNs provider JWT, FCM service-account assertion, VAPID JWT, OPPO and
/// vivo auth signatures, Meizu request signature). `Ok(None)` for vendors whose credential is
/// only obtained from the vendor (Huawei, Honor) or is a static key (Xiaomi). For benchmarks
/// and diagnostics; returns the signed value.
pub fn sign_locally(
    cert: &Certificate,
    secrets: &Map<String, Value>,
) -> Result<Option<String>, AdapterError> {
    entry(cert.vendor).sign_locally(CertView { cert, secrets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_registry_has_each_vendor_under_its_own_id() {
        for vendor in Vendor::ALL {
            assert_eq!(entry(vendor).profile().vendor, vendor);
        }
    }

    #[test]
    fn apns_tokens_must_be_hex_and_others_opaque() {
        assert!(check_token(Vendor::Apns, &json!("a".repeat(64))).is_ok());
        assert!(check_token(Vendor::Apns, &json!("not-hex-token-not-hex-token-not-hex")).is_err());
        assert!(check_token(Vendor::Huawei, &json!("IQAAAACy0kYhAAC9xgR2")).is_ok());
        assert!(check_token(Vendor::Fcm, &json!("has space")).is_err());
        assert!(check_token(Vendor::Fcm, &json!(42)).is_err());
    }

    #[test]
    fn vendors_serve_their_platforms_only() {
        assert!(serves_platform(Vendor::Apns, Platform::Ios));
        assert!(!serves_platform(Vendor::Apns, Platform::Android));
        assert!(serves_platform(Vendor::Huawei, Platform::Harmony));
        assert!(!serves_platform(Vendor::Xiaomi, Platform::Web));
    }
}
