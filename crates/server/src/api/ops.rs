//! Operations endpoints: liveness, readiness (the store and the job queue answer), Prometheus
//! metrics.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process serves HTTP", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the store answers and the job queue can hand out jobs (in a cluster, NATS is
/// connected). A node that is not ready answers 503 `not_ready` naming which is missing, so a
/// load balancer takes it out of rotation until it is back.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready to serve", body = Health),
        (status = 503, description = "Not ready (`not_ready`); the message names what is missing", body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    if let Err(error) = state.store.admin_token_hash().await {
        return Err(not_ready("the store", &error));
    }
    if let Err(error) = state.dispatcher.ready().await {
        return Err(not_ready("the push job queue", &error));
    }
    Ok(Json(Health { status: "ok" }))
}

/// The cause goes to the log only: this endpoint needs no credentials.
fn not_ready(what: &str, error: &dyn std::fmt::Display) -> ApiError {
    tracing::warn!(%error, "Not ready: {what} does not answer.");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        format!("{what} does not answer; see the node's log"),
    )
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> String {
    state.metrics.render()
}
