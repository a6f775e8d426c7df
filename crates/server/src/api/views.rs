//! Response shapes that differ from the stored records: certificates without secret values,
//! devices with masked tokens.

use herald_core::device::mask_token;
use herald_core::{Certificate, Device, Millis, Platform, SessionState, Vendor};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A certificate as the API shows it: common fields, the vendor's public fields inline, and the
/// names of the secret fields that are set (never their values). Its OpenAPI schema is one per
/// vendor (`super::certificate_schemas`).
#[derive(Debug, Serialize)]
pub struct CertificateView {
    /// What every certificate has.
    #[serde(flatten)]
    pub common: CertificateCommonView,
    /// The vendor's public fields (`bundle_id`, `app_id`, `package_name`…).
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// The fields of a certificate answer that do not depend on its vendor.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateCommonView {
    /// Numeric id (route pushes by id or by name).
    pub id: i64,
    /// Owning app (Herald's app id). Named `app` so that it never clashes with the vendor's own
    /// `app_id` (Huawei, Honor, vivo, Meizu), which is among the vendor fields.
    pub app: String,
    /// Vendor id.
    pub vendor: Vendor,
    /// Unique name in the app.
    pub name: String,
    /// Whether pushes go out through it.
    pub enabled: bool,
    /// Tap behaviour.
    pub click_action: herald_core::ClickAction,
    /// Vendor option defaults.
    pub defaults: herald_core::CertificateDefaults,
    /// Endpoint override, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Write-only fields that hold a value.
    pub secret_fields: Vec<String>,
    /// Advice about the configuration (create and update answers only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Creation time, ms since the epoch.
    #[schema(value_type = i64)]
    pub created_at: Millis,
    /// Last change, ms since the epoch.
    #[schema(value_type = i64)]
    pub updated_at: Millis,
    /// Whether its vendor answers, as this node sees it (reading one certificate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<CertificateHealthView>,
}

impl CertificateView {
    /// The view of a stored certificate, with warnings from the last check.
    pub fn new(cert: Certificate, warnings: Vec<String>) -> Self {
        Self {
            common: CertificateCommonView {
                id: cert.id,
                app: cert.app_id,
                vendor: cert.vendor,
                name: cert.name,
                enabled: cert.enabled,
                click_action: cert.click_action,
                defaults: cert.defaults,
                base_url: cert.base_url,
                secret_fields: cert.secret_fields,
                warnings,
                created_at: cert.created_at,
                updated_at: cert.updated_at,
                health: None,
            },
            fields: cert.fields,
        }
    }

    /// The view with the certificate's health.
    pub fn with_health(mut self, health: herald_engine::CertificateHealth) -> Self {
        self.common.health = Some(health.into());
        self
    }
}

/// A certificate's health: `degraded` while its vendor keeps failing (its pushes wait, no
/// attempts spent, while a probe tests the vendor at growing intervals), else `working`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateHealthView {
    /// `working` or `degraded`.
    #[schema(example = "working")]
    pub state: String,
    /// Since when, ms since the epoch (this node's start while nothing changed).
    #[schema(value_type = i64)]
    pub since: Millis,
    /// Why the last failed request failed, if one did.
    pub last_error: Option<String>,
}

impl From<herald_engine::CertificateHealth> for CertificateHealthView {
    fn from(health: herald_engine::CertificateHealth) -> Self {
        Self {
            state: health.state.as_str().to_string(),
            since: health.since,
            last_error: health.last_error,
        }
    }
}

/// A device as the API shows it; the token is masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// Client-chosen id.
    pub device_id: String,
    /// The user logged in on it.
    pub user_id: String,
    /// Platform.
    pub platform: Platform,
    /// Session state, as the app last reported it.
    pub state: SessionState,
    /// The state and the connection read together: what a message sent now does.
    pub presence: Presence,
    /// Certificate carrying its pushes.
    pub certificate_id: Option<i64>,
    /// That certificate's vendor.
    pub vendor: Option<Vendor>,
    /// The bound token, masked.
    pub token: Option<String>,
    /// Unread count on the app icon.
    pub badge: i64,
    /// Whether a live connection is open on this node.
    pub connected: bool,
    /// Last change, ms since the epoch.
    #[schema(value_type = i64)]
    pub updated_at: Millis,
}

/// A device's session state read together with its live connection. `state` alone says what
/// the app last reported (`online` = in the foreground); only a connection gets messages live,
/// so an app that reported the foreground over HTTP without connecting is pushed like a
/// backgrounded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// In the foreground and connected: messages arrive live, no push.
    ForegroundConnected,
    /// Reported the foreground but has no connection: messages are pushed.
    ForegroundNotConnected,
    /// In the background and connected: messages arrive live and are pushed.
    BackgroundConnected,
    /// In the background or killed, not connected: messages are pushed.
    NotConnected,
    /// Logged out: nothing is delivered or pushed.
    LoggedOut,
    /// Kicked by the server: nothing until it logs in again.
    Kicked,
}

impl Presence {
    /// The presence of a device in `state`, connected or not.
    pub fn of(state: SessionState, connected: bool) -> Self {
        match (state, connected) {
            (SessionState::LoggedOut, _) => Presence::LoggedOut,
            (SessionState::Kicked, _) => Presence::Kicked,
            (SessionState::Online, true) => Presence::ForegroundConnected,
            (SessionState::Online, false) => Presence::ForegroundNotConnected,
            (SessionState::Background | SessionState::Offline, true) => Presence::BackgroundConnected,
            (SessionState::Background | SessionState::Offline, false) => Presence::NotConnected,
        }
    }
}

impl DeviceView {
    /// The view of a stored device.
    pub fn new(device: Device, connected: bool) -> Self {
        Self {
            device_id: device.device_id,
            user_id: device.user_id,
            platform: device.platform,
            state: device.state,
            presence: Presence::of(device.state, connected),
            certificate_id: device.binding.as_ref().map(|b| b.certificate_id),
            vendor: device.binding.as_ref().map(|b| b.vendor),
            token: device.binding.as_ref().map(|b| mask_token(&b.token)),
            badge: device.badge,
            connected,
            updated_at: device.updated_at,
        }
    }
}
