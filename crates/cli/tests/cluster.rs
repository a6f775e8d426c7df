//! The scale-out mode as an operator runs it: three `herald serve` processes on one machine
//! sharing PostgreSQL and NATS JetStream. Devices on different nodes message each other live;
//! one node is SIGKILLed mid fan-out of 10,000 pushes and the others finish its work; the
//! killed node's devices count as offline and get pushes for new messages.
//!
//! Runs in the scale-out pass of the suite (`HERALD_TEST_BACKEND=cluster`, see `.ci/run`),
//! against PostgreSQL and NATS on 127.0.0.1 (`HERALD_TEST_POSTGRES_URL`,
//! `HERALD_TEST_NATS_URL`).

mod common;

use common::{AppCredentials, SandboxProcess, serve, user_token};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const MEMBERS: usize = 10_000;
const VENDORS: [&str; 7] = ["huawei", "honor", "xiaomi", "oppo", "vivo", "meizu", "fcm"];

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A phone connected to one node.
struct Phone(Socket);

impl Phone {
    async fn connect(base: &str, token: &str, device: &str) -> Self {
        let url = format!(
            "{}/v1/connect?device={device}&platform=android&token={token}",
            base.replace("http://", "ws://")
        );
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket");
        let mut phone = Self(socket);
        phone.send(json!({"type": "ping"})).await;
        phone.expect("pong").await;
        phone
    }

    async fn send(&mut self, frame: Value) {
        self.0
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .expect("send");
    }

    /// The next frame of a type, skipping others; panics after 10 s.
    async fn expect(&mut self, kind: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.0.next()).await {
                Ok(Some(Ok(WsMessage::Text(text)))) => {
                    let frame: Value = serde_json::from_str(text.as_str()).expect("json frame");
                    if frame["type"] == kind {
                        return frame;
                    }
                }
                Ok(Some(Ok(_))) => {}
                other => panic!("no `{kind}` frame arrived: {other:?}"),
            }
        }
    }
}

struct Cluster {
    env: Vec<(&'static str, String)>,
    data: std::path::PathBuf,
}

impl Cluster {
    fn node(&self, name: &str, port: u16) -> (common::Killed, Option<String>) {
        let mut env = self.env.clone();
        env.push(("HERALD_NODE_ID", name.to_string()));
        serve(port, &self.data.join(name), &env)
    }
}

async fn bind(http: &reqwest::Client, base: &str, token: &str, device: &str, vendor: &str, push_token: &str) {
    let bound = http
        .put(format!("{base}/v1/me/devices/{device}/push-token"))
        .bearer_auth(token)
        .json(&json!({"certificate_name": format!("sandbox-{vendor}"), "token": push_token, "platform": "android"}))
        .send()
        .await
        .expect("bind");
    assert!(bound.status().is_success());
}

/// The delivery record of `user`'s device for a message.
async fn delivery_of(
    http: &reqwest::Client,
    base: &str,
    app: &AppCredentials,
    message: &str,
    user: &str,
) -> Value {
    let body: Value = http
        .get(format!("{base}/v1/apps/{}/messages/{message}/deliveries", app.id))
        .basic_auth(&app.id, Some(&app.secret))
        .send()
        .await
        .expect("deliveries")
        .json()
        .await
        .expect("json");
    body["deliveries"]
        .as_array()
        .and_then(|list| list.iter().find(|d| d["user_id"] == user).cloned())
        .unwrap_or(Value::Null)
}

async fn send_as(http: &reqwest::Client, base: &str, token: &str, to: &str, text: &str) -> Value {
    http.post(format!("{base}/v1/me/messages"))
        .bearer_auth(token)
        .json(&json!({"to": to, "kind": "text", "content": {"text": text}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

/// The database and NATS streams of the run, removed when the test ends, whether it passed or
/// panicked, so a failed run leaves nothing behind on the shared services.
struct SharedResources {
    admin_url: String,
    nats_url: String,
    name: String,
}

impl SharedResources {
    /// Removes them now, failing the test if that fails.
    async fn remove(self) {
        herald_store::jetstream::remove_cluster(&self.nats_url, &self.name)
            .await
            .expect("remove the cluster's streams");
        herald_store::postgres::drop_database(&self.admin_url, &self.name)
            .await
            .expect("drop the database");
        std::mem::forget(self);
    }
}

impl Drop for SharedResources {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime: clean up from a thread with a runtime of its own.
        let (admin_url, nats_url, name) = (self.admin_url.clone(), self.nats_url.clone(), self.name.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async {
                let _ = herald_store::jetstream::remove_cluster(&nats_url, &name).await;
                let _ = herald_store::postgres::drop_database(&admin_url, &name).await;
            });
        });
        let _ = cleanup.join();
    }
}

async fn three_nodes_share_live_delivery_and_finish_a_killed_nodes_fan_out() {
    let dir = tempfile::tempdir().expect("dir");
    let sandbox = SandboxProcess::start(&dir.path().join("sandbox")).await;
    let http = reqwest::Client::new();
    let admin_url = herald_testkit::services::postgres_url();
    let name = format!(
        "herald_c{:08x}",
        std::process::id() ^ (Instant::now().elapsed().subsec_nanos())
    );
    let database_url = herald_store::postgres::create_database(&admin_url, &name)
        .await
        .expect("fresh database");
    let nats_url = herald_testkit::services::nats_url();
    let shared = SharedResources {
        admin_url: admin_url.clone(),
        nats_url: nats_url.clone(),
        name: name.clone(),
    };
    // Every node of a cluster shares one master key: the secrets they seal are one store's.
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, "ab".repeat(32)).expect("key");
    // The operator's way: one `cluster.toml` for every node (`herald serve --config`).
    let config_file = dir.path().join("cluster.toml");
    std::fs::write(
        &config_file,
        format!(
            "database_url = {database_url:?}\nnats_url = {nats_url:?}\ncluster_name = {name:?}\n\
             master_key_file = {:?}\n",
            key_file.display().to_string()
        ),
    )
    .expect("cluster.toml");
    let cluster = Cluster {
        env: vec![
            ("HERALD_CONFIG", config_file.display().to_string()),
            ("HERALD_TRUSTED_CA_FILE", sandbox.ca.display().to_string()),
            ("HERALD_NODE_TTL_SECONDS", "3".into()),
            // A lease longer than the test may wait: the killed node's jobs must move on
            // once it counts as dead (the node TTL), not after the lease.
            ("HERALD_DISPATCH_LEASE_SECONDS", "600".into()),
        ],
        data: dir.path().to_path_buf(),
    };
    let ports = [
        common::free_port_block(1),
        common::free_port_block(1),
        common::free_port_block(1),
    ];
    let (node_a, admin) = cluster.node("node-a", ports[0]);
    let admin = admin.expect("the first node prints the admin token");
    let (node_b, again) = cluster.node("node-b", ports[1]);
    assert!(again.is_none(), "the admin token is issued once per cluster");
    let (node_c, _) = cluster.node("node-c", ports[2]);
    let bases: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let (a, b, c) = (&bases[0], &bases[1], &bases[2]);

    let app = common::app_with_certificates(&http, a, &admin, &sandbox, &VENDORS).await;

    // Live across nodes: alice on A, bob on B, carol on C.
    let alice = user_token(&http, a, &app, "alice").await;
    let bob = user_token(&http, b, &app, "bob").await;
    let carol = user_token(&http, c, &app, "carol").await;
    bind(&http, c, &carol, "carol-phone", "fcm", "fcm-carol-token").await;
    let mut alice_phone = Phone::connect(a, &alice, "alice-phone").await;
    let mut bob_phone = Phone::connect(b, &bob, "bob-phone").await;
    let _carol_phone = Phone::connect(c, &carol, "carol-phone").await;
    // Presence reaches the other nodes through NATS within moments.
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let sent = send_as(&http, b, &bob, "alice", "hello from node B").await;
        let record = delivery_of(&http, b, &app, sent["message_id"].as_str().expect("id"), "alice").await;
        if record["decision"] == "live" {
            break sent;
        }
        assert!(
            Instant::now() < deadline,
            "node B never saw alice online on node A: {record}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let frame = loop {
        let frame = alice_phone.expect("message").await;
        if frame["message"]["id"] == first["message_id"] {
            break frame;
        }
    };
    assert_eq!(frame["message"]["content"]["text"], "hello from node B");
    alice_phone
        .send(json!({"type": "send", "ref": "r1", "to": "bob", "kind": "text", "content": {"text": "hi bob, from A"}}))
        .await;
    alice_phone.expect("sent").await;
    // Bob's phone first sees copies of what bob sent from the API, then alice's message.
    loop {
        let frame = bob_phone.expect("message").await;
        if frame["message"]["from"] == "alice" {
            assert_eq!(frame["message"]["content"]["text"], "hi bob, from A");
            break;
        }
    }
    let to_carol = send_as(&http, a, &alice, "carol", "carol is on node C").await;
    let record = delivery_of(
        &http,
        a,
        &app,
        to_carol["message_id"].as_str().expect("id"),
        "carol",
    )
    .await;
    assert_eq!(
        record["decision"], "live",
        "carol is connected to node C: {record}"
    );

    // 10,000 members bound through all three nodes; the fan-out starts on node A and node C
    // is SIGKILLed once a fifth of the pushes went out, when every node is busy with its share.
    common::members_in_a_group(&http, &bases, &app, MEMBERS, &VENDORS).await;
    let message_id = common::send_to_everyone(&http, a, &app, MEMBERS).await;
    let waiting = Instant::now();
    let delivered_before = loop {
        let n = sandbox.delivered(&http).await;
        if n as usize >= MEMBERS / 5 || waiting.elapsed() > Duration::from_secs(30) {
            drop(node_c); // SIGKILL
            break n;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(delivered_before > 0, "no push went out before the kill");
    assert!(
        (delivered_before as usize) < MEMBERS,
        "the fan-out finished before the kill"
    );

    let deliveries = common::final_deliveries(&http, b, &app, &message_id, Duration::from_secs(180)).await;
    assert_eq!(deliveries.len(), MEMBERS);
    let not_accepted: Vec<_> = deliveries.iter().filter(|d| d["state"] != "accepted").collect();
    assert!(
        not_accepted.is_empty(),
        "{} deliveries not accepted, e.g. {:?}",
        not_accepted.len(),
        not_accepted.first()
    );
    let duplicates = common::count_receipts(&http, &sandbox, MEMBERS, &VENDORS).await;
    // Only the killed node's unrecorded pushes are sent twice: at most its dispatch window
    // (the default, 1,000). The live nodes keep their jobs while they report them, even
    // though the ack wait is the 3 s node TTL.
    assert!(
        duplicates <= 1000,
        "{duplicates} duplicates: more than the killed node's dispatch window"
    );

    // Carol's node is gone: once its heartbeat times out she counts as offline and a new
    // message is pushed to her phone instead of being delivered live.
    let deadline = Instant::now() + Duration::from_secs(20);
    let pushed = loop {
        let sent = send_as(&http, a, &alice, "carol", "carol, your node died").await;
        let id = sent["message_id"].as_str().expect("id").to_string();
        let record = delivery_of(&http, a, &app, &id, "carol").await;
        if record["decision"] == "push" {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "carol still counts as online: {record}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let record = delivery_of(&http, b, &app, &pushed, "carol").await;
        if record["state"] == "accepted" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "carol's push was not accepted: {record}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let carol_inbox = sandbox.inbox_counts(&http, "fcm").await;
    assert!(
        carol_inbox.get("fcm-carol-token").copied().unwrap_or(0) >= 1,
        "carol's phone got the push"
    );
    drop((node_a, node_b));
    // The run leaves nothing on the shared services.
    shared.remove().await;
    println!(
        "cluster test: 3 nodes, {MEMBERS} pushes, {delivered_before} delivered before node C was killed, every device got its push; \
         duplicates {duplicates} ({:.2} %)",
        duplicates as f64 * 100.0 / MEMBERS as f64
    );
}

/// The scale-out mode's test: it runs with `HERALD_TEST_BACKEND=cluster`, as `.ci/run` does.
fn requirement() -> herald_testkit::Requirement {
    if std::env::var("HERALD_TEST_BACKEND").map_or(true, |b| b != "cluster") {
        return herald_testkit::Requirement::OtherMode(
            "it runs with HERALD_TEST_BACKEND=cluster (PostgreSQL and NATS)".into(),
        );
    }
    herald_testkit::Requirement::service(herald_testkit::services::nats_and_postgres())
}

fn main() -> std::process::ExitCode {
    herald_testkit::run(
        "cluster",
        requirement(),
        herald_testkit::async_tests![three_nodes_share_live_delivery_and_finish_a_killed_nodes_fan_out,],
    )
}
