//! Accepting a message: find the recipient devices, decide for each (core routing rules),
//! commit the message with its inbox entries, delivery records and push jobs in one store
//! transaction, then hand live copies to connected sessions and the jobs to the dispatchers
//! (straight over for a small message, else by waking them to claim).

use crate::dispatch::{Handed, Handoff};
use crate::presence::{DeviceKey, PresenceHub, SessionSignal};
use crate::protocol::ServerFrame;
use herald_core::cache::TtlCache;
use herald_core::delivery::{DeliveryPlan, PlannedPush};
use herald_core::message::{Destination, Message, MessageKind, PushInfo};
use herald_core::notify::user_sound;
use herald_core::routing::{RouteInput, decide};
use herald_core::store::Recipient;
use herald_core::{Store, StoreError, now_millis};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::Notify;

/// A message to send, already validated by the caller.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// App.
    pub app: String,
    /// Sender.
    pub from: String,
    /// Sender's device, when sent from a connected device (it gets no live copy).
    pub from_device: Option<String>,
    /// Recipient.
    pub to: Destination,
    /// Kind.
    pub kind: MessageKind,
    /// Content.
    pub content: Value,
    /// Push info (aliases already applied).
    pub push: PushInfo,
    /// Attributes as given.
    pub attributes: Map<String, Value>,
}

/// What happened to a sent message.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SendReport {
    /// The new message id.
    pub message_id: String,
    /// Recipient users.
    pub recipients: usize,
    /// Devices that got it live.
    pub live: usize,
    /// Devices a push was queued for (committed with the message; the vendor's answer comes
    /// later, in the delivery records).
    pub push_queued: usize,
    /// Devices that got neither.
    pub skipped: usize,
    /// The sender's sequence number for this message.
    pub sender_seq: i64,
}

/// Why a message was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A user or group does not exist.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sender is not a member of the group.
    #[error("`{user}` is not a member of group `{group}`")]
    NotAMember {
        /// Sender.
        user: String,
        /// Group.
        group: String,
    },
}

/// Sends messages. Cheap to clone.
#[derive(Clone)]
pub struct Messenger {
    store: Arc<dyn Store>,
    hub: PresenceHub,
    wake: Arc<Notify>,
    handoff: Option<Handoff>,
    certificates: TtlCache<Certificates>,
}

/// Each app's certificates by id, as routing reads them.
type Certificates = Arc<HashMap<i64, herald_core::Certificate>>;

/// An app's certificates are read at most this often for routing: one store read less per
/// message. A change made through this node is seen at once ([`Messenger::forget_certificates`]);
/// another node of a cluster sees it within this time (as its adapters do).
const CERTIFICATES_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Most pushes of one message handed straight to the dispatchers.
const HANDOFF_MAX_PUSHES: usize = 100;

impl std::fmt::Debug for Messenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messenger").finish_non_exhaustive()
    }
}

/// Everyone a message involves, as the store knows them.
struct Involved {
    /// The sender (their other devices get a copy of what they sent).
    sender: Recipient,
    /// The recipients, the sender left out.
    recipients: Vec<Recipient>,
    /// The group's name, for a group message.
    group_name: Option<String>,
}

/// What the commit gave back.
struct Committed {
    /// Each inbox user's sequence number for the message.
    seqs: BTreeMap<String, i64>,
    /// Whether the push jobs went straight to this node's dispatchers (no wake-up needed).
    handed_over: bool,
}

/// The message `out` makes, created now with a new id.
fn compose(out: Outgoing, sender: &Recipient, group_name: Option<String>) -> Message {
    Message {
        id: new_message_id(),
        app_id: out.app,
        from: out.from,
        to: out.to,
        kind: out.kind,
        content: out.content,
        push: out.push,
        attributes: out.attributes,
        sender_nickname: sender.nickname.clone(),
        group_name,
        created_at: now_millis(),
    }
}

/// Who gets an inbox entry: every recipient, and the sender.
fn inbox_users(message: &Message, recipients: &[Recipient]) -> Vec<String> {
    let mut users: Vec<String> = recipients.iter().map(|r| r.user_id.clone()).collect();
    users.push(message.from.clone());
    users
}

/// A new time-ordered message id.
pub fn new_message_id() -> String {
    format!("msg_{:012x}{:08x}", now_millis(), rand::random::<u32>())
}

impl Messenger {
    /// A messenger over a store and this node's presence hub; `wake` is notified when push
    /// jobs were queued.
    pub fn new(store: Arc<dyn Store>, hub: PresenceHub, wake: Arc<Notify>) -> Self {
        Self {
            store,
            hub,
            wake,
            handoff: None,
            certificates: TtlCache::new(CERTIFICATES_TTL),
        }
    }

    /// Drops the cached certificates of an app (one was added, changed or deleted).
    pub fn forget_certificates(&self, app: &str) {
        self.certificates.forget(app);
    }

    /// The app's certificates, read again when older than `CERTIFICATES_TTL`.
    async fn certificates(&self, app: &str) -> Result<Certificates, StoreError> {
        if let Some(certificates) = self.certificates.get(app) {
            return Ok(certificates);
        }
        let certificates: Certificates = Arc::new(
            self.store
                .list_certificates(app)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect(),
        );
        self.certificates.put(app, certificates.clone());
        Ok(certificates)
    }

    /// Hands the push jobs of small messages straight to this node's dispatchers (only
    /// where the store is the queue: the embedded mode).
    pub fn with_handoff(mut self, handoff: Handoff) -> Self {
        self.handoff = Some(handoff);
        self
    }

    /// Sends one message: who is involved, the message, a routing decision per device, one
    /// commit, then live copies and the push hand-off.
    pub async fn send(&self, out: Outgoing) -> Result<SendReport, SendError> {
        let Involved {
            sender,
            recipients,
            group_name,
        } = self.involved(&out).await?;
        let from_device = out.from_device.clone();
        let message = compose(out, &sender, group_name);
        let plans = self.plan(&message, &recipients).await?;
        let inbox_users = inbox_users(&message, &recipients);
        // The plans hold what the commit needs: free the recipients' devices and settings
        // before it (a 100,000-member group holds tens of MiB here).
        let recipient_count = recipients.len();
        drop(recipients);
        let message = Arc::new(message);
        let committed = self.commit(&message, &inbox_users, &plans).await?;
        let mut report = self.deliver(&message, &plans, &committed.seqs);
        report.recipients = recipient_count;
        self.show_to_sender(&message, &sender, from_device.as_deref(), report.sender_seq);
        if report.push_queued > 0 && !committed.handed_over {
            self.wake.notify_waiters();
            self.wake.notify_one();
        }
        metrics::counter!("herald_messages_total", "kind" => message.kind.as_str()).increment(1);
        Ok(report)
    }

    /// The sender and the recipients of `out`, with their devices and settings: one store
    /// read for everyone involved, the sender included.
    async fn involved(&self, out: &Outgoing) -> Result<Involved, SendError> {
        let store = self.store.as_ref();
        let (involved, group_name) = match &out.to {
            Destination::C2c { to } => {
                let mut involved = vec![out.from.clone()];
                if *to != out.from {
                    involved.push(to.clone());
                }
                (involved, None)
            }
            Destination::Group { group } => {
                let members = store.group_members(&out.app, group).await?;
                if !members.contains(&out.from) {
                    return Err(SendError::NotAMember {
                        user: out.from.clone(),
                        group: group.clone(),
                    });
                }
                let name = store.group_name(&out.app, group).await?;
                (members, Some(name))
            }
        };
        let mut recipients = store.recipients(&out.app, &involved).await?;
        drop(involved);
        let sender = match recipients.iter().position(|r| r.user_id == out.from) {
            Some(at) => recipients.remove(at),
            None => return Err(StoreError::not_found("user", out.from.clone()).into()),
        };
        if let Destination::C2c { to } = &out.to
            && *to != out.from
            && recipients.is_empty()
        {
            return Err(StoreError::not_found("user", to.clone()).into());
        }
        Ok(Involved {
            sender,
            recipients,
            group_name,
        })
    }

    /// What routing decides for each device of each recipient (core rules), with the push
    /// job where it pushes.
    async fn plan(
        &self,
        message: &Message,
        recipients: &[Recipient],
    ) -> Result<Vec<DeliveryPlan>, StoreError> {
        let certificates = self.certificates(&message.app_id).await?;
        let conversation = message.to.conversation_for_recipient(&message.from);
        let at = jiff::Timestamp::now();
        let expires_at = message.created_at + i64::from(message.push.ttl()) * 1000;
        let mut plans = Vec::new();
        for recipient in recipients {
            let sound = user_sound(message, &recipient.settings).map(str::to_string);
            for device in &recipient.devices {
                let connected = self.hub.is_connected(&DeviceKey::new(
                    &message.app_id,
                    &device.user_id,
                    &device.device_id,
                ));
                let certificate = device
                    .binding
                    .as_ref()
                    .and_then(|b| certificates.get(&b.certificate_id));
                let (decision, reason) = decide(&RouteInput {
                    message,
                    device,
                    connected,
                    certificate,
                    settings: &recipient.settings,
                    conversation: &conversation,
                    now: at,
                });
                let push = match (&device.binding, decision.pushes()) {
                    (Some(binding), true) => Some(PlannedPush {
                        certificate_id: binding.certificate_id,
                        vendor: binding.vendor,
                        token: binding.token.clone(),
                        sound: sound.clone(),
                        expires_at,
                    }),
                    _ => None,
                };
                plans.push(DeliveryPlan {
                    user_id: device.user_id.clone(),
                    device_id: device.device_id.clone(),
                    decision,
                    reason,
                    push,
                });
            }
        }
        Ok(plans)
    }

    /// Stores the message with its inbox entries and plans in one transaction. A few pushes
    /// go straight to this node's dispatchers, leased by the commit itself; a large fan-out
    /// is queued and claimed in batches (holding it in memory would cost more than the
    /// claims save).
    async fn commit(
        &self,
        message: &Arc<Message>,
        inbox_users: &[String],
        plans: &[DeliveryPlan],
    ) -> Result<Committed, StoreError> {
        let store = self.store.as_ref();
        let pushes = plans.iter().filter(|p| p.push.is_some()).count();
        let handoff = match &self.handoff {
            Some(handoff) if pushes > 0 && pushes <= HANDOFF_MAX_PUSHES => {
                handoff.reserve().map(|slot| (slot, handoff.lease_ms()))
            }
            _ => None,
        };
        match handoff {
            Some((slot, lease_ms)) => {
                let (seqs, jobs) = store
                    .commit_message_leased(message, inbox_users, plans, now_millis() + lease_ms)
                    .await?;
                slot.send(Handed {
                    message: message.clone(),
                    jobs,
                });
                Ok(Committed {
                    seqs,
                    handed_over: true,
                })
            }
            None => Ok(Committed {
                seqs: store.commit_message(message, inbox_users, plans).await?,
                handed_over: false,
            }),
        }
    }

    /// Sends the live copies the plans call for and counts what became of each device (the
    /// report's `recipients` is left to the caller).
    fn deliver(&self, message: &Message, plans: &[DeliveryPlan], seqs: &BTreeMap<String, i64>) -> SendReport {
        let mut report = SendReport {
            message_id: message.id.clone(),
            sender_seq: seqs.get(&message.from).copied().unwrap_or(0),
            ..SendReport::default()
        };
        for plan in plans {
            if plan.decision.live() {
                report.live += 1;
                let seq = seqs.get(&plan.user_id).copied().unwrap_or(0);
                self.deliver_live(message, &plan.user_id, &plan.device_id, seq);
            }
            if plan.push.is_some() {
                report.push_queued += 1;
            } else if !plan.decision.live() {
                report.skipped += 1;
            }
        }
        report
    }

    /// The sender's other connected devices see what was sent.
    fn show_to_sender(&self, message: &Message, sender: &Recipient, from_device: Option<&str>, seq: i64) {
        for device in &sender.devices {
            if Some(device.device_id.as_str()) != from_device && !device.state.is_ended() {
                self.deliver_live(message, &message.from, &device.device_id, seq);
            }
        }
    }

    fn deliver_live(&self, message: &Message, user: &str, device: &str, seq: i64) {
        let frame = ServerFrame::message(seq, message, user);
        self.hub.signal(
            &DeviceKey::new(&message.app_id, user, device),
            SessionSignal::Frame {
                text: frame.to_text(),
            },
        );
    }
}
