//! vivo certificate fields: numeric app id, AppKey, AppSecret, and the classification/category
//! that put chat on the system-message lane.

use crate::describe::{CertificateField as Field, CertificateFields};
use crate::fields::{Fields, check_one_of};
use herald_core::{Invalid, certificate::ClickAction};

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["app_secret"];

/// vivo system-message categories (classification 1).
pub(crate) const SYSTEM_CATEGORIES: &[&str] = &[
    "IM",
    "ACCOUNT",
    "TODO",
    "DEVICE_REMINDER",
    "ORDER",
    "SUBSCRIPTION",
];
/// vivo categories of either classification.
pub(crate) const CATEGORIES: &[&str] = &[
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

/// vivo classifications: 0 operational, 1 system (chat).
pub(crate) const CLASSIFICATIONS: &[u8] = &[0, 1];

/// The fields [`check`] reads.
pub(crate) const FIELDS: CertificateFields = CertificateFields {
    fields: &[
        Field::digits("app_id", "The app's numeric App ID in the vivo push console.").required(),
        Field::text("app_key", "The app's AppKey.").required(),
        Field::text("app_secret", "The app's AppSecret.").required(),
        Field::number(
            "classification",
            CLASSIFICATIONS,
            "0 operational, 1 system message (chat); must match `category`.",
        ),
        Field::one_of(
            "category",
            CATEGORIES,
            "The message category (`IM` for chat); system categories go with classification 1.",
        ),
    ],
    credentials: &[],
};

/// vivo classification 0 (operational) or 1 (system), consistent with the category
/// (vivo answers 10097 otherwise).
pub(crate) fn check_classification(
    field: &str,
    classification: Option<u8>,
    category: Option<&str>,
) -> Result<(), Invalid> {
    match classification {
        None => Ok(()),
        Some(c) if CLASSIFICATIONS.contains(&c) => match category {
            Some(cat) if (c == 1) != SYSTEM_CATEGORIES.contains(&cat) => Err(Invalid::new(
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

/// Reads and checks vivo fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_digits("app_id")?;
    f.required_str("app_key")?;
    f.required_str("app_secret")?;
    let classification = f.optional_u8("classification")?;
    let category = f.optional_str("category")?;
    if let Some(category) = &category {
        check_one_of("category", category, CATEGORIES)?;
    }
    check_classification("classification", classification, category.as_deref())?;
    Ok(Vec::new())
}

/// Production host (every endpoint, auth included). [SDK `Constants`; DOC doc/362]
pub(crate) const PUSH_URL: &str = "https://api-push.vivo.com.cn";
/// Auth path. [SDK; DOC doc/362]
pub(crate) const AUTH_PATH: &str = "/message/auth";

/// What the vivo adapter needs from a certificate.
#[derive(Clone)]
pub(crate) struct VivoConfig {
    /// vivo wants the app id as a JSON integer in every body. [DOC v2.9.2]
    pub(crate) app_id: u64,
    pub(crate) app_key: String,
    pub(crate) app_secret: herald_core::Secret<String>,
    pub(crate) auth_url: String,
    pub(crate) push_url: String,
    pub(crate) classification: Option<u8>,
    pub(crate) category: Option<String>,
    pub(crate) click_action: ClickAction,
}

impl std::fmt::Debug for VivoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VivoConfig")
            .field("app_id", &self.app_id)
            .field("push_url", &self.push_url)
            .finish_non_exhaustive()
    }
}

/// Reads a stored certificate (checked when it was saved).
impl TryFrom<crate::cert::CertView<'_>> for VivoConfig {
    type Error = herald_core::AdapterError;

    fn try_from(view: crate::cert::CertView<'_>) -> Result<Self, Self::Error> {
        let app_id = view.str("app_id")?;
        let app_id = app_id.parse().map_err(|_| {
            herald_core::AdapterError::Config(format!(
                "certificate {}: vivo app_id `{app_id}` is not a number",
                view.cert.id
            ))
        })?;
        let push_url = view.base_url(PUSH_URL);
        Ok(Self {
            app_id,
            app_key: view.str("app_key")?,
            app_secret: herald_core::Secret::new(view.str("app_secret")?),
            auth_url: format!("{push_url}{AUTH_PATH}"),
            push_url,
            classification: view
                .opt_u8("classification")
                .or(view.cert.defaults.classification),
            category: view
                .opt_str("category")
                .or_else(|| view.cert.defaults.category.clone()),
            click_action: view.click_action().clone(),
        })
    }
}
