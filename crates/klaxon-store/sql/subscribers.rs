//! Status page subscribers and their notices. Notices are queued by `queue` in the transaction
//! of the change they tell of (called from `status.rs`), one row per subscriber, so none is lost
//! and none is queued twice; each subscriber is sent its notices in `(event_seq, part)` order.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{EventKind, NewEvent};
use klaxon_domain::ids::{
    ComponentId, StatusIncidentId, StatusPageId, StatusUpdateId, SubscriberId,
};
use klaxon_domain::status::ComponentStatus;
use klaxon_store::*;
use serde_json::json;
use sqlx::Transaction;

use super::engine::insert_event;
use super::*;

fn subscriber_from(row: &DbRow) -> StoreResult<Subscriber> {
    let kind: String = get(row, "kind")?;
    Ok(Subscriber {
        id: get_id(row, "id")?,
        page_id: get_id(row, "page_id")?,
        kind: SubscriberKind::parse(&kind).ok_or_else(|| corrupt("subscriber kind", &kind))?,
        address: get(row, "address")?,
        all_components: get(row, "all_components")?,
        component_ids: Vec::new(),
        confirmed_at: get_opt_ts(row, "confirmed_at")?,
        nonce: get(row, "nonce")?,
        mailed_at: get_opt_ts(row, "mailed_at")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn notice_from(row: &DbRow) -> StoreResult<Notice> {
    let kind: String = get(row, "kind")?;
    let status: String = get(row, "status")?;
    Ok(Notice {
        subscriber_id: get_id(row, "subscriber_id")?,
        event_seq: get(row, "event_seq")?,
        part: get(row, "part")?,
        kind: NoticeKind::parse(&kind).ok_or_else(|| corrupt("notice kind", &kind))?,
        status_incident_id: opt_id(row, "status_incident_id")?,
        status_update_id: opt_id(row, "status_update_id")?,
        component_id: opt_id(row, "component_id")?,
        old_status: opt_parsed(row, "old_status")?,
        new_status: opt_parsed(row, "new_status")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("notice status", &status))?,
        attempts: get_u32(row, "attempts")?,
        run_at: get_ts(row, "run_at")?,
        last_error: get(row, "last_error")?,
        created_at: get_ts(row, "created_at")?,
        sent_at: get_opt_ts(row, "sent_at")?,
    })
}

/// Fills in the components each subscriber follows, in one query.
async fn with_components<'e, E>(ex: E, mut subs: Vec<Subscriber>) -> StoreResult<Vec<Subscriber>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    if subs.is_empty() {
        return Ok(subs);
    }
    let ids: Vec<SubscriberId> = subs.iter().map(|s| s.id).collect();
    let rows = sqlx::query(concat!(
        "SELECT sc.subscriber_id, sc.component_id FROM status_subscriber_components sc
         JOIN status_components c ON c.id = sc.component_id
         WHERE sc.subscriber_id ",
        in_list!("$1"),
        " ORDER BY c.position, c.name"
    ))
    .bind(db_ids(&ids))
    .fetch_all(ex)
    .await
    .map_err(map_err)?;
    for row in &rows {
        let sid: SubscriberId = get_id(row, "subscriber_id")?;
        if let Some(s) = subs.iter_mut().find(|s| s.id == sid) {
            s.component_ids.push(get_id(row, "component_id")?);
        }
    }
    Ok(subs)
}

async fn set_components(tx: &mut Transaction<'_, Db>, s: &Subscriber) -> StoreResult<()> {
    sqlx::query("DELETE FROM status_subscriber_components WHERE subscriber_id = $1")
        .bind(db_id(s.id))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    for c in &s.component_ids {
        // Only the page's own components.
        let n = sqlx::query(
            "INSERT INTO status_subscriber_components (subscriber_id, component_id)
             SELECT $1, id FROM status_components WHERE id = $2 AND page_id = $3
             ON CONFLICT DO NOTHING",
        )
        .bind(db_id(s.id))
        .bind(db_id(*c))
        .bind(db_id(s.page_id))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// What one queued notice is about.
pub(crate) struct About<'a> {
    pub page: StatusPageId,
    pub event_seq: i64,
    pub kind: NoticeKind,
    /// `""`, or the component's code.
    pub part: &'a str,
    pub incident: Option<StatusIncidentId>,
    pub update: Option<StatusUpdateId>,
    /// A component change: the component and its old and new status.
    pub change: Option<(ComponentId, ComponentStatus, ComponentStatus)>,
    /// Only subscribers of this kind (`None`: both).
    pub only: Option<SubscriberKind>,
    pub at: Timestamp,
}

/// Queues a notice for each confirmed subscriber of the page who follows every component, or
/// one the incident touches, or the changed component.
pub(crate) async fn queue(tx: &mut Transaction<'_, Db>, a: &About<'_>) -> StoreResult<u64> {
    let (component, old, new) = match a.change {
        Some((c, o, n)) => (Some(c), Some(o.as_str()), Some(n.as_str())),
        None => (None, None, None),
    };
    let n = sqlx::query(
        "INSERT INTO status_notices (subscriber_id, event_seq, part, kind, status_incident_id,
         status_update_id, component_id, old_status, new_status, status, attempts, run_at,
         created_at)
         SELECT s.id, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $10
         FROM status_subscribers s
         WHERE s.page_id = $1 AND s.confirmed_at IS NOT NULL AND ($11 = '' OR s.kind = $11)
         AND (s.all_components OR EXISTS (
             SELECT 1 FROM status_subscriber_components sc WHERE sc.subscriber_id = s.id
             AND (sc.component_id = $7 OR sc.component_id IN (
                 SELECT component_id FROM status_incident_components
                 WHERE status_incident_id = $5))))
         ON CONFLICT DO NOTHING",
    )
    .bind(db_id(a.page))
    .bind(a.event_seq)
    .bind(a.part)
    .bind(a.kind.as_str())
    .bind(a.incident.map(db_id))
    .bind(a.update.map(db_id))
    .bind(component.map(db_id))
    .bind(old)
    .bind(new)
    .bind(to_millis(a.at))
    .bind(a.only.map_or("", SubscriberKind::as_str))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?
    .rows_affected();
    Ok(n)
}

/// Queues a confirmation or manage-link notice for one subscriber.
async fn queue_mail(
    tx: &mut Transaction<'_, Db>,
    s: &Subscriber,
    kind: NoticeKind,
    seq: i64,
    at: Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO status_notices (subscriber_id, event_seq, part, kind, status, attempts,
         run_at, created_at) VALUES ($1, $2, '', $3, 'pending', 0, $4, $4)",
    )
    .bind(db_id(s.id))
    .bind(seq)
    .bind(kind.as_str())
    .bind(to_millis(at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    sqlx::query("UPDATE status_subscribers SET mailed_at = $2 WHERE id = $1")
        .bind(db_id(s.id))
        .bind(to_millis(at))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl SubscriberStore for DbStore {
    async fn subscribe(
        &self,
        s: Subscriber,
        mailed_after: Timestamp,
        mut e: NewEvent,
    ) -> StoreResult<SignUp> {
        let mut tx = self.write_tx().await?;
        let found = sqlx::query(concat!(
            "SELECT * FROM status_subscribers WHERE page_id = $1 AND kind = $2 AND address = $3",
            for_update!()
        ))
        .bind(db_id(s.page_id))
        .bind(s.kind.as_str())
        .bind(&s.address)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .map(|r| subscriber_from(&r))
        .transpose()?;
        if let Some(old) = found {
            let old = with_components(&mut *tx, vec![old]).await?.remove(0);
            if old.kind == SubscriberKind::Webhook {
                return Err(StoreError::Conflict {
                    constraint: "status_subscribers_address".into(),
                });
            }
            if old.mailed_at.is_some_and(|t| t > mailed_after) {
                return Ok(SignUp::TooSoon(old));
            }
            e.kind = EventKind::StatusSubscriberMailed;
            e.data["subscriber"] = json!(old.id);
            let seq = insert_event(&mut tx, &e).await?;
            let kind = match old.confirmed_at {
                Some(_) => NoticeKind::Manage,
                None => NoticeKind::Confirm,
            };
            queue_mail(&mut tx, &old, kind, seq, e.at).await?;
            tx.commit().await.map_err(map_err)?;
            return Ok(SignUp::Mailed(self.subscriber(old.id).await?));
        }
        sqlx::query(
            "INSERT INTO status_subscribers (id, page_id, kind, address, all_components,
             confirmed_at, nonce, mailed_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9)",
        )
        .bind(db_id(s.id))
        .bind(db_id(s.page_id))
        .bind(s.kind.as_str())
        .bind(&s.address)
        .bind(s.all_components)
        .bind(s.confirmed_at.map(to_millis))
        .bind(&s.nonce)
        .bind(to_millis(s.created_at))
        .bind(to_millis(s.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        set_components(&mut tx, &s).await?;
        let seq = insert_event(&mut tx, &e).await?;
        if s.confirmed_at.is_none() {
            queue_mail(&mut tx, &s, NoticeKind::Confirm, seq, e.at).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(SignUp::Created(self.subscriber(s.id).await?))
    }

    async fn subscriber(&self, id: SubscriberId) -> StoreResult<Subscriber> {
        let row = sqlx::query("SELECT * FROM status_subscribers WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(self.reader())
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        Ok(with_components(self.reader(), vec![subscriber_from(&row)?])
            .await?
            .remove(0))
    }

    async fn list_subscribers(&self, page: StatusPageId) -> StoreResult<Vec<Subscriber>> {
        let subs = sqlx::query(
            "SELECT * FROM status_subscribers WHERE page_id = $1 ORDER BY created_at, id",
        )
        .bind(db_id(page))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .iter()
        .map(subscriber_from)
        .collect::<StoreResult<Vec<_>>>()?;
        with_components(self.reader(), subs).await
    }

    async fn confirm_subscriber(
        &self,
        id: SubscriberId,
        now: Timestamp,
        e: NewEvent,
    ) -> StoreResult<Subscriber> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE status_subscribers SET confirmed_at = $2, updated_at = $2
             WHERE id = $1 AND confirmed_at IS NULL",
        )
        .bind(db_id(id))
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 1 {
            insert_event(&mut tx, &e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        self.subscriber(id).await
    }

    async fn update_subscriber(&self, s: Subscriber, e: NewEvent) -> StoreResult<Subscriber> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE status_subscribers SET all_components = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(db_id(s.id))
        .bind(s.all_components)
        .bind(to_millis(s.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        set_components(&mut tx, &s).await?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        self.subscriber(s.id).await
    }

    async fn delete_subscriber(&self, id: SubscriberId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM status_subscribers WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn prune_subscribers(&self, before: Timestamp) -> StoreResult<u64> {
        Ok(sqlx::query(
            "DELETE FROM status_subscribers WHERE confirmed_at IS NULL AND created_at < $1",
        )
        .bind(to_millis(before))
        .execute(self.writer())
        .await
        .map_err(map_err)?
        .rows_affected())
    }

    async fn remind_maintenance(&self, id: StatusIncidentId, e: NewEvent) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let page: Option<DbUuid> = sqlx::query_scalar(
            "UPDATE status_incidents SET reminded = $2
             WHERE id = $1 AND maintenance AND NOT reminded AND status = 'scheduled'
             RETURNING page_id",
        )
        .bind(db_id(id))
        .bind(true)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(page) = page else {
            return Ok(false);
        };
        let seq = insert_event(&mut tx, &e).await?;
        queue(
            &mut tx,
            &About {
                page: id_from(page)?,
                event_seq: seq,
                kind: NoticeKind::Reminder,
                part: "",
                incident: Some(id),
                update: None,
                change: None,
                only: Some(SubscriberKind::Email),
                at: e.at,
            },
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn claim_notices(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedNotice>> {
        // Most rounds have nothing to send: find that out without the write lock.
        if sqlx::query(
            "SELECT 1 FROM status_notices
             WHERE status IN ('pending', 'sending') AND run_at <= $1 LIMIT 1",
        )
        .bind(to_millis(now))
        .fetch_optional(self.reader())
        .await
        .map_err(map_err)?
        .is_none()
        {
            return Ok(Vec::new());
        }
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(concat!(
            "UPDATE status_notices SET status = 'sending', run_at = $2, attempts = attempts + 1
             WHERE (subscriber_id, event_seq, part) IN (
                 SELECT n.subscriber_id, n.event_seq, n.part FROM status_notices n
                 WHERE n.status IN ('pending', 'sending') AND n.run_at <= $1
                 AND NOT EXISTS (SELECT 1 FROM status_notices e
                     WHERE e.subscriber_id = n.subscriber_id
                     AND e.status IN ('pending', 'sending')
                     AND (e.event_seq < n.event_seq
                          OR (e.event_seq = n.event_seq AND e.part < n.part)))
                 ORDER BY n.run_at, n.event_seq LIMIT $3",
            skip_locked!("n"),
            ")
             RETURNING *",
        ))
        .bind(to_millis(now))
        .bind(to_millis(until))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let mut out = Vec::new();
        for row in &rows {
            let notice = notice_from(row)?;
            let sub = sqlx::query("SELECT * FROM status_subscribers WHERE id = $1")
                .bind(db_id(notice.subscriber_id))
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
            let subscriber = with_components(&mut *tx, vec![subscriber_from(&sub)?])
                .await?
                .remove(0);
            out.push(ClaimedNotice { notice, subscriber });
        }
        tx.commit().await.map_err(map_err)?;
        out.sort_by_key(|c| (c.notice.event_seq, c.notice.part.clone()));
        Ok(out)
    }

    async fn finish_notice(
        &self,
        n: &Notice,
        outcome: DeliveryOutcome,
        now: Timestamp,
    ) -> StoreResult<()> {
        let (status, run_at, error, sent_at) = match outcome {
            DeliveryOutcome::Sent { .. } => ("sent", now, None, Some(now)),
            DeliveryOutcome::Retry { at, error, .. } => ("pending", at, Some(error), None),
            DeliveryOutcome::Failed { error, .. } => ("failed", now, Some(error), None),
        };
        sqlx::query(
            "UPDATE status_notices SET status = $4, run_at = $5, last_error = $6, sent_at = $7
             WHERE subscriber_id = $1 AND event_seq = $2 AND part = $3 AND status = 'sending'",
        )
        .bind(db_id(n.subscriber_id))
        .bind(n.event_seq)
        .bind(&n.part)
        .bind(status)
        .bind(to_millis(run_at))
        .bind(error)
        .bind(sent_at.map(to_millis))
        .execute(self.writer())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_notices(&self, id: SubscriberId, limit: u32) -> StoreResult<Vec<Notice>> {
        sqlx::query(
            "SELECT * FROM status_notices WHERE subscriber_id = $1
             ORDER BY event_seq DESC, part DESC LIMIT $2",
        )
        .bind(db_id(id))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .iter()
        .map(notice_from)
        .collect()
    }
}
