//! Meizu Flyme Push emulator: `POST /garcia/api/server/push/varnished/pushByPushId` checks the
//! md5 signature over the sorted parameters with the AppSecret, the parameters and the
//! `messageJson` rules, and answers with Meizu's envelope (`code` as a string, failed pushIds
//! grouped by code in `value`): 200, 1001, 1005, 1006, 110000, 110004, 110010, 110019, and
//! `110002` per unknown pushId. Meizu has no token: an injected auth expiry answers 1006.

use crate::emulator::{chars, fault, form};
use crate::state::{Delivered, FaultKind, SandboxState, is_unknown_device};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald_core::Vendor;
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const VENDOR: Vendor = Vendor::Meizu;
/// pushIds per request: the fact sheet / SDK say 100, the older README 1000; every documented
/// variant is accepted.
const MAX_PUSH_IDS: usize = 1000;
const MAX_TITLE: usize = 32;
const MAX_CONTENT: usize = 100;
const MAX_VALID_HOURS: i64 = 72;
const MAX_NOTIFY_KEY: usize = 8;
/// [UNCONFIRMED] Meizu publishes no size limit for `messageJson`; the sandbox enforces the
/// same 4096 bytes the adapter keeps to.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Meizu codes. [SDK `ErrorCode`, `PushResponseCode`; DOC MEIZUPUSH/PushAPI]
mod code {
    pub(super) const OK: &str = "200";
    pub(super) const SYSTEM_ERROR: &str = "1001";
    pub(super) const PARAMETER_ERROR: &str = "1005";
    pub(super) const INVALID_SIGN: &str = "1006";
    pub(super) const INVALID_APP_ID: &str = "110000";
    pub(super) const UNSUBSCRIBED_PUSH_ID: &str = "110002";
    pub(super) const PARAM_BLANK: &str = "110004";
    pub(super) const RATE_TOO_HIGH: &str = "110010";
    pub(super) const DAILY_LIMIT: &str = "110019";
}

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route(
            "/garcia/api/server/push/varnished/pushByPushId",
            post(push_by_push_id),
        )
        .with_state(state)
}

fn envelope(code: &str, message: &str, value: Value) -> Value {
    let mut body = json!({"code": code, "message": message, "value": value, "redirect": ""});
    if code == code::OK {
        body["msgId"] = json!(format!("{:032x}", rand::random::<u128>()));
    }
    body
}

fn error(code: &str, message: &str) -> Response {
    Json(envelope(code, message, json!(""))).into_response()
}

fn md5_hex(input: &str) -> String {
    Md5::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The expected `sign`: every parameter but `sign`, sorted by name, `name=value` concatenated,
/// then the AppSecret. [DOC "接口签名规范"]
fn signature(form: &BTreeMap<String, String>, secret: &str) -> String {
    let mut base: String = form
        .iter()
        .filter(|(k, _)| *k != "sign")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    base.push_str(secret);
    md5_hex(&base)
}

type Refusal = (&'static str, String);

/// Meizu's `messageJson` rules for a notification. [DOC MEIZUPUSH/PushAPI]
fn check_message(m: &Value) -> Result<(), Refusal> {
    let bad = |what: String| (code::PARAMETER_ERROR, format!("参数错误，请参考API文档: {what}"));
    let bar = &m["noticeBarInfo"];
    let title = bar["title"].as_str().unwrap_or_default();
    if !(1..=MAX_TITLE).contains(&chars(title)) {
        return Err(bad(format!(
            "noticeBarInfo.title must be 1-{MAX_TITLE} characters"
        )));
    }
    let content = bar["content"].as_str().unwrap_or_default();
    if !(1..=MAX_CONTENT).contains(&chars(content)) {
        return Err(bad(format!(
            "noticeBarInfo.content must be 1-{MAX_CONTENT} characters"
        )));
    }
    if let Some(kind) = bar.get("noticeMsgType")
        && !matches!(kind.as_i64(), Some(0 | 1))
    {
        return Err(bad("noticeMsgType must be 0 (public) or 1 (private)".into()));
    }
    let click = &m["clickTypeInfo"];
    match click.get("clickType").map(Value::as_i64) {
        None | Some(Some(0)) => {}
        Some(Some(1)) if click["activity"].as_str().is_some_and(|a| !a.is_empty()) => {}
        Some(Some(2)) if click["url"].as_str().is_some_and(|u| !u.is_empty()) => {}
        Some(Some(3))
            if click["customAttribute"]
                .as_str()
                .is_some_and(|c| !c.is_empty() && c.len() <= 1000) => {}
        _ => return Err(bad("clickType and its activity / url / customAttribute".into())),
    }
    if click.get("parameters").is_some_and(|p| !p.is_object()) {
        return Err(bad("clickTypeInfo.parameters must be a JSON object".into()));
    }
    let time = &m["pushTimeInfo"];
    // The Java SDK serialises offLine as a boolean, the doc as 0/1.
    if time
        .get("offLine")
        .is_some_and(|o| !matches!(o, Value::Bool(_)) && !matches!(o.as_i64(), Some(0 | 1)))
    {
        return Err(bad("pushTimeInfo.offLine must be 0/1".into()));
    }
    if time
        .get("validTime")
        .is_some_and(|v| !v.as_i64().is_some_and(|h| (1..=MAX_VALID_HOURS).contains(&h)))
    {
        return Err(bad(format!(
            "pushTimeInfo.validTime must be 1-{MAX_VALID_HOURS} hours"
        )));
    }
    if let Some(key) = m["advanceInfo"].get("notifyKey") {
        let key = key.as_str().unwrap_or("?");
        let valid = key.len() <= MAX_NOTIFY_KEY
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(bad(format!(
                "notifyKey must be at most {MAX_NOTIFY_KEY} of [0-9a-zA-Z_-]"
            )));
        }
    }
    Ok(())
}

fn deliver(state: &SandboxState, token: &str, m: &Value) {
    let click = &m["clickTypeInfo"];
    let described = match click["clickType"].as_i64() {
        Some(1) => format!("open page {}", click["activity"].as_str().unwrap_or("?")),
        Some(2) => format!("open url {}", click["url"].as_str().unwrap_or("?")),
        Some(3) => "client-defined action".into(),
        _ => "open app".into(),
    };
    let parameters = &click["parameters"];
    let ext = parameters["ext"].as_str().map(str::to_string).or_else(|| {
        parameters
            .as_object()
            .filter(|p| !p.is_empty())
            .map(|_| parameters.to_string())
    });
    let bar = &m["noticeBarInfo"];
    state.deliver(Delivered {
        vendor: VENDOR,
        token: token.to_string(),
        title: bar["title"].as_str().unwrap_or_default().to_string(),
        body: bar["content"].as_str().unwrap_or_default().to_string(),
        click: described,
        ext,
        raw: m.clone(),
    });
}

fn check_request(
    state: &SandboxState,
    form: &BTreeMap<String, String>,
) -> Result<(Vec<String>, Value), Refusal> {
    let blank = |what: &str| (code::PARAM_BLANK, format!("参数不能为空: {what}"));
    let app_id = form
        .get("appId")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| blank("appId"))?;
    if *app_id != state.credentials.meizu_app_id {
        return Err((code::INVALID_APP_ID, "appId不合法".into()));
    }
    let signed = form
        .get("sign")
        .is_some_and(|s| *s == signature(form, &state.credentials.meizu_app_secret));
    if !signed {
        return Err((code::INVALID_SIGN, "签名认证失败".into()));
    }
    let push_ids: Vec<String> = form
        .get("pushIds")
        .map(|ids| {
            ids.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if push_ids.is_empty() {
        return Err(blank("pushIds"));
    }
    if push_ids.len() > MAX_PUSH_IDS {
        return Err((
            code::PARAMETER_ERROR,
            format!("参数错误，请参考API文档: at most {MAX_PUSH_IDS} pushIds"),
        ));
    }
    let text = form
        .get("messageJson")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| blank("messageJson"))?;
    if text.len() > MAX_MESSAGE_BYTES {
        return Err((
            code::PARAMETER_ERROR,
            format!("参数错误，请参考API文档: messageJson over {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    let message: Value = serde_json::from_str(text).map_err(|_| {
        (
            code::PARAMETER_ERROR,
            "参数错误，请参考API文档: messageJson is not JSON".to_string(),
        )
    })?;
    check_message(&message)?;
    Ok((push_ids, message))
}

async fn push_by_push_id(State(state): State<Arc<SandboxState>>, body: Bytes) -> Response {
    state.count_request(VENDOR);
    let form = form(&body);
    let (push_ids, message) = match check_request(&state, &form) {
        Ok(checked) => checked,
        Err((code, message)) => {
            state.refused(VENDOR);
            return error(code, &message);
        }
    };
    let ids: Vec<&str> = push_ids.iter().map(String::as_str).collect();
    let mut all_invalid = false;
    match fault(&state, VENDOR, &ids).await {
        Some(FaultKind::ServerError) => {
            state.refused(VENDOR);
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(envelope(code::SYSTEM_ERROR, "系统错误", json!(""))),
            )
                .into_response();
        }
        Some(FaultKind::TooManyRequests { retry_after }) => {
            state.refused(VENDOR);
            let mut response = error(code::RATE_TOO_HIGH, "应用请求频率过快");
            response.headers_mut().insert("retry-after", retry_after.into());
            return response;
        }
        // No token to expire: the emulated auth failure is the signature refusal.
        Some(FaultKind::AuthExpired) => {
            state.refused(VENDOR);
            return error(code::INVALID_SIGN, "签名认证失败");
        }
        Some(FaultKind::QuotaExhausted) => {
            state.refused(VENDOR);
            return error(code::DAILY_LIMIT, "超过该应用每天推送次数限制");
        }
        Some(FaultKind::InvalidToken) => all_invalid = true,
        Some(FaultKind::Slow { .. }) | None => {}
    }
    let mut unsubscribed = Vec::new();
    for id in &ids {
        if all_invalid || is_unknown_device(id) {
            unsubscribed.push(json!(id));
        } else {
            deliver(&state, id, &message);
        }
    }
    let mut value = Map::new();
    if !unsubscribed.is_empty() {
        value.insert(code::UNSUBSCRIBED_PUSH_ID.into(), Value::Array(unsubscribed));
    }
    Json(envelope(code::OK, "", Value::Object(value))).into_response()
}
