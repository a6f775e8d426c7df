//! The persistence contract. The SQLite (embedded) and PostgreSQL (scale-out) stores implement
//! these role traits; the rest of Herald holds an `Arc<dyn Store>` and never knows which runs.
//!
//! Invariants every implementation keeps:
//! - each method is atomic: on error nothing it would have written is visible;
//! - secret values (app secrets, certificate secret fields) are sealed before they are written;
//! - every method is scoped to one app: no method can read or change another app's rows.

use crate::delivery::{DeliveryPlan, DeliveryRecord, DeliveryState, JobResult, PushJob};
use crate::message::Message;
use crate::{
    App, Certificate, Device, DeviceKey, Group, Millis, NewCertificate, Platform, PushSettings, Secret,
    SessionState, User, Vendor,
};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The addressed row does not exist (in this app).
    #[error("{entity} `{id}` not found")]
    NotFound {
        /// What was looked for: `app`, `certificate`, `user`, `device`, `group`.
        entity: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// A uniqueness rule would be broken (a certificate name, a group id).
    #[error("{message}")]
    Conflict {
        /// What clashed: `certificate_name`, `group`.
        entity: &'static str,
        /// A sentence for the caller.
        message: String,
    },
    /// A stored value could not be decrypted or decoded: the data or the master key is wrong.
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// The database failed (connection, I/O, constraint the code did not expect). The message
    /// holds the cause and its own causes, each once; the cause is kept for inspection but not
    /// exposed as `source()`, so that printing the chain does not repeat it.
    #[error("database error: {}", crate::error_text::with_causes(.0.as_ref()))]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A missing-row error.
    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            entity,
            id: id.into(),
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Operator-level state: the admin token.
#[async_trait]
pub trait MetaStore: Send + Sync {
    /// The SHA-256 hex hash of the admin token, if one was issued.
    async fn admin_token_hash(&self) -> StoreResult<Option<String>>;
    /// Records the admin token hash unless one exists; returns whether it was written.
    async fn init_admin_token_hash(&self, hash: &str) -> StoreResult<bool>;
}

/// Tenants.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Creates an app with a Herald-chosen id and secret.
    async fn create_app(&self, id: &str, name: &str, secret: &Secret<String>) -> StoreResult<App>;
    /// Every app, oldest first.
    async fn list_apps(&self) -> StoreResult<Vec<App>>;
    /// One app.
    async fn get_app(&self, id: &str) -> StoreResult<App>;
    /// The app's secret (to check HTTP Basic credentials and sign user tokens).
    async fn app_secret(&self, id: &str) -> StoreResult<Secret<String>>;
    /// Replaces the app's secret: old user tokens stop verifying.
    async fn set_app_secret(&self, id: &str, secret: &Secret<String>) -> StoreResult<()>;
    /// Deletes the app and everything it owns.
    async fn delete_app(&self, id: &str) -> StoreResult<()>;
}

/// Vendor credentials.
#[async_trait]
pub trait CertificateStore: Send + Sync {
    /// Adds a certificate; `Conflict` when the name is taken in the app.
    async fn create_certificate(&self, app: &str, cert: &NewCertificate) -> StoreResult<Certificate>;
    /// The app's certificates, by id.
    async fn list_certificates(&self, app: &str) -> StoreResult<Vec<Certificate>>;
    /// One certificate by numeric id.
    async fn get_certificate(&self, app: &str, id: i64) -> StoreResult<Certificate>;
    /// One certificate by its unique name.
    async fn find_certificate_by_name(&self, app: &str, name: &str) -> StoreResult<Certificate>;
    /// The decrypted secret fields, for the code that signs vendor requests and for merging an
    /// update.
    async fn certificate_secrets(&self, app: &str, id: i64) -> StoreResult<Secret<Map<String, Value>>>;
    /// Replaces every field of a certificate (the caller merged and validated the update).
    async fn replace_certificate(
        &self,
        app: &str,
        id: i64,
        cert: &NewCertificate,
    ) -> StoreResult<Certificate>;
    /// Deletes a certificate; devices bound to it lose their binding.
    async fn delete_certificate(&self, app: &str, id: i64) -> StoreResult<()>;
    /// Adds `count` messages accepted through a certificate on the vendor's `day` (days since
    /// 1970-01-01 in the vendor's time zone) to the count of every node, and returns the total.
    async fn add_quota_usage(&self, app: &str, certificate_id: i64, day: i64, count: u64)
    -> StoreResult<u64>;
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// New nickname.
    pub nickname: Option<String>,
    /// New avatar URL.
    pub avatar_url: Option<String>,
}

/// Accounts and their settings.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user if new and applies the profile update; returns the user and whether it
    /// was created.
    async fn upsert_user(&self, app: &str, user: &str, update: &ProfileUpdate) -> StoreResult<(User, bool)>;
    /// One user.
    async fn get_user(&self, app: &str, user: &str) -> StoreResult<User>;
    /// The ids among `users` that do not exist in the app.
    async fn missing_users(&self, app: &str, users: &[String]) -> StoreResult<Vec<String>>;
    /// The user's push settings (defaults when never set).
    async fn push_settings(&self, app: &str, user: &str) -> StoreResult<PushSettings>;
    /// Replaces the user's push settings.
    async fn set_push_settings(&self, app: &str, user: &str, settings: &PushSettings) -> StoreResult<()>;
}

/// A push token to bind to a device.
#[derive(Debug, Clone)]
pub struct Binding<'a> {
    /// The device's platform.
    pub platform: Platform,
    /// The certificate that will carry the device's pushes.
    pub certificate_id: i64,
    /// That certificate's vendor.
    pub vendor: Vendor,
    /// The vendor token.
    pub token: &'a str,
}

/// Installations and their sessions.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// One device of a user.
    async fn get_device(&self, key: &DeviceKey) -> StoreResult<Device>;
    /// Every device of a user.
    async fn list_devices(&self, app: &str, user: &str) -> StoreResult<Vec<Device>>;
    /// Binds a token to a device (creating the device if new). The same token on any other
    /// device of the app is removed in the same transaction: a token belongs to one device.
    /// A logged-out or kicked device starts a new session (`offline`).
    async fn bind_token(&self, key: &DeviceKey, binding: &Binding<'_>) -> StoreResult<Device>;
    /// Starts or updates a device's session when it connects (creating the device and the
    /// user if new); a logged-out or kicked device starts a new session.
    async fn open_session(
        &self,
        key: &DeviceKey,
        platform: Platform,
        state: SessionState,
    ) -> StoreResult<Device>;
    /// Removes a device's token.
    async fn unbind_token(&self, key: &DeviceKey) -> StoreResult<Device>;
    /// Sets the session state, and the badge when given.
    async fn set_session(
        &self,
        key: &DeviceKey,
        state: SessionState,
        badge: Option<i64>,
    ) -> StoreResult<Device>;
    /// Ends the session (`logged_out`); with `unbind` the token is removed too.
    async fn logout(&self, key: &DeviceKey, unbind: bool) -> StoreResult<Device>;
    /// How many devices of the app have a token bound, per vendor.
    async fn count_bound_devices(&self, app: &str) -> StoreResult<Vec<(Vendor, i64)>>;
}

/// Groups and membership.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Creates a group; `Conflict` when the id is taken.
    async fn create_group(&self, app: &str, id: &str, name: &str, members: &[String]) -> StoreResult<Group>;
    /// One group with its members.
    async fn get_group(&self, app: &str, id: &str) -> StoreResult<Group>;
    /// A group's name (without loading its members).
    async fn group_name(&self, app: &str, id: &str) -> StoreResult<String>;
    /// Deletes a group.
    async fn delete_group(&self, app: &str, id: &str) -> StoreResult<()>;
    /// Adds members (already present ones are ignored).
    async fn add_members(&self, app: &str, id: &str, members: &[String]) -> StoreResult<Group>;
    /// Removes one member.
    async fn remove_member(&self, app: &str, id: &str, user: &str) -> StoreResult<Group>;
}

/// A recipient's devices with what routing needs about the user.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// The user.
    pub user_id: String,
    /// Nickname (for titles when this user sends).
    pub nickname: Option<String>,
    /// Push settings.
    pub settings: PushSettings,
    /// Devices.
    pub devices: Vec<Device>,
}

/// Messages, per-user inboxes and delivery records.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// The users' devices, nicknames and settings (unknown users are left out).
    async fn recipients(&self, app: &str, users: &[String]) -> StoreResult<Vec<Recipient>>;
    /// Member ids of a group.
    async fn group_members(&self, app: &str, group: &str) -> StoreResult<Vec<String>>;
    /// Stores the message, one inbox entry per user in `inbox_users` (each gets the next
    /// number of its gap-free sequence), every delivery decision and the push jobs, and adds
    /// one to the badge of every pushed device — all in one transaction. Returns each user's
    /// sequence number for this message.
    async fn commit_message(
        &self,
        message: &Message,
        inbox_users: &[String],
        plans: &[DeliveryPlan],
    ) -> StoreResult<BTreeMap<String, i64>>;
    /// [`commit_message`](Self::commit_message), with the push jobs leased to the caller until
    /// `lease_until` in the same transaction and returned, so that a node hands them to its own
    /// dispatchers without a claim (one write transaction less per message). If the node dies
    /// first, the lease runs out and any dispatcher claims them.
    async fn commit_message_leased(
        &self,
        message: &Message,
        inbox_users: &[String],
        plans: &[DeliveryPlan],
        lease_until: Millis,
    ) -> StoreResult<(BTreeMap<String, i64>, Vec<PushJob>)>;
    /// One message.
    async fn get_message(&self, app: &str, id: &str) -> StoreResult<Message>;
    /// A user's inbox after `after`, oldest first, at most `limit` entries.
    async fn inbox_after(
        &self,
        app: &str,
        user: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, Message)>>;
    /// Records that a device received everything up to `seq`.
    async fn ack(&self, key: &DeviceKey, seq: i64) -> StoreResult<()>;
    /// The last sequence number a device acknowledged.
    async fn acked(&self, key: &DeviceKey) -> StoreResult<i64>;
    /// Delivery records of a message.
    async fn message_deliveries(&self, app: &str, message: &str) -> StoreResult<Vec<DeliveryRecord>>;
    /// The latest delivery records of a device, newest first.
    async fn device_deliveries(&self, key: &DeviceKey, limit: u32) -> StoreResult<Vec<DeliveryRecord>>;
    /// Delivery counts per vendor and state.
    async fn delivery_counts(&self, app: &str) -> StoreResult<Vec<(Vendor, DeliveryState, i64)>>;
    /// Deletes one batch of old data in one short transaction: up to `limit` of the oldest
    /// messages created before `messages_before` and, among the `limit` oldest delivery
    /// records, those created before `deliveries_before` whose push is finished (an open push
    /// job is never deleted). Called again while it deletes a full batch. The inbox entries of
    /// deleted messages are no longer read (sync joins the message) and are swept by
    /// [`sweep_inbox`](Self::sweep_inbox).
    async fn purge_old(
        &self,
        messages_before: Millis,
        deliveries_before: Millis,
        limit: u32,
    ) -> StoreResult<Purged>;
    /// Deletes the inbox entries whose message is gone among the `limit` entries that follow
    /// `after` in key order (app, user, sequence); returns how many went and where the next
    /// call goes on (`None`: the end of the inbox was reached).
    async fn sweep_inbox(&self, after: &InboxKey, limit: u32) -> StoreResult<(u64, Option<InboxKey>)>;
}

/// A place in the inbox, in its key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxKey {
    /// App id.
    pub app: String,
    /// User id.
    pub user: String,
    /// The user's sequence number.
    pub seq: i64,
}

impl InboxKey {
    /// Before every entry.
    pub fn start() -> Self {
        Self {
            app: String::new(),
            user: String::new(),
            seq: i64::MIN,
        }
    }
}

/// What one retention batch deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Messages.
    pub messages: u64,
    /// Inbox entries whose message was gone.
    pub inbox: u64,
    /// Delivery records.
    pub deliveries: u64,
}

impl Purged {
    /// Whether the batch was full, so that more may be left.
    pub fn was_full(&self, limit: u32) -> bool {
        self.messages >= u64::from(limit) || self.deliveries >= u64::from(limit)
    }
}

/// The push job queue. The embedded store keeps it in the same database as the messages.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Takes up to `limit` due jobs (queued and due, or in flight with an expired lease: their
    /// dispatcher died) and leases them for `lease_ms`.
    async fn claim_jobs(&self, limit: u32, lease_ms: i64) -> StoreResult<Vec<PushJob>>;
    /// Applies the results of attempts (final states, retries, token unbinding).
    async fn complete_jobs(&self, results: &[JobResult]) -> StoreResult<()>;
    /// Puts leased jobs back in the queue, due at `until`, without counting an attempt and
    /// without a log entry: they were not sent, because their certificate is held (its vendor
    /// is failing and being probed) or has its share of the dispatch window in use.
    async fn postpone_jobs(&self, ids: &[i64], until: i64) -> StoreResult<()>;
    /// When the next queued job is due, if any.
    async fn next_due(&self) -> StoreResult<Option<i64>>;
    /// Moves due jobs from the store into the queue when the two are apart (the scale-out
    /// outbox: jobs are committed with the message in PostgreSQL and relayed to JetStream);
    /// returns how many moved. A queue kept in the store itself has nothing to move.
    async fn relay(&self, _limit: u32) -> StoreResult<usize> {
        Ok(0)
    }
    /// Whether the queue can hand out jobs now (`/readyz`). A queue kept in the store is
    /// ready whenever the store answers; a queue on a broker is not while it is cut off.
    async fn ready(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// Everything Herald keeps.
pub trait Store:
    MetaStore + AppStore + CertificateStore + UserStore + DeviceStore + GroupStore + MessageStore + JobQueue
{
}

impl<T> Store for T where
    T: MetaStore
        + AppStore
        + CertificateStore
        + UserStore
        + DeviceStore
        + GroupStore
        + MessageStore
        + JobQueue
{
}
