//! Users and their push settings (the global switch, sounds, do-not-disturb, muted
//! conversations), as the client SDKs of both source services expose them.

use crate::{Invalid, Millis};
use serde::{Deserialize, Serialize};

/// An account inside an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Caller-chosen id, unique in the app.
    pub id: String,
    /// Display name; the default title of C2C notifications.
    pub nickname: Option<String>,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// When the user was first seen.
    #[schema(value_type = i64)]
    pub created_at: Millis,
}

/// A user's own push preferences. The global switch cannot be overridden by anyone: it is the
/// user's choice. Mute and do-not-disturb yield only to a message's force-push flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSettings {
    /// Receive offline pushes at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Sound for one-to-one messages (a bundled file name or URI, 1 to 256 bytes); `null` = the
    /// default sound.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 256)]
    pub c2c_sound: Option<String>,
    /// Sound for group messages (1 to 256 bytes); `null` = the default sound.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 256)]
    pub group_sound: Option<String>,
    /// A daily quiet window.
    #[serde(default)]
    pub dnd: Option<DoNotDisturb>,
    /// Conversations that never push (`c2c:<user>` or `group:<group>`; at most 1,000).
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub muted: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            c2c_sound: None,
            group_sound: None,
            dnd: None,
            muted: Vec::new(),
        }
    }
}

/// A daily do-not-disturb window in the user's time zone. `start > end` spans midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoNotDisturb {
    /// `HH:MM`, 24-hour clock.
    pub start: String,
    /// `HH:MM`, 24-hour clock.
    pub end: String,
    /// IANA time zone name, e.g. `Asia/Shanghai`.
    pub time_zone: String,
}

/// Most muted conversations one user may keep.
pub const MAX_MUTED: usize = 1000;
/// Longest sound name.
const MAX_SOUND_LEN: usize = 256;

impl PushSettings {
    /// Checks every field; returns the first rule broken.
    pub fn validate(&self) -> Result<(), Invalid> {
        for (field, sound) in [("c2c_sound", &self.c2c_sound), ("group_sound", &self.group_sound)] {
            if let Some(sound) = sound
                && (sound.is_empty() || sound.len() > MAX_SOUND_LEN)
            {
                return Err(Invalid::field(
                    field,
                    format!("must be 1 to {MAX_SOUND_LEN} bytes, or null for the default sound"),
                ));
            }
        }
        if let Some(dnd) = &self.dnd {
            dnd.validate()?;
        }
        if self.muted.len() > MAX_MUTED {
            return Err(Invalid::field(
                "muted",
                format!("at most {MAX_MUTED} conversations"),
            ));
        }
        for (i, conversation) in self.muted.iter().enumerate() {
            check_conversation_id(&format!("muted[{i}]"), conversation)?;
        }
        Ok(())
    }

    /// Whether a conversation is muted.
    pub fn is_muted(&self, conversation: &str) -> bool {
        self.muted.iter().any(|c| c == conversation)
    }
}

impl DoNotDisturb {
    /// Checks the clock times and the time zone name.
    pub fn validate(&self) -> Result<(), Invalid> {
        parse_clock("dnd.start", &self.start)?;
        parse_clock("dnd.end", &self.end)?;
        jiff::tz::TimeZone::get(&self.time_zone).map_err(|_| {
            Invalid::new(
                "dnd.time_zone",
                "invalid_time_zone",
                format!(
                    "`{}` is not an IANA time zone name (e.g. Asia/Shanghai)",
                    self.time_zone
                ),
            )
        })?;
        Ok(())
    }

    /// Whether the instant `at` falls inside the window, in the window's time zone.
    pub fn covers(&self, at: jiff::Timestamp) -> bool {
        let (Ok(start), Ok(end), Ok(tz)) = (
            parse_clock("dnd.start", &self.start),
            parse_clock("dnd.end", &self.end),
            jiff::tz::TimeZone::get(&self.time_zone),
        ) else {
            return false;
        };
        let local = at.to_zoned(tz);
        let minute =
            u16::try_from(local.hour()).unwrap_or(0) * 60 + u16::try_from(local.minute()).unwrap_or(0);
        if start <= end {
            start <= minute && minute < end
        } else {
            minute >= start || minute < end
        }
    }
}

/// `HH:MM` to minutes after midnight.
fn parse_clock(field: &str, value: &str) -> Result<u16, Invalid> {
    let bad = || {
        Invalid::field(
            field,
            format!("`{value}` is not a time of day as HH:MM (00:00 to 23:59)"),
        )
    };
    let (h, m) = value.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Checks a conversation id: `c2c:<user>` or `group:<group>`.
pub fn check_conversation_id(field: &str, value: &str) -> Result<(), Invalid> {
    let id = value
        .strip_prefix("c2c:")
        .or_else(|| value.strip_prefix("group:"))
        .ok_or_else(|| {
            Invalid::new(
                field,
                "invalid_conversation",
                format!("`{value}` is not a conversation id: use c2c:<user> or group:<group>"),
            )
        })?;
    crate::ids::check_id(field, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dnd(start: &str, end: &str) -> DoNotDisturb {
        DoNotDisturb {
            start: start.into(),
            end: end.into(),
            time_zone: "Asia/Shanghai".into(),
        }
    }

    #[test]
    fn dnd_window_is_read_in_the_users_time_zone_and_may_span_midnight() {
        // 15:30 UTC is 23:30 in Shanghai.
        let at: jiff::Timestamp = "2026-01-01T15:30:00Z".parse().expect("timestamp");
        assert!(dnd("22:00", "07:00").covers(at));
        assert!(!dnd("08:00", "22:00").covers(at));
        assert!(dnd("23:00", "23:59").covers(at));
    }

    #[test]
    fn settings_validation_names_the_bad_field() {
        let mut s = PushSettings::default();
        assert_eq!(s.validate(), Ok(()));
        s.dnd = Some(dnd("25:00", "07:00"));
        assert_eq!(s.validate().map_err(|e| e.field), Err("dnd.start".to_string()));
        s.dnd = Some(DoNotDisturb {
            time_zone: "Mars/Base".into(),
            ..dnd("22:00", "07:00")
        });
        assert_eq!(s.validate().map_err(|e| e.code), Err("invalid_time_zone"));
        s.dnd = None;
        s.muted = vec!["c2c:bob".into(), "friends".into()];
        assert_eq!(s.validate().map_err(|e| e.field), Err("muted[1]".to_string()));
    }
}
