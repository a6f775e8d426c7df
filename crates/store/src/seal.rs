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
}
