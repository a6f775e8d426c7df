//! Honor certificate fields: app id, the OAuth client id and secret (distinct from the app
//! secret in Honor's console), and the package.

use crate::fields::{Fields, check_package_name};
use herald_core::Invalid;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["client_secret"];

/// Reads and checks Honor fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_digits("app_id")?;
    f.required_str("client_id")?;
    f.required_str("client_secret")?;
    let package = f.required_str("package_name")?;
    check_package_name("package_name", &package)?;
    Ok(Vec::new())
}
