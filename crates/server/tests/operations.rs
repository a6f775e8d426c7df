//! Operations endpoints (health, readiness, metrics), the OpenAPI document's coverage of the
//! whole contract, and the per-vendor statistics.

mod common;

use common::{TestServer, expect, expect_error, valid_certificate, webpush_subscription};
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
