//! The embedded store: one SQLite file in WAL mode. Writes that touch several rows run in one
//! `BEGIN IMMEDIATE` transaction, so they either all land or none does, and every write goes
//! through one writing connection, its writers queued in arrival order in-process.
//!
//! The roles whose SQL both databases share are in `src/portable/`, compiled here against
//! [`SqliteStore`]; this folder holds what is SQLite's own: the pool and the writers' queue
//! (here), `dialect.rs`, the message commit (`commit.rs`) and its group commit
//! (`group_commit.rs`), `recipients.rs`, the job queue (`jobs.rs`) and `checkpoint.rs`.

mod checkpoint;
mod commit;
mod dialect;
mod group_commit;
mod jobs;
mod owner;
#[path = "../portable/mod.rs"]
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
mod portable;
mod recipients;

use crate::Sealer;
use crate::sql::backend;
use herald_core::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The store the portable roles (`src/portable/`) are compiled for here.
type Backend = SqliteStore;
/// The database the portable roles' statements run on here.
type Db = Sqlite;

/// Herald's store on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Connections for reads.
    pool: SqlitePool,
    /// The one connection that writes. Its own page cache stays valid between its writes,
    /// and a writer never waits for a connection behind a crowd of readers.
    writes: SqlitePool,
    sealer: Sealer,
    /// Queue of this process's writers (see [`SqliteStore::write`]).
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Small message commits waiting to be written together (group commit).
    commits: std::sync::Arc<std::sync::Mutex<Vec<group_commit::PendingCommit>>>,
    /// Copies the write-ahead log into the database while commits go on.
    _checkpointer: std::sync::Arc<checkpoint::Checkpointer>,
    /// This process's ownership of the database file (see `owner`).
    _owner: std::sync::Arc<Option<owner::OwnerLock>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn open(url: &str, sealer: Sealer) -> Result<Self, crate::OpenError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // No commit copies the log back; the checkpoint task does (see `checkpoint`).
            .pragma("wal_autocheckpoint", "0");
        // No ping before each use: the database is a local file, and the ping is one more
        // round trip to the connection's thread on every statement.
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        // After the first connection, so that a database that cannot be opened says so itself.
        let owner = owner::lock(options.get_filename())?;
        sqlx::migrate!("migrations/sqlite").run(&writes).await?;
        sqlx::query(owner::VOID_LEASES).execute(&writes).await?;
        // Each connection is a thread of its own: more readers than cores only add thread
        // switches (with 8 on 2 cores, p50 of a push at 1,000 msg/s was 41 ms; with 3, 5 ms).
        let readers = std::thread::available_parallelism()
            .map(|n| n.get() + 1)
            .unwrap_or(3)
            .clamp(2, 16);
        let pool = SqlitePoolOptions::new()
            .max_connections(u32::try_from(readers).unwrap_or(3))
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let writer = std::sync::Arc::default();
        let checkpointer = checkpoint::Checkpointer::start(&options, std::sync::Arc::clone(&writer)).await?;
        let store = Self {
            pool,
            writes,
            sealer,
            writer,
            commits: std::sync::Arc::default(),
            _checkpointer: std::sync::Arc::new(checkpointer),
            _owner: std::sync::Arc::new(owner),
        };
        store.check_master_key().await?;
        Ok(store)
    }

    /// A write transaction that takes the database's write lock up front.
    ///
    /// Writers first queue on an in-process lock, in arrival order. SQLite's own busy handler
    /// makes a waiting writer sleep and poll with growing pauses, so under a steady stream of
    /// message commits a dispatcher's claim could wait behind writer after writer (seconds
    /// of latency with the cores half idle); a fair queue hands the lock over at once.
    async fn write(&self) -> Result<WriteTx, StoreError> {
        let turn = self.writer.clone().lock_owned().await;
        let tx = self.writes.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
        Ok(WriteTx { tx, _turn: turn })
    }

    /// The writing connection, for one statement that is a transaction by itself.
    async fn writer(&self) -> Result<WriteConn, StoreError> {
        let turn = self.writer.clone().lock_owned().await;
        let conn = self.writes.acquire().await.map_err(backend)?;
        Ok(WriteConn { conn, _turn: turn })
    }
}

/// A write transaction holding this process's writer turn until it ends.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    /// Commits and gives the writer turn to the next in line.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// The writing connection, outside a transaction, holding this process's writer turn.
pub(crate) struct WriteConn {
    conn: sqlx::pool::PoolConnection<Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl std::ops::Deref for WriteConn {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}
