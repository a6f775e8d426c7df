//! The dispatcher against a real SQLite store, with a scripted adapter in place of a vendor:
//! each test sends a message through the `Messenger`, lets the `Dispatcher` claim and send its
//! push, and checks the delivery record as the deliveries API shows it.

use async_trait::async_trait;
use herald_core::DeviceKey;
use herald_core::delivery::{AttemptOutcome, DeliveryRecord, DeliveryState};
use herald_core::message::{Destination, MessageKind, PushInfo};
use herald_core::store::{Binding, ProfileUpdate};
use herald_core::{
    Adapter, AdapterError, CertificateDefaults, ClickAction, NewCertificate, Notification, Outcome, Platform,
    Secret, Store, Target, Vendor, now_millis,
};
use herald_engine::{
    AdapterRegistry, DispatchConfig, Dispatcher, HealthState, HoldPolicy, Messenger, Outgoing, PresenceHub,
};
use serde_json::{Map, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

const APP: &str = "a1";
const TOKEN: &str = "bob-pixel-token";

/// What the scripted adapter answers one call: an outcome per target, or no answer.
type Reply = Result<Outcome, String>;

/// An adapter that answers each call with the next scripted reply (the same outcome for
/// every target of the call; accepted once the script runs out) and remembers the tokens of
/// every call.
#[derive(Debug, Default)]
struct Scripted {
    replies: Mutex<VecDeque<Reply>>,
    calls: Mutex<Vec<Vec<String>>>,
}

impl Scripted {
    fn answering(replies: impl IntoIterator<Item = Reply>) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.into_iter().collect()),
            calls: Mutex::default(),
        })
    }

    fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().expect("calls").clone()
    }
}

#[async_trait]
impl Adapter for Scripted {
    fn vendor(&self) -> Vendor {
        Vendor::Fcm
    }

    fn max_batch(&self) -> usize {
        500
    }

    async fn send(
        &self,
        _notification: &Notification,
        targets: &[Target],
    ) -> Result<Vec<Outcome>, AdapterError> {
        self.calls
            .lock()
            .expect("calls")
            .push(targets.iter().map(|t| t.token.clone()).collect());
        let reply = self.replies.lock().expect("replies").pop_front();
        match reply.unwrap_or(Ok(Outcome::Accepted { vendor_msg_id: None })) {
            Ok(outcome) => Ok(vec![outcome; targets.len()]),
            Err(error) => Err(AdapterError::Transport(error)),
        }
    }
}

/// A store in a temp dir with alice and bob, bob's phone bound to an FCM certificate whose
/// adapter is `adapter`, a messenger and a dispatcher that is driven by hand (`run_once`).
struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    messenger: Messenger,
    dispatcher: Dispatcher,
}

impl Setup {
    async fn new(adapter: Arc<Scripted>) -> Self {
        Self::with(adapter, DispatchConfig::default()).await
    }

    /// [`Setup::new`] with the dispatcher tuned by `config`.
    async fn with(adapter: Arc<Scripted>, config: DispatchConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("herald.db").display());
        let store = herald_store::open(&url, &[7; herald_store::MASTER_KEY_LEN])
            .await
            .expect("open the store");
        store
            .create_app(APP, "chat", &Secret::new("app-secret".to_string()))
            .await
            .expect("app");
        let certificate = store
            .create_certificate(
                APP,
                &NewCertificate {
                    vendor: Vendor::Fcm,
                    name: "fcm".into(),
                    enabled: true,
                    click_action: ClickAction::OpenApp,
                    defaults: CertificateDefaults::default(),
                    base_url: None,
                    fields: Map::new(),
                    secrets: Secret::new(Map::new()),
                },
            )
            .await
            .expect("certificate");
        for user in ["alice", "bob"] {
            store
                .upsert_user(APP, user, &ProfileUpdate::default())
                .await
                .expect("user");
        }
        bind_phone(store.as_ref(), certificate.id).await;

        let factory_adapter: Arc<dyn Adapter> = adapter;
        let registry = AdapterRegistry::new(Arc::new(move |_, _| Ok(factory_adapter.clone())));
        let wake = Arc::new(Notify::new());
        let dispatcher = Dispatcher::new(store.clone(), store.clone(), registry, wake.clone(), config);
        let messenger = Messenger::new(store.clone(), PresenceHub::new(), wake);
        Self {
            _dir: dir,
            store,
            messenger,
            dispatcher,
        }
    }

    /// Alice sends bob a text that may be pushed for `ttl_seconds`; returns the message id.
    async fn send(&self, ttl_seconds: u32) -> String {
        let report = self
            .messenger
            .send(Outgoing {
                app: APP.into(),
                from: "alice".into(),
                from_device: None,
                to: Destination::C2c { to: "bob".into() },
                kind: MessageKind::Text,
                content: json!({"text": "hi"}),
                push: PushInfo {
                    ttl_seconds: Some(ttl_seconds),
                    ..PushInfo::default()
                },
                attributes: Map::new(),
            })
            .await
            .expect("sent");
        assert_eq!(
            report.push_queued, 1,
            "bob's phone is offline and bound: one push"
        );
        report.message_id
    }

    /// Bob gets 19 more devices on the certificate and alice sends him a text: 20 pushes.
    async fn send_to_twenty_devices(&self) -> String {
        let certificate = self.certificate().await;
        for n in 0..19 {
            bind_device(
                self.store.as_ref(),
                certificate,
                &format!("tablet-{n}"),
                &format!("token-{n}"),
            )
            .await;
        }
        let report = self
            .messenger
            .send(Outgoing {
                app: APP.into(),
                from: "alice".into(),
                from_device: None,
                to: Destination::C2c { to: "bob".into() },
                kind: MessageKind::Text,
                content: json!({"text": "hi all"}),
                push: PushInfo::default(),
                attributes: Map::new(),
            })
            .await
            .expect("sent");
        assert_eq!(report.push_queued, 20);
        report.message_id
    }

    /// The id of the FCM certificate.
    async fn certificate(&self) -> i64 {
        self.store.list_certificates(APP).await.expect("certificates")[0].id
    }

    /// Every delivery record of the message.
    async fn deliveries(&self, message: &str) -> Vec<DeliveryRecord> {
        self.store
            .message_deliveries(APP, message)
            .await
            .expect("deliveries")
    }

    /// Moves the clock on for the queued jobs: whatever is queued is due now.
    async fn make_due(&self) {
        self.sql("UPDATE deliveries SET not_before = 0 WHERE state = 'queued'")
            .await;
    }

    /// Sets every open job's expiry (the end of its TTL).
    async fn set_expiry(&self, at: i64) {
        self.sql(&format!(
            "UPDATE deliveries SET expires_at = {at} WHERE state IN ('queued', 'in_flight')"
        ))
        .await;
    }

    /// Runs one statement on the database beside the store (the test's time machine).
    async fn sql(&self, statement: &str) {
        use sqlx::Connection;
        let url = format!("sqlite://{}", self._dir.path().join("herald.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("connect");
        sqlx::query(statement)
            .execute(&mut conn)
            .await
            .expect("statement");
        conn.close().await.expect("close");
    }

    /// Claims and sends whatever is due; returns how many jobs were handled.
    async fn dispatch(&self) -> usize {
        self.dispatcher.run_once().await.expect("dispatch")
    }

    /// Bob's phone's delivery record of the message, as the deliveries API shows it.
    async fn delivery(&self, message: &str) -> DeliveryRecord {
        let mut records = self
            .store
            .message_deliveries(APP, message)
            .await
            .expect("deliveries");
        assert_eq!(records.len(), 1, "one device: {records:?}");
        records.remove(0)
    }

    /// The logged outcome of each attempt.
    async fn attempts(&self, message: &str) -> Vec<AttemptOutcome> {
        self.delivery(message)
            .await
            .log
            .iter()
            .map(|a| a.outcome)
            .collect()
    }

    /// The token bound to bob's phone now.
    async fn bound_token(&self) -> Option<String> {
        let device = self
            .store
            .get_device(&DeviceKey::new(APP, "bob", "pixel"))
            .await
            .expect("device");
        device.binding.map(|b| b.token)
    }
}

/// Bob's phone, bound to the certificate (the one place the tests touch the device API).
async fn bind_phone(store: &dyn Store, certificate_id: i64) {
    bind_device(store, certificate_id, "pixel", TOKEN).await;
}

/// One more of bob's devices, bound to the certificate.
async fn bind_device(store: &dyn Store, certificate_id: i64, device: &str, token: &str) {
    store
        .bind_token(
            &DeviceKey::new(APP, "bob", device),
            &Binding {
                platform: Platform::Android,
                certificate_id,
                vendor: Vendor::Fcm,
                token,
            },
        )
        .await
        .expect("bind");
}

fn retry(after: Option<Duration>) -> Reply {
    Ok(Outcome::Retry {
        after,
        reason: "503".into(),
    })
}

const HOUR: u32 = 3600;

#[tokio::test]
async fn a_push_the_vendor_takes_is_accepted() {
    let adapter = Scripted::answering([Ok(Outcome::Accepted {
        vendor_msg_id: Some("vendor-1".into()),
    })]);
    let setup = Setup::new(adapter.clone()).await;
    let message = setup.send(HOUR).await;
    assert_eq!(setup.dispatch().await, 1);

    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::Accepted);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.vendor_msg_id.as_deref(), Some("vendor-1"));
    assert_eq!(adapter.calls(), vec![vec![TOKEN.to_string()]]);
}

#[tokio::test]
async fn a_server_error_is_retried_after_a_backoff_and_then_accepted() {
    let adapter = Scripted::answering([retry(None)]);
    let setup = Setup::new(adapter.clone()).await;
    let message = setup.send(HOUR).await;
    let before = now_millis();
    assert_eq!(setup.dispatch().await, 1);

    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::Queued, "{record:?}");
    assert_eq!(record.vendor_code.as_deref(), Some("503"));
    assert_eq!(setup.attempts(&message).await, [AttemptOutcome::Retry]);
    // The first backoff is a second, ±20 %: not due at once, due within 1.2 s.
    assert_eq!(setup.dispatch().await, 0, "not due again at once");
    let due = setup
        .store
        .next_due()
        .await
        .expect("next due")
        .expect("a job is due later");
    assert!(due >= before + 800, "due {} ms after the attempt", due - before);
    assert!(
        due <= now_millis() + 1200,
        "due {} ms after the attempt",
        due - before
    );

    tokio::time::sleep(Duration::from_millis(
        u64::try_from(due - now_millis()).unwrap_or(0) + 20,
    ))
    .await;
    assert_eq!(setup.dispatch().await, 1, "due again after the backoff");
    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::Accepted);
    assert_eq!(record.attempts, 2);
    assert_eq!(
        setup.attempts(&message).await,
        [AttemptOutcome::Retry, AttemptOutcome::Accepted]
    );
    assert_eq!(adapter.calls().len(), 2);
}

/// Retries are batched again: the targets of one failed vendor request come due together and
/// go out in one request again, not a few at a time.
#[tokio::test]
async fn the_retries_of_one_request_go_out_together_in_one_request() {
    let adapter = Scripted::answering([retry(None)]);
    let setup = Setup::new(adapter.clone()).await;
    setup.send_to_twenty_devices().await;
    assert_eq!(setup.dispatch().await, 20);
    assert_eq!(adapter.calls().len(), 1, "one request for the 20 devices");

    // At the first moment a retry is due, all 20 are.
    let due = setup
        .store
        .next_due()
        .await
        .expect("next due")
        .expect("due later");
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(due - now_millis()).unwrap_or(0) + 5,
    ))
    .await;
    assert_eq!(setup.dispatch().await, 20, "every retry is due at once");
    let calls = adapter.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].len(), 20, "the retries went out in one request");
}

#[tokio::test]
async fn a_vendors_retry_after_is_honoured() {
    let adapter = Scripted::answering([retry(Some(Duration::from_secs(120)))]);
    let setup = Setup::new(adapter.clone()).await;
    let message = setup.send(HOUR).await;
    assert_eq!(setup.dispatch().await, 1);

    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::Queued);
    let attempted = record.log[0].at;
    let due = setup
        .store
        .next_due()
        .await
        .expect("next due")
        .expect("due later");
    assert!(
        due >= attempted + 120_000,
        "due {} ms after the attempt, the vendor asked for 120 s",
        due - attempted
    );
    assert!(
        due < attempted + 121_000,
        "and not much later: {} ms",
        due - attempted
    );
    assert_eq!(setup.dispatch().await, 0, "nothing is sent before then");
    assert_eq!(adapter.calls().len(), 1);
}

#[tokio::test]
async fn a_retry_that_would_come_after_the_ttl_expires_the_push() {
    let adapter = Scripted::answering([retry(Some(Duration::from_secs(120)))]);
    let setup = Setup::new(adapter).await;
    let message = setup.send(60).await;
    assert_eq!(setup.dispatch().await, 1);

    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::Expired);
    assert_eq!(record.vendor_code.as_deref(), Some("503"));
    assert_eq!(setup.attempts(&message).await, [AttemptOutcome::Expired]);
    assert_eq!(
        setup.store.next_due().await.expect("next due"),
        None,
        "nothing left to send"
    );
}

#[tokio::test]
async fn a_push_whose_ttl_ran_out_before_sending_expires_unsent() {
    let adapter = Scripted::answering([]);
    let setup = Setup::new(adapter.clone()).await;
    let message = setup.send(1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(setup.dispatch().await, 1);

    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::Expired);
    assert_eq!(record.vendor_code.as_deref(), Some("ttl_elapsed"));
    assert!(adapter.calls().is_empty(), "the vendor was not asked");
}

/// Retry until the TTL, not until a count: a push that failed as many times as the former
/// attempt cap allowed (25) is still retried while its TTL lasts, and expired only once its
/// next attempt would come after the TTL. (This replaces the test that expected it given up
/// after the 25th attempt: the behaviour changed on purpose.)
#[tokio::test]
async fn a_push_that_keeps_failing_is_retried_while_its_ttl_lasts_and_expired_after() {
    let attempts = herald_engine::retry::FORMER_ATTEMPT_CAP as usize + 5;
    let adapter = Scripted::answering((0..=attempts).map(|_| retry(Some(Duration::from_secs(1)))));
    // The retry rule alone: the certificate is never held (see the tests of holding below).
    let config = DispatchConfig {
        hold: HoldPolicy::never(),
        ..DispatchConfig::default()
    };
    let setup = Setup::with(adapter.clone(), config).await;
    let message = setup.send(HOUR).await;
    for attempt in 1..=attempts {
        setup.make_due().await;
        assert_eq!(setup.dispatch().await, 1, "attempt {attempt} is made");
    }
    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::Queued, "still retried: {record:?}");
    assert_eq!(record.attempts as usize, attempts);
    let due = setup
        .store
        .next_due()
        .await
        .expect("next due")
        .expect("due later");
    assert!(
        due >= now_millis() + 230_000,
        "the backoff has grown to minutes (the larger of it and Retry-After: 1): {} ms",
        due - now_millis()
    );

    // The TTL is nearly over: the next failure would be retried after it, so it expires.
    setup.set_expiry(now_millis() + 60_000).await;
    setup.make_due().await;
    assert_eq!(setup.dispatch().await, 1);
    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::Expired);
    assert_eq!(record.attempts as usize, attempts + 1);
    let log = setup.attempts(&message).await;
    assert!(
        log[..attempts].iter().all(|o| *o == AttemptOutcome::Retry),
        "{log:?}"
    );
    assert_eq!(log[attempts], AttemptOutcome::Expired);
    assert_eq!(setup.store.next_due().await.expect("next due"), None);
    assert_eq!(adapter.calls().len(), attempts + 1);
}

#[tokio::test]
async fn no_answer_is_retried_and_logged_as_a_transport_error() {
    let adapter = Scripted::answering([Err("connection reset".into())]);
    let setup = Setup::new(adapter).await;
    let message = setup.send(HOUR).await;
    assert_eq!(setup.dispatch().await, 1);

    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::Queued);
    assert_eq!(setup.attempts(&message).await, [AttemptOutcome::TransportError]);
    assert_eq!(record.vendor_code.as_deref(), Some("transport: connection reset"));
}

#[tokio::test]
async fn an_invalid_token_is_recorded_and_unbound_from_the_device() {
    let adapter = Scripted::answering([Ok(Outcome::InvalidToken {
        reason: "UNREGISTERED".into(),
    })]);
    let setup = Setup::new(adapter).await;
    assert_eq!(setup.bound_token().await.as_deref(), Some(TOKEN));
    let message = setup.send(HOUR).await;
    assert_eq!(setup.dispatch().await, 1);

    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::InvalidToken);
    assert_eq!(record.vendor_code.as_deref(), Some("UNREGISTERED"));
    assert_eq!(setup.bound_token().await, None, "the dead token is unbound");

    // The next message finds no token to push to.
    let next = setup
        .messenger
        .send(Outgoing {
            app: APP.into(),
            from: "alice".into(),
            from_device: None,
            to: Destination::C2c { to: "bob".into() },
            kind: MessageKind::Text,
            content: json!({"text": "still there?"}),
            push: PushInfo::default(),
            attributes: Map::new(),
        })
        .await
        .expect("sent");
    assert_eq!(next.push_queued, 0);
}

#[tokio::test]
async fn a_used_up_quota_is_recorded_as_such_and_not_retried() {
    let adapter = Scripted::answering([Ok(Outcome::QuotaExceeded {
        reason: "daily quota".into(),
    })]);
    let setup = Setup::new(adapter.clone()).await;
    let message = setup.send(HOUR).await;
    assert_eq!(setup.dispatch().await, 1);

    let record = setup.delivery(&message).await;
    assert_eq!(record.state, DeliveryState::QuotaExceeded);
    assert_eq!(record.vendor_code.as_deref(), Some("daily quota"));
    assert_eq!(setup.attempts(&message).await, [AttemptOutcome::QuotaExceeded]);
    assert_eq!(setup.store.next_due().await.expect("next due"), None);
    assert_eq!(adapter.calls().len(), 1);
    assert_eq!(
        setup.bound_token().await.as_deref(),
        Some(TOKEN),
        "the token stays bound"
    );
}

/// A failing vendor is held, not hammered: after three failed requests in a row the
/// certificate is degraded and its jobs wait in the queue without spending attempts; a probe
/// of one target tests the vendor when due, and once it is answered the backlog goes out in
/// one full request.
#[tokio::test]
async fn a_failing_vendor_is_held_probed_and_then_sent_the_backlog_in_one_request() {
    let adapter = Scripted::answering([retry(None), retry(None), Err("connection refused".into())]);
    let config = DispatchConfig {
        hold: HoldPolicy {
            degrade_after: 3,
            first_probe: Duration::from_millis(300),
            longest_probe: Duration::from_secs(1),
            while_probing: Duration::from_millis(100),
        },
        ..DispatchConfig::default()
    };
    let setup = Setup::with(adapter.clone(), config).await;
    let message = setup.send_to_twenty_devices().await;
    let certificate = setup.certificate().await;
    for attempt in 1..=3 {
        setup.make_due().await;
        assert_eq!(setup.dispatch().await, 20, "attempt {attempt}");
        let health = setup.dispatcher.certificate_health(APP, certificate);
        let expected = if attempt < 3 {
            HealthState::Working
        } else {
            HealthState::Degraded
        };
        assert_eq!(health.state, expected, "after attempt {attempt}: {health:?}");
    }
    let health = setup.dispatcher.certificate_health(APP, certificate);
    assert_eq!(
        health.last_error.as_deref(),
        Some("transport: connection refused")
    );
    let degraded_since = health.since;

    // Held: due or not, nothing goes to the vendor and no attempt is spent.
    setup.make_due().await;
    assert_eq!(setup.dispatch().await, 20, "claimed and put back");
    assert_eq!(adapter.calls().len(), 3, "the vendor was not asked");
    assert!(
        setup
            .deliveries(&message)
            .await
            .iter()
            .all(|r| r.state == DeliveryState::Queued && r.attempts == 3)
    );

    // The probe: one target, when due.
    let due = setup
        .store
        .next_due()
        .await
        .expect("next due")
        .expect("held until the probe");
    assert!(due <= degraded_since + 300, "held until the probe is due");
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(due - now_millis()).unwrap_or(0) + 5,
    ))
    .await;
    assert_eq!(setup.dispatch().await, 20);
    let calls = adapter.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[3].len(), 1, "the probe carries one target");
    let health = setup.dispatcher.certificate_health(APP, certificate);
    assert_eq!(
        health.state,
        HealthState::Working,
        "the probe was answered: {health:?}"
    );

    // The backlog follows in one request.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(setup.dispatch().await, 19);
    let calls = adapter.calls();
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert_eq!(calls[4].len(), 19, "the backlog went out in one request");
    let records = setup.deliveries(&message).await;
    assert!(
        records
            .iter()
            .all(|r| r.state == DeliveryState::Accepted && r.attempts == 4),
        "{records:?}"
    );
}
