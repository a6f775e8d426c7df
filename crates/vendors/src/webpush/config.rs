//! Web Push certificate fields: the VAPID key pair (the private half secret) and the contact
//! subject that push services require.

use crate::fields::Fields;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::Invalid;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["vapid_private_key"];

/// Reads and checks Web Push fields: the two keys must be the two halves of one P-256 pair.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    let public = f.required_str("vapid_public_key")?;
    let private = f.required_str("vapid_private_key")?;
    let subject = f.required_str("subject")?;

    let public_bytes = decode_b64url(&public).ok_or_else(|| invalid_key("vapid_public_key"))?;
    let public_key = p256::PublicKey::from_sec1_bytes(&public_bytes)
        .ok()
        .filter(|_| public_bytes.len() == 65)
        .ok_or_else(|| invalid_key("vapid_public_key"))?;
    let private_bytes = decode_b64url(&private).ok_or_else(|| invalid_key("vapid_private_key"))?;
    let private_key =
        p256::SecretKey::from_slice(&private_bytes).map_err(|_| invalid_key("vapid_private_key"))?;
    if private_key.public_key() != public_key {
        return Err(Invalid::new(
            "vapid_private_key",
            "mismatched_key_pair",
            "vapid_private_key is not the private half of vapid_public_key",
        ));
    }

    let subject_ok = match subject.strip_prefix("mailto:") {
        Some(address) => address.contains('@'),
        None => url::Url::parse(&subject).is_ok_and(|u| u.scheme() == "https" && u.host().is_some()),
    };
    if !subject_ok {
        return Err(Invalid::field(
            "subject",
            "must be a mailto: address or an https:// URL where the push service can reach you",
        ));
    }
    Ok(Vec::new())
}

fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim().trim_end_matches('=')).ok()
}

fn invalid_key(field: &str) -> Invalid {
    let what = if field == "vapid_public_key" {
        "the 65-byte uncompressed P-256 public key, base64url-encoded"
    } else {
        "the 32-byte P-256 private key, base64url-encoded"
    };
    Invalid::new(field, "invalid_vapid_key", format!("{field} must be {what}"))
}
