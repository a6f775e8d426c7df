//! Meizu message shaping (pure): the vendor-neutral notification becomes Meizu's `messageJson`
//! as a private message (`noticeMsgType: 1`), with the click action, offline validity and the
//! ext data in `clickTypeInfo.parameters`; one signed form request carries up to 100 pushIds.

use super::auth::sign;
use super::config::MeizuConfig;
use crate::auth::md5_hex;
use crate::http::VendorRequest;
use crate::limits::{shrink_bytes, truncate_chars};
use herald_core::{ClickAction, Notification, Outcome};
use serde_json::{Map, Value, json};

/// Title limit, 1–32 characters. [DOC MEIZUPUSH/PushAPI; SDK]
pub(crate) const MAX_TITLE_CHARS: usize = 32;
/// Content limit, 1–100 characters. [DOC MEIZUPUSH/PushAPI]
pub(crate) const MAX_CONTENT_CHARS: usize = 100;
/// Size cap on `messageJson`. [UNCONFIRMED: Meizu publishes no payload limit for notification
/// messages; Herald keeps to the 4096 bytes most vendors allow so ext cannot grow unbounded.]
pub(crate) const MAX_MESSAGE_BYTES: usize = 4096;
/// Offline validity in hours, 1–72 (default 24). [DOC]
const MAX_VALID_HOURS: u32 = 72;
/// Private message: chat. [DOC; fact sheet "Recommended instant message settings"]
const PRIVATE_MESSAGE: u8 = 1;
/// The key carrying Herald's ext in `parameters` (the app reads it back from the intent).
pub(crate) const EXT_KEY: &str = "ext";
/// Notification push by pushId. [DOC; SDK `SystemConstants.PUSH_APPID_PUSHID_VARNISHED`]
pub(crate) const PUSH_BY_PUSH_ID_PATH: &str = "/garcia/api/server/push/varnished/pushByPushId";

/// The `messageJson` text shared by every chunk, or why it cannot be sent.
pub(crate) fn message_json(config: &MeizuConfig, n: &Notification) -> Result<String, Outcome> {
    let mut content = truncate_chars(&n.body, MAX_CONTENT_CHARS);
    loop {
        let text = build(config, n, &content).to_string();
        let size = text.len();
        if size <= MAX_MESSAGE_BYTES {
            return Ok(text);
        }
        content = match shrink_bytes(&content, size - MAX_MESSAGE_BYTES) {
            Some(shorter) if !shorter.trim_end_matches('…').is_empty() => shorter,
            _ => {
                return Err(Outcome::rejected(
                    "payload_too_large",
                    format!(
                        "Meizu messages are limited to {MAX_MESSAGE_BYTES} bytes here (messageJson); \
                         the ext data alone exceeds it"
                    ),
                ));
            }
        };
    }
}

fn build(config: &MeizuConfig, n: &Notification, content: &str) -> Value {
    let kind = n
        .notice_msg_type
        .or(config.notice_msg_type)
        .unwrap_or(PRIVATE_MESSAGE);
    let mut message = Map::new();
    message.insert(
        "noticeBarInfo".into(),
        json!({"noticeMsgType": kind, "noticeBarType": 0, "title": truncate_chars(&n.title, MAX_TITLE_CHARS), "content": content}),
    );
    message.insert("noticeExpandInfo".into(), json!({"noticeExpandType": 0}));
    message.insert("clickTypeInfo".into(), click(config, n));
    let hours = n.ttl_seconds.div_ceil(3600).clamp(1, MAX_VALID_HOURS);
    message.insert("pushTimeInfo".into(), json!({"offLine": 1, "validTime": hours}));
    let mut advance = Map::new();
    advance.insert("suspend".into(), json!(1));
    advance.insert("clearNoticeBar".into(), json!(1));
    if n.sound.as_deref() == Some("none") {
        advance.insert(
            "notificationType".into(),
            json!({"vibrate": 0, "lights": 1, "sound": 0}),
        );
    }
    if let Some(collapse) = &n.collapse_id {
        advance.insert("notifyKey".into(), json!(notify_key(collapse)));
    }
    message.insert("advanceInfo".into(), Value::Object(advance));
    Value::Object(message)
}

/// Meizu's click types: 0 open the app, 1 an activity (fully qualified class), 2 a URI page.
/// Type 3 (client-defined) does not work since Android 12 and is never used. [DOC]
fn click(config: &MeizuConfig, n: &Notification) -> Value {
    let action = if n.click_action == ClickAction::OpenApp {
        &config.click_action
    } else {
        &n.click_action
    };
    let mut click = match action {
        ClickAction::OpenApp => json!({"clickType": 0}),
        ClickAction::OpenUrl { url } => json!({"clickType": 2, "url": url}),
        ClickAction::OpenPage { page } if page.starts_with("intent:") => json!({"clickType": 2, "url": page}),
        ClickAction::OpenPage { page } if page.starts_with('.') => {
            json!({"clickType": 1, "activity": format!("{}{page}", config.package_name)})
        }
        ClickAction::OpenPage { page } => json!({"clickType": 1, "activity": page}),
    };
    if let Some(ext) = &n.ext {
        click["parameters"] = json!({ EXT_KEY: ext });
    }
    click
}

/// `notifyKey`: at most 8 characters of `[0-9a-zA-Z_-]`; only the latest notification with a
/// key is shown. A collapse id that does not fit is replaced by a digest of it. [DOC]
fn notify_key(collapse: &str) -> String {
    let fits = !collapse.is_empty()
        && collapse.len() <= 8
        && collapse
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if fits {
        collapse.to_string()
    } else {
        md5_hex(collapse)[..8].to_string()
    }
}

/// The signed form request for a chunk of pushIds (joined by commas).
pub(crate) fn send_request(config: &MeizuConfig, message_json: &str, tokens: &[&str]) -> VendorRequest {
    let push_ids = tokens.join(",");
    let params = [
        ("appId", config.app_id.as_str()),
        ("messageJson", message_json),
        ("pushIds", push_ids.as_str()),
    ];
    let signature = sign(&params, config.app_secret.expose());
    let mut pairs = params.to_vec();
    pairs.push(("sign", &signature));
    VendorRequest::form(format!("{}{PUSH_BY_PUSH_ID_PATH}", config.push_url), &pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> MeizuConfig {
        MeizuConfig {
            app_id: "110001".into(),
            app_secret: herald_core::Secret::new("s".into()),
            package_name: "com.example.chat".into(),
            push_url: "http://x".into(),
            notice_msg_type: None,
            click_action: ClickAction::OpenPage {
                page: ".ChatActivity".into(),
            },
        }
    }

    #[test]
    fn chat_is_a_private_message_opening_the_configured_page() {
        let n = Notification {
            title: "t".into(),
            body: "b".into(),
            ext: Some("{}".into()),
            ttl_seconds: 86_400,
            collapse_id: Some("conversation-42".into()),
            ..Notification::default()
        };
        let message: Value =
            serde_json::from_str(&message_json(&config(), &n).expect("shaped")).expect("json");
        assert_eq!(message["noticeBarInfo"]["noticeMsgType"], 1);
        assert_eq!(
            message["clickTypeInfo"]["activity"],
            "com.example.chat.ChatActivity"
        );
        assert_eq!(message["clickTypeInfo"]["parameters"]["ext"], "{}");
        assert_eq!(message["pushTimeInfo"]["validTime"], 24);
        assert_eq!(
            message["advanceInfo"]["notifyKey"].as_str().map(str::len),
            Some(8)
        );
    }

    #[test]
    fn the_request_is_signed_over_its_sorted_parameters() {
        let request = send_request(&config(), "{}", &["a", "b"]);
        let form: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
        let signature = form
            .iter()
            .find(|(k, _)| k == "sign")
            .map(|(_, v)| v.clone())
            .expect("sign");
        assert_eq!(signature, md5_hex("appId=110001messageJson={}pushIds=a,bs"));
    }

    #[test]
    fn a_long_body_is_shrunk_to_fit_and_ext_alone_too_large_is_refused() {
        let n = Notification {
            title: "t".into(),
            body: "b".repeat(100),
            ext: Some("x".repeat(3750)),
            ..Notification::default()
        };
        let text = message_json(&config(), &n).expect("fits after shrinking");
        assert!(text.len() <= MAX_MESSAGE_BYTES);
        assert!(text.contains("…"), "the body was cut to make room: {text}");
        let n = Notification {
            ext: Some("x".repeat(5000)),
            ..n
        };
        assert!(
            matches!(message_json(&config(), &n), Err(Outcome::Rejected { code, .. }) if code == "payload_too_large")
        );
    }
}
