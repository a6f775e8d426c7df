//! The phone app's side (`/v1/me/...` with a user token): binding push tokens, the session
//! states they drive (background, foreground, logout, kick), push settings, and token checks.

mod common;

use common::{Phone, TestApp, TestServer, expect, expect_error, valid_certificate, webpush_subscription};
use herald_core::Secret;
use reqwest::Method;
use serde_json::{Value, json};

/// An APNs device token: 64 hex digits.
const APNS_TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
/// An FCM registration token (opaque).
const FCM_TOKEN: &str = "fcm-registration-token-0123456789-abcdefghij";

struct Setup {
    server: TestServer,
    app: TestApp,
    apns: i64,
    fcm: i64,
}

async fn setup() -> Setup {
    let server = TestServer::start().await;
    let app = server.create_app("chat").await;
    let apns = server.create_certificate(&app, valid_certificate("apns").0).await["id"]
        .as_i64()
        .expect("id");
    let fcm = server.create_certificate(&app, valid_certificate("fcm").0).await["id"]
        .as_i64()
        .expect("id");
    Setup {
        server,
        app,
        apns,
        fcm,
    }
}

impl Setup {
    async fn bind(&self, token: &str, device: &str, body: Value) -> Value {
        expect(
            self.server
                .phone(token, Method::PUT, &push_token_path(device))
                .json(&body),
            200,
        )
        .await
    }

    /// A user's devices as the app backend sees them.
    async fn devices(&self, user: &str) -> Vec<Value> {
        let path = format!("/v1/apps/{}/users/{user}/devices", self.app.id);
        let body = expect(self.server.backend(&self.app, Method::GET, &path), 200).await;
        body.as_array().expect("device list").clone()
    }

    async fn device(&self, user: &str, device: &str) -> Value {
        self.devices(user)
            .await
            .into_iter()
            .find(|d| d["device_id"] == device)
            .unwrap_or_else(|| panic!("device {device} of {user} not listed"))
    }

    async fn state_call(&self, token: &str, device: &str, action: &str, body: Value, status: u16) -> Value {
        let path = format!("/v1/me/devices/{device}/{action}");
        expect(self.server.phone(token, Method::POST, &path).json(&body), status).await
    }
}

fn push_token_path(device: &str) -> String {
    format!("/v1/me/devices/{device}/push-token")
}

/// What the API shows of a token: its first six and last four characters.
fn masked(token: &str) -> String {
    format!("{}…{}", &token[..6], &token[token.len() - 4..])
}

#[tokio::test]
async fn a_token_binds_by_certificate_id_or_by_certificate_name() {
    let s = setup().await;
    let alice = s.server.user_token(&s.app, "alice").await;

    let by_id = s
        .bind(
            &alice,
            "iphone",
            json!({"certificate_id": s.apns, "token": APNS_TOKEN, "platform": "ios"}),
        )
        .await;
    assert_eq!(by_id["device_id"], "iphone");
    assert_eq!(by_id["user_id"], "alice");
    assert_eq!(by_id["certificate_id"], s.apns);
    assert_eq!(by_id["vendor"], "apns");
    assert_eq!(by_id["platform"], "ios");
    assert_eq!(by_id["state"], "offline");
    assert_eq!(by_id["token"], masked(APNS_TOKEN), "token is shown masked");

    let by_name = s
        .bind(
            &alice,
            "pixel",
            json!({"certificate_name": "fcm-main", "token": FCM_TOKEN, "platform": "android"}),
        )
        .await;
    assert_eq!(by_name["certificate_id"], s.fcm);
    assert_eq!(by_name["vendor"], "fcm");

    let listed = s.devices("alice").await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let pixel = s.device("alice", "pixel").await;
    assert_eq!(pixel["token"], masked(FCM_TOKEN));
    assert!(
        !serde_json::to_string(&listed).expect("json").contains(FCM_TOKEN),
        "full token listed"
    );

    // A name or id the app does not have.
    expect_error(
        s.server
            .phone(&alice, Method::PUT, &push_token_path("pixel"))
            .json(&json!({
                "certificate_name": "no-such-cert", "token": FCM_TOKEN, "platform": "android"
            })),
        404,
        "certificate_not_found",
    )
    .await;
    expect_error(
        s.server
            .phone(&alice, Method::PUT, &push_token_path("pixel"))
            .json(&json!({
                "certificate_id": 987_654, "token": FCM_TOKEN, "platform": "android"
            })),
        404,
        "certificate_not_found",
    )
    .await;
}

#[tokio::test]
async fn binding_a_token_on_another_device_moves_it_there() {
    let s = setup().await;
    let alice = s.server.user_token(&s.app, "alice").await;
    let bob = s.server.user_token(&s.app, "bob").await;
    let body = json!({"certificate_id": s.fcm, "token": FCM_TOKEN, "platform": "android"});

    s.bind(&alice, "old-phone", body.clone()).await;
    s.bind(&alice, "new-phone", body.clone()).await;
    let old = s.device("alice", "old-phone").await;
    assert_eq!(old["token"], Value::Null, "token left the first device: {old}");
    assert_eq!(old["certificate_id"], Value::Null);
    assert_eq!(s.device("alice", "new-phone").await["token"], masked(FCM_TOKEN));

    // The phone changes hands within the app: bob now gets the pushes, alice none.
    s.bind(&bob, "bobs-phone", body).await;
    for device in s.devices("alice").await {
        assert_eq!(
            device["token"],
            Value::Null,
            "alice still holds the token: {device}"
        );
    }
    assert_eq!(s.device("bob", "bobs-phone").await["token"], masked(FCM_TOKEN));

    // A token acts only on its own user's devices.
    s.state_call(&alice, "bobs-phone", "background", json!({"unread": 1}), 404)
        .await;
    assert_eq!(s.device("bob", "bobs-phone").await["state"], "offline");
}

#[tokio::test]
async fn background_and_foreground_set_the_state_and_the_badge() {
    let s = setup().await;
    let alice = s.server.user_token(&s.app, "alice").await;
    s.bind(
        &alice,
        "pixel",
        json!({"certificate_id": s.fcm, "token": FCM_TOKEN, "platform": "android"}),
    )
    .await;

    let background = s
        .state_call(&alice, "pixel", "background", json!({"unread": 5}), 200)
        .await;
    assert_eq!(background["state"], "background");
    assert_eq!(background["presence"], "not_connected");
    assert_eq!(background["badge"], 5);
    let listed = s.device("alice", "pixel").await;
    assert_eq!(
        (&listed["state"], &listed["badge"]),
        (&json!("background"), &json!(5))
    );

    let foreground = s.state_call(&alice, "pixel", "foreground", json!({}), 200).await;
    assert_eq!(foreground["state"], "online");
    assert_eq!(
        foreground["presence"], "foreground_not_connected",
        "the app said foreground over HTTP but has no connection: it is pushed"
    );
    assert_eq!(foreground["badge"], 0);
    let listed = s.device("alice", "pixel").await;
    assert_eq!(
        (&listed["state"], &listed["badge"]),
        (&json!("online"), &json!(0))
    );

    let path = "/v1/me/devices/pixel/background";
    expect_error(
        s.server
            .phone(&alice, Method::POST, path)
            .json(&json!({"unread": -1})),
        400,
        "invalid_field",
    )
    .await;
    let path = "/v1/me/devices/never-bound/background";
    expect_error(
        s.server
            .phone(&alice, Method::POST, path)
            .json(&json!({"unread": 1})),
        404,
        "device_not_found",
    )
    .await;
}

#[tokio::test]
async fn over_the_websocket_a_negative_unread_is_refused_and_changes_nothing() {
    let s = setup().await;
    let alice = s.server.user_token(&s.app, "alice").await;
    let mut phone = Phone::connect(&s.server, &alice, "pixel", "android").await;
    phone.set_state("background", 4).await;
    assert_eq!(
        s.device("alice", "pixel").await["presence"],
        "background_connected"
    );
    assert_eq!(
        (
            &s.device("alice", "pixel").await["state"],
            &s.device("alice", "pixel").await["badge"]
        ),
        (&json!("background"), &json!(4))
    );

    phone
        .send(json!({"type": "state", "state": "background", "unread": -1}))
        .await;
    let refused = phone.expect_frame("error").await;
    assert_eq!(refused["code"], "invalid_field");
    assert_eq!(refused.get("ref"), None, "a refused state frame answers no send");
    let listed = s.device("alice", "pixel").await;
    assert_eq!(
        (&listed["state"], &listed["badge"]),
        (&json!("background"), &json!(4)),
        "the refused frame left the device as it was"
    );
}

#[tokio::test]
async fn both_transports_refuse_a_negative_unread_with_the_same_code_and_message() {
    let s = setup().await;
    let alice = s.server.user_token(&s.app, "alice").await;
    let mut phone = Phone::connect(&s.server, &alice, "pixel", "android").await;
    let over_http = expect_error(
        s.server
            .phone(&alice, Method::POST, "/v1/me/devices/pixel/background")
            .json(&json!({"unread": -1})),
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(over_http["field"], "unread");

    phone
        .send(json!({"type": "state", "state": "background", "unread": -1}))
        .await;
    let over_socket = phone.expect_frame("error").await;
    assert_eq!(
        (&over_socket["code"], &over_socket["message"]),
        (&over_http["code"], &over_http["message"])
    );
    assert_eq!(
        s.device("alice", "pixel").await["state"],
        "online",
        "neither refusal moved the connected device to the background"
    );
}

#[tokio::test]
async fn logout_keeps_or_forgets_the_token_and_a_new_bind_starts_a_new_session() {
    let s = setup().await;
    let alice = s.server.user_token(&s.app, "alice").await;
    let bind = json!({"certificate_id": s.fcm, "token": FCM_TOKEN, "platform": "android"});
    s.bind(&alice, "pixel", bind.clone()).await;
    s.state_call(&alice, "pixel", "background", json!({"unread": 2}), 200)
        .await;

    let out = s
        .state_call(&alice, "pixel", "logout", json!({"unbind": false}), 200)
        .await;
    assert_eq!(out["state"], "logged_out");
    assert_eq!(out["token"], masked(FCM_TOKEN), "unbind false keeps the token");
    let listed = s.device("alice", "pixel").await;
    assert_eq!(listed["state"], "logged_out");
    assert_eq!(listed["token"], masked(FCM_TOKEN));

    // A logged-out device's app state means nothing until it logs in again.
    let path = "/v1/me/devices/pixel/background";
    expect_error(
        s.server
            .phone(&alice, Method::POST, path)
            .json(&json!({"unread": 5})),
        409,
        "session_ended",
    )
    .await;
    let path = "/v1/me/devices/pixel/foreground";
    expect_error(s.server.phone(&alice, Method::POST, path), 409, "session_ended").await;
    assert_eq!(s.device("alice", "pixel").await["state"], "logged_out");

    let again = s.bind(&alice, "pixel", bind).await;
    assert_eq!(again["state"], "offline", "binding again starts a new session");
    s.state_call(&alice, "pixel", "background", json!({"unread": 1}), 200)
        .await;

    let out = s
        .state_call(&alice, "pixel", "logout", json!({"unbind": true}), 200)
        .await;
    assert_eq!(out["state"], "logged_out");
    assert_eq!(out["token"], Value::Null, "unbind true forgets the token");
    assert_eq!(out["vendor"], Value::Null);
    assert_eq!(s.device("alice", "pixel").await["token"], Value::Null);
}

#[tokio::test]
async fn a_kicked_device_must_log_in_again() {
    let s = setup().await;
    let alice = s.server.user_token(&s.app, "alice").await;
    let bind = json!({"certificate_id": s.apns, "token": APNS_TOKEN, "platform": "ios"});
    s.bind(&alice, "iphone", bind.clone()).await;

    let kick = format!("/v1/apps/{}/users/alice/devices/iphone/kick", s.app.id);
    let kicked = expect(
        s.server
            .backend(&s.app, Method::POST, &kick)
            .json(&json!({"reason": "banned"})),
        200,
    )
    .await;
    assert_eq!(kicked["state"], "kicked");
    assert_eq!(s.device("alice", "iphone").await["state"], "kicked");

    let path = "/v1/me/devices/iphone/background";
    expect_error(
        s.server
            .phone(&alice, Method::POST, path)
            .json(&json!({"unread": 1})),
        409,
        "session_ended",
    )
    .await;
    assert_eq!(s.device("alice", "iphone").await["state"], "kicked");

    let missing = format!("/v1/apps/{}/users/alice/devices/nope/kick", s.app.id);
    expect_error(
        s.server.backend(&s.app, Method::POST, &missing),
        404,
        "device_not_found",
    )
    .await;

    assert_eq!(s.bind(&alice, "iphone", bind).await["state"], "offline");
}

#[tokio::test]
async fn the_certificate_must_be_named_once_and_fit_the_platform() {
    let s = setup().await;
    let alice = s.server.user_token(&s.app, "alice").await;
    let refuse = |body: Value, code: &'static str| {
        let request = s
            .server
            .phone(&alice, Method::PUT, &push_token_path("phone"))
            .json(&body);
        async move { expect_error(request, 400, code).await }
    };

    let err = refuse(
        json!({"certificate_id": s.apns, "token": APNS_TOKEN, "platform": "android"}),
        "platform_mismatch",
    )
    .await;
    assert_eq!(err["field"], "platform");
    refuse(
        json!({"certificate_id": s.apns, "certificate_name": "apns-main", "token": APNS_TOKEN, "platform": "ios"}),
        "ambiguous_certificate",
    )
    .await;
    refuse(
        json!({"token": APNS_TOKEN, "platform": "ios"}),
        "missing_certificate",
    )
    .await;
    refuse(
        json!({"certificate_id": s.apns, "token": "not-hex", "platform": "ios"}),
        "invalid_token_format",
    )
    .await;
    refuse(
        json!({"certificate_id": s.apns, "token": APNS_TOKEN, "platform": "symbian"}),
        "invalid_body",
    )
    .await;
    let request = s
        .server
        .phone(&alice, Method::PUT, &push_token_path("my%20phone"))
        .json(&json!({
            "certificate_id": s.apns, "token": APNS_TOKEN, "platform": "ios"
        }));
    expect_error(request, 400, "invalid_id").await;

    assert_eq!(s.devices("alice").await, Vec::<Value>::new(), "nothing was bound");
}

#[tokio::test]
async fn webpush_takes_the_browsers_subscription_object() {
    let s = setup().await;
    let cert = s
        .server
        .create_certificate(&s.app, valid_certificate("webpush").0)
        .await["id"]
        .as_i64()
        .expect("id");
    let alice = s.server.user_token(&s.app, "alice").await;

    let bound = s
        .bind(
            &alice,
            "browser",
            json!({"certificate_id": cert, "token": webpush_subscription(), "platform": "web"}),
        )
        .await;
    assert_eq!(bound["vendor"], "webpush");
    assert_eq!(bound["certificate_id"], cert);
    assert!(bound["token"].is_string(), "{bound}");

    let request = s
        .server
        .phone(&alice, Method::PUT, &push_token_path("browser2"))
        .json(&json!({
            "certificate_id": cert, "token": "https://push.example.net/wpush/v2/abc123", "platform": "web"
        }));
    expect_error(request, 400, "invalid_subscription").await;
    let mut no_keys = webpush_subscription();
    no_keys.as_object_mut().expect("object").remove("keys");
    let request = s
        .server
        .phone(&alice, Method::PUT, &push_token_path("browser2"))
        .json(&json!({
            "certificate_id": cert, "token": no_keys, "platform": "web"
        }));
    expect_error(request, 400, "invalid_subscription").await;
    assert_eq!(
        s.devices("alice").await.len(),
        1,
        "the refused bind created no device"
    );
}

#[tokio::test]
async fn push_settings_have_defaults_round_trip_and_are_checked() {
    let s = setup().await;
    let alice = s.server.user_token(&s.app, "alice").await;
    let path = "/v1/me/push-settings";

    let defaults = expect(s.server.phone(&alice, Method::GET, path), 200).await;
    assert_eq!(defaults["enabled"], true);
    assert_eq!(defaults["muted"], json!([]));
    assert_eq!(defaults["dnd"], Value::Null);

    let wanted = json!({
        "enabled": true,
        "c2c_sound": "ding.caf",
        "group_sound": null,
        "dnd": {"start": "22:00", "end": "07:00", "time_zone": "Asia/Shanghai"},
        "muted": ["c2c:bob", "group:g1"],
    });
    let saved = expect(s.server.phone(&alice, Method::PUT, path).json(&wanted), 200).await;
    assert_eq!(saved, wanted);
    assert_eq!(
        expect(s.server.phone(&alice, Method::GET, path), 200).await,
        wanted
    );

    let mut bad_zone = wanted.clone();
    bad_zone["dnd"]["time_zone"] = json!("Mars/Olympus_Mons");
    let err = expect_error(
        s.server.phone(&alice, Method::PUT, path).json(&bad_zone),
        400,
        "invalid_time_zone",
    )
    .await;
    assert_eq!(err["field"], "dnd.time_zone");
    let mut bad_muted = wanted.clone();
    bad_muted["muted"] = json!(["c2c:bob", "friends"]);
    expect_error(
        s.server.phone(&alice, Method::PUT, path).json(&bad_muted),
        400,
        "invalid_conversation",
    )
    .await;

    // Refused changes leave the saved settings in place; other users keep their own.
    assert_eq!(
        expect(s.server.phone(&alice, Method::GET, path), 200).await,
        wanted
    );
    let bob = s.server.user_token(&s.app, "bob").await;
    assert_eq!(
        expect(s.server.phone(&bob, Method::GET, path), 200).await["muted"],
        json!([])
    );
}

#[tokio::test]
async fn user_tokens_must_be_present_signed_current_and_from_the_current_secret() {
    let s = setup().await;
    let path = "/v1/me/push-settings";
    let alice = s.server.user_token(&s.app, "alice").await;
    expect(s.server.phone(&alice, Method::GET, path), 200).await;

    expect_error(s.server.anon(Method::GET, path), 401, "missing_credentials").await;
    expect_error(
        s.server.phone("not-a-jwt", Method::GET, path),
        401,
        "invalid_token",
    )
    .await;

    // Change one character in the middle of the signature.
    let (unsigned, signature) = alice.rsplit_once('.').expect("three parts");
    let mut sig: Vec<char> = signature.chars().collect();
    let mid = sig.len() / 2;
    sig[mid] = if sig[mid] == 'A' { 'B' } else { 'A' };
    let tampered = format!("{unsigned}.{}", sig.into_iter().collect::<String>());
    expect_error(s.server.phone(&tampered, Method::GET, path), 401, "invalid_token").await;

    // Correctly signed but past its expiry.
    let past = jiff::Timestamp::now().as_second() - 10;
    let expired =
        herald_server::auth::mint_user_token(&s.app.id, "alice", &Secret::new(s.app.secret.clone()), past)
            .expect("mint");
    expect_error(s.server.phone(&expired, Method::GET, path), 401, "token_expired").await;

    // Rotating the app secret retires every token signed with the old one.
    let rotate = format!("/v1/apps/{}/secret/rotate", s.app.id);
    let secret = expect(s.server.admin(Method::POST, &rotate), 200).await["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    expect_error(s.server.phone(&alice, Method::GET, path), 401, "invalid_token").await;
    let rotated = TestApp {
        id: s.app.id.clone(),
        secret,
    };
    let fresh = s.server.user_token(&rotated, "alice").await;
    expect(s.server.phone(&fresh, Method::GET, path), 200).await;
}
