//! Group commit: SQLite has one writer, and at a thousand messages a second the cost of each
//! write transaction (taking the lock, the commit, its pages in the WAL) is what limits. Small
//! message commits therefore queue; whoever gets the writer next writes every queued one in one
//! transaction. Should one of them fail, the group is rolled back and each is written alone, so
//! a bad message never takes the others down with it.

use super::SqliteStore;
use super::commit::{Frame, write_message, write_small_message};
use super::portable::messages::{Committed, MessageCommit};
use crate::sql::backend;
use herald_core::delivery::DeliveryPlan;
use herald_core::message::Message;
use herald_core::store::StoreResult;
use herald_core::{Millis, StoreError};
use tokio::sync::oneshot;

/// Messages with at most this many delivery rows share write transactions (group commit);
/// larger ones are worth a transaction of their own, and copying them would cost memory.
const GROUP_COMMIT_MAX_PLANS: usize = 256;

/// A small message commit waiting for the writer.
#[derive(Debug)]
pub(crate) struct PendingCommit {
    message: Message,
    inbox_users: Vec<String>,
    plans: Vec<DeliveryPlan>,
    lease_until: Option<Millis>,
    reply: oneshot::Sender<StoreResult<Committed>>,
}

impl SqliteStore {
    /// The message commit, leasing the push jobs to the caller when `lease_until` is given: a
    /// large message in a transaction of its own, a small one in its group's.
    pub(super) async fn commit(&self, commit: MessageCommit<'_>) -> StoreResult<Committed> {
        let MessageCommit {
            message,
            inbox_users,
            plans,
            lease_until,
        } = commit;
        if plans.len() > GROUP_COMMIT_MAX_PLANS {
            let mut tx = self.write().await?;
            let committed = write_message(&mut tx, message, inbox_users, plans, lease_until).await?;
            tx.commit().await.map_err(backend)?;
            return Ok(committed);
        }
        let (reply, answer) = oneshot::channel();
        self.commits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(PendingCommit {
                message: message.clone(),
                inbox_users: inbox_users.to_vec(),
                plans: plans.to_vec(),
                lease_until,
                reply,
            });
        let turn = self.writer.clone().lock_owned().await;
        let group = std::mem::take(
            &mut *self
                .commits
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if group.is_empty() {
            // Another caller's group took this commit. The turn goes back before waiting: should
            // that group fail, it retries its commits one by one, each needing the turn again.
            drop(turn);
        } else {
            // A task of its own: a caller that goes away (its client hung up) must not abort
            // the others' commits.
            let store = self.clone();
            let _ = tokio::spawn(async move { store.commit_group(turn, group).await }).await;
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Backend("the message commit was abandoned".into())))
    }

    /// Writes a group of small commits as one transaction. The transaction's `BEGIN` rides
    /// with the first message's statements and its `COMMIT` with the last one's, so a lone
    /// message (most of them, at a thousand a second) is one round trip to the connection's
    /// thread instead of three, and holds the writer that much shorter.
    async fn commit_group(&self, turn: tokio::sync::OwnedMutexGuard<()>, group: Vec<PendingCommit>) {
        let mut conn = match self.writes.acquire().await {
            Ok(conn) => conn,
            Err(error) => {
                let reason = error.to_string();
                for pending in group {
                    let _ = pending
                        .reply
                        .send(Err(StoreError::Backend(reason.clone().into())));
                }
                return;
            }
        };
        let last = group.len().saturating_sub(1);
        let mut written = Vec::with_capacity(group.len());
        for (i, p) in group.iter().enumerate() {
            let frame = Frame {
                begin: i == 0,
                commit: i == last,
            };
            match write_small_message(
                &mut conn,
                &p.message,
                &p.inbox_users,
                &p.plans,
                p.lease_until,
                frame,
            )
            .await
            {
                Ok(committed) => written.push(committed),
                Err(_) => break,
            }
        }
        let committed = written.len() == group.len();
        if !committed {
            // A failed statement (or commit) may leave the transaction open: end it before
            // anyone else writes. Should even that fail, the connection's state is unknown
            // (SQLite may have ended the transaction itself): it is given up, and the pool
            // opens a fresh one.
            if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                conn.close_on_drop();
            }
        }
        // The writer turn goes back before the commits are retried one by one below.
        drop(conn);
        drop(turn);
        if committed {
            for (pending, committed) in group.into_iter().zip(written) {
                let _ = pending.reply.send(Ok(committed));
            }
            return;
        }
        // One of them failed (or the commit did): each on its own, to give each its answer.
        for pending in group {
            let alone = async {
                let mut tx = self.write().await?;
                let committed = write_message(
                    &mut tx,
                    &pending.message,
                    &pending.inbox_users,
                    &pending.plans,
                    pending.lease_until,
                )
                .await?;
                tx.commit().await.map_err(backend)?;
                Ok(committed)
            };
            let _ = pending.reply.send(alone.await);
        }
    }
}
