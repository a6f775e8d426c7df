//! The inspection API: what each token received (in order), raw requests per vendor, counters,
//! and fault injection — for tests, the demo and people poking at the sandbox with curl.

use crate::state::SandboxState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use herald_core::Vendor;
use std::sync::Arc;

pub(crate) fn router(state: Arc<SandboxState>) -> Router {
    Router::new()
        .route("/stats", get(stats))
        .route("/inbox/{vendor}/{token}", get(inbox))
        .route("/inbox-counts/{vendor}", get(inbox_counts))
        .route("/requests/{vendor}", get(requests))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/reset", post(reset))
        .with_state(state)
}

fn vendor(name: &str) -> Result<Vendor, (StatusCode, String)> {
    name.parse()
        .map_err(|e: herald_core::vendor::UnknownVendor| (StatusCode::NOT_FOUND, e.to_string()))
}

async fn stats(State(state): State<Arc<SandboxState>>) -> Json<serde_json::Value> {
    Json(serde_json::to_value(state.counters()).unwrap_or_default())
}

async fn inbox(
    State(state): State<Arc<SandboxState>>,
    Path((name, token)): Path<(String, String)>,
) -> Result<Json<Vec<crate::Delivered>>, (StatusCode, String)> {
    Ok(Json(state.inbox(vendor(&name)?, &token)))
}

async fn inbox_counts(
    State(state): State<Arc<SandboxState>>,
    Path(name): Path<String>,
) -> Result<Json<std::collections::BTreeMap<String, usize>>, (StatusCode, String)> {
    Ok(Json(state.inbox_counts(vendor(&name)?)))
}

async fn requests(
    State(state): State<Arc<SandboxState>>,
    Path(name): Path<String>,
) -> Result<Json<Vec<crate::LoggedRequest>>, (StatusCode, String)> {
    Ok(Json(state.requests(vendor(&name)?)))
}

async fn add_fault(State(state): State<Arc<SandboxState>>, Json(fault): Json<crate::AnyFault>) -> StatusCode {
    state.add_any_fault(fault);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(state): State<Arc<SandboxState>>) -> StatusCode {
    state.clear_faults();
    StatusCode::NO_CONTENT
}

async fn reset(State(state): State<Arc<SandboxState>>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}
