//! The scale-out store: one PostgreSQL database shared by every Herald node. Writes that touch
//! several rows run in one transaction; rows that concurrent writers both change are locked in
//! one fixed order (users by id, devices by user and device id, jobs by id), so parallel group
//! sends queue behind each other instead of deadlocking.
//!
//! The roles whose SQL both databases share are in `src/portable/`, compiled here against
//! [`PgStore`]; this folder holds what is PostgreSQL's own: the pool and database setup
//! (here), `dialect.rs` (row locks, array statements), the message commit (`commit.rs`),
//! `recipients.rs` and the job queue (`jobs.rs`).

mod commit;
mod dialect;
mod jobs;
#[path = "../portable/mod.rs"]
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
pub(crate) mod portable;
mod recipients;

use crate::Sealer;
use crate::sql::backend;
use herald_core::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool, Postgres, Transaction};

/// The store the portable roles (`src/portable/`) are compiled for here.
type Backend = PgStore;
/// The database the portable roles' statements run on here.
type Db = Postgres;

/// Herald's store on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) sealer: Sealer,
}

impl PgStore {
    /// Connects to the database at `url` and applies pending migrations (sqlx serialises
    /// nodes that start together with an advisory lock).
    pub async fn open(url: &str, sealer: Sealer) -> Result<Self, crate::OpenError> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let store = Self { pool, sealer };
        store.check_master_key().await?;
        Ok(store)
    }

    /// A transaction (read committed: row locks, not a database-wide lock, keep writers apart).
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }

    /// A connection for one statement that is a transaction by itself. Writers need no queue
    /// here: PostgreSQL lets them run side by side.
    async fn writer(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        self.pool.acquire().await.map_err(backend)
    }
}

/// Creates the database `name` (lowercase letters, digits and `_`) on the server `admin_url`
/// points at, and returns the URL of the new database. Tests use it to get an isolated
/// database each.
pub async fn create_database(admin_url: &str, name: &str) -> Result<String, crate::OpenError> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(configuration(format!(
            "database name `{name}` must be 1 to 63 characters of [a-z0-9_]"
        )));
    }
    let url = with_database(admin_url, name)
        .ok_or_else(|| crate::OpenError::UnsupportedUrl(crate::redact_url(admin_url)))?;
    let mut conn = sqlx::postgres::PgConnection::connect(admin_url).await?;
    // The name was checked above: it cannot break out of the quotes.
    sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(url)
}

/// Drops the database `name` made by [`create_database`], closing its open connections.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), crate::OpenError> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(configuration(format!(
            "database name `{name}` must be of [a-z0-9_]"
        )));
    }
    let mut conn = sqlx::postgres::PgConnection::connect(admin_url).await?;
    // The name was checked above: it cannot break out of the quotes.
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// `url` with its database (the path) replaced by `name`; the query string is kept.
fn with_database(url: &str, name: &str) -> Option<String> {
    let authority_start = url.find("://")? + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let after_authority = &rest[authority_len..];
    let query = after_authority.find('?').map_or("", |q| &after_authority[q..]);
    Some(format!(
        "{}/{name}{query}",
        &url[..authority_start + authority_len]
    ))
}

fn configuration(message: String) -> crate::OpenError {
    crate::OpenError::Database(sqlx::Error::Configuration(message.into()))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "t1").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/t1")
        );
        assert_eq!(
            with_database("postgresql://u:p@db/x?sslmode=disable", "t2").as_deref(),
            Some("postgresql://u:p@db/t2?sslmode=disable")
        );
        assert_eq!(
            with_database("postgres://db:5432", "t3").as_deref(),
            Some("postgres://db:5432/t3")
        );
        assert_eq!(with_database("not a url", "t4"), None);
    }
}
