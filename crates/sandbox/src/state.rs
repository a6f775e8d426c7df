//! What the emulators share: the credentials they accept, access tokens they issued, injected
//! faults, and what each fake phone received (the inbox), plus counters for benchmarks.

use crate::credentials::Credentials;
use crate::verified::VerifiedTokens;
use herald_core::Vendor;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Notifications kept per token in the inbox (the oldest are dropped).
const INBOX_PER_TOKEN: usize = 100;
/// Raw requests kept per vendor for inspection.
const REQUEST_LOG: usize = 200;

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer as if the token were unregistered.
    InvalidToken,
    /// Answer with the vendor's server error (5xx).
    ServerError,
    /// Answer 429 (or the vendor's flow-control answer) with `Retry-After`.
    TooManyRequests {
        /// Seconds to ask the caller to wait.
        retry_after: u64,
    },
    /// Revoke every issued access token and answer the vendor's "auth expired" once.
    AuthExpired,
    /// Answer the vendor's daily-quota-exceeded code.
    QuotaExhausted,
    /// Delay the answer.
    Slow {
        /// Delay in milliseconds.
        millis: u64,
    },
}

/// A fault rule: for a vendor, optionally only for one token, a number of times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which emulator.
    pub vendor: Vendor,
    /// Only requests carrying this token (None = every request).
    #[serde(default)]
    pub token: Option<String>,
    /// What to do.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many requests it applies to (None = until cleared).
    #[serde(default)]
    pub times: Option<u32>,
}

/// What an emulator does during an [`Outage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutageKind {
    /// Answer every request `503 Service Unavailable` (`UNAVAILABLE`), with `Retry-After`
    /// when given.
    Unavailable {
        /// Seconds to ask the caller to wait, if any.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Accept connections and requests and never answer them.
    Hang,
    /// Close the listener and every open connection: connections are refused.
    RefuseConnections,
}

/// A whole emulator out of order for a while, from the moment it is added:
/// `POST /faults {"vendor":"huawei","kind":"unavailable","retry_after":1,"seconds":60}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// Which emulator.
    pub vendor: Vendor,
    /// What it does meanwhile.
    #[serde(flatten)]
    pub kind: OutageKind,
    /// For how long.
    pub seconds: u64,
}

/// What `POST /faults` takes: an outage for a while, or a fault rule for a number of requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnyFault {
    /// A whole emulator out of order for a while.
    Outage(Outage),
    /// A fault rule.
    Fault(Fault),
}

/// A notification as the phone would show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    /// Vendor that carried it.
    pub vendor: Vendor,
    /// Device token.
    pub token: String,
    /// Title shown.
    pub title: String,
    /// Body shown.
    pub body: String,
    /// What tapping does, in words.
    pub click: String,
    /// App data passed along.
    pub ext: Option<String>,
    /// The vendor message as received (per target).
    pub raw: serde_json::Value,
}

/// A request as it arrived, for inspection and golden comparisons.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// Body as text.
    pub body: String,
}

/// Counters of one emulator.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VendorCounters {
    /// Send requests received (auth calls not counted).
    pub requests: u64,
    /// Notifications accepted for a device.
    pub delivered: u64,
    /// Requests refused (auth, validation, faults).
    pub refused: u64,
}

#[derive(Debug)]
struct IssuedToken {
    vendor: Vendor,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    faults: Vec<Fault>,
    /// Outages that answer (unavailable, hang), with their end.
    outages: Vec<(Vendor, OutageKind, Instant)>,
    issued: HashMap<String, IssuedToken>,
    inbox: HashMap<(Vendor, String), VecDeque<Delivered>>,
    requests: HashMap<Vendor, VecDeque<LoggedRequest>>,
    counters: BTreeMap<Vendor, VendorCounters>,
    /// Who holds a token, for the console (vendor, token → name).
    names: HashMap<(Vendor, String), String>,
    /// Tokens of revoked credentials that must be answered "expired" (vendor → tokens).
    next_token: u64,
}

/// Shared emulator state.
#[derive(Debug)]
pub struct SandboxState {
    /// Credentials the emulators accept.
    pub credentials: Credentials,
    /// Print each delivered notification to stdout as the phone would show it.
    pub console: bool,
    /// Keep raw requests and inbox entries (off in benchmarks to measure Herald, not the log).
    pub record: bool,
    /// The fast sink of benchmarks: every send is accepted and counted without checking its
    /// credential, signature or encryption, so a benchmark measures Herald, not the emulators'
    /// checks. Payload shapes are still read (each vendor's answer names its targets).
    pub sink: bool,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// APNs provider tokens that verified (they are shared by every APNs connection).
    pub(crate) apns_tokens: VerifiedTokens<()>,
    /// Until when each emulator refuses connections; listeners and connections watch it.
    refusals: tokio::sync::watch::Sender<HashMap<Vendor, Instant>>,
    inner: Mutex<Inner>,
}

/// The answer to "may this access token be used?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Valid.
    Valid,
    /// Issued by this emulator but expired or revoked.
    Expired,
    /// Never issued (or for another vendor).
    Unknown,
}

impl SandboxState {
    /// Fresh state.
    pub fn new(credentials: Credentials, console: bool, record: bool) -> Self {
        Self {
            credentials,
            console,
            record,
            sink: false,
            token_lifetime: Duration::from_secs(3600),
            apns_tokens: VerifiedTokens::default(),
            refusals: tokio::sync::watch::Sender::new(HashMap::new()),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Issues an access token for a vendor.
    pub fn issue_token(&self, vendor: Vendor) -> (String, u64) {
        let mut inner = self.inner();
        inner.next_token += 1;
        let random: u64 = rand::random();
        let token = format!("{}-{:x}{:016x}", vendor.as_str(), inner.next_token, random);
        inner.issued.insert(
            token.clone(),
            IssuedToken {
                vendor,
                expires: Instant::now() + self.token_lifetime,
            },
        );
        (token, self.token_lifetime.as_secs())
    }

    /// Checks an access token presented to a vendor.
    pub fn check_token(&self, vendor: Vendor, token: &str) -> TokenCheck {
        if self.sink {
            return TokenCheck::Valid;
        }
        match self.inner().issued.get(token) {
            Some(t) if t.vendor == vendor && Instant::now() < t.expires => TokenCheck::Valid,
            Some(t) if t.vendor == vendor => TokenCheck::Expired,
            _ => TokenCheck::Unknown,
        }
    }

    /// Revokes every token issued for a vendor (they now answer "expired").
    pub fn revoke_tokens(&self, vendor: Vendor) {
        let now = Instant::now();
        for token in self.inner().issued.values_mut().filter(|t| t.vendor == vendor) {
            token.expires = now;
        }
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, fault: Fault) {
        self.inner().faults.push(fault);
    }

    /// Starts an outage of one emulator, from now for its seconds.
    pub fn add_outage(&self, outage: Outage) {
        let until = Instant::now() + Duration::from_secs(outage.seconds);
        match outage.kind {
            OutageKind::RefuseConnections => {
                self.refusals.send_modify(|refusals| {
                    refusals.insert(outage.vendor, until);
                });
            }
            kind => self.inner().outages.push((outage.vendor, kind, until)),
        }
    }

    /// Adds a fault rule or starts an outage.
    pub fn add_any_fault(&self, fault: AnyFault) {
        match fault {
            AnyFault::Outage(outage) => self.add_outage(outage),
            AnyFault::Fault(fault) => self.add_fault(fault),
        }
    }

    /// The outage a request to `vendor` meets now (unavailable or hang), and its end.
    pub fn current_outage(&self, vendor: Vendor) -> Option<(OutageKind, Instant)> {
        let now = Instant::now();
        let mut inner = self.inner();
        inner.outages.retain(|(_, _, until)| *until > now);
        inner
            .outages
            .iter()
            .find(|(v, _, _)| *v == vendor)
            .map(|(_, kind, until)| (*kind, *until))
    }

    /// Until when `vendor` refuses connections, if it does now.
    pub fn refused_until(&self, vendor: Vendor) -> Option<Instant> {
        self.refusals
            .borrow()
            .get(&vendor)
            .copied()
            .filter(|until| *until > Instant::now())
    }

    /// Changes whenever a refusal of connections starts.
    pub fn watch_refusals(&self) -> tokio::sync::watch::Receiver<HashMap<Vendor, Instant>> {
        self.refusals.subscribe()
    }

    /// Removes every fault rule and ends every outage.
    pub fn clear_faults(&self) {
        let mut inner = self.inner();
        inner.faults.clear();
        inner.outages.clear();
        drop(inner);
        self.refusals.send_modify(HashMap::clear);
    }

    /// The fault that applies to a request carrying `tokens`, consuming one use of it.
    pub fn take_fault(&self, vendor: Vendor, tokens: &[&str]) -> Option<FaultKind> {
        let mut inner = self.inner();
        let index = inner.faults.iter().position(|f| {
            f.vendor == vendor && f.token.as_deref().is_none_or(|t| tokens.contains(&t)) && f.times != Some(0)
        })?;
        let fault = &mut inner.faults[index];
        let kind = fault.kind.clone();
        if let Some(times) = fault.times.as_mut() {
            *times -= 1;
            if *times == 0 {
                inner.faults.remove(index);
            }
        }
        drop(inner);
        if kind == FaultKind::AuthExpired {
            self.revoke_tokens(vendor);
        }
        Some(kind)
    }

    /// Counts a send request.
    pub fn count_request(&self, vendor: Vendor) {
        self.inner().counters.entry(vendor).or_default().requests += 1;
    }

    /// Logs a raw request (auth calls included).
    pub fn log_request(&self, vendor: Vendor, request: LoggedRequest) {
        let mut inner = self.inner();
        if self.record {
            let log = inner.requests.entry(vendor).or_default();
            if log.len() == REQUEST_LOG {
                log.pop_front();
            }
            log.push_back(request);
        }
    }

    /// Counts a refused request.
    pub fn refused(&self, vendor: Vendor) {
        self.inner().counters.entry(vendor).or_default().refused += 1;
    }

    /// Names the holder of a device token, so the console shows "ling" instead of a token.
    pub fn name_device(&self, vendor: Vendor, token: &str, name: &str) {
        self.inner()
            .names
            .insert((vendor, token.to_string()), name.to_string());
    }

    /// Records a delivered notification (and prints it when the console is on).
    pub fn deliver(&self, delivered: Delivered) {
        if self.console {
            let holder = self
                .inner()
                .names
                .get(&(delivered.vendor, delivered.token.clone()))
                .cloned()
                .unwrap_or_else(|| short(&delivered.token));
            println!(
                "[{:>7}] {} ▸ {} — {}   (tap: {})",
                delivered.vendor.as_str(),
                holder,
                delivered.title,
                delivered.body,
                delivered.click
            );
        }
        let mut inner = self.inner();
        inner.counters.entry(delivered.vendor).or_default().delivered += 1;
        if self.record {
            let inbox = inner
                .inbox
                .entry((delivered.vendor, delivered.token.clone()))
                .or_default();
            if inbox.len() == INBOX_PER_TOKEN {
                inbox.pop_front();
            }
            inbox.push_back(delivered);
        }
    }

    /// What a token received, oldest first.
    pub fn inbox(&self, vendor: Vendor, token: &str) -> Vec<Delivered> {
        self.inner()
            .inbox
            .get(&(vendor, token.to_string()))
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many notifications each token of a vendor received (up to the inbox size).
    pub fn inbox_counts(&self, vendor: Vendor) -> BTreeMap<String, usize> {
        self.inner()
            .inbox
            .iter()
            .filter(|((v, _), _)| *v == vendor)
            .map(|((_, token), inbox)| (token.clone(), inbox.len()))
            .collect()
    }

    /// Raw requests a vendor received, oldest first.
    pub fn requests(&self, vendor: Vendor) -> Vec<LoggedRequest> {
        self.inner()
            .requests
            .get(&vendor)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Counters per vendor.
    pub fn counters(&self) -> BTreeMap<Vendor, VendorCounters> {
        self.inner().counters.clone()
    }

    /// Forgets inboxes, logs, counters and faults (credentials and issued tokens stay).
    pub fn reset(&self) {
        let mut inner = self.inner();
        inner.faults.clear();
        inner.outages.clear();
        self.refusals.send_modify(HashMap::clear);
        inner.inbox.clear();
        inner.requests.clear();
        inner.counters.clear();
    }
}

fn short(token: &str) -> String {
    if token.len() > 14 {
        format!("{}…", &token[..12])
    } else {
        token.to_string()
    }
}

/// Tokens that start with this are unknown to every emulator: an easy way to exercise the
/// invalid-token path without setting up a fault.
pub const INVALID_TOKEN_PREFIX: &str = "invalid";

/// Whether an emulator treats this device token as unregistered.
pub fn is_unknown_device(token: &str) -> bool {
    token.starts_with(INVALID_TOKEN_PREFIX)
}
