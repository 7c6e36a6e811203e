//! Outgoing webhooks.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{DeliveryId, WebhookId};

use crate::{
    ClaimedDelivery, DeliveryOutcome, FanOut, FanOutReport, StoreResult, Webhook, WebhookDelivery,
};

/// Outgoing webhooks: the webhooks, fan-out of incident events into deliveries, and the
/// deliveries' leases and outcomes.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Creates a webhook that receives events written from now on. `Conflict { constraint:
    /// "webhooks_name" }` when the name is taken.
    async fn create_webhook(&self, webhook: Webhook, event: NewEvent) -> StoreResult<Webhook>;

    async fn webhook(&self, id: WebhookId) -> StoreResult<Webhook>;

    /// The webhooks whose name is `name` ignoring the case of ASCII letters (names are unique
    /// exactly, so several can differ in case only), as id and name; the same on both backends.
    async fn webhooks_named(&self, name: &str) -> StoreResult<Vec<(WebhookId, String)>>;

    /// Every webhook, by name.
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>>;

    /// Changes name, URL, events and enabled (not the secret).
    async fn update_webhook(&self, webhook: Webhook, event: NewEvent) -> StoreResult<Webhook>;

    /// Deletes a webhook and its deliveries.
    async fn delete_webhook(&self, id: WebhookId, event: NewEvent) -> StoreResult<()>;

    /// Turns incident events written since each enabled webhook last looked into pending
    /// deliveries (reading at most `limit` events per webhook: `more` says there may be more),
    /// once each, and moves the webhooks on (past events of other subjects too).
    /// The last few hundred events before a webhook's position are looked at again, so an
    /// event whose transaction committed late (PostgreSQL) is not skipped. Returns how many
    /// deliveries it queued.
    async fn fan_out_webhooks(
        &self,
        now: Timestamp,
        limit: u32,
        how: &FanOut<'_>,
    ) -> StoreResult<FanOutReport>;

    /// Leases due deliveries (pending, or sending with an expired lease) until `until`,
    /// counting the attempt.
    async fn claim_webhook_deliveries(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;

    async fn finish_webhook_delivery(
        &self,
        id: DeliveryId,
        outcome: DeliveryOutcome,
        now: Timestamp,
    ) -> StoreResult<()>;

    /// A webhook's deliveries, newest first, before the one for event `before_seq`.
    async fn list_webhook_deliveries(
        &self,
        webhook: WebhookId,
        before_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
}
