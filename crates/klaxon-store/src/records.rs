//! What the store keeps and returns. Times are `jiff::Timestamp` (UTC); ids are typed.
use jiff::Timestamp;
use klaxon_domain::auth::{DisplayName, EmailAddress, Role, TokenName};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ApiTokenId, JobId, SessionId, UserId};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
}

/// A user about to be created. The password arrives already hashed: hashing is CPU work the
/// caller does off the async threads.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: EmailAddress,
    pub name: DisplayName,
    pub role: Role,
    pub password_hash: String,
    pub created_at: Timestamp,
}

/// A user with the secret needed to check a login.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub name: String,
    pub role: Role,
    /// The user the token acts for; its role never exceeds that user's.
    pub user_id: UserId,
    /// The first characters of the token, to tell tokens apart without revealing them.
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub id: ApiTokenId,
    pub name: TokenName,
    pub role: Role,
    pub user_id: UserId,
    pub prefix: String,
    /// SHA-256 of the secret token: the token itself is never stored.
    pub hash: [u8; 32],
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    /// The synchronizer token every form of this session must carry.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    /// SHA-256 of the cookie value: a stolen database does not yield live sessions.
    pub hash: [u8; 32],
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub client_addr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// A per-database sequence number: events of one subject read back in this order.
    pub seq: i64,
    pub subject_type: SubjectType,
    pub subject_id: String,
    pub at: Timestamp,
    pub actor: Actor,
    pub kind: EventKind,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: JobId,
    pub kind: String,
    /// At most one pending job per key; enqueueing an existing key keeps the existing job.
    pub dedup_key: Option<String>,
    pub payload: serde_json::Value,
    pub run_at: Timestamp,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub dedup_key: Option<String>,
    pub payload: serde_json::Value,
    pub run_at: Timestamp,
    pub attempts: u32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// Set once the job has used up its attempts; dead jobs are never claimed again.
    pub dead_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// The outcome of enqueueing a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    New(JobId),
    /// A pending job with the same dedup key already existed; nothing was written.
    Existing(JobId),
}

impl Enqueued {
    pub fn id(self) -> JobId {
        match self {
            Enqueued::New(id) | Enqueued::Existing(id) => id,
        }
    }
}

/// A write on the hot path, batched with others into one transaction by [`crate::GroupCommit`].
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Event(NewEvent),
    Job(NewJob),
}

/// What a committed [`Write`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAck {
    Event { seq: i64 },
    Job(Enqueued),
}

/// One page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// What routine maintenance removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub sessions: u64,
    pub login_failures: u64,
}
