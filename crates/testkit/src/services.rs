//! NATS with JetStream and PostgreSQL for the tests: the URL named in the environment
//! (`HERALD_TEST_NATS_URL`, `HERALD_TEST_POSTGRES_URL`: then it must work), else the service on
//! its usual local port, else a private server started from the installed binaries for this
//! test process (stopped by a watchdog when the process ends), else the reason there is none.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The NATS URL the tests use when none is named and the usual port answers.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// The PostgreSQL admin connection used when none is named and the usual port answers.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How long a started server may take to accept connections.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// The NATS server for this test process, or why there is none.
pub fn nats() -> Result<String, String> {
    static NATS: OnceLock<Result<String, String>> = OnceLock::new();
    NATS.get_or_init(|| {
        find("HERALD_TEST_NATS_URL", DEFAULT_NATS_URL, 4222).or_else(|not_running| {
            start_nats().map_err(|cannot_start| format!("{not_running}, and {cannot_start}"))
        })
    })
    .clone()
}

/// The PostgreSQL admin URL for this test process, or why there is none.
pub fn postgres() -> Result<String, String> {
    static POSTGRES: OnceLock<Result<String, String>> = OnceLock::new();
    POSTGRES
        .get_or_init(|| {
            find("HERALD_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL, 5432).or_else(|not_running| {
                start_postgres().map_err(|cannot_start| format!("{not_running}, and {cannot_start}"))
            })
        })
        .clone()
}

/// The NATS URL; panics if there is none (call it only from a suite that required it).
pub fn nats_url() -> String {
    nats().unwrap_or_else(|reason| panic!("no NATS server for the tests: {reason}"))
}

/// The PostgreSQL admin URL; panics if there is none (call it only from a suite that required
/// it).
pub fn postgres_url() -> String {
    postgres().unwrap_or_else(|reason| panic!("no PostgreSQL server for the tests: {reason}"))
}

/// Both services, or why not.
pub fn nats_and_postgres() -> Result<(), String> {
    nats()?;
    postgres()?;
    Ok(())
}

/// The URL named by `variable`, or `default` when its local port answers.
fn find(variable: &str, default: &str, port: u16) -> Result<String, String> {
    if let Ok(url) = std::env::var(variable) {
        return Ok(url);
    }
    if answers(port) {
        return Ok(default.to_string());
    }
    Err(format!(
        "nothing listens on 127.0.0.1:{port} and {variable} is not set"
    ))
}

fn answers(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(300),
    )
    .is_ok()
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The first of `names` found on `PATH` or in the usual system folders.
fn binary(names: &[&str]) -> Option<PathBuf> {
    let mut folders: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    folders.extend(["/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from));
    if let Ok(versions) = std::fs::read_dir("/usr/lib/postgresql") {
        folders.extend(versions.flatten().map(|v| v.path().join("bin")));
    }
    names
        .iter()
        .flat_map(|name| folders.iter().map(move |folder| folder.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A folder that outlives this function (the watchdog removes it).
fn scratch(prefix: &str) -> Result<PathBuf, String> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map(tempfile::TempDir::keep)
        .map_err(|e| format!("cannot make a scratch folder: {e}"))
}

/// Runs `script` in the background with `sh`; it ends (running `stop`) once this test process
/// is gone. The script's `$1` is this process's id.
fn spawn_watched(start: &str, stop: &str) -> Result<(), String> {
    let script = format!("{start}\nwhile kill -0 \"$1\" 2>/dev/null; do sleep 1; done\n{stop}\n");
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("herald-test-service")
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot run sh: {e}"))
}

/// Starts a watched service whose files live in `dir`, removing `dir` if it cannot start.
fn spawn_watched_in(dir: &Path, start: &str, stop: &str) -> Result<(), String> {
    spawn_watched(start, stop).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(dir);
    })
}

fn wait_until_answering(port: u16, what: &str, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + START_PATIENCE;
    while Instant::now() < deadline {
        if answers(port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    Err(format!(
        "the {what} started for the tests did not answer on port {port}: {log}"
    ))
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn start_nats() -> Result<String, String> {
    start_nats_server(true)
}

/// A private NATS server started WITHOUT JetStream (as `nats-server` runs when `-js` is left
/// out), for checking what Herald says about one; a new one on each call. Err says why there
/// is none (no `nats-server` binary).
pub fn nats_without_jetstream() -> Result<String, String> {
    start_nats_server(false)
}

fn start_nats_server(jetstream: bool) -> Result<String, String> {
    let server =
        binary(&["nats-server"]).ok_or("no nats-server binary to start one (Debian: nats-server)")?;
    let port = free_port()?;
    let dir = scratch("herald-test-nats-")?;
    let log = dir.join("nats.log");
    let jetstream = if jetstream {
        format!("-js -sd {}", quote(&dir.join("store")))
    } else {
        String::new()
    };
    spawn_watched_in(
        &dir,
        &format!(
            "{} -a 127.0.0.1 -p {port} {jetstream} -l {} &\nserver=$!",
            quote(&server),
            quote(&log)
        ),
        &format!("kill \"$server\"; wait \"$server\"; rm -rf {}", quote(&dir)),
    )?;
    wait_until_answering(port, "NATS server", &log)?;
    Ok(format!("nats://127.0.0.1:{port}"))
}

/// A private PostgreSQL cluster (trust authentication, this machine only). PostgreSQL refuses
/// to run as root: as root it runs as the `postgres` user when there is one.
fn start_postgres() -> Result<String, String> {
    let initdb = binary(&["initdb"]).ok_or("no initdb binary to start one (Debian: postgresql)")?;
    let pg_ctl = binary(&["pg_ctl"]).ok_or("no pg_ctl binary to start one (Debian: postgresql)")?;
    let as_user = if running_as_root() {
        if !user_exists("postgres") {
            return Err("PostgreSQL will not run as root and there is no postgres user".into());
        }
        "runuser -u postgres -- "
    } else {
        ""
    };
    let port = free_port()?;
    let dir = scratch("herald-test-postgres-")?;
    let data = dir.join("data");
    let init_log = dir.join("initdb.log");
    let log = dir.join("postgres.log");
    if !as_user.is_empty() {
        let _ = Command::new("chown").arg("-R").arg("postgres").arg(&dir).status();
    }
    let init = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{as_user}{} -D {} -U postgres --auth=trust >{} 2>&1",
            quote(&initdb),
            quote(&data),
            quote(&init_log)
        ))
        .status()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !init.success() {
        let log = std::fs::read_to_string(&init_log).unwrap_or_default();
        return Err(format!("initdb failed: {log}"));
    }
    spawn_watched_in(
        &dir,
        &format!(
            "{as_user}{pg_ctl} -D {data} -l {log} -o \"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null",
            pg_ctl = quote(&pg_ctl),
            data = quote(&data),
            log = quote(&log),
            dir = quote(&dir),
        ),
        &format!(
            "{as_user}{} -D {} -m immediate stop >/dev/null 2>&1; rm -rf {}",
            quote(&pg_ctl),
            quote(&data),
            quote(&dir)
        ),
    )?;
    wait_until_answering(port, "PostgreSQL server", &log)?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
