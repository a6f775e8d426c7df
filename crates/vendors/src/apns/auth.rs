//! APNs token authentication: an ES256 provider JWT (`{"alg":"ES256","kid":<key id>}`,
//! `{"iss":<team id>,"iat":<now>}`) signed with the .p8 key, reused for 50 minutes (cached by
//! the driver) because APNs refuses tokens older than an hour and refreshes more often than
//! every 20 minutes. [SDK: apns2 `token/token.go`]

use super::config::ApnsTokenKey;
use crate::auth::{AuthFailure, Credential, now_seconds};
use jsonwebtoken::{Algorithm, Header};
use std::time::Duration;

/// How long one provider token is used: apns2 regenerates after 3000 s. [SDK: apns2 `token/token.go`]
pub(crate) const TOKEN_REUSE: Duration = Duration::from_secs(50 * 60);

#[derive(serde::Serialize)]
struct ApnsClaims<'a> {
    iss: &'a str,
    iat: i64,
}

/// The provider JWT issued at `iat` (unix seconds). jsonwebtoken writes the JOSE signature as
/// raw `r||s`, as APNs requires.
pub(crate) fn provider_token(key: &ApnsTokenKey, iat: i64) -> Result<String, AuthFailure> {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.key_id.clone());
    header.typ = None; // Apple's header is exactly {"alg","kid"}.
    jsonwebtoken::encode(
        &header,
        &ApnsClaims {
            iss: &key.team_id,
            iat,
        },
        key.signing_key.expose(),
    )
    .map_err(|e| AuthFailure::Refused {
        code: "invalid_private_key".into(),
        reason: format!("cannot sign the APNs provider token: {e}"),
    })
}

/// A fresh provider token for the driver's cache.
pub(crate) fn fresh_token(key: &ApnsTokenKey) -> Result<Credential, AuthFailure> {
    Ok(Credential {
        token: provider_token(key, now_seconds())?,
        valid_for: TOKEN_REUSE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{DecodingKey, EncodingKey, Validation};
    use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};

    #[test]
    fn the_provider_token_is_apples_exact_shape_and_verifies() {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/keys/apns_p8.pem"
        ))
        .expect("testdata");
        let key = ApnsTokenKey {
            team_id: "ABCDE12345".into(),
            key_id: "KEY1234567".into(),
            signing_key: herald_core::Secret::new(EncodingKey::from_ec_pem(pem.as_bytes()).expect("p8")),
        };
        let jwt = provider_token(&key, 1_700_000_000).expect("signed");
        let parts: Vec<&str> = jwt.split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(header, serde_json::json!({"alg": "ES256", "kid": "KEY1234567"}));
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[2]).expect("b64").len(),
            64,
            "raw r||s, not DER"
        );
        let public = p256::SecretKey::from_pkcs8_pem(pem.trim())
            .expect("key")
            .public_key();
        let public_pem = public.to_public_key_pem(LineEnding::LF).expect("pem");
        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            &jwt,
            &DecodingKey::from_ec_pem(public_pem.as_bytes()).expect("public"),
            &validation,
        )
        .expect("verifies")
        .claims;
        assert_eq!(
            claims,
            serde_json::json!({"iss": "ABCDE12345", "iat": 1_700_000_000})
        );
    }
}
