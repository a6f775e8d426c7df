//! The push test tool: for a user (or one device), a step-by-step diagnosis — session, token,
//! certificate, the user's settings, the last deliveries and why the last message was or was
//! not pushed — and a real test push through the vendor whose request and outcome are returned.

use crate::auth::AppAccess;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use herald_core::device::mask_token;
use herald_core::{ClickAction, Device, Notification, Outcome, Priority, Target};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Instant;
use utoipa::ToSchema;

/// Body of `POST /v1/apps/{app}/push-test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushTest {
    /// The user to diagnose.
    pub user: String,
    /// One device (default: every device of the user).
    pub device: Option<String>,
    /// Title of the test push (default "Herald test").
    pub title: Option<String>,
    /// Body of the test push.
    pub body: Option<String>,
}

/// One diagnosis step.
#[derive(Debug, Serialize, ToSchema)]
pub struct Step {
    /// What was checked (`device:phone session`).
    pub name: String,
    /// Whether it is fine for pushes.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The diagnosis.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushTestReport {
    /// Checks in order.
    pub steps: Vec<Step>,
    /// Per device: the test push's vendor request(s) (credentials redacted) and outcome.
    #[schema(value_type = Object)]
    pub trace: Value,
}

/// Whether the device's last message reached it (or is on its way): delivered live, accepted by
/// the vendor, or queued without a failed attempt yet. A push still retrying after failed
/// attempts, or one that ended in a failure, is not.
fn last_message_went_well(last: &herald_core::delivery::DeliveryRecord) -> bool {
    use herald_core::delivery::DeliveryState;
    match last.state {
        DeliveryState::Accepted | DeliveryState::Live => true,
        DeliveryState::Queued | DeliveryState::InFlight => last.attempts == 0,
        DeliveryState::Skipped => last.decision != "skip",
        DeliveryState::InvalidToken
        | DeliveryState::Rejected
        | DeliveryState::Expired
        | DeliveryState::QuotaExceeded => false,
    }
}

fn step(steps: &mut Vec<Step>, name: String, ok: bool, detail: impl Into<String>) -> bool {
    steps.push(Step {
        name,
        ok,
        detail: detail.into(),
    });
    ok
}

/// Diagnoses a user's (or device's) push path and sends a test push.
#[utoipa::path(post, path = "/v1/apps/{app}/push-test", tag = "server", security(("app_secret" = []), ("admin_token" = [])),
    params(("app" = String, Path, description = "App id")),
    request_body = PushTest,
    responses((status = 200, description = "Each step checked, and the test push's request and outcome", body = PushTestReport), (status = 404, body = ErrorBody)))]
pub async fn push_test(
    access: AppAccess,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PushTest>,
) -> ApiResult<ApiJson<PushTestReport>> {
    let app = access.app.as_str();
    let store = state.store.as_ref();
    let mut steps = Vec::new();
    let user = store.get_user(app, &body.user).await?;
    step(
        &mut steps,
        "user".into(),
        true,
        match &user.nickname {
            Some(nickname) => format!("user `{}` exists (nickname \"{nickname}\")", user.id),
            None => format!("user `{}` exists (no nickname: pushes show the user id)", user.id),
        },
    );
    let settings = store.push_settings(app, &body.user).await?;
    let mut detail = if settings.enabled {
        "offline push is on".to_string()
    } else {
        "the user switched offline push off".to_string()
    };
    if let Some(dnd) = &settings.dnd {
        let now_in = dnd.covers(jiff::Timestamp::now());
        detail.push_str(&format!(
            "; do-not-disturb {}–{} {} (now {})",
            dnd.start,
            dnd.end,
            dnd.time_zone,
            if now_in { "inside" } else { "outside" }
        ));
    }
    if !settings.muted.is_empty() {
        detail.push_str(&format!("; muted: {}", settings.muted.join(", ")));
    }
    step(&mut steps, "push settings".into(), settings.enabled, detail);

    let devices: Vec<Device> = match &body.device {
        Some(device) => vec![
            store
                .get_device(&herald_core::DeviceKey::new(app, &body.user, device))
                .await?,
        ],
        None => store.list_devices(app, &body.user).await?,
    };
    step(
        &mut steps,
        "devices".into(),
        !devices.is_empty(),
        format!("{} device(s)", devices.len()),
    );
    let mut traces = serde_json::Map::new();
    for device in devices {
        let d = device.device_id.clone();
        let connected = state
            .hub
            .is_connected(&herald_engine::DeviceKey::new(app, &body.user, &d));
        step(
            &mut steps,
            format!("device:{d} session"),
            !device.state.is_ended(),
            format!(
                "state {} ({}), platform {}",
                device.state,
                if connected { "connected" } else { "not connected" },
                device.platform.as_str()
            ),
        );
        let history = store
            .device_deliveries(&herald_core::DeviceKey::new(app, &body.user, &d), 5)
            .await?;
        if let Some(last) = history.first() {
            step(
                &mut steps,
                format!("device:{d} last message"),
                last_message_went_well(last),
                format!(
                    "message {}: decision {} because {}; state {} after {} attempt(s){}",
                    last.message_id,
                    last.decision,
                    last.reason,
                    last.state.as_str(),
                    last.attempts,
                    last.vendor_code
                        .as_ref()
                        .map(|c| format!(", vendor said {c}"))
                        .unwrap_or_default()
                ),
            );
        }
        let Some(binding) = &device.binding else {
            step(
                &mut steps,
                format!("device:{d} token"),
                false,
                "no push token is bound: the app must upload one after login",
            );
            continue;
        };
        step(
            &mut steps,
            format!("device:{d} token"),
            true,
            format!("{} token {}", binding.vendor, mask_token(&binding.token)),
        );
        let (cert, adapter) = match state.adapters.get(store, app, binding.certificate_id).await {
            Ok(found) => found,
            Err(error) => {
                step(
                    &mut steps,
                    format!("device:{d} certificate"),
                    false,
                    format!("certificate {}: {error}", binding.certificate_id),
                );
                continue;
            }
        };
        if !step(
            &mut steps,
            format!("device:{d} certificate"),
            cert.enabled,
            format!(
                "`{}` ({}, id {}){}",
                cert.name,
                cert.vendor,
                cert.id,
                if cert.enabled { "" } else { " is disabled" }
            ),
        ) {
            continue;
        }
        let health = state.dispatcher.certificate_health(app, cert.id);
        let degraded = health.state == herald_engine::HealthState::Degraded;
        step(
            &mut steps,
            format!("device:{d} vendor health"),
            !degraded,
            match (degraded, &health.last_error) {
                (false, _) => format!("{} answers", cert.vendor),
                (true, error) => format!(
                    "{} degraded since {} (last error: {}): pushes wait while a probe tests it",
                    cert.vendor,
                    health.since,
                    error.as_deref().unwrap_or("none")
                ),
            },
        );
        let credential = adapter.check_credential().await;
        if let Some(check) = &credential {
            let detail = match (&check.failure, &check.request) {
                (None, Some(request)) => format!("got {} ({} {})", check.source, request.method, request.url),
                (None, None) => format!("got {}", check.source),
                (Some(failure), Some(request)) => format!(
                    "could not get {} ({} {}): {failure}",
                    check.source, request.method, request.url
                ),
                (Some(failure), None) => format!("could not get {}: {failure}", check.source),
            };
            if !step(
                &mut steps,
                format!("device:{d} credential"),
                check.failure.is_none(),
                detail,
            ) {
                // The send request was never made: the trace shows the request that failed.
                traces.insert(
                    d,
                    json!({"vendor": cert.vendor, "failed_step": "credential", "credential": check}),
                );
                continue;
            }
        }
        let notification = Notification {
            id: format!("push-test-{}", herald_core::now_millis()),
            title: body.title.clone().unwrap_or_else(|| "Herald test".into()),
            body: body
                .body
                .clone()
                .unwrap_or_else(|| "If you see this, offline push works for this device.".into()),
            click_action: ClickAction::OpenApp,
            badge: false,
            ttl_seconds: 300,
            priority: Priority::High,
            ..Notification::default()
        };
        let target = Target {
            token: binding.token.clone(),
            badge: None,
        };
        let secrets = store.certificate_secrets(app, cert.id).await?;
        let requests = match herald_vendors::preview_requests(
            &cert,
            secrets.expose(),
            &notification,
            std::slice::from_ref(&target),
            "<credential>",
        ) {
            Ok(Ok(requests)) => requests
                .iter()
                .map(|r| {
                    let body = String::from_utf8_lossy(&r.body).into_owned();
                    json!({"method": r.method, "url": r.url,
                           // Credential headers come redacted from the vendor's preview.
                           "headers": r.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone())))
                               .collect::<serde_json::Map<_, _>>(),
                           "body": body})
                })
                .collect::<Vec<_>>(),
            Ok(Err(outcome)) => vec![json!({"refused_before_sending": outcome})],
            Err(error) => vec![json!({"error": error.to_string()})],
        };
        let started = Instant::now();
        let outcome = adapter.send(&notification, std::slice::from_ref(&target)).await;
        let latency_ms = started.elapsed().as_millis();
        let (ok, detail, outcome_json) = match &outcome {
            Ok(outcomes) => match outcomes.first() {
                Some(o @ Outcome::Accepted { .. }) => {
                    (true, "the vendor accepted the test push".to_string(), json!(o))
                }
                Some(o @ Outcome::AuthExpired { .. }) => (
                    false,
                    "the vendor refused the credentials: check the certificate's secret".to_string(),
                    json!(o),
                ),
                Some(o @ Outcome::Retry { reason, .. }) => (
                    false,
                    format!("not accepted, a push would be retried: {reason}"),
                    json!(o),
                ),
                Some(o) => (false, format!("the vendor answered {}", o.state()), json!(o)),
                None => (false, "no outcome".to_string(), Value::Null),
            },
            Err(error) => (
                false,
                format!("the request failed: {error}"),
                json!({"error": error.to_string()}),
            ),
        };
        step(
            &mut steps,
            format!("device:{d} test push"),
            ok,
            format!("{detail} ({latency_ms} ms)"),
        );
        traces.insert(
            d,
            json!({"vendor": cert.vendor, "credential": credential, "requests": requests,
                                "outcome": outcome_json, "latency_ms": latency_ms}),
        );
    }
    Ok(ApiJson(PushTestReport {
        steps,
        trace: Value::Object(traces),
    }))
}
