//! Web Push request shaping (pure): the notification becomes a small JSON document for the
//! app's service worker (`title`, `body`, `ext`, `click`…), encrypted per subscription and
//! POSTed to the subscription's endpoint with `TTL`, `Urgency`, `Topic` and the VAPID
//! `Authorization`. [DOC: RFC 8030 §5, vendor fact sheet §9.1]

use super::config::WebpushConfig;
use super::encrypt::{HEADER_BYTES, TAG_BYTES};
use crate::http::VendorRequest;
use crate::limits::shrink_bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::{ClickAction, Notification, Outcome, Priority};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Push services must accept bodies of 4096 bytes; the encryption header, the record
/// delimiter and the tag leave 3993 bytes of plaintext. [DOC: RFC 8291 §4]
pub(crate) const MAX_PLAINTEXT_BYTES: usize = 4096 - HEADER_BYTES - 1 - TAG_BYTES;
/// `Topic` is at most 32 characters of the URL-safe base64 alphabet. [DOC: RFC 8030 §5.4]
const MAX_TOPIC_CHARS: usize = 32;

/// The plaintext and headers shared by every subscription of one send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WebpushMessage {
    /// The JSON document the service worker receives.
    pub(crate) plaintext: Vec<u8>,
    /// `TTL`, `Urgency` and (with a collapse id) `Topic`.
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// A browser's `PushSubscription` as stored for the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WebpushSubscription {
    pub(crate) endpoint: String,
    /// The push service's origin: the VAPID `aud`.
    pub(crate) origin: String,
    pub(crate) p256dh: Vec<u8>,
    pub(crate) auth: Vec<u8>,
}

/// Reads the stored subscription JSON (`{"endpoint", "keys": {"p256dh", "auth"}}`).
pub(crate) fn subscription(token: &str) -> Result<WebpushSubscription, String> {
    let value: Value =
        serde_json::from_str(token).map_err(|_| "the token is not a subscription JSON object".to_string())?;
    let endpoint = value["endpoint"]
        .as_str()
        .ok_or("the subscription has no endpoint")?;
    let url = url::Url::parse(endpoint).map_err(|_| "the subscription endpoint is not a URL".to_string())?;
    let key = |name: &str| {
        let text = value["keys"][name]
            .as_str()
            .ok_or(format!("the subscription has no keys.{name}"))?;
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| format!("keys.{name} is not base64url"))
    };
    Ok(WebpushSubscription {
        endpoint: endpoint.to_string(),
        origin: url.origin().ascii_serialization(),
        p256dh: key("p256dh")?,
        auth: key("auth")?,
    })
}

/// Shapes the message, shrinking body, then subtitle, then title until the plaintext fits;
/// refuses it when the app data alone does not fit.
pub(crate) fn message(config: &WebpushConfig, n: &Notification) -> Result<WebpushMessage, Outcome> {
    if document(config, n, ["", "", ""]).to_string().len() > MAX_PLAINTEXT_BYTES {
        return Err(Outcome::rejected(
            "payload_too_large",
            format!(
                "Web Push messages are limited to {MAX_PLAINTEXT_BYTES} bytes before encryption; the ext data alone exceeds the limit"
            ),
        ));
    }
    let mut texts = [
        n.title.clone(),
        n.subtitle.clone().unwrap_or_default(),
        n.body.clone(),
    ];
    loop {
        let plaintext = document(config, n, [&texts[0], &texts[1], &texts[2]]).to_string();
        if plaintext.len() <= MAX_PLAINTEXT_BYTES {
            return Ok(WebpushMessage {
                plaintext: plaintext.into_bytes(),
                headers: headers(n),
            });
        }
        let excess = plaintext.len() - MAX_PLAINTEXT_BYTES;
        if let Some(text) = texts.iter_mut().rev().find(|t| !t.is_empty()) {
            *text = shrink_bytes(text, excess).unwrap_or_default();
        }
    }
}

fn document(config: &WebpushConfig, n: &Notification, [title, subtitle, body]: [&str; 3]) -> Value {
    let mut doc = Map::new();
    doc.insert("id".into(), json!(n.id));
    doc.insert("title".into(), json!(title));
    if !subtitle.is_empty() {
        doc.insert("subtitle".into(), json!(subtitle));
    }
    doc.insert("body".into(), json!(body));
    if let Some(ext) = &n.ext {
        doc.insert("ext".into(), json!(ext));
    }
    let click = if n.click_action == ClickAction::OpenApp {
        &config.click_action
    } else {
        &n.click_action
    };
    doc.insert("click".into(), json!(click));
    // The browser's notification `tag` replaces an earlier one with the same tag.
    if let Some(tag) = n.collapse_id.as_ref().or(n.thread_id.as_ref()) {
        doc.insert("tag".into(), json!(tag));
    }
    if let Some(image) = &n.image {
        doc.insert("image".into(), json!(image));
    }
    if n.sound.as_deref().or(config.sound.as_deref()) == Some("none") {
        doc.insert("silent".into(), json!(true));
    }
    Value::Object(doc)
}

fn headers(n: &Notification) -> Vec<(&'static str, String)> {
    // Chat is `high`: the push service wakes the device. [DOC: RFC 8030 §5.3]
    let urgency = match n.priority {
        Priority::High => "high",
        Priority::Normal => "normal",
    };
    let mut headers = vec![
        ("ttl", n.ttl_seconds.to_string()),
        ("urgency", urgency.to_string()),
    ];
    if let Some(collapse) = &n.collapse_id {
        headers.push(("topic", topic(collapse)));
    }
    headers
}

/// The collapse id as a `Topic`: kept when it already is one, otherwise the first 32
/// characters of its base64url SHA-256.
fn topic(collapse: &str) -> String {
    let usable = !collapse.is_empty()
        && collapse.len() <= MAX_TOPIC_CHARS
        && collapse
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if usable {
        collapse.to_string()
    } else {
        URL_SAFE_NO_PAD.encode(Sha256::digest(collapse.as_bytes()))[..MAX_TOPIC_CHARS].to_string()
    }
}

/// The request for one subscription, with the body already encrypted for it.
pub(crate) fn send_request(
    message: &WebpushMessage,
    subscription: &WebpushSubscription,
    encrypted: Vec<u8>,
    authorization: String,
) -> VendorRequest {
    let mut headers: Vec<(String, String)> = message
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    headers.push(("content-encoding".into(), "aes128gcm".into()));
    headers.push(("content-type".into(), "application/octet-stream".into()));
    headers.push(("authorization".into(), authorization));
    VendorRequest {
        method: "POST",
        url: subscription.endpoint.clone(),
        headers,
        body: encrypted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WebpushConfig {
        let secret = p256::SecretKey::from_slice(&[7; 32]).expect("key");
        let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret).expect("der");
        WebpushConfig {
            public_key: "BPUBLIC".into(),
            signing_key: herald_core::Secret::new(jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes())),
            subject: "mailto:ops@example.com".into(),
            sound: None,
            click_action: ClickAction::OpenApp,
        }
    }

    fn chat() -> Notification {
        Notification {
            id: "msg-1".into(),
            title: "Alice".into(),
            body: "Hi".into(),
            ext: Some("e".into()),
            collapse_id: Some("msg-1".into()),
            ttl_seconds: 60,
            ..Notification::default()
        }
    }

    #[test]
    fn the_message_carries_title_body_ext_click_and_the_rfc_8030_headers() {
        let message = message(&config(), &chat()).expect("fits");
        let doc: Value = serde_json::from_slice(&message.plaintext).expect("json");
        assert_eq!(
            doc,
            json!({"id": "msg-1", "title": "Alice", "body": "Hi", "ext": "e", "click": {"type": "open_app"}, "tag": "msg-1"})
        );
        assert_eq!(
            message.headers,
            vec![
                ("ttl", "60".to_string()),
                ("urgency", "high".to_string()),
                ("topic", "msg-1".to_string())
            ]
        );
        let subscription = WebpushSubscription {
            endpoint: "https://push.example.net/wpush/v2/abc".into(),
            origin: "https://push.example.net".into(),
            p256dh: Vec::new(),
            auth: Vec::new(),
        };
        let request = send_request(&message, &subscription, vec![1, 2], "vapid t=x, k=y".into());
        assert_eq!(request.url, "https://push.example.net/wpush/v2/abc");
        assert!(
            request
                .headers
                .contains(&("content-encoding".into(), "aes128gcm".into()))
        );
        assert!(
            request
                .headers
                .contains(&("authorization".into(), "vapid t=x, k=y".into()))
        );
    }

    #[test]
    fn topics_use_the_url_safe_alphabet_and_32_characters_at_most() {
        assert_eq!(topic("msg-1"), "msg-1");
        let hashed = topic("conversation:alice/with spaces and more than 32 chars");
        assert_eq!(hashed.len(), 32);
        assert!(
            hashed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn the_plaintext_fits_3993_bytes_or_is_refused() {
        let mut n = chat();
        n.body = "消息😀".repeat(1000);
        let message = message(&config(), &n).expect("fits");
        assert!(message.plaintext.len() <= MAX_PLAINTEXT_BYTES);
        assert_eq!(MAX_PLAINTEXT_BYTES, 3993);
        n.ext = Some("x".repeat(4000));
        assert!(
            matches!(super::message(&config(), &n), Err(Outcome::Rejected { code, .. }) if code == "payload_too_large")
        );
    }

    #[test]
    fn subscriptions_are_read_with_their_origin() {
        let sub = subscription(
            r#"{"endpoint":"http://127.0.0.1:9000/push/a","keys":{"p256dh":"BAAA","auth":"AAAA"}}"#,
        )
        .expect("subscription");
        assert_eq!(sub.origin, "http://127.0.0.1:9000");
        assert!(subscription("not json").is_err());
    }
}
