//! Admin API: push certificates. Create checks everything before anything is written; update
//! merges the given fields over the stored ones (secrets included, so omitting a secret keeps
//! it; `null` removes an optional field) and checks the result as a whole. Both, and delete,
//! are the engine's (`herald_engine::CertificateChanges`): these handlers only translate.

use super::certificate_schemas::{CertificateRequest, CertificateUpdate};
use super::views::CertificateView;
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::quota::QuotaView;
use herald_engine::adapters::{RegistryError, share_quota_count};
use serde_json::{Map, Value};

/// Adds a certificate to an app.
#[utoipa::path(post, path = "/v1/apps/{app}/certificates", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id")),
    request_body = CertificateRequest,
    responses((status = 201, description = "The certificate as stored (secrets named, never shown), with `warnings` about its configuration", body = CertificateView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The app has a certificate of that name (`certificate_taken`)", body = ErrorBody)))]
pub async fn create_certificate(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<(StatusCode, ApiJson<CertificateView>)> {
    let saved = state.certificates.create(&app, body).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CertificateView::new(saved.certificate, saved.warnings)),
    ))
}

/// Lists an app's certificates.
#[utoipa::path(get, path = "/v1/apps/{app}/certificates", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id")),
    responses((status = 200, description = "The app's certificates (secrets named, never shown)", body = Vec<CertificateView>), (status = 404, body = ErrorBody)))]
pub async fn list_certificates(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(app): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<CertificateView>>> {
    state.store.get_app(&app).await?;
    let certs = state.store.list_certificates(&app).await?;
    Ok(ApiJson(
        certs
            .into_iter()
            .map(|c| CertificateView::new(c, Vec::new()))
            .collect(),
    ))
}

/// Reads a certificate (secret values are never returned).
#[utoipa::path(get, path = "/v1/apps/{app}/certificates/{id}", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id"), ("id" = i64, Path, description = "Certificate id")),
    responses((status = 200, description = "The certificate (secrets named, never shown) with its `health`", body = CertificateView),
        (status = 404, body = ErrorBody)))]
pub async fn get_certificate(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, i64)>,
) -> ApiResult<ApiJson<CertificateView>> {
    let (app, id) = path;
    Ok(ApiJson(
        CertificateView::new(state.store.get_certificate(&app, id).await?, Vec::new())
            .with_health(state.dispatcher.certificate_health(&app, id)),
    ))
}

/// A certificate's daily quota today: what every node of the cluster sent through it, the
/// configured limit, and the vendor's own "used up" verdict if it gave one.
#[utoipa::path(get, path = "/v1/apps/{app}/certificates/{id}/quota", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id"), ("id" = i64, Path, description = "Certificate id")),
    responses((status = 200, description = "Today's count in the vendor's day", body = QuotaView),
        (status = 404, body = ErrorBody)))]
pub async fn certificate_quota(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, i64)>,
) -> ApiResult<ApiJson<QuotaView>> {
    let (app, id) = path;
    let store = state.store.as_ref();
    let (_, adapter) = state
        .adapters
        .get(store, &app, id)
        .await
        .map_err(|error| match error {
            RegistryError::Store(error) => ApiError::from(error),
            RegistryError::Adapter(error) => ApiError::bad_request("certificate_unusable", error.to_string()),
        })?;
    let Some(quota) = adapter.quota() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "quota_not_counted",
            "this certificate's vendor adapter counts no daily quota",
        ));
    };
    // This node's count so far joins every node's, and the total is read back.
    share_quota_count(store, &app, id, &quota).await?;
    Ok(ApiJson(quota.view()))
}

/// Changes a certificate: given fields replace stored ones, omitted fields (secrets too) stay,
/// `null` removes an optional field. Takes effect immediately.
#[utoipa::path(put, path = "/v1/apps/{app}/certificates/{id}", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id"), ("id" = i64, Path, description = "Certificate id")),
    request_body = CertificateUpdate,
    responses((status = 200, description = "The changed certificate, with `warnings` about its configuration", body = CertificateView),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The app has another certificate of that name (`certificate_taken`)", body = ErrorBody)))]
pub async fn update_certificate(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, i64)>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<ApiJson<CertificateView>> {
    let (app, id) = path;
    let saved = state.certificates.update(&app, id, body).await?;
    Ok(ApiJson(CertificateView::new(saved.certificate, saved.warnings)))
}

/// Deletes a certificate; devices bound through it lose their token binding.
#[utoipa::path(delete, path = "/v1/apps/{app}/certificates/{id}", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id"), ("id" = i64, Path, description = "Certificate id")),
    responses((status = 204, description = "Deleted; the devices bound through it lost their token"), (status = 404, body = ErrorBody)))]
pub async fn delete_certificate(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, i64)>,
) -> ApiResult<StatusCode> {
    let (app, id) = path;
    state.certificates.delete(&app, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
