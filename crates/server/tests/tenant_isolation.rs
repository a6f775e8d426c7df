//! Two apps on one server: app A's credentials and A's user tokens can neither read nor change
//! anything of app B, and B's data is exactly as it was after every attempt.

mod common;

use common::{TestApp, TestServer, expect, expect_error, valid_certificate};
use herald_core::Secret;
use reqwest::Method;
use serde_json::{Value, json};

/// A phone token of a vendor (FCM tokens are opaque strings).
const B_PHONE_TOKEN: &str = "fcm-token-of-bobs-phone-in-app-b-0001";

/// App B with one user (`bob`, with a profile, push settings and a bound phone), a second user
/// (`carol`), a group and a certificate. Returns B, bob's user token and the certificate id.
async fn populate_b(server: &TestServer) -> (TestApp, String, i64) {
    let b = server.create_app("tenant-b").await;
    let users = format!("/v1/apps/{}/users", b.id);
    expect(
        server
            .backend(&b, Method::PUT, &format!("{users}/bob"))
            .json(&json!({"nickname": "Bob of B"})),
        201,
    )
    .await;
    expect(
        server
            .backend(&b, Method::PUT, &format!("{users}/carol"))
            .json(&json!({})),
        201,
    )
    .await;
    expect(
        server
            .backend(&b, Method::POST, &format!("/v1/apps/{}/groups", b.id))
            .json(&json!({"id": "team", "name": "Team B", "members": ["bob"]})),
        201,
    )
    .await;
    let (mut cert, _) = valid_certificate("fcm");
    cert["name"] = json!("b-only-fcm");
    let cert_id = server.create_certificate(&b, cert).await["id"]
        .as_i64()
        .expect("certificate id");
    let bob = server.user_token(&b, "bob").await;
    expect(
        server
            .phone(&bob, Method::PUT, "/v1/me/devices/phone1/push-token")
            .json(&json!({
                "certificate_id": cert_id, "token": B_PHONE_TOKEN, "platform": "android"
            })),
        200,
    )
    .await;
    expect(
        server
            .phone(&bob, Method::PUT, "/v1/me/push-settings")
            .json(&json!({"enabled": true, "muted": ["c2c:carol"]})),
        200,
    )
    .await;
    (b, bob, cert_id)
}

/// Everything of B that A might try to touch, read with B's own credentials.
async fn snapshot_b(server: &TestServer, b: &TestApp, bob: &str, cert_id: i64) -> Value {
    let base = format!("/v1/apps/{}", b.id);
    json!({
        "bob": expect(server.backend(b, Method::GET, &format!("{base}/users/bob")), 200).await,
        "carol": expect(server.backend(b, Method::GET, &format!("{base}/users/carol")), 200).await,
        "team": expect(server.backend(b, Method::GET, &format!("{base}/groups/team")), 200).await,
        "devices": expect(server.backend(b, Method::GET, &format!("{base}/users/bob/devices")), 200).await,
        "certificate": expect(server.admin(Method::GET, &format!("{base}/certificates/{cert_id}")), 200).await,
        "certificates": expect(server.admin(Method::GET, &format!("{base}/certificates")), 200).await,
        "settings": expect(server.phone(bob, Method::GET, "/v1/me/push-settings"), 200).await,
        "app": expect(server.admin(Method::GET, &base), 200).await,
    })
}

/// The server-API routes of B that A's backend might try: (method, path, body).
fn b_server_routes(b: &TestApp) -> Vec<(Method, String, Option<Value>)> {
    let base = format!("/v1/apps/{}", b.id);
    vec![
        (Method::GET, format!("{base}/users/bob"), None),
        (
            Method::PUT,
            format!("{base}/users/bob"),
            Some(json!({"nickname": "hijacked"})),
        ),
        (Method::PUT, format!("{base}/users/mallory"), Some(json!({}))),
        (Method::POST, format!("{base}/users/bob/tokens"), Some(json!({}))),
        (
            Method::POST,
            format!("{base}/groups"),
            Some(json!({"id": "intruders", "name": "x", "members": []})),
        ),
        (Method::GET, format!("{base}/groups/team"), None),
        (Method::DELETE, format!("{base}/groups/team"), None),
        (
            Method::POST,
            format!("{base}/groups/team/members"),
            Some(json!({"members": ["carol"]})),
        ),
        (Method::DELETE, format!("{base}/groups/team/members/bob"), None),
        (Method::GET, format!("{base}/users/bob/devices"), None),
        (
            Method::POST,
            format!("{base}/users/bob/devices/phone1/kick"),
            Some(json!({})),
        ),
    ]
}

fn with_body(request: reqwest::RequestBuilder, body: &Option<Value>) -> reqwest::RequestBuilder {
    match body {
        Some(body) => request.json(body),
        None => request,
    }
}

#[tokio::test]
async fn app_credentials_cannot_reach_another_apps_users_groups_or_devices() {
    let server = TestServer::start().await;
    let a = server.create_app("tenant-a").await;
    let (b, bob, cert_id) = populate_b(&server).await;
    let before = snapshot_b(&server, &b, &bob, cert_id).await;
    let token_a = server.user_token(&a, "bob").await;

    for (method, path, body) in b_server_routes(&b) {
        // A's own id and secret on B's path: authenticated, but for another app.
        let request = with_body(server.backend(&a, method.clone(), &path), &body);
        let refused = expect_error(request, 403, "wrong_app").await;
        assert!(
            refused.get("id").is_none() && refused.get("members").is_none(),
            "{method} {path}: {refused}"
        );

        // B's id with A's secret: simply wrong credentials.
        let request = with_body(
            server
                .anon(method.clone(), &path)
                .basic_auth(&b.id, Some(&a.secret)),
            &body,
        );
        expect_error(request, 401, "invalid_app_credentials").await;

        // A's user token is no backend credential at all.
        let request = with_body(server.phone(&token_a, method.clone(), &path), &body);
        expect_error(request, 401, "app_credentials_required").await;
    }

    assert_eq!(snapshot_b(&server, &b, &bob, cert_id).await, before, "B changed");
    let mallory = format!("/v1/apps/{}/users/mallory", b.id);
    expect_error(server.backend(&b, Method::GET, &mallory), 404, "user_not_found").await;
    let intruders = format!("/v1/apps/{}/groups/intruders", b.id);
    expect_error(
        server.backend(&b, Method::GET, &intruders),
        404,
        "group_not_found",
    )
    .await;
}

#[tokio::test]
async fn app_credentials_are_not_admin_credentials() {
    let server = TestServer::start().await;
    let a = server.create_app("tenant-a").await;
    let (b, bob, cert_id) = populate_b(&server).await;
    let before = snapshot_b(&server, &b, &bob, cert_id).await;
    let base = format!("/v1/apps/{}", b.id);
    let (new_cert, _) = valid_certificate("huawei");
    let admin_routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/v1/apps".into(), None),
        (Method::GET, base.clone(), None),
        (Method::DELETE, base.clone(), None),
        (Method::POST, format!("{base}/secret/rotate"), None),
        (Method::GET, format!("{base}/stats"), None),
        (Method::GET, format!("{base}/certificates"), None),
        (Method::POST, format!("{base}/certificates"), Some(new_cert)),
        (Method::GET, format!("{base}/certificates/{cert_id}"), None),
        (
            Method::PUT,
            format!("{base}/certificates/{cert_id}"),
            Some(json!({"name": "stolen"})),
        ),
        (Method::DELETE, format!("{base}/certificates/{cert_id}"), None),
    ];
    let token_a = server.user_token(&a, "alice").await;
    for (method, path, body) in admin_routes {
        // HTTP Basic is not how the operator authenticates, whichever app it names.
        let request = with_body(server.backend(&a, method.clone(), &path), &body);
        expect_error(request, 401, "admin_token_required").await;
        let request = with_body(server.backend(&b, method.clone(), &path), &body);
        expect_error(request, 401, "admin_token_required").await;
        // An app secret or a user token sent as a bearer token is not the admin token.
        let request = with_body(server.phone(&a.secret, method.clone(), &path), &body);
        expect_error(request, 401, "admin_token_required").await;
        let request = with_body(server.phone(&token_a, method.clone(), &path), &body);
        expect_error(request, 401, "admin_token_required").await;
    }

    assert_eq!(snapshot_b(&server, &b, &bob, cert_id).await, before, "B changed");
    // B's secret was not rotated: it still authenticates.
    expect(server.backend(&b, Method::GET, &format!("{base}/users/bob")), 200).await;
}

#[tokio::test]
async fn user_tokens_of_one_app_cannot_use_another_apps_certificates_or_devices() {
    let server = TestServer::start().await;
    let a = server.create_app("tenant-a").await;
    let (b, bob_b, cert_b) = populate_b(&server).await;
    let cert_a = server.create_certificate(&a, valid_certificate("fcm").0).await["id"]
        .as_i64()
        .expect("id");
    let before = snapshot_b(&server, &b, &bob_b, cert_b).await;
    // The same user id exists in both apps; they are different people.
    let bob_a = server.user_token(&a, "bob").await;

    // Certificates are scoped per app, by id and by name.
    expect_error(
        server
            .phone(&bob_a, Method::PUT, "/v1/me/devices/phone1/push-token")
            .json(&json!({
                "certificate_id": cert_b, "token": "fcm-token-of-a-phone-in-app-a-0001", "platform": "android"
            })),
        404,
        "certificate_not_found",
    )
    .await;
    expect_error(
        server.phone(&bob_a, Method::PUT, "/v1/me/devices/phone1/push-token").json(&json!({
            "certificate_name": "b-only-fcm", "token": "fcm-token-of-a-phone-in-app-a-0001", "platform": "android"
        })),
        404,
        "certificate_not_found",
    )
    .await;

    // B's bob has `phone1`; A's bob does not, so A's token cannot change it.
    let device_routes: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::POST,
            "/v1/me/devices/phone1/background",
            Some(json!({"unread": 9})),
        ),
        (Method::POST, "/v1/me/devices/phone1/foreground", None),
        (
            Method::POST,
            "/v1/me/devices/phone1/logout",
            Some(json!({"unbind": true})),
        ),
        (Method::DELETE, "/v1/me/devices/phone1/push-token", None),
    ];
    for (method, path, body) in device_routes {
        let request = with_body(server.phone(&bob_a, method, path), &body);
        expect_error(request, 404, "device_not_found").await;
    }

    // A's bob sees his own (default) settings, and changing them leaves B's bob alone.
    let settings = expect(server.phone(&bob_a, Method::GET, "/v1/me/push-settings"), 200).await;
    assert_eq!(settings["muted"], json!([]));
    expect(
        server
            .phone(&bob_a, Method::PUT, "/v1/me/push-settings")
            .json(&json!({"enabled": false, "muted": []})),
        200,
    )
    .await;

    // Binding the very token B's phone holds, in app A, does not take it away from B.
    let bound = expect(
        server
            .phone(&bob_a, Method::PUT, "/v1/me/devices/phone1/push-token")
            .json(&json!({
                "certificate_id": cert_a, "token": B_PHONE_TOKEN, "platform": "android"
            })),
        200,
    )
    .await;
    assert_eq!(bound["certificate_id"], cert_a);

    assert_eq!(snapshot_b(&server, &b, &bob_b, cert_b).await, before, "B changed");
}

#[tokio::test]
async fn a_token_signed_with_one_apps_secret_cannot_claim_another_app() {
    let server = TestServer::start().await;
    let a = server.create_app("tenant-a").await;
    let (b, bob_b, cert_id) = populate_b(&server).await;
    let before = snapshot_b(&server, &b, &bob_b, cert_id).await;
    let expires = jiff::Timestamp::now().as_second() + 3600;

    // Someone holding A's secret signs a token that names app B.
    let forged = herald_server::auth::mint_user_token(&b.id, "bob", &Secret::new(a.secret.clone()), expires)
        .expect("mint");
    expect_error(
        server.phone(&forged, Method::GET, "/v1/me/push-settings"),
        401,
        "invalid_token",
    )
    .await;
    expect_error(
        server
            .phone(&forged, Method::POST, "/v1/me/devices/phone1/logout")
            .json(&json!({"unbind": true})),
        401,
        "invalid_token",
    )
    .await;

    // Deleting app A takes nothing of B with it.
    expect(server.admin(Method::DELETE, &format!("/v1/apps/{}", a.id)), 204).await;
    assert_eq!(
        snapshot_b(&server, &b, &bob_b, cert_id).await,
        before,
        "B changed"
    );
}
