//! Huawei certificate fields: the AppGallery app id and secret (the OAuth client), the package,
//! and the classification defaults that put chat on the IM lane.

use crate::describe::{CertificateField as Field, CertificateFields};
use crate::fields::{Fields, check_one_of, check_package_name};
use crate::rules::IMPORTANCE;
use herald_core::{Invalid, certificate::ClickAction};

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["app_secret"];

/// Huawei `android.category` values (self-classification).
pub(crate) const CATEGORIES: &[&str] = &[
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

/// The fields [`check`] reads.
pub(crate) const FIELDS: CertificateFields = CertificateFields {
    fields: &[
        Field::digits(
            "app_id",
            "The app's App ID in AppGallery Connect (also the OAuth client id).",
        )
        .required(),
        Field::text(
            "app_secret",
            "The app's App Secret in AppGallery Connect (the OAuth client secret).",
        )
        .required(),
        Field::text(
            "package_name",
            "The Android package name, e.g. `com.example.chat`.",
        )
        .required(),
        Field::text(
            "badge_class",
            "The launcher activity class, for the icon badge, e.g. `com.example.chat.MainActivity`.",
        ),
        Field::one_of(
            "category",
            CATEGORIES,
            "The message category self-classification (`IM` for chat).",
        ),
        Field::one_of("importance", IMPORTANCE, "Notification importance."),
    ],
    credentials: &[],
};

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
        check_one_of("category", &category, CATEGORIES)?;
    }
    if let Some(importance) = f.optional_str("importance")? {
        check_one_of("importance", &importance, IMPORTANCE)?;
    }
    Ok(Vec::new())
}

/// Production OAuth endpoint.
pub(crate) const AUTH_URL: &str = "https://oauth-login.cloud.huawei.com/oauth2/v3/token";
/// Production push host.
pub(crate) const PUSH_URL: &str = "https://push-api.cloud.huawei.com";

/// What the Huawei adapter needs from a certificate.
#[derive(Clone)]
pub(crate) struct HuaweiConfig {
    pub(crate) app_id: String,
    pub(crate) app_secret: herald_core::Secret<String>,
    pub(crate) package_name: String,
    pub(crate) auth_url: String,
    pub(crate) push_url: String,
    pub(crate) category: Option<String>,
    pub(crate) importance: Option<String>,
    pub(crate) badge_class: Option<String>,
    pub(crate) click_action: ClickAction,
}

impl std::fmt::Debug for HuaweiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HuaweiConfig")
            .field("app_id", &self.app_id)
            .field("push_url", &self.push_url)
            .finish_non_exhaustive()
    }
}

/// Reads a stored certificate (checked when it was saved).
impl TryFrom<crate::cert::CertView<'_>> for HuaweiConfig {
    type Error = herald_core::AdapterError;

    fn try_from(view: crate::cert::CertView<'_>) -> Result<Self, Self::Error> {
        let overridden = view.cert.base_url.is_some();
        let push_url = view.base_url(PUSH_URL);
        let auth_url = if overridden {
            format!("{push_url}/oauth2/v3/token")
        } else {
            AUTH_URL.to_string()
        };
        Ok(Self {
            app_id: view.str("app_id")?,
            app_secret: herald_core::Secret::new(view.str("app_secret")?),
            package_name: view.str("package_name")?,
            auth_url,
            push_url,
            category: view
                .opt_str("category")
                .or_else(|| view.cert.defaults.category.clone()),
            importance: view
                .opt_str("importance")
                .or_else(|| view.cert.defaults.importance.clone()),
            badge_class: view
                .opt_str("badge_class")
                .or_else(|| view.cert.defaults.badge_class.clone()),
            click_action: view.click_action().clone(),
        })
    }
}
