//! Every adapter against its sandbox emulator, over real HTTP: the same behaviours for each
//! vendor (good push, invalid token, auth expiry and refresh, 429 + Retry-After, 5xx, oversize
//! payload refused before any request, batches split at the vendor's limit).

use herald_core::{Certificate, ClickAction, Notification, Outcome, Priority, Target, Vendor};
use herald_sandbox::{Credentials, Fault, FaultKind, Sandbox, SandboxOptions};
use herald_vendors::http::{Http, HttpOptions, VendorRequest};
use serde_json::{Map, Value};
use std::time::Duration;

fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../testdata/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("testdata")
}

/// A sandbox with the repository's test keys, and an HTTP client trusting its CA.
pub struct Rig {
    pub sandbox: Sandbox,
    pub http: Http,
}

impl Rig {
    pub async fn start() -> Self {
        let credentials = Credentials::from_keys(
            &testdata("apns_p8.pem"),
            &testdata("fcm_rsa.pem"),
            &testdata("vapid_private.b64url"),
        )
        .expect("credentials");
        let sandbox = Sandbox::start(SandboxOptions::new(credentials))
            .await
            .expect("sandbox");
        let http = Http::new(&HttpOptions {
            extra_roots_pem: vec![sandbox.ca_pem.clone().into_bytes()],
            timeout: None,
            connect_timeout: None,
        })
        .expect("http");
        Self { sandbox, http }
    }

    /// The sandbox's certificate for a vendor, as Herald would have stored it.
    pub fn certificate(&self, vendor: Vendor) -> (Certificate, Map<String, Value>) {
        let definition = self
            .sandbox
            .certificate_definitions()
            .into_iter()
            .find(|d| d["vendor"] == vendor.as_str())
            .expect("definition");
        certificate_from_definition(vendor, &definition)
    }

    pub fn adapter(&self, vendor: Vendor) -> std::sync::Arc<dyn herald_core::Adapter> {
        let (cert, secrets) = self.certificate(vendor);
        herald_vendors::build_adapter(&cert, &secrets, &self.http).expect("adapter")
    }

    pub fn fault(&self, vendor: Vendor, kind: FaultKind, times: u32) {
        self.sandbox.state.add_fault(Fault {
            vendor,
            token: None,
            kind,
            times: Some(times),
        });
    }

    pub fn sends(&self, vendor: Vendor) -> u64 {
        self.sandbox
            .state
            .counters()
            .get(&vendor)
            .map(|c| c.requests)
            .unwrap_or(0)
    }

    /// A device token for the vendor: [`token`]'s shape, except for Web Push, whose tokens are
    /// subscriptions made on the emulator (it keeps their private keys to decrypt what it gets).
    pub async fn token(&self, vendor: Vendor, i: usize, valid: bool) -> String {
        if vendor != Vendor::Webpush {
            return token(vendor, i, valid);
        }
        let url = format!("{}/subscriptions", self.sandbox.url(Vendor::Webpush));
        let answer = self
            .http
            .send(&VendorRequest::json(url, &serde_json::json!({})))
            .await
            .expect("subscribe");
        assert_eq!(answer.status, 201, "{}", answer.text());
        if valid {
            return answer.text();
        }
        // Real keys, but an endpoint the push service answers `410 Gone` for.
        let mut subscription: Value = serde_json::from_slice(&answer.body).expect("subscription");
        let endpoint = subscription["endpoint"].as_str().expect("endpoint").to_string();
        let (base, _) = endpoint.rsplit_once('/').expect("endpoint path");
        subscription["endpoint"] = Value::from(format!("{base}/invalid-{i:06}"));
        subscription.to_string()
    }

    /// `n` valid targets, each with a badge number.
    pub async fn targets(&self, vendor: Vendor, n: usize) -> Vec<Target> {
        let mut targets = Vec::with_capacity(n);
        for i in 0..n {
            targets.push(Target {
                token: self.token(vendor, i, true).await,
                badge: Some(1),
            });
        }
        targets
    }

    /// Requests to the vendor's auth endpoint so far.
    pub fn auth_calls(&self, vendor: Vendor, path_part: &str) -> usize {
        self.sandbox
            .state
            .requests(vendor)
            .iter()
            .filter(|r| r.path.contains(path_part))
            .count()
    }
}

/// A certificate definition (an admin API body) checked and stored as Herald would.
pub fn certificate_from_definition(vendor: Vendor, definition: &Value) -> (Certificate, Map<String, Value>) {
    let mut fields = definition.as_object().expect("object").clone();
    let base_url = fields
        .remove("base_url")
        .and_then(|v| v.as_str().map(str::to_string));
    let name = fields
        .remove("name")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    fields.remove("vendor");
    let checked =
        herald_vendors::check_certificate_fields(vendor, fields).expect("sandbox definition is valid");
    let cert = Certificate {
        id: 1,
        app_id: "app_test".into(),
        vendor,
        name,
        enabled: true,
        click_action: ClickAction::OpenApp,
        defaults: Default::default(),
        base_url,
        fields: checked.public,
        secret_fields: checked.secrets.keys().cloned().collect(),
        created_at: 0,
        updated_at: 0,
    };
    (cert, checked.secrets)
}

/// A token in the shape the vendor uses; `invalid` ones are unknown to the emulators.
pub fn token(vendor: Vendor, i: usize, valid: bool) -> String {
    let prefix = if valid { "" } else { "invalid" };
    match vendor {
        Vendor::Apns if valid => format!("{:064x}", i + 1),
        Vendor::Apns => format!("{:0>64}", format!("{:x}", i + 0xdead_0000)), // hex, but unknown
        // vivo regIds are 23 characters; an invalid one keeps its prefix and stays 23 long.
        Vendor::Vivo => format!("{prefix}{i:0>width$}", width = 23 - prefix.len()),
        _ => format!("{prefix}{}-token-{i:06}", vendor.as_str()),
    }
}

pub fn notification() -> Notification {
    Notification {
        id: "msg-0001".into(),
        title: "Alice".into(),
        body: "Are we still on for lunch?".into(),
        ext: Some(r#"{"conversation":"c2c:alice","message_id":"msg-0001"}"#.into()),
        badge: true,
        click_action: ClickAction::OpenApp,
        thread_id: Some("c2c:alice".into()),
        collapse_id: Some("msg-0001".into()),
        ttl_seconds: 86_400,
        priority: Priority::High,
        ..Notification::default()
    }
}

pub async fn good_push_is_accepted_and_shown_on_the_phone(vendor: Vendor) {
    let rig = Rig::start().await;
    let adapter = rig.adapter(vendor);
    let target = rig.targets(vendor, 1).await;
    let outcomes = adapter.send(&notification(), &target).await.expect("sent");
    assert!(matches!(outcomes[..], [Outcome::Accepted { .. }]), "{outcomes:?}");
    let inbox = rig.sandbox.state.inbox(vendor, &target[0].token);
    assert_eq!(inbox.len(), 1, "the phone got one notification");
    assert_eq!(inbox[0].title, "Alice");
    assert_eq!(inbox[0].body, "Are we still on for lunch?");
}

pub async fn unknown_token_is_reported_invalid_and_others_in_the_batch_still_go(vendor: Vendor) {
    let rig = Rig::start().await;
    let adapter = rig.adapter(vendor);
    let mut batch = rig.targets(vendor, 2).await;
    batch.insert(
        1,
        Target {
            token: rig.token(vendor, 99, false).await,
            badge: None,
        },
    );
    let outcomes = adapter.send(&notification(), &batch).await.expect("sent");
    assert!(matches!(outcomes[0], Outcome::Accepted { .. }), "{outcomes:?}");
    assert!(
        matches!(outcomes[1], Outcome::InvalidToken { .. }),
        "{outcomes:?}"
    );
    assert!(matches!(outcomes[2], Outcome::Accepted { .. }), "{outcomes:?}");
    let only_invalid = adapter.send(&notification(), &batch[1..2]).await.expect("sent");
    assert!(
        matches!(only_invalid[..], [Outcome::InvalidToken { .. }]),
        "{only_invalid:?}"
    );
}

/// `auth_path` is part of the vendor's auth endpoint path (None for vendors without tokens).
pub async fn expired_auth_is_refreshed_once_and_the_push_goes_through(
    vendor: Vendor,
    auth_path: Option<&str>,
) {
    let rig = Rig::start().await;
    let adapter = rig.adapter(vendor);
    let first = adapter
        .send(&notification(), &rig.targets(vendor, 1).await)
        .await
        .expect("sent");
    assert!(matches!(first[..], [Outcome::Accepted { .. }]), "{first:?}");
    rig.fault(vendor, FaultKind::AuthExpired, 1);
    let second = adapter
        .send(&notification(), &rig.targets(vendor, 1).await)
        .await
        .expect("sent");
    assert!(
        matches!(second[..], [Outcome::Accepted { .. }]),
        "after refresh: {second:?}"
    );
    if let Some(path) = auth_path {
        assert_eq!(
            rig.auth_calls(vendor, path),
            2,
            "one token, then exactly one refresh"
        );
    }
    assert_eq!(rig.sends(vendor), 3, "first send, the expired one, the resend");
}

pub async fn too_many_requests_asks_to_retry_after_the_given_delay(vendor: Vendor) {
    let rig = Rig::start().await;
    let adapter = rig.adapter(vendor);
    rig.fault(vendor, FaultKind::TooManyRequests { retry_after: 7 }, 1);
    let outcomes = adapter
        .send(&notification(), &rig.targets(vendor, 1).await)
        .await
        .expect("sent");
    match &outcomes[..] {
        [Outcome::Retry { after, .. }] => assert_eq!(*after, Some(Duration::from_secs(7))),
        other => panic!("expected a retry after 7 s, got {other:?}"),
    }
}

pub async fn server_error_is_retried_later(vendor: Vendor) {
    let rig = Rig::start().await;
    let adapter = rig.adapter(vendor);
    rig.fault(vendor, FaultKind::ServerError, 1);
    let outcomes = adapter
        .send(&notification(), &rig.targets(vendor, 1).await)
        .await
        .expect("sent");
    assert!(matches!(outcomes[..], [Outcome::Retry { .. }]), "{outcomes:?}");
    let again = adapter
        .send(&notification(), &rig.targets(vendor, 1).await)
        .await
        .expect("sent");
    assert!(matches!(again[..], [Outcome::Accepted { .. }]), "{again:?}");
}

pub async fn oversize_payload_is_refused_before_any_request(vendor: Vendor) {
    let rig = Rig::start().await;
    let adapter = rig.adapter(vendor);
    let mut n = notification();
    n.ext = Some(format!(r#"{{"blob":"{}"}}"#, "x".repeat(6000)));
    let outcomes = adapter
        .send(&n, &rig.targets(vendor, 2).await)
        .await
        .expect("no transport");
    for outcome in &outcomes {
        match outcome {
            Outcome::Rejected { code, reason } => {
                assert_eq!(code, "payload_too_large");
                assert!(
                    reason.contains("limit") || reason.contains("bytes") || reason.contains("characters"),
                    "{reason}"
                );
            }
            other => panic!("expected payload_too_large, got {other:?}"),
        }
    }
    assert_eq!(rig.sends(vendor), 0, "nothing was sent");
}

pub async fn long_title_and_body_are_cut_on_a_character_boundary(vendor: Vendor) {
    let rig = Rig::start().await;
    let adapter = rig.adapter(vendor);
    let mut n = notification();
    n.title = "标题".repeat(100);
    n.body = "消息内容😀".repeat(400);
    let target = rig.targets(vendor, 1).await;
    let outcomes = adapter.send(&n, &target).await.expect("sent");
    assert!(matches!(outcomes[..], [Outcome::Accepted { .. }]), "{outcomes:?}");
    let shown = &rig.sandbox.state.inbox(vendor, &target[0].token)[0];
    assert!(
        shown.body.chars().count() < n.body.chars().count(),
        "body was shortened"
    );
    assert!(shown.body.ends_with('…'), "a cut is marked: {}", shown.body);
    assert!(
        n.body.starts_with(shown.body.trim_end_matches('…')),
        "the cut keeps whole characters"
    );
}

pub async fn a_batch_larger_than_the_vendor_limit_is_split(vendor: Vendor, limit: usize) {
    let rig = Rig::start().await;
    let adapter = rig.adapter(vendor);
    assert_eq!(adapter.max_batch(), limit);
    let n = if limit == 1 { 5 } else { limit * 2 + 1 };
    let batch = rig.targets(vendor, n).await;
    let outcomes = adapter.send(&notification(), &batch).await.expect("sent");
    assert_eq!(outcomes.len(), n);
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Accepted { .. })),
        "{:?}",
        outcomes.iter().find(|o| !matches!(o, Outcome::Accepted { .. }))
    );
    let expected_requests = n.div_ceil(limit) as u64;
    assert!(
        rig.sends(vendor) >= expected_requests,
        "at least one request per chunk"
    );
    assert_eq!(
        rig.sandbox.state.counters()[&vendor].delivered,
        n as u64,
        "every device got it once"
    );
}

/// Headers whose value is the current time, so a preview built a moment apart differs.
const CLOCK_HEADERS: &[&str] = &["timestamp", "apns-expiration"];

/// Whether a previewed value matches the sent one; a previewed `<placeholder>` (a credential,
/// vivo's `taskId`) stands for the value only the wire knows.
fn matches_preview(preview: &Value, sent: &Value) -> bool {
    match (preview, sent) {
        (Value::String(p), _) if p.starts_with('<') && p.ends_with('>') => true,
        (Value::Object(p), Value::Object(s)) => {
            p.len() == s.len()
                && p.iter()
                    .all(|(k, v)| s.get(k).is_some_and(|sv| matches_preview(v, sv)))
        }
        (Value::Array(p), Value::Array(s)) => {
            p.len() == s.len() && p.iter().zip(s).all(|(a, b)| matches_preview(a, b))
        }
        _ => preview == sent,
    }
}

/// A body as comparable JSON: JSON as it is, a form as an object of its fields.
fn body_value(content_type: &str, text: &str) -> Value {
    if content_type.starts_with("application/x-www-form-urlencoded") {
        Value::Object(
            form_urlencoded::parse(text.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        )
    } else {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    }
}

/// Why a previewed request is not the one that arrived, if it is not.
fn difference(preview: &VendorRequest, sent: &herald_sandbox::LoggedRequest) -> Option<String> {
    let url = url::Url::parse(&preview.url).expect("preview url");
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    if preview.method != sent.method || path != sent.path {
        return Some(format!(
            "{} {path} was sent as {} {}",
            preview.method, sent.method, sent.path
        ));
    }
    for (name, value) in &preview.headers {
        if value == "<redacted>" || CLOCK_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if sent.headers.get(name) != Some(value) {
            return Some(format!(
                "header {name}: previewed {value:?}, sent {:?}",
                sent.headers.get(name)
            ));
        }
    }
    let content_type = sent.headers.get("content-type").map(String::as_str).unwrap_or("");
    if content_type == "application/octet-stream" {
        // Encrypted with a fresh key per request: only the size can agree.
        let length = sent
            .headers
            .get("content-length")
            .and_then(|l| l.parse::<usize>().ok());
        return (length != Some(preview.body.len())).then(|| {
            format!(
                "{} encrypted bytes previewed, {length:?} sent",
                preview.body.len()
            )
        });
    }
    let previewed = body_value(content_type, &String::from_utf8_lossy(&preview.body));
    let arrived = body_value(content_type, &sent.body);
    (!matches_preview(&previewed, &arrived))
        .then(|| format!("body: previewed {previewed}\n   sent {arrived}"))
}

/// The requests an adapter sends are the ones its preview (traces, golden files) shows: the
/// same builder makes both. Two targets, so a batch vendor sends its batch request (vivo: the
/// saved payload, then the push to the list).
pub async fn the_requests_sent_are_the_previewed_ones(vendor: Vendor, auth_path: Option<&str>) {
    let rig = Rig::start().await;
    let adapter = rig.adapter(vendor);
    let targets = rig.targets(vendor, 2).await;
    let already_logged = rig.sandbox.state.requests(vendor).len();
    let outcomes = adapter.send(&notification(), &targets).await.expect("sent");
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Accepted { .. })),
        "{outcomes:?}"
    );
    let mut sent: Vec<_> = rig.sandbox.state.requests(vendor)[already_logged..]
        .iter()
        .filter(|r| auth_path.is_none_or(|auth| !r.path.contains(auth)))
        .cloned()
        .collect();
    let (cert, secrets) = rig.certificate(vendor);
    let previewed =
        herald_vendors::preview_requests(&cert, &secrets, &notification(), &targets, "<credential>")
            .expect("adapter builds")
            .expect("notification fits");
    assert_eq!(
        previewed.len(),
        sent.len(),
        "requests previewed vs sent: {sent:#?}"
    );
    // Per-target requests go out concurrently: match them in any order.
    for preview in &previewed {
        let found = sent.iter().position(|s| difference(preview, s).is_none());
        match found {
            Some(i) => {
                sent.remove(i);
            }
            None => panic!(
                "{vendor}: no sent request matches the preview of {}:\n{}",
                preview.url,
                sent.iter()
                    .filter_map(|s| difference(preview, s))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }
}
