//! Certificates: one vendor credential of an app ("push certificate"), addressed by a numeric id
//! (Tencent style) or by its unique name (Agora style).

use crate::{Invalid, Millis, Secret, Vendor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A stored certificate as every reader sees it: public fields only. The secret values are kept
/// sealed by the store and handed out only to the code that signs vendor requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Certificate {
    /// Herald-assigned numeric id.
    pub id: i64,
    /// The owning app.
    pub app_id: String,
    /// The vendor this credential belongs to.
    pub vendor: Vendor,
    /// Unique name within the app (the routing key Agora-style SDKs upload).
    pub name: String,
    /// A disabled certificate keeps its devices bound but sends nothing.
    pub enabled: bool,
    /// What tapping the notification does.
    pub click_action: ClickAction,
    /// Per-certificate defaults for the vendor's message options.
    pub defaults: CertificateDefaults,
    /// Overrides the vendor's API endpoint (used for the sandbox, proxies, staging).
    pub base_url: Option<String>,
    /// The vendor's public fields (`bundle_id`, `app_id`, `package_name`…).
    pub fields: Map<String, Value>,
    /// Names of the secret fields that hold a value; the values themselves never leave the store.
    pub secret_fields: Vec<String>,
    /// When it was created.
    pub created_at: Millis,
    /// When it was last changed.
    pub updated_at: Millis,
}

/// A certificate about to be written (created or replaced), already validated.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    /// The vendor.
    pub vendor: Vendor,
    /// Unique name within the app.
    pub name: String,
    /// Whether pushes may go out through it.
    pub enabled: bool,
    /// Tap behaviour.
    pub click_action: ClickAction,
    /// Vendor option defaults.
    pub defaults: CertificateDefaults,
    /// Endpoint override.
    pub base_url: Option<String>,
    /// Public vendor fields.
    pub fields: Map<String, Value>,
    /// Secret vendor fields: sealed by the store before they are written.
    pub secrets: Secret<Map<String, Value>>,
}

/// What happens when the user taps the notification.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClickAction {
    /// Open the app's launcher screen.
    #[default]
    OpenApp,
    /// Open a web page.
    OpenUrl {
        /// An `http` or `https` URL.
        url: String,
    },
    /// Open a page inside the app.
    OpenPage {
        /// An activity class name (`com.example.ChatActivity`) or an intent URI
        /// (`intent://chat/1#Intent;scheme=myapp;end`).
        page: String,
    },
}

impl ClickAction {
    /// Checks the URL or page format.
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            ClickAction::OpenApp => Ok(()),
            ClickAction::OpenUrl { url } => {
                let parsed = url::Url::parse(url).map_err(|e| {
                    Invalid::new("click_action.url", "invalid_url", format!("not a URL: {e}"))
                })?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                    return Err(Invalid::new(
                        "click_action.url",
                        "invalid_url",
                        "must be an http:// or https:// URL with a host",
                    ));
                }
                Ok(())
            }
            ClickAction::OpenPage { page } => {
                if is_activity_name(page) || is_intent_uri(page) {
                    Ok(())
                } else {
                    Err(Invalid::new(
                        "click_action.page",
                        "invalid_page",
                        "must be an activity class name (com.example.ChatActivity) or an intent URI \
                         (intent://path#Intent;scheme=myapp;end)",
                    ))
                }
            }
        }
    }
}

/// `com.example.ChatActivity` or `.ChatActivity` (relative to the package).
fn is_activity_name(s: &str) -> bool {
    let body = s.strip_prefix('.').unwrap_or(s);
    let segments: Vec<&str> = body.split('.').collect();
    let relative = s.starts_with('.');
    (relative || segments.len() >= 2)
        && segments.iter().all(|seg| {
            let mut chars = seg.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

/// `intent:...#Intent;...;end` — Android's `Intent.toUri(URI_INTENT_SCHEME)` form.
fn is_intent_uri(s: &str) -> bool {
    s.starts_with("intent:") && s.contains("#Intent;") && s.ends_with(";end")
}

/// Defaults applied to every push through a certificate unless the message overrides them.
/// Which of these a vendor honours, and which values it allows, is checked by that vendor's
/// configuration rules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateDefaults {
    /// Android notification channel id (Xiaomi private-message channel, OPPO private channel,
    /// FCM/Huawei channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// Message category (`IM` for chat on Huawei, OPPO, vivo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Huawei/Honor importance (`LOW` or `NORMAL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<String>,
    /// vivo classification: 0 operational, 1 system (chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<u8>,
    /// Activity class for the launcher badge (Huawei/Honor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badge_class: Option<String>,
    /// OPPO notify level: 1, 2 or 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_level: Option<u8>,
    /// Meizu message type: 0 public, 1 private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_msg_type: Option<u8>,
    /// Default sound name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound: Option<String>,
    /// How long a push stays worth delivering, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
    /// Requests per second sent through this certificate (default: the vendor's published
    /// or usual limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<u32>,
    /// Messages per day this certificate may send (the vendor's day); unset = only the
    /// vendor's own quota answers stop sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_quota: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_actions_accept_urls_activities_and_intent_uris() {
        let ok = [
            ClickAction::OpenApp,
            ClickAction::OpenUrl {
                url: "https://example.com/chat?id=1".into(),
            },
            ClickAction::OpenPage {
                page: "com.example.chat.ChatActivity".into(),
            },
            ClickAction::OpenPage {
                page: ".ChatActivity".into(),
            },
            ClickAction::OpenPage {
                page: "intent://chat/1#Intent;scheme=myapp;launchFlags=0x4000000;end".into(),
            },
        ];
        for action in ok {
            assert_eq!(action.validate(), Ok(()), "{action:?}");
        }
        let bad = [
            ClickAction::OpenUrl {
                url: "ftp://example.com".into(),
            },
            ClickAction::OpenUrl {
                url: "not a url".into(),
            },
            ClickAction::OpenPage {
                page: "chat page".into(),
            },
            ClickAction::OpenPage {
                page: "intent://x".into(),
            },
            ClickAction::OpenPage {
                page: "ChatActivity".into(),
            },
        ];
        for action in bad {
            assert!(action.validate().is_err(), "{action:?}");
        }
    }
}
