//! The real `herald serve` binary: zero-configuration start, the admin token printed once, a
//! clean exit on SIGTERM, and a restart on the same data folder that keeps the first token.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running `herald serve`; killed if a test fails before stopping it.
struct Herald {
    child: Child,
    base: String,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Drop for Herald {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Copies a child's stream, line by line, into the shared output.
fn collect(stream: impl Read + Send + 'static, output: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut all = output.lock().expect("output lock");
            all.push_str(&line);
            all.push('\n');
        }
    })
}

impl Herald {
    /// Starts `herald serve` in `work_dir` (so no `herald.toml` is found) with no `HERALD_*`
    /// variables, and waits until `/healthz` answers.
    async fn start(data_dir: &Path, work_dir: &Path) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
        command
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .current_dir(work_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HERALD_") {
                command.env_remove(key);
            }
        }
        let mut child = command.spawn().expect("spawn herald");
        let output = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), output.clone()),
            collect(child.stderr.take().expect("stderr"), output.clone()),
        ];
        let mut herald = Herald {
            child,
            base: format!("http://127.0.0.1:{port}"),
            output,
            readers,
        };
        herald.wait_until_healthy().await;
        herald
    }

    async fn wait_until_healthy(&mut self) {
        let http = client();
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("herald exited early with {status}:\n{}", self.output());
            }
            let answer = http.get(format!("{}/healthz", self.base)).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("herald did not answer /healthz within 10 s:\n{}", self.output());
    }

    fn output(&self) -> String {
        self.output.lock().expect("output lock").clone()
    }

    /// Sends SIGTERM, waits (bounded) for the exit, and returns the status and all output.
    fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(&pid)
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                for reader in self.readers.drain(..) {
                    reader.join().expect("reader thread");
                }
                return (status, self.output());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("herald did not stop within 10 s of SIGTERM:\n{}", self.output());
    }
}

/// The first word starting with `hra_` in the output.
fn admin_token(output: &str) -> Option<String> {
    output
        .split_whitespace()
        .find(|w| w.starts_with("hra_"))
        .map(str::to_string)
}

/// A client that talks to 127.0.0.1 directly, whatever proxy the environment names.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client")
}

async fn list_apps(base: &str, token: &str) -> (u16, serde_json::Value) {
    let response = client()
        .get(format!("{base}/v1/apps"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /v1/apps");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn serve_prints_the_admin_token_once_stops_on_sigterm_and_keeps_the_token_across_restarts() {
    let work_dir = tempfile::tempdir().expect("temp dir");
    let data_dir = work_dir.path().join("data");

    // First start: the admin token is printed, and works.
    let first = Herald::start(&data_dir, work_dir.path()).await;
    let mut token = None;
    for _ in 0..50 {
        token = admin_token(&first.output());
        if token.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let token = token.unwrap_or_else(|| panic!("no hra_ token printed:\n{}", first.output()));
    assert!(token.len() > 20, "token too short: {token}");
    let (status, apps) = list_apps(&first.base, &token).await;
    assert_eq!((status, apps), (200, serde_json::json!([])));
    let (exit, output) = first.terminate();
    assert!(exit.success(), "first run exited with {exit}:\n{output}");
    assert!(output.contains("admin token"), "no admin token banner:\n{output}");
    assert!(
        data_dir.join("master.key").exists(),
        "no master key in the data folder"
    );

    // Second start on the same data: no new token, and the first one still works.
    let second = Herald::start(&data_dir, work_dir.path()).await;
    let (status, _) = list_apps(&second.base, &token).await;
    assert_eq!(
        status, 200,
        "the first admin token stopped working after a restart"
    );
    let (status, refused) = list_apps(&second.base, "hra_not-the-token").await;
    assert_eq!(
        (status, &refused["code"]),
        (401, &serde_json::json!("invalid_admin_token"))
    );
    let (exit, output) = second.terminate();
    assert!(exit.success(), "second run exited with {exit}:\n{output}");
    assert!(
        admin_token(&output).is_none(),
        "a new admin token was printed on restart:\n{output}"
    );
    assert!(
        !output.contains("admin token"),
        "admin token banner on restart:\n{output}"
    );
}
