//! Huawei Push Kit emulator: `POST /oauth2/v3/token` (and v2) issues client-credentials tokens;
//! `POST /v1/{appId}/messages:send` checks the bearer token and the message against Huawei's
//! rules and answers with Huawei's codes (`80000000`, `80100000` + `illegal_tokens`,
//! `80200003`, `80300007`, `80300008`, `80300010`…).

use crate::emulator::{bearer, fault, form};
use crate::state::{Delivered, FaultKind, SandboxState, TokenCheck, is_unknown_device};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald_core::Vendor;
use serde_json::{Value, json};
use std::sync::Arc;

const VENDOR: Vendor = Vendor::Huawei;
/// Message body limit.
const MAX_BODY: usize = 4096;
/// Tokens per request.
const MAX_TOKENS: usize = 1000;
/// Longest TTL: 15 days.
const MAX_TTL_SECONDS: f64 = 1_296_000.0;

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/oauth2/v3/token", post(token))
        .route("/oauth2/v2/token", post(token))
        .route("/v1/{app_id}/messages:send", post(send))
        .with_state(state)
}

async fn token(State(state): State<Arc<SandboxState>>, body: Bytes) -> Response {
    let form = form(&body);
    let creds = &state.credentials;
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": 1102, "sub_error": 20001, "error_description": "invalid grant_type"})),
        )
            .into_response();
    }
    if form.get("client_id") != Some(&creds.huawei_app_id)
        || form.get("client_secret") != Some(&creds.huawei_app_secret)
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": 1101, "sub_error": 12304, "error_description": "invalid client_secret"})),
        )
            .into_response();
    }
    let (token, expires_in) = state.issue_token(VENDOR);
    Json(json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})).into_response()
}

fn answer(status: StatusCode, code: &str, msg: impl Into<Value>) -> Response {
    let request_id = format!("{}", rand::random::<u64>());
    (
        status,
        Json(json!({"code": code, "msg": msg.into(), "requestId": request_id})),
    )
        .into_response()
}

async fn send(
    State(state): State<Arc<SandboxState>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.count_request(VENDOR);
    let refuse = |status, code: &str, msg: &str| {
        state.refused(VENDOR);
        answer(status, code, msg)
    };
    let app_id = app_id.strip_suffix(":send").unwrap_or(&app_id).to_string();
    let Some(access) = bearer(&headers) else {
        return refuse(StatusCode::UNAUTHORIZED, "80200001", "Oauth authentication error");
    };
    match state.check_token(VENDOR, &access) {
        TokenCheck::Valid => {}
        TokenCheck::Expired => return refuse(StatusCode::UNAUTHORIZED, "80200003", "Oauth Token expired"),
        TokenCheck::Unknown => {
            return refuse(StatusCode::UNAUTHORIZED, "80200001", "Oauth authentication error");
        }
    }
    if app_id != state.credentials.huawei_app_id {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "80200001",
            "Oauth authentication error: token of another app",
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "80100003", "Illegal message structure");
    };
    let message = &request["message"];
    // The 4096-byte limit is on the message itself; the token list does not count.
    let mut without_tokens = message.clone();
    if let Some(obj) = without_tokens.as_object_mut() {
        obj.remove("token");
    }
    if without_tokens.to_string().len() > MAX_BODY {
        return refuse(
            StatusCode::BAD_REQUEST,
            "80300008",
            "The message body size exceeds the default value",
        );
    }
    let tokens: Vec<&str> = match message.get("token") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "80100001",
                "message.token is required (topic and condition are not emulated)",
            );
        }
    };
    if tokens.is_empty() || tokens.len() > MAX_TOKENS {
        return refuse(
            StatusCode::BAD_REQUEST,
            "80300010",
            "The number of tokens in the message body exceeds the default value",
        );
    }
    if let Err(reason) = check_android(message) {
        return refuse(StatusCode::BAD_REQUEST, "80100001", &reason);
    }
    match fault(&state, VENDOR, &tokens).await {
        Some(FaultKind::ServerError) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "81000001",
                "System inner error",
            );
        }
        Some(FaultKind::TooManyRequests { retry_after }) => {
            state.refused(VENDOR);
            let mut response = answer(StatusCode::SERVICE_UNAVAILABLE, "80100017", "flow control");
            response.headers_mut().insert("retry-after", retry_after.into());
            return response;
        }
        Some(FaultKind::AuthExpired) => {
            return refuse(StatusCode::UNAUTHORIZED, "80200003", "Oauth Token expired");
        }
        Some(FaultKind::QuotaExhausted) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "80300011",
                "daily quota of news messages used up",
            );
        }
        Some(FaultKind::InvalidToken) => {
            return refuse(StatusCode::BAD_REQUEST, "80300007", "All the tokens are invalid");
        }
        Some(FaultKind::Slow { .. }) | None => {}
    }
    let illegal: Vec<&str> = tokens.iter().copied().filter(|t| is_unknown_device(t)).collect();
    if illegal.len() == tokens.len() {
        return refuse(StatusCode::BAD_REQUEST, "80300007", "All the tokens are invalid");
    }
    let notification = &message["android"]["notification"];
    for token in tokens.iter().filter(|t| !illegal.contains(t)) {
        state.deliver(Delivered {
            vendor: VENDOR,
            token: token.to_string(),
            title: text(&notification["title"], &message["notification"]["title"]),
            body: text(&notification["body"], &message["notification"]["body"]),
            click: describe_click(&notification["click_action"]),
            ext: message.get("data").and_then(Value::as_str).map(str::to_string),
            raw: message.clone(),
        });
    }
    if illegal.is_empty() {
        answer(StatusCode::OK, "80000000", "Success")
    } else {
        let detail = json!({"success": tokens.len() - illegal.len(), "failure": illegal.len(), "illegal_tokens": illegal});
        answer(StatusCode::OK, "80100000", detail.to_string())
    }
}

fn text(primary: &Value, fallback: &Value) -> String {
    primary
        .as_str()
        .or_else(|| fallback.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Huawei's rules for an Android notification message.
fn check_android(message: &Value) -> Result<(), String> {
    let android = &message["android"];
    if let Some(ttl) = android.get("ttl") {
        let ttl = ttl
            .as_str()
            .ok_or("android.ttl must be a string like \"86400s\"")?;
        let number = ttl.strip_suffix(['s', 'S']).unwrap_or(ttl);
        let seconds: f64 = number
            .parse()
            .map_err(|_| format!("android.ttl `{ttl}` is not a duration"))?;
        if !(0.0..=MAX_TTL_SECONDS).contains(&seconds) {
            return Err(format!("android.ttl `{ttl}` exceeds 15 days"));
        }
    }
    let notification = &android["notification"];
    if notification.is_null() && message["notification"].is_null() {
        return Ok(()); // A data (pass-through) message.
    }
    let click = &notification["click_action"];
    let kind = click["type"]
        .as_i64()
        .ok_or("android.notification.click_action.type is mandatory")?;
    match kind {
        1 if click["intent"].is_string() || click["action"].is_string() => {}
        1 => return Err("click_action type 1 needs intent or action".into()),
        2 => {
            let url = click["url"].as_str().ok_or("click_action type 2 needs url")?;
            if !url.starts_with("https://") {
                return Err("click_action.url must be https".into());
            }
        }
        3 | 4 => {}
        _ => return Err(format!("click_action.type {kind} is not 1-4")),
    }
    if let Some(importance) = notification.get("importance").and_then(Value::as_str)
        && !matches!(importance, "LOW" | "NORMAL" | "HIGH")
    {
        return Err(format!("importance `{importance}` is not LOW or NORMAL"));
    }
    if let Some(badge) = notification.get("badge")
        && let Some(add) = badge.get("add_num").and_then(Value::as_i64)
        && !(1..=99).contains(&add)
    {
        return Err("badge.add_num must be 1-99".into());
    }
    Ok(())
}

fn describe_click(click: &Value) -> String {
    match click["type"].as_i64() {
        Some(1) => format!(
            "open page {}",
            click["intent"]
                .as_str()
                .or(click["action"].as_str())
                .unwrap_or("?")
        ),
        Some(2) => format!("open url {}", click["url"].as_str().unwrap_or("?")),
        _ => "open app".into(),
    }
}
