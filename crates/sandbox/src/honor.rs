//! Honor Push emulator: `POST /auth/token` and the OpenID Connect path
//! `/auth/realms/developer/protocol/openid-connect/token` issue client-credentials tokens;
//! `POST /api/v1/{appId}/sendMessage` checks the bearer token, the `timestamp` header and the
//! camelCase message, and answers `{"code":200,"data":{"sendResult","requestId","failTokens",
//! "expireTokens"}}`. Facts: vendor-apis.md §4. Honor's error table is not available offline,
//! so errors use the Huawei codes Honor's API inherits [UNCONFIRMED]: 80200001/80200003 auth,
//! 80100001/80100003 bad request, 80300008 size, 80300010 token count, 81000001 internal.

use crate::emulator::{bearer, fault, form, header};
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

const VENDOR: Vendor = Vendor::Honor;
/// Message body limit, tokens excluded (Huawei's, assumed). [UNCONFIRMED]
const MAX_BODY: usize = 4096;
/// Tokens per request (Huawei's, assumed). [UNCONFIRMED]
const MAX_TOKENS: usize = 1000;
/// Longest TTL: 15 days. [DOC]
const MAX_TTL_SECONDS: f64 = 1_296_000.0;

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        // Both token paths are in circulation. [DOC+3P: vendor-apis.md §4.1]
        .route("/auth/token", post(token))
        .route(
            "/auth/realms/developer/protocol/openid-connect/token",
            post(token),
        )
        .route("/api/v1/{app_id}/sendMessage", post(send))
        .with_state(state)
}

/// Honor's IAM answers like an OpenID Connect server (`error`, `error_description`).
async fn token(State(state): State<Arc<SandboxState>>, body: Bytes) -> Response {
    let form = form(&body);
    let creds = &state.credentials;
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})),
        )
            .into_response();
    }
    if form.get("client_id") != Some(&creds.honor_client_id)
        || form.get("client_secret") != Some(&creds.honor_client_secret)
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"})))
            .into_response();
    }
    let (token, expires_in) = state.issue_token(VENDOR);
    Json(json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})).into_response()
}

fn answer(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

async fn send(
    State(state): State<Arc<SandboxState>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.count_request(VENDOR);
    let refuse = |status, code: i64, message: &str| {
        state.refused(VENDOR);
        answer(status, code, message)
    };
    let Some(access) = bearer(&headers) else {
        return refuse(StatusCode::UNAUTHORIZED, 80_200_001, "Oauth authentication error");
    };
    match state.check_token(VENDOR, &access) {
        TokenCheck::Valid => {}
        TokenCheck::Expired => return refuse(StatusCode::UNAUTHORIZED, 80_200_003, "Oauth Token expired"),
        TokenCheck::Unknown => {
            return refuse(StatusCode::UNAUTHORIZED, 80_200_001, "Oauth authentication error");
        }
    }
    if app_id != state.credentials.honor_app_id {
        return refuse(
            StatusCode::UNAUTHORIZED,
            80_200_001,
            "Oauth authentication error: token of another app",
        );
    }
    if !header(&headers, "timestamp").is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            80_100_001,
            "The timestamp header (epoch milliseconds) is required",
        );
    }
    let Ok(Value::Object(mut message)) = serde_json::from_slice::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, 80_100_003, "Illegal message structure");
    };
    let tokens_value = message.remove("token");
    if Value::Object(message.clone()).to_string().len() > MAX_BODY {
        return refuse(
            StatusCode::BAD_REQUEST,
            80_300_008,
            "The message body size exceeds the default value",
        );
    }
    let tokens: Vec<&str> = match &tokens_value {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return refuse(StatusCode::BAD_REQUEST, 80_100_001, "token is required"),
    };
    if tokens.is_empty() || tokens.len() > MAX_TOKENS {
        return refuse(
            StatusCode::BAD_REQUEST,
            80_300_010,
            "The number of tokens in the message body exceeds the default value",
        );
    }
    let message = Value::Object(message);
    if let Err(reason) = check_android(&message) {
        return refuse(StatusCode::BAD_REQUEST, 80_100_001, &reason);
    }
    match fault(&state, VENDOR, &tokens).await {
        Some(FaultKind::ServerError) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                81_000_001,
                "System inner error",
            );
        }
        Some(FaultKind::TooManyRequests { retry_after }) => {
            let mut response = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                503,
                "flow control, send more slowly",
            );
            response.headers_mut().insert("retry-after", retry_after.into());
            return response;
        }
        // take_fault revoked the issued tokens: this one is now expired.
        Some(FaultKind::AuthExpired) => {
            return refuse(StatusCode::UNAUTHORIZED, 80_200_003, "Oauth Token expired");
        }
        Some(FaultKind::QuotaExhausted) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                80_300_011,
                "daily quota of news & marketing messages used up",
            );
        }
        Some(FaultKind::InvalidToken) => {
            state.refused(VENDOR);
            return success(&tokens, &tokens);
        }
        Some(FaultKind::Slow { .. }) | None => {}
    }
    let expired: Vec<&str> = tokens.iter().copied().filter(|t| is_unknown_device(t)).collect();
    let notification = &message["android"]["notification"];
    for token in tokens.iter().filter(|t| !expired.contains(t)) {
        state.deliver(Delivered {
            vendor: VENDOR,
            token: token.to_string(),
            title: text(&notification["title"], &message["notification"]["title"]),
            body: text(&notification["body"], &message["notification"]["body"]),
            click: describe_click(&notification["clickAction"]),
            ext: message.get("data").and_then(Value::as_str).map(str::to_string),
            raw: message.clone(),
        });
    }
    success(&tokens, &expired)
}

/// The 200 answer; `expired` tokens are listed in `expireTokens`.
fn success(tokens: &[&str], expired: &[&str]) -> Response {
    let data = json!({
        "sendResult": expired.len() < tokens.len(),
        "requestId": format!("{}", rand::random::<u64>()),
        "failTokens": [],
        "expireTokens": expired,
    });
    Json(json!({"code": 200, "message": "success", "data": data})).into_response()
}

fn text(primary: &Value, fallback: &Value) -> String {
    primary
        .as_str()
        .or_else(|| fallback.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Honor's rules for an Android notification message (Huawei's, in camelCase).
fn check_android(message: &Value) -> Result<(), String> {
    if message.get("message").is_some() {
        return Err(
            "Honor's body is the message itself (token, android, data at the top), not {\"message\": …}"
                .into(),
        );
    }
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
    if let Some(data) = message.get("data")
        && !data.is_string()
    {
        return Err("data must be a string".into());
    }
    let notification = &android["notification"];
    if notification.is_null() && message["notification"].is_null() {
        return Ok(()); // A data (pass-through) message.
    }
    if notification.get("click_action").is_some() {
        return Err("Honor fields are camelCase: clickAction, not click_action".into());
    }
    let click = &notification["clickAction"];
    let kind = click["type"]
        .as_i64()
        .ok_or("android.notification.clickAction.type is mandatory")?;
    match kind {
        1 if click["intent"].is_string() || click["action"].is_string() => {}
        1 => return Err("clickAction type 1 needs intent or action".into()),
        2 => {
            let url = click["url"].as_str().ok_or("clickAction type 2 needs url")?;
            if !url.starts_with("https://") {
                return Err("clickAction.url must be https".into());
            }
        }
        3 => {}
        _ => return Err(format!("clickAction.type {kind} is not 1-3")),
    }
    if let Some(importance) = notification.get("importance").and_then(Value::as_str)
        && !matches!(importance, "LOW" | "NORMAL")
    {
        return Err(format!("importance `{importance}` is not LOW or NORMAL"));
    }
    if let Some(badge) = notification.get("badge") {
        if badge
            .get("addNum")
            .and_then(Value::as_i64)
            .is_some_and(|n| !(1..=99).contains(&n))
        {
            return Err("badge.addNum must be 1-99".into());
        }
        if badge
            .get("setNum")
            .and_then(Value::as_i64)
            .is_some_and(|n| !(0..=99).contains(&n))
        {
            return Err("badge.setNum must be 0-99".into());
        }
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
