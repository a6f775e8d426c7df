//! OPPO certificate fields: AppKey and MasterSecret (not the AppSecret), the private channel,
//! category and notify level.

use crate::describe::{CertificateField as Field, CertificateFields};
use crate::fields::{Fields, check_one_of};
use herald_core::{Invalid, certificate::ClickAction};

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["master_secret"];

/// OPPO `category` values.
pub(crate) const CATEGORIES: &[&str] = &[
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

/// OPPO notify levels: 1 shade, 2 shade + lock screen, 16 banner (needs approval).
pub(crate) const NOTIFY_LEVELS: &[u8] = &[1, 2, 16];

/// The fields [`check`] reads.
pub(crate) const FIELDS: CertificateFields = CertificateFields {
    fields: &[
        Field::text("app_key", "The app's AppKey in the OPPO push console.").required(),
        Field::text("master_secret", "The app's MasterSecret (not its AppSecret).").required(),
        Field::text(
            "channel_id",
            "The approved private (communication & service) channel; without it OPPO limits \
             pushes to a small daily quota.",
        ),
        Field::one_of("category", CATEGORIES, "The message category (`IM` for chat)."),
        Field::number(
            "notify_level",
            NOTIFY_LEVELS,
            "1 shade, 2 shade + lock screen, 16 banner (needs OPPO's approval).",
        ),
    ],
    credentials: &[],
};

/// OPPO notify level: 1 shade, 2 shade + lock screen, 16 banner (needs approval).
pub(crate) fn check_notify_level(field: &str, level: u8) -> Result<(), Invalid> {
    if NOTIFY_LEVELS.contains(&level) {
        Ok(())
    } else {
        Err(Invalid::field(field, "OPPO notify_level must be 1, 2 or 16"))
    }
}

/// Reads and checks OPPO fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_str("app_key")?;
    f.required_str("master_secret")?;
    let channel = f.optional_str("channel_id")?;
    if let Some(category) = f.optional_str("category")? {
        check_one_of("category", &category, CATEGORIES)?;
    }
    if let Some(level) = f.optional_u8("notify_level")? {
        check_notify_level("notify_level", level)?;
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

/// Production host for devices registered in China. [DOC copy "调用地址，公共参数和返回码"]
/// The overseas host (`https://api-intl.push.oppomobile.com`) needs its own auth token, so a
/// certificate for overseas devices points `base_url` at it.
pub(crate) const PUSH_URL: &str = "https://api.push.oppomobile.com";
/// Auth path, on the push host. [SDK `RequestPath.AUTH`]
pub(crate) const AUTH_PATH: &str = "/server/v1/auth";

/// What the OPPO adapter needs from a certificate.
#[derive(Clone)]
pub(crate) struct OppoConfig {
    pub(crate) app_key: String,
    pub(crate) master_secret: herald_core::Secret<String>,
    pub(crate) auth_url: String,
    pub(crate) push_url: String,
    pub(crate) channel_id: Option<String>,
    pub(crate) category: Option<String>,
    pub(crate) notify_level: Option<u8>,
    pub(crate) click_action: ClickAction,
}

impl std::fmt::Debug for OppoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OppoConfig")
            .field("app_key", &self.app_key)
            .field("push_url", &self.push_url)
            .finish_non_exhaustive()
    }
}

/// Reads a stored certificate (checked when it was saved).
impl TryFrom<crate::cert::CertView<'_>> for OppoConfig {
    type Error = herald_core::AdapterError;

    fn try_from(view: crate::cert::CertView<'_>) -> Result<Self, Self::Error> {
        // Auth lives on the push host in production too, so the override moves both.
        let push_url = view.base_url(PUSH_URL);
        Ok(Self {
            app_key: view.str("app_key")?,
            master_secret: herald_core::Secret::new(view.str("master_secret")?),
            auth_url: format!("{push_url}{AUTH_PATH}"),
            push_url,
            channel_id: view
                .opt_str("channel_id")
                .or_else(|| view.cert.defaults.channel_id.clone()),
            category: view
                .opt_str("category")
                .or_else(|| view.cert.defaults.category.clone()),
            notify_level: view.opt_u8("notify_level").or(view.cert.defaults.notify_level),
            click_action: view.click_action().clone(),
        })
    }
}
