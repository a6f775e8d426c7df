//! The push decision of DESIGN §2, for one message and one recipient device, as a pure
//! function. Every "no" carries a reason, so delivery records and the push test tool can say
//! why a device was or was not pushed.

use crate::message::{Message, MessageKind};
use crate::{Certificate, Device, PushSettings, SessionState};
use serde::{Deserialize, Serialize};

/// What happens to a message for one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Delivered over the live connection only.
    Live,
    /// Delivered live (the app is in the background) and pushed.
    LiveAndPush,
    /// Pushed (the app is killed or disconnected).
    Push,
    /// Neither; see the reason.
    Skip,
}

impl Decision {
    /// Whether a push job is created.
    pub fn pushes(self) -> bool {
        matches!(self, Decision::Push | Decision::LiveAndPush)
    }

    /// Whether the live connection gets the message.
    pub fn live(self) -> bool {
        matches!(self, Decision::Live | Decision::LiveAndPush)
    }

    /// The decision's id string.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Live => "live",
            Decision::LiveAndPush => "live_and_push",
            Decision::Push => "push",
            Decision::Skip => "skip",
        }
    }
}

/// Why a device was not pushed (or, for live deliveries, why no push was needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Every rule passed: a push is queued (whether the vendor took it is the delivery's
    /// state). Records written before this name say `pushed`, read as this.
    #[serde(alias = "pushed")]
    RulesPassed,
    /// `system` messages are never pushed.
    SystemMessage,
    /// `custom` messages are pushed only with a `desc`.
    CustomWithoutDesc,
    /// The message's push info disabled the push.
    PushDisabledByMessage,
    /// The device logged out.
    LoggedOut,
    /// The device was kicked.
    Kicked,
    /// No push token is bound.
    NoToken,
    /// The bound certificate no longer exists.
    CertificateMissing,
    /// The bound certificate is disabled.
    CertificateDisabled,
    /// Online in the foreground: the live delivery is enough.
    OnlineInForeground,
    /// The user switched offline push off.
    DisabledByUser,
    /// The user muted the conversation.
    ConversationMuted,
    /// Inside the user's do-not-disturb window.
    DoNotDisturb,
}

impl Reason {
    /// The reason's id string.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::RulesPassed => "rules_passed",
            Reason::SystemMessage => "system_message",
            Reason::CustomWithoutDesc => "custom_without_desc",
            Reason::PushDisabledByMessage => "push_disabled_by_message",
            Reason::LoggedOut => "logged_out",
            Reason::Kicked => "kicked",
            Reason::NoToken => "no_token",
            Reason::CertificateMissing => "certificate_missing",
            Reason::CertificateDisabled => "certificate_disabled",
            Reason::OnlineInForeground => "online_in_foreground",
            Reason::DisabledByUser => "disabled_by_user",
            Reason::ConversationMuted => "conversation_muted",
            Reason::DoNotDisturb => "do_not_disturb",
        }
    }
}

/// Everything the decision looks at for one device.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    /// The message.
    pub message: &'a Message,
    /// The recipient device.
    pub device: &'a Device,
    /// Whether it has a live connection now.
    pub connected: bool,
    /// The certificate its token is bound through, if it still exists.
    pub certificate: Option<&'a Certificate>,
    /// The recipient's push settings.
    pub settings: &'a PushSettings,
    /// The conversation as the recipient sees it (`c2c:<sender>` / `group:<group>`).
    pub conversation: &'a str,
    /// Now (for do-not-disturb).
    pub now: jiff::Timestamp,
}

/// Decides, in DESIGN §2's order.
pub fn decide(input: &RouteInput<'_>) -> (Decision, Reason) {
    let device = input.device;
    // A device whose session ended gets nothing, live or pushed.
    match device.state {
        SessionState::LoggedOut => return (Decision::Skip, Reason::LoggedOut),
        SessionState::Kicked => return (Decision::Skip, Reason::Kicked),
        _ => {}
    }
    let foreground = input.connected && device.state == SessionState::Online;
    let live = if input.connected {
        Decision::Live
    } else {
        Decision::Skip
    };
    let no_push = |reason| (live, reason);

    let message = input.message;
    if message.kind == MessageKind::System {
        return no_push(Reason::SystemMessage);
    }
    if message.kind == MessageKind::Custom && message.push.desc.is_none() {
        return no_push(Reason::CustomWithoutDesc);
    }
    if message.push.disabled {
        return no_push(Reason::PushDisabledByMessage);
    }
    if foreground {
        return no_push(Reason::OnlineInForeground);
    }
    let Some(binding) = &device.binding else {
        return no_push(Reason::NoToken);
    };
    match input.certificate {
        None => return no_push(Reason::CertificateMissing),
        Some(cert) if cert.id != binding.certificate_id => return no_push(Reason::CertificateMissing),
        Some(cert) if !cert.enabled => return no_push(Reason::CertificateDisabled),
        Some(_) => {}
    }
    let settings = input.settings;
    if !settings.enabled {
        return no_push(Reason::DisabledByUser);
    }
    if !message.push.force {
        if settings.is_muted(input.conversation) {
            return no_push(Reason::ConversationMuted);
        }
        if settings.dnd.as_ref().is_some_and(|dnd| dnd.covers(input.now)) {
            return no_push(Reason::DoNotDisturb);
        }
    }
    let decision = if input.connected {
        Decision::LiveAndPush
    } else {
        Decision::Push
    };
    (decision, Reason::RulesPassed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::PushBinding;
    use crate::message::{Destination, PushInfo};
    use crate::{ClickAction, DoNotDisturb, Platform, Vendor};
    use serde_json::json;

    fn message(kind: MessageKind) -> Message {
        Message {
            id: "m1".into(),
            app_id: "a".into(),
            from: "bob".into(),
            to: Destination::C2c { to: "alice".into() },
            kind,
            content: json!({"text": "hi"}),
            push: PushInfo::default(),
            attributes: Default::default(),
            sender_nickname: None,
            group_name: None,
            created_at: 0,
        }
    }

    fn device(state: SessionState) -> Device {
        Device {
            app_id: "a".into(),
            user_id: "alice".into(),
            device_id: "phone".into(),
            platform: Platform::Android,
            state,
            binding: Some(PushBinding {
                certificate_id: 7,
                vendor: Vendor::Huawei,
                token: "t".into(),
            }),
            badge: 0,
            updated_at: 0,
        }
    }

    fn cert() -> Certificate {
        Certificate {
            id: 7,
            app_id: "a".into(),
            vendor: Vendor::Huawei,
            name: "hw".into(),
            enabled: true,
            click_action: ClickAction::OpenApp,
            defaults: Default::default(),
            base_url: None,
            fields: Default::default(),
            secret_fields: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    fn run(
        m: &Message,
        d: &Device,
        connected: bool,
        c: Option<&Certificate>,
        s: &PushSettings,
    ) -> (Decision, Reason) {
        let now: jiff::Timestamp = "2026-01-01T15:30:00Z".parse().expect("time"); // 23:30 in Shanghai
        decide(&RouteInput {
            message: m,
            device: d,
            connected,
            certificate: c,
            settings: s,
            conversation: "c2c:bob",
            now,
        })
    }

    #[test]
    fn each_rule_decides_in_order() {
        let text = message(MessageKind::Text);
        let settings = PushSettings::default();
        let c = cert();
        assert_eq!(
            run(&text, &device(SessionState::Offline), false, Some(&c), &settings),
            (Decision::Push, Reason::RulesPassed)
        );
        assert_eq!(
            run(
                &text,
                &device(SessionState::Background),
                true,
                Some(&c),
                &settings
            ),
            (Decision::LiveAndPush, Reason::RulesPassed)
        );
        assert_eq!(
            run(&text, &device(SessionState::Online), true, Some(&c), &settings),
            (Decision::Live, Reason::OnlineInForeground)
        );
        // "online" in the store but no connection: the app died without saying so; push.
        assert_eq!(
            run(&text, &device(SessionState::Online), false, Some(&c), &settings),
            (Decision::Push, Reason::RulesPassed)
        );
        assert_eq!(
            run(
                &text,
                &device(SessionState::LoggedOut),
                false,
                Some(&c),
                &settings
            ),
            (Decision::Skip, Reason::LoggedOut)
        );
        assert_eq!(
            run(&text, &device(SessionState::Kicked), false, Some(&c), &settings),
            (Decision::Skip, Reason::Kicked)
        );
        assert_eq!(
            run(
                &message(MessageKind::System),
                &device(SessionState::Offline),
                false,
                Some(&c),
                &settings
            )
            .1,
            Reason::SystemMessage
        );
        assert_eq!(
            run(
                &message(MessageKind::Custom),
                &device(SessionState::Offline),
                false,
                Some(&c),
                &settings
            )
            .1,
            Reason::CustomWithoutDesc
        );
        let mut custom = message(MessageKind::Custom);
        custom.push.desc = Some("You have a new order".into());
        assert_eq!(
            run(
                &custom,
                &device(SessionState::Offline),
                false,
                Some(&c),
                &settings
            )
            .1,
            Reason::RulesPassed
        );
        let mut disabled = message(MessageKind::Text);
        disabled.push.disabled = true;
        assert_eq!(
            run(
                &disabled,
                &device(SessionState::Offline),
                false,
                Some(&c),
                &settings
            )
            .1,
            Reason::PushDisabledByMessage
        );
        let mut unbound = device(SessionState::Offline);
        unbound.binding = None;
        assert_eq!(
            run(&text, &unbound, false, Some(&c), &settings).1,
            Reason::NoToken
        );
        assert_eq!(
            run(&text, &device(SessionState::Offline), false, None, &settings).1,
            Reason::CertificateMissing
        );
        let off = Certificate {
            enabled: false,
            ..cert()
        };
        assert_eq!(
            run(
                &text,
                &device(SessionState::Offline),
                false,
                Some(&off),
                &settings
            )
            .1,
            Reason::CertificateDisabled
        );
    }

    #[test]
    fn user_settings_yield_only_to_force_and_the_global_switch_to_nothing() {
        let c = cert();
        let d = device(SessionState::Offline);
        let mut forced = message(MessageKind::Text);
        forced.push.force = true;
        let muted = PushSettings {
            muted: vec!["c2c:bob".into()],
            ..PushSettings::default()
        };
        assert_eq!(
            run(&message(MessageKind::Text), &d, false, Some(&c), &muted).1,
            Reason::ConversationMuted
        );
        assert_eq!(run(&forced, &d, false, Some(&c), &muted).1, Reason::RulesPassed);
        let dnd = PushSettings {
            dnd: Some(DoNotDisturb {
                start: "22:00".into(),
                end: "07:00".into(),
                time_zone: "Asia/Shanghai".into(),
            }),
            ..PushSettings::default()
        };
        assert_eq!(
            run(&message(MessageKind::Text), &d, false, Some(&c), &dnd).1,
            Reason::DoNotDisturb
        );
        assert_eq!(run(&forced, &d, false, Some(&c), &dnd).1, Reason::RulesPassed);
        let off = PushSettings {
            enabled: false,
            ..PushSettings::default()
        };
        assert_eq!(run(&forced, &d, false, Some(&c), &off).1, Reason::DisabledByUser);
    }
}
