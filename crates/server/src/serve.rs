//! The HTTP listener, hardened against clients that hold connections without using them: a
//! request head must arrive within `http_header_timeout_seconds` (this also closes idle
//! keep-alive connections), a body that stops sending for `http_body_timeout_seconds` is
//! answered 408, at most `http_max_connections` connections are served at once (the others
//! wait in the kernel's backlog), and a shutdown closes whatever is still open after
//! `shutdown_timeout_seconds`. `axum::serve` has none of these.

use crate::config::Config;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The listener's limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
}

impl HttpLimits {
    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            header_timeout: Duration::from_secs(config.http_header_timeout_seconds.max(1)),
            max_connections: config.http_max_connections.max(1),
            shutdown_timeout: Duration::from_secs(config.shutdown_timeout_seconds),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish for at
/// most the shutdown deadline and closes the rest.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let builder = connection_builder(limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "Connections still open at the shutdown deadline are closed."
        );
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn connection_builder(limits: HttpLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // HTTP/2 has no header timeout: a peer that stops answering pings is closed instead.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    builder
}

/// An accept error: the peer's (it went away before we took it) costs nothing; running out
/// of descriptors or memory is waited out rather than spun on.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "Cannot accept a connection; retrying in a second.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
