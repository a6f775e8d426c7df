//! Meizu certificate fields: app id, AppSecret (the signing key), package and message type.

use crate::fields::{Fields, check_package_name};
use herald_core::Invalid;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["app_secret"];

/// Reads and checks Meizu fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_digits("app_id")?;
    f.required_str("app_secret")?;
    let package = f.required_str("package_name")?;
    check_package_name("package_name", &package)?;
    if let Some(kind) = f.optional_u8("notice_msg_type")? {
        crate::rules::check_meizu_notice_type("notice_msg_type", kind)?;
    }
    Ok(Vec::new())
}
