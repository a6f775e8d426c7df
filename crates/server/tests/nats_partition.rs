//! Scale-out mode only: a node cut off from NATS by a network partition (a relay the test
//! cuts) leaves the load balancer's rotation and pushes what it accepted once back. Runs with
//! `HERALD_TEST_BACKEND=cluster`; reported as ignored otherwise.

mod common;

use common::{Stack, TestServer, expect, scale_out};
use reqwest::Method;
use serde_json::json;

/// A TCP relay between Herald and NATS that the test can cut and restore, as a network
/// partition would.
struct Relay {
    addr: std::net::SocketAddr,
    target: String,
    cut: Option<tokio::sync::watch::Sender<bool>>,
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut relay = Self {
            addr,
            target,
            cut: None,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (cut, cut_seen) = tokio::sync::watch::channel(false);
        let target = self.target.clone();
        tokio::spawn(async move {
            let mut accepting = cut_seen.clone();
            loop {
                let inbound = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((inbound, _)) => inbound,
                        Err(_) => return,
                    },
                    _ = accepting.changed() => return,
                };
                let target = target.clone();
                let mut cut_seen = cut_seen.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target.as_str()).await else {
                        return;
                    };
                    let mut inbound = inbound;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_seen.changed() => {}
                    }
                });
            }
        });
        self.cut = Some(cut);
    }

    /// Closes the listener and every relayed connection.
    fn cut(&mut self) {
        if let Some(cut) = self.cut.take() {
            let _ = cut.send(true);
        }
    }

    /// Listens again on the same address.
    async fn restore(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(error) => panic!("cannot listen on {} again: {error}", self.addr),
            }
        };
        self.serve(listener);
    }
}

/// Polls `/readyz` until it answers `status`; returns the last body.
async fn readiness_becomes(server: &TestServer, status: u16) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let response = server.anon(Method::GET, "/readyz").send().await.expect("readyz");
        let seen = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("json");
        if seen == status {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz still answers {seen} {body} instead of {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Scale-out mode only: a node cut off from NATS cannot hand pushes to the cluster's queue, so
/// it leaves the load balancer's rotation; a message it accepts meanwhile is kept in PostgreSQL
/// and pushed once NATS is reachable again, when the node is back in rotation by itself.
async fn a_node_cut_off_from_nats_leaves_rotation_and_pushes_what_it_accepted_once_back() {
    let nats = herald_testkit::services::nats_url();
    let mut relay = Relay::start(nats.trim_start_matches("nats://").to_string()).await;
    let relay_url = format!("nats://{}", relay.addr);
    let stack = Stack::start_with(move |config| config.nats_url = relay_url).await;
    let server = &stack.server;
    expect(server.anon(Method::GET, "/readyz"), 200).await;
    stack.user("alice", "Alice").await;
    let bob = stack.user("bob", "Bob").await;
    stack.bind(&bob, "bob-phone", "fcm", "fcm-bob-token").await;

    relay.cut();
    let body = readiness_becomes(server, 503).await;
    assert_eq!(body["code"], "not_ready", "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains("push job queue"),
        "{body}"
    );
    // Liveness is not readiness: the process still serves.
    expect(server.anon(Method::GET, "/healthz"), 200).await;
    let sent = stack
        .send(json!({"from": "alice", "to": "bob", "kind": "text", "content": {"text": "while cut off"}}))
        .await;
    let message_id = sent["message_id"].as_str().expect("message id").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        stack.inbox("fcm", "fcm-bob-token").is_empty(),
        "a push went out although the node could not reach the queue"
    );

    relay.restore().await;
    assert_eq!(readiness_becomes(server, 200).await, json!({"status": "ok"}));
    let deliveries = stack.settled_deliveries(&message_id).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0]["state"], "accepted", "{deliveries:?}");
    assert_eq!(
        stack.inbox("fcm", "fcm-bob-token").len(),
        1,
        "bob's phone got the push once"
    );
}

fn main() -> std::process::ExitCode {
    let requirement = if scale_out() {
        herald_testkit::Requirement::service(herald_testkit::services::nats_and_postgres())
    } else {
        herald_testkit::Requirement::OtherMode("it runs with HERALD_TEST_BACKEND=cluster".into())
    };
    herald_testkit::run(
        "nats_partition",
        requirement,
        herald_testkit::async_tests![
            a_node_cut_off_from_nats_leaves_rotation_and_pushes_what_it_accepted_once_back
        ],
    )
}
