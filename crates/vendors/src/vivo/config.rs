//! vivo certificate fields: numeric app id, AppKey, AppSecret, and the classification/category
//! that put chat on the system-message lane.

use crate::fields::{Fields, check_one_of};
use crate::rules::{VIVO_CATEGORIES, check_vivo_classification};
use herald_core::Invalid;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["app_secret"];

/// Reads and checks vivo fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_digits("app_id")?;
    f.required_str("app_key")?;
    f.required_str("app_secret")?;
    let classification = f.optional_u8("classification")?;
    let category = f.optional_str("category")?;
    if let Some(category) = &category {
        check_one_of("category", category, VIVO_CATEGORIES)?;
    }
    check_vivo_classification("classification", classification, category.as_deref())?;
    Ok(Vec::new())
}
