//! The wire, shared by every adapter: a vendor request as plain data (so request building is
//! pure and golden-testable), and one pooled HTTP client (HTTP/2 where the server offers it,
//! rustls) that sends it.

use herald_core::AdapterError;
use std::time::Duration;

/// A request exactly as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorRequest {
    /// `POST` for every vendor send.
    pub method: &'static str,
    /// Full URL.
    pub url: String,
    /// Header names (lower case) and values, in the order they are sent.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl VendorRequest {
    /// A POST with a JSON body.
    pub fn json(url: String, body: &serde_json::Value) -> Self {
        Self {
            method: "POST",
            url,
            headers: vec![("content-type".into(), "application/json; charset=utf-8".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A POST with a form body (pairs encoded in the given order).
    pub fn form(url: String, pairs: &[(&str, &str)]) -> Self {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            form.append_pair(k, v);
        }
        Self {
            method: "POST",
            url,
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded;charset=UTF-8".into(),
            )],
            body: form.finish().into_bytes(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// A vendor's answer.
#[derive(Debug, Clone)]
pub struct VendorResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl VendorResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as text (lossy), for reasons and traces.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Options for building the shared client.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Extra trusted root certificates (PEM), e.g. the sandbox's CA.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// Per-request timeout (connecting included); default 15 s.
    pub timeout: Option<Duration>,
    /// Timeout for opening a connection (TCP and TLS); default 5 s.
    pub connect_timeout: Option<Duration>,
}

/// The pooled client every adapter sends through.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    /// Kept to build clients of the same trust with a TLS client certificate.
    options: HttpOptions,
}

impl Http {
    /// Builds the client.
    pub fn new(options: &HttpOptions) -> Result<Self, AdapterError> {
        Self::build(options, None)
    }

    /// A client of its own with the same options (trusted roots, timeout) that presents a TLS
    /// client certificate: `identity_pem` holds the private key and the certificate chain (leaf
    /// first) as PEM blocks. For vendors that authenticate by mutual TLS (APNs `.p12`).
    pub fn with_identity(&self, identity_pem: &[u8]) -> Result<Self, AdapterError> {
        let identity = reqwest::Identity::from_pem(identity_pem)
            .map_err(|e| AdapterError::Config(format!("TLS client certificate: {e}")))?;
        Self::build(&self.options, Some(identity))
    }

    fn build(options: &HttpOptions, identity: Option<reqwest::Identity>) -> Result<Self, AdapterError> {
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout.unwrap_or(Duration::from_secs(15)))
            .connect_timeout(options.connect_timeout.unwrap_or(Duration::from_secs(5)))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")));
        for pem in &options.extra_roots_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| AdapterError::Config(format!("trusted CA: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some(identity) = identity {
            builder = builder.identity(identity);
        }
        let client = builder
            .build()
            .map_err(|e| AdapterError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            options: options.clone(),
        })
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&self, request: &VendorRequest) -> Result<VendorResponse, AdapterError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| AdapterError::Config(e.to_string()))?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| AdapterError::Transport(format!("{}: {}", request.url, transport_cause(&e))))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .bytes()
            .await
            .map_err(|e| {
                AdapterError::Transport(format!(
                    "{}: reading the answer: {}",
                    request.url,
                    transport_cause(&e)
                ))
            })?
            .to_vec();
        Ok(VendorResponse {
            status,
            headers,
            body,
        })
    }
}

/// What went wrong with a request, in an operator's words: the kind of failure (DNS lookup,
/// connection refused, TLS, timeout) and the innermost cause, which reqwest's own message
/// ("error sending request for url") leaves out.
fn transport_cause(error: &reqwest::Error) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut refused = false;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        causes.push(cause.to_string());
        source = cause.source();
    }
    let all = causes.join(": ").to_ascii_lowercase();
    let kind = if error.is_timeout() {
        "timed out"
    } else if refused || all.contains("connection refused") {
        "connection refused"
    } else if all.contains("dns error") || all.contains("lookup address") {
        "DNS lookup failed"
    } else if all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
        "TLS failed"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    match causes.last() {
        Some(innermost) => format!("{kind}: {innermost}"),
        None => format!("{kind}: {error}"),
    }
}

#[cfg(test)]
mod transport_tests {
    use super::*;

    fn request(url: String) -> VendorRequest {
        VendorRequest {
            method: "POST",
            url,
            headers: Vec::new(),
            body: b"{}".to_vec(),
        }
    }

    fn http(timeout: Duration) -> Http {
        Http::new(&HttpOptions {
            timeout: Some(timeout),
            connect_timeout: Some(timeout),
            ..HttpOptions::default()
        })
        .expect("client")
    }

    #[tokio::test]
    async fn a_refused_connection_is_named_as_such() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let error = http(Duration::from_secs(5))
            .send(&request(format!("http://127.0.0.1:{port}/send")))
            .await
            .expect_err("nothing listens there");
        let text = error.to_string();
        assert!(text.contains("connection refused"), "{text}");
        assert!(!text.contains("error sending request"), "{text}");
    }

    #[tokio::test]
    async fn a_vendor_that_never_answers_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let held = tokio::spawn(async move {
            let accepted = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(accepted);
        });
        let error = http(Duration::from_millis(300))
            .send(&request(format!("http://{address}/send")))
            .await
            .expect_err("no answer");
        held.abort();
        let text = error.to_string();
        assert!(text.contains("timed out"), "{text}");
    }
}
