//! OPPO certificate fields: AppKey and MasterSecret (not the AppSecret), the private channel,
//! category and notify level.

use crate::fields::{Fields, check_one_of};
use crate::rules::{OPPO_CATEGORIES, check_oppo_notify_level};
use herald_core::Invalid;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["master_secret"];

/// Reads and checks OPPO fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_str("app_key")?;
    f.required_str("master_secret")?;
    let channel = f.optional_str("channel_id")?;
    if let Some(category) = f.optional_str("category")? {
        check_one_of("category", &category, OPPO_CATEGORIES)?;
    }
    if let Some(level) = f.optional_u8("notify_level")? {
        check_oppo_notify_level("notify_level", level)?;
    }
    let mut warnings = Vec::new();
    if channel.is_none() {
        warnings.push(
            "channel_id is not set: OPPO limits pushes outside the approved private \
             (communication & service) channel to a small daily quota"
                .into(),
        );
    }
    Ok(warnings)
}
