//! APNs certificate fields: bundle id, environment and one of the two auth methods.

use super::certificate::{ApnsIdentity, open_p12};
use crate::describe::{CertificateField as Field, CertificateFields};
use crate::fields::{Fields, check_one_of, check_package_name};
use herald_core::{AdapterError, ClickAction, Invalid};
use p256::pkcs8::DecodePrivateKey;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["private_key", "certificate", "certificate_password"];

/// APNs environments: where tokens of development builds work (`sandbox`) or of App Store,
/// TestFlight and ad-hoc builds (`production`).
pub(crate) const ENVIRONMENTS: &[&str] = &["production", "sandbox"];

/// The fields [`check`] reads.
pub(crate) const FIELDS: CertificateFields = CertificateFields {
    fields: &[
        Field::text(
            "bundle_id",
            "The app's bundle id (the `apns-topic`), e.g. `com.example.chat`.",
        )
        .required(),
        Field::one_of(
            "environment",
            ENVIRONMENTS,
            "`production` (App Store, TestFlight, ad-hoc builds) or `sandbox` (development builds).",
        )
        .default("production"),
        Field::text(
            "team_id",
            "Token auth: the 10-character Team ID of the Apple developer account.",
        ),
        Field::text(
            "key_id",
            "Token auth: the 10-character Key ID of the APNs auth key.",
        ),
        Field::text(
            "private_key",
            "Token auth: the contents of the .p8 file (PEM `BEGIN PRIVATE KEY`, an EC P-256 key).",
        ),
        Field::text(
            "certificate",
            "Certificate auth (instead of token auth): the .p12 file, base64-encoded.",
        ),
        Field::text(
            "certificate_password",
            "Certificate auth: the .p12 file's password (none when left out).",
        ),
    ],
    credentials: &[&["team_id", "key_id", "private_key"], &["certificate"]],
};

/// Reads and checks APNs fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    let bundle_id = f.required_str("bundle_id")?;
    check_package_name("bundle_id", &bundle_id)?;
    let environment = f
        .optional_str("environment")?
        .unwrap_or_else(|| "production".into());
    check_one_of("environment", &environment, ENVIRONMENTS)?;
    f.set("environment", environment.into());

    let team_id = f.optional_str("team_id")?;
    let key_id = f.optional_str("key_id")?;
    let private_key = f.optional_str("private_key")?;
    let certificate = f.optional_str("certificate")?;
    let password = f.optional_str("certificate_password")?;

    let token_auth = team_id.is_some() || key_id.is_some() || private_key.is_some();
    match (token_auth, certificate) {
        (true, Some(_)) => Err(Invalid::new(
            "certificate",
            "conflicting_credentials",
            "give either token auth (team_id, key_id, private_key) or certificate auth \
             (certificate, certificate_password), not both",
        )),
        (false, None) => Err(Invalid::new(
            "private_key",
            "missing_credentials",
            "APNs needs token auth (team_id, key_id, private_key from the .p8 file) or \
             certificate auth (certificate as base64 .p12, certificate_password)",
        )),
        (true, None) => {
            let team_id = team_id.ok_or_else(|| Invalid::missing("team_id"))?;
            let key_id = key_id.ok_or_else(|| Invalid::missing("key_id"))?;
            let private_key = private_key.ok_or_else(|| Invalid::missing("private_key"))?;
            check_apple_id("team_id", &team_id)?;
            check_apple_id("key_id", &key_id)?;
            check_p8(&private_key)?;
            Ok(Vec::new())
        }
        (false, Some(certificate)) => {
            check_p12(&certificate, password.as_deref().unwrap_or(""))?;
            if password.is_none() {
                // An empty password is legal for .p12 files; say so rather than guess.
                return Ok(vec![
                    "certificate_password is not set: the .p12 is assumed to have no password".into(),
                ]);
            }
            Ok(Vec::new())
        }
    }
}

/// Team and key ids are 10 upper-case letters or digits.
fn check_apple_id(field: &str, value: &str) -> Result<(), Invalid> {
    if value.len() == 10
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(Invalid::field(
            field,
            format!("`{field}` must be the 10-character id from the Apple developer account"),
        ))
    }
}

/// The .p8 file must be a PKCS#8 PEM holding an EC P-256 private key (ES256 signing key).
pub(crate) fn check_p8(pem: &str) -> Result<p256::SecretKey, Invalid> {
    p256::SecretKey::from_pkcs8_pem(pem.trim()).map_err(|_| {
        Invalid::new(
            "private_key",
            "invalid_private_key",
            "private_key must be the contents of the .p8 file: a PEM `BEGIN PRIVATE KEY` block \
             holding an EC P-256 key",
        )
    })
}

/// The .p12 must be base64 of a DER PKCS#12 file that `password` opens, holding the private key
/// and its certificate.
fn check_p12(b64: &str, password: &str) -> Result<(), Invalid> {
    super::certificate::open_p12(b64, password).map(|_| ()).map_err(|why| {
        Invalid::new(
            "certificate",
            "invalid_certificate",
            format!("certificate must be the .p12 file encoded as base64, opened by certificate_password: {why}"),
        )
    })
}

/// Production host. [SDK: apns2 `client.go`]
pub(crate) const PRODUCTION_URL: &str = "https://api.push.apple.com";
/// Development host: tokens of development builds only work here. [SDK: apns2 `client.go`]
pub(crate) const DEVELOPMENT_URL: &str = "https://api.sandbox.push.apple.com";

/// The ES256 signing key of token auth (the .p8 file) and the ids that go in the provider JWT.
#[derive(Clone)]
pub(crate) struct ApnsTokenKey {
    pub(crate) team_id: String,
    pub(crate) key_id: String,
    pub(crate) signing_key: herald_core::Secret<jsonwebtoken::EncodingKey>,
}

/// How the adapter authenticates: a provider JWT per request, or the TLS client certificate.
#[derive(Clone)]
pub(crate) enum ApnsAuth {
    Token(ApnsTokenKey),
    Certificate(ApnsIdentity),
}

/// What the APNs adapter needs from a certificate.
#[derive(Clone)]
pub(crate) struct ApnsConfig {
    /// The `apns-topic` of every alert.
    pub(crate) bundle_id: String,
    /// Host (production, development, or the `base_url` override).
    pub(crate) push_url: String,
    pub(crate) auth: ApnsAuth,
    /// Default action category registered by the app.
    pub(crate) category: Option<String>,
    /// Default sound.
    pub(crate) sound: Option<String>,
    pub(crate) click_action: ClickAction,
}

impl std::fmt::Debug for ApnsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("ApnsConfig");
        out.field("bundle_id", &self.bundle_id)
            .field("push_url", &self.push_url);
        match &self.auth {
            ApnsAuth::Token(key) => out.field("team_id", &key.team_id).field("key_id", &key.key_id),
            ApnsAuth::Certificate(identity) => out.field("certificate", &identity.subject),
        };
        out.finish_non_exhaustive()
    }
}

/// Reads a stored certificate (checked when it was saved).
impl TryFrom<crate::cert::CertView<'_>> for ApnsConfig {
    type Error = AdapterError;

    fn try_from(view: crate::cert::CertView<'_>) -> Result<Self, Self::Error> {
        let production = view.opt_str("environment").as_deref() != Some("sandbox");
        let auth = match view.opt_str("certificate") {
            Some(p12) => {
                let password = view.opt_str("certificate_password").unwrap_or_default();
                let identity = open_p12(&p12, &password).map_err(|why| {
                    AdapterError::Config(format!(
                        "APNs certificate (.p12) of certificate {}: {why}",
                        view.cert.id
                    ))
                })?;
                ApnsAuth::Certificate(identity)
            }
            None => {
                let private_key = view.str("private_key")?;
                let signing_key = jsonwebtoken::EncodingKey::from_ec_pem(private_key.trim().as_bytes())
                    .map_err(|e| {
                        AdapterError::Config(format!("APNs private_key is not a usable .p8 key: {e}"))
                    })?;
                ApnsAuth::Token(ApnsTokenKey {
                    team_id: view.str("team_id")?,
                    key_id: view.str("key_id")?,
                    signing_key: herald_core::Secret::new(signing_key),
                })
            }
        };
        Ok(Self {
            bundle_id: view.str("bundle_id")?,
            push_url: view.base_url(if production {
                PRODUCTION_URL
            } else {
                DEVELOPMENT_URL
            }),
            auth,
            category: view.cert.defaults.category.clone(),
            sound: view.cert.defaults.sound.clone(),
            click_action: view.click_action().clone(),
        })
    }
}
