//! The scale-out pieces that live in NATS: state every node must see at once (who holds which
//! device's live session) and work any node may take, kept out of PostgreSQL because it
//! changes far too often to be worth a row write each time.

pub mod presence;
pub mod queue;

mod node;

pub use node::{ClusterNode, ClusterOptions, join};

use herald_core::StoreError;
use herald_core::store::StoreResult;

/// A cluster name as NATS stream, bucket and subject names allow it: every character other
/// than ASCII letters, digits, `-` and `_` becomes `_`. Every name below derives from it.
pub(crate) fn nats_name(cluster: &str) -> String {
    cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The cluster's job stream.
pub fn jobs_stream(cluster: &str) -> String {
    format!("{}_JOBS", nats_name(cluster).to_uppercase())
}

/// The cluster's dead-letter stream.
pub fn dead_letter_stream(cluster: &str) -> String {
    format!("{}_DEAD", nats_name(cluster).to_uppercase())
}

/// The cluster's presence buckets: device → node, and node heartbeats.
pub(crate) fn presence_buckets(cluster: &str) -> [String; 2] {
    let name = nats_name(cluster);
    [format!("{name}_presence"), format!("{name}_nodes")]
}

/// An empty stream that [`remove_cluster`] leaves in the account, so that deleting a cluster's
/// streams never deletes the account's last one: NATS 2.9 then removes the account's stream
/// folder, and a stream another cluster creates at that moment fails ("could not create
/// storage directory", 10077).
const ANCHOR_STREAM: &str = "HERALD_ANCHOR";

/// Deletes a cluster's streams and buckets (a test cluster, or a decommissioned one whose
/// nodes are stopped). Missing ones are skipped.
pub async fn remove_cluster(nats_url: &str, cluster: &str) -> StoreResult<()> {
    let client = async_nats::connect(nats_url)
        .await
        .map_err(|e| StoreError::Backend(e.to_string().into()))?;
    let js = async_nats::jetstream::new(client);
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: ANCHOR_STREAM.into(),
        subjects: vec!["herald-anchor.unused".into()],
        storage: async_nats::jetstream::stream::StorageType::File,
        max_messages: 1,
        ..Default::default()
    })
    .await
    .map_err(|e| StoreError::Backend(e.to_string().into()))?;
    let buckets = presence_buckets(cluster).map(|bucket| format!("KV_{bucket}"));
    for stream in [jobs_stream(cluster), dead_letter_stream(cluster)]
        .into_iter()
        .chain(buckets)
    {
        match js.delete_stream(&stream).await {
            Ok(_) => {}
            Err(error) if error.to_string().contains("not found") => {}
            Err(error) => return Err(StoreError::Backend(error.to_string().into())),
        }
    }
    Ok(())
}
