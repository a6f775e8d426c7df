//! Xiaomi message shaping (pure): the vendor-neutral notification becomes MiPush form fields
//! (`title` < 50 and `description` < 128 characters, `payload` = `ext` untouched), on the
//! private-message channel (`extra.channel_id`) that chat must use, with the click as
//! `extra.notify_effect`; one request carries up to 1000 regIds joined by `,`.
//! [DOC+SDK: vendor-apis.md §5.4]

use super::auth::authorization;
use super::config::XiaomiConfig;
use crate::cert::activity_intent;
use crate::http::VendorRequest;
use crate::limits::truncate_chars;
use herald_core::{ClickAction, Notification, Outcome};

/// Title must be shorter than 50 characters (each CJK or Latin character counts 1).
pub(crate) const MAX_TITLE_CHARS: usize = 49;
/// Description must be shorter than 128 characters.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 127;
/// Byte limit on `payload`, the only field `ext` lands in. [UNCONFIRMED: vendor-apis.md §11,
/// the limit comes from third-party code]
pub(crate) const MAX_PAYLOAD_BYTES: usize = 4096;
/// Longest retention: two weeks, in milliseconds (also Xiaomi's default).
const MAX_TTL_MILLIS: u64 = 14 * 24 * 3600 * 1000;
/// `notify_type` = every default (sound, vibration, lights).
const NOTIFY_ALL_DEFAULTS: &str = "-1";
/// `notify_type` for a silent notification: lights only.
const NOTIFY_SILENT: &str = "4";

/// The form fields of a message, without the regIds.
pub(crate) type XiaomiFields = Vec<(String, String)>;

/// The message fields, within Xiaomi's limits.
pub(crate) fn message(config: &XiaomiConfig, n: &Notification) -> Result<XiaomiFields, Outcome> {
    if let Some(ext) = &n.ext
        && ext.len() > MAX_PAYLOAD_BYTES
    {
        return Err(Outcome::rejected(
            "payload_too_large",
            format!(
                "Xiaomi limits payload to {MAX_PAYLOAD_BYTES} bytes; the ext data alone is {} bytes",
                ext.len()
            ),
        ));
    }
    let mut fields: XiaomiFields = Vec::new();
    let mut put = |k: &str, v: String| fields.push((k.to_string(), v));
    put("restricted_package_name", config.package_name.clone());
    put("pass_through", "0".into());
    put("title", truncate_chars(&n.title, MAX_TITLE_CHARS));
    put("description", truncate_chars(&n.body, MAX_DESCRIPTION_CHARS));
    if let Some(ext) = &n.ext {
        put("payload", ext.clone());
    }
    let ttl = (u64::from(n.ttl_seconds) * 1000).clamp(1000, MAX_TTL_MILLIS);
    put("time_to_live", ttl.to_string());
    match n.sound.as_deref() {
        None | Some("default") => put("notify_type", NOTIFY_ALL_DEFAULTS.into()),
        Some("none") => put("notify_type", NOTIFY_SILENT.into()),
        Some(sound) => {
            put("notify_type", NOTIFY_ALL_DEFAULTS.into());
            put(
                "extra.sound_uri",
                format!("android.resource://{}/raw/{sound}", config.package_name),
            );
        }
    }
    if let Some(collapse) = &n.collapse_id {
        // The same notify_id replaces the earlier notification on the phone.
        put("notify_id", notify_id(collapse).to_string());
    }
    if let Some(channel) = n.channel_id.as_ref().or(config.channel_id.as_ref()) {
        put("extra.channel_id", channel.clone());
    }
    match if n.click_action == ClickAction::OpenApp {
        &config.click_action
    } else {
        &n.click_action
    } {
        ClickAction::OpenApp => put("extra.notify_effect", "1".into()),
        ClickAction::OpenPage { page } => {
            put("extra.notify_effect", "2".into());
            put("extra.intent_uri", activity_intent(&config.package_name, page));
        }
        ClickAction::OpenUrl { url } => {
            put("extra.notify_effect", "3".into());
            put("extra.web_uri", url.clone());
        }
    }
    Ok(fields)
}

/// A stable id in 0..=2147483647 for a collapse key (FNV-1a, so every Herald node agrees).
pub(crate) fn notify_id(key: &str) -> u32 {
    let hash = key.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash & 0x7fff_ffff
}

/// The send request for a chunk of regIds. `app_secret` is the AppSecret (a placeholder in
/// previews).
pub(crate) fn send_request(
    config: &XiaomiConfig,
    fields: &XiaomiFields,
    reg_ids: &[&str],
    app_secret: &str,
) -> VendorRequest {
    let joined = reg_ids.join(",");
    let mut pairs: Vec<(&str, &str)> = vec![("registration_id", &joined)];
    pairs.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    VendorRequest::form(format!("{}/v3/message/regid", config.push_url), &pairs)
        .header("authorization", authorization(app_secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> XiaomiConfig {
        XiaomiConfig {
            app_secret: herald_core::Secret::new("secret".into()),
            package_name: "com.example.chat".into(),
            push_url: "https://api.xmpush.xiaomi.com".into(),
            channel_id: Some("chat_private".into()),
            click_action: ClickAction::OpenApp,
        }
    }

    fn get<'a>(fields: &'a XiaomiFields, key: &str) -> Option<&'a str> {
        fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn chat_uses_the_private_channel_and_limits_are_characters() {
        let n = Notification {
            title: "标".repeat(60),
            body: "内".repeat(200),
            ext: Some("{\"c\":1}".into()),
            click_action: ClickAction::OpenUrl {
                url: "https://example.com".into(),
            },
            collapse_id: Some("m1".into()),
            ttl_seconds: 86_400,
            ..Notification::default()
        };
        let fields = message(&config(), &n).expect("fits");
        assert_eq!(
            get(&fields, "title").map(|t| t.chars().count()),
            Some(MAX_TITLE_CHARS)
        );
        assert_eq!(
            get(&fields, "description").map(|t| t.chars().count()),
            Some(MAX_DESCRIPTION_CHARS)
        );
        assert_eq!(get(&fields, "extra.channel_id"), Some("chat_private"));
        assert_eq!(get(&fields, "extra.notify_effect"), Some("3"));
        assert_eq!(get(&fields, "extra.web_uri"), Some("https://example.com"));
        assert_eq!(get(&fields, "payload"), Some("{\"c\":1}"));
        assert_eq!(get(&fields, "time_to_live"), Some("86400000"));
        assert_eq!(
            get(&fields, "notify_id"),
            Some(notify_id("m1").to_string().as_str())
        );
    }

    #[test]
    fn regids_are_joined_and_the_key_is_lower_case() {
        let fields = message(
            &config(),
            &Notification {
                title: "A".into(),
                body: "B".into(),
                ..Notification::default()
            },
        )
        .expect("fits");
        let request = send_request(&config(), &fields, &["r1", "r2"], "secret");
        assert_eq!(request.url, "https://api.xmpush.xiaomi.com/v3/message/regid");
        assert!(
            request
                .headers
                .contains(&("authorization".into(), "key=secret".into()))
        );
        assert!(String::from_utf8_lossy(&request.body).starts_with("registration_id=r1%2Cr2&"));
    }

    #[test]
    fn ext_over_the_payload_limit_is_refused_before_sending() {
        let n = Notification {
            title: "A".into(),
            body: "B".into(),
            ext: Some("x".repeat(MAX_PAYLOAD_BYTES + 1)),
            ..Notification::default()
        };
        assert!(
            matches!(message(&config(), &n), Err(Outcome::Rejected { code, .. }) if code == "payload_too_large")
        );
    }
}
