//! Honor certificate fields: app id, the OAuth client id and secret (distinct from the app
//! secret in Honor's console), and the package.

use crate::describe::{CertificateField as Field, CertificateFields};
use crate::fields::{Fields, check_package_name};
use herald_core::Invalid;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["client_secret"];

/// The fields [`check`] reads.
pub(crate) const FIELDS: CertificateFields = CertificateFields {
    fields: &[
        Field::digits("app_id", "The app's App ID in the Honor developer console.").required(),
        Field::text("client_id", "The OAuth Client ID of the app (not the App ID).").required(),
        Field::text(
            "client_secret",
            "The OAuth Client Secret of the app (distinct from its App Secret).",
        )
        .required(),
        Field::text(
            "package_name",
            "The Android package name, e.g. `com.example.chat`.",
        )
        .required(),
    ],
    credentials: &[],
};

/// Reads and checks Honor fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    f.required_digits("app_id")?;
    f.required_str("client_id")?;
    f.required_str("client_secret")?;
    let package = f.required_str("package_name")?;
    check_package_name("package_name", &package)?;
    Ok(Vec::new())
}

/// Production OAuth endpoint: the short path most SDKs use (Honor's guide also shows
/// `/auth/realms/developer/protocol/openid-connect/token`). [DOC+3P: vendor-apis.md §4.1]
pub(crate) const AUTH_URL: &str = "https://iam.developer.honor.com/auth/token";
/// Path of the token endpoint, kept under a base URL override.
pub(crate) const AUTH_PATH: &str = "/auth/token";
/// Production push host.
pub(crate) const PUSH_URL: &str = "https://push-api.cloud.honor.com";

/// What the Honor adapter needs from a certificate.
#[derive(Clone)]
pub(crate) struct HonorConfig {
    pub(crate) app_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: herald_core::Secret<String>,
    pub(crate) package_name: String,
    pub(crate) auth_url: String,
    pub(crate) push_url: String,
    pub(crate) importance: Option<String>,
    pub(crate) badge_class: Option<String>,
    pub(crate) click_action: herald_core::ClickAction,
}

impl std::fmt::Debug for HonorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HonorConfig")
            .field("app_id", &self.app_id)
            .field("client_id", &self.client_id)
            .field("push_url", &self.push_url)
            .finish_non_exhaustive()
    }
}

/// Reads a stored certificate (checked when it was saved).
impl TryFrom<crate::cert::CertView<'_>> for HonorConfig {
    type Error = herald_core::AdapterError;

    fn try_from(view: crate::cert::CertView<'_>) -> Result<Self, Self::Error> {
        let overridden = view.cert.base_url.is_some();
        let push_url = view.base_url(PUSH_URL);
        let auth_url = if overridden {
            format!("{push_url}{AUTH_PATH}")
        } else {
            AUTH_URL.to_string()
        };
        Ok(Self {
            app_id: view.str("app_id")?,
            client_id: view.str("client_id")?,
            client_secret: herald_core::Secret::new(view.str("client_secret")?),
            package_name: view.str("package_name")?,
            auth_url,
            push_url,
            importance: view.cert.defaults.importance.clone(),
            badge_class: view.cert.defaults.badge_class.clone(),
            click_action: view.click_action().clone(),
        })
    }
}
