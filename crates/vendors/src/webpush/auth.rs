//! VAPID (RFC 8292): an ES256 JWT whose `aud` is the push service's origin, so one token per
//! origin is signed and kept until an hour before its `exp`. The driver's single credential
//! cannot hold per-origin tokens, so this cache lives in the adapter; the driver's
//! "refresh" (after a `401`) empties it.

use super::config::{VAPID_LIFETIME_SECONDS, WebpushConfig};
use jsonwebtoken::{Algorithm, Header};
use std::collections::HashMap;
use std::sync::Mutex;

/// A cached token is replaced this long before its `exp`.
const RENEW_MARGIN_SECONDS: i64 = 3600;

#[derive(serde::Serialize)]
struct VapidClaims<'a> {
    aud: &'a str,
    exp: i64,
    sub: &'a str,
}

/// The VAPID JWT for a push-service origin, valid until `exp` (unix seconds).
/// Header `{"typ":"JWT","alg":"ES256"}`, raw `r||s` signature. [DOC: RFC 8292 §2]
pub(crate) fn vapid_jwt(config: &WebpushConfig, origin: &str, exp: i64) -> Result<String, String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &VapidClaims {
            aud: origin,
            exp,
            sub: &config.subject,
        },
        config.signing_key.expose(),
    )
    .map_err(|e| format!("cannot sign the VAPID token: {e}"))
}

/// The `Authorization` header value. [DOC: RFC 8292 §3]
pub(crate) fn authorization(jwt: &str, public_key: &str) -> String {
    format!("vapid t={jwt}, k={public_key}")
}

/// One VAPID JWT per push-service origin.
#[derive(Debug, Default)]
pub(crate) struct WebpushVapidCache {
    tokens: Mutex<HashMap<String, (String, i64)>>,
}

impl WebpushVapidCache {
    /// The cached token for `origin`, or a fresh one when there is none or it nears `exp`.
    pub(crate) fn token(&self, config: &WebpushConfig, origin: &str, now: i64) -> Result<String, String> {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((jwt, exp)) = tokens.get(origin)
            && now < exp - RENEW_MARGIN_SECONDS
        {
            return Ok(jwt.clone());
        }
        let exp = now + VAPID_LIFETIME_SECONDS;
        let jwt = vapid_jwt(config, origin, exp)?;
        tokens.insert(origin.to_string(), (jwt.clone(), exp));
        Ok(jwt)
    }

    /// Forgets every token (a push service answered 401).
    pub(crate) fn clear(&self) {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::ClickAction;
    use jsonwebtoken::{DecodingKey, Validation};
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::EncodePrivateKey;

    fn config(secret: &p256::SecretKey) -> WebpushConfig {
        let der = secret.to_pkcs8_der().expect("der");
        WebpushConfig {
            public_key: String::new(),
            signing_key: herald_core::Secret::new(jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes())),
            subject: "mailto:ops@example.com".into(),
            sound: None,
            click_action: ClickAction::OpenApp,
        }
    }

    #[test]
    fn one_token_per_origin_verifies_with_the_public_key() {
        let secret = p256::SecretKey::from_slice(&[9; 32]).expect("key");
        let config = config(&secret);
        let cache = WebpushVapidCache::default();
        let now = jiff::Timestamp::now().as_second();
        let fcm = cache
            .token(&config, "https://fcm.googleapis.com", now)
            .expect("jwt");
        assert_eq!(
            cache
                .token(&config, "https://fcm.googleapis.com", now + 60)
                .expect("jwt"),
            fcm,
            "reused"
        );
        assert_ne!(
            cache
                .token(&config, "https://updates.push.services.mozilla.com", now)
                .expect("jwt"),
            fcm
        );
        cache.clear();
        assert_ne!(
            cache
                .token(&config, "https://fcm.googleapis.com", now + 60)
                .expect("jwt"),
            fcm,
            "fresh after clear"
        );

        let point = secret.public_key().to_encoded_point(false);
        let key = DecodingKey::from_ec_der(point.as_bytes());
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["https://fcm.googleapis.com"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&fcm, &key, &validation)
            .expect("verifies")
            .claims;
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert_eq!(claims["exp"], now + VAPID_LIFETIME_SECONDS);
    }
}
