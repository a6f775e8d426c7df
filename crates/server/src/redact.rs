//! Credentials never reach the log: request URIs are logged with the values of credential
//! query parameters (`/v1/connect?token=…` carries a user token) replaced.

use axum::http::Uri;
use std::borrow::Cow;

/// What a redacted value is logged as.
const REDACTED: &str = "**redacted**";

/// Query parameter names whose values are credentials (matched case-insensitively, also as a
/// part of a longer name such as `access_token` or `client_secret`).
const CREDENTIAL_WORDS: &[&str] = &["token", "secret", "password", "key", "auth", "signature", "sign"];

/// Whether a query parameter's value is a credential, judged by its name.
fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
}

/// The URI as it may be logged: path as it is, credential values in the query replaced.
pub fn loggable_uri(uri: &Uri) -> Cow<'_, str> {
    let Some(query) = uri.query() else {
        return Cow::Borrowed(uri.path());
    };
    let query = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_credential(name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&");
    Cow::Owned(format!("{}?{query}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(uri: &str) -> String {
        loggable_uri(&uri.parse().expect("uri")).into_owned()
    }

    #[test]
    fn credential_values_in_the_query_are_replaced_and_the_rest_is_kept() {
        assert_eq!(
            logged("/v1/connect?device=phone-1&token=eyJhbGciOi.secret.sig&platform=ios"),
            "/v1/connect?device=phone-1&token=**redacted**&platform=ios"
        );
        assert_eq!(
            logged("/x?Access_Token=abc&client_secret=s&api_key=k&limit=5"),
            "/x?Access_Token=**redacted**&client_secret=**redacted**&api_key=**redacted**&limit=5"
        );
    }

    #[test]
    fn a_uri_without_query_is_its_path() {
        assert_eq!(logged("/v1/apps/app_1/messages"), "/v1/apps/app_1/messages");
        assert_eq!(logged("/healthz?"), "/healthz?");
    }
}
