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
        Self::start_with_env(data_dir, work_dir, &[]).await
    }

    /// As [`Herald::start`], with these environment variables set.
    async fn start_with_env(data_dir: &Path, work_dir: &Path, env: &[(&str, &str)]) -> Self {
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
        command.envs(env.iter().copied());
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

/// The admin token printed by a first start (waits for the banner).
fn printed_admin_token(herald: &Herald) -> String {
    for _ in 0..50 {
        if let Some(token) = admin_token(&herald.output()) {
            return token;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no hra_ token printed:\n{}", herald.output())
}

async fn post_json(request: reqwest::RequestBuilder, body: serde_json::Value) -> serde_json::Value {
    let response = request.json(&body).send().await.expect("request");
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("JSON body");
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[tokio::test]
async fn a_debug_log_never_shows_the_user_token_and_unknown_herald_variables_only_warn() {
    let work_dir = tempfile::tempdir().expect("temp dir");
    let data_dir = work_dir.path().join("data");
    let herald = Herald::start_with_env(
        &data_dir,
        work_dir.path(),
        &[
            ("HERALD_LOG", "debug"),
            ("HERALD_WRAPPER_OPTION", "from-a-script"),
        ],
    )
    .await;
    let admin = printed_admin_token(&herald);
    let http = client();

    let app = post_json(
        http.post(format!("{}/v1/apps", herald.base)).bearer_auth(&admin),
        serde_json::json!({"name": "log-check"}),
    )
    .await;
    let (app_id, secret) = (
        app["id"].as_str().expect("id"),
        app["secret"].as_str().expect("secret"),
    );
    let minted = post_json(
        http.post(format!("{}/v1/apps/{app_id}/users/alice/tokens", herald.base))
            .basic_auth(app_id, Some(secret)),
        serde_json::json!({"ttl_seconds": 600}),
    )
    .await;
    let user_token = minted["token"].as_str().expect("token").to_string();

    // A phone that cannot set headers passes its token in the query.
    let url = format!(
        "ws://{}/v1/connect?device=phone-1&platform=web&token={user_token}",
        herald.base.trim_start_matches("http://")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("websocket");
    socket.close(None).await.expect("close");
    drop(socket);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (exit, output) = herald.terminate();
    assert!(exit.success(), "herald exited with {exit}:\n{output}");
    assert!(
        output.contains("/v1/connect?device=phone-1&platform=web&token=**redacted**"),
        "the connect request was not logged (redacted) at debug level:\n{output}"
    );
    assert!(
        !output.contains(&user_token),
        "the user token is in the log:\n{output}"
    );
    assert!(
        !output.contains(secret),
        "the app secret is in the log:\n{output}"
    );
    assert_eq!(
        output.matches(&admin).count(),
        1,
        "the admin token appears beyond its banner:\n{output}"
    );
    assert!(
        output.contains("HERALD_WRAPPER_OPTION") && !output.contains("from-a-script"),
        "no warning naming the unknown variable (or its value was logged):\n{output}"
    );
}

#[tokio::test]
async fn sigterm_exits_within_the_shutdown_deadline_while_a_request_is_stalled() {
    use tokio::io::AsyncWriteExt;
    let work_dir = tempfile::tempdir().expect("temp dir");
    let data_dir = work_dir.path().join("data");
    let herald = Herald::start_with_env(
        &data_dir,
        work_dir.path(),
        &[
            ("HERALD_SHUTDOWN_TIMEOUT_SECONDS", "2"),
            ("HERALD_HTTP_HEADER_TIMEOUT_SECONDS", "600"),
            ("HERALD_HTTP_BODY_TIMEOUT_SECONDS", "600"),
        ],
    )
    .await;
    let address = herald.base.trim_start_matches("http://").to_string();
    let mut in_head = tokio::net::TcpStream::connect(&address).await.expect("connect");
    in_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n")
        .await
        .expect("write");
    let mut in_body = tokio::net::TcpStream::connect(&address).await.expect("connect");
    in_body
        .write_all(b"POST /v1/apps HTTP/1.1\r\nHost: herald\r\nContent-Length: 50\r\n\r\n{")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // `terminate` fails the test if the process is still running 10 s after SIGTERM.
    let (exit, output) = herald.terminate();
    assert!(exit.success(), "herald exited with {exit}:\n{output}");
    assert!(output.contains("Herald stopped."), "{output}");
}

/// Runs `herald [args]` in `dir` with only the given `HERALD_*` variables; returns stdout.
fn herald_output(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    command.args(args).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HERALD_") {
            command.env_remove(key);
        }
    }
    let output = command.envs(env.iter().copied()).output().expect("run herald");
    assert!(
        output.status.success(),
        "herald {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn herald_config_prints_resolved_toml_that_can_be_pasted_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let printed = herald_output(
        dir.path(),
        &["config"],
        &[("HERALD_DISPATCH_WORKERS", "3"), ("HERALD_DATA_DIR", "state")],
    );
    let settings: toml::Table = toml::from_str(&printed).unwrap_or_else(|e| panic!("{e}:\n{printed}"));
    assert_eq!(settings["dispatch_workers"].as_integer(), Some(3), "{printed}");
    assert_eq!(
        settings["database_url"].as_str(),
        Some("sqlite://state/herald.db"),
        "the database URL in effect, not an empty default:\n{printed}"
    );
    assert_eq!(
        settings["master_key_file"].as_str(),
        Some("state/master.key"),
        "{printed}"
    );
    // Pasted into a file, it gives the same settings with nothing in the environment.
    std::fs::write(dir.path().join("pasted.toml"), &printed).expect("write");
    let again = herald_output(dir.path(), &["--config", "pasted.toml", "config"], &[]);
    assert_eq!(again, printed);
}
