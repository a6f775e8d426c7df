//! APNs certificate fields: bundle id, environment and one of the two auth methods.

use crate::fields::{Fields, check_one_of, check_package_name};
use base64::Engine;
use herald_core::Invalid;
use p256::pkcs8::DecodePrivateKey;

/// Fields that are write-only and sealed at rest.
pub(crate) const SECRET_FIELDS: &[&str] = &["private_key", "certificate", "certificate_password"];

/// Reads and checks APNs fields.
pub(crate) fn check(f: &mut Fields<'_>) -> Result<Vec<String>, Invalid> {
    let bundle_id = f.required_str("bundle_id")?;
    check_package_name("bundle_id", &bundle_id)?;
    let environment = f
        .optional_str("environment")?
        .unwrap_or_else(|| "production".into());
    check_one_of("environment", &environment, &["production", "sandbox"])?;
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
            check_p12(&certificate)?;
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

/// The .p12 must be base64 of a DER PKCS#12 PFX (SEQUENCE whose first element is version 3).
fn check_p12(b64: &str) -> Result<(), Invalid> {
    let bad = |why: &str| {
        Invalid::new(
            "certificate",
            "invalid_certificate",
            format!("certificate must be the .p12 file encoded as base64: {why}"),
        )
    };
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| bad("not valid base64"))?;
    let (tag, rest) = der.split_first().ok_or_else(|| bad("empty"))?;
    if *tag != 0x30 {
        return Err(bad("not a DER PKCS#12 structure"));
    }
    // Skip the outer length (short or long form) and expect INTEGER 3.
    let (len_byte, rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
    let skip = if *len_byte & 0x80 == 0 {
        0
    } else {
        usize::from(*len_byte & 0x7f)
    };
    let body = rest.get(skip..).ok_or_else(|| bad("truncated"))?;
    if body.get(..3) != Some(&[0x02, 0x01, 0x03]) {
        return Err(bad("not a PKCS#12 version 3 file"));
    }
    Ok(())
}
