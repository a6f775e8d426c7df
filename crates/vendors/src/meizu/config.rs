//! Meizu certificate fields: app id, AppSecret (the signing key), package and message type.

use crate::describe::{CertificateField as Field, CertificateFields};
use crate::fields::{Fields, check_package_name};
use herald_core::{Invalid, certificate::ClickAction};

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["app_secret"];

/// Meizu notice message types: 0 public, 1 private (chat).
pub(crate) const NOTICE_MSG_TYPES: &[u8] = &[0, 1];

/// The fields [`check`] reads.
pub(crate) const FIELDS: CertificateFields = CertificateFields {
    fields: &[
        Field::digits("app_id", "The app's numeric App ID in the Meizu push console.").required(),
        Field::text(
            "app_secret",
            "The app's AppSecret (the key every request is signed with).",
        )
        .required(),
        Field::text(
            "package_name",
            "The Android package name, e.g. `com.example.chat`.",
        )
        .required(),
        Field::number(
            "notice_msg_type",
            NOTICE_MSG_TYPES,
            "0 public, 1 private (chat) message.",
        ),
    ],
    credentials: &[],
};

/// Meizu notice type 0 (public) or 1 (private, for chat).
pub(crate) fn check_notice_type(field: &str, kind: u8) -> Result<(), Invalid> {
    if NOTICE_MSG_TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(Invalid::field(
            field,
            "Meizu notice_msg_type must be 0 (public) or 1 (private)",
        ))
    }
}

/// Reads and checks Meizu fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_digits("app_id")?;
    f.required_str("app_secret")?;
    let package = f.required_str("package_name")?;
    check_package_name("package_name", &package)?;
    if let Some(kind) = f.optional_u8("notice_msg_type")? {
        check_notice_type("notice_msg_type", kind)?;
    }
    Ok(Vec::new())
}

/// Production push host (mainland). [SDK `SystemConstants`; MEIZUPUSH/PushAPI README]
/// Overseas apps use `https://server-api-push.in.meizu.com` through `base_url`.
pub(crate) const PUSH_URL: &str = "https://server-api-push.meizu.com";

/// What the Meizu adapter needs from a certificate.
#[derive(Clone)]
pub(crate) struct MeizuConfig {
    pub(crate) app_id: String,
    /// The key every request is signed with (never sent).
    pub(crate) app_secret: herald_core::Secret<String>,
    pub(crate) package_name: String,
    pub(crate) push_url: String,
    pub(crate) notice_msg_type: Option<u8>,
    pub(crate) click_action: ClickAction,
}

impl std::fmt::Debug for MeizuConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeizuConfig")
            .field("app_id", &self.app_id)
            .field("push_url", &self.push_url)
            .finish_non_exhaustive()
    }
}

/// Reads a stored certificate (checked when it was saved).
impl TryFrom<crate::cert::CertView<'_>> for MeizuConfig {
    type Error = herald_core::AdapterError;

    fn try_from(view: crate::cert::CertView<'_>) -> Result<Self, Self::Error> {
        Ok(Self {
            app_id: view.str("app_id")?,
            app_secret: herald_core::Secret::new(view.str("app_secret")?),
            package_name: view.str("package_name")?,
            push_url: view.base_url(PUSH_URL),
            notice_msg_type: view
                .opt_u8("notice_msg_type")
                .or(view.cert.defaults.notice_msg_type),
            click_action: view.click_action().clone(),
        })
    }
}
