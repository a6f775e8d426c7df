//! Retention on a real embedded store: what is older than the policy's ages goes, in batches,
//! and what is newer stays.

use herald_core::delivery::DeliveryPlan;
use herald_core::message::{Destination, Message, MessageKind, PushInfo};
use herald_core::routing::{Decision, Reason};
use herald_core::store::ProfileUpdate;
use herald_core::{Secret, Store, StoreError, now_millis};
use herald_engine::{Retention, RetentionPolicy};
use std::sync::Arc;

const APP: &str = "a1";
const DAY_MS: i64 = 86_400_000;

fn message(id: &str, created_at: i64) -> Message {
    Message {
        id: id.to_string(),
        app_id: APP.to_string(),
        from: "ana".to_string(),
        to: Destination::C2c {
            to: "bob".to_string(),
        },
        kind: MessageKind::Text,
        content: serde_json::json!({"text": id}),
        push: PushInfo::default(),
        attributes: serde_json::Map::new(),
        sender_nickname: None,
        group_name: None,
        created_at,
    }
}

#[tokio::test]
async fn messages_and_records_older_than_their_ages_are_deleted_and_newer_ones_kept() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
    let store: Arc<dyn Store> = herald_store::open(&url, &[7; herald_store::MASTER_KEY_LEN])
        .await
        .expect("open the store");
    store
        .create_app(APP, "chat", &Secret::new("app-secret".to_string()))
        .await
        .expect("app");
    for user in ["ana", "bob"] {
        store
            .upsert_user(APP, user, &ProfileUpdate::default())
            .await
            .expect("user");
    }
    let now = now_millis();
    // 1,200 messages of 40 days ago (more than one batch), 10 of 20 days ago, 5 of today.
    let ages = [(40, 1200), (20, 10), (0, 5)];
    for (days, count) in ages {
        for i in 0..count {
            let id = format!("m{days}-{i}");
            let record = DeliveryPlan {
                user_id: "bob".into(),
                device_id: "phone".into(),
                decision: Decision::Live,
                reason: Reason::OnlineInForeground,
                push: None,
            };
            store
                .commit_message(
                    &message(&id, now - days * DAY_MS),
                    &["bob".to_string()],
                    &[record],
                )
                .await
                .expect("commit");
        }
    }

    let retention = Retention::new(
        store.clone(),
        RetentionPolicy {
            message_days: 30,
            delivery_days: 0,
        },
    );
    let purged = retention.purge(now_millis()).await.expect("purge");
    assert_eq!((purged.messages, purged.inbox), (1200, 1200), "{purged:?}");
    assert_eq!(purged.deliveries, 0, "delivery records are kept forever here");
    assert!(matches!(
        store.get_message(APP, "m40-0").await,
        Err(StoreError::NotFound { .. })
    ));
    let inbox = store.inbox_after(APP, "bob", 0, 100).await.expect("inbox");
    assert_eq!(inbox.len(), 15, "the 20-day-old and today's messages stay");
    assert_eq!(
        store
            .message_deliveries(APP, "m40-0")
            .await
            .expect("records")
            .len(),
        1
    );

    // Delivery records kept 10 days, looked at 11 days from now (records carry the time they
    // were written: all of them are older than that by then). Messages are kept here.
    let records = Retention::new(
        store.clone(),
        RetentionPolicy {
            message_days: 0,
            delivery_days: 10,
        },
    );
    let purged = records.purge(now_millis() + 11 * DAY_MS).await.expect("purge");
    assert_eq!((purged.messages, purged.deliveries), (0, 1215), "{purged:?}");
    assert!(
        store
            .message_deliveries(APP, "m0-0")
            .await
            .expect("records")
            .is_empty()
    );
    assert_eq!(
        store.inbox_after(APP, "bob", 0, 100).await.expect("inbox").len(),
        15
    );
}
