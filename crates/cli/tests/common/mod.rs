//! What the process-level tests share: the real `herald` binary started as child processes
//! (killed with SIGKILL when their guard drops), the sandbox in its own process, and the
//! fixtures of a fan-out to thousands of devices.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, SIGKILLed and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A block of `len` consecutive free ports on 127.0.0.1.
pub fn free_port_block(len: u16) -> u16 {
    for attempt in 0..200u32 {
        let base = 20_000 + (pseudo_random(attempt) % 30_000) as u16;
        if (0..len).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free port block");
}

fn pseudo_random(salt: u32) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    (nanos ^ std::process::id().rotate_left(16) ^ salt.wrapping_mul(2_654_435_761)) % 1_000_003
}

/// The binary under test.
pub fn herald() -> Command {
    Command::new(env!("CARGO_BIN_EXE_herald"))
}

/// The sandbox emulators in their own process, with the definitions of their certificates.
pub struct SandboxProcess {
    pub inspect: String,
    pub ca: PathBuf,
    pub definitions: Vec<Value>,
    _child: Killed,
}

impl SandboxProcess {
    pub async fn start(dir: &Path) -> Self {
        let port = free_port_block(10);
        let child = Killed(
            herald()
                .args(["sandbox", "--quiet", "--base-port", &port.to_string(), "--dir"])
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sandbox"),
        );
        let http = reqwest::Client::new();
        let inspect = format!("http://127.0.0.1:{}", port + 9);
        let ready = Instant::now();
        while http.get(format!("{inspect}/stats")).send().await.is_err() || !dir.join("ca.pem").exists() {
            assert!(ready.elapsed() < Duration::from_secs(30), "sandbox did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let definitions: Vec<Value> = serde_json::from_slice(
            &herald()
                .args([
                    "sandbox",
                    "--print-config",
                    "--base-port",
                    &port.to_string(),
                    "--dir",
                ])
                .arg(dir)
                .output()
                .expect("print-config")
                .stdout,
        )
        .expect("definitions");
        Self {
            inspect,
            ca: dir.join("ca.pem"),
            definitions,
            _child: child,
        }
    }

    /// Pushes the emulators accepted so far, all vendors.
    pub async fn delivered(&self, http: &reqwest::Client) -> u64 {
        let stats: Value = http
            .get(format!("{}/stats", self.inspect))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("json");
        stats
            .as_object()
            .map(|m| m.values().filter_map(|c| c["delivered"].as_u64()).sum())
            .unwrap_or(0)
    }

    /// How many pushes each token of a vendor received.
    pub async fn inbox_counts(
        &self,
        http: &reqwest::Client,
        vendor: &str,
    ) -> std::collections::BTreeMap<String, usize> {
        http.get(format!("{}/inbox-counts/{vendor}", self.inspect))
            .send()
            .await
            .expect("counts")
            .json()
            .await
            .expect("json")
    }
}

/// Starts `herald serve` on `port` with extra environment; returns the guard and the admin
/// token when this start printed one.
pub fn serve(port: u16, data: &Path, env: &[(&str, String)]) -> (Killed, Option<String>) {
    let mut command = herald();
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .env("HERALD_LOG", "warn")
        .env_remove("HERALD_CONFIG")
        .stdout(Stdio::piped())
        // HERALD_TEST_LOGS=1 shows the servers' logs when a test needs explaining.
        .stderr(if std::env::var_os("HERALD_TEST_LOGS").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("herald serve");
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no stdout");
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(token) = line.split_whitespace().find(|w| w.starts_with("hra_")) {
                let _ = tx.send(token.to_string());
            }
        }
    });
    // From here on the child is killed and waited for when the guard drops.
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, rx.recv_timeout(Duration::from_millis(300)).ok());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("herald serve did not start");
}

/// A push token the sandbox accepts for a vendor (vivo's are 23 digits).
pub fn token_for(vendor: &str, i: usize) -> String {
    match vendor {
        "vivo" => format!("{i:023}"),
        _ => format!("{vendor}-member-{i:06}"),
    }
}

/// An app's credentials as the server API takes them.
#[derive(Clone)]
pub struct AppCredentials {
    pub id: String,
    pub secret: String,
}

/// Creates an app and a certificate (no rate limit) for each of `vendors`, named
/// `sandbox-<vendor>`.
pub async fn app_with_certificates(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    sandbox: &SandboxProcess,
    vendors: &[&str],
) -> AppCredentials {
    let app: Value = http
        .post(format!("{base}/v1/apps"))
        .bearer_auth(admin)
        .json(&json!({"name": "fan-out"}))
        .send()
        .await
        .expect("app")
        .json()
        .await
        .expect("json");
    let app = AppCredentials {
        id: app["id"].as_str().expect("id").to_string(),
        secret: app["secret"].as_str().expect("secret").to_string(),
    };
    for definition in sandbox
        .definitions
        .iter()
        .filter(|d| vendors.contains(&d["vendor"].as_str().unwrap_or("")))
    {
        let mut definition = definition.clone();
        definition["defaults"] = json!({"requests_per_second": 0});
        let status = http
            .post(format!("{base}/v1/apps/{}/certificates", app.id))
            .bearer_auth(admin)
            .json(&definition)
            .send()
            .await
            .expect("cert")
            .status();
        assert!(status.is_success(), "certificate {}", definition["vendor"]);
    }
    app
}

/// A user token.
pub async fn user_token(http: &reqwest::Client, base: &str, app: &AppCredentials, user: &str) -> String {
    let token: Value = http
        .post(format!("{base}/v1/apps/{}/users/{user}/tokens", app.id))
        .basic_auth(&app.id, Some(&app.secret))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    token["token"].as_str().expect("token").to_string()
}

/// `members` users `m00000…`, each with device `phone` bound to a token of one of `vendors`
/// (round robin), spread over the `bases` given (nodes of a cluster, or one server); then a
/// group `everyone` of them all plus `sender`.
pub async fn members_in_a_group(
    http: &reqwest::Client,
    bases: &[String],
    app: &AppCredentials,
    members: usize,
    vendors: &[&str],
) -> Vec<String> {
    use futures_util::StreamExt;
    let ids: Vec<String> = (0..members).map(|i| format!("m{i:05}")).collect();
    let binds = futures_util::stream::iter(ids.iter().enumerate().map(|(i, user)| {
        let http = http.clone();
        let base = bases[i % bases.len()].clone();
        let vendor = vendors[i % vendors.len()];
        let user = user.clone();
        async move {
            let token = user_token(&http, &base, app, &user).await;
            let bound = http
                .put(format!("{base}/v1/me/devices/phone/push-token"))
                .bearer_auth(token)
                .json(&json!({"certificate_name": format!("sandbox-{vendor}"), "token": token_for(vendor, i), "platform": "android"}))
                .send()
                .await
                .expect("bind");
            assert!(bound.status().is_success());
        }
    }));
    binds.buffer_unordered(16).collect::<Vec<()>>().await;
    let base = &bases[0];
    http.put(format!("{base}/v1/apps/{}/users/sender", app.id))
        .basic_auth(&app.id, Some(&app.secret))
        .json(&json!({}))
        .send()
        .await
        .expect("sender");
    let group = http
        .post(format!("{base}/v1/apps/{}/groups", app.id))
        .basic_auth(&app.id, Some(&app.secret))
        .json(&json!({"id": "everyone", "name": "Everyone", "members": ids}))
        .send()
        .await
        .expect("group");
    assert!(
        group.status().is_success(),
        "group: {}",
        group.text().await.unwrap_or_default()
    );
    let added = http
        .post(format!("{base}/v1/apps/{}/groups/everyone/members", app.id))
        .basic_auth(&app.id, Some(&app.secret))
        .json(&json!({"members": ["sender"]}))
        .send()
        .await
        .expect("sender joins");
    assert!(added.status().is_success());
    ids
}

/// Sends a message to the group `everyone` from `sender`; returns its id.
pub async fn send_to_everyone(
    http: &reqwest::Client,
    base: &str,
    app: &AppCredentials,
    members: usize,
) -> String {
    let sent: Value = http
        .post(format!("{base}/v1/apps/{}/messages", app.id))
        .basic_auth(&app.id, Some(&app.secret))
        .json(&json!({"from": "sender", "group": "everyone", "kind": "text", "content": {"text": "fan-out"}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(sent["push_queued"], members, "{sent}");
    sent["message_id"].as_str().expect("id").to_string()
}

/// Waits until every delivery of a message is final; returns them.
pub async fn final_deliveries(
    http: &reqwest::Client,
    base: &str,
    app: &AppCredentials,
    message_id: &str,
    within: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let body: Value = http
            .get(format!(
                "{base}/v1/apps/{}/messages/{message_id}/deliveries",
                app.id
            ))
            .basic_auth(&app.id, Some(&app.secret))
            .send()
            .await
            .expect("deliveries")
            .json()
            .await
            .expect("json");
        let list = body["deliveries"].as_array().cloned().unwrap_or_default();
        if !list.is_empty()
            && list
                .iter()
                .all(|d| d["state"] != "queued" && d["state"] != "in_flight")
        {
            return list;
        }
        let open = list
            .iter()
            .filter(|d| d["state"] == "queued" || d["state"] == "in_flight")
            .count();
        assert!(
            Instant::now() < deadline,
            "the fan-out did not finish: {open} deliveries still open"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks that every member's device got the push at least once; returns the duplicates.
pub async fn count_receipts(
    http: &reqwest::Client,
    sandbox: &SandboxProcess,
    members: usize,
    vendors: &[&str],
) -> usize {
    let mut received = 0usize;
    let mut duplicates = 0usize;
    for vendor in vendors {
        let counts = sandbox.inbox_counts(http, vendor).await;
        for i in (0..members).filter(|i| vendors[i % vendors.len()] == *vendor) {
            let n = counts.get(&token_for(vendor, i)).copied().unwrap_or(0);
            assert!(n >= 1, "{vendor} device {i} never got its push");
            received += 1;
            duplicates += n - 1;
        }
    }
    assert_eq!(received, members);
    duplicates
}
