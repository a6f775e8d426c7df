//! What the portable roles (`src/portable/`) do SQLite's way. SQLite has one writer, and a
//! write transaction (`BEGIN IMMEDIATE`) holds the whole database until it ends: no row lock is
//! needed, so the lock clauses are empty and the lock statements do nothing. SQLite binds no
//! arrays: statements over a list bind its elements one by one.

use crate::sql::{backend, not_found_or_backend};
use herald_core::store::StoreResult;
use sqlx::{SqliteConnection as Connection, SqlitePool};

/// Appended to a `SELECT` whose rows must not be deleted before the transaction ends.
pub(super) const KEY_SHARE: &str = "";

/// The deliveries table as a message's deliveries are read from it. Without statistics SQLite
/// prefers the per-device index for the `ORDER BY` and then reads every delivery of the app;
/// the message index reads only this message's rows.
pub(super) const DELIVERIES_OF_MESSAGE: &str = "deliveries INDEXED BY deliveries_message";

/// A JSON array (as text) of the `user_id`s of the rows an aggregate reads.
pub(super) const JSON_ARRAY_OF_USER_IDS: &str = "json_group_array(user_id)";

/// Nothing to do: the write transaction already keeps other binds out.
pub(super) async fn queue_binds_of_token(_tx: &mut Connection, _app: &str, _token: &str) -> StoreResult<()> {
    Ok(())
}

/// Nothing to do: the write transaction already holds every row.
pub(super) async fn lock_devices_of_bind(
    _tx: &mut Connection,
    _app: &str,
    _token: &str,
    _user: &str,
    _device: &str,
) -> StoreResult<()> {
    Ok(())
}

/// Nothing to do: the write transaction already keeps binds to the certificate out.
pub(super) async fn lock_certificate(_tx: &mut Connection, _app: &str, _id: i64) -> StoreResult<()> {
    Ok(())
}

/// The ids among `users` that do not exist in the app, in the caller's order.
pub(super) async fn users_not_in_app(
    pool: &SqlitePool,
    app: &str,
    users: &[String],
) -> StoreResult<Vec<String>> {
    let mut missing = Vec::new();
    for user in users {
        let found = sqlx::query("SELECT 1 FROM users WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(user)
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
        if found.is_none() {
            missing.push(user.clone());
        }
    }
    Ok(missing)
}

/// Adds members to a group that exists; `NotFound` names the first one that is no user.
pub(super) async fn insert_members(
    conn: &mut Connection,
    app: &str,
    id: &str,
    members: &[String],
) -> StoreResult<()> {
    for member in members {
        sqlx::query(
            "INSERT INTO group_members (app_id, group_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(app)
        .bind(id)
        .bind(member)
        .execute(&mut *conn)
        .await
        .map_err(not_found_or_backend("user", member))?;
    }
    Ok(())
}
