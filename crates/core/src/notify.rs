//! Turning a message into the vendor-neutral notification for one certificate and recipient:
//! default title and body (DESIGN §2), the user's sounds, per-message overrides, and the
//! certificate's defaults for the vendor options (channel, category, classification…).

use crate::message::{Destination, Message};
use crate::{Certificate, Notification, PushSettings, Vendor};

/// The sound a user chose for this message's kind of conversation (`None` = default).
pub fn user_sound<'a>(message: &Message, settings: &'a PushSettings) -> Option<&'a str> {
    match message.to {
        Destination::Group { .. } => settings.group_sound.as_deref(),
        Destination::C2c { .. } => settings.c2c_sound.as_deref(),
    }
}

/// Builds the notification of `message` for devices bound through `cert` of a user whose
/// chosen sound is `user_sound`. Title and body are not cut here: each adapter cuts to its
/// vendor's limits.
pub fn build_notification(message: &Message, cert: &Certificate, user_sound: Option<&str>) -> Notification {
    let push = &message.push;
    let defaults = &cert.defaults;
    let is_group = matches!(message.to, Destination::Group { .. });
    let default_title = if is_group {
        message.group_name.clone().unwrap_or_else(|| "Group".to_string())
    } else {
        message
            .sender_nickname
            .clone()
            .unwrap_or_else(|| message.from.clone())
    };
    let conversation = message.to.conversation_for_recipient(&message.from);
    let sound = match cert.vendor {
        Vendor::Apns => push.sound.ios.clone(),
        _ => push.sound.android.clone(),
    }
    .or_else(|| user_sound.map(str::to_string))
    .or_else(|| defaults.sound.clone());
    let channels = &push.android.channel_ids;
    let channel_id = match cert.vendor {
        Vendor::Oppo => channels.oppo.clone(),
        Vendor::Xiaomi => channels.xiaomi.clone(),
        Vendor::Huawei => channels.huawei.clone(),
        Vendor::Honor => channels.honor.clone(),
        Vendor::Fcm => channels.fcm.clone(),
        Vendor::Vivo => channels.vivo.clone(),
        _ => None,
    }
    .or_else(|| defaults.channel_id.clone())
    .or_else(|| {
        cert.fields
            .get("channel_id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    });
    let category = match cert.vendor {
        Vendor::Huawei => push.android.huawei_category.clone(),
        Vendor::Vivo => push.android.vivo_category.clone(),
        Vendor::Apns => push.ios.category.clone(),
        _ => None,
    }
    .or_else(|| defaults.category.clone());
    let image = match cert.vendor {
        Vendor::Apns => push.ios.image.clone(),
        _ => push.android.image.clone(),
    };
    Notification {
        id: message.id.clone(),
        title: push.title.clone().unwrap_or(default_title),
        body: message.notification_body(),
        subtitle: push.ios.subtitle.clone(),
        ext: push.ext.clone(),
        sound,
        badge: push.badge.unwrap_or(true),
        click_action: cert.click_action.clone(),
        image,
        channel_id,
        category,
        importance: push
            .android
            .huawei_importance
            .clone()
            .or_else(|| defaults.importance.clone()),
        classification: push.android.vivo_classification.or(defaults.classification),
        notify_level: defaults.notify_level,
        notice_msg_type: defaults.notice_msg_type,
        badge_class: push
            .android
            .huawei_badge_class
            .clone()
            .or_else(|| defaults.badge_class.clone()),
        thread_id: push.ios.thread_id.clone().or(Some(conversation)),
        mutable_content: push.ios.mutable_content,
        collapse_id: push.collapse_id.clone(),
        ttl_seconds: push
            .ttl_seconds
            .or(defaults.ttl_seconds)
            .unwrap_or(crate::message::DEFAULT_TTL_SECONDS),
        priority: push.priority.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageKind, PushInfo};
    use crate::{CertificateDefaults, ClickAction};
    use serde_json::json;

    fn cert(vendor: Vendor) -> Certificate {
        Certificate {
            id: 1,
            app_id: "a".into(),
            vendor,
            name: "c".into(),
            enabled: true,
            click_action: ClickAction::OpenApp,
            defaults: CertificateDefaults {
                channel_id: Some("chat".into()),
                ..Default::default()
            },
            base_url: None,
            fields: Default::default(),
            secret_fields: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    fn message(kind: MessageKind, to: Destination, content: serde_json::Value) -> Message {
        Message {
            id: "m".into(),
            app_id: "a".into(),
            from: "bob".into(),
            to,
            kind,
            content,
            push: PushInfo::default(),
            attributes: Default::default(),
            sender_nickname: None,
            group_name: None,
            created_at: 0,
        }
    }

    #[test]
    fn titles_and_bodies_default_as_the_design_says_and_push_info_overrides() {
        let s = PushSettings {
            c2c_sound: Some("ding".into()),
            group_sound: Some("dong".into()),
            ..Default::default()
        };
        let mut c2c = message(
            MessageKind::Text,
            Destination::C2c { to: "alice".into() },
            json!({"text": "hello"}),
        );
        c2c.sender_nickname = Some("Bob".into());
        let n = build_notification(&c2c, &cert(Vendor::Xiaomi), user_sound(&c2c, &s));
        assert_eq!(
            (n.title.as_str(), n.body.as_str(), n.sound.as_deref()),
            ("Bob", "hello", Some("ding"))
        );
        assert_eq!(n.channel_id.as_deref(), Some("chat"));
        assert_eq!(n.thread_id.as_deref(), Some("c2c:bob"));

        let mut group = message(
            MessageKind::Image,
            Destination::Group { group: "g1".into() },
            json!({"url": "x"}),
        );
        group.group_name = Some("Hikers".into());
        let n = build_notification(&group, &cert(Vendor::Apns), user_sound(&group, &s));
        assert_eq!(
            (n.title.as_str(), n.body.as_str(), n.sound.as_deref()),
            ("Hikers", "[Image]", Some("dong"))
        );

        let mut custom = c2c.clone();
        custom.push.title = Some("Custom title".into());
        custom.push.desc = Some("Custom body".into());
        custom.push.sound.ios = Some("none".into());
        let n = build_notification(&custom, &cert(Vendor::Apns), user_sound(&custom, &s));
        assert_eq!(
            (n.title.as_str(), n.body.as_str(), n.sound.as_deref()),
            ("Custom title", "Custom body", Some("none"))
        );
    }
}
