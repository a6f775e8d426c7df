//! The one error type of the HTTP surface. Every failure becomes
//! `{"code": "snake_case", "message": "..."}` with a fitting status; internal failures are logged
//! with their cause and shown to the caller only as a generic message.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
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

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => ApiError::bad_request(
                "invalid_body",
                format!("the JSON body does not fit this route: {}", e.body_text()),
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than this server accepts (max_body_bytes)",
            ),
            JsonRejection::BytesRejection(e) if caused_by_body_timeout(&e) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body stopped arriving (http_body_timeout_seconds)",
            ),
            other => ApiError::bad_request("invalid_body", other.body_text()),
        }
    }
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
        ApiError::bad_request("invalid_path", rejection.body_text())
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

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", rejection.body_text())
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
