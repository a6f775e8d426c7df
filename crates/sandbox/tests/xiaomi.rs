//! The Xiaomi emulator over HTTP: the `Authorization: key=<AppSecret>` header must be exact
//! (21301 otherwise), a missing required field gets 21305, a too-long title 10017, and unknown
//! regIds come back in `data.bad_regids`.

mod common;

use common::sandbox;

use herald_core::Vendor;
use herald_sandbox::Sandbox;
use serde_json::Value;

async fn send(sandbox: &Sandbox, authorization: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let response = reqwest::Client::new()
        .post(format!("{}/v3/message/regid", sandbox.url(Vendor::Xiaomi)))
        .header("authorization", authorization)
        .header("content-type", "application/x-www-form-urlencoded;charset=UTF-8")
        .body(body)
        .send()
        .await
        .expect("send");
    (response.status().as_u16(), response.json().await.expect("json"))
}

fn key(sandbox: &Sandbox) -> String {
    format!("key={}", sandbox.state.credentials.xiaomi_app_secret)
}

fn fields<'a>(regids: &'a str, title: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("registration_id", regids),
        ("restricted_package_name", "com.example.chat"),
        ("pass_through", "0"),
        ("title", title),
        ("description", "Lunch?"),
        ("payload", "{\"c\":1}"),
        ("extra.channel_id", "chat_private"),
        ("extra.notify_effect", "1"),
    ]
}

#[tokio::test]
async fn a_wrong_or_misspelled_key_fails_authentication() {
    let sandbox = sandbox().await;
    let secret = sandbox.state.credentials.xiaomi_app_secret.clone();
    for header in [
        "key=not-the-secret".to_string(),
        format!("Key={secret}"),
        secret.clone(),
    ] {
        let (status, body) = send(&sandbox, &header, &fields("phone-1", "Alice")).await;
        assert_eq!(status, 200);
        assert_eq!(
            (body["result"].as_str(), body["code"].as_i64()),
            (Some("error"), Some(21301)),
            "{header}: {body}"
        );
    }
    assert!(sandbox.state.inbox(Vendor::Xiaomi, "phone-1").is_empty());
}

#[tokio::test]
async fn a_missing_required_field_gets_21305() {
    let sandbox = sandbox().await;
    let key = key(&sandbox);
    for missing in [
        "registration_id",
        "title",
        "description",
        "restricted_package_name",
    ] {
        let without: Vec<(&str, &str)> = fields("phone-1", "Alice")
            .into_iter()
            .filter(|(k, _)| *k != missing)
            .collect();
        let (status, body) = send(&sandbox, &key, &without).await;
        assert_eq!(status, 200);
        assert_eq!(body["code"], 21305, "{missing}: {body}");
        assert_eq!(body["result"], "error");
    }
}

#[tokio::test]
async fn a_title_of_50_characters_is_a_bad_value() {
    let sandbox = sandbox().await;
    let title = "标".repeat(50);
    let (_, body) = send(&sandbox, &key(&sandbox), &fields("phone-1", &title)).await;
    assert_eq!(body["code"], 10017, "{body}");
    let title = "标".repeat(49);
    let (_, body) = send(&sandbox, &key(&sandbox), &fields("phone-1", &title)).await;
    assert_eq!(body["code"], 0, "{body}");
}

#[tokio::test]
async fn unknown_regids_are_bad_and_the_others_delivered() {
    let sandbox = sandbox().await;
    let key = key(&sandbox);
    let (status, body) = send(&sandbox, &key, &fields("phone-1,invalid-phone,phone-2", "Alice")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["result"].as_str(), body["code"].as_i64()),
        (Some("ok"), Some(0)),
        "{body}"
    );
    assert_eq!(body["data"]["bad_regids"], "invalid-phone");
    let inbox = sandbox.state.inbox(Vendor::Xiaomi, "phone-2");
    assert_eq!(
        (
            inbox[0].title.as_str(),
            inbox[0].body.as_str(),
            inbox[0].ext.as_deref()
        ),
        ("Alice", "Lunch?", Some("{\"c\":1}"))
    );

    let (_, body) = send(&sandbox, &key, &fields("invalid-phone", "Alice")).await;
    assert_eq!(body["code"], 20301, "{body}");
}
