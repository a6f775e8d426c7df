//! Start-up shared by the emulator self-tests: a sandbox with the repository's test keys.

#![allow(dead_code)]

use herald_sandbox::{Credentials, Sandbox, SandboxOptions};

/// A file of `testdata/keys/`.
pub fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../testdata/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("testdata")
}

/// A running sandbox accepting the test keys.
pub async fn sandbox() -> Sandbox {
    let credentials = Credentials::from_keys(
        &testdata("apns_p8.pem"),
        &testdata("fcm_rsa.pem"),
        &testdata("vapid_private.b64url"),
    )
    .expect("credentials");
    Sandbox::start(SandboxOptions::new(credentials))
        .await
        .expect("sandbox")
}
