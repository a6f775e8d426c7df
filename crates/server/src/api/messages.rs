//! Messages: sent by an app's backend on behalf of a user (one recipient, a group, or a batch
//! of users) or by the phone app itself; and their delivery records, per device. Every send is
//! checked by `herald_engine::validate` (as the WebSocket's are) before the `Messenger` takes it.

use crate::auth::{AppAccess, UserSession};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::delivery::DeliveryRecord;
use herald_core::message::{Destination, MessageKind, PushInfo};
use herald_engine::{Outgoing, SendError, SendReport, validate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub use herald_core::message::SendMessage;

/// Body of a batch send: one message to many users.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBatch {
    /// Sender.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.@-]+$")]
    pub from: String,
    /// Recipients (1 to 500 user ids).
    #[schema(min_items = 1, max_items = 500)]
    pub to: Vec<String>,
    /// Kind.
    pub kind: MessageKind,
    /// `{"text": ...}` for text; any JSON but `null` otherwise.
    #[schema(value_type = Value)]
    pub content: Value,
    /// Offline push info.
    pub push: Option<PushInfo>,
    /// Attributes.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

/// The answer to a send.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sent {
    /// The message id.
    pub message_id: String,
    /// Recipient users.
    pub recipients: usize,
    /// Devices that got it over their live connection.
    pub live: usize,
    /// Devices a push was queued for: committed with the message, to be sent to the vendor
    /// (its answer is in the delivery records). Counts devices, where `recipients` counts users.
    pub push_queued: usize,
    /// The same count as `push_queued`, under its first name: kept for existing clients.
    #[schema(deprecated)]
    pub pushed: usize,
    /// Devices that got neither (see the delivery records for why).
    pub skipped: usize,
}

impl From<SendReport> for Sent {
    fn from(r: SendReport) -> Self {
        Self {
            message_id: r.message_id,
            recipients: r.recipients,
            live: r.live,
            push_queued: r.push_queued,
            pushed: r.push_queued,
            skipped: r.skipped,
        }
    }
}

/// One recipient's result in a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// The recipient.
    pub to: String,
    /// The result when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<Sent>,
    /// The error when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// Delivery records of a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deliveries {
    /// The message.
    pub message_id: String,
    /// One record per recipient device.
    pub deliveries: Vec<DeliveryRecord>,
}

/// Maps a send failure to the API error.
pub(crate) fn send_error(error: SendError) -> ApiError {
    match error {
        SendError::Store(e) => e.into(),
        SendError::NotAMember { .. } => ApiError::forbidden("not_a_member", error.to_string()),
    }
}

/// Sends a message on behalf of a user.
#[utoipa::path(post, path = "/v1/apps/{app}/messages", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id")),
    request_body = SendMessage,
    responses((status = 201, description = "Accepted: the message id and how many recipient devices got it live, by push, or neither", body = Sent), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn send_message(
    access: AppAccess,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SendMessage>,
) -> ApiResult<(StatusCode, ApiJson<Sent>)> {
    let outgoing = validate::backend_message(&access.app, body)?;
    let report = state.messenger.send(outgoing).await.map_err(send_error)?;
    Ok((StatusCode::CREATED, ApiJson(report.into())))
}

/// Sends one message to many users (each gets its own message).
#[utoipa::path(post, path = "/v1/apps/{app}/messages/batch", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id")),
    request_body = SendBatch,
    responses((status = 200, description = "One result per recipient; a recipient's failure is in its item", body = Vec<BatchItem>),
        (status = 400, body = ErrorBody),
        (status = 404, description = "No such app (`app_not_found`, admin token only)", body = ErrorBody)))]
pub async fn send_batch(
    access: AppAccess,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SendBatch>,
) -> ApiResult<ApiJson<Vec<BatchItem>>> {
    validate::batch_recipients(&body.to)?;
    let mut items = Vec::with_capacity(body.to.len());
    for user in &body.to {
        let outgoing = validate::checked(Outgoing {
            app: access.app.clone(),
            from: body.from.clone(),
            from_device: None,
            to: Destination::C2c { to: user.clone() },
            kind: body.kind,
            content: body.content.clone(),
            push: body.push.clone().unwrap_or_default(),
            attributes: body.attributes.clone().unwrap_or_default(),
        })?;
        let item = match state.messenger.send(outgoing).await {
            Ok(report) => BatchItem {
                to: user.clone(),
                sent: Some(report.into()),
                error: None,
            },
            Err(error) => {
                let error = send_error(error);
                let body = ErrorBody {
                    code: error.code().to_string(),
                    message: error.message().to_string(),
                    field: None,
                };
                BatchItem {
                    to: user.clone(),
                    sent: None,
                    error: Some(body),
                }
            }
        };
        items.push(item);
    }
    Ok(ApiJson(items))
}

/// Sends a message as the token's user (the phone app).
#[utoipa::path(post, path = "/v1/me/messages", tag = "client", security(("user_token" = [])),
    request_body = SendMessage,
    responses((status = 201, description = "Accepted: the message id and how many recipient devices got it live, by push, or neither", body = Sent), (status = 400, body = ErrorBody),
        (status = 403, description = "The sender is not a member of the group (`not_a_member`)", body = ErrorBody),
        (status = 404, description = "No such recipient (`user_not_found`, `group_not_found`)", body = ErrorBody)))]
pub async fn send_my_message(
    me: UserSession,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SendMessage>,
) -> ApiResult<(StatusCode, ApiJson<Sent>)> {
    let outgoing = validate::device_message(&me.app, &me.user, body, None)?;
    let report = state.messenger.send(outgoing).await.map_err(send_error)?;
    Ok((StatusCode::CREATED, ApiJson(report.into())))
}

/// The delivery records of a message: per device, the decision and why, attempts, vendor code
/// and final state.
#[utoipa::path(get, path = "/v1/apps/{app}/messages/{id}/deliveries", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Message id")),
    responses((status = 200, description = "The message's delivery records", body = Deliveries), (status = 404, body = ErrorBody)))]
pub async fn message_deliveries(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String)>,
) -> ApiResult<ApiJson<Deliveries>> {
    let (_, id) = path;
    state.store.get_message(&access.app, &id).await?;
    let deliveries = state.store.message_deliveries(&access.app, &id).await?;
    Ok(ApiJson(Deliveries {
        message_id: id,
        deliveries,
    }))
}

/// Paging of device deliveries. Unknown parameters are refused (`?limt=10` is a mistake).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Limit {
    /// Most records (default 50; 0 counts as 1, more than 500 as 500).
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub limit: Option<u32>,
}

/// The latest delivery records of one device, newest first.
#[utoipa::path(get, path = "/v1/apps/{app}/users/{user}/devices/{device}/deliveries", tag = "server",
    security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("user" = String, Path, description = "User id"),
        ("device" = String, Path, description = "Device id"), Limit),
    responses((status = 200, description = "The device's latest delivery records, newest first", body = Vec<DeliveryRecord>), (status = 404, body = ErrorBody)))]
pub async fn device_deliveries(
    access: AppAccess,
    State(state): State<AppState>,
    ApiPath(path): ApiPath<(String, String, String)>,
    ApiQuery(limit): ApiQuery<Limit>,
) -> ApiResult<ApiJson<Vec<DeliveryRecord>>> {
    let (_, user, device) = path;
    state
        .store
        .get_device(&herald_core::DeviceKey::new(&access.app, &user, &device))
        .await?;
    let limit = limit.limit.unwrap_or(50).clamp(1, 500);
    Ok(ApiJson(
        state
            .store
            .device_deliveries(&herald_core::DeviceKey::new(&access.app, &user, &device), limit)
            .await?,
    ))
}
