//! Cluster presence against a real NATS server (JetStream enabled): several nodes in one
//! process, each with its own connection. `HERALD_TEST_NATS_URL` names the server
//! (default `nats://127.0.0.1:4222`, else one started for the tests, else the tests are reported
//! as ignored); every test uses its own cluster name.

use herald_core::presence::{ClusterPresence, DeviceKey, SessionSignal};
use herald_store::jetstream::presence::NatsPresence;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

type Delivered = mpsc::UnboundedReceiver<(DeviceKey, SessionSignal)>;

/// Long enough for a slow CI machine, short enough to fail fast.
const DEADLINE: Duration = Duration::from_secs(15);

fn nats_url() -> String {
    herald_testkit::services::nats_url()
}

async fn client() -> async_nats::Client {
    async_nats::connect(nats_url()).await.expect("NATS is reachable")
}

/// A fresh cluster name, so runs on a shared server never meet; `remove` deletes its buckets.
struct Cluster(String);

impl Cluster {
    fn new() -> Self {
        Cluster(format!("herald_test_{:016x}", rand::thread_rng().r#gen::<u64>()))
    }

    async fn remove(self) {
        let _ = herald_store::jetstream::remove_cluster(&nats_url(), &self.0).await;
    }
}

async fn node(cluster: &Cluster, id: &str, ttl: Duration) -> (NatsPresence, Delivered) {
    let presence = NatsPresence::connect(client().await, &cluster.0, id.into(), ttl)
        .await
        .expect("connect");
    let (tx, rx) = mpsc::unbounded_channel();
    presence
        .start(Arc::new(move |key, signal| {
            let _ = tx.send((key, signal));
        }))
        .await
        .expect("start");
    (presence, rx)
}

/// Polls until the condition holds or the deadline passes.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next(delivered: &mut Delivered) -> (DeviceKey, SessionSignal) {
    tokio::time::timeout(DEADLINE, delivered.recv())
        .await
        .expect("a signal in time")
        .expect("channel open")
}

fn close() -> SessionSignal {
    SessionSignal::Close {
        reason: "replaced by a newer login of this device".into(),
    }
}

const TTL: Duration = Duration::from_secs(30);

async fn a_device_announced_on_one_node_is_reachable_from_another() {
    let cluster = Cluster::new();
    let (a, mut a_got) = node(&cluster, "node-a", TTL).await;
    let (b, _b_got) = node(&cluster, "node-b", TTL).await;
    let phone = DeviceKey::new("app1", "alice", "phone");
    // Ids with characters KV keys forbid.
    let odd = DeviceKey::new("app.1", "bob smith", "tab*let>/é");

    a.announce(&phone).await.expect("announce");
    a.announce(&odd).await.expect("announce");
    eventually("b sees the phone on a", || b.held_elsewhere(&phone)).await;
    eventually("b sees the tablet on a", || b.held_elsewhere(&odd)).await;
    assert!(!a.held_elsewhere(&phone), "a holds it itself");
    assert!(!b.held_elsewhere(&DeviceKey::new("app1", "alice", "laptop")));

    let frame = SessionSignal::Frame {
        text: r#"{"type":"message"}"#.into(),
    };
    assert!(b.forward(&odd, frame.clone()).await.expect("forward"));
    assert_eq!(next(&mut a_got).await, (odd.clone(), frame));
    assert!(
        !a.forward(&phone, close()).await.expect("forward"),
        "nothing to forward to"
    );

    a.withdraw(&phone).await.expect("withdraw");
    eventually("the phone is gone", || !b.held_elsewhere(&phone)).await;
    assert!(!b.forward(&phone, close()).await.expect("forward"));
    assert!(b.held_elsewhere(&odd), "the other device stays");

    // A kick from another node ends the session and its entry.
    let kick = SessionSignal::Close {
        reason: "kicked".into(),
    };
    assert!(b.forward(&odd, kick.clone()).await.expect("forward"));
    assert_eq!(next(&mut a_got).await, (odd.clone(), kick));
    eventually("the kicked tablet is gone", || !b.held_elsewhere(&odd)).await;

    a.leave().await.expect("leave");
    b.leave().await.expect("leave");
    cluster.remove().await;
}

async fn a_node_that_leaves_takes_its_devices_along_at_once() {
    let cluster = Cluster::new();
    let (a, _a_got) = node(&cluster, "node-a", TTL).await;
    let (b, _b_got) = node(&cluster, "node-b", TTL).await;
    let phone = DeviceKey::new("app1", "alice", "phone");
    a.announce(&phone).await.expect("announce");
    eventually("b sees a's session", || b.held_elsewhere(&phone)).await;

    // Well within the TTL: the leave, not a timeout, removes it.
    a.leave().await.expect("leave");
    eventually("a's devices are gone", || !b.held_elsewhere(&phone)).await;
    let js = async_nats::jetstream::new(client().await);
    let bucket = js
        .get_key_value(format!("{}_presence", cluster.0))
        .await
        .expect("bucket");
    assert_eq!(bucket.get("app1.alice.phone").await.expect("get"), None);

    b.leave().await.expect("leave");
    cluster.remove().await;
}

async fn a_newer_login_on_another_node_closes_the_old_session() {
    let cluster = Cluster::new();
    let (a, mut a_got) = node(&cluster, "node-a", TTL).await;
    let (b, mut b_got) = node(&cluster, "node-b", TTL).await;
    let phone = DeviceKey::new("app1", "alice", "phone");

    a.announce(&phone).await.expect("announce");
    eventually("b sees a's session", || b.held_elsewhere(&phone)).await;
    b.announce(&phone).await.expect("announce");
    assert_eq!(next(&mut a_got).await, (phone.clone(), close()));
    eventually("a sees b's session", || a.held_elsewhere(&phone)).await;
    assert!(!b.held_elsewhere(&phone));

    // The old session ends afterwards: its withdraw must not remove the new one.
    a.withdraw(&phone).await.expect("withdraw");
    let (c, _c_got) = node(&cluster, "node-c", TTL).await;
    assert!(c.held_elsewhere(&phone), "b still holds it");
    assert!(a.held_elsewhere(&phone));
    assert!(a_got.try_recv().is_err(), "a's session was closed once");
    assert!(b_got.try_recv().is_err(), "b's session stays open");

    for node in [a, b, c] {
        node.leave().await.expect("leave");
    }
    cluster.remove().await;
}

async fn a_node_started_later_knows_the_existing_sessions_at_once() {
    let cluster = Cluster::new();
    let (a, _a_got) = node(&cluster, "node-a", TTL).await;
    let keys: Vec<DeviceKey> = (0..50)
        .map(|i| DeviceKey::new("app1", &format!("user{i}"), "phone"))
        .collect();
    for key in &keys {
        a.announce(key).await.expect("announce");
    }
    let (late, _late_got) = node(&cluster, "node-late", TTL).await;
    for key in &keys {
        assert!(late.held_elsewhere(key), "{key:?} known when start returns");
    }
    a.leave().await.expect("leave");
    late.leave().await.expect("leave");
    cluster.remove().await;
}

async fn a_node_that_stops_heartbeating_loses_its_devices() {
    let ttl = Duration::from_secs(2);
    let cluster = Cluster::new();
    let (a, _a_got) = node(&cluster, "node-a", ttl).await;
    let (b, _b_got) = node(&cluster, "node-b", ttl).await;
    let phone = DeviceKey::new("app1", "alice", "phone");
    a.announce(&phone).await.expect("announce");
    eventually("b sees a's session", || b.held_elsewhere(&phone)).await;

    // A crash: no leave, the heartbeat just stops.
    let crashed = tokio::time::Instant::now();
    drop(a);
    eventually("a timed out", || !b.held_elsewhere(&phone)).await;
    assert!(
        crashed.elapsed() >= ttl / 3,
        "a counted as dead before missing heartbeats"
    );
    assert!(!b.forward(&phone, close()).await.expect("forward"));

    // After twice the TTL a survivor deletes the dead node's entries.
    let js = async_nats::jetstream::new(client().await);
    let bucket = js
        .get_key_value(format!("{}_presence", cluster.0))
        .await
        .expect("bucket");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while bucket.get("app1.alice.phone").await.expect("get").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stale entry never deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.leave().await.expect("leave");
    cluster.remove().await;
}

async fn a_node_restarted_under_the_same_id_drops_its_old_entries() {
    let cluster = Cluster::new();
    let (a, _a_got) = node(&cluster, "node-a", TTL).await;
    let (b, _b_got) = node(&cluster, "node-b", TTL).await;
    let phone = DeviceKey::new("app1", "alice", "phone");
    a.announce(&phone).await.expect("announce");
    eventually("b sees a's session", || b.held_elsewhere(&phone)).await;

    drop(a);
    let (a_again, _a_again_got) = node(&cluster, "node-a", TTL).await;
    eventually("the old session is forgotten", || !b.held_elsewhere(&phone)).await;

    a_again.leave().await.expect("leave");
    b.leave().await.expect("leave");
    cluster.remove().await;
}

fn main() -> std::process::ExitCode {
    herald_testkit::run(
        "nats_presence",
        herald_testkit::Requirement::service(herald_testkit::services::nats().map(drop)),
        herald_testkit::async_tests![
            a_device_announced_on_one_node_is_reachable_from_another,
            a_node_that_leaves_takes_its_devices_along_at_once,
            a_newer_login_on_another_node_closes_the_old_session,
            a_node_started_later_knows_the_existing_sessions_at_once,
            a_node_that_stops_heartbeating_loses_its_devices,
            a_node_restarted_under_the_same_id_drops_its_old_entries,
        ],
    )
}
