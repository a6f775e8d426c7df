//! Messages: sent by an app's backend on behalf of a user (one recipient, a group, or a batch
//! of users) or by the phone app itself; and their delivery records, per device.

use crate::auth::{AppAccess, UserSession};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use herald_core::Invalid;
use herald_core::delivery::DeliveryRecord;
use herald_core::ids::check_id;
use herald_core::message::{Destination, MessageKind, PushInfo, check_content};
use herald_engine::{Outgoing, SendError, SendReport};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Most recipients of one batch request.
const MAX_BATCH_RECIPIENTS: usize = 500;

/// Body of a message send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Sender (server API only; the client API sends as the token's user).
    pub from: Option<String>,
    /// Recipient user (one-to-one).
    pub to: Option<String>,
    /// Recipient group.
    pub group: Option<String>,
    /// `text image file audio video location custom system`.
    pub kind: MessageKind,
    /// `{"text": ...}` for text; any JSON otherwise.
    #[schema(value_type = Object)]
    pub content: Value,
    /// Offline push info.
    pub push: Option<PushInfo>,
    /// Message attributes; Agora `em_*` keys act as push info aliases.
    #[schema(value_type = Object)]
    pub attributes: Option<Map<String, Value>>,
}

/// Body of a batch send: one message to many users.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBatch {
    /// Sender.
    pub from: String,
    /// Recipients (at most 500).
    pub to: Vec<String>,
    /// Kind.
    pub kind: MessageKind,
    /// Content.
    #[schema(value_type = Object)]
    pub content: Value,
    /// Offline push info.
    pub push: Option<PushInfo>,
    /// Attributes.
    #[schema(value_type = Object)]
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
    /// Devices a push was queued for.
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
            pushed: r.pushed,
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

/// Validates a send and turns it into an outgoing message.
pub(crate) fn outgoing(
    app: &str,
    from: String,
    body: SendMessage,
    from_device: Option<String>,
) -> Result<Outgoing, ApiError> {
    check_id("from", &from)?;
    let to = match (body.to, body.group) {
        (Some(to), None) => {
            check_id("to", &to)?;
            Destination::C2c { to }
        }
        (None, Some(group)) => {
            check_id("group", &group)?;
            Destination::Group { group }
        }
        _ => {
            return Err(Invalid::new(
                "to",
                "invalid_destination",
                "give exactly one of `to` (a user) or `group`",
            )
            .into());
        }
    };
    build(
        app,
        from,
        to,
        body.kind,
        body.content,
        body.push,
        body.attributes,
        from_device,
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    app: &str,
    from: String,
    to: Destination,
    kind: MessageKind,
    content: Value,
    push: Option<PushInfo>,
    attributes: Option<Map<String, Value>>,
    from_device: Option<String>,
) -> Result<Outgoing, ApiError> {
    check_content(kind, &content)?;
    let mut push = push.unwrap_or_default();
    let attributes = attributes.unwrap_or_default();
    push.apply_agora_attributes(&attributes);
    push.validate()?;
    Ok(Outgoing {
        app: app.to_string(),
        from,
        from_device,
        to,
        kind,
        content,
        push,
        attributes,
    })
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
    responses((status = 201, body = Sent), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn send_message(
    access: AppAccess,
    State(state): State<AppState>,
    ApiJson(mut body): ApiJson<SendMessage>,
) -> ApiResult<(StatusCode, ApiJson<Sent>)> {
    let from = body
        .from
        .take()
        .ok_or_else(|| ApiError::from(Invalid::missing("from")))?;
    let outgoing = outgoing(&access.app, from, body, None)?;
    let report = state.messenger.send(outgoing).await.map_err(send_error)?;
    Ok((StatusCode::CREATED, ApiJson(report.into())))
}

/// Sends one message to many users (each gets its own message).
#[utoipa::path(post, path = "/v1/apps/{app}/messages/batch", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id")),
    request_body = SendBatch,
    responses((status = 200, body = Vec<BatchItem>), (status = 400, body = ErrorBody)))]
pub async fn send_batch(
    access: AppAccess,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SendBatch>,
) -> ApiResult<ApiJson<Vec<BatchItem>>> {
    if body.to.is_empty() || body.to.len() > MAX_BATCH_RECIPIENTS {
        return Err(Invalid::field("to", format!("give 1 to {MAX_BATCH_RECIPIENTS} recipients")).into());
    }
    for (i, user) in body.to.iter().enumerate() {
        check_id(&format!("to[{i}]"), user)?;
    }
    let mut items = Vec::with_capacity(body.to.len());
    for user in &body.to {
        let outgoing = build(
            &access.app,
            body.from.clone(),
            Destination::C2c { to: user.clone() },
            body.kind,
            body.content.clone(),
            body.push.clone(),
            body.attributes.clone(),
            None,
        )?;
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
    responses((status = 201, body = Sent), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn send_my_message(
    me: UserSession,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SendMessage>,
) -> ApiResult<(StatusCode, ApiJson<Sent>)> {
    if body.from.as_ref().is_some_and(|f| *f != me.user) {
        return Err(ApiError::forbidden(
            "wrong_sender",
            "a phone app sends only as its own user",
        ));
    }
    let outgoing = outgoing(&me.app, me.user.clone(), body, None)?;
    let report = state.messenger.send(outgoing).await.map_err(send_error)?;
    Ok((StatusCode::CREATED, ApiJson(report.into())))
}

/// The delivery records of a message: per device, the decision and why, attempts, vendor code
/// and final state.
#[utoipa::path(get, path = "/v1/apps/{app}/messages/{id}/deliveries", tag = "server", security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("id" = String, Path, description = "Message id")),
    responses((status = 200, body = Deliveries), (status = 404, body = ErrorBody)))]
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

/// Paging of device deliveries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Limit {
    /// Most records (default 50, at most 500).
    pub limit: Option<u32>,
}

/// The latest delivery records of one device, newest first.
#[utoipa::path(get, path = "/v1/apps/{app}/users/{user}/devices/{device}/deliveries", tag = "server",
    security(("app_secret" = [])),
    params(("app" = String, Path, description = "App id"), ("user" = String, Path, description = "User id"),
        ("device" = String, Path, description = "Device id"), Limit),
    responses((status = 200, body = Vec<DeliveryRecord>), (status = 404, body = ErrorBody)))]
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
