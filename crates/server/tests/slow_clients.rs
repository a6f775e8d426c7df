//! Clients that hold connections without using them: a request head or body that stops
//! arriving, an idle keep-alive connection, more connections than the limit, and a shutdown
//! while such connections are open. Each is a raw TCP client, as a misbehaving one would be.

mod common;

use common::TestServer;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for something that should happen after a one-second timeout.
const PATIENCE: Duration = Duration::from_secs(8);

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the peer closes the connection (or resets it); `None` if it is still open
/// after `wait`. Returns what was read.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

/// Reads one response head (up to the blank line), or `None` if none arrives within `wait`.
async fn read_head(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut byte = [0u8; 1];
        while !received.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(0) | Err(_) => break,
                Ok(_) => received.push(byte[0]),
            }
        }
    })
    .await;
    read.ok()
        .filter(|()| !received.is_empty())
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

async fn short_timeouts() -> TestServer {
    TestServer::start_with(|config| {
        config.http_header_timeout_seconds = 1;
        config.http_body_timeout_seconds = 1;
    })
    .await
}

#[tokio::test]
async fn a_request_head_that_stops_arriving_is_closed_after_the_header_timeout() {
    let server = short_timeouts().await;
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n")
        .await
        .expect("write");
    let answer = read_until_closed(&mut stream, PATIENCE).await;
    assert!(
        answer.is_some(),
        "a half-sent request head still holds its connection after {PATIENCE:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = short_timeouts().await;
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n")
        .await
        .expect("write");
    let head = read_head(&mut stream, PATIENCE).await.expect("an answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        read_until_closed(&mut stream, PATIENCE).await.is_some(),
        "an idle keep-alive connection is still open after {PATIENCE:?}"
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_and_nothing_is_written() {
    let server = short_timeouts().await;
    let mut stream = connect(&server).await;
    let head = format!(
        "POST /v1/apps HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": \"half",
        server.admin_token
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut stream, PATIENCE)
        .await
        .expect("the connection is closed after the body timeout");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    let apps = common::expect(server.admin(reqwest::Method::GET, "/v1/apps"), 200).await;
    assert_eq!(apps, serde_json::json!([]), "a half-sent create wrote an app");
}

#[tokio::test]
async fn connections_over_the_limit_wait_until_one_closes() {
    let server = TestServer::start_with(|config| {
        config.http_max_connections = 2;
        config.http_header_timeout_seconds = 30;
    })
    .await;
    let first = connect(&server).await;
    let _second = connect(&server).await;
    // Let the server take both before the third arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut third = connect(&server).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        read_head(&mut third, Duration::from_millis(700)).await,
        None,
        "a third connection was served while two were open with a limit of two"
    );
    drop(first);
    let head = read_head(&mut third, PATIENCE)
        .await
        .expect("the third connection is served once one closes");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn shutdown_closes_a_stalled_request_at_the_deadline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = herald_server::Config {
        data_dir: dir.path().join("data"),
        http_header_timeout_seconds: 600,
        http_body_timeout_seconds: 600,
        shutdown_timeout_seconds: 1,
        ..herald_server::Config::default()
    };
    let prepared = herald_server::prepare(config).await.expect("prepare");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(herald_server::run(listener, prepared.state, async move {
        let _ = stopped.await;
    }));

    // One connection stuck in its request head, one in its body.
    let mut in_head = TcpStream::connect(address).await.expect("connect");
    in_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n")
        .await
        .expect("write");
    let mut in_body = TcpStream::connect(address).await.expect("connect");
    in_body
        .write_all(
            b"POST /v1/apps HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"na",
        )
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = stop.send(());
    let finished = tokio::time::timeout(PATIENCE, served).await;
    assert!(
        finished.is_ok(),
        "run() did not return within {PATIENCE:?} of the shutdown with a stalled request open"
    );
    for stream in [&mut in_head, &mut in_body] {
        assert!(
            read_until_closed(stream, PATIENCE).await.is_some(),
            "a stalled connection stayed open after the shutdown"
        );
    }
}
