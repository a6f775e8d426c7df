//! FCM certificate fields: the service-account JSON (secret) and the project id; the legacy
//! server key is still accepted so old configurations load, but flagged.

use crate::describe::{CertificateField as Field, CertificateFields, FieldShape};
use crate::fields::{Fields, check_http_url};
use herald_core::Invalid;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::Value;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["service_account", "server_key"];

/// The fields [`check`] reads.
pub(crate) const FIELDS: CertificateFields = CertificateFields {
    fields: &[
        Field {
            name: "service_account",
            shape: FieldShape::Object {
                required: &["private_key", "client_email", "token_uri"],
            },
            required: false,
            default: None,
            description: "The JSON key file of a service account of the Firebase project, as an \
                          object or its text.",
        },
        Field::text(
            "project_id",
            "The Firebase project id; defaults to the service account's `project_id`.",
        ),
        Field::text(
            "server_key",
            "Deprecated: the legacy HTTP API's server key (Google shut that API down in 2024; \
             accepted with a warning so old configurations load).",
        ),
        Field::text(
            "sender_id",
            "Deprecated: the legacy sender id, needed with `server_key`.",
        ),
    ],
    credentials: &[&["service_account"], &["server_key", "sender_id"]],
};

/// Reads and checks FCM fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    let account = f.optional_object("service_account")?;
    let project_id = f.optional_str("project_id")?;
    let server_key = f.optional_str("server_key")?;
    let sender_id = f.optional_str("sender_id")?;
    let mut warnings = Vec::new();

    match account {
        Some(account) => {
            let field = |name: &str| -> Result<String, Invalid> {
                match account.get(name) {
                    Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                    _ => Err(Invalid::new(
                        format!("service_account.{name}"),
                        "invalid_service_account",
                        format!(
                            "the service-account JSON has no `{name}`; download it again from the Firebase console"
                        ),
                    )),
                }
            };
            if let Some(Value::String(kind)) = account.get("type")
                && kind != "service_account"
            {
                return Err(Invalid::new(
                    "service_account.type",
                    "invalid_service_account",
                    format!("type is `{kind}`; a service-account key file has type `service_account`"),
                ));
            }
            let key = field("private_key")?;
            rsa::RsaPrivateKey::from_pkcs8_pem(key.trim()).map_err(|_| {
                Invalid::new(
                    "service_account.private_key",
                    "invalid_service_account",
                    "private_key is not a PEM PKCS#8 RSA key",
                )
            })?;
            let email = field("client_email")?;
            if !email.contains('@') {
                return Err(Invalid::new(
                    "service_account.client_email",
                    "invalid_service_account",
                    "client_email is not an e-mail address",
                ));
            }
            let token_uri = field("token_uri")?;
            check_http_url("service_account.token_uri", &token_uri).map_err(|e| Invalid {
                code: "invalid_service_account",
                ..e
            })?;
            let project = match project_id {
                Some(p) => p,
                None => field("project_id").map_err(|_| Invalid::missing("project_id"))?,
            };
            check_project_id(&project)?;
            f.set("project_id", Value::String(project));
            f.set("service_account", Value::Object(account));
        }
        None if server_key.is_some() => {
            if sender_id.is_none() {
                return Err(Invalid::missing("sender_id"));
            }
            if let Some(p) = project_id {
                check_project_id(&p)?;
            }
            warnings.push(
                "deprecated: the FCM legacy HTTP API (server_key) was shut down by Google in 2024; \
                 upload a service_account to send pushes"
                    .into(),
            );
        }
        None => {
            return Err(Invalid::new(
                "service_account",
                "missing_credentials",
                "FCM needs `service_account`: the JSON key file of a service account of the Firebase project",
            ));
        }
    }
    Ok(warnings)
}

/// Firebase project ids: 6 to 30 lower-case letters, digits and hyphens.
fn check_project_id(value: &str) -> Result<(), Invalid> {
    let ok = (4..=30).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Invalid::field(
            "project_id",
            format!("`{value}` is not a Firebase project id"),
        ))
    }
}

/// Production OAuth token endpoint (the usual `token_uri` of a service-account file).
pub(crate) const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Production send host.
pub(crate) const SEND_URL: &str = "https://fcm.googleapis.com";

/// What the FCM adapter needs from a certificate: the service account (its RSA key sealed in
/// a [`herald_core::Secret`]) and where to send.
#[derive(Clone)]
pub(crate) struct FcmConfig {
    pub(crate) project_id: String,
    pub(crate) client_email: String,
    pub(crate) private_key_id: String,
    pub(crate) signing_key: herald_core::Secret<jsonwebtoken::EncodingKey>,
    /// The account's `token_uri`: the assertion's `aud`, whatever host the request goes to.
    pub(crate) token_uri: String,
    /// Where the token request goes (`token_uri`, or the base URL override + its path).
    pub(crate) token_url: String,
    /// `…/v1/projects/{project_id}/messages:send`.
    pub(crate) send_url: String,
    pub(crate) channel_id: Option<String>,
    pub(crate) click_action: herald_core::ClickAction,
}

impl std::fmt::Debug for FcmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmConfig")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("send_url", &self.send_url)
            .finish_non_exhaustive()
    }
}

/// Reads a stored certificate (checked when it was saved).
impl TryFrom<crate::cert::CertView<'_>> for FcmConfig {
    type Error = herald_core::AdapterError;

    fn try_from(view: crate::cert::CertView<'_>) -> Result<Self, Self::Error> {
        use herald_core::AdapterError;
        let config_error = |what: &str| AdapterError::Config(format!("certificate {}: {what}", view.cert.id));
        let account = match view.value("service_account") {
            Some(Value::Object(account)) => account.clone(),
            Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(account)) => account,
                _ => return Err(config_error("service_account is not a JSON object")),
            },
            _ if view.value("server_key").is_some() => {
                // The legacy HTTP API was shut down in 2024 [DOC: vendor-apis.md §2.5].
                return Err(config_error(
                    "the FCM legacy API (server_key) is shut down; upload a service_account",
                ));
            }
            _ => return Err(config_error("service_account is missing")),
        };
        let field = |name: &str| -> Result<String, AdapterError> {
            account
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| config_error(&format!("service_account has no `{name}`")))
        };
        let project_id = view
            .opt_str("project_id")
            .map_or_else(|| field("project_id"), Ok)?;
        let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(field("private_key")?.trim().as_bytes())
            .map_err(|_| config_error("service_account.private_key is not an RSA PEM key"))?;
        let token_uri = field("token_uri").unwrap_or_else(|_| TOKEN_URI.to_string());
        let (token_url, send_base) = match &view.cert.base_url {
            Some(_) => {
                // With an override every endpoint goes to it, under the vendor's real path.
                let base = view.base_url(SEND_URL);
                let path = url::Url::parse(&token_uri)
                    .map(|u| u.path().to_string())
                    .unwrap_or_else(|_| "/token".into());
                (format!("{base}{path}"), base)
            }
            None => (token_uri.clone(), SEND_URL.to_string()),
        };
        Ok(Self {
            send_url: format!("{send_base}/v1/projects/{project_id}/messages:send"),
            project_id,
            client_email: field("client_email")?,
            // Google's own client libraries send the key id; a file without one still signs.
            private_key_id: field("private_key_id").unwrap_or_default(),
            signing_key: herald_core::Secret::new(signing_key),
            token_uri,
            token_url,
            channel_id: view.cert.defaults.channel_id.clone(),
            click_action: view.click_action().clone(),
        })
    }
}
