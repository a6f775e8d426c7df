//! OPPO Push emulator: `POST /server/v1/auth` checks the sha256 signature and the 10-minute
//! timestamp window and issues `auth_token`s; `POST /server/v1/message/notification/unicast`
//! and `/unicast_batch` take the token as a form field or header, parse the `message` /
//! `messages` JSON (snake_case or camelCase fields), check OPPO's rules and answer with OPPO's
//! codes (0, 11, 29, 33, 40, 41, 67, -1, -2, 10000 per target).

use crate::emulator::{chars, fault, form, header};
use crate::state::{Delivered, FaultKind, SandboxState, TokenCheck, is_unknown_device};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald_core::Vendor;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

const VENDOR: Vendor = Vendor::Oppo;
/// Messages per `unicast_batch`.
const MAX_MESSAGES: usize = 1000;
/// Largest request body read (the request log reads up to the same size).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Accepted clock difference of the auth timestamp.
const TIMESTAMP_WINDOW_MS: i64 = 10 * 60 * 1000;
const MAX_TITLE: usize = 50;
const MAX_SUB_TITLE: usize = 10;
const MAX_ACTIVITY: usize = 500;
const MAX_URL: usize = 2000;
const MAX_ACTION_PARAMETERS: usize = 4000;
const MAX_OFFLINE_TTL: i64 = 864_000;
const CATEGORIES: &[&str] = &[
    "IM",
    "ACCOUNT",
    "DEVICE_REMINDER",
    "ORDER",
    "TODO",
    "SUBSCRIPTION",
    "NEWS",
    "CONTENT",
    "MARKETING",
    "SOCIAL",
];

/// OPPO platform codes used here. [SDK `ReturnCode.ErrorCode`]
mod code {
    pub(super) const INVALID_AUTH_TOKEN: i64 = 11;
    pub(super) const INVALID_APP_KEY: i64 = 14;
    pub(super) const MISSING_APP_KEY: i64 = 15;
    pub(super) const INVALID_SIGNATURE: i64 = 16;
    pub(super) const MISSING_SIGNATURE: i64 = 17;
    pub(super) const MISSING_TIMESTAMP: i64 = 18;
    pub(super) const INVALID_TIMESTAMP: i64 = 19;
    pub(super) const MISSING_AUTH_TOKEN: i64 = 29;
    pub(super) const DAILY_LIMIT: i64 = 33;
    pub(super) const MISSING_ARGUMENTS: i64 = 40;
    pub(super) const INVALID_ARGUMENTS: i64 = 41;
    pub(super) const INVALID_CATEGORY: i64 = 67;
    pub(super) const INVALID_REGISTRATION_ID: i64 = 10000;
}

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/server/v1/auth", post(auth))
        .route("/server/v1/message/notification/unicast", post(unicast))
        .route(
            "/server/v1/message/notification/unicast_batch",
            post(unicast_batch),
        )
        // A full batch (1000 messages, each with up to 4000 characters of action_parameters,
        // form-encoded) is far above axum's 2 MB default.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn answer(code: i64, message: &str, data: Value) -> Response {
    Json(json!({"code": code, "message": message, "data": data})).into_response()
}

fn error(code: i64, message: &str) -> Response {
    Json(json!({"code": code, "message": message})).into_response()
}

fn sha256_hex(input: &str) -> String {
    Sha256::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn auth(State(state): State<Arc<SandboxState>>, body: Bytes) -> Response {
    let form = form(&body);
    let creds = &state.credentials;
    let Some(app_key) = form.get("app_key") else {
        return error(code::MISSING_APP_KEY, "Missing App Key");
    };
    if *app_key != creds.oppo_app_key {
        return error(code::INVALID_APP_KEY, "Invalid App Key");
    }
    let Some(timestamp) = form.get("timestamp") else {
        return error(code::MISSING_TIMESTAMP, "Missing Timestamp");
    };
    let now = jiff::Timestamp::now().as_millisecond();
    match timestamp.parse::<i64>() {
        Ok(ms) if (now - ms).abs() <= TIMESTAMP_WINDOW_MS => {}
        _ => return error(code::INVALID_TIMESTAMP, "Invalid Timestamp"),
    }
    let Some(sign) = form.get("sign") else {
        return error(code::MISSING_SIGNATURE, "Missing Signature");
    };
    if *sign != sha256_hex(&format!("{app_key}{timestamp}{}", creds.oppo_master_secret)) {
        return error(code::INVALID_SIGNATURE, "Invalid Signature");
    }
    let (token, _) = state.issue_token(VENDOR);
    answer(0, "success", json!({"auth_token": token, "create_time": now}))
}

/// A validated message: its registration id and notification.
struct Checked {
    token: String,
    notification: Value,
}

/// Reads a field in snake_case or in the camelCase of OPPO's doc example.
fn field<'a>(object: &'a Value, snake: &str) -> Option<&'a Value> {
    object.get(snake).or_else(|| {
        let mut camel = String::new();
        let mut upper = false;
        for c in snake.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                camel.extend(c.to_uppercase());
                upper = false;
            } else {
                camel.push(c);
            }
        }
        object.get(&camel)
    })
}

/// A number, sent as a JSON number or numeric text (fastjson converts both).
fn number(value: Option<&Value>) -> Option<i64> {
    value.and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    })
}

type Refusal = (i64, String);

fn check_message(message: &Value) -> Result<Checked, Refusal> {
    let missing = |what: &str| {
        (
            code::MISSING_ARGUMENTS,
            format!("Missing Required Arguments: {what}"),
        )
    };
    let invalid = |what: String| (code::INVALID_ARGUMENTS, format!("Invalid Arguments: {what}"));
    match number(field(message, "target_type")) {
        Some(2) => {}
        Some(other) => {
            return Err(invalid(format!(
                "target_type {other} (only 2 = registration_id is emulated)"
            )));
        }
        None => return Err(missing("target_type")),
    }
    let token = field(message, "target_value")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing("target_value"))?;
    let notification = field(message, "notification")
        .filter(|n| n.is_object())
        .ok_or_else(|| missing("notification"))?;
    check_notification(notification)?;
    Ok(Checked {
        token: token.to_string(),
        notification: notification.clone(),
    })
}

/// OPPO's rules for the `notification` object. [DOC id=11236; SDK `Notification.validate`]
fn check_notification(n: &Value) -> Result<(), Refusal> {
    let missing = |what: &str| {
        (
            code::MISSING_ARGUMENTS,
            format!("Missing Required Arguments: {what}"),
        )
    };
    let invalid = |what: String| (code::INVALID_ARGUMENTS, format!("Invalid Arguments: {what}"));
    let text = |name: &str| field(n, name).and_then(Value::as_str);
    let title = text("title")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing("title"))?;
    if chars(title) > MAX_TITLE {
        return Err(invalid(format!("title is longer than {MAX_TITLE} characters")));
    }
    let content = text("content")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| missing("content"))?;
    // §11: 200 for the standard style, 128 long text, 50 big picture.
    let style = number(field(n, "style")).unwrap_or(1);
    let max_content = match style {
        1 => 200,
        2 => 128,
        3 => 50,
        other => return Err(invalid(format!("style {other}"))),
    };
    if chars(content) > max_content {
        return Err(invalid(format!(
            "content is longer than {max_content} characters for style {style}"
        )));
    }
    if text("sub_title").is_some_and(|s| chars(s) > MAX_SUB_TITLE) {
        return Err(invalid(format!(
            "sub_title is longer than {MAX_SUB_TITLE} characters"
        )));
    }
    match number(field(n, "click_action_type")).unwrap_or(0) {
        0 => {}
        1 | 4 => match text("click_action_activity") {
            Some(a) if !a.is_empty() && chars(a) <= MAX_ACTIVITY => {}
            _ => {
                return Err(invalid(format!(
                    "click_action_activity is required (≤ {MAX_ACTIVITY} characters)"
                )));
            }
        },
        2 | 5 => match text("click_action_url") {
            Some(u) if !u.is_empty() && chars(u) <= MAX_URL => {}
            _ => {
                return Err(invalid(format!(
                    "click_action_url is required (≤ {MAX_URL} characters)"
                )));
            }
        },
        other => return Err(invalid(format!("click_action_type {other}"))),
    }
    if let Some(parameters) = field(n, "action_parameters") {
        // DESIGN.md: OPPO only takes a JSON object here.
        let object = match parameters {
            Value::String(s) if chars(s) <= MAX_ACTION_PARAMETERS => {
                matches!(serde_json::from_str::<Value>(s), Ok(Value::Object(_)))
            }
            Value::Object(_) => parameters.to_string().chars().count() <= MAX_ACTION_PARAMETERS,
            _ => false,
        };
        if !object {
            return Err(invalid(format!(
                "action_parameters must be a JSON object of at most {MAX_ACTION_PARAMETERS} characters"
            )));
        }
    }
    let category = text("category");
    if let Some(category) = category
        && !CATEGORIES.contains(&category)
    {
        return Err((
            code::INVALID_CATEGORY,
            format!("category `{category}` is invalid"),
        ));
    }
    if let Some(level) = number(field(n, "notify_level"))
        && (!matches!(level, 1 | 2 | 16) || category.is_none())
    {
        return Err((
            code::INVALID_CATEGORY,
            format!("notify_level {level} is invalid or has no category"),
        ));
    }
    if let Some(ttl) = number(field(n, "off_line_ttl"))
        && !(0..=MAX_OFFLINE_TTL).contains(&ttl)
    {
        return Err(invalid(format!(
            "off_line_ttl {ttl} exceeds {MAX_OFFLINE_TTL} seconds"
        )));
    }
    Ok(())
}

/// Checks the auth token (form field, or header as many clients send it).
fn authorize(
    state: &SandboxState,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> Result<(), (i64, &'static str)> {
    let token = form
        .get("auth_token")
        .cloned()
        .or_else(|| header(headers, "auth_token"));
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err((code::MISSING_AUTH_TOKEN, "Missing Auth Token"));
    };
    match state.check_token(VENDOR, &token) {
        TokenCheck::Valid => Ok(()),
        TokenCheck::Expired | TokenCheck::Unknown => Err((code::INVALID_AUTH_TOKEN, "Invalid Auth Token")),
    }
}

/// The answer to an injected fault, unless it concerns the targets only.
fn fault_answer(kind: &FaultKind) -> Option<Response> {
    match kind {
        FaultKind::ServerError => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"code": -1, "message": "Service Currently Unavailable"})),
            )
                .into_response(),
        ),
        FaultKind::TooManyRequests { retry_after } => {
            let mut response = error(-2, "Service in Flow Control");
            response
                .headers_mut()
                .insert("retry-after", (*retry_after).into());
            Some(response)
        }
        FaultKind::AuthExpired => Some(error(code::INVALID_AUTH_TOKEN, "Invalid Auth Token")),
        FaultKind::QuotaExhausted => Some(error(
            code::DAILY_LIMIT,
            "The number of messages exceeds the daily limit",
        )),
        FaultKind::InvalidToken | FaultKind::Slow { .. } => None,
    }
}

fn message_id() -> String {
    format!(
        "{:016x}-1-1-{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

fn deliver(state: &SandboxState, checked: &Checked) {
    let n = &checked.notification;
    let text = |name: &str| {
        field(n, name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let click = match number(field(n, "click_action_type")).unwrap_or(0) {
        1 | 4 => format!("open page {}", text("click_action_activity")),
        2 => format!("open url {}", text("click_action_url")),
        5 => format!("open page {}", text("click_action_url")),
        _ => "open app".into(),
    };
    let ext = field(n, "action_parameters")
        .map(|p| p.as_str().map(str::to_string).unwrap_or_else(|| p.to_string()));
    state.deliver(Delivered {
        vendor: VENDOR,
        token: checked.token.clone(),
        title: text("title"),
        body: text("content"),
        click,
        ext,
        raw: n.clone(),
    });
}

async fn unicast(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Response {
    state.count_request(VENDOR);
    let refuse = |response: Response| {
        state.refused(VENDOR);
        response
    };
    let form = form(&body);
    if let Err((code, message)) = authorize(&state, &headers, &form) {
        return refuse(error(code, message));
    }
    let Some(message) = form.get("message") else {
        return refuse(error(
            code::MISSING_ARGUMENTS,
            "Missing Required Arguments: message",
        ));
    };
    let Ok(message) = serde_json::from_str::<Value>(message) else {
        return refuse(error(
            code::INVALID_ARGUMENTS,
            "Invalid Arguments: message is not JSON",
        ));
    };
    let checked = match check_message(&message) {
        Ok(checked) => checked,
        Err((code, reason)) => return refuse(error(code, &reason)),
    };
    if let Some(kind) = fault(&state, VENDOR, &[checked.token.as_str()]).await {
        if let Some(response) = fault_answer(&kind) {
            return refuse(response);
        }
        if kind == FaultKind::InvalidToken {
            return refuse(error(code::INVALID_REGISTRATION_ID, "Invalid Registration_id"));
        }
    }
    if is_unknown_device(&checked.token) {
        return refuse(error(code::INVALID_REGISTRATION_ID, "Invalid Registration_id"));
    }
    deliver(&state, &checked);
    answer(0, "", json!({"messageId": message_id()}))
}

async fn unicast_batch(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Response {
    state.count_request(VENDOR);
    let refuse = |response: Response| {
        state.refused(VENDOR);
        response
    };
    let form = form(&body);
    if let Err((code, message)) = authorize(&state, &headers, &form) {
        return refuse(error(code, message));
    }
    let Some(messages) = form.get("messages") else {
        return refuse(error(
            code::MISSING_ARGUMENTS,
            "Missing Required Arguments: messages",
        ));
    };
    let Ok(Value::Array(messages)) = serde_json::from_str::<Value>(messages) else {
        return refuse(error(
            code::INVALID_ARGUMENTS,
            "Invalid Arguments: messages is not a JSON array",
        ));
    };
    if messages.is_empty() || messages.len() > MAX_MESSAGES {
        return refuse(error(
            code::INVALID_ARGUMENTS,
            &format!("Invalid Arguments: 1 to {MAX_MESSAGES} messages"),
        ));
    }
    let mut checked = Vec::with_capacity(messages.len());
    for message in &messages {
        match check_message(message) {
            Ok(one) => checked.push(one),
            Err((code, reason)) => return refuse(error(code, &reason)),
        }
    }
    let tokens: Vec<&str> = checked.iter().map(|c| c.token.as_str()).collect();
    let mut all_invalid = false;
    if let Some(kind) = fault(&state, VENDOR, &tokens).await {
        if let Some(response) = fault_answer(&kind) {
            return refuse(response);
        }
        all_invalid = kind == FaultKind::InvalidToken;
    }
    let results: Vec<Value> = checked
        .iter()
        .map(|one| {
            let mut item = Map::new();
            item.insert("messageId".into(), json!(message_id()));
            item.insert("registrationId".into(), json!(one.token));
            if all_invalid || is_unknown_device(&one.token) {
                item.insert("errorCode".into(), json!(code::INVALID_REGISTRATION_ID));
                item.insert("errorMessage".into(), json!("Invalid Registration_id"));
            } else {
                deliver(&state, one);
            }
            Value::Object(item)
        })
        .collect();
    answer(0, "", Value::Array(results))
}
