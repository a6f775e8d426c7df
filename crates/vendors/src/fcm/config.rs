//! FCM certificate fields: the service-account JSON (secret) and the project id; the legacy
//! server key is still accepted so old configurations load, but flagged.

use crate::fields::{Fields, check_http_url};
use herald_core::Invalid;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::Value;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["service_account", "server_key"];

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
            if let Some(Value::String(kind)) = account.get("type") {
                if kind != "service_account" {
                    return Err(Invalid::new(
                        "service_account.type",
                        "invalid_service_account",
                        format!("type is `{kind}`; a service-account key file has type `service_account`"),
                    ));
                }
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
