//! Outgoing webhooks: the webhooks, fan-out of incident events into deliveries, and the
//! deliveries' lease and outcome.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{DeliveryId, IncidentId, WebhookId};
use klaxon_store::*;

use super::alerts::incident_from;
use super::engine::{event_from, insert_event};
use super::*;

fn webhook_from(row: &DbRow) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: get_id(row, "id")?,
        name: get(row, "name")?,
        url: get(row, "url")?,
        secret: get(row, "secret")?,
        events: from_json(row, "events")?,
        enabled: get(row, "enabled")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn delivery_from(row: &DbRow) -> StoreResult<WebhookDelivery> {
    let status: String = get(row, "status")?;
    Ok(WebhookDelivery {
        id: get_id(row, "id")?,
        webhook_id: get_id(row, "webhook_id")?,
        event_seq: get(row, "event_seq")?,
        kind: get(row, "kind")?,
        payload: get_json(row, "payload")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt("delivery status", &status))?,
        attempts: get::<i64>(row, "attempts")?.try_into().unwrap_or(u32::MAX),
        run_at: get_ts(row, "run_at")?,
        last_error: get(row, "last_error")?,
        response_status: get::<Option<i64>>(row, "response_status")?
            .and_then(|s| u16::try_from(s).ok()),
        created_at: get_ts(row, "created_at")?,
        sent_at: get_opt_ts(row, "sent_at")?,
    })
}

#[async_trait]
impl WebhookStore for DbStore {
    async fn create_webhook(&self, w: Webhook, e: NewEvent) -> StoreResult<Webhook> {
        let mut tx = self.write_tx().await?;
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO webhooks (id, name, url, secret, events, enabled, cursor_seq, start_seq,
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)",
        )
        .bind(db_id(w.id))
        .bind(&w.name)
        .bind(&w.url)
        .bind(&w.secret)
        .bind(json(&w.events))
        .bind(w.enabled)
        .bind(seq)
        .bind(to_millis(w.created_at))
        .bind(to_millis(w.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(w)
    }

    async fn webhook(&self, id: WebhookId) -> StoreResult<Webhook> {
        let row = sqlx::query("SELECT * FROM webhooks WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(self.reader())
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        webhook_from(&row)
    }

    async fn webhooks_named(&self, name: &str) -> StoreResult<Vec<(WebhookId, String)>> {
        let sql = "SELECT id, name FROM webhooks WHERE lower(name) = lower($1)";
        named(self.reader(), sql, name, get_id::<WebhookId>).await
    }

    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        sqlx::query("SELECT * FROM webhooks ORDER BY name")
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?
            .iter()
            .map(webhook_from)
            .collect()
    }

    async fn update_webhook(&self, w: Webhook, e: NewEvent) -> StoreResult<Webhook> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(concat!(
            "UPDATE webhooks SET name = $2, url = $3, events = $4, enabled = $5, updated_at = $6,
             cursor_seq = CASE WHEN NOT enabled AND $5 THEN (SELECT COALESCE(MAX(seq), 0) FROM events)
                               ELSE cursor_seq END,
             start_seq = CASE WHEN NOT enabled AND $5 THEN (SELECT COALESCE(MAX(seq), 0) FROM events)
                              WHEN events ", is_distinct!(), " $4 THEN cursor_seq
                              ELSE start_seq END
             WHERE id = $1",
        ))
        .bind(db_id(w.id))
        .bind(&w.name)
        .bind(&w.url)
        .bind(json(&w.events))
        .bind(w.enabled)
        .bind(to_millis(w.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        self.webhook(w.id).await
    }

    async fn delete_webhook(&self, id: WebhookId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM webhooks WHERE id = $1")
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

    async fn fan_out_webhooks(
        &self,
        now: Timestamp,
        limit: u32,
        how: &FanOut<'_>,
    ) -> StoreResult<FanOutReport> {
        // Most rounds have nothing to do: find that out without taking the write lock, with two
        // index lookups (a bound value, so the events table is searched by key, not scanned).
        let least: Option<i64> =
            sqlx::query_scalar("SELECT MIN(cursor_seq) FROM webhooks WHERE enabled")
                .fetch_one(self.reader())
                .await
                .map_err(map_err)?;
        let Some(least) = least else {
            return Ok(FanOutReport::default());
        };
        if sqlx::query("SELECT 1 FROM events WHERE seq > $1 LIMIT 1")
            .bind(least)
            .fetch_optional(self.reader())
            .await
            .map_err(map_err)?
            .is_none()
        {
            return Ok(FanOutReport::default());
        }
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(concat!(
            "SELECT * FROM webhooks WHERE enabled ORDER BY id",
            for_update!()
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let mut queued = 0;
        let mut more = false;
        for row in &rows {
            let w = webhook_from(row)?;
            let cursor: i64 = get(row, "cursor_seq")?;
            let fresh = sqlx::query(
                "SELECT e.seq, e.subject_type, e.subject_id, e.at, e.actor, e.kind, e.data, e.pinned
                 FROM events e WHERE e.seq > $1 ORDER BY e.seq LIMIT $2",
            )
            .bind(cursor)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?
            .iter()
            .map(event_from)
            .collect::<StoreResult<Vec<_>>>()?;
            let fresh_count = fresh.len();
            // Events committed late behind the cursor (PostgreSQL), then the new ones.
            let mut events: Vec<Event> = late_events(&mut tx, &w, row, cursor).await?;
            events.extend(fresh);
            let mut last = cursor;
            more |= fresh_count == limit as usize;
            for e in &events {
                last = last.max(e.seq);
                if e.subject_type != klaxon_domain::event::SubjectType::Incident
                    || !(how.wants)(&w, e)
                {
                    continue;
                }
                // The incident as it is now, for the payload (`None` when it is gone).
                let incident = match e.subject_id.parse::<IncidentId>() {
                    Ok(id) => sqlx::query("SELECT * FROM incidents WHERE id = $1")
                        .bind(db_id(id))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_err)?
                        .map(|r| incident_from(&r))
                        .transpose()?,
                    Err(_) => None,
                };
                let payload = (how.payload)(&w, e, incident.as_ref());
                let n = sqlx::query(
                    "INSERT INTO webhook_deliveries (id, webhook_id, event_seq, kind, payload,
                     status, attempts, run_at, created_at)
                     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)
                     ON CONFLICT (webhook_id, event_seq) DO NOTHING",
                )
                .bind(db_id((how.new_id)()))
                .bind(db_id(w.id))
                .bind(e.seq)
                .bind(e.kind.as_str())
                .bind(json(&payload))
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
                queued += u32::try_from(n).unwrap_or(0);
            }
            if last > cursor {
                sqlx::query("UPDATE webhooks SET cursor_seq = $2 WHERE id = $1")
                    .bind(db_id(w.id))
                    .bind(last)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(FanOutReport { queued, more })
    }

    async fn claim_webhook_deliveries(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        if sqlx::query(
            "SELECT 1 FROM webhook_deliveries
             WHERE status IN ('pending', 'sending') AND run_at <= $1
             AND webhook_id IN (SELECT id FROM webhooks WHERE enabled) LIMIT 1",
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
        let rows =
            sqlx::query(concat!(
            "UPDATE webhook_deliveries SET status = 'sending', run_at = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM webhook_deliveries
                          WHERE status IN ('pending', 'sending') AND run_at <= $1
                          AND webhook_id IN (SELECT id FROM webhooks WHERE enabled)
                          ORDER BY run_at, event_seq LIMIT $3", skip_locked!(), ")
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
            let delivery = delivery_from(row)?;
            let hook = sqlx::query("SELECT url, secret FROM webhooks WHERE id = $1")
                .bind(db_id(delivery.webhook_id))
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
            out.push(ClaimedDelivery {
                url: get(&hook, "url")?,
                secret: get(&hook, "secret")?,
                delivery,
            });
        }
        tx.commit().await.map_err(map_err)?;
        Ok(out)
    }

    async fn finish_webhook_delivery(
        &self,
        id: DeliveryId,
        outcome: DeliveryOutcome,
        now: Timestamp,
    ) -> StoreResult<()> {
        let (status, run_at, error, code, sent_at) = match outcome {
            DeliveryOutcome::Sent { status } => ("sent", now, None, Some(status), Some(now)),
            DeliveryOutcome::Retry { at, error, status } => {
                ("pending", at, Some(error), status, None)
            }
            DeliveryOutcome::Failed { error, status } => ("failed", now, Some(error), status, None),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $2, run_at = $3, last_error = $4,
             response_status = $5, sent_at = $6 WHERE id = $1 AND status = 'sending'",
        )
        .bind(db_id(id))
        .bind(status)
        .bind(to_millis(run_at))
        .bind(error)
        .bind(code.map(i64::from))
        .bind(sent_at.map(to_millis))
        .execute(self.writer())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_webhook_deliveries(
        &self,
        webhook: WebhookId,
        before_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        self.webhook(webhook).await?;
        sqlx::query(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = $1
             AND ($3 IS NULL OR event_seq < $3)
             ORDER BY event_seq DESC LIMIT $2",
        )
        .bind(db_id(webhook))
        .bind(i64::from(limit))
        .bind(before_seq)
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .iter()
        .map(delivery_from)
        .collect()
    }
}
