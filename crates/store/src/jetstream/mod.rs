//! The scale-out pieces that live in NATS: state every node must see at once (who holds which
//! device's live session) and work any node may take, kept out of PostgreSQL because it
//! changes far too often to be worth a row write each time.

pub mod presence;
pub mod queue;

mod node;

pub use node::{ClusterNode, ClusterOptions, join};

use crate::{OpenError, redact_url};
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

/// Connects to the NATS server at `url` as `client_name` and checks that it runs JetStream.
/// Without the check, a server started without `-js` fails the first stream call with
/// "jetstream error: …", which does not say what to change.
pub async fn connect(url: &str, client_name: &str) -> Result<async_nats::Client, OpenError> {
    let client = async_nats::ConnectOptions::new()
        .name(client_name)
        .connect(url)
        .await
        .map_err(|e| OpenError::Cluster(format!("cannot reach NATS at {}: {e}", redact_url(url))))?;
    require_jetstream(&client, url).await?;
    Ok(client)
}

/// The JetStream error code of an account without JetStream ("jetstream not enabled for
/// account").
const JETSTREAM_NOT_ENABLED_FOR_ACCOUNT: u64 = 10039;

/// Asks the JetStream API for its account info: a server without JetStream has no responder
/// on that subject, and an account without it answers with error 10039. The answer's body is
/// not read further (the client cannot parse a NATS 2.9 account info).
async fn require_jetstream(client: &async_nats::Client, url: &str) -> Result<(), OpenError> {
    let url = redact_url(url);
    match client.request("$JS.API.INFO", Default::default()).await {
        Ok(answer) => {
            let info: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap_or_default();
            match info.get("error") {
                None => Ok(()),
                Some(error) if error["err_code"].as_u64() == Some(JETSTREAM_NOT_ENABLED_FOR_ACCOUNT) => {
                    Err(OpenError::Cluster(format!(
                        "NATS at {url} has JetStream disabled for this client's account: enable \
                         jetstream in the account's configuration"
                    )))
                }
                Some(error) => Err(OpenError::Cluster(format!(
                    "NATS at {url} refused the JetStream API: {}",
                    error["description"].as_str().unwrap_or("no description")
                ))),
            }
        }
        Err(error) if error.kind() == async_nats::RequestErrorKind::NoResponders => {
            Err(OpenError::Cluster(format!(
                "NATS at {url} has JetStream disabled: start nats-server with -js (or jetstream {{}} in \
                 its config)"
            )))
        }
        Err(error) => Err(OpenError::Cluster(format!(
            "NATS at {url} did not answer a JetStream request: {error}"
        ))),
    }
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
