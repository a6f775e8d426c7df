//! The KV buckets cluster presence keeps its state in.

use super::backend;
use async_nats::jetstream::kv;
use async_nats::jetstream::stream;
use herald_core::store::StoreResult;
use std::time::Duration;

/// Opens a KV bucket, creating it when missing. An existing bucket is used as it is, so
/// nodes configured with different TTLs still share one bucket.
///
/// The bucket's stream is created directly, with the settings a KV bucket has, because the
/// client's `create_key_value` first reads the account info, which it cannot parse from a
/// NATS 2.9 server.
pub(super) async fn open_bucket(
    js: &async_nats::jetstream::Context,
    bucket: String,
    description: &str,
    max_age: Duration,
) -> StoreResult<kv::Store> {
    if let Ok(store) = js.get_key_value(bucket.as_str()).await {
        return Ok(store);
    }
    let config = stream::Config {
        name: format!("KV_{bucket}"),
        description: Some(description.into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: stream::StorageType::File,
        num_replicas: 1,
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        ..Default::default()
    };
    let created = js.get_or_create_stream(config).await;
    match js.get_key_value(bucket).await {
        Ok(store) => Ok(store),
        Err(error) => Err(match created {
            Err(create) => backend(create),
            Ok(_) => backend(error),
        }),
    }
}
