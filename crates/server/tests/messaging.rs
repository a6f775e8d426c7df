//! The data path end to end: real server, real WebSocket clients, sandbox vendors. Each test
//! checks what the phone would see (live frames, the sandbox's notifications) and what the
//! app's backend would see (delivery records with decisions and reasons).

mod common;

use common::{Phone, Stack, expect, expect_error, valid_certificate};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const HW: &str = "huawei";

fn hw_token(name: &str) -> String {
    format!("hw-{name}-0000000000")
}

fn record<'a>(deliveries: &'a [Value], device: &str) -> &'a Value {
    deliveries
        .iter()
        .find(|d| d["device_id"] == device)
        .unwrap_or_else(|| panic!("no record for {device}: {deliveries:?}"))
}

/// A do-not-disturb window from an hour ago to an hour from now (UTC), so that it covers the
/// test whatever the time of day ("00:00"–"23:59" leaves out the last minute of the day).
fn dnd_around_now() -> Value {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let minute = (seconds % 86_400) / 60;
    let clock = |m: u64| format!("{:02}:{:02}", m / 60, m % 60);
    json!({"start": clock((minute + 1440 - 60) % 1440), "end": clock((minute + 60) % 1440), "time_zone": "UTC"})
}

async fn text(stack: &Stack, from: &str, to: &str, text: &str) -> String {
    let sent = stack
        .send(json!({"from": from, "to": to, "kind": "text", "content": {"text": text}}))
        .await;
    sent["message_id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn an_online_foreground_device_gets_the_message_live_and_no_push() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    let mut phone = Phone::connect(&stack.server, &alice, "phone", "android").await;

    let id = text(&stack, "bob", "alice", "hello").await;
    let frame = phone.expect_frame("message").await;
    assert_eq!(frame["message"]["id"], id);
    assert_eq!(frame["message"]["content"]["text"], "hello");
    assert_eq!(frame["message"]["conversation"], "c2c:bob");
    assert_eq!(frame["seq"], 1);

    let deliveries = stack.settled_deliveries(&id).await;
    let r = record(&deliveries, "phone");
    assert_eq!(
        (r["decision"].as_str(), r["reason"].as_str(), r["state"].as_str()),
        (Some("live"), Some("online_in_foreground"), Some("live"))
    );
    assert!(
        stack.inbox(HW, &hw_token("alice")).is_empty(),
        "no push for a foreground device"
    );
}

#[tokio::test]
async fn a_background_device_gets_both_the_live_message_and_a_push() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    let mut phone = Phone::connect(&stack.server, &alice, "phone", "android").await;
    phone.set_state("background", 2).await;

    let id = text(&stack, "bob", "alice", "are you there?").await;
    phone.expect_frame("message").await;
    let deliveries = stack.settled_deliveries(&id).await;
    let r = record(&deliveries, "phone");
    assert_eq!(
        (r["decision"].as_str(), r["state"].as_str()),
        (Some("live_and_push"), Some("accepted"))
    );
    let inbox = stack.inbox(HW, &hw_token("alice"));
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        (inbox[0].title.as_str(), inbox[0].body.as_str()),
        ("Bob", "are you there?")
    );
}

#[tokio::test]
async fn a_killed_device_gets_a_push_and_syncs_the_message_on_reconnect() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    {
        let mut phone = Phone::connect(&stack.server, &alice, "phone", "android").await;
        phone.send(json!({"type": "ack", "seq": 0})).await;
    } // The app is killed: the socket drops without a logout.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let first = text(&stack, "bob", "alice", "first").await;
    let second = text(&stack, "bob", "alice", "second").await;
    for id in [&first, &second] {
        let deliveries = stack.settled_deliveries(id).await;
        assert_eq!(record(&deliveries, "phone")["state"], "accepted");
    }
    assert_eq!(stack.inbox(HW, &hw_token("alice")).len(), 2);

    let mut phone = Phone::connect(&stack.server, &alice, "phone", "android").await;
    phone.send(json!({"type": "sync", "after": 0})).await;
    let a = phone.expect_frame("message").await;
    let b = phone.expect_frame("message").await;
    assert_eq!(
        (a["seq"].as_i64(), a["message"]["id"].as_str()),
        (Some(1), Some(first.as_str()))
    );
    assert_eq!(
        (b["seq"].as_i64(), b["message"]["id"].as_str()),
        (Some(2), Some(second.as_str()))
    );
    assert_eq!(phone.expect_frame("synced").await["seq"], 2);
    // Acked messages are not synced again.
    phone.send(json!({"type": "ack", "seq": 2})).await;
    phone.send(json!({"type": "sync"})).await;
    assert_eq!(phone.expect_frame("synced").await["seq"], 2);
}

#[tokio::test]
async fn logged_out_and_kicked_devices_get_nothing() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "old-phone", HW, &hw_token("old")).await;
    stack.bind(&alice, "tablet", HW, &hw_token("tablet")).await;
    expect(
        stack
            .server
            .phone(&alice, Method::POST, "/v1/me/devices/old-phone/logout")
            .json(&json!({"unbind": false})),
        200,
    )
    .await;
    let mut tablet = Phone::connect(&stack.server, &alice, "tablet", "android").await;
    expect(
        stack
            .server
            .backend(
                &stack.app,
                Method::POST,
                &format!("/v1/apps/{}/users/alice/devices/tablet/kick", stack.app.id),
            )
            .json(&json!({"reason": "security"})),
        200,
    )
    .await;
    let kicked = tablet.expect_frame("kicked").await;
    assert_eq!(kicked["reason"], "security");

    let id = text(&stack, "bob", "alice", "anyone?").await;
    let deliveries = stack.settled_deliveries(&id).await;
    assert_eq!(record(&deliveries, "old-phone")["reason"], "logged_out");
    assert_eq!(record(&deliveries, "tablet")["reason"], "kicked");
    assert!(deliveries.iter().all(|d| d["state"] == "skipped"));
    assert!(stack.inbox(HW, &hw_token("old")).is_empty() && stack.inbox(HW, &hw_token("tablet")).is_empty());
}

#[tokio::test]
async fn a_second_login_of_the_same_device_replaces_the_first() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    let mut first = Phone::connect(&stack.server, &alice, "phone", "android").await;
    let mut second = Phone::connect(&stack.server, &alice, "phone", "android").await;
    assert!(
        first.expect_frame("kicked").await["reason"]
            .as_str()
            .is_some_and(|r| r.contains("replaced"))
    );
    second.send(json!({"type": "ping"})).await;
    second.expect_frame("pong").await;
}

#[tokio::test]
async fn devices_send_over_the_socket_and_the_recipient_gets_it_live() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    let bob = stack.user("bob", "Bob").await;
    let mut alice_phone = Phone::connect(&stack.server, &alice, "phone", "ios").await;
    let mut bob_phone = Phone::connect(&stack.server, &bob, "phone", "android").await;
    alice_phone
        .send(
            json!({"type": "send", "ref": "r1", "to": "bob", "kind": "text", "content": {"text": "hi bob"}}),
        )
        .await;
    let sent = alice_phone.expect_frame("sent").await;
    assert_eq!(sent["ref"], "r1");
    let got = bob_phone.expect_frame("message").await;
    assert_eq!(got["message"]["id"], sent["message_id"]);
    assert_eq!(got["message"]["from"], "alice");
    alice_phone
        .send(json!({"type": "send", "ref": "r2", "to": "nobody", "kind": "text", "content": {"text": "x"}}))
        .await;
    let error = alice_phone.expect_frame("error").await;
    assert_eq!(
        (error["ref"].as_str(), error["code"].as_str()),
        (Some("r2"), Some("user_not_found"))
    );
}

#[tokio::test]
async fn routing_rules_each_decide_and_say_why() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    let reason_of = |deliveries: Vec<Value>| {
        record(&deliveries, "phone")["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    let system = stack
        .send(json!({"from": "bob", "to": "alice", "kind": "system", "content": {"notice": "x"}}))
        .await;
    assert_eq!(
        reason_of(
            stack
                .settled_deliveries(system["message_id"].as_str().unwrap_or_default())
                .await
        ),
        "system_message"
    );
    let custom = stack
        .send(json!({"from": "bob", "to": "alice", "kind": "custom", "content": {"card": 1}}))
        .await;
    assert_eq!(
        reason_of(
            stack
                .settled_deliveries(custom["message_id"].as_str().unwrap_or_default())
                .await
        ),
        "custom_without_desc"
    );
    let custom_desc = stack
        .send(json!({"from": "bob", "to": "alice", "kind": "custom", "content": {"card": 1}, "push": {"desc": "New order"}}))
        .await;
    assert_eq!(
        reason_of(
            stack
                .settled_deliveries(custom_desc["message_id"].as_str().unwrap_or_default())
                .await
        ),
        "rules_passed"
    );
    let disabled = stack
        .send(json!({"from": "bob", "to": "alice", "kind": "text", "content": {"text": "quiet"}, "push": {"disabled": true}}))
        .await;
    assert_eq!(
        reason_of(
            stack
                .settled_deliveries(disabled["message_id"].as_str().unwrap_or_default())
                .await
        ),
        "push_disabled_by_message"
    );
    let ignored = stack
        .send(json!({"from": "bob", "to": "alice", "kind": "text", "content": {"text": "quiet"}, "attributes": {"em_ignore_notification": true}}))
        .await;
    assert_eq!(
        reason_of(
            stack
                .settled_deliveries(ignored["message_id"].as_str().unwrap_or_default())
                .await
        ),
        "push_disabled_by_message"
    );

    // Muted conversation and do-not-disturb, and force pushing through both.
    expect(
        stack
            .server
            .phone(&alice, Method::PUT, "/v1/me/push-settings")
            .json(&json!({
                "enabled": true, "muted": ["c2c:bob"],
                "dnd": dnd_around_now()
            })),
        200,
    )
    .await;
    let muted = text(&stack, "bob", "alice", "muted").await;
    assert_eq!(
        reason_of(stack.settled_deliveries(&muted).await),
        "conversation_muted"
    );
    let forced = stack
        .send(json!({"from": "bob", "to": "alice", "kind": "text", "content": {"text": "urgent"}, "attributes": {"em_force_notification": true}}))
        .await;
    assert_eq!(
        reason_of(
            stack
                .settled_deliveries(forced["message_id"].as_str().unwrap_or_default())
                .await
        ),
        "rules_passed"
    );
    expect(
        stack
            .server
            .phone(&alice, Method::PUT, "/v1/me/push-settings")
            .json(&json!({
                "enabled": true, "dnd": dnd_around_now()
            })),
        200,
    )
    .await;
    let dnd = text(&stack, "bob", "alice", "at night").await;
    assert_eq!(reason_of(stack.settled_deliveries(&dnd).await), "do_not_disturb");
    expect(
        stack
            .server
            .phone(&alice, Method::PUT, "/v1/me/push-settings")
            .json(&json!({"enabled": false})),
        200,
    )
    .await;
    let off = stack
        .send(json!({"from": "bob", "to": "alice", "kind": "text", "content": {"text": "x"}, "push": {"force": true}}))
        .await;
    assert_eq!(
        reason_of(
            stack
                .settled_deliveries(off["message_id"].as_str().unwrap_or_default())
                .await
        ),
        "disabled_by_user"
    );
}

#[tokio::test]
async fn titles_bodies_overrides_and_badges_follow_the_design() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.user("carol", "Carol").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    stack
        .create_group("hikers", "Weekend Hikers", &["alice", "bob", "carol"])
        .await;
    let group = stack
        .send(
            json!({"from": "bob", "group": "hikers", "kind": "image", "content": {"url": "https://x/y.png"}}),
        )
        .await;
    assert_eq!(group["recipients"], 2, "every member but the sender");
    stack
        .settled_deliveries(group["message_id"].as_str().unwrap_or_default())
        .await;
    let aliased = stack
        .send(json!({"from": "bob", "to": "alice", "kind": "text", "content": {"text": "secret text"},
                     "attributes": {"em_apns_ext": {"em_push_name": "Offline Title", "em_push_content": "Offline Body"}}}))
        .await;
    stack
        .settled_deliveries(aliased["message_id"].as_str().unwrap_or_default())
        .await;

    let inbox = stack.inbox(HW, &hw_token("alice"));
    assert_eq!(
        (inbox[0].title.as_str(), inbox[0].body.as_str()),
        ("Weekend Hikers", "[Image]")
    );
    assert_eq!(
        (inbox[1].title.as_str(), inbox[1].body.as_str()),
        ("Offline Title", "Offline Body")
    );
    let devices = expect(
        stack.server.backend(
            &stack.app,
            Method::GET,
            &format!("/v1/apps/{}/users/alice/devices", stack.app.id),
        ),
        200,
    )
    .await;
    assert_eq!(devices[0]["badge"], 2, "each push adds one to the badge");
    // Sending to a group one is not in is refused.
    stack.user("dave", "Dave").await;
    expect_error(
        stack
            .server
            .backend(
                &stack.app,
                Method::POST,
                &format!("/v1/apps/{}/messages", stack.app.id),
            )
            .json(&json!({"from": "dave", "group": "hikers", "kind": "text", "content": {"text": "x"}})),
        403,
        "not_a_member",
    )
    .await;
}

#[tokio::test]
async fn a_token_the_vendor_calls_invalid_is_unbound_after_one_attempt() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, "invalid-huawei-token-1").await;
    let id = text(&stack, "bob", "alice", "hello").await;
    let deliveries = stack.settled_deliveries(&id).await;
    let r = record(&deliveries, "phone");
    assert_eq!(
        (r["state"].as_str(), r["attempts"].as_u64()),
        (Some("invalid_token"), Some(1))
    );
    let devices = expect(
        stack.server.backend(
            &stack.app,
            Method::GET,
            &format!("/v1/apps/{}/users/alice/devices", stack.app.id),
        ),
        200,
    )
    .await;
    assert!(
        devices[0]["token"].is_null(),
        "the dead token was unbound: {devices}"
    );
    let next = text(&stack, "bob", "alice", "again").await;
    assert_eq!(
        record(&stack.settled_deliveries(&next).await, "phone")["reason"],
        "no_token"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_the_delay_the_vendor_gave() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    stack.sandbox.state.add_fault(herald_sandbox::Fault {
        vendor: herald_core::Vendor::Huawei,
        token: None,
        kind: herald_sandbox::FaultKind::TooManyRequests { retry_after: 1 },
        times: Some(1),
    });
    let id = text(&stack, "bob", "alice", "hello").await;
    let deliveries = stack.settled_deliveries(&id).await;
    let r = record(&deliveries, "phone");
    assert_eq!(
        (r["state"].as_str(), r["attempts"].as_u64()),
        (Some("accepted"), Some(2))
    );
    let log = r["log"].as_array().expect("log");
    assert_eq!(log[0]["outcome"], "retry");
    let gap = log[1]["at"].as_i64().unwrap_or(0) - log[0]["at"].as_i64().unwrap_or(0);
    assert!(
        gap >= 1000,
        "the retry waited for Retry-After (1 s), waited {gap} ms"
    );
}

#[tokio::test]
async fn an_expired_vendor_credential_is_refreshed_once() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    let warm = text(&stack, "bob", "alice", "warm up").await;
    stack.settled_deliveries(&warm).await;
    stack.sandbox.state.add_fault(herald_sandbox::Fault {
        vendor: herald_core::Vendor::Huawei,
        token: None,
        kind: herald_sandbox::FaultKind::AuthExpired,
        times: Some(1),
    });
    let id = text(&stack, "bob", "alice", "after expiry").await;
    let r = stack.settled_deliveries(&id).await;
    assert_eq!(record(&r, "phone")["state"], "accepted");
    let token_requests = stack
        .sandbox
        .state
        .requests(herald_core::Vendor::Huawei)
        .iter()
        .filter(|q| q.path.contains("/oauth2/"))
        .count();
    assert_eq!(token_requests, 2, "one token, then exactly one refresh");
}

#[tokio::test]
async fn a_push_that_cannot_go_out_within_its_ttl_expires() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    stack.sandbox.state.add_fault(herald_sandbox::Fault {
        vendor: herald_core::Vendor::Huawei,
        token: None,
        kind: herald_sandbox::FaultKind::ServerError,
        times: None,
    });
    let sent = stack
        .send(json!({"from": "bob", "to": "alice", "kind": "text", "content": {"text": "stale soon"}, "push": {"ttl_seconds": 1}}))
        .await;
    let deliveries = stack
        .settled_deliveries(sent["message_id"].as_str().unwrap_or_default())
        .await;
    assert_eq!(record(&deliveries, "phone")["state"], "expired");
    stack.sandbox.state.clear_faults();
}

#[tokio::test]
async fn the_push_test_tool_explains_each_device_and_sends_a_traced_test_push() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    stack.bind(&alice, "old", HW, &hw_token("old")).await;
    expect(
        stack
            .server
            .phone(&alice, Method::POST, "/v1/me/devices/old/logout")
            .json(&json!({"unbind": true})),
        200,
    )
    .await;
    let id = text(&stack, "bob", "alice", "before the test").await;
    stack.settled_deliveries(&id).await;

    let report = expect(
        stack
            .server
            .backend(
                &stack.app,
                Method::POST,
                &format!("/v1/apps/{}/push-test", stack.app.id),
            )
            .json(&json!({"user": "alice", "title": "Test", "body": "Hello from the test tool"})),
        200,
    )
    .await;
    let steps = report["steps"].as_array().expect("steps");
    let find = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}: {report}"))
    };
    assert_eq!(
        find("user")["detail"],
        "user `alice` exists (nickname \"Alice\")",
        "the nickname as the user reads it, not as Rust debug output"
    );
    assert_eq!(find("device:phone last message")["ok"], true, "{report}");
    assert_eq!(find("device:phone session")["ok"], true);
    assert_eq!(find("device:phone test push")["ok"], true, "{report}");
    assert_eq!(find("device:phone vendor health")["ok"], true, "{report}");
    assert_eq!(find("device:phone credential")["ok"], true, "{report}");
    assert_eq!(
        find("device:phone vendor health")["detail"],
        "huawei answers",
        "{report}"
    );
    assert!(
        find("device:phone last message")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("because rules_passed"))
    );
    assert_eq!(find("device:old session")["ok"], false);
    assert_eq!(find("device:old token")["ok"], false);
    let trace = &report["trace"]["phone"];
    assert_eq!(trace["outcome"]["outcome"], "accepted");
    let request = &trace["requests"][0];
    assert!(
        request["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/v1/104412345/messages:send"))
    );
    assert_eq!(request["headers"]["authorization"], "<redacted>");
    let inbox = stack.inbox(HW, &hw_token("alice"));
    assert_eq!(
        inbox.last().map(|n| n.body.as_str()),
        Some("Hello from the test tool")
    );
}

#[tokio::test]
async fn a_daily_quota_is_counted_in_the_store_shown_and_kept_by_a_rebuilt_adapter() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    let id = stack.certificate_id(HW).await;
    let path = format!("/v1/apps/{}/certificates/{id}", stack.app.id);
    expect(
        stack
            .server
            .admin(Method::PUT, &path)
            .json(&json!({"defaults": {"daily_quota": 2}})),
        200,
    )
    .await;
    let states = |records: Vec<Value>| records[0]["state"].as_str().unwrap_or_default().to_string();
    for n in 0..2 {
        let message = text(&stack, "bob", "alice", &format!("within the quota {n}")).await;
        assert_eq!(states(stack.settled_deliveries(&message).await), "accepted");
    }
    let quota = expect(stack.server.admin(Method::GET, &format!("{path}/quota")), 200).await;
    assert_eq!(
        (&quota["used"], &quota["limit"]),
        (&json!(2), &json!(2)),
        "{quota}"
    );
    assert_eq!(quota["vendor_exhausted"], Value::Null);

    // A change of the certificate builds a new adapter, as a restart or another node would:
    // it starts from the count in the store, not from zero.
    expect(
        stack
            .server
            .admin(Method::PUT, &path)
            .json(&json!({"defaults": {"daily_quota": 2, "ttl_seconds": 600}})),
        200,
    )
    .await;
    let over = text(&stack, "bob", "alice", "over the quota").await;
    assert_eq!(states(stack.settled_deliveries(&over).await), "quota_exceeded");
    let quota = expect(stack.server.admin(Method::GET, &format!("{path}/quota")), 200).await;
    assert_eq!(quota["used"], 2, "{quota}");
    expect_error(
        stack.server.admin(
            Method::GET,
            &format!("/v1/apps/{}/certificates/999999/quota", stack.app.id),
        ),
        404,
        "certificate_not_found",
    )
    .await;
}

#[tokio::test]
async fn the_push_test_tool_reports_a_failed_credential_request_as_its_own_step() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    // A Huawei certificate whose OAuth endpoint refuses connections: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let (mut certificate, _) = valid_certificate("huawei");
    certificate["name"] = json!("huawei-unreachable");
    certificate["base_url"] = json!(dead);
    stack.server.create_certificate(&stack.app, certificate).await;
    expect(
        stack
            .server
            .phone(&alice, Method::PUT, "/v1/me/devices/phone/push-token")
            .json(&json!({"certificate_name": "huawei-unreachable", "token": hw_token("alice"), "platform": "android"})),
        200,
    )
    .await;

    let report = expect(
        stack
            .server
            .backend(
                &stack.app,
                Method::POST,
                &format!("/v1/apps/{}/push-test", stack.app.id),
            )
            .json(&json!({"user": "alice"})),
        200,
    )
    .await;
    let steps = report["steps"].as_array().expect("steps");
    let credential = steps
        .iter()
        .find(|s| s["name"] == "device:phone credential")
        .unwrap_or_else(|| panic!("no credential step: {report}"));
    assert_eq!(credential["ok"], false, "{report}");
    let detail = credential["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("connection refused") && detail.contains(&dead),
        "names the transport cause and the request: {detail}"
    );
    assert!(
        !steps.iter().any(|s| s["name"] == "device:phone test push"),
        "no send was attempted, so none is reported as answered: {report}"
    );
    let trace = &report["trace"]["phone"];
    assert_eq!(trace["failed_step"], "credential", "{report}");
    assert!(
        trace["credential"]["request"]["url"]
            .as_str()
            .is_some_and(|url| url.starts_with(&dead)),
        "the trace shows the OAuth request, not the send: {report}"
    );
    assert_eq!(trace["credential"]["failure"]["kind"], "no_answer", "{report}");
}

#[tokio::test]
async fn a_small_dispatch_window_sends_a_batch_vendor_several_smaller_requests() {
    // A window of 40: at most 40 targets with the vendors unrecorded, in units of at most 10,
    // so that several requests are in flight instead of one holding the whole window.
    let stack = Stack::start_with(|c| c.dispatch_window = 40).await;
    stack.user("sender", "Sender").await;
    let mut members = vec!["sender".to_string()];
    for i in 0..30 {
        let name = format!("member{i:02}");
        let token = stack.user(&name, &name).await;
        stack.bind(&token, "phone", HW, &hw_token(&name)).await;
        members.push(name);
    }
    stack.create_group("club", "Club", &members).await;
    let sent = stack
        .send(json!({"from": "sender", "group": "club", "kind": "text", "content": {"text": "meeting at 8"}}))
        .await;
    let deliveries = stack
        .settled_deliveries(sent["message_id"].as_str().unwrap_or_default())
        .await;
    assert_eq!(deliveries.len(), 30);
    assert!(
        deliveries.iter().all(|d| d["state"] == "accepted"),
        "{deliveries:?}"
    );

    let per_request: Vec<usize> = stack
        .sandbox
        .state
        .requests(herald_core::Vendor::Huawei)
        .iter()
        .filter(|q| q.path.ends_with("/messages:send"))
        .map(|q| {
            let body: Value = serde_json::from_str(&q.body).expect("JSON body");
            body["message"]["token"].as_array().map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(per_request.iter().sum::<usize>(), 30, "{per_request:?}");
    assert!(
        per_request.len() >= 3 && per_request.iter().all(|&n| n <= 10),
        "tokens per Huawei request: {per_request:?}"
    );
    for i in 0..30 {
        let name = format!("member{i:02}");
        assert_eq!(stack.inbox(HW, &hw_token(&name)).len(), 1, "{name}");
    }
}

#[tokio::test]
async fn a_changed_certificate_carries_the_next_push_at_once() {
    let stack = Stack::start().await;
    let alice = stack.user("alice", "Alice").await;
    stack.user("bob", "Bob").await;
    stack.bind(&alice, "phone", HW, &hw_token("alice")).await;
    let id = stack.certificate_id(HW).await;
    let path = format!("/v1/apps/{}/certificates/{id}", stack.app.id);
    let sandbox_url = expect(stack.server.admin(Method::GET, &path), 200).await["base_url"].clone();
    assert!(
        sandbox_url.is_string(),
        "the sandbox certificate names its endpoint"
    );

    // Pointed at a closed port, a push fails: its adapter is built and in use.
    expect(
        stack
            .server
            .admin(Method::PUT, &path)
            .json(&json!({"base_url": "http://127.0.0.1:1"})),
        200,
    )
    .await;
    let lost = text(&stack, "bob", "alice", "into the void").await;
    let deliveries = format!("/v1/apps/{}/messages/{lost}/deliveries", stack.app.id);
    let mut tried = false;
    for _ in 0..200 {
        let body = expect(stack.server.backend(&stack.app, Method::GET, &deliveries), 200).await;
        if body["deliveries"][0]["attempts"].as_u64().is_some_and(|n| n >= 1) {
            tried = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(tried, "the push to the closed port was attempted");

    // Back at the sandbox: the very next push goes there on its first attempt.
    expect(
        stack
            .server
            .admin(Method::PUT, &path)
            .json(&json!({"base_url": sandbox_url})),
        200,
    )
    .await;
    let delivered = text(&stack, "bob", "alice", "here again").await;
    let r = stack.settled_deliveries(&delivered).await;
    assert_eq!(
        (
            record(&r, "phone")["state"].as_str(),
            record(&r, "phone")["attempts"].as_u64()
        ),
        (Some("accepted"), Some(1))
    );
}
