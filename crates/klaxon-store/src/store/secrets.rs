//! Runbook secrets, kept sealed: the store never sees a value in the clear.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;

use crate::StoreResult;

/// A secret's name and dates: what lists show.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretInfo {
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait SecretStore: Send + Sync + 'static {
    /// Keeps a sealed value under `name`, replacing one kept before; with its event.
    async fn put_secret(
        &self,
        name: &str,
        sealed: &[u8],
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<()>;

    /// `NotFound` when there is none by that name.
    async fn delete_secret(&self, name: &str, event: NewEvent) -> StoreResult<()>;

    /// Every secret's name and dates, by name.
    async fn list_secrets(&self) -> StoreResult<Vec<SecretInfo>>;

    /// The sealed values of those of `names` that exist.
    async fn sealed_secrets(&self, names: &[String]) -> StoreResult<Vec<(String, Vec<u8>)>>;
}
