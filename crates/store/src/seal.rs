//! Sealing of secret values at rest with AES-256-GCM under the master key. A sealed value is
//! `nonce (12 bytes) || ciphertext || tag`; the associated data names what the value is, so a
//! sealed app secret cannot be passed off as certificate secrets.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use std::fmt;

/// Length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// Encrypts and decrypts stored secrets.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(**redacted**)")
    }
}

/// The sealed value was altered, truncated, or sealed under another key.
#[derive(Debug, thiserror::Error)]
#[error("sealed value cannot be opened (wrong master key or damaged data)")]
pub struct Unsealable;

impl Sealer {
    /// A sealer for the given master key.
    pub fn new(master_key: &[u8; MASTER_KEY_LEN]) -> Self {
        Self {
            cipher: Aes256Gcm::new(master_key.into()),
        }
    }

    /// Encrypts `plaintext` with a fresh random nonce; `label` says what it is.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self.cipher.encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: label.as_bytes(),
            },
        );
        // AES-GCM encryption only fails for plaintexts beyond 64 GiB.
        let ciphertext = sealed.unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value sealed with the same key and label.
    pub fn open(&self, label: &str, sealed: &[u8]) -> Result<Vec<u8>, Unsealable> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(Unsealable);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Unsealable)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: label.as_bytes(),
                },
            )
            .map_err(|_| Unsealable)
    }
}

/// What the key check in the `meta` table seals: a database remembers which master key it was
/// created with, so a node started with another key stops at once instead of failing later on
/// every secret it cannot open.
const KEY_CHECK_LABEL: &str = "master_key_check";
const KEY_CHECK_TEXT: &[u8] = b"herald master key";

impl Sealer {
    /// A new key check value (hex) for this key.
    pub(crate) fn key_check(&self) -> String {
        self.seal(KEY_CHECK_LABEL, KEY_CHECK_TEXT)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether a stored key check value was made with this key.
    pub(crate) fn matches_key_check(&self, hex: &str) -> bool {
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            })
            .collect();
        bytes.is_some_and(|b| {
            self.open(KEY_CHECK_LABEL, &b)
                .is_ok_and(|text| text == KEY_CHECK_TEXT)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_label() {
        let sealer = Sealer::new(&[7u8; 32]);
        let sealed = sealer.seal("app_secret", b"hunter2");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(sealer.open("app_secret", &sealed).expect("opens"), b"hunter2");
        assert!(sealer.open("certificate", &sealed).is_err());
        assert!(Sealer::new(&[8u8; 32]).open("app_secret", &sealed).is_err());
        assert_ne!(sealer.seal("app_secret", b"hunter2"), sealed, "nonces are fresh");
    }

    #[test]
    fn a_key_check_matches_only_its_own_key() {
        let check = Sealer::new(&[7u8; 32]).key_check();
        assert!(Sealer::new(&[7u8; 32]).matches_key_check(&check));
        assert!(!Sealer::new(&[8u8; 32]).matches_key_check(&check));
        assert!(!Sealer::new(&[7u8; 32]).matches_key_check("zz"));
    }
}
