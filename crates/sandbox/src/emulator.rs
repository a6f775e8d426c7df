//! Plumbing every emulator shares: serving a router (plain or TLS), logging raw requests,
//! reading forms and bearer tokens, applying injected delays.

use crate::state::{FaultKind, LoggedRequest, OutageKind, SandboxState};
use crate::{SandboxError, tls::SandboxTls};
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use herald_core::Vendor;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), SandboxError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| SandboxError::Bind { addr, source })?;
    Ok((listener, local))
}

/// Serves a router over plain HTTP (HTTP/1.1 and h2c). With a vendor, the emulator refuses
/// connections while that vendor has an outage of that kind: the listener is closed (a
/// connect is refused), every open connection is dropped, and the same port is listened on
/// again once the outage is over.
pub(crate) async fn serve_plain(
    addr: SocketAddr,
    router: Router,
    refusals: Option<(Vendor, Arc<SandboxState>)>,
) -> Result<(String, JoinHandle<()>), SandboxError> {
    let (listener, local) = bind(addr).await?;
    let Some((vendor, state)) = refusals else {
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        return Ok((format!("http://{local}"), task));
    };
    let task = tokio::spawn(async move {
        let mut listener = Some(listener);
        let mut changes = state.watch_refusals();
        loop {
            if let Some(until) = state.refused_until(vendor) {
                listener = None;
                tokio::time::sleep_until(until.into()).await;
                continue;
            }
            let Some(open) = &listener else {
                match TcpListener::bind(local).await {
                    Ok(again) => listener = Some(again),
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                }
                continue;
            };
            tokio::select! {
                accepted = open.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let service = hyper_util::service::TowerToHyperService::new(router.clone());
                    let state = state.clone();
                    tokio::spawn(async move {
                        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                        let serving = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        tokio::select! {
                            _ = serving => {}
                            () = refusal_starts(&state, vendor) => {}
                        }
                    });
                }
                _ = changes.changed() => {}
            }
        }
    });
    Ok((format!("http://{local}"), task))
}

/// Resolves when `vendor` starts refusing connections.
async fn refusal_starts(state: &SandboxState, vendor: Vendor) {
    let mut changes = state.watch_refusals();
    loop {
        if state.refused_until(vendor).is_some() {
            return;
        }
        if changes.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The certificate (DER) the client presented in the TLS handshake of this connection, if any;
/// every request of a TLS connection carries it as an extension.
#[derive(Debug, Clone)]
pub(crate) struct ClientCertificate(pub(crate) Option<Arc<[u8]>>);

/// Serves a router over TLS with HTTP/2 (and HTTP/1.1) negotiated by ALPN; handlers see the
/// client's certificate as [`ClientCertificate`].
pub(crate) async fn serve_tls(
    addr: SocketAddr,
    router: Router,
    tls: &SandboxTls,
) -> Result<(String, JoinHandle<()>), SandboxError> {
    let (listener, local) = bind(addr).await?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let Ok(tls_stream) = acceptor.accept(stream).await else {
                    return;
                };
                let peer = ClientCertificate(
                    tls_stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|leaf| Arc::from(leaf.as_ref())),
                );
                let service = hyper_util::service::TowerToHyperService::new(router.layer(Extension(peer)));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls_stream), service)
                    .await;
            });
        }
    });
    Ok((format!("https://localhost:{}", local.port()), task))
}

/// Wraps a vendor router so every request is logged raw for inspection, and meets the
/// vendor's outage (unavailable or hanging) if it has one now.
pub(crate) fn with_log(vendor: Vendor, router: Router, state: Arc<SandboxState>) -> Router {
    let outages = state.clone();
    router
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let state = state.clone();
            async move { log(vendor, state, request, next).await }
        }))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let state = outages.clone();
            async move { outage(vendor, state, request, next).await }
        }))
}

/// Answers 503 during an `unavailable` outage, never during a `hang` (the request is held
/// until long after the outage), and passes the request on otherwise.
async fn outage(vendor: Vendor, state: Arc<SandboxState>, request: Request, next: Next) -> Response {
    match state.current_outage(vendor) {
        None => next.run(request).await,
        Some((OutageKind::Hang, until)) => {
            tokio::time::sleep_until((until + std::time::Duration::from_secs(600)).into()).await;
            unavailable(None)
        }
        Some((OutageKind::Unavailable { retry_after }, _)) => {
            state.refused(vendor);
            unavailable(retry_after)
        }
        Some((OutageKind::RefuseConnections, _)) => next.run(request).await,
    }
}

/// A 503 in the Google API error shape (other vendors read the status).
fn unavailable(retry_after: Option<u64>) -> Response {
    let body = serde_json::json!({"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}});
    let mut response = (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert("retry-after", seconds.into());
    }
    response
}

async fn log(vendor: Vendor, state: Arc<SandboxState>, request: Request, next: Next) -> Response {
    if !state.record {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    state.log_request(
        vendor,
        LoggedRequest {
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        },
    );
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Parses an `application/x-www-form-urlencoded` body.
pub(crate) fn form(body: &Bytes) -> BTreeMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The token of `Authorization: Bearer <token>` (any case of "Bearer").
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// A header as text.
pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Takes the fault for this request; sleeps through a `Slow` fault and returns the rest.
pub(crate) async fn fault(state: &SandboxState, vendor: Vendor, tokens: &[&str]) -> Option<FaultKind> {
    match state.take_fault(vendor, tokens) {
        Some(FaultKind::Slow { millis }) => {
            tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
            None
        }
        other => other,
    }
}

/// Unicode scalar count, the way vendors count title and body lengths.
pub(crate) fn chars(text: &str) -> usize {
    text.chars().count()
}
