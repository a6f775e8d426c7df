//! Message encryption for Web Push (RFC 8291 on top of RFC 8188 `aes128gcm`): ECDH between a
//! one-off application-server key and the browser's `p256dh` key, mixed with the browser's
//! `auth` secret, then one AES-128-GCM record. The push service never sees the plaintext.
//! [DOC: vendor fact sheet §9.3]

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use sha2::Sha256;

/// The record size written in the header (one record carries the whole message).
const RECORD_SIZE: u32 = 4096;
/// Header bytes: salt (16) + rs (4) + idlen (1) + keyid (65).
pub(crate) const HEADER_BYTES: usize = 86;
/// AES-GCM tag bytes.
pub(crate) const TAG_BYTES: usize = 16;

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

/// Encrypts with a fresh application-server key and salt.
pub(crate) fn encrypt(
    plaintext: &[u8],
    ua_public: &[u8],
    auth_secret: &[u8],
) -> Result<Vec<u8>, WebpushCryptoError> {
    let as_secret = p256::SecretKey::random(&mut rand::thread_rng());
    encrypt_with(plaintext, ua_public, auth_secret, &as_secret, rand::random())
}

/// Encrypts with the given application-server key and salt (deterministic, for tests).
pub(crate) fn encrypt_with(
    plaintext: &[u8],
    ua_public: &[u8],
    auth_secret: &[u8],
    as_secret: &p256::SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, WebpushCryptoError> {
    let ua_key = p256::PublicKey::from_sec1_bytes(ua_public).map_err(|_| WebpushCryptoError::BadUaKey)?;
    if ua_public.len() != 65 {
        return Err(WebpushCryptoError::BadUaKey);
    }
    if auth_secret.len() != 16 {
        return Err(WebpushCryptoError::BadAuth);
    }
    let as_public = as_secret.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_key.as_affine());

    // IKM = HKDF(salt = auth, ikm = ecdh, info = "WebPush: info" 0x00 ua_public as_public, 32)
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(ua_public);
    info.extend_from_slice(as_public.as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth_secret), shared.raw_secret_bytes())
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
    body.push(65);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
}
