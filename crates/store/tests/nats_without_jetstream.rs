//! What joining a cluster says about the NATS server: one started without JetStream (no `-js`)
//! is named as such, with what to change, instead of the client's "jetstream error: …". A
//! private `nats-server` is started without `-js` on a free port; without the binary the tests
//! are reported as ignored (a failure under CI).

use std::sync::OnceLock;

/// The NATS server without JetStream of this test process.
fn plain_nats() -> Result<String, String> {
    static PLAIN: OnceLock<Result<String, String>> = OnceLock::new();
    PLAIN
        .get_or_init(herald_testkit::services::nats_without_jetstream)
        .clone()
}

async fn a_nats_server_without_jetstream_is_named_as_such() {
    let url = plain_nats().expect("checked by the requirement");
    let error = herald_store::jetstream::connect(&url, "herald test")
        .await
        .expect_err("a server without JetStream is refused");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot join the cluster: NATS at {url} has JetStream disabled: start nats-server \
             with -js (or jetstream {{}} in its config)"
        )
    );
}

async fn a_nats_server_with_jetstream_is_joined() {
    let url = herald_testkit::services::nats_url();
    let client = herald_store::jetstream::connect(&url, "herald test")
        .await
        .expect("a server with JetStream is accepted");
    client.flush().await.expect("connected");
}

fn main() -> std::process::ExitCode {
    herald_testkit::Suite::new("nats_without_jetstream")
        .tests(
            "",
            herald_testkit::Requirement::service(plain_nats().map(drop)),
            herald_testkit::async_tests![a_nats_server_without_jetstream_is_named_as_such],
        )
        .tests(
            "",
            herald_testkit::Requirement::service(herald_testkit::services::nats().map(drop)),
            herald_testkit::async_tests![a_nats_server_with_jetstream_is_joined],
        )
        .run()
}
