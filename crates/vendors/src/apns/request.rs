//! APNs request shaping (pure): one `POST /3/device/{token}` per device with the provider JWT,
//! `apns-topic` = bundle id and the instant-message headers (`apns-push-type: alert`,
//! `apns-priority: 10`), and a JSON payload whose `aps.alert` carries title, subtitle and body.
//! App data (`ext`) and a non-default click action travel as custom top-level keys, because
//! APNs has no server-side click action: the app routes on them. [DOC: vendor fact sheet §1.3,
//! §1.4, §1.6]

use super::config::{ApnsAuth, ApnsConfig};
use crate::auth::{now_seconds, sha256_hex};
use crate::http::VendorRequest;
use crate::limits::shrink_bytes;
use herald_core::{ClickAction, Notification, Outcome, Priority, Target};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Payload limit for every push type but VoIP. [3P: node-apn issue #31 quoting Apple]
pub(crate) const MAX_PAYLOAD_BYTES: usize = 4096;
/// Longer collapse ids are refused with `400 BadCollapseId`. [3P: docs.rs `a2` `CollapseId`]
const MAX_COLLAPSE_ID_BYTES: usize = 64;
/// The widest badge number, held in the payload while it is fitted so that the target's real
/// number (set per device) can never push it over the limit.
const BADGE_PLACEHOLDER: u32 = u32::MAX;

/// The shaped alert, shared by every device of one send; only the badge differs per device.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApnsAlert {
    /// The JSON payload (without a badge number).
    pub(crate) payload: Value,
    /// Whether the badge is set to the target's number.
    pub(crate) badge: bool,
    /// `apns-id`, `apns-priority`, `apns-expiration`, `apns-collapse-id`.
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// Shapes the alert, shrinking body, then subtitle, then title until the payload fits 4096
/// bytes; refuses it when the app data alone does not fit.
pub(crate) fn alert(config: &ApnsConfig, n: &Notification) -> Result<ApnsAlert, Outcome> {
    if payload(config, n, ["", "", ""]).to_string().len() > MAX_PAYLOAD_BYTES {
        return Err(Outcome::rejected(
            "payload_too_large",
            format!(
                "APNs payloads are limited to {MAX_PAYLOAD_BYTES} bytes; the ext data alone exceeds the limit"
            ),
        ));
    }
    // Title, subtitle, body: the last non-empty one is cut first.
    let mut texts = [
        n.title.clone(),
        n.subtitle.clone().unwrap_or_default(),
        n.body.clone(),
    ];
    loop {
        let shaped = payload(config, n, [&texts[0], &texts[1], &texts[2]]);
        let size = shaped.to_string().len();
        if size <= MAX_PAYLOAD_BYTES {
            let mut shaped = shaped;
            if let Some(aps) = shaped["aps"].as_object_mut() {
                aps.remove("badge");
            }
            return Ok(ApnsAlert {
                payload: shaped,
                badge: n.badge,
                headers: headers(n),
            });
        }
        if let Some(text) = texts.iter_mut().rev().find(|t| !t.is_empty()) {
            *text = shrink_bytes(text, size - MAX_PAYLOAD_BYTES).unwrap_or_default();
        }
    }
}

fn payload(config: &ApnsConfig, n: &Notification, [title, subtitle, body]: [&str; 3]) -> Value {
    let mut alert = Map::new();
    if !title.is_empty() {
        alert.insert("title".into(), json!(title));
    }
    if !subtitle.is_empty() {
        alert.insert("subtitle".into(), json!(subtitle));
    }
    alert.insert("body".into(), json!(body));
    let mut aps = Map::new();
    aps.insert("alert".into(), Value::Object(alert));
    if n.badge {
        aps.insert("badge".into(), json!(BADGE_PLACEHOLDER));
    }
    // Omitting `sound` makes the alert silent. [DOC: vendor fact sheet §1.4]
    match n.sound.as_deref().or(config.sound.as_deref()) {
        Some("none") => {}
        Some(sound) => {
            aps.insert("sound".into(), json!(sound));
        }
        None => {
            aps.insert("sound".into(), json!("default"));
        }
    }
    if let Some(thread) = &n.thread_id {
        aps.insert("thread-id".into(), json!(thread));
    }
    if let Some(category) = n.category.as_ref().or(config.category.as_ref()) {
        aps.insert("category".into(), json!(category));
    }
    if n.mutable_content {
        aps.insert("mutable-content".into(), json!(1));
    }
    let mut root = Map::new();
    root.insert("aps".into(), Value::Object(aps));
    if let Some(ext) = &n.ext {
        root.insert("ext".into(), json!(ext));
    }
    let click = if n.click_action == ClickAction::OpenApp {
        &config.click_action
    } else {
        &n.click_action
    };
    if *click != ClickAction::OpenApp {
        root.insert("click".into(), json!(click));
    }
    Value::Object(root)
}

fn headers(n: &Notification) -> Vec<(&'static str, String)> {
    let priority = match n.priority {
        Priority::High => "10",
        Priority::Normal => "5",
    };
    // `0` means "deliver once, do not store". [DOC: vendor fact sheet §1.3]
    let expiration = if n.ttl_seconds == 0 {
        0
    } else {
        now_seconds() + i64::from(n.ttl_seconds)
    };
    let mut headers = vec![
        ("apns-id", apns_id(&n.id)),
        ("apns-priority", priority.to_string()),
        ("apns-expiration", expiration.to_string()),
    ];
    if let Some(collapse) = &n.collapse_id {
        headers.push(("apns-collapse-id", collapse_id(collapse)));
    }
    headers
}

/// A collapse id over 64 bytes is replaced by its SHA-256 (64 hex digits): still one id per
/// value, never a `400 BadCollapseId`.
fn collapse_id(id: &str) -> String {
    if id.len() <= MAX_COLLAPSE_ID_BYTES {
        id.to_string()
    } else {
        sha256_hex(id)
    }
}

/// The notification id as a canonical lower-case UUID (name-based, RFC 9562 version 8 over
/// SHA-256): the same notification always gets the same `apns-id`, which is how APNs and
/// Apple's delivery log name it.
pub(crate) fn apns_id(notification_id: &str) -> String {
    let digest = Sha256::digest(notification_id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The request for one device. With certificate auth the TLS client certificate authenticates
/// and no `authorization` header is sent.
pub(crate) fn send_request(
    config: &ApnsConfig,
    alert: &ApnsAlert,
    target: &Target,
    provider_token: &str,
) -> VendorRequest {
    let mut payload = alert.payload.clone();
    if let (true, Some(badge), Some(aps)) = (alert.badge, target.badge, payload["aps"].as_object_mut()) {
        aps.insert("badge".into(), json!(badge));
    }
    let mut request = VendorRequest::json(format!("{}/3/device/{}", config.push_url, target.token), &payload);
    if let ApnsAuth::Token(_) = config.auth {
        request = request.header("authorization", format!("bearer {provider_token}"));
    }
    request = request
        .header("apns-topic", config.bundle_id.clone())
        .header("apns-push-type", "alert");
    for (name, value) in &alert.headers {
        request = request.header(name, value.clone());
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apns::config::ApnsTokenKey;

    fn config() -> ApnsConfig {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/keys/apns_p8.pem"
        ))
        .expect("testdata");
        ApnsConfig {
            bundle_id: "com.example.chat".into(),
            push_url: "https://api.sandbox.push.apple.com".into(),
            auth: ApnsAuth::Token(ApnsTokenKey {
                team_id: "ABCDE12345".into(),
                key_id: "KEY1234567".into(),
                signing_key: herald_core::Secret::new(
                    jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).expect("p8"),
                ),
            }),
            category: None,
            sound: None,
            click_action: ClickAction::OpenApp,
        }
    }

    fn chat() -> Notification {
        Notification {
            id: "msg-1".into(),
            title: "Alice".into(),
            body: "Hi".into(),
            ext: Some(r#"{"conversation":"c1"}"#.into()),
            badge: true,
            thread_id: Some("c1".into()),
            collapse_id: Some("msg-1".into()),
            mutable_content: true,
            ttl_seconds: 60,
            ..Notification::default()
        }
    }

    fn header<'a>(request: &'a VendorRequest, name: &str) -> Option<&'a str> {
        request
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_chat_alert_goes_on_the_instant_lane_with_the_devices_badge() {
        let config = config();
        let alert = alert(&config, &chat()).expect("fits");
        let target = Target {
            token: "ab".repeat(32),
            badge: Some(3),
        };
        let request = send_request(&config, &alert, &target, "jwt");
        assert_eq!(
            request.url,
            format!("https://api.sandbox.push.apple.com/3/device/{}", "ab".repeat(32))
        );
        assert_eq!(header(&request, "authorization"), Some("bearer jwt"));
        assert_eq!(header(&request, "apns-topic"), Some("com.example.chat"));
        assert_eq!(header(&request, "apns-push-type"), Some("alert"));
        assert_eq!(header(&request, "apns-priority"), Some("10"));
        assert_eq!(header(&request, "apns-collapse-id"), Some("msg-1"));
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(
            body,
            json!({"aps": {"alert": {"title": "Alice", "body": "Hi"}, "badge": 3, "sound": "default",
                           "thread-id": "c1", "mutable-content": 1},
                   "ext": r#"{"conversation":"c1"}"#})
        );
        let no_badge = send_request(&config, &alert, &Target::new("ab".repeat(32)), "jwt");
        assert!(
            serde_json::from_slice::<Value>(&no_badge.body).expect("json")["aps"]
                .get("badge")
                .is_none()
        );
    }

    #[test]
    fn certificate_auth_sends_no_authorization_header_and_keeps_the_topic() {
        let p12 = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/keys/apns_p12.b64"
        ))
        .expect("testdata");
        let mut config = config();
        config.auth = ApnsAuth::Certificate(crate::apns::certificate::open_p12(&p12, "secret").expect("p12"));
        let alert = alert(&config, &chat()).expect("fits");
        let request = send_request(&config, &alert, &Target::new("ab".repeat(32)), "");
        assert_eq!(header(&request, "authorization"), None);
        assert_eq!(header(&request, "apns-topic"), Some("com.example.chat"));
    }

    #[test]
    fn silent_sound_normal_priority_and_click_are_shaped() {
        let mut n = chat();
        n.sound = Some("none".into());
        n.priority = Priority::Normal;
        n.click_action = ClickAction::OpenUrl {
            url: "https://example.com/c1".into(),
        };
        n.collapse_id = Some("c".repeat(65));
        let alert = alert(&config(), &n).expect("fits");
        assert!(alert.payload["aps"].get("sound").is_none());
        assert_eq!(
            alert.payload["click"],
            json!({"type": "open_url", "url": "https://example.com/c1"})
        );
        let headers: std::collections::HashMap<_, _> = alert.headers.iter().cloned().collect();
        assert_eq!(headers["apns-priority"], "5");
        assert_eq!(
            headers["apns-collapse-id"].len(),
            64,
            "a long collapse id is hashed to 64 bytes"
        );
    }

    #[test]
    fn the_apns_id_is_a_stable_canonical_uuid() {
        let id = apns_id("msg-1");
        assert_eq!(id, apns_id("msg-1"));
        assert_ne!(id, apns_id("msg-2"));
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(id, id.to_lowercase());
        assert_eq!(&id[14..15], "8", "version 8 (name-based, SHA-256)");
    }

    #[test]
    fn a_long_body_is_cut_to_fit_4096_bytes_and_huge_ext_is_refused() {
        let mut n = chat();
        n.body = "消息😀".repeat(1000);
        let alert = alert(&config(), &n).expect("fits");
        let request = send_request(
            &config(),
            &alert,
            &Target {
                token: "ab".repeat(32),
                badge: Some(u32::MAX),
            },
            "jwt",
        );
        assert!(request.body.len() <= MAX_PAYLOAD_BYTES);
        assert!(
            alert.payload["aps"]["alert"]["body"]
                .as_str()
                .expect("body")
                .ends_with('…')
        );
        n.ext = Some("x".repeat(MAX_PAYLOAD_BYTES));
        assert!(
            matches!(super::alert(&config(), &n), Err(Outcome::Rejected { code, .. }) if code == "payload_too_large")
        );
    }
}
