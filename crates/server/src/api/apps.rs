//! Admin API: apps (tenants), their secrets and their push statistics.

use crate::auth::{Admin, random_credential};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::ids::check_name;
use herald_core::{App, Millis, Secret, Vendor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Body of `POST /v1/apps`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    /// A label for the app (1 to 128 characters, not only spaces, no control characters).
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
}

/// A new app with its secret (shown only here and on rotation).
#[derive(Debug, Serialize, ToSchema)]
pub struct AppCreated {
    /// Herald-assigned id (the HTTP Basic user of the server API).
    pub id: String,
    /// The label.
    pub name: String,
    /// The app secret (the HTTP Basic password); store it safely.
    pub secret: String,
    /// Creation time, ms since the epoch.
    #[schema(value_type = i64)]
    pub created_at: Millis,
}

/// A new secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretRotated {
    /// The new app secret; the old one and every user token signed with it stop working.
    pub secret: String,
}

/// Push statistics of one vendor.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct VendorStats {
    /// Certificates of this vendor.
    pub certificates: i64,
    /// Devices with a token bound through this vendor.
    pub bound_devices: i64,
    /// Delivery outcomes by final state (`accepted`, `invalid_token`…).
    pub outcomes: BTreeMap<String, i64>,
}

/// Statistics of an app.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppStats {
    /// The app.
    pub app_id: String,
    /// Per vendor id.
    pub vendors: BTreeMap<Vendor, VendorStats>,
}

/// Creates an app.
#[utoipa::path(post, path = "/v1/apps", tag = "admin", security(("admin_token" = [])),
    request_body = CreateApp,
    responses((status = 201, description = "The new app with its secret (shown only in this answer and on rotation)", body = AppCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn create_app(
    _: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateApp>,
) -> ApiResult<(StatusCode, ApiJson<AppCreated>)> {
    check_name("name", &body.name)?;
    let id = random_app_id();
    let secret = Secret::new(random_credential("hrs_"));
    let app = state.store.create_app(&id, body.name.trim(), &secret).await?;
    tracing::info!(app = %app.id, "App created.");
    Ok((
        StatusCode::CREATED,
        ApiJson(AppCreated {
            id: app.id,
            name: app.name,
            secret: secret.expose().clone(),
            created_at: app.created_at,
        }),
    ))
}

fn random_app_id() -> String {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("app_{hex}")
}

/// Lists every app.
#[utoipa::path(get, path = "/v1/apps", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "Every app", body = Vec<App>), (status = 401, body = ErrorBody)))]
pub async fn list_apps(_: Admin, State(state): State<AppState>) -> ApiResult<ApiJson<Vec<App>>> {
    Ok(ApiJson(state.store.list_apps().await?))
}

/// Reads one app.
#[utoipa::path(get, path = "/v1/apps/{app}", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id")),
    responses((status = 200, description = "The app", body = App), (status = 404, body = ErrorBody)))]
pub async fn get_app(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<App>> {
    Ok(ApiJson(state.store.get_app(&app).await?))
}

/// Deletes an app and everything it owns.
#[utoipa::path(delete, path = "/v1/apps/{app}", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id")),
    responses((status = 204, description = "Deleted with its users, groups, devices, certificates and messages"), (status = 404, body = ErrorBody)))]
pub async fn delete_app(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_app(&app).await?;
    state.secrets.forget(&app);
    state.certificates.app_deleted(&app);
    tracing::info!(%app, "App deleted.");
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the app secret.
#[utoipa::path(post, path = "/v1/apps/{app}/secret/rotate", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id")),
    responses((status = 200, description = "The new secret; the old one and the user tokens signed with it stop working", body = SecretRotated), (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<SecretRotated>> {
    let secret = Secret::new(random_credential("hrs_"));
    state.store.set_app_secret(&app, &secret).await?;
    state.secrets.forget(&app);
    tracing::info!(%app, "App secret rotated.");
    Ok(ApiJson(SecretRotated {
        secret: secret.expose().clone(),
    }))
}

/// Per-vendor counts of certificates, bound devices and delivery outcomes.
#[utoipa::path(get, path = "/v1/apps/{app}/stats", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id")),
    responses((status = 200, description = "Counts per vendor", body = AppStats), (status = 404, body = ErrorBody)))]
pub async fn stats(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<AppStats>> {
    state.store.get_app(&app).await.map_err(ApiError::from)?;
    let mut vendors: BTreeMap<Vendor, VendorStats> = BTreeMap::new();
    for cert in state.store.list_certificates(&app).await? {
        vendors.entry(cert.vendor).or_default().certificates += 1;
    }
    for (vendor, count) in state.store.count_bound_devices(&app).await? {
        vendors.entry(vendor).or_default().bound_devices = count;
    }
    for (vendor, delivery_state, count) in state.store.delivery_counts(&app).await? {
        vendors
            .entry(vendor)
            .or_default()
            .outcomes
            .insert(delivery_state.as_str().to_string(), count);
    }
    Ok(ApiJson(AppStats { app_id: app, vendors }))
}
