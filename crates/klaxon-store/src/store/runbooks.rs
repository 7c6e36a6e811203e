//! Runbooks: immutable versions of their Markdown source, and where they apply.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{RunbookId, ServiceId, UserId};
use klaxon_domain::runbook::Matcher;

use crate::StoreResult;

/// A runbook as its latest version defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunbookRecord {
    pub id: RunbookId,
    pub name: String,
    pub title: String,
    /// The latest version's number, from 1.
    pub version: i32,
    pub has_commands: bool,
    pub services: Vec<ServiceId>,
    pub matchers: Vec<Matcher>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One saved version, without its source.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    pub runbook_id: RunbookId,
    pub version: i32,
    /// SHA-256 of the source, hex.
    pub digest: String,
    pub author_id: Option<UserId>,
    /// The author's name when saved.
    pub author: String,
    pub message: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunbookVersion {
    pub info: VersionInfo,
    pub source: String,
}

#[async_trait]
pub trait RunbookStore: Send + Sync + 'static {
    /// A new runbook with its first version (`r.version` 1) and its event. `Conflict` when the
    /// name is taken; `NotFound` when a service is gone.
    async fn create_runbook(
        &self,
        r: &RunbookRecord,
        v: &RunbookVersion,
        event: NewEvent,
    ) -> StoreResult<()>;

    /// The runbook's next version (`r.version`, one past the latest) with what it now says
    /// and its event. `Conflict` when another version was saved meanwhile or the new name is
    /// another runbook's; `NotFound` when the runbook or a service is gone.
    async fn add_runbook_version(
        &self,
        r: &RunbookRecord,
        v: &RunbookVersion,
        event: NewEvent,
    ) -> StoreResult<()>;

    async fn runbook(&self, id: RunbookId) -> StoreResult<RunbookRecord>;

    async fn runbook_by_name(&self, name: &str) -> StoreResult<RunbookRecord>;

    /// Every runbook, by name.
    async fn list_runbooks(&self) -> StoreResult<Vec<RunbookRecord>>;

    /// A runbook's versions, newest first.
    async fn runbook_versions(&self, id: RunbookId) -> StoreResult<Vec<VersionInfo>>;

    /// One version with its source; `NotFound` when there is no such version.
    async fn runbook_version(&self, id: RunbookId, version: i32) -> StoreResult<RunbookVersion>;

    /// Removes a runbook and its versions, writing its event.
    async fn delete_runbook(&self, id: RunbookId, event: NewEvent) -> StoreResult<()>;
}
