//! Devices: one installation of the app for a user, with its session state and push binding.

use crate::{Millis, Vendor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The operating system family of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// iPhone / iPad.
    Ios,
    /// Android phones of any vendor.
    Android,
    /// HarmonyOS.
    Harmony,
    /// A browser (Web Push).
    Web,
}

impl Platform {
    /// The platform id string.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
            Platform::Harmony => "harmony",
            Platform::Web => "web",
        }
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ios" => Ok(Platform::Ios),
            "android" => Ok(Platform::Android),
            "harmony" => Ok(Platform::Harmony),
            "web" => Ok(Platform::Web),
            other => Err(format!(
                "unknown platform `{other}`; expected ios, android, harmony or web"
            )),
        }
    }
}

/// Where a device's session stands. Only `background` and `offline` devices receive pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Connected with the app in the foreground: gets messages live, no push.
    Online,
    /// The app is in the background: live delivery if connected, and a push.
    Background,
    /// The app was killed or lost its connection, but the user did not log out: push.
    Offline,
    /// The user logged out: nothing is pushed.
    LoggedOut,
    /// The server kicked the device: nothing is pushed until it logs in again.
    Kicked,
}

impl SessionState {
    /// The state id string.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Online => "online",
            SessionState::Background => "background",
            SessionState::Offline => "offline",
            SessionState::LoggedOut => "logged_out",
            SessionState::Kicked => "kicked",
        }
    }

    /// Whether the session is over (logged out or kicked).
    pub fn is_ended(self) -> bool {
        matches!(self, SessionState::LoggedOut | SessionState::Kicked)
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            SessionState::Online,
            SessionState::Background,
            SessionState::Offline,
            SessionState::LoggedOut,
            SessionState::Kicked,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| format!("unknown session state `{s}`"))
    }
}

/// A device's push binding: which certificate carries its pushes, with which token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushBinding {
    /// The certificate's numeric id.
    pub certificate_id: i64,
    /// The certificate's vendor (denormalised for display and routing).
    pub vendor: Vendor,
    /// The vendor token (for Web Push, the subscription object as JSON text).
    pub token: String,
}

/// Names one device of one user of one app: how the store, the presence hub and the cluster
/// address a device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceKey {
    /// App id.
    pub app: String,
    /// User id.
    pub user: String,
    /// Device id.
    pub device: String,
}

impl DeviceKey {
    /// Builds a key.
    pub fn new(app: &str, user: &str, device: &str) -> Self {
        Self {
            app: app.into(),
            user: user.into(),
            device: device.into(),
        }
    }
}

/// One installation of the app for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The owning app.
    pub app_id: String,
    /// The user logged in on it.
    pub user_id: String,
    /// Client-chosen id of the installation.
    pub device_id: String,
    /// Operating system family.
    pub platform: Platform,
    /// Session state.
    pub state: SessionState,
    /// The bound push token, if any.
    pub binding: Option<PushBinding>,
    /// Unread count shown on the app icon; each push adds one.
    pub badge: i64,
    /// Last change.
    pub updated_at: Millis,
}

impl Device {
    /// The key that names this device.
    pub fn key(&self) -> DeviceKey {
        DeviceKey::new(&self.app_id, &self.user_id, &self.device_id)
    }
}

/// Shows the start and end of a token so people can tell tokens apart without it leaking.
pub fn mask_token(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_only_the_ends_of_a_token() {
        assert_eq!(mask_token("abcdef0123456789xyzw"), "abcdef…xyzw");
        assert_eq!(mask_token("short"), "*****");
    }

    #[test]
    fn session_states_round_trip() {
        for s in ["online", "background", "offline", "logged_out", "kicked"] {
            assert_eq!(s.parse::<SessionState>().map(|x| x.as_str()), Ok(s));
        }
    }
}
