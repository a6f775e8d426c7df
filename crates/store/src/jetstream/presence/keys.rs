//! Device keys as KV keys and subject tokens.

use herald_core::presence::DeviceKey;

/// The KV key of a device: `app.user.device`, each id escaped by [`encode_token`], so any
/// id is allowed and one user's devices share a subject prefix.
pub(super) fn encode_device(key: &DeviceKey) -> String {
    format!(
        "{}.{}.{}",
        encode_token(&key.app),
        encode_token(&key.user),
        encode_token(&key.device)
    )
}

pub(super) fn decode_device(kv_key: &str) -> Option<DeviceKey> {
    let mut tokens = kv_key.split('.');
    let key = DeviceKey {
        app: decode_token(tokens.next()?)?,
        user: decode_token(tokens.next()?)?,
        device: decode_token(tokens.next()?)?,
    };
    tokens.next().is_none().then_some(key)
}

/// Escapes an id into one KV key / subject token: ASCII letters, digits, `-` and `_` stay,
/// every other byte becomes `=XX` (upper-case hex), and the empty id is `=`. The result is
/// readable for the usual ids and never contains `.`, `*`, `>` or whitespace.
pub(super) fn encode_token(raw: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if raw.is_empty() {
        return "=".into();
    }
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(char::from(byte));
        } else {
            out.push('=');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

pub(super) fn decode_token(token: &str) -> Option<String> {
    fn hex(digit: u8) -> Option<u8> {
        match digit {
            b'0'..=b'9' => Some(digit - b'0'),
            b'A'..=b'F' => Some(digit - b'A' + 10),
            _ => None,
        }
    }
    if token == "=" {
        return Some(String::new());
    }
    if token.is_empty() {
        return None;
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'=' => {
                out.push(hex(*bytes.get(at + 1)?)? << 4 | hex(*bytes.get(at + 2)?)?);
                at += 3;
            }
            byte if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' => {
                out.push(byte);
                at += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_keys_round_trip_through_legal_kv_keys() {
        for key in [
            DeviceKey::new("app", "alice", "phone"),
            DeviceKey::new("a.b", "user with space", "dev*>/é=\0"),
            DeviceKey::new("", "", "x"),
            DeviceKey::new("=", "==", "=3D"),
        ] {
            let encoded = encode_device(&key);
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=.".contains(&b)),
                "{encoded}"
            );
            assert_eq!(encoded.split('.').count(), 3, "{encoded}");
            assert_eq!(decode_device(&encoded), Some(key));
        }
        assert_eq!(
            encode_device(&DeviceKey::new("app", "alice", "phone")),
            "app.alice.phone"
        );
        assert_eq!(decode_device("a.b"), None);
        assert_eq!(decode_device("a.b.c.d"), None);
        assert_eq!(decode_device("a.b.=zz"), None);
        assert_eq!(decode_device("a.b.=3d"), None, "lower-case hex is not canonical");
    }
}
