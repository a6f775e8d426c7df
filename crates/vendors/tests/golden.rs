//! Golden request shapes: for one fixed notification, each vendor's requests (method, path,
//! headers minus signatures and clocks, body) must equal the reviewed files in `golden/`:
//! `<vendor>.json` for one device, `<vendor>_two_devices.json` for two (a batch vendor's batch
//! request; vivo's saved payload, then its push to the list). The requests are built by the
//! method the adapters send with (`preview_requests` walks the same steps without sending;
//! `tests/vendors.rs` checks that what reaches each emulator is what that method builds).
//! Set `UPDATE_GOLDEN=1` to rewrite the files after a deliberate change, then review the diff.

use herald_core::{Certificate, ClickAction, Notification, Priority, Target, Vendor};
use herald_sandbox::Credentials;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Headers that carry signatures, credentials or the current time.
const VOLATILE_HEADERS: &[&str] = &[
    "authorization",
    "authtoken",
    "timestamp",
    "apns-expiration",
    "user-agent",
    "content-length",
];

fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../testdata/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("testdata")
}

fn certificate(vendor: Vendor) -> (Certificate, Map<String, Value>) {
    let credentials = Credentials::from_keys(
        &testdata("apns_p8.pem"),
        &testdata("fcm_rsa.pem"),
        &testdata("vapid_private.b64url"),
    )
    .expect("keys");
    let urls: BTreeMap<Vendor, String> = Vendor::ALL
        .iter()
        .map(|v| (*v, format!("https://{}.vendor.example", v.as_str())))
        .collect();
    let definition = credentials
        .certificate_definitions(&urls)
        .into_iter()
        .find(|d| d["vendor"] == vendor.as_str())
        .expect("definition");
    let mut fields = definition.as_object().expect("object").clone();
    let base_url = fields
        .remove("base_url")
        .and_then(|v| v.as_str().map(str::to_string));
    fields.remove("name");
    fields.remove("vendor");
    let checked = herald_vendors::check_certificate_fields(vendor, fields).expect("valid");
    let cert = Certificate {
        id: 1,
        app_id: "app_golden".into(),
        vendor,
        name: "golden".into(),
        enabled: true,
        click_action: ClickAction::OpenPage {
            page: "com.example.chat.ChatActivity".into(),
        },
        defaults: Default::default(),
        base_url,
        fields: checked.public,
        secret_fields: Vec::new(),
        created_at: 0,
        updated_at: 0,
    };
    (cert, checked.secrets)
}

fn notification() -> Notification {
    Notification {
        id: "msg_0000000000010000abcd".into(),
        title: "Alice".into(),
        body: "Lunch at noon?".into(),
        ext: Some(r#"{"conversation":"c2c:alice"}"#.into()),
        sound: None,
        badge: true,
        click_action: ClickAction::OpenApp,
        channel_id: Some("chat_private".into()),
        category: None,
        thread_id: Some("c2c:alice".into()),
        collapse_id: Some("msg_0000000000010000abcd".into()),
        ttl_seconds: 86_400,
        priority: Priority::High,
        ..Notification::default()
    }
}

/// The `i`-th device of a vendor (1 or 2).
fn target(vendor: Vendor, i: usize) -> Target {
    let token = match vendor {
        Vendor::Apns => ["a", "b"][i - 1].repeat(64),
        Vendor::Vivo => format!("1234567890123456789012{}", i + 2),
        Vendor::Webpush => {
            json!({"endpoint": format!("https://push.vendor.example/wpush/v2/{}", ["abc", "abd"][i - 1]),
            "keys": {"p256dh": testdata("vapid_public.b64url").trim(), "auth": "AAECAwQFBgcICQoLDA0ODw"}})
            .to_string()
        }
        other => format!("{}-device-token-{i:04}", other.as_str()),
    };
    Target {
        token,
        badge: Some(3),
    }
}

/// The comparable shape of one request.
fn shape(vendor: Vendor, request: &herald_vendors::http::VendorRequest) -> Value {
    let url = url::Url::parse(&request.url).expect("url");
    let headers: BTreeMap<String, String> = request
        .headers
        .iter()
        .filter(|(k, _)| !VOLATILE_HEADERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let text = String::from_utf8_lossy(&request.body).into_owned();
    let content_type = request
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let body = if vendor == Vendor::Webpush {
        // aes128gcm with a fresh key and salt per message: only the framing is stable.
        json!({"encrypted_bytes": request.body.len() > 86, "record_size": u32::from_be_bytes([request.body[16], request.body[17], request.body[18], request.body[19]])})
    } else if content_type.starts_with("application/json") {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: BTreeMap<String, Value> = form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| {
                let value = serde_json::from_str::<Value>(&v)
                    .ok()
                    .filter(|j| j.is_object() || j.is_array())
                    .unwrap_or(Value::String(v.into_owned()));
                (k.into_owned(), value)
            })
            .collect();
        json!(pairs)
    } else {
        Value::String(text)
    };
    json!({"method": request.method, "path": url.path(), "query": url.query(), "host": url.host_str(), "headers": headers, "body": body})
}

/// Compares (or with `UPDATE_GOLDEN` rewrites) `golden/<vendor><suffix>.json` for each vendor.
fn check_golden_files(suffix: &str, devices: usize) {
    let update = std::env::var("UPDATE_GOLDEN").is_ok();
    let mut mismatches = Vec::new();
    for vendor in Vendor::ALL {
        let (cert, secrets) = certificate(vendor);
        let targets: Vec<Target> = (1..=devices).map(|i| target(vendor, i)).collect();
        let requests =
            herald_vendors::preview_requests(&cert, &secrets, &notification(), &targets, "CREDENTIAL")
                .expect("adapter builds")
                .expect("notification fits");
        let actual = Value::Array(requests.iter().map(|r| shape(vendor, r)).collect());
        let path = format!(
            "{}/tests/golden/{}{suffix}.json",
            env!("CARGO_MANIFEST_DIR"),
            vendor.as_str()
        );
        if update {
            std::fs::write(&path, serde_json::to_string_pretty(&actual).expect("json") + "\n")
                .expect("write golden");
            continue;
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("missing {path}; run with UPDATE_GOLDEN=1")),
        )
        .expect("golden json");
        if expected != actual {
            mismatches.push(format!("{vendor}: expected {expected}\n   actual {actual}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "request shapes changed:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn each_vendor_request_matches_its_reviewed_golden_file() {
    check_golden_files("", 1);
}

#[test]
fn each_vendor_request_for_two_devices_matches_its_reviewed_golden_file() {
    check_golden_files("_two_devices", 2);
}

/// Traces show previews: no header may carry a credential and no secret of the certificate
/// may appear anywhere (Xiaomi sends its AppSecret itself, vivo its token in `authtoken`).
#[test]
fn previews_show_no_credential_and_no_secret() {
    for vendor in Vendor::ALL {
        let (cert, secrets) = certificate(vendor);
        let targets = [target(vendor, 1), target(vendor, 2)];
        let requests =
            herald_vendors::preview_requests(&cert, &secrets, &notification(), &targets, "CREDENTIAL")
                .expect("adapter builds")
                .expect("notification fits");
        for request in &requests {
            for (name, value) in &request.headers {
                if matches!(name.as_str(), "authorization" | "authtoken") {
                    assert_eq!(value, "<redacted>", "{vendor}: header {name}");
                }
            }
            let text = format!("{:?} {}", request.headers, String::from_utf8_lossy(&request.body));
            for secret in secrets.values().filter_map(Value::as_str) {
                assert!(
                    !text.contains(secret.trim()),
                    "{vendor}: a secret shows in {text}"
                );
            }
        }
    }
}
