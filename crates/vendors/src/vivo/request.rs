//! vivo message shaping (pure): the vendor-neutral notification becomes vivo's message on the
//! system-message lane (`classification: 1`, `category: IM`), with the click action, TTL and
//! the ext data in `clientCustomMap`. One target goes through `/message/send`; 2–1000 through
//! `/message/saveListPayload` then `/message/pushToList`. Every body carries the integer
//! `appId` and a `requestId` derived from the notification id and the chunk.

use super::config::VivoConfig;
use crate::auth::md5_hex;
use crate::http::VendorRequest;
use crate::limits::truncate_chars;
use herald_core::{ClickAction, Notification, Outcome};
use serde_json::{Map, Value, json};

/// Title limit; current docs count every character as 1 (the old SDK counted CJK as 2, §11).
pub(crate) const MAX_TITLE_CHARS: usize = 40;
/// Content limit, counted the same way. [DOC doc/362]
pub(crate) const MAX_CONTENT_CHARS: usize = 100;
/// `clientCustomMap`: keys and values together. [SDK `Validation`; DOC]
pub(crate) const MAX_CUSTOM_MAP_CHARS: usize = 1024;
/// `skipContent` limit in the current docs (2048; the old SDK 1000/1024).
const MAX_SKIP_CONTENT_CHARS: usize = 2048;
/// `requestId` limit. [DOC]
const MAX_REQUEST_ID_CHARS: usize = 64;
/// Shortest TTL of a single send and of a list push; longest TTL in the current docs (1 day;
/// the old SDK allowed 7 days). [DOC; SDK `Validation`]
const MIN_TTL_SEND: u32 = 60;
const MIN_TTL_LIST: u32 = 900;
const MAX_TTL: u32 = 86_400;
/// The key carrying Herald's ext in `clientCustomMap` (the app reads it back from there).
pub(crate) const EXT_KEY: &str = "ext";

/// Paths. [SDK `Constants`; DOC doc/362]
pub(crate) const SEND_PATH: &str = "/message/send";
pub(crate) const SAVE_LIST_PAYLOAD_PATH: &str = "/message/saveListPayload";
pub(crate) const PUSH_TO_LIST_PATH: &str = "/message/pushToList";

/// A shaped vivo message, before its target and TTL floor are known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VivoMessage {
    /// The message fields shared by every request.
    pub(crate) fields: Map<String, Value>,
    /// Requested lifetime; raised to the floor of the endpoint used.
    pub(crate) ttl_seconds: u32,
    /// Herald's notification id, the seed of every `requestId`.
    pub(crate) notification_id: String,
}

/// The message shared by every chunk, or why it cannot be sent.
pub(crate) fn message(config: &VivoConfig, n: &Notification) -> Result<VivoMessage, Outcome> {
    let mut fields = Map::new();
    fields.insert("appId".into(), json!(config.app_id));
    fields.insert(
        "notifyType".into(),
        json!(if n.sound.as_deref() == Some("none") { 1 } else { 4 }),
    );
    fields.insert("title".into(), json!(truncate_chars(&n.title, MAX_TITLE_CHARS)));
    fields.insert(
        "content".into(),
        json!(truncate_chars(&n.body, MAX_CONTENT_CHARS)),
    );
    skip(config, n, &mut fields)?;
    fields.insert("networkType".into(), json!(-1));
    // IM must be a system message (classification 1); the category must match it (10097).
    let classification = n.classification.or(config.classification).unwrap_or(1);
    fields.insert("classification".into(), json!(classification));
    match n.category.clone().or_else(|| config.category.clone()) {
        Some(category) => {
            fields.insert("category".into(), json!(category));
        }
        None if classification == 1 => {
            fields.insert("category".into(), json!("IM"));
        }
        None => {}
    }
    if let Some(ext) = &n.ext {
        let chars = EXT_KEY.chars().count() + ext.chars().count();
        if chars > MAX_CUSTOM_MAP_CHARS {
            return Err(Outcome::rejected(
                "payload_too_large",
                format!(
                    "vivo limits clientCustomMap (which carries ext) to {MAX_CUSTOM_MAP_CHARS} characters; \
                     this ext needs {chars}"
                ),
            ));
        }
        fields.insert("clientCustomMap".into(), json!({ EXT_KEY: ext }));
    }
    if let Some(collapse) = &n.collapse_id {
        fields.insert("notifyId".into(), json!(notify_id(collapse)));
    }
    fields.insert("pushMode".into(), json!(0));
    Ok(VivoMessage {
        fields,
        ttl_seconds: n.ttl_seconds,
        notification_id: n.id.clone(),
    })
}

/// vivo's skip types: 1 open the app, 2 open a URL, 4 open an in-app page by intent URI.
/// [DOC doc/362; type 3 is obsolete since client SDK 480]
fn skip(config: &VivoConfig, n: &Notification, fields: &mut Map<String, Value>) -> Result<(), Outcome> {
    let action = if n.click_action == ClickAction::OpenApp {
        &config.click_action
    } else {
        &n.click_action
    };
    let (kind, content) = match action {
        ClickAction::OpenUrl { url } => (2, Some(url)),
        ClickAction::OpenPage { page } if page.starts_with("intent:") => (4, Some(page)),
        // vivo opens pages only by intent URI and vivo certificates carry no package name to
        // build one from a class name: the tap opens the app instead.
        ClickAction::OpenApp | ClickAction::OpenPage { .. } => (1, None),
    };
    fields.insert("skipType".into(), json!(kind));
    if let Some(content) = content {
        if content.chars().count() > MAX_SKIP_CONTENT_CHARS {
            return Err(Outcome::rejected(
                "click_action_too_long",
                format!("vivo limits skipContent to {MAX_SKIP_CONTENT_CHARS} characters"),
            ));
        }
        fields.insert("skipContent".into(), json!(content));
    }
    Ok(())
}

/// A stable id in 1..=2147483647 per collapse key: vivo replaces a shown notification with
/// the same `notifyId`.
fn notify_id(collapse: &str) -> u32 {
    let digest = md5_hex(collapse);
    u32::from_str_radix(&digest[..8], 16)
        .map(|id| (id & 0x7fff_ffff).max(1))
        .unwrap_or(1)
}

/// A `requestId` unique per request yet the same when the same chunk is sent again, so vivo
/// can recognise a resend: the notification id plus a digest of the step and the targets.
pub(crate) fn request_id(notification_id: &str, step: &str, tokens: &[&str]) -> String {
    let chunk = md5_hex(&format!("{step}:{}", tokens.join(",")));
    let id = format!("{notification_id}-{}", &chunk[..16]);
    if id.chars().count() <= MAX_REQUEST_ID_CHARS {
        id
    } else {
        format!("{}-{}", md5_hex(notification_id), &chunk[..16])
    }
}

fn with_auth(request: VendorRequest, auth_token: &str) -> VendorRequest {
    // vivo reads the token from the `authToken` header, not `Authorization`. [SDK `HttpUtil`]
    request.header("authtoken", auth_token)
}

/// `/message/send` for one target.
pub(crate) fn send_request(
    config: &VivoConfig,
    message: &VivoMessage,
    token: &str,
    auth_token: &str,
) -> VendorRequest {
    let mut body = message.fields.clone();
    body.insert("regId".into(), json!(token));
    body.insert(
        "timeToLive".into(),
        json!(message.ttl_seconds.clamp(MIN_TTL_SEND, MAX_TTL)),
    );
    body.insert(
        "requestId".into(),
        json!(request_id(&message.notification_id, "send", &[token])),
    );
    with_auth(
        VendorRequest::json(format!("{}{SEND_PATH}", config.push_url), &Value::Object(body)),
        auth_token,
    )
}

/// `/message/saveListPayload`: stores the message of a list push and answers its `taskId`.
pub(crate) fn save_list_payload_request(
    config: &VivoConfig,
    message: &VivoMessage,
    tokens: &[&str],
    auth_token: &str,
) -> VendorRequest {
    let mut body = message.fields.clone();
    body.remove("pushMode");
    body.insert(
        "timeToLive".into(),
        json!(message.ttl_seconds.clamp(MIN_TTL_LIST, MAX_TTL)),
    );
    body.insert(
        "requestId".into(),
        json!(request_id(&message.notification_id, "payload", tokens)),
    );
    with_auth(
        VendorRequest::json(
            format!("{}{SAVE_LIST_PAYLOAD_PATH}", config.push_url),
            &Value::Object(body),
        ),
        auth_token,
    )
}

/// `/message/pushToList`: sends a saved message to 2–1000 regIds.
pub(crate) fn push_to_list_request(
    config: &VivoConfig,
    message: &VivoMessage,
    task_id: &str,
    tokens: &[&str],
    auth_token: &str,
) -> VendorRequest {
    let body = json!({
        "appId": config.app_id,
        "regIds": tokens,
        "taskId": task_id,
        "requestId": request_id(&message.notification_id, "list", tokens),
        "pushMode": 0,
    });
    with_auth(
        VendorRequest::json(format!("{}{PUSH_TO_LIST_PATH}", config.push_url), &body),
        auth_token,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> VivoConfig {
        VivoConfig {
            app_id: 10004,
            app_key: "k".into(),
            app_secret: herald_core::Secret::new("s".into()),
            auth_url: "http://x/message/auth".into(),
            push_url: "http://x".into(),
            classification: None,
            category: None,
            click_action: ClickAction::OpenApp,
        }
    }

    #[test]
    fn chat_is_a_system_message_in_the_im_category_with_an_integer_app_id() {
        let n = Notification {
            id: "m1".into(),
            title: "t".into(),
            body: "b".into(),
            ..Notification::default()
        };
        let message = message(&config(), &n).expect("shaped");
        assert_eq!(message.fields["classification"], 1);
        assert_eq!(message.fields["category"], "IM");
        assert_eq!(message.fields["appId"], json!(10004));
        let request = send_request(&config(), &message, "12345678901234567890123", "tok");
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body["timeToLive"], 60);
        assert!(request.headers.contains(&("authtoken".into(), "tok".into())));
    }

    #[test]
    fn request_ids_are_deterministic_unique_per_chunk_and_short() {
        let a = request_id("msg-1", "send", &["t1"]);
        assert_eq!(a, request_id("msg-1", "send", &["t1"]));
        assert_ne!(a, request_id("msg-1", "send", &["t2"]));
        assert_ne!(
            request_id("msg-1", "payload", &["t1", "t2"]),
            request_id("msg-1", "list", &["t1", "t2"])
        );
        assert!(a.starts_with("msg-1-"));
        assert!(request_id(&"x".repeat(100), "send", &["t"]).chars().count() <= MAX_REQUEST_ID_CHARS);
    }

    #[test]
    fn ext_over_the_custom_map_limit_is_refused() {
        let n = Notification {
            ext: Some("x".repeat(1100)),
            ..Notification::default()
        };
        assert!(
            matches!(message(&config(), &n), Err(Outcome::Rejected { code, .. }) if code == "payload_too_large")
        );
    }
}
