//! Herald's HTTP and WebSocket surface. [`router`] builds the whole application from a state;
//! [`run`] serves it on a listener until the shutdown future completes. Tests call both on an
//! ephemeral port; the `herald` binary calls them after loading configuration.
//!
//! No business rule lives here: handlers and the gateway translate HTTP requests and WebSocket
//! frames to calls of the engine's use cases (`herald_engine::{devices, certificates,
//! validate}`, the `Messenger`) or reads of the store, and the results back.

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod extract;
pub mod gateway;
mod redact;
mod refusal;
mod serve;
pub mod state;
pub mod vendor_rules;

pub use bootstrap::{Prepared, prepare};
pub use config::{Config, LogFormat};
pub use state::AppState;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use error::ApiError;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (routes, mut openapi) = api::routes().split_for_parts();
    api::document_common_errors(&mut openapi);
    gateway::frames::document_frames(&mut openapi);
    let openapi = std::sync::Arc::new(openapi);
    let max_body = state.config.max_body_bytes;
    let body_timeout = Duration::from_secs(state.config.http_body_timeout_seconds.max(1));
    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let openapi = openapi.clone();
                async move { axum::Json(openapi.as_ref().clone()) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::Extension(extract::BodyLimit(max_body)))
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of one request, as tower-http's default (DEBUG, method, URI, version) but with
/// credentials in the URI redacted. Headers are never recorded.
fn request_span(request: &Request) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %redact::loggable_uri(request.uri()),
        version = ?request.version(),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "no such route; see /openapi.json",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Counts requests and their latency per route template and status.
async fn record_metrics(State(_): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("herald_http_requests_total", &labels).increment(1);
    metrics::histogram!("herald_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response.into_response()
}

/// Serves Herald on `listener` until `shutdown` completes: the HTTP/WebSocket surface and
/// this node's push dispatchers. In-flight requests finish within `shutdown_timeout_seconds`
/// (then their connections are closed); dispatchers stop after their current batch
/// (unfinished jobs stay leased in the queue and are picked up again).
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_dispatch, dispatch_stopped) = tokio::sync::watch::channel(false);
    let retention = herald_engine::Retention::new(
        state.store.clone(),
        herald_engine::RetentionPolicy {
            message_days: state.config.retention_message_days,
            delivery_days: state.config.retention_delivery_days,
        },
    )
    .spawn(dispatch_stopped.clone());
    let quota_sync = state.adapters.spawn_quota_sync(
        state.store.clone(),
        Duration::from_secs(1),
        dispatch_stopped.clone(),
    );
    let workers = state.dispatcher.spawn(dispatch_stopped);
    let hub = state.hub.clone();
    let limits = serve::HttpLimits::from_config(&state.config);
    let app = router(state);
    let served = serve::serve(listener, app, limits, shutdown).await;
    let _ = stop_dispatch.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    let _ = retention.await;
    let _ = quota_sync.await;
    hub.leave_cluster().await;
    served
}

/// A database URL with its password masked, for printing.
pub fn redact_database_url(url: &str) -> String {
    herald_store::redact_url(url)
}
