//! Xiaomi certificate fields: the AppSecret, package, the private-message channel and the
//! region whose host serves the app's devices.

use crate::fields::{Fields, check_one_of, check_package_name};
use herald_core::Invalid;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["app_secret"];

/// Regions with their own MiPush host.
pub(crate) const REGIONS: &[&str] = &["china", "global", "russia", "india", "europe", "singapore"];

/// Reads and checks Xiaomi fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_str("app_secret")?;
    let package = f.required_str("package_name")?;
    check_package_name("package_name", &package)?;
    let region = f.optional_str("region")?.unwrap_or_else(|| "china".into());
    check_one_of("region", &region, REGIONS)?;
    f.set("region", region.into());
    let mut warnings = Vec::new();
    if f.optional_str("channel_id")?.is_none() {
        warnings.push(
            "channel_id is not set: without the private-message channel registered in the Xiaomi \
             console, chat pushes count against the public-message daily quota"
                .into(),
        );
    }
    Ok(warnings)
}
