//! Crash safety: `kill -9` the server in the middle of a fan-out of 10,000 pushes, start it
//! again on the same data, and check that every device got its push. Duplicates (pushes that
//! were with the vendor when the process died) are counted and reported.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MEMBERS: usize = 10_000;
const VENDORS: [&str; 7] = ["huawei", "honor", "xiaomi", "oppo", "vivo", "meizu", "fcm"];

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port_block(len: u16) -> u16 {
    for _ in 0..200 {
        let base = 20_000 + (rand_u16() % 30_000);
        if (0..len).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free port block");
}

fn rand_u16() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    (nanos ^ std::process::id()) as u16
}

fn herald() -> Command {
    Command::new(env!("CARGO_BIN_EXE_herald"))
}

fn serve(data: &std::path::Path, port: u16, ca: &std::path::Path) -> (Killed, Option<String>) {
    let mut child = herald()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .env("HERALD_TRUSTED_CA_FILE", ca)
        .env("HERALD_DISPATCH_LEASE_SECONDS", "2")
        .env("HERALD_LOG", "warn")
        .env_remove("HERALD_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("herald serve");
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, rx.recv_timeout(Duration::from_millis(300)).ok());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("herald serve did not start");
}

fn token_for(vendor: &str, i: usize) -> String {
    match vendor {
        "vivo" => format!("{i:023}"),
        _ => format!("{vendor}-crash-{i:06}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_mid_fan_out_loses_no_push() {
    let dir = tempfile::tempdir().expect("dir");
    let sandbox_dir = dir.path().join("sandbox");
    let sandbox_port = free_port_block(10);
    let _sandbox = Killed(
        herald()
            .args([
                "sandbox",
                "--quiet",
                "--base-port",
                &sandbox_port.to_string(),
                "--dir",
            ])
            .arg(&sandbox_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sandbox"),
    );
    let http = reqwest::Client::new();
    let inspect = format!("http://127.0.0.1:{}", sandbox_port + 9);
    let ready = Instant::now();
    while http.get(format!("{inspect}/stats")).send().await.is_err() || !sandbox_dir.join("ca.pem").exists() {
        assert!(ready.elapsed() < Duration::from_secs(30), "sandbox did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let definitions: Vec<Value> = serde_json::from_slice(
        &herald()
            .args([
                "sandbox",
                "--print-config",
                "--base-port",
                &sandbox_port.to_string(),
                "--dir",
            ])
            .arg(&sandbox_dir)
            .output()
            .expect("print-config")
            .stdout,
    )
    .expect("definitions");

    let port = free_port_block(1);
    let data = dir.path().join("data");
    let ca = sandbox_dir.join("ca.pem");
    let (server, admin) = serve(&data, port, &ca);
    let admin = admin.expect("first start prints the admin token");
    let base = format!("http://127.0.0.1:{port}");
    let app: Value = http
        .post(format!("{base}/v1/apps"))
        .bearer_auth(&admin)
        .json(&json!({"name": "crash"}))
        .send()
        .await
        .expect("app")
        .json()
        .await
        .expect("json");
    let (app_id, secret) = (
        app["id"].as_str().expect("id").to_string(),
        app["secret"].as_str().expect("secret").to_string(),
    );
    for definition in definitions
        .iter()
        .filter(|d| VENDORS.contains(&d["vendor"].as_str().unwrap_or("")))
    {
        let mut definition = definition.clone();
        definition["defaults"] = json!({"requests_per_second": 0});
        let status = http
            .post(format!("{base}/v1/apps/{app_id}/certificates"))
            .bearer_auth(&admin)
            .json(&definition)
            .send()
            .await
            .expect("cert")
            .status();
        assert!(status.is_success(), "certificate {}", definition["vendor"]);
    }

    // 10,000 members, each with one device bound through one of the vendors.
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("m{i:05}")).collect();
    let binds = futures_util::stream::iter(members.iter().enumerate().map(|(i, user)| {
        let (http, base, app_id, secret) = (http.clone(), base.clone(), app_id.clone(), secret.clone());
        let vendor = VENDORS[i % VENDORS.len()];
        let user = user.clone();
        async move {
            let token: Value = http
                .post(format!("{base}/v1/apps/{app_id}/users/{user}/tokens"))
                .basic_auth(&app_id, Some(&secret))
                .send()
                .await
                .expect("token")
                .json()
                .await
                .expect("json");
            let bound = http
                .put(format!("{base}/v1/me/devices/phone/push-token"))
                .bearer_auth(token["token"].as_str().expect("token"))
                .json(&json!({"certificate_name": format!("sandbox-{vendor}"), "token": token_for(vendor, i), "platform": "android"}))
                .send()
                .await
                .expect("bind");
            assert!(bound.status().is_success());
        }
    }));
    use futures_util::StreamExt;
    binds.buffer_unordered(16).collect::<Vec<()>>().await;
    http.put(format!("{base}/v1/apps/{app_id}/users/sender"))
        .basic_auth(&app_id, Some(&secret))
        .json(&json!({}))
        .send()
        .await
        .expect("sender");
    // At most 10,000 members per request: the members, then the sender.
    let group = http
        .post(format!("{base}/v1/apps/{app_id}/groups"))
        .basic_auth(&app_id, Some(&secret))
        .json(&json!({"id": "everyone", "name": "Everyone", "members": members}))
        .send()
        .await
        .expect("group");
    assert!(
        group.status().is_success(),
        "group: {}",
        group.text().await.unwrap_or_default()
    );
    let added = http
        .post(format!("{base}/v1/apps/{app_id}/groups/everyone/members"))
        .basic_auth(&app_id, Some(&secret))
        .json(&json!({"members": ["sender"]}))
        .send()
        .await
        .expect("sender joins");
    assert!(added.status().is_success());

    // The message and its 10,000 jobs are committed when the API answers; kill -9 during the
    // fan-out that follows.
    let sent: Value = http
        .post(format!("{base}/v1/apps/{app_id}/messages"))
        .basic_auth(&app_id, Some(&secret))
        .json(&json!({"from": "sender", "group": "everyone", "kind": "text", "content": {"text": "crash test"}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(sent["pushed"], MEMBERS);
    let message_id = sent["message_id"].as_str().expect("id").to_string();
    // Kill as soon as the vendors have started receiving: mid fan-out.
    let delivered = |stats: &Value| -> u64 {
        stats
            .as_object()
            .map(|m| m.values().filter_map(|c| c["delivered"].as_u64()).sum())
            .unwrap_or(0)
    };
    let waiting = Instant::now();
    let delivered_before = loop {
        let stats: Value = http
            .get(format!("{inspect}/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("json");
        let n = delivered(&stats);
        if n > 0 || waiting.elapsed() > Duration::from_secs(20) {
            drop(server); // SIGKILL
            break n;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(delivered_before > 0, "no push went out before the kill");
    assert!(
        (delivered_before as usize) < MEMBERS,
        "the fan-out finished before the kill: not a mid fan-out crash"
    );

    let (_server, token_again) = serve(&data, port, &ca);
    assert!(token_again.is_none(), "a restart prints no new admin token");
    let deadline = Instant::now() + Duration::from_secs(120);
    let deliveries = loop {
        let body: Value = http
            .get(format!(
                "{base}/v1/apps/{app_id}/messages/{message_id}/deliveries"
            ))
            .basic_auth(&app_id, Some(&secret))
            .send()
            .await
            .expect("deliveries")
            .json()
            .await
            .expect("json");
        let list = body["deliveries"].as_array().cloned().unwrap_or_default();
        if list
            .iter()
            .all(|d| d["state"] != "queued" && d["state"] != "in_flight")
        {
            break list;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted server did not finish the fan-out"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(deliveries.len(), MEMBERS);
    let not_accepted: Vec<&Value> = deliveries.iter().filter(|d| d["state"] != "accepted").collect();
    assert!(
        not_accepted.is_empty(),
        "{} deliveries not accepted, e.g. {:?}",
        not_accepted.len(),
        not_accepted.first()
    );

    let mut received = 0usize;
    let mut duplicates = 0usize;
    for vendor in VENDORS {
        let counts: std::collections::BTreeMap<String, usize> = http
            .get(format!("{inspect}/inbox-counts/{vendor}"))
            .send()
            .await
            .expect("counts")
            .json()
            .await
            .expect("json");
        for (i, _) in members
            .iter()
            .enumerate()
            .filter(|(i, _)| VENDORS[i % VENDORS.len()] == vendor)
        {
            let n = counts.get(&token_for(vendor, i)).copied().unwrap_or(0);
            assert!(n >= 1, "{vendor} device {i} never got its push");
            received += 1;
            duplicates += n - 1;
        }
    }
    assert_eq!(received, MEMBERS);
    println!(
        "crash test: {MEMBERS} pushes, {delivered_before} delivered before kill -9, every device got its push after restart; \
         duplicates {duplicates} ({:.2} %)",
        duplicates as f64 * 100.0 / MEMBERS as f64
    );
}
