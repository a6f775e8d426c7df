//! Meizu auth: no token — every request carries `sign`, the lowercase hex MD5 of the
//! parameters sorted by name, written `name=value` with no separator, followed by the
//! AppSecret. [DOC MEIZUPUSH/PushAPI "接口签名规范"; SDK `HttpClient.getSignature`]

use crate::auth::{Credential, md5_hex};

/// What the driver caches for Meizu: a marker, since each request is signed on its own. A
/// signature refusal (1006) is still reported as `AuthExpired`, so the driver "refreshes" this
/// marker and resends once — the retry that absorbs a transient signature failure.
pub(crate) fn per_request_signature() -> Credential {
    Credential::forever("meizu-per-request-md5-sign")
}

/// The `sign` of a request's parameters (raw, URL-decoded values; `sign` itself excluded).
pub(crate) fn sign(params: &[(&str, &str)], app_secret: &str) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().filter(|(name, _)| *name != "sign").collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut base = String::new();
    for (name, value) in sorted {
        base.push_str(name);
        base.push('=');
        base.push_str(value);
    }
    base.push_str(app_secret);
    md5_hex(&base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_documented_example_shape() {
        // The README's example: appId=10000messageJson={...}pushIds=...<APP_SECRET>
        let params = [("pushIds", "p1"), ("appId", "10000"), ("messageJson", "{}")];
        assert_eq!(
            sign(&params, "secret"),
            md5_hex("appId=10000messageJson={}pushIds=p1secret")
        );
    }
}
