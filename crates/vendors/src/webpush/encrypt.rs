//! Message encryption for Web Push (RFC 8291 on top of RFC 8188 `aes128gcm`): ECDH between a
//! one-off application-server key and the browser's `p256dh` key, mixed with the browser's
//! `auth` secret, then one AES-128-GCM record. The push service never sees the plaintext.
//! [DOC: vendor fact sheet §9.3]

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use ring::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
use sha2::Sha256;

/// The record size written in the header (one record carries the whole message).
const RECORD_SIZE: u32 = 4096;
/// Header bytes: salt (16) + rs (4) + idlen (1) + keyid (65).
pub(crate) const HEADER_BYTES: usize = 86;
/// AES-GCM tag bytes.
pub(crate) const TAG_BYTES: usize = 16;
/// An uncompressed P-256 public key: 0x04, x, y.
const PUBLIC_KEY_BYTES: usize = 65;

/// Why a message could not be encrypted for a subscription.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebpushCryptoError {
    /// `keys.p256dh` is not a P-256 public key.
    #[error("the subscription's p256dh is not an uncompressed P-256 public key")]
    BadUaKey,
    /// `keys.auth` is not 16 bytes.
    #[error("the subscription's auth secret is not 16 bytes")]
    BadAuth,
    /// The cipher refused (never for sizes Herald sends).
    #[error("encryption failed")]
    Cipher,
}

/// Encrypts with a fresh application-server key and salt. The key agreement runs on `ring`
/// (assembly P-256): it is the one costly step of a Web Push, once per subscription and
/// message, and `ring` does it several times faster than the portable implementation.
pub(crate) fn encrypt(
    plaintext: &[u8],
    ua_public: &[u8],
    auth_secret: &[u8],
) -> Result<Vec<u8>, WebpushCryptoError> {
    check_keys(ua_public, auth_secret)?;
    let random = ring::rand::SystemRandom::new();
    let as_secret =
        EphemeralPrivateKey::generate(&ECDH_P256, &random).map_err(|_| WebpushCryptoError::Cipher)?;
    let as_public = as_secret
        .compute_public_key()
        .map_err(|_| WebpushCryptoError::Cipher)?;
    let salt: [u8; 16] = rand::random();
    agreement::agree_ephemeral(
        as_secret,
        &UnparsedPublicKey::new(&ECDH_P256, ua_public),
        |shared| {
            seal(
                plaintext,
                ua_public,
                auth_secret,
                as_public.as_ref(),
                shared,
                salt,
            )
        },
    )
    // `ring` checks that the browser's key is a point of the curve.
    .map_err(|_| WebpushCryptoError::BadUaKey)?
}

/// Encrypts with the given application-server key and salt (deterministic, for the RFC's
/// example and for tests that need a known key).
#[cfg(test)]
pub(crate) fn encrypt_with(
    plaintext: &[u8],
    ua_public: &[u8],
    auth_secret: &[u8],
    as_secret: &p256::SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, WebpushCryptoError> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    check_keys(ua_public, auth_secret)?;
    let ua_key = p256::PublicKey::from_sec1_bytes(ua_public).map_err(|_| WebpushCryptoError::BadUaKey)?;
    let as_public = as_secret.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_key.as_affine());
    seal(
        plaintext,
        ua_public,
        auth_secret,
        as_public.as_bytes(),
        shared.raw_secret_bytes(),
        salt,
    )
}

fn check_keys(ua_public: &[u8], auth_secret: &[u8]) -> Result<(), WebpushCryptoError> {
    if ua_public.len() != PUBLIC_KEY_BYTES || ua_public[0] != 0x04 {
        return Err(WebpushCryptoError::BadUaKey);
    }
    if auth_secret.len() != 16 {
        return Err(WebpushCryptoError::BadAuth);
    }
    Ok(())
}

/// Everything after the key agreement: the RFC 8291 key schedule and one `aes128gcm` record
/// with its header.
fn seal(
    plaintext: &[u8],
    ua_public: &[u8],
    auth_secret: &[u8],
    as_public: &[u8],
    shared: &[u8],
    salt: [u8; 16],
) -> Result<Vec<u8>, WebpushCryptoError> {
    // IKM = HKDF(salt = auth, ikm = ecdh, info = "WebPush: info" 0x00 ua_public as_public, 32)
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(ua_public);
    info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth_secret), shared)
        .expand(&info, &mut ikm)
        .map_err(|_| WebpushCryptoError::Cipher)?;
    // CEK and nonce from the record salt.
    let prk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| WebpushCryptoError::Cipher)?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| WebpushCryptoError::Cipher)?;

    // One record: plaintext, then the last-record delimiter 0x02, no padding.
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(0x02);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| WebpushCryptoError::Cipher)?;
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), record.as_slice())
        .map_err(|_| WebpushCryptoError::Cipher)?;

    let mut body = Vec::with_capacity(HEADER_BYTES + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(PUBLIC_KEY_BYTES as u8);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use p256::elliptic_curve::sec1::ToEncodedPoint;

    fn b64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).expect("base64url")
    }

    /// RFC 8291 Appendix A: the example message, keys and salt give the published body.
    #[test]
    fn rfc_8291_appendix_a_vector() {
        let as_secret =
            p256::SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).expect("as key");
        let ua_public =
            b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
        let auth = b64("BTBZMqHH6r4Tts7J_aSIgg");
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().expect("16 bytes");
        let body = encrypt_with(
            b"When I grow up, I want to be a watermelon",
            &ua_public,
            &auth,
            &as_secret,
            salt,
        )
        .expect("encrypts");
        let expected = b64(
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
        );
        assert_eq!(body, expected);
    }

    #[test]
    fn bad_subscription_keys_are_reported() {
        let as_secret = p256::SecretKey::random(&mut rand::thread_rng());
        assert!(matches!(
            encrypt_with(b"x", &[4; 10], &[0; 16], &as_secret, [0; 16]),
            Err(WebpushCryptoError::BadUaKey)
        ));
        let ua = as_secret.public_key().to_encoded_point(false);
        assert!(matches!(
            encrypt_with(b"x", ua.as_bytes(), &[0; 3], &as_secret, [0; 16]),
            Err(WebpushCryptoError::BadAuth)
        ));
    }

    /// The production path (`ring`'s key agreement) agrees on the same secret the browser
    /// computes from its own key: sealing again with that secret and the body's salt and
    /// server key gives the same bytes.
    #[test]
    fn a_fresh_key_body_is_what_the_browser_key_derives() {
        let ua_secret = p256::SecretKey::random(&mut rand::thread_rng());
        let ua_public = ua_secret.public_key().to_encoded_point(false);
        let auth = [7u8; 16];
        let body = encrypt(b"hello", ua_public.as_bytes(), &auth).expect("encrypts");
        assert_eq!(body.len(), HEADER_BYTES + b"hello".len() + 1 + TAG_BYTES);
        let salt: [u8; 16] = body[..16].try_into().expect("salt");
        let as_public = &body[21..HEADER_BYTES];
        let as_key = p256::PublicKey::from_sec1_bytes(as_public).expect("server key in the header");
        let shared = p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), as_key.as_affine());
        let again = seal(
            b"hello",
            ua_public.as_bytes(),
            &auth,
            as_public,
            shared.raw_secret_bytes(),
            salt,
        )
        .expect("seals");
        assert_eq!(body, again);
        // Two pushes of one message never share a key or a salt.
        let other = encrypt(b"hello", ua_public.as_bytes(), &auth).expect("encrypts");
        assert_ne!(body[..HEADER_BYTES], other[..HEADER_BYTES]);
    }

    #[test]
    fn a_point_off_the_curve_is_a_bad_subscription_key() {
        let mut off_curve = [1u8; 65];
        off_curve[0] = 0x04;
        assert!(matches!(
            encrypt(b"x", &off_curve, &[0; 16]),
            Err(WebpushCryptoError::BadUaKey)
        ));
        assert!(matches!(
            encrypt(b"x", &[4; 10], &[0; 16]),
            Err(WebpushCryptoError::BadUaKey)
        ));
    }
}
