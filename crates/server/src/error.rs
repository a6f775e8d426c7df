//! The one error type of the HTTP surface. Every failure becomes
//! `{"code": "snake_case", "message": "..."}` with a fitting status; internal failures are logged
//! with their cause and shown to the caller only as a generic message.

use axum::Json;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::{Invalid, StoreError};
use herald_engine::ServiceError;
use serde::Serialize;
use std::borrow::Cow;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    field: Option<String>,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: String,
    /// What went wrong and what to do about it.
    pub message: String,
    /// The offending input field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no or wrong credentials.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// 403: credentials fine, but not for this.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404 for an entity (`certificate` → `certificate_not_found`).
    pub fn not_found(entity: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("{entity}_not_found"),
            format!("{entity} `{id}` does not exist"),
        )
    }

    /// 500; the cause is logged here and not shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "Request failed inside Herald.");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Herald failed to handle the request; see its log",
        )
    }

    /// Names the input field to blame (`push.title`, `ttl_seconds`).
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The field to blame, if any.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The sentence for the caller.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.into_owned(),
            message: self.message,
            field: self.field,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: invalid.code.into(),
            message: invalid.message,
            field: Some(invalid.field),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity, id } => ApiError::not_found(entity, &id),
            StoreError::Conflict { entity, message } => {
                ApiError::new(StatusCode::CONFLICT, format!("{entity}_taken"), message)
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(invalid) => invalid.into(),
            ServiceError::Store(store) => store.into(),
            ended @ ServiceError::SessionEnded { .. } => {
                ApiError::new(StatusCode::CONFLICT, "session_ended", ended.to_string())
            }
            wrong @ ServiceError::WrongSender => ApiError::forbidden("wrong_sender", wrong.to_string()),
        }
    }
}

/// The answer when reading a body failed: too large (naming the limit, `max_body_bytes`, when
/// the router recorded it), stalled past the body timeout, or cut off.
pub(crate) fn body_rejection(rejection: BytesRejection, limit: Option<usize>) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let message = match limit {
            Some(bytes) => format!("the body is larger than the limit of {bytes} bytes (max_body_bytes)"),
            None => "the body is larger than this server's limit (max_body_bytes)".to_string(),
        };
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message);
    }
    if caused_by_body_timeout(&rejection) {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body stopped arriving (http_body_timeout_seconds)",
        );
    }
    ApiError::bad_request(
        "invalid_body",
        format!("the body could not be read: {}", innermost(&rejection)),
    )
}

/// The last error of `error`'s chain: the actual cause, without the wrappers' own words.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// Whether reading the body failed because it paused longer than the body timeout.
fn caused_by_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        path_rejection(rejection, &[])
    }
}

/// The answer to a path that does not fit its route's parameters, naming the parameter; `keys`
/// are the route's parameter names in order (a tuple's mistakes come by position).
pub(crate) fn path_rejection(rejection: PathRejection, keys: &[String]) -> ApiError {
    let PathRejection::FailedToDeserializePathParams(failed) = rejection else {
        // The route has no parameters for its extractor: a mistake in Herald, not the call.
        return ApiError::internal(&rejection.body_text());
    };
    if failed.status().is_server_error() {
        return ApiError::internal(&failed.body_text());
    }
    let not_a = |key: Option<&str>, value: &str, expected_type: &str| {
        let takes = crate::refusal::plain_type(expected_type);
        match key {
            Some(key) => ApiError::bad_request(
                "invalid_path",
                format!("`{key}` in the path must be {takes}, not `{value}`"),
            )
            .with_field(key.to_string()),
            None => ApiError::bad_request("invalid_path", format!("`{value}` in the path must be {takes}")),
        }
    };
    let only_key = (keys.len() == 1).then(|| keys[0].as_str());
    match failed.into_kind() {
        ErrorKind::ParseErrorAtKey {
            key,
            value,
            expected_type,
        } => not_a(Some(&key), &value, expected_type),
        ErrorKind::ParseErrorAtIndex {
            index,
            value,
            expected_type,
        } => not_a(keys.get(index).map(String::as_str), &value, expected_type),
        ErrorKind::ParseError { value, expected_type } => not_a(only_key, &value, expected_type),
        ErrorKind::DeserializeError { key, value, message } => ApiError::bad_request(
            "invalid_path",
            format!("`{key}` in the path (`{value}`): {message}"),
        )
        .with_field(key),
        ErrorKind::InvalidUtf8InPathParam { key } => {
            ApiError::bad_request("invalid_path", format!("`{key}` in the path is not valid UTF-8"))
                .with_field(key)
        }
        other => ApiError::bad_request("invalid_path", other.to_string()),
    }
}

impl From<WebSocketUpgradeRejection> for ApiError {
    fn from(rejection: WebSocketUpgradeRejection) -> Self {
        ApiError::new(
            rejection.status(),
            "websocket_required",
            format!("open this route as a WebSocket: {}", rejection.body_text()),
        )
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
