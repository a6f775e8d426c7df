//! Messages and their offline push info: the union of both source services' per-message push
//! options (Tencent `V2TIMOfflinePushInfo`, Agora's `em_*` attributes), and how a message
//! becomes a notification's title and body.

use crate::{Invalid, Millis, Priority};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// `{"text": "..."}`.
    Text,
    /// An image.
    Image,
    /// A file.
    File,
    /// A voice message.
    Audio,
    /// A video.
    Video,
    /// A location.
    Location,
    /// App-defined content; pushed only when the push info has a `desc`.
    Custom,
    /// Service notices; never pushed.
    System,
}

impl MessageKind {
    /// The kind's id string.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::File => "file",
            MessageKind::Audio => "audio",
            MessageKind::Video => "video",
            MessageKind::Location => "location",
            MessageKind::Custom => "custom",
            MessageKind::System => "system",
        }
    }

    /// What a notification says for media without a `desc`.
    pub fn placeholder(self) -> &'static str {
        match self {
            MessageKind::Image => "[Image]",
            MessageKind::File => "[File]",
            MessageKind::Audio => "[Voice]",
            MessageKind::Video => "[Video]",
            MessageKind::Location => "[Location]",
            MessageKind::Custom => "[Message]",
            MessageKind::Text | MessageKind::System => "",
        }
    }
}

/// Per-platform sounds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSound {
    /// Android sound (a raw resource name or URI).
    pub android: Option<String>,
    /// iOS sound file; `"none"` = no sound and no vibration.
    pub ios: Option<String>,
}

/// iOS-only options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IosPushOptions {
    /// Subtitle line.
    pub subtitle: Option<String>,
    /// Let the notification service extension change the content.
    #[serde(default)]
    pub mutable_content: bool,
    /// Image URL (for the extension to attach).
    pub image: Option<String>,
    /// Action category registered by the app.
    pub category: Option<String>,
    /// Grouping id (defaults to the conversation).
    pub thread_id: Option<String>,
}

/// Channel ids per Android vendor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelIds {
    /// OPPO private channel.
    pub oppo: Option<String>,
    /// Xiaomi private-message channel.
    pub xiaomi: Option<String>,
    /// Huawei channel.
    pub huawei: Option<String>,
    /// Honor channel.
    pub honor: Option<String>,
    /// FCM channel.
    pub fcm: Option<String>,
    /// vivo channel.
    pub vivo: Option<String>,
}

/// Android-only options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AndroidPushOptions {
    /// `normal` (the only mode both services document).
    pub notify_mode: Option<String>,
    /// Channel per vendor.
    #[serde(default)]
    pub channel_ids: ChannelIds,
    /// Huawei category (e.g. `IM`).
    pub huawei_category: Option<String>,
    /// Huawei importance (`LOW` / `NORMAL`).
    pub huawei_importance: Option<String>,
    /// Huawei badge activity.
    pub huawei_badge_class: Option<String>,
    /// vivo classification (0/1).
    pub vivo_classification: Option<u8>,
    /// vivo category.
    pub vivo_category: Option<String>,
    /// Large image URL.
    pub image: Option<String>,
}

/// A message's offline push info (DESIGN §3). Everything is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushInfo {
    /// Do not push this message at all.
    #[serde(default)]
    pub disabled: bool,
    /// Push even to muted conversations and during do-not-disturb.
    #[serde(default)]
    pub force: bool,
    /// Notification title.
    pub title: Option<String>,
    /// Notification body (required for custom messages to be pushed).
    pub desc: Option<String>,
    /// Passed to the app untouched (at most 4,000 bytes).
    #[schema(max_length = 4000)]
    pub ext: Option<String>,
    /// Sounds.
    #[serde(default)]
    pub sound: PushSound,
    /// Whether the iOS badge counts this message (default true).
    pub badge: Option<bool>,
    /// iOS options.
    #[serde(default)]
    pub ios: IosPushOptions,
    /// Android options.
    #[serde(default)]
    pub android: AndroidPushOptions,
    /// Replaces an earlier notification with the same id.
    pub collapse_id: Option<String>,
    /// How long the push stays worth delivering (default 1 day, at most 28 days).
    #[schema(minimum = 1, maximum = 2419200)]
    pub ttl_seconds: Option<u32>,
    /// `high` (default) or `normal`.
    pub priority: Option<Priority>,
}

/// Longest `ext` accepted (vendors' own limits are checked per vendor).
pub const MAX_EXT_BYTES: usize = 4000;
/// Default push TTL: one day.
pub const DEFAULT_TTL_SECONDS: u32 = 86_400;
/// Longest push TTL: 28 days (FCM's maximum).
pub const MAX_TTL_SECONDS: u32 = 2_419_200;

impl PushInfo {
    /// Checks lengths and ranges.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(ext) = &self.ext
            && ext.len() > MAX_EXT_BYTES
        {
            return Err(Invalid::field(
                "push.ext",
                format!("ext is limited to {MAX_EXT_BYTES} bytes"),
            ));
        }
        for (field, value, max) in [
            ("push.title", &self.title, 256usize),
            ("push.desc", &self.desc, 4096),
            ("push.collapse_id", &self.collapse_id, 64),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                return Err(Invalid::field(field, format!("at most {max} characters")));
            }
        }
        if let Some(ttl) = self.ttl_seconds
            && (ttl == 0 || ttl > MAX_TTL_SECONDS)
        {
            return Err(Invalid::field(
                "push.ttl_seconds",
                format!("must be 1 to {MAX_TTL_SECONDS}"),
            ));
        }
        if let Some(c) = self.android.vivo_classification
            && c > 1
        {
            return Err(Invalid::field(
                "push.android.vivo_classification",
                "must be 0 or 1",
            ));
        }
        Ok(())
    }

    /// Applies Agora's `em_*` message attributes: `em_ignore_notification`,
    /// `em_force_notification` at the top level, and `em_push_name`, `em_push_content`,
    /// `em_huawei_push_badge_class` either at the top level or inside `em_apns_ext` (whose
    /// other keys become `ext` when no `ext` is set).
    pub fn apply_agora_attributes(&mut self, attributes: &Map<String, Value>) {
        let mut ext_object = match attributes.get("em_apns_ext") {
            Some(Value::Object(obj)) => obj.clone(),
            Some(Value::String(text)) => serde_json::from_str::<Map<String, Value>>(text).unwrap_or_default(),
            _ => Map::new(),
        };
        let mut take = |key: &str| -> Option<Value> {
            ext_object
                .remove(key)
                .or_else(|| attributes.get(key).cloned())
                .filter(|v| !v.is_null())
        };
        let truthy = |v: Option<Value>| match v {
            Some(Value::Bool(b)) => b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => s == "true" || s == "1",
            _ => false,
        };
        if truthy(take("em_ignore_notification")) {
            self.disabled = true;
        }
        if truthy(take("em_force_notification")) {
            self.force = true;
        }
        if let Some(Value::String(title)) = take("em_push_name") {
            self.title.get_or_insert(title);
        }
        if let Some(Value::String(content)) = take("em_push_content") {
            self.desc.get_or_insert(content);
        }
        if let Some(Value::String(class)) = take("em_huawei_push_badge_class") {
            self.android.huawei_badge_class.get_or_insert(class);
        }
        if self.ext.is_none() && !ext_object.is_empty() {
            self.ext = Some(Value::Object(ext_object).to_string());
        }
    }

    /// TTL in effect.
    pub fn ttl(&self) -> u32 {
        self.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS)
    }
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Destination {
    /// One user.
    C2c {
        /// The recipient.
        to: String,
    },
    /// Every member of a group but the sender.
    Group {
        /// The group.
        group: String,
    },
}

impl Destination {
    /// The conversation id as the recipient sees it: `c2c:<sender>` for one-to-one (the
    /// conversation with the sender), `group:<group>` for groups.
    pub fn conversation_for_recipient(&self, sender: &str) -> String {
        match self {
            Destination::C2c { .. } => format!("c2c:{sender}"),
            Destination::Group { group } => format!("group:{group}"),
        }
    }
}

// A message as a sender writes it, over HTTP or in a WebSocket `send` frame. It lives here,
// beside the types it is made of, because the engine checks it (`herald_engine::validate`)
// whichever transport it came by. (The doc line below is the OpenAPI schema's description.)
/// Body of a message send.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Sender (server API only; the client API sends as the token's user).
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.@-]+$")]
    pub from: Option<String>,
    /// Recipient user (one-to-one); give `to` or `group`.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.@-]+$")]
    pub to: Option<String>,
    /// Recipient group.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.@-]+$")]
    pub group: Option<String>,
    /// `text image file audio video location custom system`.
    pub kind: MessageKind,
    /// `{"text": ...}` for text; any JSON but `null` otherwise.
    #[schema(value_type = Value)]
    pub content: Value,
    /// Offline push info.
    pub push: Option<PushInfo>,
    /// Message attributes; Agora `em_*` keys act as push info aliases.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Herald-assigned id (time-ordered).
    pub id: String,
    /// Owning app.
    pub app_id: String,
    /// Sender user id.
    pub from: String,
    /// Recipient user or group.
    pub to: Destination,
    /// Kind.
    pub kind: MessageKind,
    /// Content (`{"text": ...}` for text).
    pub content: Value,
    /// Offline push info after aliases were applied.
    pub push: PushInfo,
    /// Attributes as sent (Agora `em_*` included).
    pub attributes: Map<String, Value>,
    /// The sender's nickname when it was sent (default title of C2C notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_nickname: Option<String>,
    /// The group's name when it was sent (default title of group notifications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// When it was accepted.
    pub created_at: Millis,
}

impl Message {
    /// The message as a client sees it: the conversation is named from `viewer`'s side.
    pub fn client_view(&self, viewer: &str) -> Value {
        let (to, conversation) = match &self.to {
            Destination::C2c { to } if viewer == self.from => (to.clone(), format!("c2c:{to}")),
            Destination::C2c { to } => (to.clone(), format!("c2c:{}", self.from)),
            Destination::Group { group } => (group.clone(), format!("group:{group}")),
        };
        let mut view = serde_json::json!({
            "id": self.id,
            "from": self.from,
            "to": to,
            "conversation": conversation,
            "kind": self.kind,
            "content": self.content,
            "created_at": self.created_at,
        });
        if !self.attributes.is_empty() {
            view["attributes"] = Value::Object(self.attributes.clone());
        }
        view
    }

    /// The text of a text message.
    pub fn text(&self) -> Option<&str> {
        if self.kind == MessageKind::Text {
            self.content.get("text").and_then(Value::as_str)
        } else {
            None
        }
    }

    /// The notification body by DESIGN §2: `desc` wins, then the text, then a placeholder.
    pub fn notification_body(&self) -> String {
        if let Some(desc) = &self.push.desc {
            return desc.clone();
        }
        match self.text() {
            Some(text) => text.to_string(),
            None => self.kind.placeholder().to_string(),
        }
    }
}

/// Checks a message's content for its kind.
pub fn check_content(kind: MessageKind, content: &Value) -> Result<(), Invalid> {
    match kind {
        MessageKind::Text => match content.get("text") {
            Some(Value::String(text)) if !text.is_empty() => {
                if text.len() > 12_000 {
                    Err(Invalid::field(
                        "content.text",
                        "text messages are limited to 12,000 bytes",
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Err(Invalid::new(
                "content.text",
                "missing_field",
                "a text message needs content {\"text\": \"...\"}",
            )),
        },
        _ if content.is_null() => Err(Invalid::missing("content")),
        _ if content.to_string().len() > 64 * 1024 => {
            Err(Invalid::field("content", "content is limited to 64 KiB"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agora_attributes_map_onto_push_info_from_either_place() {
        let mut info = PushInfo::default();
        let attrs = json!({
            "em_force_notification": true,
            "em_apns_ext": {"em_push_name": "Offline Title", "em_push_content": "Offline Body",
                            "em_huawei_push_badge_class": "io.agora.chatdemo.ui.SplashActivity", "order": 42}
        });
        info.apply_agora_attributes(attrs.as_object().expect("object"));
        assert!(info.force && !info.disabled);
        assert_eq!(info.title.as_deref(), Some("Offline Title"));
        assert_eq!(info.desc.as_deref(), Some("Offline Body"));
        assert_eq!(
            info.android.huawei_badge_class.as_deref(),
            Some("io.agora.chatdemo.ui.SplashActivity")
        );
        assert_eq!(info.ext.as_deref(), Some(r#"{"order":42}"#));

        let mut ignored = PushInfo {
            title: Some("explicit".into()),
            ..PushInfo::default()
        };
        ignored.apply_agora_attributes(
            json!({"em_ignore_notification": true, "em_push_name": "x"})
                .as_object()
                .expect("object"),
        );
        assert!(ignored.disabled);
        assert_eq!(
            ignored.title.as_deref(),
            Some("explicit"),
            "explicit push info wins over aliases"
        );
    }
}
