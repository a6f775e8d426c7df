//! APNs certificate authentication (.p12 client certificate over HTTP/2 mutual TLS) against the
//! APNs emulator: the sandbox's push certificate is accepted, a certificate it does not know is
//! refused with `403 BadCertificate`, a wrong password is caught when the adapter is built and
//! when the certificate is saved.

#[allow(dead_code)]
mod conformance;

use conformance::*;
use herald_core::{AdapterError, Outcome, Vendor};
use serde_json::{Value, json};

fn testdata_p12() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/keys/apns_p12.b64"
    ))
    .expect("testdata")
}

/// The sandbox's certificate-auth definition.
fn definition(rig: &Rig) -> Value {
    rig.sandbox
        .state
        .credentials
        .apns_certificate_definition(rig.sandbox.url(Vendor::Apns))
        .expect("the sandbox has a push certificate")
}

#[tokio::test]
async fn a_push_with_the_known_certificate_is_accepted_and_shown_on_the_phone() {
    let rig = Rig::start().await;
    let (cert, secrets) = certificate_from_definition(Vendor::Apns, &definition(&rig));
    let adapter = herald_vendors::build_adapter(&cert, &secrets, &rig.http).expect("adapter");
    let targets = rig.targets(Vendor::Apns, 1).await;
    let outcomes = adapter.send(&notification(), &targets).await.expect("sent");
    assert!(matches!(outcomes[..], [Outcome::Accepted { .. }]), "{outcomes:?}");
    let inbox = rig.sandbox.state.inbox(Vendor::Apns, &targets[0].token);
    assert_eq!(inbox.len(), 1, "the phone got one notification");
    assert_eq!(inbox[0].title, "Alice");
    assert_eq!(inbox[0].body, "Are we still on for lunch?");
    let requests = rig.sandbox.state.requests(Vendor::Apns);
    let sent = requests.last().expect("logged");
    assert!(
        sent.headers.iter().all(|(name, _)| name != "authorization"),
        "certificate auth sends no authorization header: {:?}",
        sent.headers
    );
    assert!(
        sent.headers
            .iter()
            .any(|(name, value)| name == "apns-topic" && value == "com.example.chat")
    );
}

#[tokio::test]
async fn a_certificate_the_emulator_does_not_know_is_rejected_as_bad_certificate() {
    let rig = Rig::start().await;
    let mut definition = definition(&rig);
    definition["certificate"] = json!(testdata_p12().trim());
    definition["certificate_password"] = json!("secret");
    let (cert, secrets) = certificate_from_definition(Vendor::Apns, &definition);
    let adapter = herald_vendors::build_adapter(&cert, &secrets, &rig.http).expect("adapter");
    let targets = rig.targets(Vendor::Apns, 1).await;
    let outcomes = adapter.send(&notification(), &targets).await.expect("sent");
    assert!(
        matches!(&outcomes[..], [Outcome::Rejected { code, .. }] if code == "BadCertificate"),
        "{outcomes:?}"
    );
    assert!(
        rig.sandbox
            .state
            .inbox(Vendor::Apns, &targets[0].token)
            .is_empty()
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_when_saved_and_when_the_adapter_is_built() {
    let rig = Rig::start().await;
    let mut definition = definition(&rig);
    let mut fields = definition.as_object().expect("object").clone();
    for key in ["vendor", "name", "base_url"] {
        fields.remove(key);
    }
    fields.insert("certificate_password".into(), json!("not-the-password"));
    let invalid = herald_vendors::check_certificate_fields(Vendor::Apns, fields).expect_err("refused");
    let shown = format!("{invalid:?}");
    assert!(shown.contains("invalid_certificate"), "{shown}");
    assert!(shown.contains("certificate_password does not open it"), "{shown}");

    // A stored certificate whose password no longer opens the file (e.g. edited in the store).
    let (cert, mut secrets) = certificate_from_definition(Vendor::Apns, &definition);
    secrets.insert("certificate_password".into(), json!("not-the-password"));
    let Err(error) = herald_vendors::build_adapter(&cert, &secrets, &rig.http) else {
        panic!("a wrong password must be refused");
    };
    assert!(
        matches!(&error, AdapterError::Config(why) if why.contains("does not open it")),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains("not-the-password"));

    // Not a .p12 at all.
    definition["certificate"] = json!("aGVsbG8=");
    let (cert, secrets) = certificate_from_definition_unchecked(&definition);
    assert!(matches!(
        herald_vendors::build_adapter(&cert, &secrets, &rig.http),
        Err(AdapterError::Config(_))
    ));
}

/// A stored certificate built without the save-time check (to reach the adapter's own check).
fn certificate_from_definition_unchecked(
    definition: &Value,
) -> (herald_core::Certificate, serde_json::Map<String, Value>) {
    let (mut cert, mut secrets) = certificate_from_definition(
        Vendor::Apns,
        &json!({"bundle_id": definition["bundle_id"], "environment": "sandbox",
                "base_url": definition["base_url"],
                "certificate": testdata_p12().trim(), "certificate_password": "secret"}),
    );
    secrets.insert("certificate".into(), definition["certificate"].clone());
    cert.name = "unchecked".into();
    (cert, secrets)
}
