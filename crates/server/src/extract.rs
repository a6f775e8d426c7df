//! Extractors whose rejections are [`ApiError`]s, so malformed JSON, a bad path segment or a bad
//! query gets the same JSON error shape as everything else. Bodies must be JSON objects: serde
//! would otherwise read a struct from an array by position, so `["a", "b"]` could pass for
//! `{"from": "a", "to": "b"}`.

use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

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
        let axum::Json(JsonObject(value)) = axum::Json::<JsonObject<T>>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
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

/// `axum::extract::Path` with JSON errors.
#[derive(Debug, Clone, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` with JSON errors.
#[derive(Debug, Clone, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

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
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    e.status(),
                    "payload_too_large",
                    "the request body is larger than this server accepts",
                )
            } else {
                ApiError::bad_request("invalid_body", e.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        parse_json_body(&mut de).map(OptionalJson)
    }
}

fn parse_json_body<'de, T: serde::de::DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
    let JsonObject(value) = JsonObject::<T>::deserialize(&mut *de).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        } else {
            ApiError::bad_request(
                "invalid_body",
                format!("the JSON body does not fit this route: {e}"),
            )
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}
