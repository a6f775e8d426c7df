//! Vendor value sets that more than one place checks (certificate fields, certificate defaults,
//! later the per-message options): categories, importance, notify levels, classifications.

use crate::fields::check_one_of;
use herald_core::{CertificateDefaults, Invalid, Vendor};

/// Huawei `android.category` values (self-classification).
pub(crate) const HUAWEI_CATEGORIES: &[&str] = &[
    "IM",
    "VOIP",
    "SUBSCRIPTION",
    "TRAVEL",
    "HEALTH",
    "WORK",
    "ACCOUNT",
    "EXPRESS",
    "FINANCE",
    "DEVICE_REMINDER",
    "MAIL",
    "PLAY_VOICE",
    "MARKETING",
];
/// Huawei / Honor notification importance.
pub(crate) const IMPORTANCE: &[&str] = &["LOW", "NORMAL"];
/// OPPO `category` values.
pub(crate) const OPPO_CATEGORIES: &[&str] = &[
    "IM",
    "ACCOUNT",
    "DEVICE_REMINDER",
    "ORDER",
    "TODO",
    "SUBSCRIPTION",
    "NEWS",
    "CONTENT",
    "MARKETING",
    "SOCIAL",
];
/// vivo system-message categories (classification 1).
pub(crate) const VIVO_SYSTEM_CATEGORIES: &[&str] = &[
    "IM",
    "ACCOUNT",
    "TODO",
    "DEVICE_REMINDER",
    "ORDER",
    "SUBSCRIPTION",
];
/// vivo categories of either classification.
pub(crate) const VIVO_CATEGORIES: &[&str] = &[
    "IM",
    "ACCOUNT",
    "TODO",
    "DEVICE_REMINDER",
    "ORDER",
    "SUBSCRIPTION",
    "NEWS",
    "CONTENT",
    "MARKETING",
    "SOCIAL",
];

/// OPPO notify level: 1 shade, 2 shade + lock screen, 16 banner (needs approval).
pub(crate) fn check_oppo_notify_level(field: &str, level: u8) -> Result<(), Invalid> {
    if matches!(level, 1 | 2 | 16) {
        Ok(())
    } else {
        Err(Invalid::field(field, "OPPO notify_level must be 1, 2 or 16"))
    }
}

/// vivo classification 0 (operational) or 1 (system), consistent with the category
/// (vivo answers 10097 otherwise).
pub(crate) fn check_vivo_classification(
    field: &str,
    classification: Option<u8>,
    category: Option<&str>,
) -> Result<(), Invalid> {
    match classification {
        None => Ok(()),
        Some(c @ (0 | 1)) => match category {
            Some(cat) if (c == 1) != VIVO_SYSTEM_CATEGORIES.contains(&cat) => Err(Invalid::new(
                "category",
                "inconsistent_classification",
                format!(
                    "vivo category `{cat}` belongs to classification {}, not {c}",
                    u8::from(c == 0)
                ),
            )),
            _ => Ok(()),
        },
        Some(_) => Err(Invalid::field(
            field,
            "vivo classification must be 0 (operational) or 1 (system, for chat)",
        )),
    }
}

/// Meizu notice type 0 (public) or 1 (private, for chat).
pub(crate) fn check_meizu_notice_type(field: &str, kind: u8) -> Result<(), Invalid> {
    if kind <= 1 {
        Ok(())
    } else {
        Err(Invalid::field(
            field,
            "Meizu notice_msg_type must be 0 (public) or 1 (private)",
        ))
    }
}

/// Checks a certificate's defaults against what its vendor understands: an option the vendor
/// has no use for is refused rather than silently ignored.
pub fn check_defaults(vendor: Vendor, d: &CertificateDefaults) -> Result<(), Invalid> {
    let unsupported = |name: &str| {
        Invalid::new(
            format!("defaults.{name}"),
            "unsupported_default",
            format!("{vendor} does not use `{name}`"),
        )
    };
    use Vendor::*;
    if d.channel_id.is_some() && !matches!(vendor, Fcm | Huawei | Xiaomi | Oppo) {
        return Err(unsupported("channel_id"));
    }
    if let Some(category) = &d.category {
        match vendor {
            Huawei => check_one_of("defaults.category", category, HUAWEI_CATEGORIES)?,
            Oppo => check_one_of("defaults.category", category, OPPO_CATEGORIES)?,
            Vivo => check_one_of("defaults.category", category, VIVO_CATEGORIES)?,
            Apns => {} // APNs category = the app's action-button set: any name.
            _ => return Err(unsupported("category")),
        }
    }
    if let Some(importance) = &d.importance {
        if !matches!(vendor, Huawei | Honor) {
            return Err(unsupported("importance"));
        }
        check_one_of("defaults.importance", importance, IMPORTANCE)?;
    }
    if d.classification.is_some() {
        if vendor != Vivo {
            return Err(unsupported("classification"));
        }
        check_vivo_classification("defaults.classification", d.classification, d.category.as_deref())?;
    }
    if d.badge_class.is_some() && !matches!(vendor, Huawei | Honor) {
        return Err(unsupported("badge_class"));
    }
    if let Some(level) = d.notify_level {
        if vendor != Oppo {
            return Err(unsupported("notify_level"));
        }
        check_oppo_notify_level("defaults.notify_level", level)?;
    }
    if let Some(kind) = d.notice_msg_type {
        if vendor != Meizu {
            return Err(unsupported("notice_msg_type"));
        }
        check_meizu_notice_type("defaults.notice_msg_type", kind)?;
    }
    if d.ttl_seconds == Some(0) {
        return Err(Invalid::field(
            "defaults.ttl_seconds",
            "must be at least 1 second",
        ));
    }
    Ok(())
}
