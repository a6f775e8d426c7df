//! Certificates of every vendor through the admin API: created, read back without secrets,
//! updated (secrets kept when omitted), deleted; and refused with a precise code when wrong.

mod common;

use common::{
    TestServer, VENDORS, apns_p8, expect, expect_error, fcm_service_account, openapi, valid_certificate,
};
use herald_core::Vendor;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn assert_no_secret_values(body: &Value, fixture: &Value, secrets: &[&str]) {
    let text = body.to_string();
    for field in secrets {
        assert!(
            body.get(*field).is_none(),
            "secret field `{field}` returned: {body}"
        );
        let secret_text = match &fixture[*field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        // Compare on a distinctive slice of the secret, so formatting differences cannot hide it.
        let probe: String = secret_text.chars().skip(secret_text.len() / 3).take(24).collect();
        assert!(!text.contains(&probe), "secret value of `{field}` leaked: {body}");
    }
}

#[tokio::test]
async fn every_vendor_certificate_is_created_read_redacted_updated_and_deleted() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    for vendor in VENDORS {
        let (fixture, secrets) = valid_certificate(vendor);
        let created = server.create_certificate(&app, fixture.clone()).await;
        let id = created["id"].as_i64().expect("numeric id");
        assert_eq!(created["vendor"], vendor);
        assert_eq!(created["name"], fixture["name"]);
        assert_eq!(created["enabled"], true);
        assert_eq!(created["click_action"], json!({"type": "open_app"}));
        let listed: Vec<String> = created["secret_fields"]
            .as_array()
            .expect("list")
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(listed, secrets, "{vendor}: secret_fields");
        assert_no_secret_values(&created, &fixture, &secrets);

        let path = format!("/v1/apps/{}/certificates/{id}", app.id);
        let read = expect(server.admin(Method::GET, &path), 200).await;
        assert_eq!(read["id"], id);
        assert_no_secret_values(&read, &fixture, &secrets);

        // Update: rename and change the click action without re-sending secrets; they are kept.
        let updated = expect(
            server.admin(Method::PUT, &path).json(&json!({
                "name": format!("{vendor}-renamed"),
                "click_action": {"type": "open_url", "url": "https://example.com/chat"},
            })),
            200,
        )
        .await;
        assert_eq!(updated["name"], format!("{vendor}-renamed"));
        assert_eq!(updated["click_action"]["url"], "https://example.com/chat");
        assert_eq!(
            updated["secret_fields"], created["secret_fields"],
            "{vendor}: secrets kept"
        );
        assert_no_secret_values(&updated, &fixture, &secrets);

        expect(server.admin(Method::DELETE, &path), 204).await;
        expect_error(server.admin(Method::GET, &path), 404, "certificate_not_found").await;
    }
    let remaining = expect(
        server.admin(Method::GET, &format!("/v1/apps/{}/certificates", app.id)),
        200,
    )
    .await;
    assert_eq!(remaining, json!([]));
}

/// Herald's app id and a vendor's own `app_id` are two keys: a JSON parser that keeps one of
/// two equal keys would silently lose the other.
#[tokio::test]
async fn a_certificate_answer_names_each_key_once() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    for vendor in ["huawei", "honor", "vivo", "meizu"] {
        let (fixture, _) = valid_certificate(vendor);
        let response = server
            .admin(Method::POST, &format!("/v1/apps/{}/certificates", app.id))
            .json(&fixture)
            .send()
            .await
            .expect("create");
        assert_eq!(response.status().as_u16(), 201, "{vendor}");
        let text = response.text().await.expect("body");
        assert_eq!(text.matches("\"app_id\"").count(), 1, "{vendor}: {text}");
        let body: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(body["app"], app.id.as_str(), "{vendor}: Herald's app id");
        // vivo's numeric app id is kept as text.
        let as_text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        assert_eq!(
            as_text(&body["app_id"]),
            as_text(&fixture["app_id"]),
            "{vendor}: the vendor's app id"
        );
    }
}

/// Nested objects of a certificate are objects: an array is refused, never read by position.
#[tokio::test]
async fn arrays_in_place_of_a_certificates_objects_are_refused_and_nothing_is_written() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let (fixture, _) = valid_certificate("huawei");
    for (field, value) in [("defaults", json!([])), ("click_action", json!(["open_app"]))] {
        let mut body = fixture.clone();
        body[field] = value;
        let refused = expect(
            server
                .admin(Method::POST, &format!("/v1/apps/{}/certificates", app.id))
                .json(&body),
            400,
        )
        .await;
        assert_eq!(refused["field"], field, "{refused}");
    }
    let listed = expect(
        server.admin(Method::GET, &format!("/v1/apps/{}/certificates", app.id)),
        200,
    )
    .await;
    assert_eq!(listed, json!([]));
}

/// One wrong certificate per vendor, each with the error code a person can act on.
#[tokio::test]
async fn wrong_vendor_fields_are_refused_with_their_own_codes() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let with = |vendor: &str, change: Value| {
        let (mut body, _) = valid_certificate(vendor);
        for (k, v) in change.as_object().expect("object") {
            if v.is_null() {
                body.as_object_mut().expect("object").remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let mut account_without_email = fcm_service_account();
    account_without_email
        .as_object_mut()
        .expect("object")
        .remove("client_email");
    let cases = [
        (
            with(
                "apns",
                json!({"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}),
            ),
            "invalid_private_key",
            "private_key",
        ),
        (
            with(
                "apns",
                json!({"team_id": null, "key_id": null, "private_key": null}),
            ),
            "missing_credentials",
            "private_key",
        ),
        (
            with("apns", json!({"certificate": "bm90IGEgcDEy"})),
            "conflicting_credentials",
            "certificate",
        ),
        (
            with("apns", json!({"environment": "staging"})),
            "invalid_field",
            "environment",
        ),
        (
            with("fcm", json!({"service_account": account_without_email})),
            "invalid_service_account",
            "service_account.client_email",
        ),
        (
            with("fcm", json!({"service_account": "{not json"})),
            "invalid_field",
            "service_account",
        ),
        (
            with("huawei", json!({"app_secret": null})),
            "missing_field",
            "app_secret",
        ),
        (
            with("huawei", json!({"category": "CHAT"})),
            "invalid_field",
            "category",
        ),
        (
            with("honor", json!({"app_id": "honor-app"})),
            "invalid_field",
            "app_id",
        ),
        (
            with("xiaomi", json!({"region": "mars"})),
            "invalid_field",
            "region",
        ),
        (
            with("oppo", json!({"notify_level": 3})),
            "invalid_field",
            "notify_level",
        ),
        (
            with("vivo", json!({"classification": 0, "category": "IM"})),
            "inconsistent_classification",
            "category",
        ),
        (
            with("meizu", json!({"package_name": "chat"})),
            "invalid_field",
            "package_name",
        ),
        (
            with(
                "webpush",
                json!({"vapid_private_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}),
            ),
            "mismatched_key_pair",
            "vapid_private_key",
        ),
        (
            with("webpush", json!({"subject": "ops@example.com"})),
            "invalid_field",
            "subject",
        ),
        (
            with("huawei", json!({"bundle_id": "com.example"})),
            "unknown_field",
            "bundle_id",
        ),
        (with("fcm", json!({"vendor": "gcm"})), "unknown_vendor", "vendor"),
        (
            with(
                "oppo",
                json!({"click_action": {"type": "open_url", "url": "ftp://x"}}),
            ),
            "invalid_url",
            "click_action.url",
        ),
        (
            with(
                "xiaomi",
                json!({"click_action": {"type": "open_page", "page": "chat screen"}}),
            ),
            "invalid_page",
            "click_action.page",
        ),
        (
            with("vivo", json!({"defaults": {"importance": "NORMAL"}})),
            "unsupported_default",
            "defaults.importance",
        ),
        (
            with("meizu", json!({"name": "has space"})),
            "invalid_name",
            "name",
        ),
    ];
    for (body, code, field) in cases {
        let error = expect_error(
            server
                .admin(Method::POST, &format!("/v1/apps/{}/certificates", app.id))
                .json(&body),
            400,
            code,
        )
        .await;
        assert_eq!(error["field"], field, "{body}");
    }
    // Nothing was written by any of the refused requests.
    let listed = expect(
        server.admin(Method::GET, &format!("/v1/apps/{}/certificates", app.id)),
        200,
    )
    .await;
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn certificate_names_are_unique_per_app_and_a_refused_update_changes_nothing() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let other = server.create_app("other").await;
    let (body, _) = valid_certificate("huawei");
    let first = server.create_certificate(&app, body.clone()).await;
    expect_error(
        server
            .admin(Method::POST, &format!("/v1/apps/{}/certificates", app.id))
            .json(&body),
        409,
        "certificate_name_taken",
    )
    .await;
    // The same name in another app is fine.
    server.create_certificate(&other, body).await;

    let path = format!("/v1/apps/{}/certificates/{}", app.id, first["id"]);
    expect_error(
        server
            .admin(Method::PUT, &path)
            .json(&json!({"package_name": "nope"})),
        400,
        "invalid_field",
    )
    .await;
    expect_error(
        server.admin(Method::PUT, &path).json(&json!({"vendor": "honor"})),
        400,
        "vendor_immutable",
    )
    .await;
    let after = expect(server.admin(Method::GET, &path), 200).await;
    assert_eq!(after["package_name"], "com.example.chat");
    assert_eq!(after["updated_at"], first["updated_at"]);
}

#[tokio::test]
async fn apns_certificate_auth_and_fcm_legacy_key_are_accepted_with_advice() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let p12 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/keys/apns_p12.b64"
    ))
    .expect("p12");
    let cert = server
        .create_certificate(
            &app,
            json!({"vendor": "apns", "name": "apns-p12", "bundle_id": "com.example.chat",
                   "certificate": p12.trim(), "certificate_password": "secret"}),
        )
        .await;
    assert_eq!(
        cert["secret_fields"],
        json!(["certificate", "certificate_password"])
    );
    assert_eq!(
        cert["environment"], "production",
        "environment defaults to production"
    );

    let legacy = server
        .create_certificate(&app, json!({"vendor": "fcm", "name": "fcm-legacy", "server_key": "AAAAlegacy", "sender_id": "1234567"}))
        .await;
    let warnings = legacy["warnings"].as_array().expect("warnings");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.starts_with("deprecated"))),
        "{legacy}"
    );

    // Token-auth keys given as the raw .p8 text with surrounding whitespace still parse.
    let padded = format!("\n{}\n\n", apns_p8());
    server
        .create_certificate(
            &app,
            json!({"vendor": "apns", "name": "apns-p8", "bundle_id": "com.example.chat",
                   "team_id": "ABCDE12345", "key_id": "KEY1234567", "private_key": padded}),
        )
        .await;
}

#[tokio::test]
async fn the_database_file_never_holds_a_certificate_secret_in_clear_text() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let mut probes = Vec::new();
    for vendor in VENDORS {
        let (body, secrets) = valid_certificate(vendor);
        for field in &secrets {
            let text = match &body[*field] {
                Value::String(s) => s.clone(),
                other => other["private_key"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| other.to_string()),
            };
            // A distinctive run from the middle of each secret.
            let probe: String = text.chars().skip(text.len() / 3).take(20).collect();
            probes.push((vendor, probe));
        }
        server.create_certificate(&app, body).await;
    }
    // Read everything the database holds: SQLite's files (main and write-ahead log) or a
    // PostgreSQL data dump.
    let bytes = server.raw_database_bytes();
    assert!(bytes.len() > 4096, "database files were found");
    for (vendor, probe) in probes {
        assert!(
            !bytes.windows(probe.len()).any(|w| w == probe.as_bytes()),
            "{vendor} secret found in clear text in the database"
        );
    }
    // And the public fields are there (the grep can find text at all).
    assert!(bytes.windows(16).any(|w| w == b"com.example.chat"));
}

/// The fields every certificate body has besides its vendor's.
const COMMON_FIELDS: [&str; 6] = [
    "vendor",
    "name",
    "enabled",
    "click_action",
    "defaults",
    "base_url",
];

/// The object schema of a vendor's create body (the first part of an `allOf`, whose second
/// part names the ways of authenticating).
fn create_object<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let schema = openapi::component(doc, name);
    match schema["allOf"].as_array() {
        Some(parts) => openapi::resolve(doc, &parts[0]),
        None => schema,
    }
}

fn names_of(object: &Value, key: &str) -> BTreeSet<String> {
    match &object[key] {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// What the OpenAPI document says about certificates is what the server does: one schema per
/// vendor whose properties are exactly the fields the vendor's checks take (an unknown one is
/// refused), whose required fields make a body the server accepts, whose secrets are
/// write-only and never in an answer, and whose answers fit the answer schema.
#[tokio::test]
async fn each_vendor_has_a_certificate_schema_with_the_fields_the_server_takes() {
    let server = TestServer::start().await;
    let doc = expect(server.anon(Method::GET, "/openapi.json"), 200).await;
    let app = server.create_app("chat").await;
    let request = openapi::component(&doc, "CertificateRequest");
    assert_eq!(request["discriminator"]["propertyName"], "vendor");
    assert_eq!(request["oneOf"].as_array().map(Vec::len), Some(VENDORS.len()));
    assert!(!doc["components"]["schemas"]["CertificateView"]["discriminator"].is_null());

    for vendor_id in VENDORS {
        let vendor: Vendor = vendor_id.parse().expect("vendor");
        let title = format!("{}{}", vendor_id[..1].to_uppercase(), &vendor_id[1..]);
        let (create, update, view) = (
            format!("{title}Certificate"),
            format!("{title}CertificateUpdate"),
            format!("{title}CertificateView"),
        );
        assert_eq!(
            request["discriminator"]["mapping"][vendor_id],
            format!("#/components/schemas/{create}")
        );
        let described = herald_vendors::certificate_fields(vendor);
        let secrets = herald_vendors::secret_fields(vendor);
        let accepted: BTreeSet<String> = described.fields.iter().map(|f| f.name.to_string()).collect();
        let common: BTreeSet<String> = COMMON_FIELDS.iter().map(|f| f.to_string()).collect();

        // Create: the common fields and exactly the vendor's; required and write-only marked.
        let object = create_object(&doc, &create);
        let properties = names_of(object, "properties");
        assert_eq!(
            properties.difference(&common).cloned().collect::<BTreeSet<_>>(),
            accepted,
            "{create}: vendor fields"
        );
        assert!(properties.is_superset(&common), "{create}: common fields");
        let required = names_of(object, "required");
        let expected_required: BTreeSet<String> = ["vendor", "name"]
            .into_iter()
            .map(str::to_string)
            .chain(
                described
                    .fields
                    .iter()
                    .filter(|f| f.required)
                    .map(|f| f.name.to_string()),
            )
            .collect();
        assert_eq!(required, expected_required, "{create}: required");
        for field in &accepted {
            let property = &object["properties"][field];
            assert!(
                property["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{create}.{field}: no description"
            );
            assert_eq!(
                property["writeOnly"] == true,
                secrets.contains(&field.as_str()),
                "{create}.{field}: writeOnly"
            );
        }
        assert_eq!(object["additionalProperties"], false, "{create}");

        // The server's own valid fixture fits the schema.
        let (fixture, _) = valid_certificate(vendor_id);
        openapi::assert_fits(&doc, "CertificateRequest", &fixture);

        // A body of the required fields (and the first way of authenticating) is accepted.
        let mut minimal = serde_json::Map::new();
        let first_way = described.credentials.first().copied().unwrap_or_default();
        for key in required
            .iter()
            .map(String::as_str)
            .chain(first_way.iter().copied())
        {
            let value = fixture
                .get(key)
                .unwrap_or_else(|| panic!("{vendor_id}: no fixture value for {key}"));
            minimal.insert(key.to_string(), value.clone());
        }
        let minimal = Value::Object(minimal);
        openapi::assert_fits(&doc, &create, &minimal);
        let created = expect(
            server
                .admin(Method::POST, &format!("/v1/apps/{}/certificates", app.id))
                .json(&minimal),
            201,
        )
        .await;
        openapi::assert_fits(&doc, "CertificateView", &created);
        openapi::assert_fits(&doc, &view, &created);
        for secret in secrets {
            assert!(
                created.get(*secret).is_none(),
                "{vendor_id}: {secret} in the answer"
            );
        }

        // A field outside the schema is refused, as the schema's `additionalProperties` says.
        let mut unknown = fixture.clone();
        unknown["name"] = json!(format!("{vendor_id}-unknown"));
        unknown["not_in_the_schema"] = json!("x");
        assert!(!openapi::violations(&doc, openapi::component(&doc, &create), &unknown).is_empty());
        expect_error(
            server
                .admin(Method::POST, &format!("/v1/apps/{}/certificates", app.id))
                .json(&unknown),
            400,
            "unknown_field",
        )
        .await;

        // Update: the same fields, none required; the answer fits.
        let changes = openapi::component(&doc, &update);
        assert_eq!(names_of(changes, "properties"), properties, "{update}");
        assert!(
            names_of(changes, "required").is_empty(),
            "{update}: nothing is required"
        );
        let change = json!({"enabled": false});
        openapi::assert_fits(&doc, "CertificateUpdate", &change);
        let updated = expect(
            server
                .admin(
                    Method::PUT,
                    &format!("/v1/apps/{}/certificates/{}", app.id, created["id"]),
                )
                .json(&change),
            200,
        )
        .await;
        openapi::assert_fits(&doc, &view, &updated);

        // Answer: the public fields only; secrets are named in `secret_fields`.
        let answer = openapi::component(&doc, &view);
        let public: BTreeSet<String> = accepted
            .iter()
            .filter(|f| !secrets.contains(&f.as_str()))
            .cloned()
            .collect();
        let shown = names_of(answer, "properties");
        for secret in secrets {
            assert!(!shown.contains(*secret), "{view} shows {secret}");
        }
        assert!(shown.is_superset(&public), "{view}: public fields");
        assert_eq!(
            names_of(&answer["properties"]["secret_fields"]["items"], "enum"),
            secrets.iter().map(|s| s.to_string()).collect(),
            "{view}: secret_fields"
        );
    }
}
