//! The vivo emulator over HTTP: the auth call must carry `md5(appId + appKey + timestamp +
//! appSecret)`, a send must carry the `authToken` header and the integer `appId`, and a
//! message missing its title is refused with vivo's 10055 — as vivo answers.

mod common;

use common::sandbox;

use herald_core::Vendor;
use herald_sandbox::Sandbox;
use md5::{Digest, Md5};
use serde_json::{Value, json};

async fn post(url: String, body: &Value, headers: &[(&str, &str)]) -> Value {
    let mut request = reqwest::Client::new().post(url).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("answer");
    assert_eq!(
        response.status().as_u16(),
        200,
        "vivo answers business errors with HTTP 200"
    );
    response.json().await.expect("json")
}

async fn auth(sandbox: &Sandbox, secret: &str) -> Value {
    let creds = &sandbox.state.credentials;
    let timestamp = jiff::Timestamp::now().as_millisecond();
    let sign: String =
        Md5::digest(format!("{}{}{timestamp}{secret}", creds.vivo_app_id, creds.vivo_app_key).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    let body = json!({"appId": creds.vivo_app_id, "appKey": creds.vivo_app_key, "timestamp": timestamp, "sign": sign});
    post(format!("{}/message/auth", sandbox.url(Vendor::Vivo)), &body, &[]).await
}

async fn token(sandbox: &Sandbox) -> String {
    let secret = sandbox.state.credentials.vivo_app_secret.clone();
    let answer = auth(sandbox, &secret).await;
    assert_eq!(answer["result"], 0, "{answer}");
    answer["authToken"].as_str().expect("authToken").to_string()
}

fn single(sandbox: &Sandbox) -> Value {
    json!({"appId": sandbox.state.credentials.vivo_app_id, "regId": "15638535410301000000001", "notifyType": 4,
           "title": "Alice", "content": "hi", "timeToLive": 86400, "skipType": 1, "classification": 1,
           "category": "IM", "requestId": "msg-1-0123456789abcdef", "pushMode": 0})
}

async fn send(sandbox: &Sandbox, body: &Value, headers: &[(&str, &str)]) -> Value {
    post(
        format!("{}/message/send", sandbox.url(Vendor::Vivo)),
        body,
        headers,
    )
    .await
}

#[tokio::test]
async fn a_wrong_signature_is_refused() {
    let sandbox = sandbox().await;
    let answer = auth(&sandbox, "not-the-app-secret").await;
    assert_eq!(answer, json!({"result": 10203, "desc": "sign不合法"}));
}

#[tokio::test]
async fn a_message_without_a_title_is_refused_with_10055() {
    let sandbox = sandbox().await;
    let token = token(&sandbox).await;
    let mut body = single(&sandbox);
    body.as_object_mut().expect("object").remove("title");
    let answer = send(&sandbox, &body, &[("authToken", &token)]).await;
    assert_eq!(answer, json!({"result": 10055, "desc": "title不能为空"}));
    assert_eq!(sandbox.state.counters()[&Vendor::Vivo].delivered, 0);
}

#[tokio::test]
async fn the_body_must_carry_the_same_integer_app_id() {
    let sandbox = sandbox().await;
    let token = token(&sandbox).await;
    let mut body = single(&sandbox);
    body.as_object_mut().expect("object").remove("appId");
    let answer = send(&sandbox, &body, &[("authToken", &token)]).await;
    assert_eq!(answer["result"], 10094, "{answer}");
}

#[tokio::test]
async fn the_token_goes_in_the_auth_token_header_not_authorization() {
    let sandbox = sandbox().await;
    let token = token(&sandbox).await;
    let bearer = format!("Bearer {token}");
    let answer = send(&sandbox, &single(&sandbox), &[("authorization", &bearer)]).await;
    assert_eq!(answer["result"], 10000, "{answer}");
    let good = send(&sandbox, &single(&sandbox), &[("authToken", &token)]).await;
    assert_eq!(good["result"], 0, "{good}");
}

#[tokio::test]
async fn an_im_category_must_be_a_system_message() {
    let sandbox = sandbox().await;
    let token = token(&sandbox).await;
    let mut body = single(&sandbox);
    body["classification"] = json!(0);
    let answer = send(&sandbox, &body, &[("authToken", &token)]).await;
    assert_eq!(answer["result"], 10097, "{answer}");
}

#[tokio::test]
async fn a_list_push_needs_two_to_a_thousand_reg_ids_and_reports_unknown_ones() {
    let sandbox = sandbox().await;
    let token = token(&sandbox).await;
    let mut payload = single(&sandbox);
    payload.as_object_mut().expect("object").remove("regId");
    payload["timeToLive"] = json!(900);
    let url = sandbox.url(Vendor::Vivo).to_string();
    let saved = post(
        format!("{url}/message/saveListPayload"),
        &payload,
        &[("authToken", &token)],
    )
    .await;
    let task = saved["taskId"].as_str().expect("taskId").to_string();
    let app_id = sandbox.state.credentials.vivo_app_id;
    let one =
        json!({"appId": app_id, "regIds": ["15638535410301000000001"], "taskId": task, "requestId": "r1"});
    let refused = post(
        format!("{url}/message/pushToList"),
        &one,
        &[("authToken", &token)],
    )
    .await;
    assert_eq!(refused["result"], 10153, "{refused}");
    let two = json!({"appId": app_id, "regIds": ["15638535410301000000001", "invalid0000000000000001"], "taskId": task, "requestId": "r2"});
    let answer = post(
        format!("{url}/message/pushToList"),
        &two,
        &[("authToken", &token)],
    )
    .await;
    assert_eq!(answer["result"], 0, "{answer}");
    assert_eq!(
        answer["invalidUsers"],
        json!([{"status": 1, "userid": "invalid0000000000000001"}])
    );
}
