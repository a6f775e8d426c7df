//! A real Herald on an ephemeral port, with a temporary data folder, and helpers to call it
//! as the operator, an app backend or a phone app would.

#![allow(dead_code)]

pub mod openapi;

use herald_server::{Config, prepare};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};
use std::path::PathBuf;
use tokio::sync::oneshot;

/// A running server; stops when dropped.
pub struct TestServer {
    pub base: String,
    pub admin_token: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub http: Client,
    cluster: Option<ClusterResources>,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(cluster) = self.cluster.take() {
            cluster.remove();
        }
    }
}

/// The PostgreSQL database and NATS streams a scale-out test server was given, removed when
/// it stops so that test runs leave nothing behind on the shared services.
pub struct ClusterResources {
    pub admin_url: String,
    pub nats_url: String,
    pub name: String,
}

impl ClusterResources {
    fn remove(self) {
        // Drop runs inside the test's runtime: clean up from a thread with its own.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async {
                let _ = herald_store::jetstream::remove_cluster(&self.nats_url, &self.name).await;
                let _ = herald_store::postgres::drop_database(&self.admin_url, &self.name).await;
            });
        });
        let _ = cleanup.join();
    }
}

/// An app created through the admin API.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub id: String,
    pub secret: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let cluster = if scale_out() {
            Some(join_fresh_cluster(&mut config).await)
        } else {
            None
        };
        tweak(&mut config);
        let database_url = config.effective_database_url();
        let data_dir = config.data_dir.clone();
        let prepared = prepare(config).await.expect("prepare");
        let admin_token = prepared
            .new_admin_token
            .expect("first start issues an admin token");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(herald_server::run(listener, prepared.state, async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            admin_token,
            data_dir,
            database_url,
            http: Client::new(),
            cluster,
            _dir: dir,
            stop: Some(stop),
        }
    }

    /// Every byte the database holds, as stored: the SQLite files (main and write-ahead log),
    /// or a data dump of the PostgreSQL database in the scale-out mode.
    pub fn raw_database_bytes(&self) -> Vec<u8> {
        if scale_out() {
            let dump = std::process::Command::new("pg_dump")
                .args(["--data-only", &self.database_url])
                .output()
                .expect("pg_dump runs");
            assert!(
                dump.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&dump.stderr)
            );
            return dump.stdout;
        }
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(&self.data_dir).expect("data dir") {
            let path = entry.expect("entry").path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("herald.db"))
            {
                bytes.extend(std::fs::read(&path).expect("read"));
            }
        }
        bytes
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with no credentials.
    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// A request as the operator.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.anon(method, path).bearer_auth(&self.admin_token)
    }

    /// A request as an app's backend.
    pub fn backend(&self, app: &TestApp, method: Method, path: &str) -> RequestBuilder {
        self.anon(method, path).basic_auth(&app.id, Some(&app.secret))
    }

    /// A request as a phone app holding a user token.
    pub fn phone(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.anon(method, path).bearer_auth(token)
    }

    pub async fn create_app(&self, name: &str) -> TestApp {
        let body = expect(
            self.admin(Method::POST, "/v1/apps")
                .json(&json!({ "name": name })),
            201,
        )
        .await;
        TestApp {
            id: body["id"].as_str().expect("id").to_string(),
            secret: body["secret"].as_str().expect("secret").to_string(),
        }
    }

    /// Creates a certificate and returns its body.
    pub async fn create_certificate(&self, app: &TestApp, body: Value) -> Value {
        expect(
            self.admin(Method::POST, &format!("/v1/apps/{}/certificates", app.id))
                .json(&body),
            201,
        )
        .await
    }

    /// Mints a user token for `user`.
    pub async fn user_token(&self, app: &TestApp, user: &str) -> String {
        let body = expect(
            self.backend(
                app,
                Method::POST,
                &format!("/v1/apps/{}/users/{user}/tokens", app.id),
            )
            .json(&json!({})),
            201,
        )
        .await;
        body["token"].as_str().expect("token").to_string()
    }
}

/// Whether this run tests the scale-out mode (`HERALD_TEST_BACKEND=cluster`): PostgreSQL and
/// NATS JetStream instead of the embedded SQLite store, with the same tests.
pub fn scale_out() -> bool {
    std::env::var("HERALD_TEST_BACKEND").is_ok_and(|b| b == "cluster")
}

/// Points a configuration at a fresh PostgreSQL database and a cluster name of its own on
/// the shared NATS server, so tests never see each other's data.
pub async fn join_fresh_cluster(config: &mut Config) -> ClusterResources {
    let admin_url = herald_testkit::services::postgres_url();
    let name = format!("herald_t{:016x}", rand::random::<u64>());
    config.database_url = herald_store::postgres::create_database(&admin_url, &name)
        .await
        .expect("a fresh PostgreSQL database");
    config.nats_url = herald_testkit::services::nats_url();
    config.cluster_name = name.clone();
    config.node_ttl_seconds = 3;
    ClusterResources {
        admin_url,
        nats_url: config.nats_url.clone(),
        name,
    }
}

/// Sends the request, asserts the status, returns the JSON body (`null` when empty).
pub async fn expect(request: RequestBuilder, status: u16) -> Value {
    let response = request.send().await.expect("request sent");
    let got = response.status().as_u16();
    let body = json_body(response).await;
    assert_eq!(got, status, "unexpected status; body: {body}");
    body
}

/// Sends the request, asserts an error status and code, returns the body.
pub async fn expect_error(request: RequestBuilder, status: u16, code: &str) -> Value {
    let body = expect(request, status).await;
    assert_eq!(body["code"], code, "unexpected error code; body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without message: {body}"
    );
    body
}

async fn json_body(response: Response) -> Value {
    let bytes = response.bytes().await.expect("body");
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    }
}

fn testdata(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/keys")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

pub fn apns_p8() -> String {
    testdata("apns_p8.pem")
}

pub fn fcm_service_account() -> Value {
    json!({
        "type": "service_account",
        "project_id": "herald-test-1",
        "private_key_id": "0123456789abcdef",
        "private_key": testdata("fcm_rsa.pem"),
        "client_email": "push@herald-test-1.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
}

/// One valid certificate body per vendor, with the names of its secret fields and the secret
/// values (so tests can prove they never come back or reach the disk in clear).
pub fn valid_certificate(vendor: &str) -> (Value, Vec<&'static str>) {
    let name = format!("{vendor}-main");
    match vendor {
        "apns" => (
            json!({"vendor": "apns", "name": name, "bundle_id": "com.example.chat", "environment": "sandbox",
                   "team_id": "ABCDE12345", "key_id": "KEY1234567", "private_key": apns_p8()}),
            vec!["private_key"],
        ),
        "fcm" => (
            json!({"vendor": "fcm", "name": name, "service_account": fcm_service_account()}),
            vec!["service_account"],
        ),
        "huawei" => (
            json!({"vendor": "huawei", "name": name, "app_id": "104412345", "app_secret": "hw-secret-value-0001",
                   "package_name": "com.example.chat", "category": "IM", "importance": "NORMAL",
                   "badge_class": "com.example.chat.MainActivity"}),
            vec!["app_secret"],
        ),
        "honor" => (
            json!({"vendor": "honor", "name": name, "app_id": "104400001", "client_id": "honor-client",
                   "client_secret": "honor-secret-value-0001", "package_name": "com.example.chat"}),
            vec!["client_secret"],
        ),
        "xiaomi" => (
            json!({"vendor": "xiaomi", "name": name, "app_secret": "mi-secret-value-0001",
                   "package_name": "com.example.chat", "channel_id": "chat_private", "region": "china"}),
            vec!["app_secret"],
        ),
        "oppo" => (
            json!({"vendor": "oppo", "name": name, "app_key": "oppo-app-key", "master_secret": "oppo-master-secret-0001",
                   "channel_id": "chat_private", "category": "IM", "notify_level": 2}),
            vec!["master_secret"],
        ),
        "vivo" => (
            json!({"vendor": "vivo", "name": name, "app_id": 10004, "app_key": "vivo-app-key",
                   "app_secret": "vivo-secret-value-0001", "classification": 1, "category": "IM"}),
            vec!["app_secret"],
        ),
        "meizu" => (
            json!({"vendor": "meizu", "name": name, "app_id": "110001", "app_secret": "meizu-secret-value-0001",
                   "package_name": "com.example.chat", "notice_msg_type": 1}),
            vec!["app_secret"],
        ),
        "webpush" => (
            json!({"vendor": "webpush", "name": name, "vapid_public_key": testdata("vapid_public.b64url"),
                   "vapid_private_key": testdata("vapid_private.b64url"), "subject": "mailto:ops@example.com"}),
            vec!["vapid_private_key"],
        ),
        other => panic!("no fixture for {other}"),
    }
}

pub const VENDORS: [&str; 9] = [
    "apns", "fcm", "huawei", "honor", "xiaomi", "oppo", "vivo", "meizu", "webpush",
];

/// A Web Push subscription as a browser produces it (keys are valid, endpoint is local).
pub fn webpush_subscription() -> Value {
    json!({
        "endpoint": "https://push.example.net/wpush/v2/abc123",
        "keys": {"p256dh": testdata("vapid_public.b64url"), "auth": "AAECAwQFBgcICQoLDA0ODw"}
    })
}

/// Herald wired to a running sandbox: the sandbox CA is trusted and certificates point at it.
pub struct Stack {
    pub server: TestServer,
    pub sandbox: herald_sandbox::Sandbox,
    pub app: TestApp,
}

impl Stack {
    /// Starts the sandbox (with the repository's test keys) and Herald trusting it, creates an
    /// app and one certificate per vendor named `sandbox-<vendor>`.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// [`Stack::start`] with settings of the test's own.
    pub async fn start_with(tweak: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        let credentials = herald_sandbox::Credentials::from_keys(
            &testdata("apns_p8.pem"),
            &testdata("fcm_rsa.pem"),
            &testdata("vapid_private.b64url"),
        )
        .expect("credentials");
        let sandbox = herald_sandbox::Sandbox::start(herald_sandbox::SandboxOptions::new(credentials))
            .await
            .expect("sandbox");
        let ca_dir = tempfile::tempdir().expect("dir");
        let ca_file = ca_dir.path().join("sandbox-ca.pem");
        std::fs::write(&ca_file, &sandbox.ca_pem).expect("write CA");
        let ca_path = ca_file.display().to_string();
        let server = TestServer::start_with(move |c| {
            c.trusted_ca_file = ca_path;
            tweak(c);
        })
        .await;
        // The CA file is read at start; the folder may go.
        drop(ca_dir);
        let app = server.create_app("chat").await;
        for definition in sandbox.certificate_definitions() {
            let response = server
                .admin(Method::POST, &format!("/v1/apps/{}/certificates", app.id))
                .json(&definition)
                .send()
                .await
                .expect("sent");
            // Vendors whose adapter is not built yet are skipped by the tests that need them.
            let _ = response.status();
        }
        Self { server, sandbox, app }
    }

    /// The certificate id of a sandbox vendor.
    pub async fn certificate_id(&self, vendor: &str) -> i64 {
        let list = expect(
            self.server
                .admin(Method::GET, &format!("/v1/apps/{}/certificates", self.app.id)),
            200,
        )
        .await;
        list.as_array()
            .expect("list")
            .iter()
            .find(|c| c["vendor"] == vendor)
            .and_then(|c| c["id"].as_i64())
            .unwrap_or_else(|| panic!("no {vendor} certificate"))
    }

    /// Creates a user with a nickname and returns a user token.
    pub async fn user(&self, id: &str, nickname: &str) -> String {
        expect(
            self.server
                .backend(
                    &self.app,
                    Method::PUT,
                    &format!("/v1/apps/{}/users/{id}", self.app.id),
                )
                .json(&json!({"nickname": nickname})),
            201,
        )
        .await;
        self.server.user_token(&self.app, id).await
    }

    /// Binds a push token for a device through the sandbox certificate of `vendor`.
    pub async fn bind(&self, token: &str, device: &str, vendor: &str, push_token: &str) {
        let platform = match vendor {
            "apns" => "ios",
            "webpush" => "web",
            _ => "android",
        };
        expect(
            self.server
                .phone(token, Method::PUT, &format!("/v1/me/devices/{device}/push-token"))
                .json(&json!({"certificate_name": format!("sandbox-{vendor}"), "token": push_token, "platform": platform})),
            200,
        )
        .await;
    }

    /// Creates a group of existing users through the server API.
    pub async fn create_group(&self, id: &str, name: &str, members: &[impl AsRef<str>]) {
        let members: Vec<&str> = members.iter().map(AsRef::as_ref).collect();
        expect(
            self.server
                .backend(
                    &self.app,
                    Method::POST,
                    &format!("/v1/apps/{}/groups", self.app.id),
                )
                .json(&json!({"id": id, "name": name, "members": members})),
            201,
        )
        .await;
    }

    /// Sends a message through the server API and returns the answer.
    pub async fn send(&self, body: Value) -> Value {
        expect(
            self.server
                .backend(
                    &self.app,
                    Method::POST,
                    &format!("/v1/apps/{}/messages", self.app.id),
                )
                .json(&body),
            201,
        )
        .await
    }

    /// The delivery records of a message, once none is queued or in flight any more.
    pub async fn settled_deliveries(&self, message_id: &str) -> Vec<Value> {
        let path = format!("/v1/apps/{}/messages/{message_id}/deliveries", self.app.id);
        for _ in 0..200 {
            let body = expect(self.server.backend(&self.app, Method::GET, &path), 200).await;
            let list = body["deliveries"].as_array().cloned().unwrap_or_default();
            if list
                .iter()
                .all(|d| d["state"] != "queued" && d["state"] != "in_flight")
            {
                return list;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("deliveries of {message_id} did not settle within 10 s");
    }

    /// What a token received in the sandbox.
    pub fn inbox(&self, vendor: &str, push_token: &str) -> Vec<herald_sandbox::Delivered> {
        self.sandbox
            .state
            .inbox(vendor.parse().expect("vendor"), push_token)
    }
}

/// A WebSocket client of `/v1/connect`.
pub struct Phone {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Phone {
    pub async fn connect(server: &TestServer, token: &str, device: &str, platform: &str) -> Self {
        let url = format!(
            "{}/v1/connect?device={device}&platform={platform}&token={token}",
            server.base.replace("http://", "ws://")
        );
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket");
        let mut phone = Self { socket };
        // One round trip: the session is registered before the caller goes on.
        phone.send(json!({"type": "ping"})).await;
        phone.expect_frame("pong").await;
        phone
    }

    pub async fn send(&mut self, frame: Value) {
        use futures_util::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::Text(
                frame.to_string().into(),
            ))
            .await
            .expect("send");
    }

    /// The next JSON frame, or `None` after `wait`.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<Value> {
        use futures_util::StreamExt;
        loop {
            match tokio::time::timeout(wait, self.socket.next()).await {
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) => {
                    return Some(serde_json::from_str(text.as_str()).expect("json frame"));
                }
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))))
                | Ok(None)
                | Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The next frame of a type (skipping others), or panics after 5 s.
    pub async fn expect_frame(&mut self, kind: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Some(frame) = self.next(std::time::Duration::from_secs(5)).await {
                if frame["type"] == kind {
                    return frame;
                }
            } else {
                break;
            }
        }
        panic!("no `{kind}` frame arrived");
    }

    /// Sends a state frame and waits until the server applied it (a ping round trip).
    pub async fn set_state(&mut self, state: &str, unread: i64) {
        self.send(json!({"type": "state", "state": state, "unread": unread}))
            .await;
        self.send(json!({"type": "ping"})).await;
        self.expect_frame("pong").await;
    }
}
