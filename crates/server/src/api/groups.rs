//! Server API: groups and their members. Members must be existing users of the app, so a typo
//! in a user id is reported instead of creating a phantom member.

use crate::auth::AppAccess;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::ids::{check_id, check_name};
use herald_core::{Group, Invalid};
use serde::Deserialize;
use utoipa::ToSchema;

/// Most members one request may add.
const MAX_MEMBERS_PER_REQUEST: usize = 10_000;

/// Body of `POST /v1/apps/{app}/groups`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Group id (letters, digits, `_ . @ -`); Herald picks one when absent.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.@-]+$")]
    pub id: Option<String>,
    /// Display name (default title of group notifications; 1 to 128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// Initial members (ids of existing users; at most 10,000).
    #[serde(default)]
    #[schema(max_items = 10000)]
    pub members: Vec<String>,
}

/// Body of `POST .../members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembers {
    /// Ids of existing users to add (at most 10,000).
    #[schema(max_items = 10000)]
    pub members: Vec<String>,
}

/// Checks member ids and that they exist; returns them sorted and without duplicates.
async fn checked_members(
    state: &AppState,
    app: &str,
    mut members: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    if members.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(Invalid::field(
            "members",
            format!("at most {MAX_MEMBERS_PER_REQUEST} members per request; add more with POST .../members"),
        )
        .into());
    }
    for (i, member) in members.iter().enumerate() {
        check_id(&format!("members[{i}]"), member)?;
    }
    members.sort();
    members.dedup();
    let missing = state.store.missing_users(app, &members).await?;
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
        return Err(Invalid::new(
            "members",
            "unknown_members",
            format!(
                "{} member(s) are not users of this app: {}",
                missing.len(),
                shown.join(", ")
            ),
        )
        .into());
    }
    Ok(members)
}

/// Creates a group.
#[utoipa::path(post, path = "/v1/apps/{app}/groups", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id")),
    request_body = CreateGroup,
    responses((status = 201, description = "The new group with its members", body = Group), (status = 400, body = ErrorBody),
        (status = 404, description = "No such app (`app_not_found`, admin token only)", body = ErrorBody),
        (status = 409, description = "The group id is taken (`group_taken`)", body = ErrorBody)))]
pub async fn create_group(
    access: AppAccess,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateGroup>,
) -> ApiResult<(StatusCode, ApiJson<Group>)> {
    let id = match body.id {
        Some(id) => {
            check_id("id", &id)?;
            id
        }
        None => {
            let mut bytes = [0u8; 8];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
            format!(
                "grp_{}",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        }
    };
    check_name("name", &body.name)?;
    let members = checked_members(&state, &access.app, body.members).await?;
    let group = state
        .store
        .create_group(&access.app, &id, body.name.trim(), &members)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(group)))
}

/// Reads a group with its members.
#[utoipa::path(get, path = "/v1/apps/{app}/groups/{group}", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("group" = String, Path, description = "Group id")),
    responses((status = 200, description = "The group with its members", body = Group), (status = 404, body = ErrorBody)))]
pub async fn get_group(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String)>,
) -> ApiResult<ApiJson<Group>> {
    let (_, group) = path;
    Ok(ApiJson(state.store.get_group(&access.app, &group).await?))
}

/// Deletes a group.
#[utoipa::path(delete, path = "/v1/apps/{app}/groups/{group}", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("group" = String, Path, description = "Group id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete_group(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let (_, group) = path;
    state.store.delete_group(&access.app, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds members to a group (members already in it are ignored).
#[utoipa::path(post, path = "/v1/apps/{app}/groups/{group}/members", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("group" = String, Path, description = "Group id")),
    request_body = AddMembers,
    responses((status = 200, description = "The group with its members", body = Group), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_members(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<AddMembers>,
) -> ApiResult<ApiJson<Group>> {
    let (_, group) = path;
    state.store.get_group(&access.app, &group).await?;
    let members = checked_members(&state, &access.app, body.members).await?;
    Ok(ApiJson(
        state.store.add_members(&access.app, &group, &members).await?,
    ))
}

/// Removes one member from a group.
#[utoipa::path(delete, path = "/v1/apps/{app}/groups/{group}/members/{user}", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("group" = String, Path, description = "Group id"),
        ("user" = String, Path, description = "User id")),
    responses((status = 200, description = "The group with its remaining members", body = Group), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String, String)>,
) -> ApiResult<ApiJson<Group>> {
    let (_, group, user) = path;
    Ok(ApiJson(
        state.store.remove_member(&access.app, &group, &user).await?,
    ))
}
