//! Copies the write-ahead log back into the database file in the background.
//!
//! SQLite's automatic checkpoint runs inside whichever commit takes the log past 1,000 pages:
//! that commit copies the log into the database and syncs the file, and every writer queued
//! behind it waits those milliseconds (at 1,000 messages/s this was most of the p99 latency
//! from send to vendor). So the connections are opened with the automatic checkpoint off, and
//! a task of the store runs a `PASSIVE` checkpoint on a connection of its own a few times a
//! second. A passive checkpoint never takes the write lock: commits go on while it copies.
//! Once the log is long, the frames written during the last copy are copied with writes held
//! (a short pause, most of the log being copied already), so that the log starts over.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the log is copied back. Shorter keeps the log (and the readers' walk through
/// it) small; each checkpoint that finds new pages costs one sync of the database file.
const INTERVAL: Duration = Duration::from_millis(100);

/// Log frames (pages) past which the log is brought to a full stop. SQLite starts the log
/// over from its beginning only when a write finds every frame copied, which steady writes
/// beside a passive checkpoint never allow: the file would grow without end (861 MiB in a
/// benchmark of 30,000 pushes and 10,000 messages).
pub(crate) const RESTART_FRAMES: i64 = 4096;

/// The background checkpoint task; it stops when the store's last handle is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    task: JoinHandle<()>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Stopping mid-checkpoint is safe: SQLite finishes or undoes it like after a crash,
        // and closing the last connection checkpoints what is left.
        self.task.abort();
    }
}

impl Checkpointer {
    /// Opens the checkpoint connection and starts the task. `writer` is the store's queue of
    /// writers: holding it keeps writes out while the last frames are copied.
    pub(crate) async fn start(
        options: &SqliteConnectOptions,
        writer: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Self, sqlx::Error> {
        let mut conn = SqliteConnection::connect_with(options).await?;
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let copied = match checkpoint(&mut conn).await {
                    Ok(frames) if frames >= RESTART_FRAMES => {
                        // Nearly all of it is copied now; the few frames written meanwhile are
                        // copied with writes held, so that the next write starts the log over.
                        let _turn = writer.lock().await;
                        checkpoint(&mut conn).await
                    }
                    other => other,
                };
                if let Err(error) = copied {
                    tracing::warn!(%error, "Copying the write-ahead log into the database failed; will retry.");
                }
            }
        });
        Ok(Self { task })
    }
}

/// One passive checkpoint; returns how many frames the log holds.
async fn checkpoint(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *conn)
        .await?;
    row.try_get(1)
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use crate::Sealer;
    use std::path::Path;
    use std::time::{Duration, Instant};

    /// A store on the database file `name` in `dir`.
    async fn open(dir: &Path, name: &str) -> SqliteStore {
        let url = format!("sqlite://{}", dir.join(name).display());
        SqliteStore::open(&url, Sealer::new(&[7u8; 32]))
            .await
            .expect("store")
    }

    /// With the automatic checkpoint off, committed pages would stay in the log for as long
    /// as the store is open; the task must copy them into the database file meanwhile.
    #[tokio::test]
    async fn committed_pages_reach_the_database_file_while_the_store_stays_open() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ckpt.db");
        let store = open(dir.path(), "ckpt.db").await;
        let marker = "a-marker-only-this-test-writes";
        sqlx::query("CREATE TABLE probe (text TEXT NOT NULL); INSERT INTO probe (text) VALUES ($1)")
            .bind(marker)
            .execute(&store.writes)
            .await
            .expect("write");
        let in_file = || {
            let bytes = std::fs::read(&path).expect("database file");
            bytes.windows(marker.len()).any(|w| w == marker.as_bytes())
        };
        let wal = std::fs::read(dir.path().join("ckpt.db-wal")).expect("log file");
        assert!(
            wal.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "the commit goes to the log first"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while !in_file() {
            assert!(
                Instant::now() < deadline,
                "the committed row never reached the database file"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(store);
    }

    /// Steady writes (with reads beside them) must not grow the log without end: once it is
    /// long, the task lets it start over. How far past the limit the log gets depends on how
    /// much the test writes per tick of the task and during its copy (one run reached 34 MB
    /// with a 16 MiB limit), so the check is that it started over, read from the log's own
    /// header, and that its file stayed well short of what was written.
    #[tokio::test]
    async fn the_log_starts_over_under_steady_writes() {
        let dir = tempfile::tempdir().expect("dir");
        let store = open(dir.path(), "steady.db").await;
        let wal = dir.path().join("steady.db-wal");
        sqlx::query("CREATE TABLE probe (data BLOB NOT NULL)")
            .execute(&mut *store.writer().await.expect("writer"))
            .await
            .expect("table");
        let page = 4096_i64;
        let limit = super::RESTART_FRAMES * page;
        let row = vec![7u8; 64 * 1024];
        let mut written = 0_i64;
        let mut largest = 0_u64;
        // Eight times the length at which the log is to start over.
        while written < 8 * limit {
            let mut tx = store.write().await.expect("write");
            sqlx::query("INSERT INTO probe (data) VALUES ($1)")
                .bind(&row)
                .execute(&mut *tx)
                .await
                .expect("insert");
            tx.commit().await.expect("commit");
            sqlx::query("SELECT count(*) FROM probe")
                .fetch_one(&store.pool)
                .await
                .expect("read");
            written += row.len() as i64;
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        assert!(
            restarts(&wal) >= 1,
            "the log never started over while {written} bytes were written"
        );
        assert!(
            largest < u64::try_from(written / 2).unwrap_or(u64::MAX),
            "the log grew to {largest} bytes while {written} were written"
        );
    }

    /// How many times the log has started over: the checkpoint sequence number of its header
    /// (bytes 12..16, big-endian), which SQLite raises each time it writes the log anew.
    fn restarts(wal: &Path) -> u32 {
        let bytes = std::fs::read(wal).expect("log file");
        u32::from_be_bytes(bytes[12..16].try_into().expect("header"))
    }
}
