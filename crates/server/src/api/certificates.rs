//! Admin API: push certificates. Create checks everything before anything is written; update
//! merges the given fields over the stored ones (secrets included, so omitting a secret keeps
//! it; `null` removes an optional field) and checks the result as a whole.

use super::views::CertificateView;
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::{CertificateDefaults, ClickAction, Invalid, NewCertificate, Secret, Vendor};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Body of certificate create/update (documentation shape; the vendor fields are listed in the
/// README and checked per vendor).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CertificateRequest {
    /// `apns fcm huawei honor xiaomi oppo vivo meizu webpush` (required on create).
    vendor: Option<Vendor>,
    /// Unique name in the app: letters, digits, `_ . @ -`.
    name: Option<String>,
    /// Default true.
    enabled: Option<bool>,
    /// Default `{"type":"open_app"}`.
    click_action: Option<ClickAction>,
    /// Vendor option defaults.
    defaults: Option<CertificateDefaults>,
    /// Endpoint override (http or https URL).
    base_url: Option<String>,
    /// Vendor fields, e.g. `bundle_id`, `team_id`, `key_id`, `private_key` for APNs.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    vendor_fields: Map<String, Value>,
}

/// Turns a full set of fields (common + vendor) into a checked certificate.
fn build(vendor: Vendor, mut body: Map<String, Value>) -> Result<(NewCertificate, Vec<String>), ApiError> {
    let name = match body.remove("name") {
        Some(Value::String(name)) => name,
        None | Some(Value::Null) => return Err(Invalid::missing("name").into()),
        Some(_) => return Err(Invalid::field("name", "`name` must be a string").into()),
    };
    herald_core::ids::check_id("name", &name).map_err(|e| Invalid {
        code: "invalid_name",
        ..e
    })?;
    let enabled = match body.remove("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(Invalid::field("enabled", "`enabled` must be true or false").into()),
    };
    let click_action: ClickAction = match body.remove("click_action") {
        None | Some(Value::Null) => ClickAction::OpenApp,
        Some(v) => serde_json::from_value(v).map_err(|e| {
            Invalid::new(
                "click_action",
                "invalid_click_action",
                format!("{e}; use {{\"type\":\"open_app\"}}, {{\"type\":\"open_url\",\"url\":...}} or {{\"type\":\"open_page\",\"page\":...}}"),
            )
        })?,
    };
    click_action.validate()?;
    let defaults: CertificateDefaults = match body.remove("defaults") {
        None | Some(Value::Null) => CertificateDefaults::default(),
        Some(v) => serde_json::from_value(v).map_err(|e| Invalid::field("defaults", e.to_string()))?,
    };
    herald_vendors::check_defaults(vendor, &defaults)?;
    let base_url = match body.remove("base_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) => {
            let parsed = url::Url::parse(&url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if parsed.is_none() {
                return Err(Invalid::new(
                    "base_url",
                    "invalid_url",
                    "base_url must be an http:// or https:// URL",
                )
                .into());
            }
            Some(url.trim_end_matches('/').to_string())
        }
        Some(_) => return Err(Invalid::field("base_url", "`base_url` must be a string").into()),
    };
    body.remove("vendor");
    let checked = herald_vendors::check_certificate_fields(vendor, body)?;
    Ok((
        NewCertificate {
            vendor,
            name,
            enabled,
            click_action,
            defaults,
            base_url,
            fields: checked.public,
            secrets: Secret::new(checked.secrets),
        },
        checked.warnings,
    ))
}

fn parse_vendor(value: Option<&Value>) -> Result<Vendor, ApiError> {
    match value {
        Some(Value::String(s)) => s
            .parse::<Vendor>()
            .map_err(|e| Invalid::new("vendor", "unknown_vendor", e.to_string()).into()),
        None | Some(Value::Null) => Err(Invalid::missing("vendor").into()),
        Some(_) => Err(Invalid::field("vendor", "`vendor` must be a string").into()),
    }
}

/// Adds a certificate to an app.
#[utoipa::path(post, path = "/v1/apps/{app}/certificates", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id")),
    request_body = CertificateRequest,
    responses((status = 201, body = CertificateView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_certificate(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<(StatusCode, ApiJson<CertificateView>)> {
    state.store.get_app(&app).await?;
    let vendor = parse_vendor(body.get("vendor"))?;
    let (cert, warnings) = build(vendor, body)?;
    let stored = state.store.create_certificate(&app, &cert).await?;
    state.messenger.forget_certificates(&app);
    tracing::info!(%app, certificate = stored.id, %vendor, "Certificate created.");
    Ok((
        StatusCode::CREATED,
        ApiJson(CertificateView::new(stored, warnings)),
    ))
}

/// Lists an app's certificates.
#[utoipa::path(get, path = "/v1/apps/{app}/certificates", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id")),
    responses((status = 200, body = Vec<CertificateView>), (status = 404, body = ErrorBody)))]
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
    responses((status = 200, body = CertificateView), (status = 404, body = ErrorBody)))]
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

/// Changes a certificate: given fields replace stored ones, omitted fields (secrets too) stay,
/// `null` removes an optional field. Takes effect immediately.
#[utoipa::path(put, path = "/v1/apps/{app}/certificates/{id}", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id"), ("id" = i64, Path, description = "Certificate id")),
    request_body = CertificateRequest,
    responses((status = 200, body = CertificateView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_certificate(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, i64)>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<ApiJson<CertificateView>> {
    let (app, id) = path;
    let current = state.store.get_certificate(&app, id).await?;
    if body.contains_key("vendor") && parse_vendor(body.get("vendor"))? != current.vendor {
        return Err(Invalid::new(
            "vendor",
            "vendor_immutable",
            "a certificate's vendor cannot change; create a new certificate instead",
        )
        .into());
    }
    let secrets = state.store.certificate_secrets(&app, id).await?;
    let mut merged = current.fields.clone();
    merged.extend(secrets.expose().clone());
    merged.insert("name".into(), Value::String(current.name.clone()));
    merged.insert("enabled".into(), Value::Bool(current.enabled));
    merged.insert(
        "click_action".into(),
        serde_json::to_value(&current.click_action).unwrap_or(Value::Null),
    );
    merged.insert(
        "defaults".into(),
        serde_json::to_value(&current.defaults).unwrap_or(Value::Null),
    );
    if let Some(url) = &current.base_url {
        merged.insert("base_url".into(), Value::String(url.clone()));
    }
    for (key, value) in body {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    let (cert, warnings) = build(current.vendor, merged)?;
    let stored = state.store.replace_certificate(&app, id, &cert).await?;
    state.messenger.forget_certificates(&app);
    tracing::info!(%app, certificate = id, "Certificate updated.");
    Ok(ApiJson(CertificateView::new(stored, warnings)))
}

/// Deletes a certificate; devices bound through it lose their token binding.
#[utoipa::path(delete, path = "/v1/apps/{app}/certificates/{id}", tag = "admin", security(("admin_token" = [])),
    params(("app" = String, Path, description = "App id"), ("id" = i64, Path, description = "Certificate id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_certificate(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, i64)>,
) -> ApiResult<StatusCode> {
    let (app, id) = path;
    state.store.delete_certificate(&app, id).await?;
    state.messenger.forget_certificates(&app);
    tracing::info!(%app, certificate = id, "Certificate deleted.");
    Ok(StatusCode::NO_CONTENT)
}
