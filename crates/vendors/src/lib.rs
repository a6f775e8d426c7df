//! One adapter per push vendor. Each vendor lives in its own folder with the same role-named
//! files (`config.rs` now; `auth.rs`, `request.rs`, `response.rs`, `adapter.rs` as adapters
//! land), and vendor folders never import each other: shared code lives in this crate's root
//! modules.

mod fields;
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

use fields::Fields;
use herald_core::{Invalid, Vendor};
use serde_json::{Map, Value};

pub use rules::check_defaults;
pub use token::{check_token, serves_platform};

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
    match vendor {
        Vendor::Apns => apns::config::SECRET_FIELDS,
        Vendor::Fcm => fcm::config::SECRET_FIELDS,
        Vendor::Huawei => huawei::config::SECRET_FIELDS,
        Vendor::Honor => honor::config::SECRET_FIELDS,
        Vendor::Xiaomi => xiaomi::config::SECRET_FIELDS,
        Vendor::Oppo => oppo::config::SECRET_FIELDS,
        Vendor::Vivo => vivo::config::SECRET_FIELDS,
        Vendor::Meizu => meizu::config::SECRET_FIELDS,
        Vendor::Webpush => webpush::config::SECRET_FIELDS,
    }
}

/// Checks a vendor's certificate fields deeply (keys parse, ids have the vendor's shape, value
/// sets are the vendor's) and splits them into public and secret parts. `fields` holds only the
/// vendor's own fields, none of the common ones (`name`, `click_action`…).
pub fn check_certificate_fields(
    vendor: Vendor,
    mut fields: Map<String, Value>,
) -> Result<CheckedFields, Invalid> {
    let mut reader = Fields::new(vendor.as_str(), &mut fields);
    let warnings = match vendor {
        Vendor::Apns => apns::config::check(&mut reader)?,
        Vendor::Fcm => fcm::config::check(&mut reader)?,
        Vendor::Huawei => huawei::config::check(&mut reader)?,
        Vendor::Honor => honor::config::check(&mut reader)?,
        Vendor::Xiaomi => xiaomi::config::check(&mut reader)?,
        Vendor::Oppo => oppo::config::check(&mut reader)?,
        Vendor::Vivo => vivo::config::check(&mut reader)?,
        Vendor::Meizu => meizu::config::check(&mut reader)?,
        Vendor::Webpush => webpush::config::check(&mut reader)?,
    };
    reader.finish()?;
    let secret_names = secret_fields(vendor);
    let mut checked = CheckedFields {
        warnings,
        ..CheckedFields::default()
    };
    for (key, value) in fields {
        if value.is_null() {
            continue;
        }
        if secret_names.contains(&key.as_str()) {
            checked.secrets.insert(key, value);
        } else {
            checked.public.insert(key, value);
        }
    }
    Ok(checked)
}
