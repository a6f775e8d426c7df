//! Crash safety: `kill -9` the server in the middle of a fan-out of 10,000 pushes, start it
//! again on the same data, and check that every device got its push. Duplicates (pushes that
//! were with the vendor when the process died) are counted and reported, and never exceed the
//! dispatch window: the most targets a node has with the vendors unrecorded. The restart
//! resumes the work at once: the leases the killed process held are void, since an embedded
//! database has one owner.

mod common;

use common::{SandboxProcess, serve};
use std::time::{Duration, Instant};

const MEMBERS: usize = 10_000;
const VENDORS: [&str; 7] = ["huawei", "honor", "xiaomi", "oppo", "vivo", "meizu", "fcm"];
/// `dispatch_window` for this test: the setting that keeps crash duplicates under 1 % of a
/// 10,000-push fan-out.
const WINDOW: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_mid_fan_out_loses_no_push() {
    let dir = tempfile::tempdir().expect("dir");
    let sandbox = SandboxProcess::start(&dir.path().join("sandbox")).await;
    let http = reqwest::Client::new();
    let port = common::free_port_block(1);
    let data = dir.path().join("data");
    let env = [
        ("HERALD_TRUSTED_CA_FILE", sandbox.ca.display().to_string()),
        // A lease far longer than the test may wait: the restart must void the dead
        // process's leases (it owns the embedded database) rather than wait them out.
        ("HERALD_DISPATCH_LEASE_SECONDS", "600".to_string()),
        ("HERALD_DISPATCH_WINDOW", WINDOW.to_string()),
    ];
    let (server, admin) = serve(port, &data, &env);
    let admin = admin.expect("first start prints the admin token");
    let base = format!("http://127.0.0.1:{port}");
    let app = common::app_with_certificates(&http, &base, &admin, &sandbox, &VENDORS).await;
    common::members_in_a_group(&http, std::slice::from_ref(&base), &app, MEMBERS, &VENDORS).await;

    // The message and its 10,000 jobs are committed when the API answers; kill -9 during the
    // fan-out that follows, as soon as the vendors have started receiving.
    let message_id = common::send_to_everyone(&http, &base, &app, MEMBERS).await;
    let waiting = Instant::now();
    let delivered_before = loop {
        let n = sandbox.delivered(&http).await;
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

    // What the vendors took from the killed process (requests under way when it died end).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = sandbox.delivered(&http).await;
    let restarted = Instant::now();
    let (_server, token_again) = serve(port, &data, &env);
    assert!(token_again.is_none(), "a restart prints no new admin token");
    // When the first push after the restart reached the vendors (for the record: the lease of
    // 600 s is not waited out).
    let mut resumed_after = None;
    while restarted.elapsed() < Duration::from_secs(60) {
        if sandbox.delivered(&http).await > settled {
            resumed_after = Some(restarted.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let resumed_after = resumed_after.expect("the fan-out resumed after the restart");
    let deliveries =
        common::final_deliveries(&http, &base, &app, &message_id, Duration::from_secs(120)).await;
    assert_eq!(deliveries.len(), MEMBERS);
    let not_accepted: Vec<_> = deliveries.iter().filter(|d| d["state"] != "accepted").collect();
    assert!(
        not_accepted.is_empty(),
        "{} deliveries not accepted, e.g. {:?}",
        not_accepted.len(),
        not_accepted.first()
    );
    let duplicates = common::count_receipts(&http, &sandbox, MEMBERS, &VENDORS).await;
    println!(
        "crash test: {MEMBERS} pushes, {delivered_before} delivered before kill -9, pushes resumed {} ms after the restart \
         began (process start included), every device got its push; duplicates {duplicates} ({:.2} %)",
        resumed_after.as_millis(),
        duplicates as f64 * 100.0 / MEMBERS as f64
    );
    assert!(
        duplicates <= WINDOW,
        "{duplicates} duplicates: more than the {WINDOW} targets the window lets a node have unrecorded"
    );
}
