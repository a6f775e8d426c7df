//! Certificate defaults: which ones a vendor uses (declared in its folder's `PROFILE`) and the
//! one check that refuses the others and checks the values of the used ones.

use crate::fields::check_one_of;
use herald_core::{CertificateDefaults, Invalid, Vendor};

/// Huawei / Honor notification importance.
pub(crate) const IMPORTANCE: &[&str] = &["LOW", "NORMAL"];

/// Categories a vendor takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Categories {
    /// Any name (APNs: the app's own action-button sets).
    Any,
    /// One of these.
    OneOf(&'static [&'static str]),
}

/// Checks a numeric option's value; `field` names it in the error.
pub(crate) type CheckLevel = fn(field: &str, value: u8) -> Result<(), Invalid>;
/// Checks a classification against the category it goes with.
pub(crate) type CheckClassification =
    fn(field: &str, classification: Option<u8>, category: Option<&str>) -> Result<(), Invalid>;

/// The certificate defaults a vendor uses, each with the check of its value (`None` = not
/// used). A default the vendor has no use for is refused rather than silently ignored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UsedDefaults {
    pub(crate) channel_id: bool,
    pub(crate) category: Option<Categories>,
    pub(crate) importance: Option<&'static [&'static str]>,
    pub(crate) classification: Option<CheckClassification>,
    pub(crate) badge_class: bool,
    pub(crate) notify_level: Option<CheckLevel>,
    pub(crate) notice_msg_type: Option<CheckLevel>,
}

impl UsedDefaults {
    /// Only the defaults every vendor uses (sound, TTL, rate, quota).
    pub(crate) const COMMON: Self = Self {
        channel_id: false,
        category: None,
        importance: None,
        classification: None,
        badge_class: false,
        notify_level: None,
        notice_msg_type: None,
    };
}

/// Checks a certificate's defaults against what its vendor uses.
pub(crate) fn check_defaults(
    vendor: Vendor,
    used: &UsedDefaults,
    d: &CertificateDefaults,
) -> Result<(), Invalid> {
    let unsupported = |name: &str| {
        Invalid::new(
            format!("defaults.{name}"),
            "unsupported_default",
            format!("{vendor} does not use `{name}`"),
        )
    };
    if d.channel_id.is_some() && !used.channel_id {
        return Err(unsupported("channel_id"));
    }
    if let Some(category) = &d.category {
        match used.category {
            Some(Categories::OneOf(allowed)) => check_one_of("defaults.category", category, allowed)?,
            Some(Categories::Any) => {}
            None => return Err(unsupported("category")),
        }
    }
    if let Some(importance) = &d.importance {
        let allowed = used.importance.ok_or_else(|| unsupported("importance"))?;
        check_one_of("defaults.importance", importance, allowed)?;
    }
    if d.classification.is_some() {
        let check = used.classification.ok_or_else(|| unsupported("classification"))?;
        check("defaults.classification", d.classification, d.category.as_deref())?;
    }
    if d.badge_class.is_some() && !used.badge_class {
        return Err(unsupported("badge_class"));
    }
    if let Some(level) = d.notify_level {
        let check = used.notify_level.ok_or_else(|| unsupported("notify_level"))?;
        check("defaults.notify_level", level)?;
    }
    if let Some(kind) = d.notice_msg_type {
        let check = used
            .notice_msg_type
            .ok_or_else(|| unsupported("notice_msg_type"))?;
        check("defaults.notice_msg_type", kind)?;
    }
    if d.ttl_seconds == Some(0) {
        return Err(Invalid::field(
            "defaults.ttl_seconds",
            "must be at least 1 second",
        ));
    }
    Ok(())
}
