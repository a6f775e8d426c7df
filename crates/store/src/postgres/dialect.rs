//! What the portable roles (`src/portable/`) do PostgreSQL's way. Writers run side by side
//! here (read committed), so a write locks the rows it is about to change, in the order every
//! other writer locks them (users by id, devices by user and device id), and lists travel as
//! one bound array.

use crate::sql::backend;
use herald_core::StoreError;
use herald_core::store::StoreResult;
use sqlx::{PgConnection as Connection, PgPool, Row};
use std::collections::HashSet;

/// Appended to a `SELECT` whose rows must not be deleted before the transaction ends.
pub(super) const KEY_SHARE: &str = " FOR KEY SHARE";

/// The deliveries table as a message's deliveries are read from it.
pub(super) const DELIVERIES_OF_MESSAGE: &str = "deliveries";

/// A JSON array (as text) of the `user_id`s of the rows an aggregate reads.
pub(super) const JSON_ARRAY_OF_USER_IDS: &str = "COALESCE(json_agg(user_id), '[]')::text";

/// Binds of one token queue here, before anything else is locked, so the move that follows
/// always sees the latest holder (two binds of one token would otherwise both find no holder
/// and clash on the unique index).
pub(super) async fn queue_binds_of_token(tx: &mut Connection, app: &str, token: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))")
        .bind(app)
        .bind(token)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Locks both rows a bind changes (the token's holder and the device) in the order group
/// sends lock devices.
pub(super) async fn lock_devices_of_bind(
    tx: &mut Connection,
    app: &str,
    token: &str,
    user: &str,
    device: &str,
) -> StoreResult<()> {
    sqlx::query(
        "SELECT 1 FROM devices WHERE app_id = $1 AND (token = $2 OR (user_id = $3 AND device_id = $4)) \
         ORDER BY user_id, device_id FOR NO KEY UPDATE",
    )
    .bind(app)
    .bind(token)
    .bind(user)
    .bind(device)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    Ok(())
}

/// A device bound to the certificate meanwhile would block its delete: the lock makes
/// concurrent binds wait, and then fail as they would after the delete.
pub(super) async fn lock_certificate(tx: &mut Connection, app: &str, id: i64) -> StoreResult<()> {
    sqlx::query("SELECT id FROM certificates WHERE app_id = $1 AND id = $2 FOR UPDATE")
        .bind(app)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
    Ok(())
}

/// The ids among `users` that do not exist in the app, in the caller's order: one statement
/// for any number of ids, the ordinality keeps the order.
pub(super) async fn users_not_in_app(pool: &PgPool, app: &str, users: &[String]) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT u.id FROM UNNEST($2::text[]) WITH ORDINALITY AS u (id, n) \
         WHERE NOT EXISTS (SELECT 1 FROM users WHERE app_id = $1 AND id = u.id) ORDER BY u.n",
    )
    .bind(app)
    .bind(users)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(|r| r.try_get("id").map_err(backend)).collect()
}

/// Adds members to a group that exists, in two statements whatever their number; `NotFound`
/// names the first one that is no user. The existing ones are locked against deletion first.
pub(super) async fn insert_members(
    conn: &mut Connection,
    app: &str,
    id: &str,
    members: &[String],
) -> StoreResult<()> {
    if members.is_empty() {
        return Ok(());
    }
    let known = sqlx::query("SELECT id FROM users WHERE app_id = $1 AND id = ANY($2) FOR KEY SHARE")
        .bind(app)
        .bind(members)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<HashSet<String>, _>>()
        .map_err(backend)?;
    if let Some(unknown) = members.iter().find(|m| !known.contains(*m)) {
        return Err(StoreError::not_found("user", unknown.as_str()));
    }
    sqlx::query(
        "INSERT INTO group_members (app_id, group_id, user_id) \
         SELECT $1, $2, u FROM UNNEST($3::text[]) AS u ON CONFLICT DO NOTHING",
    )
    .bind(app)
    .bind(id)
    .bind(members)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}
