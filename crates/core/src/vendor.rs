//! The list of push vendors. The same lowercase id is used everywhere: configuration, API,
//! database rows, metric labels and folder names.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A push channel Herald can deliver through.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Apple Push Notification service.
    Apns,
    /// Firebase Cloud Messaging (HTTP v1).
    Fcm,
    /// Huawei Push Kit (HMS Core).
    Huawei,
    /// Honor Push.
    Honor,
    /// Xiaomi MiPush.
    Xiaomi,
    /// OPPO (HeyTap) Push.
    Oppo,
    /// vivo Push.
    Vivo,
    /// Meizu Flyme Push.
    Meizu,
    /// Web Push (RFC 8030 with VAPID).
    Webpush,
}

impl Vendor {
    /// Every vendor, in the order documentation lists them.
    pub const ALL: [Vendor; 9] = [
        Vendor::Apns,
        Vendor::Fcm,
        Vendor::Huawei,
        Vendor::Honor,
        Vendor::Xiaomi,
        Vendor::Oppo,
        Vendor::Vivo,
        Vendor::Meizu,
        Vendor::Webpush,
    ];

    /// The vendor id string.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Apns => "apns",
            Vendor::Fcm => "fcm",
            Vendor::Huawei => "huawei",
            Vendor::Honor => "honor",
            Vendor::Xiaomi => "xiaomi",
            Vendor::Oppo => "oppo",
            Vendor::Vivo => "vivo",
            Vendor::Meizu => "meizu",
            Vendor::Webpush => "webpush",
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string named no vendor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown vendor `{0}`; expected one of apns, fcm, huawei, honor, xiaomi, oppo, vivo, meizu, webpush")]
pub struct UnknownVendor(pub String);

impl FromStr for Vendor {
    type Err = UnknownVendor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownVendor(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendor_id_round_trips_through_its_string() {
        for vendor in Vendor::ALL {
            assert_eq!(vendor.as_str().parse::<Vendor>(), Ok(vendor));
            let json = serde_json::to_string(&vendor).expect("serializes");
            assert_eq!(json, format!("\"{}\"", vendor.as_str()));
        }
        assert!("hms".parse::<Vendor>().is_err());
    }
}
