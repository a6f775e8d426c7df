//! Xiaomi certificate fields: the AppSecret, package, the private-message channel and the
//! region whose host serves the app's devices.

use crate::describe::{CertificateField as Field, CertificateFields};
use crate::fields::{Fields, check_one_of, check_package_name};
use herald_core::Invalid;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["app_secret"];

/// Regions with their own MiPush host.
pub(crate) const REGIONS: &[&str] = &["china", "global", "russia", "india", "europe", "singapore"];

/// The fields [`check`] reads.
pub(crate) const FIELDS: CertificateFields = CertificateFields {
    fields: &[
        Field::text("app_secret", "The app's AppSecret in the Xiaomi open platform.").required(),
        Field::text(
            "package_name",
            "The Android package name, e.g. `com.example.chat`.",
        )
        .required(),
        Field::one_of("region", REGIONS, "Where the app's users are registered.").default("china"),
        Field::text(
            "channel_id",
            "The private-message channel registered in the Xiaomi console; without it chat \
             pushes count against the public-message daily quota.",
        ),
    ],
    credentials: &[],
};

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

/// The MiPush host of a region: overseas messages must go to the host of the device's region.
/// The documented dash spelling is used (the decompiled SDK writes `fr.api.`).
/// [DOC: vendor-apis.md §5.1]
pub(crate) fn region_host(region: &str) -> &'static str {
    match region {
        "global" => "https://api.xmpush.global.xiaomi.com",
        "russia" => "https://ru-api.xmpush.global.xiaomi.com",
        "india" => "https://idmb-api.xmpush.global.xiaomi.com",
        "europe" => "https://fr-api.xmpush.global.xiaomi.com",
        "singapore" => "https://sgp-api.xmpush.global.xiaomi.com",
        _ => "https://api.xmpush.xiaomi.com",
    }
}

/// What the Xiaomi adapter needs from a certificate.
#[derive(Clone)]
pub(crate) struct XiaomiConfig {
    pub(crate) app_secret: herald_core::Secret<String>,
    pub(crate) package_name: String,
    pub(crate) push_url: String,
    /// The private-message channel registered in the Xiaomi console: the unlimited lane.
    pub(crate) channel_id: Option<String>,
    pub(crate) click_action: herald_core::ClickAction,
}

impl std::fmt::Debug for XiaomiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XiaomiConfig")
            .field("package_name", &self.package_name)
            .field("push_url", &self.push_url)
            .finish_non_exhaustive()
    }
}

/// Reads a stored certificate (checked when it was saved).
impl TryFrom<crate::cert::CertView<'_>> for XiaomiConfig {
    type Error = herald_core::AdapterError;

    fn try_from(view: crate::cert::CertView<'_>) -> Result<Self, Self::Error> {
        let region = view.opt_str("region").unwrap_or_else(|| "china".into());
        Ok(Self {
            app_secret: herald_core::Secret::new(view.str("app_secret")?),
            package_name: view.str("package_name")?,
            push_url: view.base_url(region_host(&region)),
            channel_id: view
                .opt_str("channel_id")
                .or_else(|| view.cert.defaults.channel_id.clone()),
            click_action: view.click_action().clone(),
        })
    }
}
