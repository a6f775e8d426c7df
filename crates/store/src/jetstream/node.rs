//! Joining a cluster: the three shared services a scale-out node runs on, opened together.

use super::presence::NatsPresence;
use super::queue::JetStreamQueue;
use crate::postgres::PgStore;
use crate::{MASTER_KEY_LEN, OpenError, Sealer};
use herald_core::Store;
use herald_core::presence::ClusterPresence;
use herald_core::store::JobQueue;
use std::sync::Arc;
use std::time::Duration;

/// Where the cluster's state lives and who this node is.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `postgres://…`, shared by every node.
    pub database_url: String,
    /// `nats://…`, with JetStream enabled.
    pub nats_url: String,
    /// Prefix of the cluster's streams, buckets and subjects.
    pub cluster: String,
    /// This node's id (unique in the cluster).
    pub node_id: String,
    /// Heartbeat silence after which a node counts as dead.
    pub node_ttl: Duration,
    /// How long a job held by a node that stopped reporting it stays there before another
    /// node takes it (JetStream's ack wait): a live node reports its jobs three times per ack
    /// wait, so this can be as short as `node_ttl`.
    pub ack_wait: Duration,
    /// The longest a live node keeps a job before another node may take it all the same.
    pub hold: Duration,
}

/// The shared services of one node.
pub struct ClusterNode {
    /// PostgreSQL: everything Herald keeps.
    pub store: Arc<dyn Store>,
    /// JetStream: the push job queue (fed from the PostgreSQL outbox).
    pub queue: Arc<dyn JobQueue>,
    /// NATS: which node holds which device's live session.
    pub presence: Arc<dyn ClusterPresence>,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("node", &self.presence.node_id())
            .finish_non_exhaustive()
    }
}

/// Opens PostgreSQL (applying migrations), connects to NATS and joins the cluster.
pub async fn join(
    options: &ClusterOptions,
    master_key: &[u8; MASTER_KEY_LEN],
) -> Result<ClusterNode, OpenError> {
    if !(options.database_url.starts_with("postgres:") || options.database_url.starts_with("postgresql:")) {
        return Err(OpenError::Cluster(format!(
            "the scale-out mode keeps its state in PostgreSQL: set database_url to postgres://…, not `{}`",
            crate::redact_url(&options.database_url)
        )));
    }
    let pg = PgStore::open(&options.database_url, Sealer::new(master_key)).await?;
    let client = super::connect(&options.nats_url, &format!("herald {}", options.node_id)).await?;
    let queue = JetStreamQueue::connect(client.clone(), &options.cluster, pg.clone(), options.ack_wait)
        .await
        .map_err(|e| OpenError::Cluster(format!("JetStream job queue: {e}")))?
        .keep_held_jobs(options.ack_wait, options.hold);
    let presence = NatsPresence::connect(
        client,
        &options.cluster,
        options.node_id.clone(),
        options.node_ttl,
    )
    .await
    .map_err(|e| OpenError::Cluster(format!("cluster presence: {e}")))?;
    Ok(ClusterNode {
        store: Arc::new(pg),
        queue: Arc::new(queue),
        presence: Arc::new(presence),
    })
}
