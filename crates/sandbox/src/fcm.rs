//! FCM HTTP v1 emulator: `POST /token` verifies the service account's RS256 assertion (key,
//! issuer, audience, scope, lifetime) and issues access tokens; `POST
//! /v1/projects/{project}/messages:send` checks the bearer token, the project and the message
//! against FCM's rules and answers like Google: `{"name": …}` or an RPC error carrying the
//! FcmError code (`UNREGISTERED`, `INVALID_ARGUMENT`, `QUOTA_EXCEEDED`, `UNAVAILABLE`,
//! `INTERNAL`). Facts: vendor-apis.md §2.

use crate::emulator::{bearer, fault, form, header};
use crate::state::{Delivered, FaultKind, SandboxState, TokenCheck, is_unknown_device};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald_core::Vendor;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use std::sync::Arc;

const VENDOR: Vendor = Vendor::Fcm;
/// Keys and values of `data` and `notification` together. [DOC]
const MAX_PAYLOAD: usize = 4096;
/// Longest TTL: 28 days. [DOC]
const MAX_TTL_SECONDS: f64 = 2_419_200.0;
/// The grant of the token request. [DOC: RFC 7523]
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's token endpoint: the usual `aud` of an assertion.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Scopes that allow FCM sends.
const SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/firebase.messaging",
    "https://www.googleapis.com/auth/cloud-platform",
];
/// An assertion may live at most an hour.
const MAX_ASSERTION_SECONDS: i64 = 3600;
/// Clock skew tolerated on `iat` and `exp`.
const SKEW_SECONDS: i64 = 300;
/// The FcmError detail type.
const FCM_ERROR: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/v1/projects/{project}/messages:send", post(send))
        .with_state(state)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(State(state): State<Arc<SandboxState>>, headers: HeaderMap, body: Bytes) -> Response {
    let form = form(&body);
    let grant = form.get("grant_type").map(String::as_str).unwrap_or_default();
    if grant != GRANT_TYPE {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant}"),
        );
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let host = header(&headers, "host").unwrap_or_default();
    match check_assertion(&state, assertion, &host) {
        Ok(()) => {
            let (token, expires_in) = state.issue_token(VENDOR);
            Json(json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}))
                .into_response()
        }
        Err(OAuthRefusal(status, error, description)) => oauth_error(status, error, description),
    }
}

/// A refused assertion: status, OAuth `error` and `error_description`.
struct OAuthRefusal(StatusCode, &'static str, &'static str);

/// Google's checks of a service-account assertion.
fn check_assertion(state: &SandboxState, assertion: &str, host: &str) -> Result<(), OAuthRefusal> {
    let creds = &state.credentials;
    let bad_signature = || OAuthRefusal(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid JWT Signature.");
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad_signature())?;
    if header.alg != Algorithm::RS256
        || header
            .kid
            .as_deref()
            .is_some_and(|kid| kid != creds.fcm_private_key_id)
    {
        return Err(bad_signature());
    }
    let key = DecodingKey::from_rsa_pem(creds.fcm_public_key_pem.as_bytes()).map_err(|_| bad_signature())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|_| bad_signature())?
        .claims;
    if claims["iss"].as_str() != Some(creds.fcm_client_email.as_str()) {
        return Err(OAuthRefusal(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        ));
    }
    let aud = claims["aud"].as_str().unwrap_or_default();
    let local = [format!("http://{host}/token"), format!("https://{host}/token")];
    if aud != GOOGLE_TOKEN_URI && !local.iter().any(|l| l == aud) {
        return Err(OAuthRefusal(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: Failed audience check.",
        ));
    }
    let scopes = claims["scope"].as_str().unwrap_or_default();
    if !scopes.split(' ').any(|s| SCOPES.contains(&s)) {
        return Err(OAuthRefusal(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    let now = jiff::Timestamp::now().as_second();
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(short_lived());
    };
    if exp <= iat || exp - iat > MAX_ASSERTION_SECONDS || iat > now + SKEW_SECONDS || exp < now - SKEW_SECONDS
    {
        return Err(short_lived());
    }
    Ok(())
}

fn short_lived() -> OAuthRefusal {
    OAuthRefusal(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
    )
}

/// A Google RPC error; `fcm` adds the FcmError detail, `field` a BadRequest violation.
fn rpc_error(
    status: StatusCode,
    rpc_status: &str,
    message: &str,
    fcm: Option<&str>,
    field: Option<&str>,
) -> Response {
    let mut details = Vec::new();
    if let Some(code) = fcm {
        details.push(json!({"@type": FCM_ERROR, "errorCode": code}));
    }
    if let Some(field) = field {
        details.push(json!({"@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": message}]}));
    }
    let mut error = json!({"code": status.as_u16(), "message": message, "status": rpc_status});
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    (status, Json(json!({"error": error}))).into_response()
}

fn unauthenticated() -> Response {
    rpc_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        None,
        None,
    )
}

fn invalid(message: &str, field: &str) -> Response {
    rpc_error(
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        message,
        Some("INVALID_ARGUMENT"),
        Some(field),
    )
}

fn unregistered() -> Response {
    rpc_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "Requested entity was not found.",
        Some("UNREGISTERED"),
        None,
    )
}

async fn send(
    State(state): State<Arc<SandboxState>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.count_request(VENDOR);
    let refuse = |response: Response| {
        state.refused(VENDOR);
        response
    };
    let Some(access) = bearer(&headers) else {
        return refuse(unauthenticated());
    };
    if state.check_token(VENDOR, &access) != TokenCheck::Valid {
        return refuse(unauthenticated());
    }
    if project != state.credentials.fcm_project_id {
        let message = format!(
            "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."
        );
        return refuse(rpc_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &message,
            None,
            None,
        ));
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return refuse(rpc_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received.",
            None,
            None,
        ));
    };
    if let Err((field, message)) = check_request(&request) {
        return refuse(invalid(&message, &field));
    }
    let message = &request["message"];
    let Some(token) = message["token"].as_str() else {
        return refuse(invalid(
            "Only token targets are emulated (not topic or condition).",
            "message.token",
        ));
    };
    match fault(&state, VENDOR, &[token]).await {
        Some(FaultKind::ServerError) => {
            return refuse(rpc_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "Internal error encountered.",
                Some("INTERNAL"),
                None,
            ));
        }
        Some(FaultKind::TooManyRequests { retry_after }) => {
            let mut response = refuse(quota_exceeded());
            response.headers_mut().insert("retry-after", retry_after.into());
            return response;
        }
        // take_fault revoked the issued tokens: this one is now expired.
        Some(FaultKind::AuthExpired) => return refuse(unauthenticated()),
        // FCM has no daily quota: its quota answer is the per-minute QUOTA_EXCEEDED.
        Some(FaultKind::QuotaExhausted) => return refuse(quota_exceeded()),
        Some(FaultKind::InvalidToken) => return refuse(unregistered()),
        Some(FaultKind::Slow { .. }) | None => {}
    }
    if is_unknown_device(token) {
        return refuse(unregistered());
    }
    let id = format!("0:{}", rand::random::<u64>());
    if request["validate_only"].as_bool() == Some(true) {
        return Json(json!({"name": format!("projects/{project}/messages/fake_message_id")})).into_response();
    }
    let android = &message["android"]["notification"];
    state.deliver(Delivered {
        vendor: VENDOR,
        token: token.to_string(),
        title: text(&message["notification"]["title"], &android["title"]),
        body: text(&message["notification"]["body"], &android["body"]),
        click: describe_click(message),
        ext: app_data(&message["data"]),
        raw: message.clone(),
    });
    Json(json!({"name": format!("projects/{project}/messages/{id}")})).into_response()
}

fn quota_exceeded() -> Response {
    rpc_error(
        StatusCode::TOO_MANY_REQUESTS,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Requests' of service 'fcm.googleapis.com'.",
        Some("QUOTA_EXCEEDED"),
        None,
    )
}

fn text(primary: &Value, fallback: &Value) -> String {
    primary
        .as_str()
        .or_else(|| fallback.as_str())
        .unwrap_or_default()
        .to_string()
}

/// What the app receives: Herald's `ext` value, or the whole data map of another sender.
fn app_data(data: &Value) -> Option<String> {
    match data.get("ext").and_then(Value::as_str) {
        Some(ext) => Some(ext.to_string()),
        None => data
            .as_object()
            .filter(|d| !d.is_empty())
            .map(|d| Value::Object(d.clone()).to_string()),
    }
}

fn describe_click(message: &Value) -> String {
    if let Some(action) = message["android"]["notification"]["click_action"].as_str() {
        return format!("open page {action}");
    }
    if let Some(url) = message["data"]["click_url"]
        .as_str()
        .or(message["webpush"]["fcm_options"]["link"].as_str())
    {
        return format!("open url {url}");
    }
    "open app".into()
}

type Violation = (String, String);

fn violation(field: &str, message: impl Into<String>) -> Violation {
    (field.to_string(), message.into())
}

/// Google refuses unknown fields ("Invalid JSON payload received. Unknown name").
fn known_fields(object: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), Violation> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(violation(
            path,
            format!("Invalid JSON payload received. Unknown name \"{unknown}\" at '{path}'"),
        )),
        None => Ok(()),
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<Option<&'a Map<String, Value>>, Violation> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        _ => Err(violation(
            path,
            format!("Invalid value at '{path}': not an object"),
        )),
    }
}

/// FCM's rules for a send request. [DOC: vendor-apis.md §2.2, §2.6]
fn check_request(request: &Value) -> Result<(), Violation> {
    let top = object(request, "")?.ok_or_else(|| violation("", "Invalid JSON payload received."))?;
    known_fields(top, "", &["validate_only", "message"])?;
    let message = object(&request["message"], "message")?
        .ok_or_else(|| violation("message", "Missing required field: message"))?;
    known_fields(
        message,
        "message",
        &[
            "name",
            "data",
            "notification",
            "android",
            "webpush",
            "apns",
            "fcm_options",
            "token",
            "topic",
            "condition",
        ],
    )?;
    let targets = ["token", "topic", "condition"]
        .iter()
        .filter(|k| message.contains_key(**k))
        .count();
    if targets != 1 {
        return Err(violation(
            "message",
            "Exactly one of token, topic or condition must be specified.",
        ));
    }
    if message
        .get("token")
        .is_some_and(|t| t.as_str().is_none_or(|t| t.trim().is_empty()))
    {
        return Err(violation(
            "message.token",
            "The registration token is not a valid FCM registration token",
        ));
    }
    check_data(&request["message"]["data"], "message.data")?;
    if let Some(notification) = object(&request["message"]["notification"], "message.notification")? {
        known_fields(notification, "message.notification", &["title", "body", "image"])?;
    }
    check_android(&request["message"]["android"])?;
    check_apns(&request["message"]["apns"])?;
    if let Some(link) = request["message"]["webpush"]["fcm_options"]["link"].as_str()
        && !link.starts_with("https://")
    {
        return Err(violation(
            "message.webpush.fcm_options.link",
            "The link must be an HTTPS URL.",
        ));
    }
    let size = payload_bytes(&request["message"]);
    if size > MAX_PAYLOAD {
        return Err(violation(
            "message",
            format!("Message is too big: {size} bytes of data and notification, limit {MAX_PAYLOAD}"),
        ));
    }
    Ok(())
}

/// Keys and values of `data` and `notification`, the size FCM limits.
fn payload_bytes(message: &Value) -> usize {
    ["data", "notification"]
        .iter()
        .filter_map(|section| message[*section].as_object())
        .flat_map(|object| object.iter())
        .map(|(key, value)| key.len() + value.as_str().map_or_else(|| value.to_string().len(), str::len))
        .sum()
}

/// `data` maps strings to strings and avoids reserved keys.
fn check_data(data: &Value, path: &str) -> Result<(), Violation> {
    let Some(data) = object(data, path)? else {
        return Ok(());
    };
    for (key, value) in data {
        if !value.is_string() {
            return Err(violation(
                &format!("{path}[{key}]"),
                "Invalid value: data values must be strings",
            ));
        }
        let lower = key.to_ascii_lowercase();
        if matches!(lower.as_str(), "from" | "notification" | "message_type")
            || lower.starts_with("google")
            || lower.starts_with("gcm")
        {
            return Err(violation(
                &format!("{path}[{key}]"),
                format!("Invalid data key: {key} is reserved"),
            ));
        }
    }
    Ok(())
}

/// A protobuf Duration string: `^\d+(\.\d{1,9})?s$`.
fn duration_seconds(text: &str) -> Option<f64> {
    let number = text.strip_suffix('s')?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (number.contains('.') && (!digits(fraction) || fraction.len() > 9)) {
        return None;
    }
    number.parse().ok()
}

fn check_android(android: &Value) -> Result<(), Violation> {
    let Some(fields) = object(android, "message.android")? else {
        return Ok(());
    };
    known_fields(
        fields,
        "message.android",
        &[
            "collapse_key",
            "priority",
            "ttl",
            "restricted_package_name",
            "data",
            "notification",
            "fcm_options",
            "direct_boot_ok",
        ],
    )?;
    if let Some(priority) = fields.get("priority")
        && !matches!(priority.as_str(), Some("normal" | "high" | "NORMAL" | "HIGH"))
    {
        return Err(violation(
            "message.android.priority",
            format!("Invalid value at 'message.android.priority': {priority}"),
        ));
    }
    if let Some(ttl) = fields.get("ttl") {
        match ttl.as_str().and_then(duration_seconds) {
            Some(seconds) if seconds <= MAX_TTL_SECONDS => {}
            _ => {
                return Err(violation(
                    "message.android.ttl",
                    format!("Invalid value at 'message.android.ttl': {ttl}"),
                ));
            }
        }
    }
    check_data(&android["data"], "message.android.data")?;
    let Some(notification) = object(&android["notification"], "message.android.notification")? else {
        return Ok(());
    };
    known_fields(
        notification,
        "message.android.notification",
        &[
            "title",
            "body",
            "icon",
            "color",
            "sound",
            "tag",
            "click_action",
            "body_loc_key",
            "body_loc_args",
            "title_loc_key",
            "title_loc_args",
            "channel_id",
            "ticker",
            "sticky",
            "event_time",
            "local_only",
            "notification_priority",
            "default_sound",
            "default_vibrate_timings",
            "default_light_settings",
            "vibrate_timings",
            "visibility",
            "notification_count",
            "light_settings",
            "image",
            "bypass_proxy_notification",
            "proxy",
        ],
    )?;
    if let Some(priority) = notification.get("notification_priority") {
        let allowed = [
            "PRIORITY_UNSPECIFIED",
            "PRIORITY_MIN",
            "PRIORITY_LOW",
            "PRIORITY_DEFAULT",
            "PRIORITY_HIGH",
            "PRIORITY_MAX",
        ];
        if !priority.as_str().is_some_and(|p| allowed.contains(&p)) {
            return Err(violation(
                "message.android.notification.notification_priority",
                format!("Invalid value: {priority}"),
            ));
        }
    }
    if let Some(count) = notification.get("notification_count")
        && !count.is_u64()
    {
        return Err(violation(
            "message.android.notification.notification_count",
            "Invalid value: not an integer",
        ));
    }
    Ok(())
}

fn check_apns(apns: &Value) -> Result<(), Violation> {
    let Some(fields) = object(apns, "message.apns")? else {
        return Ok(());
    };
    known_fields(
        fields,
        "message.apns",
        &["headers", "payload", "fcm_options", "live_activity_token"],
    )?;
    if let Some(headers) = object(&apns["headers"], "message.apns.headers")? {
        if let Some((name, _)) = headers.iter().find(|(_, v)| !v.is_string()) {
            return Err(violation(
                &format!("message.apns.headers[{name}]"),
                "Invalid value: header values must be strings",
            ));
        }
        if let Some(priority) = headers.get("apns-priority").and_then(Value::as_str)
            && !matches!(priority, "1" | "5" | "10")
        {
            return Err(violation(
                "message.apns.headers",
                format!("Invalid apns-priority: {priority}"),
            ));
        }
    }
    if let Some(payload) = object(&apns["payload"], "message.apns.payload")?
        && payload.get("aps").is_some_and(|aps| !aps.is_object())
    {
        return Err(violation(
            "message.apns.payload.aps",
            "Invalid value: aps must be an object",
        ));
    }
    Ok(())
}
