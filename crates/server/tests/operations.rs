//! Operations endpoints (health, readiness, metrics), the OpenAPI document's coverage of the
//! whole contract, and the per-vendor statistics.

mod common;

use common::{Phone, TestServer, expect, expect_error, openapi, valid_certificate, webpush_subscription};
use herald_server::gateway::protocol::{ClientFrame, ServerFrame};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn health_and_readiness_answer_ok_without_credentials() {
    let server = TestServer::start().await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            expect(server.anon(Method::GET, path), 200).await,
            json!({"status": "ok"}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn metrics_count_http_requests_in_prometheus_format() {
    let server = TestServer::start().await;
    server.create_app("chat").await;
    expect(server.anon(Method::GET, "/healthz"), 200).await;
    expect(server.anon(Method::GET, "/v1/apps"), 401).await;

    let response = server
        .anon(Method::GET, "/metrics")
        .send()
        .await
        .expect("metrics");
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("text");
    let counted: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("herald_http_requests_total{"))
        .collect();
    assert!(!counted.is_empty(), "no request counter in:\n{text}");
    assert!(
        counted
            .iter()
            .any(|l| l.contains("route=\"/healthz\"") && l.contains("status=\"200\"")),
        "/healthz not counted:\n{text}"
    );
    assert!(
        counted
            .iter()
            .any(|l| l.contains("route=\"/v1/apps\"") && l.contains("status=\"401\"")),
        "refused /v1/apps not counted:\n{text}"
    );
    assert!(
        text.contains("herald_http_request_duration_seconds"),
        "no latency histogram:\n{text}"
    );
}

/// Every route of the contract (docs API.md) that this server serves, with its methods.
const CONTRACT: &[(&str, &[&str])] = &[
    ("/v1/apps", &["get", "post"]),
    ("/v1/apps/{app}", &["get", "delete"]),
    ("/v1/apps/{app}/secret/rotate", &["post"]),
    ("/v1/apps/{app}/certificates", &["get", "post"]),
    ("/v1/apps/{app}/certificates/{id}", &["get", "put", "delete"]),
    ("/v1/apps/{app}/stats", &["get"]),
    ("/v1/apps/{app}/users/{user}/tokens", &["post"]),
    ("/v1/apps/{app}/users/{user}", &["get", "put"]),
    ("/v1/apps/{app}/groups", &["post"]),
    ("/v1/apps/{app}/groups/{group}", &["get", "delete"]),
    ("/v1/apps/{app}/groups/{group}/members", &["post"]),
    ("/v1/apps/{app}/groups/{group}/members/{user}", &["delete"]),
    ("/v1/apps/{app}/users/{user}/devices", &["get"]),
    ("/v1/apps/{app}/users/{user}/devices/{device}/kick", &["post"]),
    ("/v1/me/devices/{device}/push-token", &["put", "delete"]),
    ("/v1/me/devices/{device}/background", &["post"]),
    ("/v1/me/devices/{device}/foreground", &["post"]),
    ("/v1/me/devices/{device}/logout", &["post"]),
    ("/v1/me/push-settings", &["get", "put"]),
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
];

#[tokio::test]
async fn the_openapi_document_describes_every_route_of_the_contract() {
    let server = TestServer::start().await;
    let doc = expect(server.anon(Method::GET, "/openapi.json"), 200).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "not an OpenAPI 3 document"
    );
    let paths = doc["paths"].as_object().expect("paths object");
    let mut missing = Vec::new();
    for (path, methods) in CONTRACT {
        for method in *methods {
            match paths.get(*path) {
                Some(item) if item.get(*method).is_some() => {}
                _ => missing.push(format!("{} {path}", method.to_uppercase())),
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in /openapi.json: {missing:?}\ndocumented: {:?}",
        paths.keys()
    );

    // Each documented operation names its answers; the security schemes are declared.
    for (path, methods) in CONTRACT {
        for method in *methods {
            let operation = &paths[*path][*method];
            assert!(
                operation["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
        }
    }
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for scheme in ["admin_token", "app_secret", "user_token"] {
        assert!(schemes.contains_key(scheme), "no {scheme} scheme");
    }
}

/// What the server answers a caller without credentials, and a body sent as something other
/// than JSON, is among the answers the document lists for that operation: a client generated
/// from it knows every status it can get.
#[tokio::test]
async fn the_openapi_document_lists_the_errors_each_route_gives() {
    let server = TestServer::start().await;
    let doc = expect(server.anon(Method::GET, "/openapi.json"), 200).await;
    let app = server.create_app("chat").await;
    let mut undocumented = Vec::new();
    for (path, methods) in CONTRACT {
        let concrete = path
            .replace("{app}", &app.id)
            .replace("{id}", "1")
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in *methods {
            let operation = &doc["paths"][*path][*method];
            let documented = |status: u16| operation["responses"].get(status.to_string()).is_some();
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            if operation["security"].as_array().is_some_and(|s| !s.is_empty()) {
                let status = server
                    .anon(method.clone(), &concrete)
                    .send()
                    .await
                    .expect("request")
                    .status()
                    .as_u16();
                assert_eq!(status, 401, "{method} {path} without credentials");
                if !documented(status) {
                    undocumented.push(format!("{method} {path}: {status}"));
                }
            }
            if operation.get("requestBody").is_some() {
                let status = server
                    .admin(method.clone(), &concrete)
                    .header("content-type", "text/plain")
                    .body("{}")
                    .send()
                    .await
                    .expect("request")
                    .status()
                    .as_u16();
                if !documented(status) {
                    undocumented.push(format!("{method} {path} (text/plain body): {status}"));
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "answers missing from /openapi.json: {undocumented:#?}"
    );
}

/// Every parameter the document places in the path is a `{name}` of that path, and the
/// parameters read from the query string are documented as query parameters; a client built
/// from the document would otherwise send them where the server does not look.
#[tokio::test]
async fn the_openapi_document_puts_each_parameter_where_the_server_reads_it() {
    let server = TestServer::start().await;
    let doc = expect(server.anon(Method::GET, "/openapi.json"), 200).await;
    let paths = doc["paths"].as_object().expect("paths object");
    let mut misplaced = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            for parameter in &parameters {
                let name = parameter["name"].as_str().expect("parameter name");
                let in_template = path.contains(&format!("{{{name}}}"));
                if (parameter["in"] == "path") != in_template {
                    misplaced.push(format!("{method} {path}: `{name}` is in {}", parameter["in"]));
                }
            }
            // Each `{name}` of the template is documented as a path parameter.
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                if !parameters.iter().any(|p| p["name"] == name && p["in"] == "path") {
                    misplaced.push(format!("{method} {path}: `{name}` is not documented"));
                }
            }
        }
    }
    assert!(misplaced.is_empty(), "misplaced parameters: {misplaced:#?}");

    let query_of = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(query_of("/v1/connect", "get"), ["device", "platform", "token"]);
    assert_eq!(
        query_of("/v1/apps/{app}/users/{user}/devices/{device}/deliveries", "get"),
        ["limit"]
    );
}

/// Answers found by calling the routes (and by `.ci/api-check`) that the document once left
/// out: an unknown recipient, a device whose session ended, another app's credentials.
#[tokio::test]
async fn the_openapi_document_lists_the_answers_that_depend_on_stored_state() {
    let server = TestServer::start().await;
    let doc = expect(server.anon(Method::GET, "/openapi.json"), 200).await;
    let responses = |path: &str, method: &str| doc["paths"][path][method]["responses"].clone();
    for (path, method, status) in [
        ("/v1/me/messages", "post", "404"),
        ("/v1/me/messages", "post", "403"),
        ("/v1/me/devices/{device}/background", "post", "409"),
        ("/v1/me/devices/{device}/foreground", "post", "409"),
        ("/v1/apps/{app}/groups", "post", "404"),
        ("/v1/apps/{app}/groups", "post", "403"),
        ("/v1/apps/{app}/messages/batch", "post", "404"),
        ("/v1/apps/{app}/users/{user}/tokens", "post", "404"),
        ("/v1/apps/{app}/users/{user}", "put", "404"),
        ("/v1/apps", "post", "408"),
    ] {
        assert!(
            responses(path, method).get(status).is_some(),
            "{method} {path} does not list {status}"
        );
    }

    // And the server gives them.
    let app = server.create_app("chat").await;
    let token = server.user_token(&app, "alice").await;
    expect_error(
        server
            .phone(&token, Method::POST, "/v1/me/messages")
            .json(&json!({"to": "nobody", "kind": "text", "content": {"text": "hi"}})),
        404,
        "user_not_found",
    )
    .await;
    let other = server.create_app("other").await;
    expect_error(
        server
            .backend(&other, Method::POST, &format!("/v1/apps/{}/groups", app.id))
            .json(&json!({"name": "team"})),
        403,
        "wrong_app",
    )
    .await;
}

#[tokio::test]
async fn stats_count_certificates_and_bound_devices_per_vendor() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let stats_path = format!("/v1/apps/{}/stats", app.id);
    let empty = expect(server.admin(Method::GET, &stats_path), 200).await;
    assert_eq!(empty["app_id"], app.id.as_str());
    assert_eq!(empty["vendors"], json!({}));

    let fcm = server.create_certificate(&app, valid_certificate("fcm").0).await["id"]
        .as_i64()
        .expect("id");
    let (mut fcm2, _) = valid_certificate("fcm");
    fcm2["name"] = json!("fcm-backup");
    server.create_certificate(&app, fcm2).await;
    let webpush = server
        .create_certificate(&app, valid_certificate("webpush").0)
        .await["id"]
        .as_i64()
        .expect("id");
    server
        .create_certificate(&app, valid_certificate("huawei").0)
        .await;

    let alice = server.user_token(&app, "alice").await;
    let bob = server.user_token(&app, "bob").await;
    let bind = |token: &str, device: &str, body: serde_json::Value| {
        server
            .phone(token, Method::PUT, &format!("/v1/me/devices/{device}/push-token"))
            .json(&body)
    };
    let android = |t: &str| json!({"certificate_id": fcm, "token": t, "platform": "android"});
    expect(bind(&alice, "pixel", android("fcm-token-alice-0000000001")), 200).await;
    expect(bind(&bob, "galaxy", android("fcm-token-bob-000000000002")), 200).await;
    let sub = json!({"certificate_id": webpush, "token": webpush_subscription(), "platform": "web"});
    expect(bind(&alice, "browser", sub), 200).await;
    // A device whose token was forgotten is no longer counted.
    expect(bind(&bob, "old", android("fcm-token-bob-old-00000003")), 200).await;
    let logout = server
        .phone(&bob, Method::POST, "/v1/me/devices/old/logout")
        .json(&json!({"unbind": true}));
    expect(logout, 200).await;

    let stats = expect(server.admin(Method::GET, &stats_path), 200).await;
    let vendors = &stats["vendors"];
    assert_eq!(vendors["fcm"]["certificates"], 2, "{stats}");
    assert_eq!(vendors["fcm"]["bound_devices"], 2, "{stats}");
    assert_eq!(vendors["webpush"]["certificates"], 1, "{stats}");
    assert_eq!(vendors["webpush"]["bound_devices"], 1, "{stats}");
    assert_eq!(vendors["huawei"]["certificates"], 1, "{stats}");
    assert_eq!(vendors["huawei"]["bound_devices"], 0, "{stats}");
    assert!(
        vendors.get("apns").is_none(),
        "a vendor without certificates is listed: {stats}"
    );
    assert!(vendors["fcm"]["outcomes"].is_object(), "{stats}");
}

#[tokio::test]
async fn a_node_with_another_master_key_is_refused_at_start_and_the_data_stays_readable() {
    let server = TestServer::start().await;
    let app = server.create_app("keyed").await;
    let other = tempfile::tempdir().expect("dir");
    let wrong_key = other.path().join("other.key");
    std::fs::write(&wrong_key, "cd".repeat(32)).expect("key");
    // A second node on the same database, started with a master key of its own.
    let refused = herald_server::prepare(herald_server::Config {
        data_dir: other.path().join("data"),
        database_url: server.database_url.clone(),
        master_key_file: wrong_key.display().to_string(),
        ..herald_server::Config::default()
    })
    .await
    .expect_err("a different master key is refused");
    let message = refused.to_string();
    // An embedded database belongs to the process running on it: a second one is refused
    // before it reads anything. A cluster's nodes share the database and check the key.
    let cause = if common::scale_out() {
        "master key does not match"
    } else {
        "another Herald process is using this database"
    };
    assert!(message.contains(cause), "the error names the cause: {message}");
    // The running node still opens its secrets: the app's credentials check out.
    assert!(!server.user_token(&app, "someone").await.is_empty());
}

#[tokio::test]
async fn a_start_refused_for_its_master_key_leaves_no_new_key_file_behind() {
    let server = TestServer::start().await;
    let other = tempfile::tempdir().expect("dir");
    let new_key = other.path().join("data").join("master.key");
    // No key file: the start generates one, which the existing database then refuses.
    let refused = herald_server::prepare(herald_server::Config {
        data_dir: other.path().join("data"),
        database_url: server.database_url.clone(),
        ..herald_server::Config::default()
    })
    .await
    .expect_err("a freshly generated master key is refused by an existing database");
    let cause = if common::scale_out() {
        "master key does not match"
    } else {
        "another Herald process is using this database"
    };
    assert!(refused.to_string().contains(cause), "{refused}");
    assert!(
        !new_key.exists(),
        "the refused start left its generated key at {}",
        new_key.display()
    );
}

/// Every answer of every operation says what it means, and a JSON answer says its shape: a
/// generated client documents and types each one.
#[tokio::test]
async fn the_openapi_document_describes_every_answer_of_every_operation() {
    let server = TestServer::start().await;
    let doc = expect(server.anon(Method::GET, "/openapi.json"), 200).await;
    let mut undescribed = Vec::new();
    let mut answers = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            for (status, response) in operation["responses"].as_object().expect("responses") {
                answers += 1;
                let at = format!("{} {path} {status}", method.to_uppercase());
                let response = openapi::resolve(&doc, response);
                if response["description"]
                    .as_str()
                    .is_none_or(|d| d.trim().is_empty())
                {
                    undescribed.push(format!("{at}: no description"));
                }
                let content = response["content"].as_object();
                for (media, body) in content.into_iter().flatten() {
                    if media.contains("json") && body["schema"].is_null() {
                        undescribed.push(format!("{at}: {media} without a schema"));
                    }
                }
                // Errors are JSON `{code, message}`; answers with a body say which.
                let bodiless = ["101", "204"].contains(&status.as_str());
                if !bodiless && content.is_none_or(|c| c.is_empty()) {
                    undescribed.push(format!("{at}: no content"));
                }
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"];
                    if schema["$ref"] != "#/components/schemas/ErrorBody" {
                        undescribed.push(format!("{at}: not an ErrorBody"));
                    }
                }
            }
        }
    }
    assert!(answers > 100, "only {answers} answers documented");
    assert!(undescribed.is_empty(), "{undescribed:#?}");
}

/// Every `$ref` of the document, with where it is.
fn references(value: &serde_json::Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, member) in map {
                match (key.as_str(), member) {
                    ("$ref", serde_json::Value::String(target)) => {
                        found.push((at.to_string(), target.clone()))
                    }
                    _ => references(member, &format!("{at}/{key}"), found),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                references(item, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// Schemas are named after what they describe, never after the Rust type that carried them
/// (utoipa names a schema `i64` when a field's type is an alias of it), and every reference
/// reaches a schema of the document.
#[tokio::test]
async fn no_schema_of_the_openapi_document_is_named_after_a_rust_type() {
    const RUST_NAMES: &[&str] = &[
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "isize",
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "f32",
        "f64",
        "bool",
        "char",
        "str",
        "String",
        "Value",
        "Map",
        "Object",
        "Vec",
        "Option",
        "Box",
        "HashMap",
        "BTreeMap",
        "TupleUnit",
        "Millis",
    ];
    let server = TestServer::start().await;
    let doc = expect(server.anon(Method::GET, "/openapi.json"), 200).await;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let misnamed: Vec<&String> = schemas
        .keys()
        .filter(|name| {
            RUST_NAMES.contains(&name.as_str())
                || name.contains(['<', '>', ':', ' '])
                || !name.starts_with(|c: char| c.is_ascii_uppercase())
        })
        .collect();
    assert!(
        misnamed.is_empty(),
        "schemas named after Rust types: {misnamed:?}"
    );

    let mut found = Vec::new();
    references(&doc, "#", &mut found);
    let dangling: Vec<&(String, String)> = found
        .iter()
        .filter(|(_, target)| {
            target
                .strip_prefix("#/components/schemas/")
                .is_none_or(|name| !schemas.contains_key(name))
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:#?}");
}

/// The `type` of a server frame; a new frame type does not compile until it has a sample in
/// [`server_frame_samples`].
fn server_frame_type(frame: &ServerFrame) -> &'static str {
    match frame {
        ServerFrame::Sent { .. } => "sent",
        ServerFrame::Message { .. } => "message",
        ServerFrame::Synced { .. } => "synced",
        ServerFrame::Kicked { .. } => "kicked",
        ServerFrame::Pong => "pong",
        ServerFrame::Error { .. } => "error",
    }
}

/// One frame of each type the server sends (two for `error`: with and without `ref`).
fn server_frame_samples() -> Vec<ServerFrame> {
    vec![
        ServerFrame::Sent {
            reference: json!("r1"),
            message_id: "msg_1".into(),
            seq: 7,
            push_queued: 1,
            pushed: 1,
            live: 0,
        },
        ServerFrame::Message {
            seq: 8,
            message: json!({"id": "msg_2", "from": "bob", "to": "alice", "conversation": "c2c:bob",
                "kind": "text", "content": {"text": "hi"}, "created_at": 1}),
        },
        ServerFrame::Synced { seq: 8 },
        ServerFrame::Kicked {
            reason: "logged out".into(),
        },
        ServerFrame::Pong,
        ServerFrame::error("invalid_state", "no"),
        ServerFrame::send_error(None, "wrong_sender", "no"),
    ]
}

/// The `type` of a client frame; a new frame type does not compile until it has a sample in
/// [`CLIENT_FRAME_SAMPLES`].
fn client_frame_type(frame: &ClientFrame) -> &'static str {
    match frame {
        ClientFrame::Send { .. } => "send",
        ClientFrame::Ack { .. } => "ack",
        ClientFrame::State { .. } => "state",
        ClientFrame::Sync { .. } => "sync",
        ClientFrame::Ping => "ping",
    }
}

/// One frame of each type a client sends, as the README shows them.
const CLIENT_FRAME_SAMPLES: &[&str] = &[
    r#"{"type":"send","ref":"r1","to":"bob","kind":"text","content":{"text":"hi"}}"#,
    r#"{"type":"ack","seq":7}"#,
    r#"{"type":"state","state":"background","unread":3}"#,
    r#"{"type":"sync","after":5}"#,
    r#"{"type":"ping"}"#,
];

/// A value for each required member of a client frame built from the document.
fn sample_value(name: &str, kind: &str) -> serde_json::Value {
    match name {
        "type" => json!(kind),
        "seq" => json!(1),
        "state" => json!("foreground"),
        "kind" => json!("text"),
        "content" => json!({"text": "hi"}),
        other => panic!("no sample value for `{other}` of a `{kind}` frame; add one"),
    }
}

/// The WebSocket frames are in the document, one schema per frame type behind a `type`
/// discriminator, linked from `/v1/connect`'s 101 answer: every frame type the code has is
/// there, every frame the server writes fits, and every client frame built from the document
/// is one the server reads — also over a real connection.
#[tokio::test]
async fn the_openapi_document_describes_every_websocket_frame() {
    let server = TestServer::start().await;
    let doc = expect(server.anon(Method::GET, "/openapi.json"), 200).await;
    let switching = &doc["paths"]["/v1/connect"]["get"]["responses"]["101"];
    assert_eq!(
        switching["x-websocket-frames"]["client"]["$ref"],
        "#/components/schemas/ClientFrame"
    );
    assert_eq!(
        switching["x-websocket-frames"]["server"]["$ref"],
        "#/components/schemas/ServerFrame"
    );
    let description = switching["description"].as_str().expect("description");
    assert!(
        description.contains("ClientFrame") && description.contains("ServerFrame"),
        "{description}"
    );

    let mapping = |union: &str| -> std::collections::BTreeMap<String, String> {
        let schema = openapi::component(&doc, union);
        assert_eq!(schema["discriminator"]["propertyName"], "type", "{union}");
        let mapping = schema["discriminator"]["mapping"].as_object().expect("mapping");
        assert_eq!(
            mapping.len(),
            schema["oneOf"].as_array().map_or(0, Vec::len),
            "{union}"
        );
        mapping
            .iter()
            .map(|(kind, target)| (kind.clone(), target.as_str().expect("ref").to_string()))
            .collect()
    };

    // Server frames: every type the code has is documented, and each sample fits.
    let server_types = mapping("ServerFrame");
    let samples = server_frame_samples();
    let sampled: std::collections::BTreeSet<&str> = samples.iter().map(server_frame_type).collect();
    assert_eq!(
        sampled,
        server_types.keys().map(String::as_str).collect(),
        "server frame types in the code vs the document"
    );
    for frame in &samples {
        let value: serde_json::Value = serde_json::from_str(&frame.to_text()).expect("json");
        openapi::assert_fits(&doc, "ServerFrame", &value);
        let own = server_types[server_frame_type(frame)].trim_start_matches("#/components/schemas/");
        openapi::assert_fits(&doc, own, &value);
    }

    // Client frames: the README's samples parse into every type and fit the document; a frame
    // of each documented type, built from its required members, is one the server reads.
    let client_types = mapping("ClientFrame");
    let mut sampled = std::collections::BTreeSet::new();
    for text in CLIENT_FRAME_SAMPLES {
        let frame = herald_server::gateway::protocol::parse(text).expect("a client frame");
        sampled.insert(client_frame_type(&frame));
        openapi::assert_fits(&doc, "ClientFrame", &serde_json::from_str(text).expect("json"));
    }
    assert_eq!(
        sampled,
        client_types.keys().map(String::as_str).collect(),
        "client frame types in the code vs the document"
    );
    let mut built = Vec::new();
    for (kind, target) in &client_types {
        let schema = openapi::component(&doc, target.trim_start_matches("#/components/schemas/"));
        let mut frame = serde_json::Map::new();
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().expect("name");
            frame.insert(name.to_string(), sample_value(name, kind));
        }
        let frame = serde_json::Value::Object(frame);
        openapi::assert_fits(&doc, "ClientFrame", &frame);
        let parsed = herald_server::gateway::protocol::parse(&frame.to_string())
            .unwrap_or_else(|e| panic!("{frame} is not read: {e:?}"));
        assert_eq!(client_frame_type(&parsed), kind);
        built.push(frame);
    }

    // Over a real connection, every answer to those frames fits the document.
    let app = server.create_app("chat").await;
    let token = server.user_token(&app, "alice").await;
    let mut phone = Phone::connect(&server, &token, "phone-1", "android").await;
    let mut answers = 0;
    for frame in built {
        phone.send(frame).await;
        while let Some(answer) = phone.next(std::time::Duration::from_millis(300)).await {
            openapi::assert_fits(&doc, "ServerFrame", &answer);
            answers += 1;
        }
    }
    assert!(answers >= 2, "expected at least a pong and an answer to the send");
}
