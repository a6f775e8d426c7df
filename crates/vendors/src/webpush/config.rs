//! Web Push certificate fields: the VAPID key pair (the private half secret) and the contact
//! subject that push services require.

use crate::describe::{CertificateField as Field, CertificateFields};
use crate::fields::Fields;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_core::{AdapterError, ClickAction, Invalid};
use p256::pkcs8::EncodePrivateKey;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["vapid_private_key"];

/// The fields [`check`] reads.
pub(crate) const FIELDS: CertificateFields = CertificateFields {
    fields: &[
        Field::text(
            "vapid_public_key",
            "The VAPID public key (the application server key the page subscribes with): the \
             65-byte uncompressed P-256 point, base64url.",
        )
        .required(),
        Field::text(
            "vapid_private_key",
            "The VAPID private key: the 32-byte P-256 scalar, base64url; the other half of \
             `vapid_public_key`.",
        )
        .required(),
        Field::text(
            "subject",
            "A contact for push services: a `mailto:` address or an `https://` URL.",
        )
        .required(),
    ],
    credentials: &[],
};

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

/// Lifetime given to each VAPID JWT: RFC 8292 allows at most 24 hours; half of it leaves room
/// for clock skew at the push service. [DOC: RFC 8292 §2]
pub(crate) const VAPID_LIFETIME_SECONDS: i64 = 12 * 3600;

/// What the Web Push adapter needs from a certificate. There is no endpoint: every
/// subscription names its push service's URL.
#[derive(Clone)]
pub(crate) struct WebpushConfig {
    /// The application server key as sent in `k=` (base64url, no padding).
    pub(crate) public_key: String,
    /// The VAPID signing key.
    pub(crate) signing_key: herald_core::Secret<jsonwebtoken::EncodingKey>,
    /// The `sub` contact (mailto: or https:).
    pub(crate) subject: String,
    /// Default sound (`none` = a silent notification).
    pub(crate) sound: Option<String>,
    pub(crate) click_action: ClickAction,
}

impl std::fmt::Debug for WebpushConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebpushConfig")
            .field("public_key", &self.public_key)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Reads a stored certificate (checked when it was saved).
impl TryFrom<crate::cert::CertView<'_>> for WebpushConfig {
    type Error = AdapterError;

    fn try_from(view: crate::cert::CertView<'_>) -> Result<Self, Self::Error> {
        let bad = |what: &str| AdapterError::Config(format!("Web Push {what} is not a usable P-256 key"));
        let private =
            decode_b64url(&view.str("vapid_private_key")?).ok_or_else(|| bad("vapid_private_key"))?;
        let secret = p256::SecretKey::from_slice(&private).map_err(|_| bad("vapid_private_key"))?;
        let der = secret.to_pkcs8_der().map_err(|_| bad("vapid_private_key"))?;
        let public = decode_b64url(&view.str("vapid_public_key")?).ok_or_else(|| bad("vapid_public_key"))?;
        Ok(Self {
            public_key: URL_SAFE_NO_PAD.encode(public),
            signing_key: herald_core::Secret::new(jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes())),
            subject: view.str("subject")?,
            sound: view.cert.defaults.sound.clone(),
            click_action: view.click_action().clone(),
        })
    }
}
