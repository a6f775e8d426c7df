//! The Meizu emulator over HTTP: every request must be signed with the md5 of its sorted
//! parameters plus the AppSecret (1006 otherwise), required parameters must be present (110004)
//! and unknown pushIds come back under `110002` in `value` — as Meizu answers.

mod common;

use common::sandbox;

use herald_core::Vendor;
use herald_sandbox::Sandbox;
use md5::{Digest, Md5};
use serde_json::{Value, json};

/// The form with `sign` over the sorted parameters and `secret`.
fn signed(pairs: &[(&str, &str)], secret: &str) -> String {
    let mut sorted = pairs.to_vec();
    sorted.sort();
    let mut base: String = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    base.push_str(secret);
    let sign: String = Md5::digest(base.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        form.append_pair(k, v);
    }
    form.append_pair("sign", &sign);
    form.finish()
}

async fn push(sandbox: &Sandbox, body: String) -> Value {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/garcia/api/server/push/varnished/pushByPushId",
            sandbox.url(Vendor::Meizu)
        ))
        .header("content-type", "application/x-www-form-urlencoded;charset=UTF-8")
        .body(body)
        .send()
        .await
        .expect("answer");
    assert_eq!(
        response.status().as_u16(),
        200,
        "Meizu answers business errors with HTTP 200"
    );
    response.json().await.expect("json")
}

fn message() -> String {
    json!({"noticeBarInfo": {"noticeMsgType": 1, "noticeBarType": 0, "title": "Alice", "content": "hi"},
           "clickTypeInfo": {"clickType": 0}, "pushTimeInfo": {"offLine": 1, "validTime": 24}})
    .to_string()
}

#[tokio::test]
async fn a_wrong_signature_is_refused_with_1006() {
    let sandbox = sandbox().await;
    let app_id = sandbox.state.credentials.meizu_app_id.clone();
    let body = signed(
        &[("appId", &app_id), ("pushIds", "p1"), ("messageJson", &message())],
        "not-the-app-secret",
    );
    let answer = push(&sandbox, body).await;
    assert_eq!(
        answer,
        json!({"code": "1006", "message": "签名认证失败", "value": "", "redirect": ""})
    );
    assert_eq!(sandbox.state.counters()[&Vendor::Meizu].delivered, 0);
}

#[tokio::test]
async fn a_request_without_push_ids_is_refused_with_110004() {
    let sandbox = sandbox().await;
    let creds = &sandbox.state.credentials;
    let body = signed(
        &[("appId", &creds.meizu_app_id), ("messageJson", &message())],
        &creds.meizu_app_secret,
    );
    let answer = push(&sandbox, body).await;
    assert_eq!(
        answer,
        json!({"code": "110004", "message": "参数不能为空: pushIds", "value": "", "redirect": ""})
    );
}

#[tokio::test]
async fn a_title_over_32_characters_is_a_parameter_error() {
    let sandbox = sandbox().await;
    let creds = &sandbox.state.credentials;
    let long = json!({"noticeBarInfo": {"title": "x".repeat(33), "content": "hi"}}).to_string();
    let body = signed(
        &[
            ("appId", &creds.meizu_app_id),
            ("pushIds", "p1"),
            ("messageJson", &long),
        ],
        &creds.meizu_app_secret,
    );
    assert_eq!(push(&sandbox, body).await["code"], "1005");
}

#[tokio::test]
async fn a_signed_push_is_delivered_and_unknown_push_ids_are_listed_under_110002() {
    let sandbox = sandbox().await;
    let creds = &sandbox.state.credentials;
    let body = signed(
        &[
            ("appId", &creds.meizu_app_id),
            ("pushIds", "p1,invalid-p2"),
            ("messageJson", &message()),
        ],
        &creds.meizu_app_secret,
    );
    let answer = push(&sandbox, body).await;
    assert_eq!(answer["code"], "200", "{answer}");
    assert_eq!(answer["value"], json!({"110002": ["invalid-p2"]}));
    assert!(answer["msgId"].is_string());
    let inbox = sandbox.state.inbox(Vendor::Meizu, "p1");
    assert_eq!((inbox[0].title.as_str(), inbox[0].body.as_str()), ("Alice", "hi"));
}
