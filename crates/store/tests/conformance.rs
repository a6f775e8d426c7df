//! The store conformance suite: every check is written against the `Store` trait and runs on
//! SQLite (a temporary file) and on PostgreSQL (a fresh database per check), so both backends
//! answer the same calls with the same rows, order, defaults and errors.
//!
//! PostgreSQL: `HERALD_TEST_POSTGRES_URL` names an admin connection (default
//! `postgres://postgres@127.0.0.1:5432/test`, else a server started for the tests, see
//! `herald-testkit`). Where none can be had, the PostgreSQL checks are reported as ignored with
//! the reason (a failure under CI).

use herald_core::delivery::{Attempt, DeliveryPlan, DeliveryState, JobResult, PlannedPush, PushJob};
use herald_core::message::{Destination, Message, MessageKind, PushInfo};
use herald_core::routing::{Decision, Reason};
use herald_core::store::{Binding, ProfileUpdate, StoreResult};
use herald_core::{
    CertificateDefaults, ClickAction, DeviceKey, NewCertificate, Platform, PushSettings, Secret,
    SessionState, Store, StoreError, Vendor, now_millis,
};
use herald_store::Sealer;
use herald_store::postgres::{PgStore, create_database};
use herald_store::sqlite::SqliteStore;
use serde_json::{Map, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const MASTER_KEY: [u8; 32] = [7; 32];

// ---------------------------------------------------------------------------------------------
// Harness

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                pub async fn $check() {
                    super::on_sqlite(super::$check).await;
                }
            )*
            pub fn tests() -> Vec<herald_testkit::AsyncTest> {
                herald_testkit::async_tests![$($check),*]
            }
        }
        mod postgres {
            $(
                pub async fn $check() {
                    super::on_postgres(stringify!($check), super::$check).await;
                }
            )*
            pub fn tests() -> Vec<herald_testkit::AsyncTest> {
                herald_testkit::async_tests![$($check),*]
            }
        }
    };
}

/// SQLite always; PostgreSQL where one can be found or started (reported as ignored
/// otherwise, a failure under CI); the scale check on request (`--ignored`).
fn main() -> std::process::ExitCode {
    let postgres = herald_testkit::services::postgres().map(drop);
    herald_testkit::Suite::new("conformance")
        .tests("sqlite::", herald_testkit::Requirement::Met, sqlite::tests())
        .tests(
            "postgres::",
            herald_testkit::Requirement::service(postgres),
            postgres::tests(),
        )
        .on_request(herald_testkit::async_tests![
            postgres_commit_message_scales_to_100k_recipients
        ])
        .run()
}

conformance!(
    check_postponed_jobs,
    check_meta,
    check_apps,
    check_certificates,
    check_users,
    check_devices,
    check_groups,
    check_messages,
    check_jobs,
    check_leased_commit,
    check_concurrent_claims,
    check_small_commits_side_by_side,
    check_retention,
    check_quota_usage,
);

async fn on_sqlite<F, Fut>(check: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
    let store = SqliteStore::open(&url, Sealer::new(&MASTER_KEY))
        .await
        .expect("open sqlite");
    check(Arc::new(store)).await;
}

/// Runs `check` on a database of its own, dropped afterwards (also when the check fails).
async fn on_postgres<F, Fut>(name: &str, check: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some((admin, db, url)) = fresh_postgres(name).await else {
        return;
    };
    let store = PgStore::open(&url, Sealer::new(&MASTER_KEY))
        .await
        .expect("open postgres");
    let outcome = tokio::spawn(check(Arc::new(store))).await;
    drop_database(&admin, &db).await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn fresh_postgres(check: &str) -> Option<(String, String, String)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let admin = herald_testkit::services::postgres_url();
    let tag: String = check.trim_start_matches("check_").chars().take(20).collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let db = format!(
        "herald_{tag}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    match create_database(&admin, &db).await {
        Ok(url) => Some((admin, db, url)),
        Err(error) => panic!("cannot create a test database: {error}"),
    }
}

async fn drop_database(admin: &str, db: &str) {
    let _ = herald_store::postgres::drop_database(admin, db).await;
}

// ---------------------------------------------------------------------------------------------
// Inputs and assertions

fn secret(value: &str) -> Secret<String> {
    Secret::new(value.to_string())
}

fn certificate(vendor: Vendor, name: &str) -> NewCertificate {
    let fields = json!({"app_id": "10001", "package_name": "com.example.chat"});
    let secrets = json!({"app_secret": "s3cret", "app_key": "k3y"});
    NewCertificate {
        vendor,
        name: name.to_string(),
        enabled: true,
        click_action: ClickAction::OpenPage {
            page: "com.example.ChatActivity".to_string(),
        },
        defaults: CertificateDefaults {
            channel_id: Some("im".to_string()),
            ..CertificateDefaults::default()
        },
        base_url: Some("http://127.0.0.1:9/".to_string()),
        fields: fields.as_object().cloned().unwrap_or_default(),
        secrets: Secret::new(secrets.as_object().cloned().unwrap_or_default()),
    }
}

fn binding(certificate_id: i64, vendor: Vendor, token: &str) -> Binding<'_> {
    Binding {
        platform: Platform::Android,
        certificate_id,
        vendor,
        token,
    }
}

fn message(app: &str, id: &str, from: &str, group: &str) -> Message {
    Message {
        id: id.to_string(),
        app_id: app.to_string(),
        from: from.to_string(),
        to: Destination::Group {
            group: group.to_string(),
        },
        kind: MessageKind::Text,
        content: json!({"text": format!("hello from {from}"), "z": 1, "a": [1.5, "x"]}),
        push: PushInfo {
            title: Some("Title".to_string()),
            ..PushInfo::default()
        },
        attributes: json!({"em_force_notification": true, "b": null})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        sender_nickname: Some("Sender".to_string()),
        group_name: Some("Group".to_string()),
        created_at: now_millis(),
    }
}

fn push_plan(user: &str, device: &str, certificate_id: i64, vendor: Vendor, token: &str) -> DeliveryPlan {
    DeliveryPlan {
        user_id: user.to_string(),
        device_id: device.to_string(),
        decision: Decision::Push,
        reason: Reason::RulesPassed,
        push: Some(PlannedPush {
            certificate_id,
            vendor,
            token: token.to_string(),
            sound: Some("ding.caf".to_string()),
            expires_at: now_millis() + 86_400_000,
        }),
    }
}

fn plain_plan(user: &str, device: &str, decision: Decision, reason: Reason) -> DeliveryPlan {
    DeliveryPlan {
        user_id: user.to_string(),
        device_id: device.to_string(),
        decision,
        reason,
        push: None,
    }
}

fn attempt(outcome: &str, code: Option<&str>) -> Attempt {
    Attempt {
        at: now_millis(),
        outcome: outcome.parse().expect("an attempt outcome"),
        code: code.map(str::to_string),
        latency_ms: 12,
    }
}

fn result(job: i64, state: DeliveryState, attempt: Attempt) -> JobResult {
    JobResult {
        id: job,
        state,
        not_before: None,
        attempt,
        vendor_msg_id: None,
        unbind: None,
    }
}

#[track_caller]
fn assert_not_found<T: Debug>(result: StoreResult<T>, entity: &str, id: &str) {
    match result {
        Err(StoreError::NotFound { entity: e, id: i }) if e == entity && i == id => {}
        other => panic!("expected {entity} `{id}` not found, got {other:?}"),
    }
}

#[track_caller]
fn assert_conflict<T: Debug>(result: StoreResult<T>, entity: &str) {
    match result {
        Err(StoreError::Conflict { entity: e, .. }) if e == entity => {}
        other => panic!("expected a {entity} conflict, got {other:?}"),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn new_app(store: &dyn Store, id: &str) {
    store
        .create_app(id, &format!("App {id}"), &secret("app-secret"))
        .await
        .expect("create app");
}

// ---------------------------------------------------------------------------------------------
// Checks

async fn check_meta(store: Arc<dyn Store>) {
    assert_eq!(store.admin_token_hash().await.expect("hash"), None);
    assert!(store.init_admin_token_hash("first").await.expect("init"));
    assert!(!store.init_admin_token_hash("second").await.expect("init again"));
    assert_eq!(
        store.admin_token_hash().await.expect("hash").as_deref(),
        Some("first")
    );
}

async fn check_apps(store: Arc<dyn Store>) {
    assert!(store.list_apps().await.expect("list").is_empty());
    let created = store
        .create_app("app_b", "Second", &secret("b-secret"))
        .await
        .expect("create");
    assert_eq!((created.id.as_str(), created.name.as_str()), ("app_b", "Second"));
    new_app(&*store, "app_a").await;
    new_app(&*store, "App_C").await;
    assert_conflict(store.create_app("app_b", "Again", &secret("x")).await, "app");

    let listed = store.list_apps().await.expect("list");
    let mut expected: Vec<(i64, String)> = listed.iter().map(|a| (a.created_at, a.id.clone())).collect();
    expected.sort();
    assert_eq!(
        listed
            .iter()
            .map(|a| (a.created_at, a.id.clone()))
            .collect::<Vec<_>>(),
        expected,
        "apps are listed oldest first, then by id"
    );
    assert_eq!(listed.len(), 3);
    assert_eq!(store.get_app("app_b").await.expect("get"), created);
    assert_not_found(store.get_app("nope").await, "app", "nope");

    assert_eq!(
        store.app_secret("app_b").await.expect("secret").expose(),
        "b-secret"
    );
    store
        .set_app_secret("app_b", &secret("rotated"))
        .await
        .expect("rotate");
    assert_eq!(
        store.app_secret("app_b").await.expect("secret").expose(),
        "rotated"
    );
    assert_not_found(store.app_secret("nope").await, "app", "nope");
    assert_not_found(store.set_app_secret("nope", &secret("x")).await, "app", "nope");

    // Deleting an app takes everything it owns with it.
    let cert = store
        .create_certificate("app_b", &certificate(Vendor::Fcm, "fcm"))
        .await
        .expect("certificate");
    store
        .bind_token(
            &DeviceKey::new("app_b", "u1", "d1"),
            &binding(cert.id, Vendor::Fcm, "tok-1"),
        )
        .await
        .expect("bind");
    store
        .create_group("app_b", "g", "G", &strings(&["u1"]))
        .await
        .expect("group");
    let m = message("app_b", "m1", "u1", "g");
    store
        .commit_message(
            &m,
            &strings(&["u1"]),
            &[push_plan("u1", "d1", cert.id, Vendor::Fcm, "tok-1")],
        )
        .await
        .expect("commit");
    store.delete_app("app_b").await.expect("delete");
    assert_not_found(store.get_app("app_b").await, "app", "app_b");
    assert_not_found(store.delete_app("app_b").await, "app", "app_b");
    assert!(store.claim_jobs(10, 30_000).await.expect("claim").is_empty());
    // The id is free again, and nothing of the old app is visible under it.
    new_app(&*store, "app_b").await;
    assert!(store.list_certificates("app_b").await.expect("list").is_empty());
    assert_not_found(store.get_user("app_b", "u1").await, "user", "u1");
    assert_not_found(store.get_message("app_b", "m1").await, "message", "m1");
    assert_eq!(store.list_apps().await.expect("list").len(), 3);
}

async fn check_certificates(store: Arc<dyn Store>) {
    new_app(&*store, "a1").await;
    new_app(&*store, "a2").await;
    let new = certificate(Vendor::Xiaomi, "mi-prod");
    let created = store.create_certificate("a1", &new).await.expect("create");
    assert_eq!(created.app_id, "a1");
    assert_eq!(created.vendor, Vendor::Xiaomi);
    assert_eq!(created.name, "mi-prod");
    assert!(created.enabled);
    assert_eq!(created.click_action, new.click_action);
    assert_eq!(created.defaults, new.defaults);
    assert_eq!(created.base_url, new.base_url);
    assert_eq!(created.fields, new.fields);
    assert_eq!(created.secret_fields, strings(&["app_key", "app_secret"]));
    assert_eq!(created.created_at, created.updated_at);

    let secrets = store
        .certificate_secrets("a1", created.id)
        .await
        .expect("secrets");
    assert_eq!(secrets.expose(), new.secrets.expose());

    assert_conflict(
        store
            .create_certificate("a1", &certificate(Vendor::Fcm, "mi-prod"))
            .await,
        "certificate_name",
    );
    // Names are unique per app only.
    let other = store
        .create_certificate("a2", &certificate(Vendor::Xiaomi, "mi-prod"))
        .await
        .expect("same name, other app");
    let second = store
        .create_certificate("a1", &certificate(Vendor::Apns, "apns"))
        .await
        .expect("second");
    assert!(second.id > created.id);

    let listed = store.list_certificates("a1").await.expect("list");
    assert_eq!(listed, vec![created.clone(), second.clone()]);
    assert_eq!(
        store.get_certificate("a1", created.id).await.expect("get"),
        created
    );
    assert_eq!(
        store
            .find_certificate_by_name("a1", "apns")
            .await
            .expect("by name"),
        second
    );
    let missing = created.id + 1000;
    assert_not_found(
        store.get_certificate("a1", missing).await,
        "certificate",
        &missing.to_string(),
    );
    assert_not_found(
        store.get_certificate("a1", other.id).await,
        "certificate",
        &other.id.to_string(),
    );
    assert_not_found(
        store.find_certificate_by_name("a1", "nope").await,
        "certificate",
        "nope",
    );
    assert_not_found(
        store.certificate_secrets("a2", created.id).await,
        "certificate",
        &created.id.to_string(),
    );

    // Replace: every field changes, the secrets too.
    let mut update = certificate(Vendor::Xiaomi, "mi-renamed");
    update.enabled = false;
    update.click_action = ClickAction::OpenApp;
    update.defaults = CertificateDefaults::default();
    update.base_url = None;
    update.fields = Map::new();
    update.secrets = Secret::new(
        json!({"app_secret": "new"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let replaced = store
        .replace_certificate("a1", created.id, &update)
        .await
        .expect("replace");
    assert_eq!(replaced.id, created.id);
    assert_eq!(replaced.name, "mi-renamed");
    assert!(!replaced.enabled);
    assert_eq!(replaced.click_action, ClickAction::OpenApp);
    assert_eq!(replaced.base_url, None);
    assert!(replaced.fields.is_empty());
    assert_eq!(replaced.secret_fields, strings(&["app_secret"]));
    assert_eq!(replaced.created_at, created.created_at);
    assert_eq!(
        store
            .certificate_secrets("a1", created.id)
            .await
            .expect("secrets")
            .expose(),
        update.secrets.expose()
    );
    assert_conflict(
        store
            .replace_certificate("a1", created.id, &certificate(Vendor::Xiaomi, "apns"))
            .await,
        "certificate_name",
    );
    assert_not_found(
        store.replace_certificate("a1", missing, &update).await,
        "certificate",
        &missing.to_string(),
    );

    // Deleting a certificate unbinds its devices and leaves others alone.
    store
        .bind_token(
            &DeviceKey::new("a1", "u1", "d1"),
            &binding(created.id, Vendor::Xiaomi, "mi-token"),
        )
        .await
        .expect("bind");
    store
        .bind_token(
            &DeviceKey::new("a1", "u1", "d2"),
            &binding(second.id, Vendor::Apns, "apns-token"),
        )
        .await
        .expect("bind");
    store.delete_certificate("a1", created.id).await.expect("delete");
    assert!(
        store
            .get_device(&DeviceKey::new("a1", "u1", "d1"))
            .await
            .expect("device")
            .binding
            .is_none()
    );
    assert!(
        store
            .get_device(&DeviceKey::new("a1", "u1", "d2"))
            .await
            .expect("device")
            .binding
            .is_some()
    );
    assert_not_found(
        store.delete_certificate("a1", created.id).await,
        "certificate",
        &created.id.to_string(),
    );
    assert_not_found(
        store.delete_certificate("a1", other.id).await,
        "certificate",
        &other.id.to_string(),
    );
    assert_eq!(store.list_certificates("a1").await.expect("list"), vec![second]);
}

async fn check_users(store: Arc<dyn Store>) {
    new_app(&*store, "a1").await;
    let (user, created) = store
        .upsert_user(
            "a1",
            "alice",
            &ProfileUpdate {
                nickname: Some("Alice".to_string()),
                avatar_url: Some("https://example.com/a.png".to_string()),
            },
        )
        .await
        .expect("create");
    assert!(created);
    assert_eq!(user.id, "alice");
    assert_eq!(user.nickname.as_deref(), Some("Alice"));

    let (updated, created) = store
        .upsert_user(
            "a1",
            "alice",
            &ProfileUpdate {
                nickname: Some("Ally".to_string()),
                avatar_url: None,
            },
        )
        .await
        .expect("update");
    assert!(!created);
    assert_eq!(updated.nickname.as_deref(), Some("Ally"));
    assert_eq!(updated.avatar_url.as_deref(), Some("https://example.com/a.png"));
    assert_eq!(updated.created_at, user.created_at);
    assert_eq!(store.get_user("a1", "alice").await.expect("get"), updated);

    let (bare, created) = store
        .upsert_user("a1", "Bob", &ProfileUpdate::default())
        .await
        .expect("bare");
    assert!(created);
    assert_eq!((bare.nickname, bare.avatar_url), (None, None));

    assert_not_found(
        store
            .upsert_user("nope", "alice", &ProfileUpdate::default())
            .await,
        "app",
        "nope",
    );
    assert_not_found(store.get_user("a1", "carol").await, "user", "carol");

    let asked = strings(&["zed", "alice", "carol", "Bob", "zed", "a.b"]);
    assert_eq!(
        store.missing_users("a1", &asked).await.expect("missing"),
        strings(&["zed", "carol", "zed", "a.b"]),
        "missing ids keep the order (and repeats) they were asked in"
    );
    assert!(store.missing_users("a1", &[]).await.expect("none").is_empty());

    assert_eq!(
        store.push_settings("a1", "alice").await.expect("defaults"),
        PushSettings::default()
    );
    let settings: PushSettings = serde_json::from_value(json!({
        "enabled": false,
        "c2c_sound": "c2c.caf",
        "muted": ["group:g1", "c2c:bob"]
    }))
    .expect("settings");
    store
        .set_push_settings("a1", "alice", &settings)
        .await
        .expect("set");
    assert_eq!(store.push_settings("a1", "alice").await.expect("get"), settings);
    assert_not_found(store.push_settings("a1", "carol").await, "user", "carol");
    assert_not_found(
        store.set_push_settings("a1", "carol", &settings).await,
        "user",
        "carol",
    );
    // Another app sees none of it.
    new_app(&*store, "a2").await;
    assert_not_found(store.get_user("a2", "alice").await, "user", "alice");
}

async fn check_devices(store: Arc<dyn Store>) {
    new_app(&*store, "a1").await;
    new_app(&*store, "a2").await;
    let fcm = store
        .create_certificate("a1", &certificate(Vendor::Fcm, "fcm"))
        .await
        .expect("fcm");
    let hw = store
        .create_certificate("a1", &certificate(Vendor::Huawei, "hw"))
        .await
        .expect("huawei");
    let other = store
        .create_certificate("a2", &certificate(Vendor::Fcm, "fcm"))
        .await
        .expect("fcm a2");

    // Binding creates the user and the device.
    let d1 = store
        .bind_token(
            &DeviceKey::new("a1", "alice", "phone"),
            &binding(fcm.id, Vendor::Fcm, "T1"),
        )
        .await
        .expect("bind");
    assert_eq!(d1.state, SessionState::Offline);
    assert_eq!(d1.platform, Platform::Android);
    assert_eq!(d1.badge, 0);
    let bound = d1.binding.clone().expect("binding");
    assert_eq!(
        (bound.certificate_id, bound.vendor, bound.token.as_str()),
        (fcm.id, Vendor::Fcm, "T1")
    );
    store.get_user("a1", "alice").await.expect("user created");

    // The token moves to the next device that binds it, in the same app only.
    store
        .bind_token(
            &DeviceKey::new("a2", "alice", "phone"),
            &binding(other.id, Vendor::Fcm, "T1"),
        )
        .await
        .expect("bind in a2");
    let moved = store
        .bind_token(
            &DeviceKey::new("a1", "bob", "Tablet"),
            &binding(fcm.id, Vendor::Fcm, "T1"),
        )
        .await
        .expect("move");
    assert_eq!(moved.binding.map(|b| b.token).as_deref(), Some("T1"));
    assert!(
        store
            .get_device(&DeviceKey::new("a1", "alice", "phone"))
            .await
            .expect("old holder")
            .binding
            .is_none()
    );
    assert!(
        store
            .get_device(&DeviceKey::new("a2", "alice", "phone"))
            .await
            .expect("other app")
            .binding
            .is_some()
    );
    // Rebinding the same token to the same device keeps it.
    let again = store
        .bind_token(
            &DeviceKey::new("a1", "bob", "Tablet"),
            &binding(hw.id, Vendor::Huawei, "T1"),
        )
        .await
        .expect("rebind");
    assert_eq!(again.binding.map(|b| b.vendor), Some(Vendor::Huawei));

    // Sessions.
    let opened = store
        .open_session(
            &DeviceKey::new("a1", "alice", "laptop"),
            Platform::Web,
            SessionState::Online,
        )
        .await
        .expect("open");
    assert_eq!(
        (opened.platform, opened.state),
        (Platform::Web, SessionState::Online)
    );
    assert!(opened.binding.is_none());
    let session = store
        .open_session(
            &DeviceKey::new("a1", "carol", "phone"),
            Platform::Ios,
            SessionState::Background,
        )
        .await
        .expect("open creates the user");
    assert_eq!(session.state, SessionState::Background);
    store.get_user("a1", "carol").await.expect("user created");

    let set = store
        .set_session(
            &DeviceKey::new("a1", "alice", "laptop"),
            SessionState::Background,
            Some(5),
        )
        .await
        .expect("set");
    assert_eq!((set.state, set.badge), (SessionState::Background, 5));
    let set = store
        .set_session(
            &DeviceKey::new("a1", "alice", "laptop"),
            SessionState::Online,
            None,
        )
        .await
        .expect("set");
    assert_eq!((set.state, set.badge), (SessionState::Online, 5));
    assert_not_found(
        store
            .set_session(&DeviceKey::new("a1", "alice", "nope"), SessionState::Online, None)
            .await,
        "device",
        "nope",
    );

    // Logging out keeps the token unless asked; a logged-out device binding again is offline.
    store
        .bind_token(
            &DeviceKey::new("a1", "alice", "phone"),
            &binding(fcm.id, Vendor::Fcm, "T2"),
        )
        .await
        .expect("bind T2");
    let out = store
        .logout(&DeviceKey::new("a1", "alice", "phone"), false)
        .await
        .expect("logout");
    assert_eq!(out.state, SessionState::LoggedOut);
    assert!(out.binding.is_some());
    let back = store
        .bind_token(
            &DeviceKey::new("a1", "alice", "phone"),
            &binding(fcm.id, Vendor::Fcm, "T2"),
        )
        .await
        .expect("bind after logout");
    assert_eq!(back.state, SessionState::Offline);
    let kicked = store
        .set_session(
            &DeviceKey::new("a1", "alice", "laptop"),
            SessionState::Kicked,
            None,
        )
        .await
        .expect("kick");
    assert_eq!(kicked.state, SessionState::Kicked);
    let out = store
        .logout(&DeviceKey::new("a1", "alice", "phone"), true)
        .await
        .expect("logout+unbind");
    assert!(out.binding.is_none());
    assert_not_found(
        store.logout(&DeviceKey::new("a1", "alice", "nope"), true).await,
        "device",
        "nope",
    );

    store
        .bind_token(
            &DeviceKey::new("a1", "alice", "phone"),
            &binding(fcm.id, Vendor::Fcm, "T3"),
        )
        .await
        .expect("bind T3");
    let unbound = store
        .unbind_token(&DeviceKey::new("a1", "alice", "phone"))
        .await
        .expect("unbind");
    assert!(unbound.binding.is_none());
    assert_eq!(unbound.state, SessionState::Offline);
    assert_not_found(
        store.unbind_token(&DeviceKey::new("a1", "alice", "nope")).await,
        "device",
        "nope",
    );
    assert_not_found(
        store.get_device(&DeviceKey::new("a1", "alice", "nope")).await,
        "device",
        "nope",
    );

    // Lists come in byte order of the device id.
    for device in ["b-2", "B1", "_x", "a.1"] {
        store
            .open_session(
                &DeviceKey::new("a1", "dave", device),
                Platform::Android,
                SessionState::Offline,
            )
            .await
            .expect("open");
    }
    let ids: Vec<String> = store
        .list_devices("a1", "dave")
        .await
        .expect("list")
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    assert_eq!(ids, strings(&["B1", "_x", "a.1", "b-2"]));
    assert!(
        store
            .list_devices("a1", "nobody")
            .await
            .expect("empty")
            .is_empty()
    );

    store
        .bind_token(
            &DeviceKey::new("a1", "dave", "B1"),
            &binding(fcm.id, Vendor::Fcm, "T4"),
        )
        .await
        .expect("bind");
    store
        .bind_token(
            &DeviceKey::new("a1", "dave", "_x"),
            &binding(fcm.id, Vendor::Fcm, "T5"),
        )
        .await
        .expect("bind");
    assert_eq!(
        store.count_bound_devices("a1").await.expect("count"),
        vec![(Vendor::Fcm, 2), (Vendor::Huawei, 1)]
    );
    assert_eq!(
        store.count_bound_devices("a2").await.expect("count"),
        vec![(Vendor::Fcm, 1)]
    );

    // Binding one token from many tasks at once leaves it on exactly one device.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let cert = fcm.id;
        tasks.push(tokio::spawn(async move {
            store
                .bind_token(
                    &DeviceKey::new("a1", "erin", &format!("d{i}")),
                    &binding(cert, Vendor::Fcm, "RACE"),
                )
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("concurrent bind");
    }
    let holders = store
        .list_devices("a1", "erin")
        .await
        .expect("list")
        .into_iter()
        .filter(|d| d.binding.as_ref().is_some_and(|b| b.token == "RACE"))
        .count();
    assert_eq!(holders, 1);
    // Changing a device that does not exist is `not found`, and creates nothing.
    let ghost = DeviceKey::new("a1", "alice", "ghost");
    assert_not_found(store.unbind_token(&ghost).await, "device", "ghost");
    assert_not_found(
        store.set_session(&ghost, SessionState::Background, Some(1)).await,
        "device",
        "ghost",
    );
    assert_not_found(store.logout(&ghost, true).await, "device", "ghost");
    assert_not_found(store.get_device(&ghost).await, "device", "ghost");
}

async fn check_groups(store: Arc<dyn Store>) {
    new_app(&*store, "a1").await;
    for user in ["u1", "U2", "u3", "u_4"] {
        store
            .upsert_user("a1", user, &ProfileUpdate::default())
            .await
            .expect("user");
    }
    let group = store
        .create_group("a1", "g1", "Group one", &strings(&["u3", "u1", "U2", "u1"]))
        .await
        .expect("create");
    assert_eq!(group.id, "g1");
    assert_eq!(group.name, "Group one");
    assert_eq!(group.members, strings(&["U2", "u1", "u3"]));
    assert_conflict(store.create_group("a1", "g1", "Again", &[]).await, "group");
    // An unknown member fails the whole create: the first unknown one is named.
    assert_not_found(
        store
            .create_group("a1", "g2", "Two", &strings(&["u1", "ghost", "ghost2"]))
            .await,
        "user",
        "ghost",
    );
    assert_not_found(store.get_group("a1", "g2").await, "group", "g2");

    assert_eq!(store.get_group("a1", "g1").await.expect("get"), group);
    assert_eq!(store.group_name("a1", "g1").await.expect("name"), "Group one");
    assert_not_found(store.group_name("a1", "nope").await, "group", "nope");
    assert_eq!(
        store.group_members("a1", "g1").await.expect("members"),
        strings(&["U2", "u1", "u3"])
    );
    assert_not_found(store.group_members("a1", "nope").await, "group", "nope");

    let grown = store
        .add_members("a1", "g1", &strings(&["u_4", "u1"]))
        .await
        .expect("add");
    assert_eq!(grown.members, strings(&["U2", "u1", "u3", "u_4"]));
    assert_not_found(
        store.add_members("a1", "g1", &strings(&["u1", "ghost"])).await,
        "user",
        "ghost",
    );
    assert_eq!(
        store
            .get_group("a1", "g1")
            .await
            .expect("unchanged")
            .members
            .len(),
        4
    );
    assert_not_found(
        store.add_members("a1", "nope", &strings(&["u1"])).await,
        "group",
        "nope",
    );
    let shrunk = store.remove_member("a1", "g1", "u1").await.expect("remove");
    assert_eq!(shrunk.members, strings(&["U2", "u3", "u_4"]));
    assert_not_found(store.remove_member("a1", "g1", "u1").await, "member", "u1");
    assert_not_found(store.remove_member("a1", "nope", "u1").await, "group", "nope");

    let empty = store.create_group("a1", "g3", "Empty", &[]).await.expect("empty");
    assert!(empty.members.is_empty());
    store.delete_group("a1", "g1").await.expect("delete");
    assert_not_found(store.get_group("a1", "g1").await, "group", "g1");
    assert_not_found(store.delete_group("a1", "g1").await, "group", "g1");
}

/// Users that commit_message reaches in one call.
const RECIPIENTS: usize = 3_000;

async fn check_messages(store: Arc<dyn Store>) {
    use futures::StreamExt;

    new_app(&*store, "a1").await;
    let fcm = store
        .create_certificate("a1", &certificate(Vendor::Fcm, "fcm"))
        .await
        .expect("fcm");
    let apns = store
        .create_certificate("a1", &certificate(Vendor::Apns, "apns"))
        .await
        .expect("apns");
    // Every user has a phone; every third one also a tablet on APNs.
    let users: Vec<String> = (0..RECIPIENTS).map(|i| format!("user{i:05}")).collect();
    futures::stream::iter(users.iter().enumerate())
        .for_each_concurrent(8, |(i, user)| {
            let store = store.clone();
            async move {
                store
                    .bind_token(
                        &DeviceKey::new("a1", user, "phone"),
                        &binding(fcm.id, Vendor::Fcm, &format!("fcm-{i}")),
                    )
                    .await
                    .expect("bind phone");
                if i % 3 == 0 {
                    store
                        .bind_token(
                            &DeviceKey::new("a1", user, "tablet"),
                            &binding(apns.id, Vendor::Apns, &format!("apns-{i}")),
                        )
                        .await
                        .expect("bind tablet");
                }
            }
        })
        .await;
    store
        .upsert_user(
            "a1",
            "sender",
            &ProfileUpdate {
                nickname: Some("Sam".to_string()),
                avatar_url: None,
            },
        )
        .await
        .expect("sender");

    let mut asked = users.clone();
    asked.push("ghost".to_string());
    let recipients = store.recipients("a1", &asked).await.expect("recipients");
    assert_eq!(recipients.len(), RECIPIENTS);
    assert_eq!(recipients[0].user_id, "user00000");
    assert_eq!(
        recipients[0]
            .devices
            .iter()
            .map(|d| d.device_id.as_str())
            .collect::<Vec<_>>(),
        vec!["phone", "tablet"]
    );
    assert_eq!(recipients[1].devices.len(), 1);
    assert_eq!(recipients[0].settings, PushSettings::default());
    let sender = store
        .recipients("a1", &strings(&["sender"]))
        .await
        .expect("sender");
    assert_eq!(sender[0].nickname.as_deref(), Some("Sam"));
    assert!(sender[0].devices.is_empty());

    // Plans: phones are pushed, tablets are live or skipped.
    let plans = || -> Vec<DeliveryPlan> {
        let mut plans = Vec::new();
        for (i, user) in users.iter().enumerate() {
            plans.push(push_plan(user, "phone", fcm.id, Vendor::Fcm, &format!("fcm-{i}")));
            if i % 3 == 0 {
                plans.push(if i % 2 == 0 {
                    plain_plan(user, "tablet", Decision::Live, Reason::OnlineInForeground)
                } else {
                    plain_plan(user, "tablet", Decision::Skip, Reason::ConversationMuted)
                });
            }
        }
        plans
    };
    let mut inbox = users.clone();
    inbox.push("sender".to_string());
    inbox.push("ghost".to_string());
    let m1 = message("a1", "m1", "sender", "g");
    let seqs = store
        .commit_message(&m1, &inbox, &plans())
        .await
        .expect("commit 1");
    assert_eq!(seqs.len(), RECIPIENTS + 1, "unknown users get no inbox entry");
    assert!(seqs.values().all(|&s| s == 1));
    assert!(!seqs.contains_key("ghost"));
    let m2 = message("a1", "m2", "sender", "g");
    let seqs = store
        .commit_message(&m2, &inbox, &plans())
        .await
        .expect("commit 2");
    assert!(seqs.values().all(|&s| s == 2));
    // A message to a subset moves only those users on.
    let m3 = message("a1", "m3", "sender", "g");
    let seqs = store
        .commit_message(&m3, &strings(&["user00001"]), &[])
        .await
        .expect("commit 3");
    assert_eq!(seqs, BTreeMap::from([("user00001".to_string(), 3)]));

    assert_eq!(store.get_message("a1", "m1").await.expect("get"), m1);
    assert_not_found(store.get_message("a1", "nope").await, "message", "nope");
    assert_not_found(store.get_message("a2", "m1").await, "message", "m1");

    let all = store.inbox_after("a1", "user00001", 0, 10).await.expect("inbox");
    assert_eq!(
        all.iter().map(|(s, m)| (*s, m.id.as_str())).collect::<Vec<_>>(),
        vec![(1, "m1"), (2, "m2"), (3, "m3")]
    );
    assert_eq!(all[1].1, m2);
    let after = store.inbox_after("a1", "user00001", 1, 1).await.expect("inbox");
    assert_eq!(after.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![2]);
    assert!(
        store
            .inbox_after("a1", "user00001", 3, 10)
            .await
            .expect("none")
            .is_empty()
    );
    assert!(
        store
            .inbox_after("a1", "ghost", 0, 10)
            .await
            .expect("none")
            .is_empty()
    );

    assert_eq!(
        store
            .acked(&DeviceKey::new("a1", "user00001", "phone"))
            .await
            .expect("acked"),
        0
    );
    store
        .ack(&DeviceKey::new("a1", "user00001", "phone"), 2)
        .await
        .expect("ack");
    store
        .ack(&DeviceKey::new("a1", "user00001", "phone"), 1)
        .await
        .expect("ack lower");
    assert_eq!(
        store
            .acked(&DeviceKey::new("a1", "user00001", "phone"))
            .await
            .expect("acked"),
        2
    );
    store
        .ack(&DeviceKey::new("a1", "user00001", "nope"), 5)
        .await
        .expect("ack unknown device");
    assert_eq!(
        store
            .acked(&DeviceKey::new("a1", "user00001", "nope"))
            .await
            .expect("acked"),
        0
    );

    // Badges: two pushes each.
    let phone = store
        .get_device(&DeviceKey::new("a1", "user00000", "phone"))
        .await
        .expect("phone");
    assert_eq!(phone.badge, 2);
    let tablet = store
        .get_device(&DeviceKey::new("a1", "user00000", "tablet"))
        .await
        .expect("tablet");
    assert_eq!(tablet.badge, 0);

    let records = store.message_deliveries("a1", "m2").await.expect("deliveries");
    assert_eq!(records.len(), RECIPIENTS + RECIPIENTS.div_ceil(3));
    let keys: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.user_id.clone(), r.device_id.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "deliveries are listed by user, then device");
    let first = &records[0];
    assert_eq!(
        (first.user_id.as_str(), first.device_id.as_str()),
        ("user00000", "phone")
    );
    assert_eq!(first.decision, "push");
    assert_eq!(first.reason, "rules_passed");
    assert_eq!(first.vendor, Some(Vendor::Fcm));
    assert_eq!(first.certificate_id, Some(fcm.id));
    assert_eq!(first.state, DeliveryState::Queued);
    assert_eq!(first.attempts, 0);
    assert!(first.log.is_empty());
    assert_eq!(
        (first.vendor_code.as_ref(), first.vendor_msg_id.as_ref()),
        (None, None)
    );
    let live = &records[1];
    assert_eq!(
        (live.device_id.as_str(), live.decision.as_str(), live.state),
        ("tablet", "live", DeliveryState::Live)
    );
    assert_eq!((live.vendor, live.certificate_id), (None, None));
    let skipped = records
        .iter()
        .find(|r| r.user_id == "user00003" && r.device_id == "tablet")
        .expect("skipped record");
    assert_eq!(
        (skipped.reason.as_str(), skipped.state),
        ("conversation_muted", DeliveryState::Skipped)
    );
    assert!(
        store
            .message_deliveries("a1", "m3")
            .await
            .expect("none")
            .is_empty()
    );

    let latest = store
        .device_deliveries(&DeviceKey::new("a1", "user00000", "phone"), 1)
        .await
        .expect("device deliveries");
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].message_id, "m2");
    let both = store
        .device_deliveries(&DeviceKey::new("a1", "user00000", "phone"), 10)
        .await
        .expect("device deliveries");
    assert_eq!(
        both.iter().map(|r| r.message_id.as_str()).collect::<Vec<_>>(),
        vec!["m2", "m1"]
    );

    // Jobs carry the badge the device had after that push.
    let jobs = store.claim_jobs(10, 30_000).await.expect("claim");
    assert_eq!(jobs.len(), 10);
    assert_eq!(jobs[0].message_id, "m1");
    assert_eq!((jobs[0].user_id.as_str(), jobs[0].badge), ("user00000", 1));
    assert_eq!(jobs[0].sound.as_deref(), Some("ding.caf"));

    let counts = store.delivery_counts("a1").await.expect("counts");
    let pushes = 2 * RECIPIENTS as i64;
    assert_eq!(
        counts,
        vec![
            (Vendor::Fcm, DeliveryState::InFlight, 10),
            (Vendor::Fcm, DeliveryState::Queued, pushes - 10),
        ]
    );
    new_app(&*store, "a2").await;
    assert!(store.delivery_counts("a2").await.expect("counts").is_empty());
}

/// Small message commits made at the same moment may be written together; one that fails
/// (a message id used before) must fail alone, leave no trace, and leave the store writable.
async fn check_small_commits_side_by_side(store: Arc<dyn Store>) {
    new_app(&*store, "a1").await;
    let fcm = store
        .create_certificate("a1", &certificate(Vendor::Fcm, "fcm"))
        .await
        .expect("fcm");
    let users: Vec<String> = (0..20).map(|i| format!("u{i:02}")).collect();
    for (i, user) in users.iter().enumerate() {
        store
            .bind_token(
                &DeviceKey::new("a1", user, "phone"),
                &binding(fcm.id, Vendor::Fcm, &format!("t{i}")),
            )
            .await
            .expect("bind");
    }
    let plan = |i: usize| push_plan(&users[i], "phone", fcm.id, Vendor::Fcm, &format!("t{i}"));
    let taken = message("a1", "taken", "sender", "g");
    store
        .commit_message(&taken, &users[..1], &[plan(0)])
        .await
        .expect("first use of the id");

    // Alone: the failed commit must not leave its transaction open.
    assert!(
        store
            .commit_message(&taken, &users[..1], &[plan(0)])
            .await
            .is_err()
    );

    // Side by side with twenty good ones, twice over.
    for round in 0..2 {
        let commits = (0..=users.len()).map(|i| {
            let store = store.clone();
            let (message, inbox, plans) = if i == users.len() {
                (taken.clone(), users[..1].to_vec(), vec![plan(0)])
            } else {
                (
                    message("a1", &format!("m{round}-{i}"), "sender", "g"),
                    vec![users[i].clone()],
                    vec![plan(i)],
                )
            };
            async move { store.commit_message(&message, &inbox, &plans).await }
        });
        // A group retrying its commits one by one once waited forever on a writer turn
        // held by a caller whose commit was in that very group.
        let answers = tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(commits))
            .await
            .expect("the commits must all be answered");
        let (reused, good) = answers.split_last().expect("answers");
        assert!(reused.is_err(), "a message id used before: {reused:?}");
        for (i, answer) in good.iter().enumerate() {
            let seqs = answer.as_ref().expect("a good commit");
            let expected = if i == 0 { 2 + round } else { 1 + round };
            assert_eq!(seqs.get(&users[i]), Some(&expected), "{}", users[i]);
        }
    }

    // Nothing of the failed commits stayed: u00 has its three messages, no gap, one badge each.
    let inbox = store.inbox_after("a1", "u00", 0, 10).await.expect("inbox");
    assert_eq!(
        inbox
            .iter()
            .map(|(seq, m)| (*seq, m.id.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "taken"), (2, "m0-0"), (3, "m1-0")]
    );
    assert_eq!(
        store
            .get_device(&DeviceKey::new("a1", "u00", "phone"))
            .await
            .expect("device")
            .badge,
        3
    );
    assert_eq!(
        store
            .message_deliveries("a1", "taken")
            .await
            .expect("records")
            .len(),
        1
    );
    let later = message("a1", "later", "sender", "g");
    let seqs = store
        .commit_message(&later, &users[..1], &[plan(0)])
        .await
        .expect("the store still writes");
    assert_eq!(seqs.get("u00"), Some(&4));
}

/// Three devices, one message, three push jobs; returns them claimed.
/// Retention deletes what is older than its cut-off, in batches, and nothing else: newer
/// messages and their inboxes stay, and a push job still open is never deleted.
async fn check_retention(store: Arc<dyn Store>) {
    let (cert, jobs) = three_jobs(store.as_ref(), "r1").await;
    // The old message had three pushes: one finishes, two stay open.
    store
        .complete_jobs(&[result(
            jobs[0].id,
            DeliveryState::Accepted,
            attempt("accepted", None),
        )])
        .await
        .expect("complete");
    let live = plain_plan("u2", "d", Decision::Live, Reason::OnlineInForeground);
    store
        .commit_message(&message("r1", "old-live", "u1", "g"), &strings(&["u2"]), &[live])
        .await
        .expect("commit");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cut_off = now_millis();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .commit_message(
            &message("r1", "new", "u1", "g"),
            &strings(&["u1", "u2"]),
            &[push_plan("u1", "d", cert, Vendor::Huawei, "r1-u1-token")],
        )
        .await
        .expect("commit");

    // Batches of one: each call deletes at most one message and one record.
    let first = store.purge_old(cut_off, cut_off, 1).await.expect("purge");
    assert_eq!((first.messages, first.deliveries), (1, 1), "{first:?}");
    assert!(first.was_full(1));
    let mut total = first;
    loop {
        let batch = store.purge_old(cut_off, cut_off, 1).await.expect("purge");
        total.messages += batch.messages;
        total.inbox += batch.inbox;
        total.deliveries += batch.deliveries;
        if !batch.was_full(1) {
            break;
        }
    }
    assert_eq!(
        (total.messages, total.inbox, total.deliveries),
        (2, 0, 2),
        "two old messages, the finished push and the live record: {total:?}"
    );
    // Their four inbox entries are no longer read, and a sweep in steps of two deletes them.
    let mut after = herald_core::store::InboxKey::start();
    let mut swept = 0;
    let mut steps = 0;
    loop {
        let (deleted, next) = store.sweep_inbox(&after, 2).await.expect("sweep");
        swept += deleted;
        steps += 1;
        match next {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(swept, 4, "the old messages' inbox entries");
    assert_eq!(steps, 4, "six entries in steps of two, and the end: {steps}");
    assert_not_found(store.get_message("r1", "r1-m").await, "message", "r1-m");
    assert_not_found(store.get_message("r1", "old-live").await, "message", "old-live");
    assert_eq!(store.get_message("r1", "new").await.expect("kept").id, "new");
    let inbox = store.inbox_after("r1", "u2", 0, 10).await.expect("inbox");
    let ids: Vec<&str> = inbox.iter().map(|(_, m)| m.id.as_str()).collect();
    assert_eq!(ids, ["new"], "u2's inbox keeps only the new message");
    let open = store.message_deliveries("r1", "r1-m").await.expect("records");
    assert_eq!(
        open.len(),
        2,
        "the two open pushes of the old message stay: {open:?}"
    );
    assert!(open.iter().all(|r| !r.state.is_final()), "{open:?}");
    assert_eq!(
        store
            .message_deliveries("r1", "new")
            .await
            .expect("records")
            .len(),
        1
    );
    let again = store.purge_old(cut_off, cut_off, 100).await.expect("purge");
    assert_eq!(
        again,
        herald_core::store::Purged::default(),
        "nothing more is old"
    );
}

/// The daily quota's count: every node's additions go to one total per certificate and day.
async fn check_quota_usage(store: Arc<dyn Store>) {
    new_app(store.as_ref(), "q1").await;
    let hw = store
        .create_certificate("q1", &certificate(Vendor::Huawei, "hw"))
        .await
        .expect("certificate");
    let fcm = store
        .create_certificate("q1", &certificate(Vendor::Fcm, "fcm"))
        .await
        .expect("certificate");
    let day = 20_000;
    assert_eq!(store.add_quota_usage("q1", hw.id, day, 0).await.expect("read"), 0);
    assert_eq!(store.add_quota_usage("q1", hw.id, day, 3).await.expect("add"), 3);
    assert_eq!(
        store.add_quota_usage("q1", hw.id, day, 4).await.expect("add"),
        7,
        "another node's four"
    );
    assert_eq!(store.add_quota_usage("q1", hw.id, day, 0).await.expect("read"), 7);
    assert_eq!(
        store.add_quota_usage("q1", hw.id, day + 1, 1).await.expect("add"),
        1,
        "a new day"
    );
    assert_eq!(
        store.add_quota_usage("q1", fcm.id, day, 0).await.expect("read"),
        0,
        "per certificate"
    );
    assert_eq!(
        store.add_quota_usage("q1", 999_999, day, 5).await.expect("add"),
        0,
        "nothing is counted for a certificate that does not exist"
    );
    store.delete_certificate("q1", hw.id).await.expect("delete");
    assert_eq!(store.add_quota_usage("q1", hw.id, day, 0).await.expect("read"), 0);
}

async fn three_jobs(store: &dyn Store, app: &str) -> (i64, Vec<PushJob>) {
    new_app(store, app).await;
    let cert = store
        .create_certificate(app, &certificate(Vendor::Huawei, "hw"))
        .await
        .expect("certificate");
    let mut plans = Vec::new();
    for user in ["u1", "u2", "u3"] {
        let token = format!("{app}-{user}-token");
        store
            .bind_token(
                &DeviceKey::new(app, user, "d"),
                &binding(cert.id, Vendor::Huawei, &token),
            )
            .await
            .expect("bind");
        plans.push(push_plan(user, "d", cert.id, Vendor::Huawei, &token));
    }
    store
        .commit_message(
            &message(app, &format!("{app}-m"), "u1", "g"),
            &strings(&["u1", "u2", "u3"]),
            &plans,
        )
        .await
        .expect("commit");
    let jobs = store.claim_jobs(100, 30_000).await.expect("claim");
    (cert.id, jobs)
}

async fn check_jobs(store: Arc<dyn Store>) {
    assert_eq!(store.next_due().await.expect("next due"), None);
    assert!(store.claim_jobs(10, 30_000).await.expect("empty").is_empty());
    store.complete_jobs(&[]).await.expect("nothing to complete");

    let before = now_millis();
    let (cert, jobs) = three_jobs(&*store, "a1").await;
    assert_eq!(jobs.len(), 3);
    assert!(
        jobs.windows(2).all(|w| w[0].id < w[1].id),
        "claimed jobs come in id order"
    );
    let job = &jobs[0];
    assert_eq!(job.app_id, "a1");
    assert_eq!(job.message_id, "a1-m");
    assert_eq!((job.user_id.as_str(), job.device_id.as_str()), ("u1", "d"));
    assert_eq!((job.certificate_id, job.vendor), (cert, Vendor::Huawei));
    assert_eq!(job.token, "a1-u1-token");
    assert_eq!(job.badge, 1);
    assert_eq!(job.attempts, 0);
    assert!(job.expires_at > before);
    assert!(job.created_at >= before - 1000);
    // Leased: nobody else gets them, and the lease end is when something is next due.
    assert!(store.claim_jobs(10, 30_000).await.expect("leased").is_empty());
    let due = store.next_due().await.expect("due").expect("in flight");
    assert!(due >= before + 30_000);
    let (j1, j2, j3) = (jobs[0].id, jobs[1].id, jobs[2].id);

    // A retry stays queued, not before the given time; the others end.
    let retry_at = now_millis() + 600_000;
    let accepted = JobResult {
        vendor_msg_id: Some("vendor-1".to_string()),
        ..result(j2, DeliveryState::Accepted, attempt("accepted", Some("80000000")))
    };
    // u3's device was bound again meanwhile, so its token stays; u2's is unbound below.
    store
        .bind_token(
            &DeviceKey::new("a1", "u3", "d"),
            &binding(cert, Vendor::Huawei, "fresh-token"),
        )
        .await
        .expect("rebind");
    store
        .complete_jobs(&[
            JobResult {
                not_before: Some(retry_at),
                ..result(j1, DeliveryState::Queued, attempt("retry", Some("503")))
            },
            accepted,
            JobResult {
                unbind: Some(DeviceKey::new("a1", "u3", "d")),
                ..result(
                    j3,
                    DeliveryState::InvalidToken,
                    attempt("invalid_token", Some("80300007")),
                )
            },
        ])
        .await
        .expect("complete");
    assert_eq!(store.next_due().await.expect("due"), Some(retry_at));
    assert!(store.claim_jobs(10, 30_000).await.expect("not due").is_empty());

    let records: BTreeMap<i64, _> = store
        .message_deliveries("a1", "a1-m")
        .await
        .expect("records")
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let r1 = &records[&j1];
    assert_eq!((r1.state, r1.attempts), (DeliveryState::Queued, 1));
    assert_eq!(r1.vendor_code.as_deref(), Some("503"));
    assert_eq!(r1.log.len(), 1);
    assert_eq!(r1.log[0].outcome, "retry");
    let r2 = &records[&j2];
    assert_eq!((r2.state, r2.attempts), (DeliveryState::Accepted, 1));
    assert_eq!(r2.vendor_msg_id.as_deref(), Some("vendor-1"));
    assert_eq!(r2.vendor_code.as_deref(), Some("80000000"));
    assert_eq!(r2.log.len(), 1);
    assert_eq!(
        (r2.log[0].outcome.as_str(), r2.log[0].latency_ms),
        ("accepted", 12)
    );
    let r3 = &records[&j3];
    assert_eq!(r3.state, DeliveryState::InvalidToken);
    assert_eq!(
        store
            .get_device(&DeviceKey::new("a1", "u3", "d"))
            .await
            .expect("u3")
            .binding
            .map(|b| b.token),
        Some("fresh-token".to_string()),
        "a token bound again after the push is kept"
    );

    // Unbinding the token the job was sent to.
    let mut plans = vec![push_plan("u2", "d", cert, Vendor::Huawei, "a1-u2-token")];
    plans.push(push_plan("u3", "d", cert, Vendor::Huawei, "fresh-token"));
    store
        .commit_message(&message("a1", "a1-m2", "u1", "g"), &[], &plans)
        .await
        .expect("commit");
    let jobs = store.claim_jobs(10, -1).await.expect("claim");
    assert_eq!(jobs.len(), 2);
    // An expired lease (its node died) makes a job claimable again.
    let again = store.claim_jobs(10, 30_000).await.expect("reclaim");
    assert_eq!(
        again.iter().map(|j| j.id).collect::<Vec<_>>(),
        jobs.iter().map(|j| j.id).collect::<Vec<_>>()
    );
    store
        .complete_jobs(&[
            JobResult {
                unbind: Some(DeviceKey::new("a1", "u2", "d")),
                ..result(
                    again[0].id,
                    DeliveryState::InvalidToken,
                    attempt("invalid_token", None),
                )
            },
            // Two attempts at one job in one batch apply in order.
            JobResult {
                vendor_msg_id: Some("first".to_string()),
                ..result(again[1].id, DeliveryState::Queued, attempt("retry", Some("429")))
            },
            result(
                again[1].id,
                DeliveryState::Rejected,
                attempt("rejected", Some("bad")),
            ),
        ])
        .await
        .expect("complete");
    assert!(
        store
            .get_device(&DeviceKey::new("a1", "u2", "d"))
            .await
            .expect("u2")
            .binding
            .is_none()
    );
    let twice = store
        .message_deliveries("a1", "a1-m2")
        .await
        .expect("records")
        .into_iter()
        .find(|r| r.id == again[1].id)
        .expect("record");
    assert_eq!((twice.state, twice.attempts), (DeliveryState::Rejected, 2));
    assert_eq!(twice.vendor_code.as_deref(), Some("bad"));
    assert_eq!(twice.vendor_msg_id.as_deref(), Some("first"));
    assert_eq!(
        twice.log.iter().map(|a| a.outcome.as_str()).collect::<Vec<_>>(),
        vec!["retry", "rejected"]
    );

    // A retry that is due is claimed again with its attempt count.
    store
        .complete_jobs(&[JobResult {
            not_before: Some(now_millis() - 1),
            ..result(j1, DeliveryState::Queued, attempt("retry", Some("503")))
        }])
        .await
        .expect("due retry");
    let retried = store.claim_jobs(10, 30_000).await.expect("claim retry");
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (j1, 2));
    store
        .complete_jobs(&[result(j1, DeliveryState::Expired, attempt("retry", None))])
        .await
        .expect("expire");
    assert_eq!(store.next_due().await.expect("due"), None);

    let counts = store.delivery_counts("a1").await.expect("counts");
    assert_eq!(
        counts,
        vec![
            (Vendor::Huawei, DeliveryState::Accepted, 1),
            (Vendor::Huawei, DeliveryState::Expired, 1),
            (Vendor::Huawei, DeliveryState::InvalidToken, 2),
            (Vendor::Huawei, DeliveryState::Rejected, 1),
        ]
    );
}

/// A postponed job is queued again, due at the given time, with neither an attempt counted nor
/// a log entry (it was not sent); a job no longer leased is left alone.
async fn check_postponed_jobs(store: Arc<dyn Store>) {
    let (_, jobs) = three_jobs(&*store, "a1").await;
    let (j1, j2) = (jobs[0].id, jobs[1].id);
    let later = now_millis() + 600_000;
    store.postpone_jobs(&[j2], later).await.expect("postpone");
    store
        .postpone_jobs(&[j1], now_millis() - 1)
        .await
        .expect("postpone");
    store
        .postpone_jobs(&[], later)
        .await
        .expect("nothing to postpone");
    let records = store.message_deliveries("a1", "a1-m").await.expect("records");
    let postponed: Vec<_> = records
        .iter()
        .filter(|r| r.state == DeliveryState::Queued)
        .collect();
    assert_eq!(postponed.len(), 2, "{records:?}");
    assert!(
        postponed.iter().all(|r| r.attempts == 0 && r.log.is_empty()),
        "{postponed:?}"
    );

    // The one due now is claimed again as it was; the other is not due yet.
    let again = store.claim_jobs(10, 30_000).await.expect("claim");
    assert_eq!(
        again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(),
        vec![(j1, 0)]
    );

    // A finished job is not brought back.
    store
        .complete_jobs(&[result(j1, DeliveryState::Accepted, attempt("accepted", None))])
        .await
        .expect("complete");
    store
        .postpone_jobs(&[j1], now_millis() - 1)
        .await
        .expect("postpone");
    assert!(store.claim_jobs(10, 30_000).await.expect("claim").is_empty());
}

/// A commit that leases its jobs returns them (with their badges) and nobody can claim them
/// until the lease runs out; what is not a push stays out of them.
async fn check_leased_commit(store: Arc<dyn Store>) {
    new_app(&*store, "a1").await;
    let cert = store
        .create_certificate("a1", &certificate(Vendor::Xiaomi, "mi"))
        .await
        .expect("certificate");
    let mut plans = Vec::new();
    for user in ["u1", "u2"] {
        let token = format!("{user}-token");
        store
            .bind_token(
                &DeviceKey::new("a1", user, "d"),
                &binding(cert.id, Vendor::Xiaomi, &token),
            )
            .await
            .expect("bind");
        plans.push(push_plan(user, "d", cert.id, Vendor::Xiaomi, &token));
    }
    plans.push(plain_plan("u3", "d", Decision::Live, Reason::OnlineInForeground));
    let before = now_millis();
    let (seqs, leased) = store
        .commit_message_leased(
            &message("a1", "m1", "u3", "g"),
            &strings(&["u1", "u2"]),
            &plans,
            before + 60_000,
        )
        .await
        .expect("commit");
    assert_eq!(seqs.len(), 2);
    assert_eq!(
        leased
            .iter()
            .map(|j| (j.user_id.as_str(), j.token.as_str(), j.badge, j.attempts))
            .collect::<Vec<_>>(),
        vec![("u1", "u1-token", 1, 0), ("u2", "u2-token", 1, 0)]
    );
    assert!(
        leased
            .iter()
            .all(|j| j.message_id == "m1" && j.certificate_id == cert.id)
    );
    assert!(store.claim_jobs(10, 30_000).await.expect("claim").is_empty());
    let due = store.next_due().await.expect("due").expect("leased");
    assert!(due >= before + 60_000);
    let records = store.message_deliveries("a1", "m1").await.expect("records");
    assert_eq!(
        records.iter().map(|r| r.state).collect::<Vec<_>>(),
        vec![
            DeliveryState::InFlight,
            DeliveryState::InFlight,
            DeliveryState::Live
        ]
    );

    // The holder finishes one; the other comes back to any dispatcher when the lease ends.
    store
        .complete_jobs(&[result(
            leased[0].id,
            DeliveryState::Accepted,
            attempt("accepted", None),
        )])
        .await
        .expect("complete");
    let (_, expired) = store
        .commit_message_leased(
            &message("a1", "m2", "u3", "g"),
            &strings(&["u1"]),
            &plans[..1],
            now_millis() - 1,
        )
        .await
        .expect("commit with a lease already over");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].badge, 2, "the badge counts the second push");
    let claimed = store.claim_jobs(10, 30_000).await.expect("claim");
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![expired[0].id]
    );
}

async fn check_concurrent_claims(store: Arc<dyn Store>) {
    new_app(&*store, "a1").await;
    let cert = store
        .create_certificate("a1", &certificate(Vendor::Fcm, "fcm"))
        .await
        .expect("certificate");
    let mut plans = Vec::new();
    for i in 0..200 {
        let user = format!("u{i:03}");
        let token = format!("t{i}");
        store
            .bind_token(
                &DeviceKey::new("a1", &user, "d"),
                &binding(cert.id, Vendor::Fcm, &token),
            )
            .await
            .expect("bind");
        plans.push(push_plan(&user, "d", cert.id, Vendor::Fcm, &token));
    }
    store
        .commit_message(&message("a1", "m", "u000", "g"), &[], &plans)
        .await
        .expect("commit");

    // Two claims at once never return the same job.
    let (a, b) = tokio::join!(store.claim_jobs(150, 30_000), store.claim_jobs(150, 30_000));
    let (a, b) = (a.expect("claim a"), b.expect("claim b"));
    let ids_a: BTreeSet<i64> = a.iter().map(|j| j.id).collect();
    let ids_b: BTreeSet<i64> = b.iter().map(|j| j.id).collect();
    assert!(ids_a.is_disjoint(&ids_b), "both claims returned a job");
    assert!(ids_a.len() <= 150 && ids_b.len() <= 150);
    let mut seen: BTreeSet<i64> = ids_a.union(&ids_b).copied().collect();

    // Many small claims from several tasks drain the rest, each job once.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let jobs = store.claim_jobs(7, 30_000).await.expect("claim");
                if jobs.is_empty() {
                    return mine;
                }
                mine.extend(jobs.into_iter().map(|j| j.id));
            }
        }));
    }
    for task in tasks {
        for id in task.await.expect("task") {
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 200);

    // Concurrent completions of disjoint batches all land.
    let ids: Vec<i64> = seen.into_iter().collect();
    let mut tasks = Vec::new();
    for chunk in ids.chunks(25) {
        let store = store.clone();
        let results: Vec<JobResult> = chunk
            .iter()
            .map(|&id| result(id, DeliveryState::Accepted, attempt("accepted", None)))
            .collect();
        tasks.push(tokio::spawn(async move { store.complete_jobs(&results).await }));
    }
    for task in tasks {
        task.await.expect("task").expect("complete");
    }
    assert_eq!(
        store.delivery_counts("a1").await.expect("counts"),
        vec![(Vendor::Fcm, DeliveryState::Accepted, 200)]
    );
}

/// One call reaches 100,000 recipients, and two such sends to the same users at once both
/// complete (rows are locked in one order). Takes a while: run with `--ignored`.
async fn postgres_commit_message_scales_to_100k_recipients() {
    const N: usize = 100_000;
    let Some((admin, db, url)) = fresh_postgres("scale").await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(
        PgStore::open(&url, Sealer::new(&MASTER_KEY))
            .await
            .expect("open postgres"),
    );
    new_app(&*store, "a1").await;
    let cert = store
        .create_certificate("a1", &certificate(Vendor::Fcm, "fcm"))
        .await
        .expect("certificate");
    // Users and devices in bulk, straight into the tables: the API path is not what is measured.
    let users: Vec<String> = (0..N).map(|i| format!("user{i:06}")).collect();
    let tokens: Vec<String> = (0..N).map(|i| format!("token-{i}")).collect();
    let pool = sqlx::PgPool::connect(&url).await.expect("pool");
    sqlx::query("INSERT INTO users (app_id, id, created_at) SELECT 'a1', u, 0 FROM UNNEST($1::text[]) AS u")
        .bind(&users)
        .execute(&pool)
        .await
        .expect("users");
    sqlx::query(
        "INSERT INTO devices (app_id, user_id, device_id, platform, state, certificate_id, vendor, token, updated_at) \
         SELECT 'a1', u, 'phone', 'android', 'offline', $2, 'fcm', t, 0 FROM UNNEST($1::text[], $3::text[]) AS x (u, t)",
    )
    .bind(&users)
    .bind(cert.id)
    .bind(&tokens)
    .execute(&pool)
    .await
    .expect("devices");
    pool.close().await;

    let plans: Arc<Vec<DeliveryPlan>> = Arc::new(
        users
            .iter()
            .zip(&tokens)
            .map(|(user, token)| push_plan(user, "phone", cert.id, Vendor::Fcm, token))
            .collect(),
    );
    let users = Arc::new(users);
    let started = std::time::Instant::now();
    let sends: Vec<_> = ["m1", "m2"]
        .into_iter()
        .map(|id| {
            let (store, users, plans) = (store.clone(), users.clone(), plans.clone());
            tokio::spawn(async move {
                store
                    .commit_message(&message("a1", id, "user000000", "g"), &users, &plans)
                    .await
            })
        })
        .collect();
    for send in sends {
        let seqs = send.await.expect("task").expect("commit");
        assert_eq!(seqs.len(), N);
    }
    eprintln!("two concurrent sends to {N} recipients: {:?}", started.elapsed());
    let seqs: BTreeSet<(i64, String)> = store
        .inbox_after("a1", "user099999", 0, 10)
        .await
        .expect("inbox")
        .into_iter()
        .map(|(seq, m)| (seq, m.id))
        .collect();
    assert_eq!(seqs.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![1, 2]);
    let device = store
        .get_device(&DeviceKey::new("a1", "user050000", "phone"))
        .await
        .expect("device");
    assert_eq!(device.badge, 2);
    drop(store);
    drop_database(&admin, &db).await;
}
