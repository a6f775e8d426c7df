//! OPPO message shaping (pure): the vendor-neutral notification becomes OPPO's `notification`
//! object on the private (communication & service) lane — `channel_id`, `category: IM`,
//! `notify_level: 2` — with the click action and offline TTL. One target goes through
//! `unicast`, several through `unicast_batch` (one message per target, up to 1000).

use super::config::OppoConfig;
use crate::auth::md5_hex;
use crate::http::VendorRequest;
use crate::limits::truncate_chars;
use herald_core::{ClickAction, Notification, Outcome};
use serde_json::{Map, Value, json};

/// Title limit, every character counts 1. [SDK `Notification.validate`; DOC id=11236]
pub(crate) const MAX_TITLE_CHARS: usize = 50;
/// Content limit of the standard style (style 1). [SDK 200; doc copies differ, see §11]
pub(crate) const MAX_CONTENT_CHARS: usize = 200;
/// `action_parameters` limit (the ext data). [DOC id=11236]
pub(crate) const MAX_ACTION_PARAMETERS_CHARS: usize = 4000;
/// `click_action_activity` limit. [DOC id=11236]
const MAX_ACTIVITY_CHARS: usize = 500;
/// `click_action_url` limit. [DOC id=11236]
const MAX_URL_CHARS: usize = 2000;
/// Longest offline storage: 10 days. [DOC id=11236]
const MAX_OFFLINE_TTL_SECONDS: u32 = 864_000;
/// Chat goes to the private channel at "shade + lock screen"; 16 (banner) needs OPPO's approval.
const DEFAULT_NOTIFY_LEVEL: u8 = 2;
/// The communication & service category for chat.
const DEFAULT_CATEGORY: &str = "IM";
/// `target_type` of a registration id. [SDK `TargetType.REGISTRATION_ID`]
const TARGET_REGISTRATION_ID: u8 = 2;

/// Unicast path (one target). [SDK `RequestPath.NOTIFICATION_UNICAST`]
pub(crate) const UNICAST_PATH: &str = "/server/v1/message/notification/unicast";
/// Batch path (≤ 1000 messages). [SDK `RequestPath.NOTIFICATION_UNICAST_BATCH`]
pub(crate) const UNICAST_BATCH_PATH: &str = "/server/v1/message/notification/unicast_batch";

/// The `notification` object shared by every target, or why it cannot be sent.
pub(crate) fn notification(config: &OppoConfig, n: &Notification) -> Result<Value, Outcome> {
    if let Some(ext) = &n.ext {
        // DESIGN.md §2: OPPO requires ext to be a JSON object (it is sent as
        // `action_parameters`, which OPPO parses as one) — refuse anything else clearly.
        if !matches!(serde_json::from_str::<Value>(ext), Ok(Value::Object(_))) {
            return Err(Outcome::rejected(
                "ext_not_json_object",
                "OPPO requires ext to be a JSON object (it is delivered as action_parameters); \
                 send ext as an object such as {\"conversation\":\"c1\"}",
            ));
        }
        let chars = ext.chars().count();
        if chars > MAX_ACTION_PARAMETERS_CHARS {
            return Err(Outcome::rejected(
                "payload_too_large",
                format!(
                    "OPPO limits action_parameters (the ext data) to {MAX_ACTION_PARAMETERS_CHARS} characters; \
                     this ext has {chars}"
                ),
            ));
        }
    }
    let mut body = Map::new();
    body.insert("title".into(), json!(truncate_chars(&n.title, MAX_TITLE_CHARS)));
    body.insert(
        "content".into(),
        json!(truncate_chars(&n.body, MAX_CONTENT_CHARS)),
    );
    body.insert("style".into(), json!(1));
    click(config, n, &mut body)?;
    if let Some(ext) = &n.ext {
        body.insert("action_parameters".into(), json!(ext));
    }
    if let Some(channel) = n.channel_id.as_ref().or(config.channel_id.as_ref()) {
        body.insert("channel_id".into(), json!(channel));
    }
    let category = n
        .category
        .clone()
        .or_else(|| config.category.clone())
        .unwrap_or_else(|| DEFAULT_CATEGORY.into());
    body.insert("category".into(), json!(category));
    // notify_level requires a category (code 67 otherwise), which is always set above.
    let level = n
        .notify_level
        .or(config.notify_level)
        .unwrap_or(DEFAULT_NOTIFY_LEVEL);
    body.insert("notify_level".into(), json!(level));
    body.insert("off_line".into(), json!(true));
    body.insert(
        "off_line_ttl".into(),
        json!(n.ttl_seconds.clamp(1, MAX_OFFLINE_TTL_SECONDS)),
    );
    if let Some(collapse) = &n.collapse_id {
        body.insert("notify_id".into(), json!(notify_id(collapse)));
    }
    Ok(Value::Object(body))
}

/// OPPO's click types: 0 launch the app, 2 web page, 4 activity by full class name, 5 intent
/// URI. [SDK `Notification.clickActionType`; DOC id=11236]
fn click(config: &OppoConfig, n: &Notification, body: &mut Map<String, Value>) -> Result<(), Outcome> {
    let action = if n.click_action == ClickAction::OpenApp {
        &config.click_action
    } else {
        &n.click_action
    };
    let too_long = |what: &str, max: usize| {
        Err(Outcome::rejected(
            "click_action_too_long",
            format!("OPPO limits {what} to {max} characters"),
        ))
    };
    match action {
        ClickAction::OpenUrl { url } if url.chars().count() > MAX_URL_CHARS => {
            return too_long("click_action_url", MAX_URL_CHARS);
        }
        ClickAction::OpenUrl { url } => {
            body.insert("click_action_type".into(), json!(2));
            body.insert("click_action_url".into(), json!(url));
        }
        ClickAction::OpenPage { page } if page.starts_with("intent:") => {
            if page.chars().count() > MAX_URL_CHARS {
                return too_long("click_action_url", MAX_URL_CHARS);
            }
            body.insert("click_action_type".into(), json!(5));
            body.insert("click_action_url".into(), json!(page));
        }
        // A fully qualified class. A relative one (`.ChatActivity`) cannot be resolved: OPPO
        // certificates carry no package name, so the tap opens the app instead.
        ClickAction::OpenPage { page } if !page.starts_with('.') => {
            if page.chars().count() > MAX_ACTIVITY_CHARS {
                return too_long("click_action_activity", MAX_ACTIVITY_CHARS);
            }
            body.insert("click_action_type".into(), json!(4));
            body.insert("click_action_activity".into(), json!(page));
        }
        ClickAction::OpenApp | ClickAction::OpenPage { .. } => {
            body.insert("click_action_type".into(), json!(0));
        }
    }
    Ok(())
}

/// A stable positive id per collapse key: OPPO replaces a shown notification with the same
/// `notify_id`.
fn notify_id(collapse: &str) -> u32 {
    let digest = md5_hex(collapse);
    u32::from_str_radix(&digest[..8], 16)
        .map(|id| (id & 0x7fff_ffff).max(1))
        .unwrap_or(1)
}

fn message(notification: &Value, token: &str) -> Value {
    json!({"target_type": TARGET_REGISTRATION_ID, "target_value": token, "notification": notification})
}

/// The send request for a chunk: `unicast` for one target, `unicast_batch` for several. The
/// auth token travels as the form field, as the official SDK sends it.
pub(crate) fn send_request(
    config: &OppoConfig,
    notification: &Value,
    tokens: &[&str],
    auth_token: &str,
) -> VendorRequest {
    match tokens {
        [token] => VendorRequest::form(
            format!("{}{UNICAST_PATH}", config.push_url),
            &[
                ("auth_token", auth_token),
                ("message", &message(notification, token).to_string()),
            ],
        ),
        _ => {
            let messages: Vec<Value> = tokens.iter().map(|t| message(notification, t)).collect();
            VendorRequest::form(
                format!("{}{UNICAST_BATCH_PATH}", config.push_url),
                &[
                    ("auth_token", auth_token),
                    ("messages", &Value::Array(messages).to_string()),
                ],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OppoConfig {
        OppoConfig {
            app_key: "k".into(),
            master_secret: herald_core::Secret::new("s".into()),
            auth_url: "http://x/server/v1/auth".into(),
            push_url: "http://x".into(),
            channel_id: Some("chat".into()),
            category: None,
            notify_level: None,
            click_action: ClickAction::OpenApp,
        }
    }

    #[test]
    fn chat_goes_to_the_private_lane_and_ext_becomes_action_parameters() {
        let n = Notification {
            title: "t".into(),
            body: "b".into(),
            ext: Some(r#"{"a":1}"#.into()),
            ..Notification::default()
        };
        let body = notification(&config(), &n).expect("shaped");
        assert_eq!(body["category"], "IM");
        assert_eq!(body["notify_level"], 2);
        assert_eq!(body["channel_id"], "chat");
        assert_eq!(body["action_parameters"], r#"{"a":1}"#);
        assert_eq!(body["click_action_type"], 0);
    }

    #[test]
    fn ext_that_is_not_a_json_object_is_refused() {
        for ext in ["plain text", "[1,2]", "42"] {
            let n = Notification {
                ext: Some(ext.into()),
                ..Notification::default()
            };
            match notification(&config(), &n) {
                Err(Outcome::Rejected { code, .. }) => assert_eq!(code, "ext_not_json_object"),
                other => panic!("{ext}: {other:?}"),
            }
        }
    }

    #[test]
    fn one_target_is_a_unicast_and_several_a_batch() {
        let body = json!({"title": "t"});
        assert!(
            send_request(&config(), &body, &["a"], "tok")
                .url
                .ends_with(UNICAST_PATH)
        );
        assert!(
            send_request(&config(), &body, &["a", "b"], "tok")
                .url
                .ends_with(UNICAST_BATCH_PATH)
        );
    }
}
