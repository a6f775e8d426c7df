//! Device tokens as the phone uploads them: the check every opaque token passes. Vendors whose
//! tokens have a shape of their own (APNs hex, a Web Push subscription) add theirs in their
//! folder (`VendorApi::check_token`).

use herald_core::{Invalid, Vendor};
use serde_json::Value;

/// Longest opaque token accepted.
const MAX_TOKEN_LEN: usize = 4096;

/// A non-empty string without spaces, at most [`MAX_TOKEN_LEN`] long; returns it trimmed.
pub(crate) fn check_opaque(vendor: Vendor, token: &Value) -> Result<String, Invalid> {
    let Value::String(text) = token else {
        return Err(Invalid::new(
            "token",
            "invalid_token_format",
            format!("a {vendor} token must be a string"),
        ));
    };
    let text = text.trim();
    if text.is_empty()
        || text.len() > MAX_TOKEN_LEN
        || text.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Invalid::new(
            "token",
            "invalid_token_format",
            format!(
                "a {vendor} token is a non-empty string of at most {MAX_TOKEN_LEN} characters without spaces"
            ),
        ));
    }
    Ok(text.to_string())
}
