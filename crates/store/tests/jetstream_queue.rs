//! The scale-out push queue against a real PostgreSQL (the record and the outbox) and a real
//! NATS server with JetStream (the queue). Every test gets a database of its own
//! (`HERALD_TEST_POSTGRES_URL` names an admin connection, default
//! `postgres://postgres@127.0.0.1:5432/test`) and a cluster name of its own on the NATS server
//! (`HERALD_TEST_NATS_URL`, default `nats://127.0.0.1:4222`); both are removed at the end, also
//! when the test fails. Without them, servers are started from the installed binaries
//! (`herald-testkit`); where neither is possible the tests are reported as ignored (a failure
//! under CI).

use async_nats::jetstream::{self, consumer};
use herald_core::delivery::{
    Attempt, DeliveryPlan, DeliveryRecord, DeliveryState, JobResult, PlannedPush, PushJob,
};
use herald_core::message::{Destination, Message, MessageKind, PushInfo};
use herald_core::routing::{Decision, Reason};
use herald_core::store::{Binding, JobQueue, MessageStore};
use herald_core::{
    CertificateDefaults, ClickAction, DeviceKey, NewCertificate, Platform, Secret, Store, Vendor, now_millis,
};
use herald_store::Sealer;
use herald_store::jetstream::queue::JetStreamQueue;
use herald_store::postgres::{PgStore, create_database};
use rand::Rng;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

const MASTER_KEY: [u8; 32] = [7; 32];
/// How long any one wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);
/// Long enough that no job moves on by itself while a test looks at it.
const LONG_ACK_WAIT: Duration = Duration::from_secs(60);
/// Short enough for a test to wait out.
const SHORT_ACK_WAIT: Duration = Duration::from_secs(2);
const APP: &str = "app1";

// ---------------------------------------------------------------------------------------------
// Harness

fn nats_url() -> String {
    herald_testkit::services::nats_url()
}

async fn nats_client() -> async_nats::Client {
    async_nats::connect(nats_url()).await.expect("NATS is reachable")
}

/// What a test gets: its database and its cluster.
#[derive(Clone)]
struct Cluster {
    pg: PgStore,
    name: String,
    /// A connection of its own, to look at the streams as an operator would.
    js: jetstream::Context,
}

impl Cluster {
    /// One node's queue (a connection of its own).
    async fn node(&self, ack_wait: Duration) -> JetStreamQueue {
        JetStreamQueue::connect(nats_client().await, &self.name, self.pg.clone(), ack_wait)
            .await
            .expect("connect the queue")
    }

    fn jobs_stream(&self) -> String {
        herald_store::jetstream::jobs_stream(&self.name)
    }

    fn dead_stream(&self) -> String {
        herald_store::jetstream::dead_letter_stream(&self.name)
    }

    async fn stream_messages(&self, stream: &str) -> u64 {
        self.js
            .get_stream(stream)
            .await
            .expect("stream exists")
            .get_info()
            .await
            .expect("stream info")
            .state
            .messages
    }

    async fn queued_in_stream(&self) -> u64 {
        self.stream_messages(&self.jobs_stream()).await
    }

    async fn consumer(&self) -> consumer::Info {
        self.js
            .get_stream(self.jobs_stream())
            .await
            .expect("stream exists")
            .consumer_info("dispatch")
            .await
            .expect("consumer info")
    }

    /// Waits until the job stream holds `count` messages.
    async fn stream_drains_to(&self, count: u64) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let now = self.queued_in_stream().await;
            if now == count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the job stream still holds {now} messages, expected {count}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The message's delivery records by id.
    async fn records(&self, message: &str) -> BTreeMap<i64, DeliveryRecord> {
        self.pg
            .message_deliveries(APP, message)
            .await
            .expect("delivery records")
            .into_iter()
            .map(|r| (r.id, r))
            .collect()
    }
}

/// Runs `test` with a fresh database and cluster, and removes both afterwards.
async fn run<F, Fut>(tag: &str, test: F)
where
    F: FnOnce(Cluster) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin = herald_testkit::services::postgres_url();
    let suffix: u64 = rand::thread_rng().r#gen();
    let db = format!(
        "herald_jsq_{}_{}_{:08x}",
        &tag[..tag.len().min(20)],
        std::process::id(),
        suffix as u32
    );
    let url = create_database(&admin, &db)
        .await
        .expect("create the test database");
    let pg = PgStore::open(&url, Sealer::new(&MASTER_KEY))
        .await
        .expect("open postgres");
    let cluster = Cluster {
        pg,
        name: format!("herald_test_{suffix:016x}"),
        js: jetstream::new(nats_client().await),
    };
    let outcome = tokio::spawn(test(cluster.clone())).await;
    let _ = herald_store::jetstream::remove_cluster(&nats_url(), &cluster.name).await;
    drop(cluster);
    drop_database(&admin, &db).await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn drop_database(admin: &str, db: &str) {
    let _ = herald_store::postgres::drop_database(admin, db).await;
}

// ---------------------------------------------------------------------------------------------
// Inputs

fn token(user: &str) -> String {
    format!("token-{user}")
}

fn user(i: usize) -> String {
    format!("u{i:03}")
}

/// An app with a Huawei certificate, `n` users with one bound device each, and one message
/// that pushes to all of them. Returns the certificate id.
async fn seed(store: &dyn Store, message_id: &str, n: usize) -> i64 {
    store
        .create_app(APP, "App", &Secret::new("app-secret".to_string()))
        .await
        .expect("create app");
    let cert = store
        .create_certificate(APP, &certificate())
        .await
        .expect("certificate");
    let mut plans = Vec::with_capacity(n);
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let user = user(i);
        let token = token(&user);
        store
            .bind_token(
                &DeviceKey::new(APP, &user, "phone"),
                &Binding {
                    platform: Platform::Android,
                    certificate_id: cert.id,
                    vendor: Vendor::Huawei,
                    token: &token,
                },
            )
            .await
            .expect("bind");
        plans.push(push_plan(&user, cert.id, &token));
        users.push(user);
    }
    store
        .commit_message(&message(message_id), &users, &plans)
        .await
        .expect("commit the message");
    cert.id
}

fn certificate() -> NewCertificate {
    let fields = json!({"app_id": "10001", "package_name": "com.example.chat"});
    let secrets = json!({"app_secret": "s3cret"});
    NewCertificate {
        vendor: Vendor::Huawei,
        name: "hw".to_string(),
        enabled: true,
        click_action: ClickAction::OpenPage {
            page: "com.example.ChatActivity".to_string(),
        },
        defaults: CertificateDefaults::default(),
        base_url: Some("http://127.0.0.1:9/".to_string()),
        fields: fields.as_object().cloned().unwrap_or_default(),
        secrets: Secret::new(secrets.as_object().cloned().unwrap_or_default()),
    }
}

fn message(id: &str) -> Message {
    Message {
        id: id.to_string(),
        app_id: APP.to_string(),
        from: "sender".to_string(),
        to: Destination::Group {
            group: "g".to_string(),
        },
        kind: MessageKind::Text,
        content: json!({"text": "hello"}),
        push: PushInfo::default(),
        attributes: serde_json::Map::new(),
        sender_nickname: None,
        group_name: None,
        created_at: now_millis(),
    }
}

fn push_plan(user: &str, certificate_id: i64, token: &str) -> DeliveryPlan {
    DeliveryPlan {
        user_id: user.to_string(),
        device_id: "phone".to_string(),
        decision: Decision::Push,
        reason: Reason::RulesPassed,
        push: Some(PlannedPush {
            certificate_id,
            vendor: Vendor::Huawei,
            token: token.to_string(),
            sound: Some("ding.caf".to_string()),
            expires_at: now_millis() + 86_400_000,
        }),
    }
}

fn outcome(job: i64, state: DeliveryState, outcome: &str, code: Option<&str>) -> JobResult {
    JobResult {
        id: job,
        state,
        not_before: None,
        attempt: Attempt {
            at: now_millis(),
            outcome: outcome.parse().expect("an attempt outcome"),
            code: code.map(str::to_string),
            latency_ms: 7,
        },
        vendor_msg_id: None,
        unbind: None,
    }
}

fn accepted(job: i64) -> JobResult {
    JobResult {
        vendor_msg_id: Some(format!("vendor-{job}")),
        ..outcome(job, DeliveryState::Accepted, "accepted", Some("80000000"))
    }
}

/// Claims until `count` jobs came back (each at most once) or the deadline passes.
async fn claim_all(queue: &JetStreamQueue, count: usize) -> Vec<PushJob> {
    let deadline = Instant::now() + DEADLINE;
    let mut jobs: Vec<PushJob> = Vec::new();
    let mut seen = BTreeSet::new();
    while jobs.len() < count {
        assert!(
            Instant::now() < deadline,
            "claimed {} of {count} jobs before the deadline",
            jobs.len()
        );
        for job in queue.claim_jobs(100, 30_000).await.expect("claim") {
            assert!(seen.insert(job.id), "job {} was handed out twice", job.id);
            jobs.push(job);
        }
    }
    jobs.sort_by_key(|j| j.id);
    jobs
}

fn ids<'a>(items: impl IntoIterator<Item = &'a PushJob>) -> BTreeSet<i64> {
    items.into_iter().map(|j| j.id).collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

async fn relay_publishes_every_due_job_once_and_claims_hand_each_out() {
    run("relay", |cluster| async move {
        const N: usize = 50;
        let queue = cluster.node(LONG_ACK_WAIT).await;
        let before = now_millis();
        let cert = seed(&cluster.pg, "m1", N).await;
        assert!(
            queue.next_due().await.expect("next due").is_some(),
            "the dispatchers are told to claim at once"
        );
        assert!(
            queue.claim_jobs(100, 30_000).await.expect("claim").is_empty(),
            "nothing is in the queue before the relay"
        );

        // The relay moves every due job once, in batches of at most its limit.
        assert_eq!(queue.relay(20).await.expect("relay"), 20);
        assert_eq!(queue.relay(1000).await.expect("relay"), N - 20);
        assert_eq!(
            queue.relay(1000).await.expect("relay"),
            0,
            "rows are in flight now"
        );
        assert_eq!(cluster.queued_in_stream().await, N as u64, "one message per job");
        let records = cluster.records("m1").await;
        assert_eq!(records.len(), N);
        assert!(
            records.values().all(|r| r.state == DeliveryState::InFlight),
            "relayed rows are in flight: {:?}",
            records.values().map(|r| r.state).collect::<Vec<_>>()
        );

        let jobs = claim_all(&queue, N).await;
        assert_eq!(ids(&jobs), records.keys().copied().collect());
        for job in &jobs {
            let record = &records[&job.id];
            assert_eq!(job.app_id, APP);
            assert_eq!(job.message_id, "m1");
            assert_eq!(
                (&job.user_id, &job.device_id),
                (&record.user_id, &record.device_id)
            );
            assert_eq!((job.certificate_id, job.vendor), (cert, Vendor::Huawei));
            assert_eq!(job.token, token(&job.user_id));
            assert_eq!(job.badge, 1);
            assert_eq!(job.sound.as_deref(), Some("ding.caf"));
            assert_eq!(job.attempts, 0);
            assert!(job.expires_at > before + 86_000_000);
            assert!(job.created_at >= before - 1000 && job.created_at <= now_millis());
        }
        assert!(
            queue.claim_jobs(100, 30_000).await.expect("claim").is_empty(),
            "every job is held by a dispatcher"
        );
        let consumer = cluster.consumer().await;
        assert_eq!(consumer.num_ack_pending, N);
        assert_eq!(consumer.num_pending, 0);
    })
    .await;
}

async fn an_accepted_job_is_recorded_and_leaves_the_stream() {
    run("accepted", |cluster| async move {
        let queue = cluster.node(LONG_ACK_WAIT).await;
        seed(&cluster.pg, "m1", 3).await;
        assert_eq!(queue.relay(1000).await.expect("relay"), 3);
        let jobs = claim_all(&queue, 3).await;

        queue
            .complete_jobs(&[accepted(jobs[0].id)])
            .await
            .expect("complete");
        let record = &cluster.records("m1").await[&jobs[0].id];
        assert_eq!((record.state, record.attempts), (DeliveryState::Accepted, 1));
        let vendor_msg_id = format!("vendor-{}", jobs[0].id);
        assert_eq!(record.vendor_msg_id.as_deref(), Some(vendor_msg_id.as_str()));
        assert_eq!(record.vendor_code.as_deref(), Some("80000000"));
        assert_eq!(record.log.len(), 1);
        assert_eq!(record.log[0].outcome, "accepted");
        cluster.stream_drains_to(2).await;

        let rest: Vec<JobResult> = jobs[1..].iter().map(|j| accepted(j.id)).collect();
        queue.complete_jobs(&rest).await.expect("complete");
        cluster.stream_drains_to(0).await;
        let records = cluster.records("m1").await;
        assert!(
            records
                .values()
                .all(|r| r.state == DeliveryState::Accepted && r.attempts == 1),
            "{records:?}"
        );
        assert_eq!(cluster.consumer().await.num_ack_pending, 0);
        assert!(queue.claim_jobs(100, 30_000).await.expect("claim").is_empty());
        assert_eq!(
            queue.relay(1000).await.expect("relay"),
            0,
            "final rows stay out of the outbox"
        );
        assert_eq!(
            cluster.stream_messages(&cluster.dead_stream()).await,
            0,
            "accepted jobs are no dead letters"
        );
    })
    .await;
}

async fn a_retry_goes_back_through_the_outbox_when_due() {
    run("retry", |cluster| async move {
        let queue = cluster.node(LONG_ACK_WAIT).await;
        seed(&cluster.pg, "m1", 1).await;
        assert_eq!(queue.relay(1000).await.expect("relay"), 1);
        let job = claim_all(&queue, 1).await.remove(0);
        assert_eq!(job.attempts, 0);

        let due = now_millis() + 1000;
        queue
            .complete_jobs(&[JobResult {
                not_before: Some(due),
                ..outcome(job.id, DeliveryState::Queued, "retry", Some("503"))
            }])
            .await
            .expect("complete");
        let record = &cluster.records("m1").await[&job.id];
        assert_eq!((record.state, record.attempts), (DeliveryState::Queued, 1));
        assert_eq!(record.vendor_code.as_deref(), Some("503"));
        // The retry lives in PostgreSQL until it is due, not in the stream.
        cluster.stream_drains_to(0).await;
        assert_eq!(queue.relay(1000).await.expect("relay"), 0, "not due yet");
        assert!(queue.claim_jobs(100, 30_000).await.expect("claim").is_empty());

        let deadline = Instant::now() + DEADLINE;
        loop {
            let checked_at = now_millis();
            match queue.relay(1000).await.expect("relay") {
                0 => {
                    assert!(Instant::now() < deadline, "the due retry was never relayed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                1 => {
                    assert!(checked_at >= due - 5, "relayed {} ms early", due - checked_at);
                    break;
                }
                moved => panic!("relayed {moved} jobs, expected 1"),
            }
        }
        assert_eq!(queue.relay(1000).await.expect("relay"), 0);

        let again = claim_all(&queue, 1).await.remove(0);
        assert_eq!(again.id, job.id);
        assert_eq!(again.attempts, 1, "the attempt count comes from the record");
        assert_eq!(
            (again.token.as_str(), again.badge),
            (job.token.as_str(), job.badge)
        );
        assert_eq!(
            cluster.records("m1").await[&job.id].state,
            DeliveryState::InFlight
        );

        queue.complete_jobs(&[accepted(job.id)]).await.expect("complete");
        let record = &cluster.records("m1").await[&job.id];
        assert_eq!((record.state, record.attempts), (DeliveryState::Accepted, 2));
        assert_eq!(
            record.log.iter().map(|a| a.outcome.as_str()).collect::<Vec<_>>(),
            ["retry", "accepted"]
        );
        cluster.stream_drains_to(0).await;
    })
    .await;
}

async fn a_live_node_keeps_its_jobs_past_the_ack_wait_and_a_dead_ones_move_on_after_it() {
    run("held_jobs", |cluster| async move {
        const N: usize = 10;
        seed(&cluster.pg, "m1", N).await;
        let a = cluster
            .node(SHORT_ACK_WAIT)
            .await
            .keep_held_jobs(SHORT_ACK_WAIT, Duration::from_secs(600));
        assert_eq!(a.relay(1000).await.expect("relay"), N);
        let held = claim_all(&a, N).await;

        // Three ack waits: a vendor request this long is no reason to take the jobs away from
        // a node that is alive and reports them. (Every node reports the jobs it holds, so
        // the jobs `b` takes below stay with it while it claims the rest.)
        let b = cluster
            .node(SHORT_ACK_WAIT)
            .await
            .keep_held_jobs(SHORT_ACK_WAIT, Duration::from_secs(600));
        tokio::time::sleep(3 * SHORT_ACK_WAIT).await;
        assert!(
            b.claim_jobs(100, 30_000).await.expect("claim").is_empty(),
            "a live node's jobs stay with it past the ack wait"
        );

        // The node dies: its reports stop, and one ack wait later the jobs are the other's.
        drop(a);
        let died = Instant::now();
        let taken = claim_all(&b, N).await;
        assert_eq!(
            ids(&taken),
            ids(&held),
            "the other node gets the dead node's jobs"
        );
        assert!(
            died.elapsed() < 600 * SHORT_ACK_WAIT,
            "handed on after {:?}: the hold is not waited for",
            died.elapsed()
        );
        let results: Vec<JobResult> = taken.iter().map(|j| accepted(j.id)).collect();
        b.complete_jobs(&results).await.expect("complete");
        cluster.stream_drains_to(0).await;
    })
    .await;
}

async fn the_jobs_of_a_node_that_dies_go_to_another_node_after_the_ack_wait() {
    run("node_death", |cluster| async move {
        const N: usize = 10;
        seed(&cluster.pg, "m1", N).await;
        let a = cluster.node(SHORT_ACK_WAIT).await;
        let start = Instant::now();
        assert_eq!(a.relay(1000).await.expect("relay"), N);
        let held = claim_all(&a, N).await;

        let b = cluster.node(SHORT_ACK_WAIT).await;
        assert!(
            b.claim_jobs(100, 30_000).await.expect("claim").is_empty(),
            "jobs held by a live dispatcher are nobody else's"
        );
        // A crash: the jobs are never completed and the connection goes away.
        drop(a);

        let taken = claim_all(&b, N).await;
        assert!(
            start.elapsed() >= SHORT_ACK_WAIT,
            "handed on after {:?}, before the ack wait",
            start.elapsed()
        );
        assert_eq!(
            ids(&taken),
            ids(&held),
            "the other node gets exactly the dead node's jobs"
        );
        for (job, before) in taken.iter().zip(&held) {
            assert_eq!(job, before, "the job comes back unchanged");
        }
        assert!(
            cluster
                .records("m1")
                .await
                .values()
                .all(|r| r.state == DeliveryState::InFlight && r.attempts == 0)
        );

        let results: Vec<JobResult> = taken.iter().map(|j| accepted(j.id)).collect();
        b.complete_jobs(&results).await.expect("complete");
        cluster.stream_drains_to(0).await;
        assert!(
            cluster
                .records("m1")
                .await
                .values()
                .all(|r| r.state == DeliveryState::Accepted && r.attempts == 1)
        );
    })
    .await;
}

async fn a_redelivered_job_whose_record_is_final_is_not_handed_out() {
    run("final_skip", |cluster| async move {
        const N: usize = 5;
        seed(&cluster.pg, "m1", N).await;
        let a = cluster.node(SHORT_ACK_WAIT).await;
        assert_eq!(a.relay(1000).await.expect("relay"), N);
        let held = claim_all(&a, N).await;

        // The outcome reaches the record, but the node that held the jobs dies before acking
        // them (the completing node does not hold their messages).
        let b = cluster.node(SHORT_ACK_WAIT).await;
        let results: Vec<JobResult> = held.iter().map(|j| accepted(j.id)).collect();
        b.complete_jobs(&results).await.expect("complete");
        assert_eq!(
            cluster.queued_in_stream().await,
            N as u64,
            "nobody acked them yet"
        );
        drop(a);

        // The redeliveries reach b, which acks them without handing them out.
        let deadline = Instant::now() + DEADLINE;
        loop {
            let claimed = b.claim_jobs(100, 30_000).await.expect("claim");
            assert!(
                claimed.is_empty(),
                "a finished job was handed out again: {claimed:?}"
            );
            if cluster.queued_in_stream().await == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the redelivered jobs were never acked");
        }
        let consumer = cluster.consumer().await;
        assert_eq!((consumer.num_ack_pending, consumer.num_pending), (0, 0));
        let records = cluster.records("m1").await;
        assert!(
            records
                .values()
                .all(|r| r.state == DeliveryState::Accepted && r.attempts == 1 && r.log.len() == 1),
            "the skip leaves the records alone: {records:?}"
        );
    })
    .await;
}

async fn an_expired_job_is_copied_to_the_dead_letter_stream() {
    run("dead_letter", |cluster| async move {
        let queue = cluster.node(LONG_ACK_WAIT).await;
        seed(&cluster.pg, "m1", 2).await;
        assert_eq!(queue.relay(1000).await.expect("relay"), 2);
        let jobs = claim_all(&queue, 2).await;
        let (expired, delivered) = (&jobs[0], &jobs[1]);

        queue
            .complete_jobs(&[
                outcome(expired.id, DeliveryState::Expired, "expired", Some("ttl_elapsed")),
                accepted(delivered.id),
            ])
            .await
            .expect("complete");
        let records = cluster.records("m1").await;
        assert_eq!(records[&expired.id].state, DeliveryState::Expired);
        assert_eq!(records[&delivered.id].state, DeliveryState::Accepted);
        cluster.stream_drains_to(0).await;

        let dead = cluster
            .js
            .get_stream(cluster.dead_stream())
            .await
            .expect("dead-letter stream");
        assert_eq!(
            dead.get_info().await.expect("info").state.messages,
            1,
            "only the job that ended unsent is a dead letter"
        );
        let subject = format!("{}.dead.huawei", cluster.name);
        let letter = dead
            .get_last_raw_message_by_subject(&subject)
            .await
            .expect("a dead letter on the vendor's subject");
        let letter: Value = serde_json::from_slice(&letter.payload).expect("JSON dead letter");
        assert_eq!(letter["job"]["id"], json!(expired.id));
        assert_eq!(letter["job"]["message_id"], json!("m1"));
        assert_eq!(letter["job"]["user_id"], json!(expired.user_id));
        assert_eq!(letter["job"]["token"], json!(expired.token));
        assert_eq!(letter["state"], json!("expired"));
        assert_eq!(letter["last_attempt"]["code"], json!("ttl_elapsed"));
    })
    .await;
}

async fn a_job_handed_out_too_often_is_rejected_and_dead_lettered() {
    run("redelivered", |cluster| async move {
        let ack_wait = Duration::from_millis(700);
        let queue = cluster.node(ack_wait).await;
        seed(&cluster.pg, "m1", 1).await;
        assert_eq!(queue.relay(1000).await.expect("relay"), 1);
        // A job that every dispatcher takes and never finishes (it crashes them, say).
        let mut handed_out = 0;
        let deadline = Instant::now() + DEADLINE;
        while cluster.queued_in_stream().await > 0 {
            assert!(
                Instant::now() < deadline,
                "handed out {handed_out} times, still queued"
            );
            handed_out += queue.claim_jobs(100, 30_000).await.expect("claim").len();
        }
        assert_eq!(handed_out, 5, "handed out until the delivery limit");
        let record = cluster.records("m1").await.into_values().next().expect("record");
        assert_eq!(record.state, DeliveryState::Rejected);
        assert_eq!(record.vendor_code.as_deref(), Some("redelivered_6_times"));

        let dead = cluster
            .js
            .get_stream(cluster.dead_stream())
            .await
            .expect("dead-letter stream");
        let letter = dead
            .get_last_raw_message_by_subject(&format!("{}.dead.huawei", cluster.name))
            .await
            .expect("a dead letter");
        let letter: Value = serde_json::from_slice(&letter.payload).expect("JSON dead letter");
        assert_eq!(letter["job"]["id"], json!(record.id));
        assert_eq!(letter["state"], json!("rejected"));
    })
    .await;
}

async fn jobs_waiting_for_a_busy_node_are_handed_out_once() {
    run("busy_node", |cluster| async move {
        const N: usize = 10;
        seed(&cluster.pg, "m1", N).await;
        let a = cluster.node(SHORT_ACK_WAIT).await;
        assert_eq!(a.relay(1000).await.expect("relay"), N);
        // The dispatcher takes a small batch, finishes it, then is busy elsewhere for longer
        // than the ack wait before it claims again.
        let first = a.claim_jobs(2, 30_000).await.expect("claim");
        assert!(!first.is_empty() && first.len() <= 2, "claimed {}", first.len());
        let results: Vec<JobResult> = first.iter().map(|j| accepted(j.id)).collect();
        a.complete_jobs(&results).await.expect("complete");
        tokio::time::sleep(SHORT_ACK_WAIT + Duration::from_secs(1)).await;

        let mut seen = ids(&first);
        let deadline = Instant::now() + DEADLINE;
        while seen.len() < N {
            assert!(
                Instant::now() < deadline,
                "only {} of {N} jobs were handed out",
                seen.len()
            );
            let jobs = a.claim_jobs(100, 30_000).await.expect("claim");
            for job in &jobs {
                assert!(seen.insert(job.id), "job {} was handed out twice", job.id);
            }
            let results: Vec<JobResult> = jobs.iter().map(|j| accepted(j.id)).collect();
            a.complete_jobs(&results).await.expect("complete");
        }
        assert!(a.claim_jobs(100, 30_000).await.expect("claim").is_empty());
        cluster.stream_drains_to(0).await;
        let records = cluster.records("m1").await;
        assert!(
            records
                .values()
                .all(|r| r.state == DeliveryState::Accepted && r.attempts == 1),
            "every job was pushed once: {records:?}"
        );
    })
    .await;
}

fn main() -> std::process::ExitCode {
    herald_testkit::run(
        "jetstream_queue",
        herald_testkit::Requirement::service(herald_testkit::services::nats_and_postgres()),
        herald_testkit::async_tests![
            relay_publishes_every_due_job_once_and_claims_hand_each_out,
            an_accepted_job_is_recorded_and_leaves_the_stream,
            a_retry_goes_back_through_the_outbox_when_due,
            the_jobs_of_a_node_that_dies_go_to_another_node_after_the_ack_wait,
            a_live_node_keeps_its_jobs_past_the_ack_wait_and_a_dead_ones_move_on_after_it,
            a_redelivered_job_whose_record_is_final_is_not_handed_out,
            an_expired_job_is_copied_to_the_dead_letter_stream,
            a_job_handed_out_too_often_is_rejected_and_dead_lettered,
            jobs_waiting_for_a_busy_node_are_handed_out_once,
        ],
    )
}
