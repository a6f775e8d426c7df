//! Honor message shaping (pure): the vendor-neutral notification becomes Honor's camelCase
//! `android.notification` with importance NORMAL (the service & communication class that chat
//! belongs to), the click action and badge; `ext` is the `data` string; one request carries
//! up to 1000 tokens. Honor has no custom notification channels nor a sound field.
//! [DOC: vendor-apis.md §4.2]

use super::config::HonorConfig;
use crate::cert::activity_intent;
use crate::http::VendorRequest;
use crate::limits::shrink_bytes;
use herald_core::{ClickAction, Notification, Outcome};
use serde_json::{Map, Value, json};

/// Honor's limit on the message body, tokens excluded: Huawei's 4096 bytes assumed.
/// [UNCONFIRMED: vendor-apis.md §4.2]
pub(crate) const MAX_MESSAGE_BYTES: usize = 4096;
/// Longest TTL Honor keeps a message: 15 days. [DOC: vendor-apis.md §4.2]
const MAX_TTL_SECONDS: u32 = 1_296_000;

/// The message without its token list.
pub(crate) fn message(config: &HonorConfig, n: &Notification) -> Result<Value, Outcome> {
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
                        "Honor messages are limited to {MAX_MESSAGE_BYTES} bytes; the ext data alone exceeds the limit"
                    ),
                ));
            }
        };
    }
}

fn build(config: &HonorConfig, n: &Notification, body: &str) -> Value {
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
    notification.insert("clickAction".into(), click);
    let importance = n
        .importance
        .clone()
        .or_else(|| config.importance.clone())
        .unwrap_or_else(|| "NORMAL".into());
    notification.insert("importance".into(), json!(importance));
    if let Some(image) = &n.image {
        notification.insert("image".into(), json!(image));
    }
    if n.badge {
        let mut badge = json!({"addNum": 1});
        if let Some(class) = n.badge_class.clone().or_else(|| config.badge_class.clone()) {
            badge["badgeClass"] = json!(class);
        }
        notification.insert("badge".into(), badge);
    }
    if let Some(tag) = n.collapse_id.as_ref().or(n.thread_id.as_ref()) {
        notification.insert("tag".into(), json!(tag));
    }
    let mut android = Map::new();
    android.insert(
        "ttl".into(),
        json!(format!("{}s", n.ttl_seconds.clamp(1, MAX_TTL_SECONDS))),
    );
    android.insert("biTag".into(), json!(n.id));
    android.insert("notification".into(), Value::Object(notification));
    let mut message = Map::new();
    if let Some(ext) = &n.ext {
        message.insert("data".into(), json!(ext));
    }
    message.insert("android".into(), Value::Object(android));
    Value::Object(message)
}

/// The send request for a chunk of tokens. `timestamp` is the send time in epoch
/// milliseconds, a header Honor requires. [DOC: vendor-apis.md §4.1]
pub(crate) fn send_request(
    config: &HonorConfig,
    message: &Value,
    tokens: &[&str],
    access_token: &str,
    timestamp: i64,
) -> VendorRequest {
    let mut body = message.clone();
    body["token"] = json!(tokens);
    VendorRequest::json(
        format!("{}/api/v1/{}/sendMessage", config.push_url, config.app_id),
        &body,
    )
    .header("authorization", format!("Bearer {access_token}"))
    .header("timestamp", timestamp.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HonorConfig {
        HonorConfig {
            app_id: "104400001".into(),
            client_id: "c".into(),
            client_secret: herald_core::Secret::new("s".into()),
            package_name: "com.example.chat".into(),
            auth_url: "https://iam.developer.honor.com/auth/token".into(),
            push_url: "https://push-api.cloud.honor.com".into(),
            importance: None,
            badge_class: Some("com.example.chat.Main".into()),
            click_action: ClickAction::OpenPage {
                page: ".ChatActivity".into(),
            },
        }
    }

    #[test]
    fn fields_are_camel_case_and_chat_is_normal_importance() {
        let n = Notification {
            title: "Alice".into(),
            body: "Lunch?".into(),
            badge: true,
            ttl_seconds: 60,
            ..Notification::default()
        };
        let m = message(&config(), &n).expect("fits");
        let notification = &m["android"]["notification"];
        assert_eq!(notification["importance"], "NORMAL");
        assert_eq!(notification["clickAction"]["type"], 1);
        assert_eq!(
            notification["clickAction"]["intent"],
            "intent:#Intent;component=com.example.chat/com.example.chat.ChatActivity;end"
        );
        assert_eq!(
            notification["badge"],
            json!({"addNum": 1, "badgeClass": "com.example.chat.Main"})
        );
        let request = send_request(&config(), &m, &["t1", "t2"], "at", 1_700_000_000_000);
        assert_eq!(
            request.url,
            "https://push-api.cloud.honor.com/api/v1/104400001/sendMessage"
        );
        assert!(
            request
                .headers
                .contains(&("timestamp".into(), "1700000000000".into()))
        );
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body["token"], json!(["t1", "t2"]));
    }
}
