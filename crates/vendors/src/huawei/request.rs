//! Huawei message shaping (pure): the vendor-neutral notification becomes Huawei's
//! `message.android.notification`, on the IM lane (category, importance NORMAL), with the
//! click action, badge and TTL; one request carries up to 1000 tokens.

use super::config::HuaweiConfig;
use crate::cert::activity_intent;
use crate::http::VendorRequest;
use crate::limits::shrink_bytes;
use herald_core::{ClickAction, Notification, Outcome};
use serde_json::{Map, Value, json};

/// Huawei's limit on the message body (tokens excluded).
pub(crate) const MAX_MESSAGE_BYTES: usize = 4096;
/// Longest TTL Huawei keeps a message: 15 days.
const MAX_TTL_SECONDS: u32 = 1_296_000;

/// The message without its token list.
pub(crate) fn message(config: &HuaweiConfig, n: &Notification) -> Result<Value, Outcome> {
    let mut body = n.body.clone();
    loop {
        let message = build(config, n, &body);
        let size = message.to_string().len();
        if size <= MAX_MESSAGE_BYTES {
            return Ok(message);
        }
        body = match shrink_bytes(&body, size - MAX_MESSAGE_BYTES) {
            Some(shorter) if !n.body.is_empty() => shorter,
            _ => {
                return Err(Outcome::rejected(
                    "payload_too_large",
                    format!(
                        "Huawei messages are limited to {MAX_MESSAGE_BYTES} bytes; the ext data alone exceeds it"
                    ),
                ));
            }
        };
    }
}

fn build(config: &HuaweiConfig, n: &Notification, body: &str) -> Value {
    let click = match if n.click_action == ClickAction::OpenApp {
        &config.click_action
    } else {
        &n.click_action
    } {
        ClickAction::OpenApp => json!({"type": 3}),
        ClickAction::OpenUrl { url } => json!({"type": 2, "url": url}),
        ClickAction::OpenPage { page } => {
            json!({"type": 1, "intent": activity_intent(&config.package_name, page)})
        }
    };
    let mut notification = Map::new();
    notification.insert("title".into(), json!(n.title));
    notification.insert("body".into(), json!(body));
    notification.insert("click_action".into(), click);
    let importance = n
        .importance
        .clone()
        .or_else(|| config.importance.clone())
        .unwrap_or_else(|| "NORMAL".into());
    notification.insert("importance".into(), json!(importance));
    if let Some(channel) = &n.channel_id {
        notification.insert("channel_id".into(), json!(channel));
    }
    if let Some(image) = &n.image {
        notification.insert("image".into(), json!(image));
    }
    match n.sound.as_deref() {
        None | Some("default") => {
            notification.insert("default_sound".into(), json!(true));
        }
        Some("none") => {}
        Some(sound) => {
            notification.insert("sound".into(), json!(sound));
            notification.insert("default_sound".into(), json!(false));
        }
    }
    if n.badge {
        let class = n.badge_class.clone().or_else(|| config.badge_class.clone());
        let mut badge = json!({"add_num": 1});
        if let Some(class) = class {
            badge["class"] = json!(class);
        }
        notification.insert("badge".into(), badge);
    }
    if let Some(tag) = n.collapse_id.as_ref().or(n.thread_id.as_ref()) {
        notification.insert("tag".into(), json!(tag));
    }
    let mut android = Map::new();
    android.insert("collapse_key".into(), json!(-1));
    if let Some(category) = n.category.clone().or_else(|| config.category.clone()) {
        android.insert("category".into(), json!(category));
    }
    android.insert(
        "ttl".into(),
        json!(format!("{}s", n.ttl_seconds.clamp(1, MAX_TTL_SECONDS))),
    );
    android.insert("bi_tag".into(), json!(n.id));
    android.insert("notification".into(), Value::Object(notification));
    let mut message = Map::new();
    if let Some(ext) = &n.ext {
        message.insert("data".into(), json!(ext));
    }
    message.insert("android".into(), Value::Object(android));
    Value::Object(message)
}

/// The send request for a chunk of tokens.
pub(crate) fn send_request(
    config: &HuaweiConfig,
    message: &Value,
    tokens: &[&str],
    access_token: &str,
) -> VendorRequest {
    let mut message = message.clone();
    message["token"] = json!(tokens);
    VendorRequest::json(
        format!("{}/v1/{}/messages:send", config.push_url, config.app_id),
        &json!({"validate_only": false, "message": message}),
    )
    .header("authorization", format!("Bearer {access_token}"))
}
