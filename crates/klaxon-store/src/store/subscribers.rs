//! Status page subscribers and the outbox of their notices.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{StatusIncidentId, StatusPageId, SubscriberId};

use crate::{ClaimedNotice, DeliveryOutcome, Notice, SignUp, StoreResult, Subscriber};

/// Subscribers to a status page. Notices for incident updates, maintenance and component
/// changes are queued by the status store in the transaction that makes the change; these
/// methods keep the subscribers and send the queue.
#[async_trait]
pub trait SubscriberStore: Send + Sync + 'static {
    /// Adds `s`, or finds the page's subscriber with its kind and address. An unconfirmed
    /// subscriber gets a confirmation notice, a confirmed one (already known) a manage-link
    /// notice, unless one was queued after `mailed_after` (then `TooSoon`, nothing written). A
    /// new confirmed subscriber (a webhook an admin adds) gets none. `NotFound` when the page
    /// or a component is gone.
    async fn subscribe(
        &self,
        s: Subscriber,
        mailed_after: Timestamp,
        event: NewEvent,
    ) -> StoreResult<SignUp>;

    async fn subscriber(&self, id: SubscriberId) -> StoreResult<Subscriber>;

    /// A page's subscribers, oldest first.
    async fn list_subscribers(&self, page: StatusPageId) -> StoreResult<Vec<Subscriber>>;

    /// Marks a subscriber confirmed (the event written only the first time).
    async fn confirm_subscriber(
        &self,
        id: SubscriberId,
        now: Timestamp,
        event: NewEvent,
    ) -> StoreResult<Subscriber>;

    /// Changes which components a subscriber follows.
    async fn update_subscriber(&self, s: Subscriber, event: NewEvent) -> StoreResult<Subscriber>;

    /// Removes a subscriber and its unsent notices.
    async fn delete_subscriber(&self, id: SubscriberId, event: NewEvent) -> StoreResult<()>;

    /// Removes subscribers never confirmed since before `before`; returns how many.
    async fn prune_subscribers(&self, before: Timestamp) -> StoreResult<u64>;

    /// Marks a maintenance's subscribers reminded, queueing a reminder for each e-mail
    /// subscriber of its components, once: `false` when it was reminded already or is no
    /// longer scheduled.
    async fn remind_maintenance(&self, id: StatusIncidentId, event: NewEvent) -> StoreResult<bool>;

    /// Leases due notices (pending, or sending with an expired lease) until `until`, counting
    /// the attempt: for each subscriber only its first unsent notice, so each is sent its
    /// notices in order.
    async fn claim_notices(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedNotice>>;

    async fn finish_notice(
        &self,
        n: &Notice,
        outcome: DeliveryOutcome,
        now: Timestamp,
    ) -> StoreResult<()>;

    /// A subscriber's latest notices, newest first.
    async fn list_notices(&self, id: SubscriberId, limit: u32) -> StoreResult<Vec<Notice>>;
}
