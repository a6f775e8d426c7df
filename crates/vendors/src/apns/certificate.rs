//! APNs certificate authentication: the "Apple Push Notification service SSL" certificate and
//! its private key, exported from Keychain as a `.p12` (PKCS#12) file, are presented as the TLS
//! client certificate; no `authorization` header is sent. [DOC: vendor fact sheet §1.2 B]

use base64::Engine;
use herald_core::Secret;
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};

/// Why a `.p12` could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum P12Error {
    /// The text is not base64.
    NotBase64,
    /// The bytes are not a DER PKCS#12 (version 3) file.
    NotPkcs12(&'static str),
    /// The file's integrity check or decryption failed: wrong password (or a damaged file).
    WrongPassword,
    /// The file opened but holds no private key with its certificate.
    NoIdentity,
    /// Anything else the PKCS#12 reader refused.
    Unreadable(String),
}

impl std::fmt::Display for P12Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotBase64 => f.write_str("it is not valid base64"),
            Self::NotPkcs12(why) => write!(f, "it is not a PKCS#12 file ({why})"),
            Self::WrongPassword => {
                f.write_str("certificate_password does not open it (wrong password, or the file is damaged)")
            }
            Self::NoIdentity => f.write_str(
                "it holds no private key with its certificate; export both the certificate and its \
                 key from Keychain",
            ),
            Self::Unreadable(why) => write!(f, "it cannot be read: {why}"),
        }
    }
}

/// The TLS client identity of a `.p12`: the private key and the certificate chain (leaf first)
/// as one PEM text, as `reqwest::Identity::from_pem` takes it.
#[derive(Clone)]
pub(crate) struct ApnsIdentity {
    pub(crate) pem: Secret<Vec<u8>>,
    /// Subject of the leaf certificate (e.g. `CN=Apple Push Services: com.example.chat`).
    pub(crate) subject: String,
}

impl std::fmt::Debug for ApnsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsIdentity")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Decodes the base64 `.p12` and opens it with `password` (empty = no password).
pub(crate) fn open_p12(b64: &str, password: &str) -> Result<ApnsIdentity, P12Error> {
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| P12Error::NotBase64)?;
    check_structure(&der)?;
    let store = KeyStore::from_pkcs12(&der, password, Pkcs12ImportPolicy::Strict).map_err(|e| match e {
        p12_keystore::error::Error::MacError(_)
        | p12_keystore::error::Error::UnpadError
        | p12_keystore::error::Error::Pkcs5Error(_) => P12Error::WrongPassword,
        other => P12Error::Unreadable(other.to_string()),
    })?;
    let (_, chain) = store.private_key_chain().ok_or(P12Error::NoIdentity)?;
    let leaf = chain.certs().first().ok_or(P12Error::NoIdentity)?;
    let mut pem = pem_block("PRIVATE KEY", chain.key().as_der());
    for cert in chain.certs() {
        pem.push_str(&pem_block("CERTIFICATE", cert.as_der()));
    }
    Ok(ApnsIdentity {
        pem: Secret::new(pem.into_bytes()),
        subject: leaf.subject().to_string(),
    })
}

/// A DER PKCS#12 PFX is a SEQUENCE whose first element is INTEGER 3.
fn check_structure(der: &[u8]) -> Result<(), P12Error> {
    let (tag, rest) = der.split_first().ok_or(P12Error::NotPkcs12("empty"))?;
    if *tag != 0x30 {
        return Err(P12Error::NotPkcs12("not a DER structure"));
    }
    // Skip the outer length (short or long form) and expect INTEGER 3.
    let (len_byte, rest) = rest.split_first().ok_or(P12Error::NotPkcs12("truncated"))?;
    let skip = if *len_byte & 0x80 == 0 {
        0
    } else {
        usize::from(*len_byte & 0x7f)
    };
    let body = rest.get(skip..).ok_or(P12Error::NotPkcs12("truncated"))?;
    if body.get(..3) != Some(&[0x02, 0x01, 0x03]) {
        return Err(P12Error::NotPkcs12("not version 3"));
    }
    Ok(())
}

/// One PEM block, base64 lines of 64 characters.
fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p12() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/keys/apns_p12.b64"
        ))
        .expect("testdata")
    }

    #[test]
    fn the_test_p12_opens_with_its_password_into_a_key_and_certificate_pem() {
        let identity = open_p12(&p12(), "secret").expect("opens");
        let pem = String::from_utf8(identity.pem.expose().clone()).expect("utf8");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.contains("-----BEGIN CERTIFICATE-----\n"));
        assert!(
            identity.subject.contains("Apple Push Services: com.example.chat"),
            "{}",
            identity.subject
        );
        assert!(reqwest::Identity::from_pem(identity.pem.expose()).is_ok());
        assert!(!format!("{identity:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_wrong_password_or_garbage_is_named() {
        assert_eq!(
            open_p12(&p12(), "wrong").map(|_| ()),
            Err(P12Error::WrongPassword)
        );
        assert_eq!(open_p12("%%%", "").map(|_| ()), Err(P12Error::NotBase64));
        assert!(matches!(
            open_p12("aGVsbG8=", "").map(|_| ()),
            Err(P12Error::NotPkcs12(_))
        ));
    }
}
