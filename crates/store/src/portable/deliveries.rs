//! Delivery rows read back: as a record (what happened to a message on one device) and as a
//! push job (what the dispatchers send).

use super::DbRow;
use crate::sql::{backend, from_json};
use herald_core::delivery::{Attempt, DeliveryRecord, DeliveryState, PushJob};
use herald_core::store::StoreResult;
use herald_core::{StoreError, Vendor};
use sqlx::Row;

/// The columns [`delivery_from_row`] reads. The attempt log is read as text on both databases
/// (PostgreSQL keeps it as JSONB so that outcomes append to it in place).
pub(crate) const DELIVERY_COLUMNS: &str = "id, message_id, user_id, device_id, decision, reason, vendor, certificate_id, \
     state, attempts, vendor_code, vendor_msg_id, CAST(attempt_log AS TEXT) AS attempt_log, created_at, updated_at";

/// A delivery record from a row selected with [`DELIVERY_COLUMNS`].
pub(crate) fn delivery_from_row(row: &DbRow) -> StoreResult<DeliveryRecord> {
    let text = |c: &str| -> StoreResult<String> { row.try_get(c).map_err(backend) };
    let vendor: Option<String> = row.try_get("vendor").map_err(backend)?;
    let state = text("state")?;
    let attempts: i64 = row.try_get("attempts").map_err(backend)?;
    Ok(DeliveryRecord {
        id: row.try_get("id").map_err(backend)?,
        message_id: text("message_id")?,
        user_id: text("user_id")?,
        device_id: text("device_id")?,
        decision: text("decision")?,
        reason: current_reason(text("reason")?),
        vendor: vendor
            .map(|v| v.parse::<Vendor>())
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        certificate_id: row.try_get("certificate_id").map_err(backend)?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery state `{state}`")))?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        vendor_code: row.try_get("vendor_code").map_err(backend)?,
        vendor_msg_id: row.try_get("vendor_msg_id").map_err(backend)?,
        log: from_json::<Vec<Attempt>>("attempt_log", &text("attempt_log")?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

/// The columns [`job_from_row`] reads.
pub(crate) const JOB_COLUMNS: &str = "id, app_id, message_id, user_id, device_id, certificate_id, vendor, token, \
     badge, sound, attempts, expires_at, created_at";

/// A push job from a delivery row selected with [`JOB_COLUMNS`].
pub(crate) fn job_from_row(row: &DbRow) -> StoreResult<PushJob> {
    let vendor: String = row.try_get("vendor").map_err(backend)?;
    let attempts: i64 = row.try_get("attempts").map_err(backend)?;
    Ok(PushJob {
        id: row.try_get("id").map_err(backend)?,
        app_id: row.try_get("app_id").map_err(backend)?,
        message_id: row.try_get("message_id").map_err(backend)?,
        user_id: row.try_get("user_id").map_err(backend)?,
        device_id: row.try_get("device_id").map_err(backend)?,
        certificate_id: row.try_get("certificate_id").map_err(backend)?,
        vendor: vendor
            .parse::<Vendor>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        token: row.try_get("token").map_err(backend)?,
        badge: row.try_get("badge").map_err(backend)?,
        sound: row.try_get("sound").map_err(backend)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        expires_at: row.try_get("expires_at").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
    })
}

/// The reason under its current name: rows written before `rules_passed` was named say `pushed`.
fn current_reason(stored: String) -> String {
    if stored == "pushed" {
        herald_core::routing::Reason::RulesPassed.as_str().to_string()
    } else {
        stored
    }
}
