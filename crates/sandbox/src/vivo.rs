//! vivo Push emulator: `POST /message/auth` checks the md5 signature and the ±10-minute window
//! and issues `authToken`s; `/message/send` (one regId), `/message/saveListPayload` and
//! `/message/pushToList` (2–1000 regIds) check the `authToken` header, the integer `appId` in
//! the body, the 23-character regIds, `requestId`, the message rules and the
//! classification/category matrix, and answer with vivo's `result` codes (0, 10000, 10055,
//! 10056, 10070, 10072, 10094, 10096, 10097, 10153, 10302…) and `invalidUser(s)`.

use crate::emulator::{chars, fault, header};
use crate::state::{Delivered, FaultKind, SandboxState, TokenCheck, is_unknown_device};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald_core::Vendor;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const VENDOR: Vendor = Vendor::Vivo;
const TIMESTAMP_WINDOW_MS: i64 = 10 * 60 * 1000;
const REG_ID_CHARS: usize = 23;
const MAX_TITLE: usize = 40;
const MAX_CONTENT: usize = 100;
const MAX_REQUEST_ID: usize = 64;
const MAX_SKIP_CONTENT: usize = 2048;
const MAX_CUSTOM_MAP_PAIRS: usize = 10;
const MAX_CUSTOM_MAP_CHARS: usize = 1024;
/// TTL bounds: single ≥ 60 s, list ≥ 900 s, ≤ 7 days (the old SDK; current docs 1 day — §11
/// says accept every documented variant).
const MIN_TTL_SEND: i64 = 60;
const MIN_TTL_LIST: i64 = 900;
const MAX_TTL: i64 = 7 * 86_400;
const MIN_LIST: usize = 2;
const MAX_LIST: usize = 1000;
const SYSTEM_CATEGORIES: &[&str] = &[
    "IM",
    "ACCOUNT",
    "TODO",
    "DEVICE_REMINDER",
    "ORDER",
    "SUBSCRIPTION",
];
const OPERATIONAL_CATEGORIES: &[&str] = &["NEWS", "CONTENT", "MARKETING", "SOCIAL"];

/// vivo `result` codes. Codes marked [UNCONFIRMED] are not in the material available; they are
/// placed in the ranges the fact sheet gives for their kind (parameter errors 10050–10069,
/// auth parameters 10200–10205).
mod result {
    pub(super) const AUTH_FAILED: i64 = 10000; // [3P]
    pub(super) const TARGET_MISSING: i64 = 10050; // [UNCONFIRMED]
    pub(super) const NOTIFY_TYPE: i64 = 10054; // [UNCONFIRMED]
    pub(super) const TITLE_EMPTY: i64 = 10055;
    pub(super) const TITLE_TOO_LONG: i64 = 10056;
    pub(super) const CONTENT_EMPTY: i64 = 10057; // [UNCONFIRMED]
    pub(super) const CONTENT_TOO_LONG: i64 = 10058; // [UNCONFIRMED]
    pub(super) const TTL: i64 = 10059;
    pub(super) const SKIP_TYPE: i64 = 10060; // [UNCONFIRMED]
    pub(super) const SKIP_CONTENT: i64 = 10061; // [UNCONFIRMED]
    pub(super) const CUSTOM_MAP: i64 = 10065; // [UNCONFIRMED]
    pub(super) const REQUEST_ID: i64 = 10068; // [UNCONFIRMED]
    pub(super) const QUOTA: i64 = 10070;
    pub(super) const FREQUENCY: i64 = 10072; // [3P]
    pub(super) const APP_ID: i64 = 10094;
    pub(super) const CATEGORY: i64 = 10096;
    pub(super) const CATEGORY_MISMATCH: i64 = 10097;
    pub(super) const TASK_ID: i64 = 10150; // [UNCONFIRMED]
    pub(super) const LIST_SIZE: i64 = 10153;
    pub(super) const AUTH_APP_ID: i64 = 10200; // [UNCONFIRMED]
    pub(super) const AUTH_APP_KEY: i64 = 10201; // [UNCONFIRMED]
    pub(super) const AUTH_TIMESTAMP: i64 = 10202; // [UNCONFIRMED]
    pub(super) const AUTH_SIGN: i64 = 10203; // [UNCONFIRMED]
    pub(super) const REG_ID: i64 = 10302;
    pub(super) const BODY: i64 = 11000; // [UNCONFIRMED]
}

/// The emulator's own memory: payloads saved for list pushes, by taskId.
struct Vivo {
    state: Arc<SandboxState>,
    payloads: Mutex<HashMap<String, Value>>,
}

type Shared = Arc<Vivo>;

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    let vivo = Arc::new(Vivo {
        state,
        payloads: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/message/auth", post(auth))
        .route("/message/send", post(send))
        .route("/message/saveListPayload", post(save_list_payload))
        .route("/message/pushToList", post(push_to_list))
        .with_state(vivo)
}

fn answer(body: Value) -> Response {
    Json(body).into_response()
}

fn error(result: i64, desc: &str) -> Response {
    answer(json!({"result": result, "desc": desc}))
}

fn md5_hex(input: &str) -> String {
    Md5::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An integer appId; a numeric string is tolerated (some clients quote it).
fn app_id(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn now_millis() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

async fn auth(State(vivo): State<Shared>, body: Bytes) -> Response {
    let creds = &vivo.state.credentials;
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(result::BODY, "请求体不是合法的JSON");
    };
    let Some(id) = app_id(&request["appId"]).filter(|id| *id == creds.vivo_app_id) else {
        return error(result::AUTH_APP_ID, "appId不合法");
    };
    let Some(key) = request["appKey"]
        .as_str()
        .filter(|k| k.trim() == creds.vivo_app_key)
    else {
        return error(result::AUTH_APP_KEY, "appKey不合法");
    };
    let Some(timestamp) = request["timestamp"]
        .as_i64()
        .filter(|t| (now_millis() - t).abs() <= TIMESTAMP_WINDOW_MS)
    else {
        return error(result::AUTH_TIMESTAMP, "timestamp不合法");
    };
    let expected = md5_hex(&format!(
        "{id}{}{timestamp}{}",
        key.trim(),
        creds.vivo_app_secret.trim()
    ));
    if request["sign"].as_str() != Some(expected.as_str()) {
        return error(result::AUTH_SIGN, "sign不合法");
    }
    let (token, _) = vivo.state.issue_token(VENDOR);
    answer(json!({"result": 0, "desc": "请求成功", "authToken": token}))
}

type Refusal = (i64, String);

/// The `authToken` header, then the body's `appId` (API 2.9.2+), then the body itself.
fn authorize(vivo: &Vivo, headers: &HeaderMap, body: &Bytes) -> Result<Value, Refusal> {
    let token = header(headers, "authtoken")
        .ok_or((result::AUTH_FAILED, "权限认证失败: authToken 缺失".to_string()))?;
    if vivo.state.check_token(VENDOR, &token) != TokenCheck::Valid {
        return Err((result::AUTH_FAILED, "权限认证失败: authToken 无效或已过期".into()));
    }
    let request: Value =
        serde_json::from_slice(body).map_err(|_| (result::BODY, "请求体不是合法的JSON".to_string()))?;
    if app_id(&request["appId"]) != Some(vivo.state.credentials.vivo_app_id) {
        return Err((result::APP_ID, "appId与authToken不一致".into()));
    }
    Ok(request)
}

fn check_request_id(request: &Value) -> Result<(), Refusal> {
    match request["requestId"].as_str() {
        Some(id) if !id.is_empty() && chars(id) <= MAX_REQUEST_ID => Ok(()),
        _ => Err((
            result::REQUEST_ID,
            format!("requestId 不能为空且不超过{MAX_REQUEST_ID}个字符"),
        )),
    }
}

/// vivo's message rules. [SDK `Validation`; DOC doc/362]
fn check_message(m: &Value, min_ttl: i64) -> Result<(), Refusal> {
    let text = |name: &str| m[name].as_str().unwrap_or_default();
    if text("title").is_empty() {
        return Err((result::TITLE_EMPTY, "title不能为空".into()));
    }
    if chars(text("title")) > MAX_TITLE {
        return Err((result::TITLE_TOO_LONG, format!("title长度不能超过{MAX_TITLE}")));
    }
    if text("content").is_empty() {
        return Err((result::CONTENT_EMPTY, "content不能为空".into()));
    }
    if chars(text("content")) > MAX_CONTENT {
        return Err((
            result::CONTENT_TOO_LONG,
            format!("content长度不能超过{MAX_CONTENT}"),
        ));
    }
    if let Some(kind) = m.get("notifyType")
        && !matches!(kind.as_i64(), Some(1..=4))
    {
        return Err((result::NOTIFY_TYPE, "notifyType不合法".into()));
    }
    if let Some(ttl) = m.get("timeToLive")
        && !ttl.as_i64().is_some_and(|t| (min_ttl..=MAX_TTL).contains(&t))
    {
        return Err((result::TTL, format!("timeToLive须在{min_ttl}秒到{MAX_TTL}秒之间")));
    }
    match m["skipType"].as_i64() {
        Some(1) => {}
        Some(2..=4) => {
            let content = text("skipContent");
            if content.is_empty() || chars(content) > MAX_SKIP_CONTENT {
                return Err((
                    result::SKIP_CONTENT,
                    format!("skipContent不能为空且不超过{MAX_SKIP_CONTENT}"),
                ));
            }
        }
        _ => return Err((result::SKIP_TYPE, "skipType不合法".into())),
    }
    if let Some(map) = m.get("clientCustomMap") {
        let pairs = map
            .as_object()
            .ok_or((result::CUSTOM_MAP, "clientCustomMap不合法".to_string()))?;
        let strings = pairs.values().all(Value::is_string);
        let total: usize = pairs
            .iter()
            .map(|(k, v)| chars(k) + v.as_str().map(chars).unwrap_or_default())
            .sum();
        if !strings || pairs.len() > MAX_CUSTOM_MAP_PAIRS || total > MAX_CUSTOM_MAP_CHARS {
            return Err((
                result::CUSTOM_MAP,
                format!("clientCustomMap最多{MAX_CUSTOM_MAP_PAIRS}对，总长度不超过{MAX_CUSTOM_MAP_CHARS}"),
            ));
        }
    }
    let classification = m["classification"].as_i64().unwrap_or(0);
    if !matches!(classification, 0 | 1) {
        return Err((result::CATEGORY_MISMATCH, "classification不合法".into()));
    }
    if let Some(category) = m.get("category") {
        let category = category.as_str().unwrap_or_default();
        let system = SYSTEM_CATEGORIES.contains(&category);
        if !system && !OPERATIONAL_CATEGORIES.contains(&category) {
            return Err((result::CATEGORY, format!("category `{category}` 不合法")));
        }
        if system != (classification == 1) {
            return Err((result::CATEGORY_MISMATCH, "category与classification不一致".into()));
        }
    }
    Ok(())
}

/// The answer to an injected fault, unless it concerns the targets only.
fn fault_answer(kind: &FaultKind) -> Option<Response> {
    match kind {
        FaultKind::ServerError => {
            Some((StatusCode::INTERNAL_SERVER_ERROR, "Internet server error!").into_response())
        }
        FaultKind::TooManyRequests { retry_after } => {
            let mut response = error(result::FREQUENCY, "调用频率超过限制");
            response
                .headers_mut()
                .insert("retry-after", (*retry_after).into());
            Some(response)
        }
        FaultKind::AuthExpired => Some(error(result::AUTH_FAILED, "权限认证失败: authToken 已过期")),
        FaultKind::QuotaExhausted => Some(error(result::QUOTA, "发送总量超限")),
        FaultKind::InvalidToken | FaultKind::Slow { .. } => None,
    }
}

fn task_id() -> String {
    format!("{}", rand::random::<u32>())
}

fn deliver(state: &SandboxState, token: &str, m: &Value) {
    let text = |name: &str| m[name].as_str().unwrap_or_default().to_string();
    let click = match m["skipType"].as_i64() {
        Some(2) => format!("open url {}", text("skipContent")),
        Some(3 | 4) => format!("open page {}", text("skipContent")),
        _ => "open app".into(),
    };
    let map = &m["clientCustomMap"];
    let ext = map["ext"]
        .as_str()
        .map(str::to_string)
        .or_else(|| map.as_object().filter(|o| !o.is_empty()).map(|_| map.to_string()));
    state.deliver(Delivered {
        vendor: VENDOR,
        token: token.to_string(),
        title: text("title"),
        body: text("content"),
        click,
        ext,
        raw: m.clone(),
    });
}

async fn send(State(vivo): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &vivo.state;
    state.count_request(VENDOR);
    let refuse = |(code, desc): Refusal| {
        state.refused(VENDOR);
        error(code, &desc)
    };
    let request = match authorize(&vivo, &headers, &body) {
        Ok(request) => request,
        Err(refusal) => return refuse(refusal),
    };
    // regId wins over alias; only regIds are emulated.
    let Some(reg_id) = request["regId"].as_str().filter(|r| !r.is_empty()) else {
        return refuse((
            result::TARGET_MISSING,
            "regId和alias不能都为空（别名推送未模拟）".into(),
        ));
    };
    if let Err(refusal) = check_message(&request, MIN_TTL_SEND).and_then(|()| check_request_id(&request)) {
        return refuse(refusal);
    }
    let invalid_user = |status: u8| json!({"result": result::REG_ID, "desc": "regId不合法", "invalidUser": {"status": status, "userid": reg_id}});
    if chars(reg_id) != REG_ID_CHARS {
        state.refused(VENDOR);
        return answer(invalid_user(1));
    }
    if let Some(kind) = fault(state, VENDOR, &[reg_id]).await {
        if let Some(response) = fault_answer(&kind) {
            state.refused(VENDOR);
            return response;
        }
        if kind == FaultKind::InvalidToken {
            state.refused(VENDOR);
            return answer(invalid_user(2));
        }
    }
    if is_unknown_device(reg_id) {
        state.refused(VENDOR);
        return answer(invalid_user(1));
    }
    deliver(state, reg_id, &request);
    answer(json!({"result": 0, "desc": "请求成功", "taskId": task_id()}))
}

async fn save_list_payload(State(vivo): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &vivo.state;
    state.count_request(VENDOR);
    let refuse = |(code, desc): Refusal| {
        state.refused(VENDOR);
        error(code, &desc)
    };
    let request = match authorize(&vivo, &headers, &body) {
        Ok(request) => request,
        Err(refusal) => return refuse(refusal),
    };
    if let Err(refusal) = check_message(&request, MIN_TTL_LIST).and_then(|()| check_request_id(&request)) {
        return refuse(refusal);
    }
    if let Some(kind) = fault(state, VENDOR, &[]).await
        && let Some(response) = fault_answer(&kind)
    {
        state.refused(VENDOR);
        return response;
    }
    let task = task_id();
    vivo.payloads
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(task.clone(), request);
    answer(json!({"result": 0, "desc": "请求成功", "taskId": task}))
}

async fn push_to_list(State(vivo): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &vivo.state;
    state.count_request(VENDOR);
    let refuse = |(code, desc): Refusal| {
        state.refused(VENDOR);
        error(code, &desc)
    };
    let request = match authorize(&vivo, &headers, &body) {
        Ok(request) => request,
        Err(refusal) => return refuse(refusal),
    };
    let reg_ids: Vec<&str> = request["regIds"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !(MIN_LIST..=MAX_LIST).contains(&reg_ids.len()) {
        return refuse((
            result::LIST_SIZE,
            format!("regIds个数须在{MIN_LIST}到{MAX_LIST}之间（别名推送未模拟）"),
        ));
    }
    if let Err(refusal) = check_request_id(&request) {
        return refuse(refusal);
    }
    let task = request["taskId"]
        .as_str()
        .map(str::to_string)
        .or_else(|| request["taskId"].as_u64().map(|t| t.to_string()));
    let saved = task.and_then(|t| {
        vivo.payloads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&t)
            .cloned()
    });
    let Some(message) = saved else {
        return refuse((result::TASK_ID, "taskId不合法".into()));
    };
    let mut all_invalid = false;
    if let Some(kind) = fault(state, VENDOR, &reg_ids).await {
        if let Some(response) = fault_answer(&kind) {
            state.refused(VENDOR);
            return response;
        }
        all_invalid = kind == FaultKind::InvalidToken;
    }
    let mut invalid = Vec::new();
    for reg_id in &reg_ids {
        if all_invalid || is_unknown_device(reg_id) || chars(reg_id) != REG_ID_CHARS {
            invalid.push(json!({"status": 1, "userid": reg_id}));
        } else {
            deliver(state, reg_id, &message);
        }
    }
    answer(json!({"result": 0, "desc": "请求成功", "invalidUsers": invalid}))
}
