//! Herald's persistence: the `herald_core::store` traits implemented on SQLite (the embedded
//! default: one file, WAL) and, for the scale-out mode, PostgreSQL. The roles whose SQL is the
//! same on both are written once in `src/portable/` and compiled into each backend;
//! `src/<backend>/` holds only what that database does its own way. The same conformance suite
//! runs on both.

pub mod jetstream;
pub mod postgres;
mod seal;
mod sql;
pub mod sqlite;

pub use seal::{MASTER_KEY_LEN, Sealer};

use herald_core::Store;
use std::sync::Arc;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL's scheme names no backend of this build.
    #[error("unsupported database URL `{0}`: use sqlite://<path> or postgres://<user>@<host>/<database>")]
    UnsupportedUrl(String),
    /// Connecting or migrating failed. Like every wrapped cause here, it is said in the message
    /// (each part once) and not exposed as `source()`, so printing the chain does not repeat it.
    #[error("cannot open the database: {}", herald_core::error_text::with_causes(.0))]
    Database(sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("cannot migrate the database: {}", herald_core::error_text::with_causes(.0))]
    Migrate(sqlx::migrate::MigrateError),
    /// The master key is not the one the database's secrets were sealed with.
    #[error(
        "the master key does not match the one this database was created with; every node of a \
         cluster must use the same master key (master_key_file)"
    )]
    WrongMasterKey,
    /// Another process holds the embedded database (its lock file is named).
    #[error(
        "another Herald process is using this database (it holds {0}): stop it, or give this \
         one a data_dir of its own"
    )]
    InUse(std::path::PathBuf),
    /// The embedded database's lock file cannot be opened or locked.
    #[error("cannot lock {path}: {cause}")]
    Lock {
        /// The lock file.
        path: std::path::PathBuf,
        /// Why.
        cause: String,
    },
    /// The scale-out services (NATS, JetStream, cluster presence) could not be joined.
    #[error("cannot join the cluster: {0}")]
    Cluster(String),
}

impl From<sqlx::Error> for OpenError {
    fn from(error: sqlx::Error) -> Self {
        OpenError::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for OpenError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        OpenError::Migrate(error)
    }
}

/// Opens the store a database URL names, applying pending migrations.
pub async fn open(url: &str, master_key: &[u8; MASTER_KEY_LEN]) -> Result<Arc<dyn Store>, OpenError> {
    let sealer = Sealer::new(master_key);
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url, sealer).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::open(url, sealer).await?))
    } else {
        Err(OpenError::UnsupportedUrl(redact_url(url)))
    }
}

/// A database URL with its password masked, for errors and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    /// The text a terminal shows for an error: its message and every `source()` below it, as
    /// `anyhow`'s `{:#}` prints them.
    fn printed(error: &(dyn std::error::Error + 'static)) -> String {
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(next) = cause {
            text = format!("{text}: {next}");
            cause = next.source();
        }
        text
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_opened_says_why_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/missing/folder/herald.db", dir.path().display());
        let error = super::open(&url, &[1; super::MASTER_KEY_LEN])
            .await
            .err()
            .expect("a database in a missing folder cannot be opened");
        let text = printed(&error);
        assert!(text.starts_with("cannot open the database: "), "{text}");
        assert_eq!(text.matches("unable to open database file").count(), 1, "{text}");
        assert_eq!(text.matches("error returned from database").count(), 1, "{text}");
    }

    #[tokio::test]
    async fn a_failed_query_says_its_cause_once() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("memory database");
        let failed = sqlx::query("SELECT * FROM no_such_table")
            .execute(&pool)
            .await
            .expect_err("no such table");
        let text = printed(&crate::sql::backend(failed));
        assert!(text.starts_with("database error: "), "{text}");
        assert_eq!(text.matches("no such table: no_such_table").count(), 1, "{text}");
    }

    #[test]
    fn database_passwords_are_masked() {
        assert_eq!(
            super::redact_url("postgres://herald:s3cret@db:5432/herald"),
            "postgres://herald:****@db:5432/herald"
        );
        assert_eq!(
            super::redact_url("sqlite://data/herald.db"),
            "sqlite://data/herald.db"
        );
    }
}
