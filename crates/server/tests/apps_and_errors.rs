//! The admin API's apps and secrets, the server API's groups and ids, and the error answers
//! every route shares: each one a precise status and a `{code, message}` body.

mod common;

use common::{TestApp, TestServer, expect, expect_error};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

fn listed_ids(apps: &Value) -> Vec<&str> {
    apps.as_array()
        .expect("app list")
        .iter()
        .map(|a| a["id"].as_str().expect("id"))
        .collect()
}

#[tokio::test]
async fn apps_are_created_listed_read_and_deleted_and_show_their_secret_only_once() {
    let server = TestServer::start().await;
    let created = expect(
        server
            .admin(Method::POST, "/v1/apps")
            .json(&json!({"name": "Chat"})),
        201,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(created["name"], "Chat");
    assert!(
        created["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("hrs_") && s.len() > 20),
        "{created}"
    );
    let other = server.create_app("Other").await;

    let list = expect(server.admin(Method::GET, "/v1/apps"), 200).await;
    let mut ids = listed_ids(&list);
    ids.sort_unstable();
    let mut want = vec![id.as_str(), other.id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    for app in list.as_array().expect("list") {
        assert!(app.get("secret").is_none(), "secret listed: {app}");
    }

    let path = format!("/v1/apps/{id}");
    let read = expect(server.admin(Method::GET, &path), 200).await;
    assert_eq!(read["id"], id.as_str());
    assert_eq!(read["name"], "Chat");
    assert!(read.get("secret").is_none(), "secret shown on read: {read}");

    expect(server.admin(Method::DELETE, &path), 204).await;
    expect_error(server.admin(Method::GET, &path), 404, "app_not_found").await;
    expect_error(server.admin(Method::DELETE, &path), 404, "app_not_found").await;
    let list = expect(server.admin(Method::GET, "/v1/apps"), 200).await;
    assert_eq!(listed_ids(&list), vec![other.id.as_str()]);

    expect_error(
        server
            .admin(Method::POST, "/v1/apps")
            .json(&json!({"name": "  "})),
        400,
        "invalid_field",
    )
    .await;
}

#[tokio::test]
async fn rotating_the_secret_retires_the_old_one() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let user = format!("/v1/apps/{}/users/alice", app.id);
    expect(server.backend(&app, Method::PUT, &user).json(&json!({})), 201).await;

    let rotated = expect(
        server.admin(Method::POST, &format!("/v1/apps/{}/secret/rotate", app.id)),
        200,
    )
    .await;
    let secret = rotated["secret"].as_str().expect("secret").to_string();
    assert_ne!(secret, app.secret);
    assert!(secret.starts_with("hrs_"));

    expect_error(
        server.backend(&app, Method::GET, &user),
        401,
        "invalid_app_credentials",
    )
    .await;
    let renewed = TestApp {
        id: app.id.clone(),
        secret,
    };
    expect(server.backend(&renewed, Method::GET, &user), 200).await;
    expect_error(
        server.admin(Method::POST, "/v1/apps/app_0000000000000000/secret/rotate"),
        404,
        "app_not_found",
    )
    .await;
}

#[tokio::test]
async fn the_admin_api_wants_the_admin_token() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    expect_error(server.anon(Method::GET, "/v1/apps"), 401, "missing_credentials").await;
    expect_error(
        server.phone("hra_wrong", Method::GET, "/v1/apps"),
        401,
        "invalid_admin_token",
    )
    .await;
    expect_error(
        server.phone(&app.secret, Method::GET, "/v1/apps"),
        401,
        "admin_token_required",
    )
    .await;
    let create = server
        .phone("hra_wrong", Method::POST, "/v1/apps")
        .json(&json!({"name": "sneaky"}));
    expect_error(create, 401, "invalid_admin_token").await;
    assert_eq!(
        listed_ids(&expect(server.admin(Method::GET, "/v1/apps"), 200).await),
        vec![app.id.as_str()]
    );
}

#[tokio::test]
async fn bodies_that_are_not_the_expected_json_are_refused() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let raw = |method: Method, path: &str, body: &'static str| {
        server
            .admin(method, path)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    };

    expect_error(
        raw(Method::POST, "/v1/apps", "{\"name\": "),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        raw(Method::POST, "/v1/apps", "{\"name\": \"x\"} trailing"),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        raw(Method::POST, "/v1/apps", "{\"name\": 5}"),
        400,
        "invalid_body",
    )
    .await;
    expect_error(
        raw(Method::POST, "/v1/apps", "{\"nom\": \"chat\"}"),
        400,
        "unknown_field",
    )
    .await;
    expect_error(raw(Method::POST, "/v1/apps", "[]"), 400, "invalid_body").await;
    let no_type = server
        .admin(Method::POST, "/v1/apps")
        .body("{\"name\": \"chat\"}");
    expect_error(no_type, 415, "unsupported_media_type").await;

    // Routes whose body is optional check it just as strictly when one is sent.
    let tokens = format!("/v1/apps/{}/users/alice/tokens", app.id);
    expect_error(
        raw(Method::POST, &tokens, "{\"ttl_seconds\": "),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        raw(Method::POST, &tokens, "{\"ttl_seconds\": \"long\"}"),
        400,
        "invalid_body",
    )
    .await;

    // None of the refused requests created an app.
    assert_eq!(
        listed_ids(&expect(server.admin(Method::GET, "/v1/apps"), 200).await),
        vec![app.id.as_str()]
    );
}

/// serde reads a struct from a JSON array by position unless told otherwise, so `["chat"]`
/// would create an app named "chat". Every body is an object or is refused.
#[tokio::test]
async fn a_json_array_is_never_read_as_an_object() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let refused = |request: reqwest::RequestBuilder| async move {
        let body = expect_error(request, 400, "invalid_body").await;
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("JSON object") || message.contains("invalid type: sequence, expected struct"),
            "unclear message: {body}"
        );
    };

    let array = |builder: reqwest::RequestBuilder, body: &'static str| {
        builder.header(CONTENT_TYPE, "application/json").body(body)
    };
    refused(array(server.admin(Method::POST, "/v1/apps"), "[\"chat\"]")).await;
    // Routes whose body may be left out refuse an array as well.
    let alice = format!("/v1/apps/{}/users/alice", app.id);
    refused(array(server.backend(&app, Method::PUT, &alice), "[\"Alice\"]")).await;
    refused(array(
        server.backend(&app, Method::POST, &format!("{alice}/tokens")),
        "[3600]",
    ))
    .await;
    let send = format!("/v1/apps/{}/messages", app.id);
    refused(array(
        server.backend(&app, Method::POST, &send),
        "[\"alice\", \"alice\", null, \"text\", {\"text\": \"hi\"}]",
    ))
    .await;
    let token = server.user_token(&app, "alice").await;
    refused(array(
        server.phone(&token, Method::PUT, "/v1/me/push-settings"),
        "[false]",
    ))
    .await;

    // Nor inside a body: a do-not-disturb window or push info given as an array.
    refused(array(
        server.phone(&token, Method::PUT, "/v1/me/push-settings"),
        "{\"dnd\": [\"22:00\", \"07:00\", \"Europe/Paris\"]}",
    ))
    .await;
    server
        .backend(&app, Method::PUT, &format!("/v1/apps/{}/users/bob", app.id))
        .send()
        .await
        .expect("create bob");
    refused(array(
        server.backend(&app, Method::POST, &send),
        "{\"from\": \"alice\", \"to\": \"bob\", \"kind\": \"text\", \"content\": {\"text\": \"hi\"}, \"push\": [true]}",
    ))
    .await;

    // Nothing was written: no app besides the first, and alice kept the default settings.
    assert_eq!(
        listed_ids(&expect(server.admin(Method::GET, "/v1/apps"), 200).await),
        vec![app.id.as_str()]
    );
    let settings = expect(server.phone(&token, Method::GET, "/v1/me/push-settings"), 200).await;
    assert_eq!(settings["enabled"], true, "{settings}");
    // The same bodies as objects are taken.
    expect(
        server
            .admin(Method::POST, "/v1/apps")
            .json(&json!({"name": "chat 2"})),
        201,
    )
    .await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let server = TestServer::start_with(|c| c.max_body_bytes = 1024).await;
    let app = server.create_app("chat").await;
    let big = json!({"name": "x".repeat(4096)});
    let refused = expect_error(
        server.admin(Method::POST, "/v1/apps").json(&big),
        413,
        "payload_too_large",
    )
    .await;
    // The message gives the limit, and the setting that makes it.
    assert_eq!(
        refused["message"],
        "the body is larger than the limit of 1024 bytes (max_body_bytes)"
    );

    let tokens = format!("/v1/apps/{}/users/alice/tokens", app.id);
    let padded = format!("{{\"ttl_seconds\": 3600{}}}", " ".repeat(4096));
    let request = server
        .backend(&app, Method::POST, &tokens)
        .header(CONTENT_TYPE, "application/json")
        .body(padded);
    let refused = expect_error(request, 413, "payload_too_large").await;
    assert_eq!(
        refused["message"],
        "the body is larger than the limit of 1024 bytes (max_body_bytes)"
    );

    // Under the limit, the same routes work.
    expect(
        server
            .admin(Method::POST, "/v1/apps")
            .json(&json!({"name": "small"})),
        201,
    )
    .await;
}

#[tokio::test]
async fn unknown_routes_methods_and_apps_get_their_own_codes() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    expect_error(
        server.admin(Method::GET, "/v1/nothing-here"),
        404,
        "route_not_found",
    )
    .await;
    expect_error(server.anon(Method::GET, "/v2/apps"), 404, "route_not_found").await;
    expect_error(server.admin(Method::PATCH, "/v1/apps"), 405, "method_not_allowed").await;
    expect_error(server.anon(Method::DELETE, "/healthz"), 405, "method_not_allowed").await;
    expect_error(
        server.admin(Method::PUT, &format!("/v1/apps/{}/groups", app.id)),
        405,
        "method_not_allowed",
    )
    .await;

    let ghost = "/v1/apps/app_0000000000000000";
    expect_error(server.admin(Method::GET, ghost), 404, "app_not_found").await;
    expect_error(
        server.admin(Method::GET, &format!("{ghost}/certificates")),
        404,
        "app_not_found",
    )
    .await;
    expect_error(
        server.admin(Method::GET, &format!("{ghost}/stats")),
        404,
        "app_not_found",
    )
    .await;
    expect_error(
        server.admin(Method::GET, &format!("{ghost}/users/alice")),
        404,
        "app_not_found",
    )
    .await;
    let mint = server
        .admin(Method::POST, &format!("{ghost}/users/alice/tokens"))
        .json(&json!({}));
    expect_error(mint, 404, "app_not_found").await;
    // An app backend naming an app that does not exist has wrong credentials (no existence leak).
    let guess = server
        .anon(Method::GET, &format!("{ghost}/users/alice"))
        .basic_auth("app_0000000000000000", Some("x"));
    expect_error(guess, 401, "invalid_app_credentials").await;

    expect_error(
        server.backend(&app, Method::GET, &format!("/v1/apps/{}/users/nobody", app.id)),
        404,
        "user_not_found",
    )
    .await;
}

/// A query that does not parse and a WebSocket route opened as plain HTTP get the same JSON
/// error shape as every other mistake, not a framework's text.
#[tokio::test]
async fn bad_queries_and_plain_requests_to_the_websocket_get_json_errors() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let token = server.user_token(&app, "alice").await;
    let body = expect_error(
        server.backend(
            &app,
            Method::GET,
            &format!(
                "/v1/apps/{}/users/alice/devices/phone/deliveries?limit=-1",
                app.id
            ),
        ),
        400,
        "invalid_query",
    )
    .await;
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("limit")),
        "{body}"
    );
    let body = expect_error(
        server.phone(&token, Method::GET, "/v1/connect?device=phone&platform=android"),
        400,
        "websocket_required",
    )
    .await;
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("WebSocket")),
        "{body}"
    );
    expect_error(
        server.phone(&token, Method::GET, "/v1/connect?platform=android"),
        400,
        "invalid_query",
    )
    .await;
    // A misspelt parameter is reported, not ignored (as an unknown body field is).
    let body = expect_error(
        server.backend(
            &app,
            Method::GET,
            &format!("/v1/apps/{}/users/alice/devices/phone/deliveries?limt=10", app.id),
        ),
        400,
        "invalid_query",
    )
    .await;
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("limt")),
        "{body}"
    );
    expect_error(
        server.phone(
            &token,
            Method::GET,
            "/v1/connect?device=phone&platform=android&devcie=tablet",
        ),
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn caller_chosen_ids_must_be_url_safe() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let users = format!("/v1/apps/{}/users", app.id);
    for bad in ["a%20b", "a%2Fb", "c2c:bob", "%C3%A9t%C3%A9"] {
        let err = expect_error(
            server
                .backend(&app, Method::PUT, &format!("{users}/{bad}"))
                .json(&json!({})),
            400,
            "invalid_id",
        )
        .await;
        assert_eq!(err["field"], "user", "{bad}: {err}");
        let mint = server
            .backend(&app, Method::POST, &format!("{users}/{bad}/tokens"))
            .json(&json!({}));
        expect_error(mint, 400, "invalid_id").await;
    }
    let long = "x".repeat(129);
    expect_error(
        server
            .backend(&app, Method::PUT, &format!("{users}/{long}"))
            .json(&json!({})),
        400,
        "invalid_id",
    )
    .await;
    // A real slash is another path altogether.
    expect_error(
        server
            .backend(&app, Method::PUT, &format!("{users}/a/b"))
            .json(&json!({})),
        404,
        "route_not_found",
    )
    .await;
    let group = server
        .backend(&app, Method::POST, &format!("/v1/apps/{}/groups", app.id))
        .json(&json!({"id": "my group", "name": "x", "members": []}));
    expect_error(group, 400, "invalid_id").await;

    // Accepted alphabet, and the refused ids created nothing.
    let ok = "alice.smith@example-1_2";
    expect(
        server
            .backend(&app, Method::PUT, &format!("{users}/{ok}"))
            .json(&json!({"nickname": "Alice"})),
        201,
    )
    .await;
    expect_error(
        server.backend(&app, Method::GET, &format!("{users}/a%20b")),
        404,
        "user_not_found",
    )
    .await;
}

#[tokio::test]
async fn profiles_are_created_then_updated() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let path = format!("/v1/apps/{}/users/alice", app.id);
    let created = expect(
        server
            .backend(&app, Method::PUT, &path)
            .json(&json!({"nickname": "Alice", "avatar_url": "https://x.test/a.png"})),
        201,
    )
    .await;
    assert_eq!(created["id"], "alice");
    let updated = expect(
        server
            .backend(&app, Method::PUT, &path)
            .json(&json!({"nickname": "Al"})),
        200,
    )
    .await;
    assert_eq!(updated["nickname"], "Al");
    let read = expect(server.backend(&app, Method::GET, &path), 200).await;
    assert_eq!(read["nickname"], "Al");
    let bad = server
        .backend(&app, Method::PUT, &path)
        .json(&json!({"avatar_url": "ftp://x.test/a.png"}));
    expect_error(bad, 400, "invalid_url").await;
}

#[tokio::test]
async fn groups_are_created_with_known_members_and_edited() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    for user in ["alice", "bob"] {
        expect(
            server
                .backend(&app, Method::PUT, &format!("/v1/apps/{}/users/{user}", app.id))
                .json(&json!({})),
            201,
        )
        .await;
    }
    let groups = format!("/v1/apps/{}/groups", app.id);
    let team = format!("{groups}/team");

    let err = expect_error(
        server
            .backend(&app, Method::POST, &groups)
            .json(&json!({"id": "team", "name": "Team", "members": ["alice", "ghost"]})),
        400,
        "unknown_members",
    )
    .await;
    assert!(
        err["message"].as_str().expect("message").contains("ghost"),
        "{err}"
    );
    expect_error(server.backend(&app, Method::GET, &team), 404, "group_not_found").await;

    let created = expect(
        server
            .backend(&app, Method::POST, &groups)
            .json(&json!({"id": "team", "name": "Team", "members": ["alice"]})),
        201,
    )
    .await;
    assert_eq!(
        (&created["id"], &created["name"], &created["members"]),
        (&json!("team"), &json!("Team"), &json!(["alice"]))
    );
    expect_error(
        server
            .backend(&app, Method::POST, &groups)
            .json(&json!({"id": "team", "name": "Again", "members": []})),
        409,
        "group_taken",
    )
    .await;
    assert_eq!(
        expect(server.backend(&app, Method::GET, &team), 200).await["name"],
        "Team"
    );

    let members = format!("{team}/members");
    let added = expect(
        server
            .backend(&app, Method::POST, &members)
            .json(&json!({"members": ["bob", "alice"]})),
        200,
    )
    .await;
    assert_eq!(added["members"], json!(["alice", "bob"]));
    let refused = server
        .backend(&app, Method::POST, &members)
        .json(&json!({"members": ["ghost"]}));
    expect_error(refused, 400, "unknown_members").await;
    let removed = expect(
        server.backend(&app, Method::DELETE, &format!("{members}/bob")),
        200,
    )
    .await;
    assert_eq!(removed["members"], json!(["alice"]));
    assert_eq!(
        expect(server.backend(&app, Method::GET, &team), 200).await["members"],
        json!(["alice"])
    );

    let nowhere = server
        .backend(&app, Method::POST, &format!("{groups}/nowhere/members"))
        .json(&json!({"members": ["bob"]}));
    expect_error(nowhere, 404, "group_not_found").await;

    // Without an id, Herald picks one.
    let unnamed = expect(
        server
            .backend(&app, Method::POST, &groups)
            .json(&json!({"name": "Anon", "members": []})),
        201,
    )
    .await;
    assert!(
        unnamed["id"].as_str().is_some_and(|id| id.starts_with("grp_")),
        "{unnamed}"
    );

    expect(server.backend(&app, Method::DELETE, &team), 204).await;
    expect_error(server.backend(&app, Method::GET, &team), 404, "group_not_found").await;
    expect_error(
        server.backend(&app, Method::DELETE, &team),
        404,
        "group_not_found",
    )
    .await;
}

#[tokio::test]
async fn user_token_lifetimes_are_bounded() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let tokens = format!("/v1/apps/{}/users/alice/tokens", app.id);
    for ttl in [0, 59, 90 * 24 * 3600 + 1] {
        let err = expect_error(
            server
                .backend(&app, Method::POST, &tokens)
                .json(&json!({"ttl_seconds": ttl})),
            400,
            "invalid_field",
        )
        .await;
        assert_eq!(err["field"], "ttl_seconds");
    }
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let minted = expect(
        server
            .backend(&app, Method::POST, &tokens)
            .json(&json!({"ttl_seconds": 60})),
        201,
    )
    .await;
    let expires_at = minted["expires_at"].as_i64().expect("expires_at");
    assert!(
        (55_000..=65_000).contains(&(expires_at - now_ms)),
        "expires_at {expires_at}, now {now_ms}"
    );
    assert!(
        minted["token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );

    // No body at all means the default lifetime, seven days.
    let default = expect(server.backend(&app, Method::POST, &tokens), 201).await;
    let left = default["expires_at"].as_i64().expect("expires_at") - now_ms;
    let week_ms = 7 * 24 * 3600 * 1000;
    assert!((week_ms - 5_000..=week_ms + 5_000).contains(&left), "{left}");
}

/// A body that is not JSON is described once, in Herald's words, with the position serde_json
/// found the mistake at; not "not valid JSON: Failed to parse the request body as JSON: …".
#[tokio::test]
async fn malformed_json_is_described_once_with_its_position() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let raw = |request: reqwest::RequestBuilder, body: &'static str| {
        request.header(CONTENT_TYPE, "application/json").body(body)
    };
    let tokens = format!("/v1/apps/{}/users/alice/tokens", app.id);
    for (request, body) in [
        (server.admin(Method::POST, "/v1/apps"), "{\"name\": \"x\" \"y\"}"),
        // A route whose body may be left out reads one that is sent the same way.
        (
            server.backend(&app, Method::POST, &tokens),
            "{\"ttl_seconds\": 60 \"y\"}",
        ),
    ] {
        let refused = expect_error(raw(request, body), 400, "malformed_json").await;
        let column = body.find(" \"y\"").expect("the mistake") + 2;
        assert_eq!(
            refused["message"],
            format!("the body is not valid JSON: expected `,` or `}}` at line 1 column {column}"),
            "{body}"
        );
    }
    let refused = expect_error(
        raw(
            server.admin(Method::POST, "/v1/apps"),
            "{\"name\": \"x\"} trailing",
        ),
        400,
        "malformed_json",
    )
    .await;
    assert_eq!(
        refused["message"],
        "the body is not valid JSON: trailing characters at line 1 column 15"
    );
    let refused = expect_error(
        raw(server.admin(Method::POST, "/v1/apps"), ""),
        400,
        "malformed_json",
    )
    .await;
    assert_eq!(
        refused["message"],
        "the body is empty; this route needs a JSON object"
    );
}

/// An unknown field is named, with the fields the object takes, as the certificate route names
/// an unknown vendor field; in a nested object and in a WebSocket frame too.
#[tokio::test]
async fn unknown_fields_are_named_with_the_accepted_ones() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let refused = expect_error(
        server
            .admin(Method::POST, "/v1/apps")
            .json(&json!({"name": "chat", "colour": "red"})),
        400,
        "unknown_field",
    )
    .await;
    assert_eq!(refused["field"], "colour");
    assert_eq!(
        refused["message"],
        "`colour` is not a field of this request body; the accepted fields are `name`"
    );

    for user in ["alice", "bob"] {
        expect(
            server
                .backend(&app, Method::PUT, &format!("/v1/apps/{}/users/{user}", app.id))
                .json(&json!({})),
            201,
        )
        .await;
    }
    let send = format!("/v1/apps/{}/messages", app.id);
    let refused = expect_error(
        server.backend(&app, Method::POST, &send).json(&json!({
            "from": "alice", "to": "bob", "kind": "text", "content": {"text": "hi"},
            "push": {"titel": "Hello"},
        })),
        400,
        "unknown_field",
    )
    .await;
    assert_eq!(refused["field"], "push.titel");
    let message = refused["message"].as_str().expect("message");
    assert!(
        message.starts_with(
            "`titel` is not a field of `push`; the accepted fields are `disabled`, `force`, `title`,"
        ),
        "{message}"
    );
    assert!(!message.contains("expected one of"), "{message}");

    // The same mistake in a WebSocket `send` frame gets the same code and words.
    let token = server.user_token(&app, "alice").await;
    let mut phone = common::Phone::connect(&server, &token, "phone", "android").await;
    phone
        .send(json!({
            "type": "send", "ref": "r1", "to": "bob", "kind": "text",
            "content": {"text": "hi"}, "colour": "red",
        }))
        .await;
    let error = phone.expect_frame("error").await;
    assert_eq!(
        (&error["code"], &error["ref"]),
        (&json!("unknown_field"), &json!("r1")),
        "{error}"
    );
    let message = error["message"].as_str().expect("message");
    assert!(
        message.starts_with("`colour` is not a field of this frame; the accepted fields are `from`, `to`,"),
        "{message}"
    );
    phone
        .send(json!({
            "type": "send", "ref": "r2", "to": "bob", "kind": "text",
            "content": {"text": "hi"}, "push": {"titel": "Hello"},
        }))
        .await;
    let error = phone.expect_frame("error").await;
    assert_eq!(
        (&error["code"], &error["ref"]),
        (&json!("unknown_field"), &json!("r2")),
        "{error}"
    );
    let message = error["message"].as_str().expect("message");
    assert!(
        message.starts_with("`titel` is not a field of `push`; the accepted fields are"),
        "{message}"
    );
    // Neither send went out; a correct one does.
    phone
        .send(json!({"type": "send", "ref": "r3", "to": "bob", "kind": "text", "content": {"text": "hi"}}))
        .await;
    let sent = phone.expect_frame("sent").await;
    assert_eq!((&sent["ref"], &sent["seq"]), (&json!("r3"), &json!(1)), "{sent}");
}

/// A missing field and a value of the wrong type are named, with what the field takes in
/// plain words (not `u64` or `struct PushInfo`).
#[tokio::test]
async fn missing_fields_and_wrong_types_name_the_field() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let refused = expect_error(
        server.admin(Method::POST, "/v1/apps").json(&json!({})),
        400,
        "missing_field",
    )
    .await;
    assert_eq!(refused["field"], "name");
    assert_eq!(refused["message"], "`name` is missing; it is required");

    let refused = expect_error(
        server.admin(Method::POST, "/v1/apps").json(&json!({"name": 5})),
        400,
        "invalid_body",
    )
    .await;
    assert_eq!(refused["field"], "name");
    assert_eq!(refused["message"], "`name` must be a string, not 5");

    let tokens = format!("/v1/apps/{}/users/alice/tokens", app.id);
    let refused = expect_error(
        server
            .backend(&app, Method::POST, &tokens)
            .json(&json!({"ttl_seconds": "long"})),
        400,
        "invalid_body",
    )
    .await;
    assert_eq!(refused["field"], "ttl_seconds");
    assert_eq!(
        refused["message"],
        "`ttl_seconds` must be a whole number of 0 or more, not \"long\""
    );

    let refused = expect_error(
        server
            .admin(Method::POST, "/v1/apps")
            .header(CONTENT_TYPE, "application/json")
            .body("[\"chat\"]"),
        400,
        "invalid_body",
    )
    .await;
    assert!(refused.get("field").is_none(), "{refused}");
    assert_eq!(refused["message"], "the body must be a JSON object, not a list");
}

/// A bad path segment or query parameter is named in Herald's words, not axum's ("Invalid
/// URL: Cannot parse …", "Failed to deserialize query string: …").
#[tokio::test]
async fn path_and_query_mistakes_name_the_parameter() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let refused = expect_error(
        server.admin(Method::GET, &format!("/v1/apps/{}/certificates/first", app.id)),
        400,
        "invalid_path",
    )
    .await;
    assert_eq!(refused["field"], "id", "{refused}");
    assert_eq!(
        refused["message"],
        "`id` in the path must be a whole number, not `first`"
    );

    let deliveries = format!("/v1/apps/{}/users/alice/devices/phone/deliveries", app.id);
    let refused = expect_error(
        server.backend(&app, Method::GET, &format!("{deliveries}?limit=many")),
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(refused["field"], "limit");
    assert_eq!(
        refused["message"],
        "`limit` must be a whole number in range (invalid digit found in string)"
    );
    let refused = expect_error(
        server.backend(&app, Method::GET, &format!("{deliveries}?limt=10")),
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(refused["field"], "limt");
    assert_eq!(
        refused["message"],
        "`limt` is not a parameter of this route's query; the accepted parameters are `limit`"
    );
}

/// Credentials of the wrong kind are named as such; `missing_credentials` is only for a
/// request that sent none.
#[tokio::test]
async fn credentials_of_the_wrong_kind_are_named() {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let token = server.user_token(&app, "alice").await;
    let admin_route = "/v1/apps";
    let backend_route = format!("/v1/apps/{}/users/alice", app.id);
    let phone_route = "/v1/me/push-settings";
    let admin_how = "Authorization: Bearer <admin token>";
    let cases = [
        (
            server.backend(&app, Method::GET, admin_route),
            "admin_token_required",
            format!("these are app credentials; this route needs the admin token ({admin_how})"),
        ),
        (
            server.phone(&token, Method::GET, admin_route),
            "admin_token_required",
            format!("this is a user token; this route needs the admin token ({admin_how})"),
        ),
        (
            server.phone(&token, Method::GET, &backend_route),
            "app_credentials_required",
            "this is a user token; this route needs the app's credentials (HTTP Basic: user = \
             app id, password = app secret) or the admin token"
                .to_string(),
        ),
        (
            server.admin(Method::GET, phone_route),
            "user_token_required",
            "this is the admin token; this route needs a user token (Authorization: Bearer \
             <user token>, minted by the app's backend)"
                .to_string(),
        ),
        (
            server.backend(&app, Method::GET, phone_route),
            "user_token_required",
            "these are app credentials; this route needs a user token (Authorization: Bearer \
             <user token>, minted by the app's backend)"
                .to_string(),
        ),
        (
            server
                .anon(Method::GET, admin_route)
                .header("Authorization", "Token abc"),
            "unsupported_authorization",
            format!("`Token` is not an authorization scheme Herald takes; send {admin_how}"),
        ),
    ];
    for (request, code, message) in cases {
        let refused = expect_error(request, 401, code).await;
        assert_eq!(refused["message"], message.as_str());
    }
    for path in [admin_route, backend_route.as_str(), phone_route] {
        expect_error(server.anon(Method::GET, path), 401, "missing_credentials").await;
    }
}
