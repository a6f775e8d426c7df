//! Xiaomi auth: no token exchange, every request carries `Authorization: key=<AppSecret>`
//! with `key` in lower case. [DOC: vendor-apis.md §5.2] A refused key answers 21301 [3P], which
//! the adapter reports as `AuthExpired`: the driver then resends once with the same key (there
//! is nothing to refresh), so a wrong secret ends as `auth_expired` after one extra request.

use crate::auth::Credential;

/// What the driver caches in place of a token. The real key is read from the sealed config at
/// send time, so the long-lived AppSecret never sits in the token cache (whose `Debug` shows
/// its contents) nor in previews.
pub(crate) const STATIC_KEY: &str = "static-app-secret";

/// The credential of a static key: valid forever.
pub(crate) fn static_credential() -> Credential {
    Credential::forever(STATIC_KEY)
}

/// The `Authorization` header value.
pub(crate) fn authorization(app_secret: &str) -> String {
    format!("key={app_secret}")
}
