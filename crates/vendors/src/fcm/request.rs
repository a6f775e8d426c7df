//! FCM message shaping (pure): the vendor-neutral notification becomes one HTTP v1 `message`
//! on the high-priority lane (`android.priority: high`, `apns-priority: 10`), with the app's
//! channel, the click action and `ext` in `data`; one request per device token.

use super::config::FcmConfig;
use crate::http::VendorRequest;
use crate::limits::shrink_bytes;
use herald_core::{ClickAction, Notification, Outcome, Priority, Target};
use serde_json::{Map, Value, json};

/// FCM's limit on the keys and values of `data` and `notification` together. [DOC: vendor-apis.md §2.3]
pub(crate) const MAX_PAYLOAD_BYTES: usize = 4096;
/// Longest TTL FCM keeps a message: 28 days. [DOC: vendor-apis.md §2.2]
const MAX_TTL_SECONDS: u32 = 2_419_200;
/// APNs refuses longer collapse ids (`BadCollapseId`). [SDK: vendor-apis.md §1.3]
const MAX_APNS_COLLAPSE_ID_BYTES: usize = 64;
/// The `data` key carrying the app's `ext`, untouched (FCM data values must be strings).
pub(crate) const EXT_KEY: &str = "ext";
/// The `data` key carrying an open-URL click: FCM has no URL click for Android or iOS, the app
/// opens it (web clients get `webpush.fcm_options.link`).
pub(crate) const CLICK_URL_KEY: &str = "click_url";

/// The shaped message, shared by every target of one notification.
#[derive(Debug, Clone)]
pub(crate) struct FcmMessage {
    /// The `message` object without its `token`.
    pub(crate) message: Value,
    /// Whether each target's badge number is set (FCM sends one device per request, so the
    /// absolute count can be given, as on APNs).
    pub(crate) counts_badge: bool,
}

/// The message without its token, within FCM's size limit (the body is shortened when needed).
pub(crate) fn message(config: &FcmConfig, n: &Notification) -> Result<FcmMessage, Outcome> {
    let mut body = n.body.clone();
    loop {
        let message = build(config, n, &body);
        let size = payload_bytes(&message);
        if size <= MAX_PAYLOAD_BYTES {
            return Ok(FcmMessage {
                message,
                counts_badge: n.badge,
            });
        }
        body = match shrink_bytes(&body, size - MAX_PAYLOAD_BYTES) {
            Some(shorter) if !n.body.is_empty() => shorter,
            _ => {
                return Err(Outcome::rejected(
                    "payload_too_large",
                    format!(
                        "FCM limits data and notification to {MAX_PAYLOAD_BYTES} bytes; the ext data alone exceeds the limit"
                    ),
                ));
            }
        };
    }
}

/// The size FCM counts: keys and values of `data` and `notification`. [DOC: vendor-apis.md §2.3]
pub(crate) fn payload_bytes(message: &Value) -> usize {
    ["data", "notification"]
        .iter()
        .filter_map(|section| message[*section].as_object())
        .flat_map(|object| object.iter())
        .map(|(key, value)| key.len() + value.as_str().map_or_else(|| value.to_string().len(), str::len))
        .sum()
}

fn build(config: &FcmConfig, n: &Notification, body: &str) -> Value {
    let click = if n.click_action == ClickAction::OpenApp {
        &config.click_action
    } else {
        &n.click_action
    };
    let mut data = Map::new();
    if let Some(ext) = &n.ext {
        data.insert(EXT_KEY.into(), json!(ext));
    }
    let mut notification = Map::new();
    notification.insert("title".into(), json!(n.title));
    notification.insert("body".into(), json!(body));
    if let Some(image) = &n.image {
        notification.insert("image".into(), json!(image));
    }

    let mut android_notification = Map::new();
    if let Some(channel) = n.channel_id.as_ref().or(config.channel_id.as_ref()) {
        android_notification.insert("channel_id".into(), json!(channel));
    }
    if let Some(tag) = n.collapse_id.as_ref().or(n.thread_id.as_ref()) {
        android_notification.insert("tag".into(), json!(tag));
    }
    let sound = match n.sound.as_deref() {
        None | Some("default") => Some("default"),
        Some("none") => None,
        Some(name) => Some(name),
    };
    if let Some(sound) = sound {
        android_notification.insert("sound".into(), json!(sound));
    }
    let mut message = Map::new();
    match click {
        ClickAction::OpenApp => {}
        // An intent-filter action of the activity to open. [DOC: vendor-apis.md §2.2]
        ClickAction::OpenPage { page } => {
            android_notification.insert("click_action".into(), json!(page));
        }
        ClickAction::OpenUrl { url } => {
            data.insert(CLICK_URL_KEY.into(), json!(url));
            if url.starts_with("https://") {
                message.insert("webpush".into(), json!({"fcm_options": {"link": url}}));
            }
        }
    }

    let high = n.priority == Priority::High;
    let android = json!({
        "priority": if high { "high" } else { "normal" },
        "ttl": format!("{}s", n.ttl_seconds.min(MAX_TTL_SECONDS)),
        "notification": Value::Object(android_notification),
    });

    let mut headers = Map::new();
    headers.insert("apns-priority".into(), json!(if high { "10" } else { "5" }));
    headers.insert("apns-push-type".into(), json!("alert"));
    if let Some(collapse) = n
        .collapse_id
        .as_ref()
        .filter(|c| c.len() <= MAX_APNS_COLLAPSE_ID_BYTES)
    {
        headers.insert("apns-collapse-id".into(), json!(collapse));
    }
    let mut aps = Map::new();
    if let Some(sound) = sound {
        aps.insert("sound".into(), json!(sound));
    }
    if let Some(thread) = &n.thread_id {
        aps.insert("thread-id".into(), json!(thread));
    }
    if n.mutable_content {
        aps.insert("mutable-content".into(), json!(1));
    }
    if let Some(subtitle) = &n.subtitle {
        aps.insert(
            "alert".into(),
            json!({"title": n.title, "body": body, "subtitle": subtitle}),
        );
    }

    if !data.is_empty() {
        message.insert("data".into(), Value::Object(data));
    }
    message.insert("notification".into(), Value::Object(notification));
    message.insert("android".into(), android);
    message.insert(
        "apns".into(),
        json!({"headers": headers, "payload": {"aps": aps}}),
    );
    Value::Object(message)
}

/// The send request for one target.
pub(crate) fn send_request(
    config: &FcmConfig,
    shaped: &FcmMessage,
    target: &Target,
    access_token: &str,
) -> VendorRequest {
    let mut message = shaped.message.clone();
    message["token"] = json!(target.token);
    if let (true, Some(badge)) = (shaped.counts_badge, target.badge) {
        message["apns"]["payload"]["aps"]["badge"] = json!(badge);
        message["android"]["notification"]["notification_count"] = json!(badge);
    }
    VendorRequest::json(
        config.send_url.clone(),
        &json!({"validate_only": false, "message": message}),
    )
    .header("authorization", format!("Bearer {access_token}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FcmConfig {
        FcmConfig {
            project_id: "p-1".into(),
            client_email: "a@p-1.iam.gserviceaccount.com".into(),
            private_key_id: "k".into(),
            signing_key: herald_core::Secret::new(jsonwebtoken::EncodingKey::from_secret(b"unused")),
            token_uri: "https://oauth2.googleapis.com/token".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            send_url: "https://fcm.googleapis.com/v1/projects/p-1/messages:send".into(),
            channel_id: Some("chat".into()),
            click_action: ClickAction::OpenApp,
        }
    }

    fn notification() -> Notification {
        Notification {
            title: "Alice".into(),
            body: "Lunch?".into(),
            ext: Some("{\"c\":1}".into()),
            badge: true,
            ttl_seconds: 9_999_999,
            click_action: ClickAction::OpenPage {
                page: "com.example.OPEN_CHAT".into(),
            },
            ..Notification::default()
        }
    }

    #[test]
    fn chat_goes_on_the_high_priority_lane_with_ext_untouched() {
        let shaped = message(&config(), &notification()).expect("fits");
        let m = &shaped.message;
        assert_eq!(m["android"]["priority"], "high");
        assert_eq!(m["android"]["ttl"], "2419200s", "capped at 28 days");
        assert_eq!(m["android"]["notification"]["channel_id"], "chat");
        assert_eq!(
            m["android"]["notification"]["click_action"],
            "com.example.OPEN_CHAT"
        );
        assert_eq!(m["apns"]["headers"]["apns-priority"], "10");
        assert_eq!(m["data"][EXT_KEY], "{\"c\":1}");
    }

    #[test]
    fn each_target_gets_its_own_token_and_badge() {
        let shaped = message(&config(), &notification()).expect("fits");
        let request = send_request(
            &config(),
            &shaped,
            &Target {
                token: "t1".into(),
                badge: Some(4),
            },
            "ya29",
        );
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body["message"]["token"], "t1");
        assert_eq!(body["message"]["apns"]["payload"]["aps"]["badge"], 4);
        assert_eq!(
            body["message"]["android"]["notification"]["notification_count"],
            4
        );
        assert!(
            request
                .headers
                .contains(&("authorization".into(), "Bearer ya29".into()))
        );
        assert_eq!(
            request.url,
            "https://fcm.googleapis.com/v1/projects/p-1/messages:send"
        );
    }

    #[test]
    fn an_open_url_click_reaches_apps_and_browsers() {
        let mut n = notification();
        n.click_action = ClickAction::OpenUrl {
            url: "https://example.com/c/1".into(),
        };
        let m = message(&config(), &n).expect("fits").message;
        assert_eq!(m["data"][CLICK_URL_KEY], "https://example.com/c/1");
        assert_eq!(m["webpush"]["fcm_options"]["link"], "https://example.com/c/1");
    }
}
