//! `herald bench`: the numbers in BENCHMARKS.md, measured on this machine.
//!
//! - fan-out: one group message to N offline members spread evenly over the nine vendors,
//!   through the sandbox (run as a separate process so its CPU is not counted as Herald's):
//!   pushes per second end to end, Herald CPU-seconds per 10,000 pushes, peak RSS;
//! - latency: single offline recipients at a steady rate; send → vendor-accepted p50/p99;
//! - floor: the same fan-out sent by the vendor adapters alone (same HTTP client, no store,
//!   no queue, no routing): the cost Herald's per-push CPU is compared with.

use anyhow::{Context, bail};
use herald_core::delivery::AttemptOutcome;
use herald_core::store::Binding;
use herald_core::{Certificate, ClickAction, Notification, Platform, Priority, Target, Vendor};
use herald_sandbox::Credentials;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flags of `herald bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Group members for the fan-out.
    #[arg(long, default_value_t = 100_000)]
    members: usize,
    /// Messages per second in the latency run.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of the latency run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// First port for the sandbox process.
    #[arg(long, default_value_t = 19100)]
    sandbox_port: u16,
    /// Skip the latency run.
    #[arg(long)]
    skip_latency: bool,
    /// Run Herald as a cluster of this many nodes (in this process) on PostgreSQL and NATS
    /// JetStream instead of the embedded store; 0 = embedded.
    #[arg(long, default_value_t = 0)]
    nodes: usize,
    /// PostgreSQL server for `--nodes`: a fresh database is created there for the run.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres_url: String,
    /// NATS server (JetStream enabled) for `--nodes`.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
}

const VENDORS: &[Vendor] = &Vendor::ALL;

fn platform(vendor: Vendor) -> Platform {
    match vendor {
        Vendor::Apns => Platform::Ios,
        Vendor::Webpush => Platform::Web,
        _ => Platform::Android,
    }
}

/// CPU seconds used so far by a process (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// CPU seconds used so far by every PostgreSQL and NATS server process on this machine (the
/// cluster's shared services do part of the work the embedded store does in-process).
fn services_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| matches!(comm.trim(), "postgres" | "nats-server"))
        })
        .map(cpu_seconds)
        .sum()
}

/// A random suffix for the names of a run's database and streams.
fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id()
}

/// Peak resident memory of this process in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

struct SandboxProcess {
    child: Child,
    urls: BTreeMap<Vendor, String>,
    inspect: String,
    credentials: Credentials,
    dir: tempfile::TempDir,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_sandbox(port: u16) -> anyhow::Result<SandboxProcess> {
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let child = Command::new(exe)
        .args([
            "sandbox",
            "--quiet",
            "--no-record",
            "--base-port",
            &port.to_string(),
            "--dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the sandbox process")?;
    let urls = super::sandbox::planned_urls(port);
    let inspect = format!("http://127.0.0.1:{}", port + 9);
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(format!("{inspect}/stats")).send().await.is_ok() && dir.path().join("ca.pem").exists() {
            let text = std::fs::read_to_string(dir.path().join("credentials.json"))?;
            let credentials = serde_json::from_str(&text)?;
            return Ok(SandboxProcess {
                child,
                urls,
                inspect,
                credentials,
                dir,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the sandbox did not start")
}

/// A token of the vendor's shape (Web Push: a subscription made on the emulator).
async fn device_token(
    http: &reqwest::Client,
    sandbox: &SandboxProcess,
    vendor: Vendor,
    i: usize,
) -> anyhow::Result<String> {
    Ok(match vendor {
        Vendor::Apns => format!("{:064x}", i + 1),
        Vendor::Vivo => format!("{:023}", i + 1),
        Vendor::Webpush => {
            let sub: Value = http
                .post(format!("{}/subscriptions", sandbox.urls[&Vendor::Webpush]))
                .send()
                .await?
                .json()
                .await?;
            sub.to_string()
        }
        other => format!("{}-bench-token-{i:08}", other.as_str()),
    })
}

fn notification() -> Notification {
    Notification {
        id: "bench-0001".into(),
        title: "Bench".into(),
        body: "One message to every member of the group".into(),
        badge: true,
        click_action: ClickAction::OpenApp,
        ttl_seconds: 3600,
        priority: Priority::High,
        ..Notification::default()
    }
}

/// Runs the benchmark.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(bench(args))
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    // Herald's logs only when asked for: they would mix with the report.
    if std::env::var_os("HERALD_LOG").is_some() {
        super::serve::init_logging(herald_server::LogFormat::Text);
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "# herald bench — {cores} cores, {} members, latency {} msg/s × {} s",
        args.members, args.rate, args.seconds
    );
    let sandbox = start_sandbox(args.sandbox_port).await?;
    let http = reqwest::Client::new();

    // Tokens, spread evenly over the vendors.
    let mut tokens: Vec<(Vendor, String)> = Vec::with_capacity(args.members);
    for i in 0..args.members {
        let vendor = VENDORS[i % VENDORS.len()];
        tokens.push((vendor, device_token(&http, &sandbox, vendor, i).await?));
    }

    vendor_costs(&sandbox.credentials, &sandbox.urls, &tokens)?;
    let floor = floor(&sandbox, &tokens).await?;

    // Herald, in this process, trusting the sandbox CA: one embedded node, or `--nodes`
    // nodes of a cluster sharing a fresh PostgreSQL database and a NATS cluster name.
    let data = tempfile::tempdir()?;
    // Tuning (`HERALD_DISPATCH_*`…) comes from the usual configuration layers.
    let mut config = herald_server::Config {
        data_dir: data.path().join("data"),
        trusted_ca_file: sandbox.dir.path().join("ca.pem").display().to_string(),
        database_url: String::new(),
        master_key_file: String::new(),
        ..crate::settings::load(None)?.config
    };
    if args.nodes > 0 {
        let name = format!("herald_bench_{:08x}", rand_suffix());
        config.database_url = herald_store::postgres::create_database(&args.postgres_url, &name).await?;
        config.nats_url = args.nats_url.clone();
        config.cluster_name = name;
        config.master_key_file = data.path().join("cluster.key").display().to_string();
        println!(
            "cluster: {} nodes in this process, PostgreSQL {}, NATS {}",
            args.nodes,
            herald_server::redact_database_url(&args.postgres_url),
            args.nats_url
        );
    }
    let mut admin = String::new();
    let mut store = None;
    let mut bases = Vec::new();
    let mut stops = Vec::new();
    let mut servers = Vec::new();
    for node in 0..args.nodes.max(1) {
        let mut config = config.clone();
        config.data_dir = data.path().join(format!("node-{node}"));
        let prepared = herald_server::prepare(config).await?;
        if let Some(token) = prepared.new_admin_token.clone() {
            admin = token;
        }
        store.get_or_insert_with(|| prepared.state.store.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        bases.push(format!("http://{}", listener.local_addr()?));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        servers.push(tokio::spawn(herald_server::run(
            listener,
            prepared.state,
            async move {
                let _ = stopped.await;
            },
        )));
    }
    let store = store.context("a node started")?;
    let base = bases[0].clone();

    let app: Value = http
        .post(format!("{base}/v1/apps"))
        .bearer_auth(&admin)
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let app_id = app["id"].as_str().context("app id")?.to_string();
    let mut cert_ids = BTreeMap::new();
    for mut definition in sandbox.credentials.certificate_definitions(&sandbox.urls) {
        // Unthrottled: the bench measures Herald, not the configured vendor rate limits.
        definition["defaults"] = json!({"requests_per_second": 0});
        let cert: Value = http
            .post(format!("{base}/v1/apps/{app_id}/certificates"))
            .bearer_auth(&admin)
            .json(&definition)
            .send()
            .await?
            .json()
            .await?;
        let vendor: Vendor = cert["vendor"].as_str().context("certificate")?.parse()?;
        cert_ids.insert(vendor, cert["id"].as_i64().context("certificate id")?);
    }

    // Members with one bound device each, straight into the store (setup is not measured).
    let setup = Instant::now();
    let members: Vec<String> = (0..tokens.len()).map(|i| format!("u{i:07}")).collect();
    let binds = futures_util::stream::iter(tokens.iter().zip(&members).map(|((vendor, token), user)| {
        let (store, app_id, cert_ids) = (&store, &app_id, &cert_ids);
        async move {
            let binding = Binding {
                platform: platform(*vendor),
                certificate_id: cert_ids[vendor],
                vendor: *vendor,
                token,
            };
            store
                .bind_token(&herald_core::DeviceKey::new(app_id, user, "phone"), &binding)
                .await
        }
    }));
    // A few binds at once: the PostgreSQL store takes them in parallel, SQLite queues them.
    let bound: Vec<_> = {
        use futures_util::StreamExt;
        binds.buffer_unordered(8).collect().await
    };
    bound.into_iter().collect::<Result<Vec<_>, _>>()?;
    store.upsert_user(&app_id, "sender", &Default::default()).await?;
    let mut all = members.clone();
    all.push("sender".into());
    store.create_group(&app_id, "everyone", "Everyone", &all).await?;
    store
        .create_group(
            &app_id,
            "warmup",
            "Warm-up",
            &[all[..VENDORS.len()].to_vec(), vec!["sender".into()]].concat(),
        )
        .await?;
    println!(
        "setup: {} members bound in {:.1} s",
        members.len(),
        setup.elapsed().as_secs_f64()
    );

    let send = |group: &'static str| {
        let http = http.clone();
        let url = format!("{base}/v1/apps/{app_id}/messages");
        let basic = (
            app_id.clone(),
            app["secret"].as_str().unwrap_or_default().to_string(),
        );
        async move {
            let answer: Value = http
                .post(url)
                .basic_auth(basic.0, Some(basic.1))
                .json(&json!({"from": "sender", "group": group, "kind": "text", "content": {"text": "Bench message to the whole group"}}))
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(answer)
        }
    };
    // Pending jobs are found through the queue's own index (cheap), so polling does not slow
    // down what it measures; the final counts are read once at the end.
    let settle = || async {
        while store.next_due().await?.is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::Ok(store.delivery_counts(&app_id).await?)
    };
    // Warm-up: vendor auth tokens and connections, as a running server has them.
    send("warmup").await?;
    settle().await?;

    let pid = std::process::id();
    let sandbox_pid = sandbox.child.id();
    let (cpu0, sandbox_cpu0) = (cpu_seconds(pid), cpu_seconds(sandbox_pid));
    let services_cpu0 = services_cpu_seconds();
    let started = Instant::now();
    let answer = send("everyone").await?;
    let accepted_at = started.elapsed();
    let counts = settle().await?;
    let elapsed = started.elapsed();
    let (cpu1, sandbox_cpu1) = (cpu_seconds(pid), cpu_seconds(sandbox_pid));
    let services_cpu1 = services_cpu_seconds();
    let accepted: i64 = counts
        .iter()
        .filter(|(_, s, _)| s.as_str() == "accepted")
        .map(|(_, _, n)| n)
        .sum::<i64>()
        - VENDORS.len() as i64;
    let pushes = answer["push_queued"].as_u64().unwrap_or(0);
    let per_sec = pushes as f64 / elapsed.as_secs_f64();
    let herald_cpu = (cpu1 - cpu0) / (pushes.max(1) as f64) * 10_000.0;
    println!();
    println!("## Fan-out: one group message, {pushes} offline members over 9 vendors");
    println!("| metric | value |\n|---|---|");
    println!(
        "| API answered (message + {pushes} jobs committed) | {:.0} ms |",
        accepted_at.as_secs_f64() * 1000.0
    );
    println!("| all pushes final | {:.2} s |", elapsed.as_secs_f64());
    println!("| accepted by the vendors | {accepted} |");
    println!("| pushes per second, end to end | {per_sec:.0} |");
    println!("| Herald CPU-seconds per 10,000 pushes | {herald_cpu:.3} |");
    println!(
        "| sandbox CPU-seconds per 10,000 pushes | {:.3} |",
        (sandbox_cpu1 - sandbox_cpu0) / (pushes.max(1) as f64) * 10_000.0
    );
    println!("| Herald peak RSS | {:.0} MiB |", peak_rss_mib());
    if args.nodes > 0 {
        println!(
            "| PostgreSQL + NATS CPU-seconds per 10,000 pushes | {:.3} |",
            (services_cpu1 - services_cpu0) / (pushes.max(1) as f64) * 10_000.0
        );
    }
    let stats: Value = http
        .get(format!("{}/stats", sandbox.inspect))
        .send()
        .await?
        .json()
        .await?;
    let delivered: u64 = stats
        .as_object()
        .map(|m| m.values().filter_map(|c| c["delivered"].as_u64()).sum())
        .unwrap_or(0);
    println!("| notifications the sandbox phones received (incl. warm-up) | {delivered} |");
    println!();
    println!(
        "## Floor: the same {} pushes sent by the adapters alone (no store, queue or routing)",
        floor.pushes
    );
    println!("| metric | value |\n|---|---|");
    println!(
        "| pushes per second | {:.0} |",
        floor.pushes as f64 / floor.seconds
    );
    println!(
        "| CPU-seconds per 10,000 pushes | {:.3} |",
        floor.cpu / (floor.pushes.max(1) as f64) * 10_000.0
    );
    println!(
        "| Herald / floor CPU per push | {:.1}× |",
        herald_cpu / (floor.cpu / (floor.pushes.max(1) as f64) * 10_000.0)
    );

    if !args.skip_latency {
        latency(
            &http,
            &base,
            (&app_id, app["secret"].as_str().unwrap_or_default()),
            &members,
            &store,
            &args,
            sandbox_pid,
        )
        .await?;
    }
    // Stop without waiting for idle keep-alive connections of this process's own client.
    for stop in stops {
        let _ = stop.send(());
    }
    for server in servers {
        server.abort();
    }
    if args.nodes > 0 {
        // The run's database and streams are of no use afterwards.
        herald_store::jetstream::remove_cluster(&config.nats_url, &config.cluster_name).await?;
        herald_store::postgres::drop_database(&args.postgres_url, &config.cluster_name).await?;
    }
    Ok(())
}

struct Floor {
    pushes: usize,
    seconds: f64,
    cpu: f64,
}

/// The adapters alone: one `send` per vendor with all of that vendor's tokens.
async fn floor(sandbox: &SandboxProcess, tokens: &[(Vendor, String)]) -> anyhow::Result<Floor> {
    let ca = std::fs::read(sandbox.dir.path().join("ca.pem"))?;
    let http = herald_vendors_http(ca)?;
    let mut adapters = BTreeMap::new();
    for (cert, secrets) in certificates(&sandbox.credentials, &sandbox.urls)? {
        adapters.insert(
            cert.vendor,
            herald_vendors::build_adapter(&cert, &secrets, &http)?,
        );
    }
    let n = notification();
    let by_vendor = |vendor: Vendor| -> Vec<Target> {
        tokens
            .iter()
            .filter(|(v, _)| *v == vendor)
            .map(|(_, t)| Target {
                token: t.clone(),
                badge: Some(1),
            })
            .collect()
    };
    // Warm-up (auth).
    for (vendor, adapter) in &adapters {
        adapter.send(&n, &by_vendor(*vendor)[..1]).await?;
    }
    let cpu0 = cpu_seconds(std::process::id());
    let started = Instant::now();
    let sends = adapters.iter().map(|(vendor, adapter)| {
        let targets = by_vendor(*vendor);
        let adapter = Arc::clone(adapter);
        let n = n.clone();
        async move { adapter.send(&n, &targets).await.map(|o| o.len()) }
    });
    let mut pushes = 0;
    for result in futures_util::future::join_all(sends).await {
        pushes += result?;
    }
    Ok(Floor {
        pushes,
        seconds: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds(std::process::id()) - cpu0,
    })
}

/// The sandbox's certificates as Herald stores them (unthrottled).
fn certificates(
    credentials: &Credentials,
    urls: &BTreeMap<Vendor, String>,
) -> anyhow::Result<Vec<(Certificate, serde_json::Map<String, Value>)>> {
    let mut out = Vec::new();
    for definition in credentials.certificate_definitions(urls) {
        let vendor: Vendor = definition["vendor"].as_str().context("vendor")?.parse()?;
        let mut fields = definition.as_object().context("object")?.clone();
        let base_url = fields
            .remove("base_url")
            .and_then(|v| v.as_str().map(str::to_string));
        fields.remove("name");
        fields.remove("vendor");
        let checked =
            herald_vendors::check_certificate_fields(vendor, fields).map_err(|e| anyhow::anyhow!("{e}"))?;
        let cert = Certificate {
            id: 1,
            app_id: "bench".into(),
            vendor,
            name: "bench".into(),
            enabled: true,
            click_action: ClickAction::OpenApp,
            defaults: herald_core::CertificateDefaults {
                requests_per_second: Some(0),
                ..Default::default()
            },
            base_url,
            fields: checked.public,
            secret_fields: Vec::new(),
            created_at: 0,
            updated_at: 0,
        };
        out.push((cert, checked.secrets));
    }
    Ok(out)
}

/// Per vendor: requests built per second (one target, and a full batch where the vendor has
/// a batch API) and the cost of the local signing step, which the token cache pays once per
/// credential lifetime (Meizu signs every request: no cache is possible).
fn vendor_costs(
    credentials: &Credentials,
    urls: &BTreeMap<Vendor, String>,
    tokens: &[(Vendor, String)],
) -> anyhow::Result<()> {
    println!();
    println!("## Vendor layer: request building and auth signing (one core)");
    println!(
        "| vendor | requests built/s (1 target) | targets per batch request | batch requests built/s | local signing | signing cost | signed again |"
    );
    println!("|---|---|---|---|---|---|---|");
    let n = notification();
    for (cert, secrets) in certificates(credentials, urls)? {
        let vendor = cert.vendor;
        let vendor_tokens: Vec<Target> = tokens
            .iter()
            .filter(|(v, _)| *v == vendor)
            .map(|(_, t)| Target {
                token: t.clone(),
                badge: Some(1),
            })
            .collect();
        let rate = |targets: &[Target]| -> anyhow::Result<f64> {
            let iterations = 2_000usize.min(200_000 / targets.len().max(1)).max(20);
            let started = Instant::now();
            for _ in 0..iterations {
                let built = herald_vendors::preview_requests(&cert, &secrets, &n, targets, "CREDENTIAL")?;
                std::hint::black_box(built.map_err(|o| anyhow::anyhow!("{o:?}"))?);
            }
            Ok(iterations as f64 / started.elapsed().as_secs_f64())
        };
        let single = rate(&vendor_tokens[..1])?;
        let batch_size = herald_vendors::max_batch(vendor).min(vendor_tokens.len());
        let batch = if batch_size > 1 {
            format!("{:.0}", rate(&vendor_tokens[..batch_size])?)
        } else {
            "—".into()
        };
        let started = Instant::now();
        let mut signed = 0;
        while started.elapsed() < Duration::from_millis(300) {
            match herald_vendors::sign_locally(&cert, &secrets)? {
                Some(value) => {
                    std::hint::black_box(value);
                    signed += 1;
                }
                None => break,
            }
        }
        let (kind, cost, again) = match herald_vendors::local_signing(vendor) {
            Some(signing) => (signing.what, signed, signing.renewed),
            None => ("none (token from the vendor)", 0, "every ~55 min"),
        };
        let cost = if cost > 0 {
            format!("{:.1} µs", started.elapsed().as_secs_f64() * 1e6 / cost as f64)
        } else {
            "—".into()
        };
        println!("| {vendor} | {single:.0} | {batch_size} | {batch} | {kind} | {cost} | {again} |");
    }
    Ok(())
}

fn herald_vendors_http(ca: Vec<u8>) -> anyhow::Result<herald_vendors::http::Http> {
    Ok(herald_vendors::http::Http::new(
        &herald_vendors::http::HttpOptions {
            extra_roots_pem: vec![ca],
            timeout: None,
            connect_timeout: None,
        },
    )?)
}

/// Single offline recipients at a steady rate; send → vendor accepted.
async fn latency(
    http: &reqwest::Client,
    base: &str,
    (app, secret): (&str, &str),
    members: &[String],
    store: &Arc<dyn herald_core::Store>,
    args: &BenchArgs,
    sandbox_pid: u32,
) -> anyhow::Result<()> {
    let total = (args.rate * args.seconds) as usize;
    let (cpu0, sandbox_cpu0) = (cpu_seconds(std::process::id()), cpu_seconds(sandbox_pid));
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let url = format!("{base}/v1/apps/{app}/messages");
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(total);
    let started = Instant::now();
    for i in 0..total {
        ticker.tick().await;
        let (http, url, to) = (http.clone(), url.clone(), members[i % members.len()].clone());
        let (app, secret) = (app.to_string(), secret.to_string());
        sends.push(tokio::spawn(async move {
            let sent = Instant::now();
            let sent_at = herald_core::now_millis();
            let answer: Value = http
                .post(url)
                .basic_auth(app, Some(secret))
                .json(&json!({"from": "sender", "to": to, "kind": "text", "content": {"text": "latency probe"}}))
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok((
                answer["message_id"].as_str().unwrap_or_default().to_string(),
                sent_at,
                sent.elapsed().as_secs_f64() * 1000.0,
            ))
        }));
    }
    let offered = started.elapsed();
    let mut ids = Vec::with_capacity(total);
    let mut answered = Vec::with_capacity(total);
    for send in sends {
        let (id, sent_at, took) = send.await??;
        ids.push((id, sent_at));
        answered.push(took);
    }
    answered.sort_by(f64::total_cmp);
    // Wait for the last pushes, then read each one's send → vendor-accepted time.
    let busy = started.elapsed();
    let (cpu1, sandbox_cpu1) = (cpu_seconds(std::process::id()), cpu_seconds(sandbox_pid));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Both ends are whole milliseconds of the same clock (the client's send time and the
    // time Herald recorded the vendor's acceptance), so each figure is within ±1 ms and their
    // percentiles carry no bias. The second measure starts at the delivery row's creation (in
    // the commit) and leaves out parsing, routing and the wait for the writer: the figure of
    // runs 1–11, kept for comparison.
    let mut latencies = Vec::with_capacity(total);
    let mut from_commit = Vec::with_capacity(total);
    for (id, sent_at) in &ids {
        for record in store.message_deliveries(app, id).await? {
            if let Some(first) = record.log.iter().find(|a| a.outcome == AttemptOutcome::Accepted) {
                latencies.push((first.at - sent_at).max(0) as f64);
                from_commit.push((first.at - record.created_at).max(0) as f64);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    from_commit.sort_by(f64::total_cmp);
    let percentile = |sorted: &[f64], p: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let pct = |p: f64| percentile(&latencies, p);
    println!();
    println!(
        "## Latency: single offline recipients, {} messages at {} msg/s (offered in {:.1} s)",
        total,
        args.rate,
        offered.as_secs_f64()
    );
    println!("| metric | value |\n|---|---|");
    println!("| pushes measured | {} |", latencies.len());
    // How busy the machine was: CPU-seconds per wall second over the run (2.0 = both cores of
    // a 2-core machine), for the bench process (Herald and the load generator) and the sandbox.
    println!(
        "| cores used: Herald + load generator / sandbox | {:.2} / {:.2} |",
        (cpu1 - cpu0) / busy.as_secs_f64(),
        (sandbox_cpu1 - sandbox_cpu0) / busy.as_secs_f64()
    );
    println!(
        "| HTTP send → API answered (message committed), p50 / p99 | {:.1} / {:.1} ms |",
        percentile(&answered, 0.50),
        percentile(&answered, 0.99)
    );
    println!("| HTTP send → vendor accepted, p50 | {:.0} ms |", pct(0.50));
    println!("| HTTP send → vendor accepted, p99 | {:.0} ms |", pct(0.99));
    println!(
        "| message committed → vendor accepted, p50 / p99 | {:.0} / {:.0} ms |",
        percentile(&from_commit, 0.50),
        percentile(&from_commit, 0.99)
    );
    println!(
        "| HTTP send → vendor accepted, max | {:.0} ms |",
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
