//! Xiaomi MiPush emulator: `POST /v3/message/regid` (and v2) checks the exact
//! `Authorization: key=<AppSecret>` header and the form fields against MiPush's rules, and
//! answers like Xiaomi (HTTP 200 with a numeric `code`): `0` with `data.bad_regids` for unknown
//! regIds, 20301 when none is valid, 21301 authentication failed, 21305 missing parameter,
//! 10017 bad value, 10018 too long, 22022 wrong package, 10027 too frequent, 200001 daily
//! limit. Facts: vendor-apis.md §5.

use crate::emulator::{chars, fault, form, header};
use crate::state::{Delivered, FaultKind, SandboxState, is_unknown_device};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald_core::Vendor;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

const VENDOR: Vendor = Vendor::Xiaomi;
/// Title must be shorter than this many characters. [DOC]
const TITLE_LIMIT: usize = 50;
/// Description must be shorter than this many characters. [DOC]
const DESCRIPTION_LIMIT: usize = 128;
/// `payload` bytes. [UNCONFIRMED: third-party code]
const MAX_PAYLOAD: usize = 4096;
/// RegIds per request. [UNCONFIRMED]
const MAX_REG_IDS: usize = 1000;
/// Longest retention: two weeks in milliseconds. [DOC]
const MAX_TTL_MILLIS: u64 = 14 * 24 * 3600 * 1000;
/// Custom `extra.*` pairs the app may receive, each key and value at most 1024 characters. [DOC]
const MAX_CUSTOM_EXTRAS: usize = 10;
const MAX_EXTRA_CHARS: usize = 1024;
/// `extra.*` keys MiPush itself interprets (everything else is passed to the app). [DOC+SDK]
const KNOWN_EXTRAS: &[&str] = &[
    "channel_id",
    "channel_name",
    "channel_description",
    "notify_effect",
    "intent_uri",
    "intent_class",
    "web_uri",
    "notify_foreground",
    "sound_uri",
    "ticker",
    "only_send_once",
    "flow_control",
    "jobkey",
    "callback",
    "callback.param",
    "callback.type",
    "locale",
    "locale_not_in",
    "model",
    "model_not_in",
    "app_version",
    "app_version_not_in",
    "connpt",
    "notification_style_type",
    "notification_large_icon_uri",
    "notification_bigPic_uri",
    "instant_notify",
    "hybrid_pn",
];

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/v3/message/regid", post(send))
        .route("/v2/message/regid", post(send))
        .with_state(state)
}

fn error(code: i64, description: &str, reason: &str) -> Response {
    let body = json!({"result": "error", "trace_id": trace_id(), "code": code, "description": description, "reason": reason});
    (StatusCode::OK, Json(body)).into_response()
}

fn trace_id() -> String {
    format!("Xlm{:016x}", rand::random::<u64>())
}

async fn send(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Response {
    state.count_request(VENDOR);
    let refuse = |response: Response| {
        state.refused(VENDOR);
        response
    };
    // `key` must be lower case and the secret exact. [DOC: vendor-apis.md §5.2; code 3P]
    let expected = format!("key={}", state.credentials.xiaomi_app_secret);
    if header(&headers, "authorization").as_deref() != Some(expected.as_str()) {
        return refuse(error(
            21301,
            "认证失败",
            "Authentication failed: the Authorization header must be key=<AppSecret>",
        ));
    }
    let form = form(&body);
    let reg_ids: Vec<&str> = match form.get("registration_id") {
        Some(joined) if !joined.trim().is_empty() => joined
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .collect(),
        _ => return refuse(error(21305, "缺失必选参数", "registration_id is required")),
    };
    if let Err(MiRefusal {
        code,
        description,
        reason,
    }) = check_form(&state, &form, reg_ids.len())
    {
        return refuse(error(code, description, &reason));
    }
    match fault(&state, VENDOR, &reg_ids).await {
        Some(FaultKind::ServerError) => {
            let body = json!({"result": "error", "trace_id": trace_id(), "code": 10001, "description": "系统错误", "reason": "system error"});
            return refuse((StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response());
        }
        Some(FaultKind::TooManyRequests { retry_after }) => {
            let mut response = refuse(error(
                10027,
                "应用的API调用太频繁",
                "application API call exceeds quota",
            ));
            response.headers_mut().insert("retry-after", retry_after.into());
            return response;
        }
        // A static key cannot expire; the fault answers Xiaomi's authentication failure.
        Some(FaultKind::AuthExpired) => return refuse(error(21301, "认证失败", "Authentication failed")),
        Some(FaultKind::QuotaExhausted) => {
            return refuse(error(200_001, "超过每日发送上限", "daily send limit reached"));
        }
        Some(FaultKind::InvalidToken) => return refuse(error(20301, "无有效的推送目标", "No valid targets")),
        Some(FaultKind::Slow { .. }) | None => {}
    }
    let bad: Vec<&str> = reg_ids.iter().copied().filter(|r| is_unknown_device(r)).collect();
    if bad.len() == reg_ids.len() {
        return refuse(error(20301, "无有效的推送目标", "No valid targets"));
    }
    let raw: Value = form
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    for reg_id in reg_ids.iter().filter(|r| !bad.contains(r)) {
        state.deliver(Delivered {
            vendor: VENDOR,
            token: reg_id.to_string(),
            title: form.get("title").cloned().unwrap_or_default(),
            body: form.get("description").cloned().unwrap_or_default(),
            click: describe_click(&form),
            ext: form.get("payload").cloned(),
            raw: raw.clone(),
        });
    }
    let mut data = json!({"id": format!("alm{:016x}", rand::random::<u64>())});
    if !bad.is_empty() {
        data["bad_regids"] = json!(bad.join(","));
    }
    Json(json!({
        "result": "ok",
        "trace_id": trace_id(),
        "code": 0,
        "data": data,
        "description": "成功",
        "info": format!("Received push messages for {} REGID", reg_ids.len() - bad.len()),
    }))
    .into_response()
}

/// A refused form: Xiaomi's code, its description and the reason.
struct MiRefusal {
    code: i64,
    description: &'static str,
    reason: String,
}

impl MiRefusal {
    fn new(code: i64, description: &'static str, reason: &str) -> Self {
        Self {
            code,
            description,
            reason: reason.to_string(),
        }
    }
}

/// MiPush's rules for the form fields of a notification. [DOC+SDK: vendor-apis.md §5.4]
fn check_form(
    state: &SandboxState,
    form: &BTreeMap<String, String>,
    reg_ids: usize,
) -> Result<(), MiRefusal> {
    let bad_value = |reason: &str| MiRefusal::new(10017, "参数值非法", reason);
    if reg_ids > MAX_REG_IDS {
        return Err(bad_value(&format!(
            "at most {MAX_REG_IDS} registration ids per request"
        )));
    }
    let Some(package) = form.get("restricted_package_name") else {
        return Err(MiRefusal::new(
            21305,
            "缺失必选参数",
            "restricted_package_name is required",
        ));
    };
    if !package.split(',').any(|p| p == state.credentials.bundle_id) {
        return Err(MiRefusal::new(
            22022,
            "应用程序package name不合法",
            "restricted_package_name does not belong to this app",
        ));
    }
    let pass_through = form.get("pass_through").map(String::as_str).unwrap_or("0");
    if !matches!(pass_through, "0" | "1") {
        return Err(bad_value("pass_through must be 0 or 1"));
    }
    if pass_through == "0" {
        let Some(title) = form.get("title") else {
            return Err(MiRefusal::new(21305, "缺失必选参数", "title is required"));
        };
        let Some(description) = form.get("description") else {
            return Err(MiRefusal::new(21305, "缺失必选参数", "description is required"));
        };
        if title.trim().is_empty() {
            return Err(bad_value("title must not be blank"));
        }
        if chars(title) >= TITLE_LIMIT {
            return Err(bad_value(&format!(
                "title must be shorter than {TITLE_LIMIT} characters"
            )));
        }
        if chars(description) >= DESCRIPTION_LIMIT {
            return Err(bad_value(&format!(
                "description must be shorter than {DESCRIPTION_LIMIT} characters"
            )));
        }
    }
    if form.get("payload").is_some_and(|p| p.len() > MAX_PAYLOAD) {
        return Err(MiRefusal::new(
            10018,
            "请求长度超过限制",
            &format!("payload exceeds {MAX_PAYLOAD} bytes"),
        ));
    }
    if let Some(kind) = form.get("notify_type")
        && !kind.parse::<i64>().is_ok_and(|k| (-1..=7).contains(&k))
    {
        return Err(bad_value("notify_type must be -1 or a sum of 1, 2, 4"));
    }
    if let Some(id) = form.get("notify_id")
        && !id
            .parse::<i64>()
            .is_ok_and(|i| (0..=i64::from(i32::MAX)).contains(&i))
    {
        return Err(bad_value("notify_id must be 0-2147483647"));
    }
    if let Some(ttl) = form.get("time_to_live")
        && !ttl.parse::<u64>().is_ok_and(|t| t <= MAX_TTL_MILLIS)
    {
        return Err(bad_value("time_to_live must be milliseconds, at most two weeks"));
    }
    let extra = |key: &str| form.get(&format!("extra.{key}"));
    match extra("notify_effect").map(String::as_str) {
        None | Some("1") => {}
        Some("2") if extra("intent_uri").is_some() || extra("intent_class").is_some() => {}
        Some("2") => return Err(bad_value("notify_effect 2 needs extra.intent_uri")),
        Some("3")
            if extra("web_uri").is_some_and(|u| u.starts_with("http://") || u.starts_with("https://")) => {}
        Some("3") => return Err(bad_value("notify_effect 3 needs extra.web_uri")),
        Some(other) => return Err(bad_value(&format!("notify_effect {other} is not 1, 2 or 3"))),
    }
    let custom: Vec<(&str, &String)> = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("extra.").map(|k| (k, v)))
        .filter(|(k, _)| !KNOWN_EXTRAS.contains(k))
        .collect();
    if custom.len() > MAX_CUSTOM_EXTRAS {
        return Err(bad_value(&format!(
            "at most {MAX_CUSTOM_EXTRAS} custom extra fields"
        )));
    }
    if custom
        .iter()
        .any(|(k, v)| chars(k) > MAX_EXTRA_CHARS || chars(v) > MAX_EXTRA_CHARS)
    {
        return Err(bad_value(&format!(
            "extra keys and values are limited to {MAX_EXTRA_CHARS} characters"
        )));
    }
    Ok(())
}

fn describe_click(form: &BTreeMap<String, String>) -> String {
    let extra = |key: &str| {
        form.get(&format!("extra.{key}"))
            .map(String::as_str)
            .unwrap_or("?")
    };
    match form.get("extra.notify_effect").map(String::as_str) {
        Some("2") => format!("open page {}", extra("intent_uri")),
        Some("3") => format!("open url {}", extra("web_uri")),
        _ => "open app".into(),
    }
}
