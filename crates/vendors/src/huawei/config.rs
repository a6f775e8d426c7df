//! Huawei certificate fields: the AppGallery app id and secret (the OAuth client), the package,
//! and the classification defaults that put chat on the IM lane.

use crate::fields::{Fields, check_one_of, check_package_name};
use crate::rules::{HUAWEI_CATEGORIES, IMPORTANCE};
use herald_core::{Invalid, certificate::ClickAction};

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["app_secret"];

/// Reads and checks Huawei fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_digits("app_id")?;
    f.required_str("app_secret")?;
    let package = f.required_str("package_name")?;
    check_package_name("package_name", &package)?;
    if let Some(class) = f.optional_str("badge_class")? {
        ClickAction::OpenPage { page: class }.validate().map_err(|_| {
            Invalid::field(
                "badge_class",
                "must be the launcher activity class, e.g. com.example.MainActivity",
            )
        })?;
    }
    if let Some(category) = f.optional_str("category")? {
        check_one_of("category", &category, HUAWEI_CATEGORIES)?;
    }
    if let Some(importance) = f.optional_str("importance")? {
        check_one_of("importance", &importance, IMPORTANCE)?;
    }
    Ok(Vec::new())
}
