//! Extractors whose rejections are [`ApiError`]s, so malformed JSON, a bad path segment or a bad
//! query gets the same JSON error shape as everything else, in Herald's words (see
//! [`refusal`](crate::refusal)). Bodies must be JSON objects: serde would otherwise read a
//! struct from an array by position, so `["a", "b"]` could pass for `{"from": "a", "to": "b"}`.

use crate::error::{ApiError, body_rejection, path_rejection};
use crate::refusal::{self, Input};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

/// The configured `max_body_bytes`, put into every request by the router so that a 413 can
/// name the limit.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// `axum::Json` with JSON errors; the body must be a JSON object.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        let JsonObject(value) = read_json(&bytes, Input::Body)?;
        Ok(ApiJson(value))
    }
}

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
fn is_json(req: &axum::extract::Request) -> bool {
    let Some(value) = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The whole body, or the answer to why it could not be read.
async fn body_bytes<S: Send + Sync>(
    req: axum::extract::Request,
    state: &S,
) -> Result<axum::body::Bytes, ApiError> {
    let limit = req.extensions().get::<BodyLimit>().map(|limit| limit.0);
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|rejection| body_rejection(rejection, limit))
}

/// Reads a `T` from JSON text. Text that is not JSON is answered with its position
/// (`malformed_json`, or `malformed_frame` for a WebSocket frame); JSON that does not fit `T` is
/// answered by [`refusal::describe`], naming the field.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(bytes: &[u8], input: Input) -> Result<T, ApiError> {
    if input == Input::Body && bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "malformed_json",
            "the body is empty; this route needs a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|error| {
        let path = error.path().clone();
        let error = error.into_inner();
        if error.is_data() {
            refusal::describe(input, &path, &without_position(&error))
        } else {
            refusal::not_json(input, &error)
        }
    })?;
    de.end().map_err(|error| refusal::not_json(input, &error))?;
    Ok(value)
}

/// Reads a `T` from a JSON value already parsed (a WebSocket frame's fields) as a body is read:
/// only from an object, with every object inside it read from an object too, and mistakes
/// named by [`refusal::describe`].
pub(crate) fn read_object<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    input: Input,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value)
        .map(|JsonObject(value)| value)
        .map_err(|error| {
            let path = error.path().clone();
            refusal::describe(input, &path, &error.into_inner().to_string())
        })
}

/// serde_json's message without the " at line 1 column 12" it appends: a field is named instead.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&position).unwrap_or(&text).to_string()
}

/// A `T` read only from a JSON object, and the objects inside it only from objects too (see
/// [`strict_json`](herald_core::strict_json)); anything else is refused with "expected a JSON object".
struct JsonObject<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                herald_core::strict_json::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(std::marker::PhantomData))
            .map(JsonObject)
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` with JSON errors that name the parameter.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                // A tuple's mistakes come by position: the names are the route's.
                let keys: Vec<String> = axum::extract::RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|raw| raw.iter().map(|(key, _)| key.to_string()).collect())
                    .unwrap_or_default();
                Err(path_rejection(rejection, &keys))
            }
        }
    }
}

/// A query string read like `axum::extract::Query`, with JSON errors that name the parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|error| refusal::describe(Input::Query, error.path(), &error.inner().to_string()))
    }
}

/// A JSON body that may be left out entirely (an empty body means `T::default()`), for routes
/// whose body has only optional fields, such as minting a token.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        let JsonObject(value) = read_json(&bytes, Input::Body)?;
        Ok(OptionalJson(value))
    }
}
