//! Escalation policies, contact methods, notification rules and the notification outbox.
//!
//! Several Klaxon processes may share a PostgreSQL database: notifications are claimed with
//! `FOR UPDATE SKIP LOCKED` (two senders never hold the same one), an escalation step is written
//! at most once by its marker row's primary key, and whatever changes an incident's status locks
//! its service's row and then its own, the order the signal path takes them in. On SQLite the one
//! writer holds the write lock instead.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{EventKind, NewEvent};
use klaxon_domain::ids::{
    ContactMethodId, EscalationPolicyId, IncidentId, NotificationId, NotificationRuleId, UserId,
};
use klaxon_domain::incident::IncidentStatus;
use klaxon_domain::reach::PersonFacts;
use klaxon_store::*;
use serde_json::json;
use sqlx::Transaction;

use super::engine::{insert_event, insert_job};
use super::oncall_rules::{check_rule_method, insert_rule, reach_people, rule_from, same_rule};
use super::*;

/// What a sender that stopped mid-send leaves behind: it may or may not have gone out.
const ABANDONED: &str = "outcome unknown: the sender stopped while sending; not resent";

fn policy_from(row: &DbRow) -> StoreResult<EscalationPolicy> {
    Ok(EscalationPolicy {
        id: get_id(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        plan: from_json(row, "plan")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn method_from(row: &DbRow) -> StoreResult<ContactMethod> {
    Ok(ContactMethod {
        id: get_id(row, "id")?,
        user_id: get_id(row, "user_id")?,
        kind: get_parsed(row, "kind")?,
        label: get(row, "label")?,
        address: get(row, "address")?,
        secret: get(row, "secret")?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn notification_from(row: &DbRow) -> StoreResult<Notification> {
    Ok(Notification {
        id: get_id(row, "id")?,
        incident_id: opt_id(row, "incident_id")?,
        user_id: get_id(row, "user_id")?,
        contact_method_id: opt_id(row, "contact_method_id")?,
        kind: get_parsed(row, "kind")?,
        address: get(row, "address")?,
        dedup_key: get(row, "dedup_key")?,
        payload: get_json(row, "payload")?,
        status: get_parsed(row, "status")?,
        attempts: get_u32(row, "attempts")?,
        run_at: get_ts(row, "run_at")?,
        last_error: get(row, "last_error")?,
        created_at: get_ts(row, "created_at")?,
        sent_at: get_opt_ts(row, "sent_at")?,
    })
}

fn notifications_from(rows: &[DbRow]) -> StoreResult<Vec<Notification>> {
    rows.iter().map(notification_from).collect()
}

/// The condition of the partial index notifications_due, to repeat beside `status = …`: SQLite
/// uses a partial index only for a query that states its condition (`$p` is the table's
/// prefix, `""` or `"n."`).
macro_rules! open_notification {
    ($p:literal) => {
        concat!($p, "status IN ('pending', 'sending')")
    };
}

/// `NotFound` unless every user and schedule the plan pages exists.
async fn check_targets(tx: &mut Transaction<'_, Db>, p: &EscalationPolicy) -> StoreResult<()> {
    super::schedules::check_plan_schedules(tx, &p.plan).await?;
    let users = p.plan.users().collect();
    super::schedules::check_all_exist(tx, super::schedules::USERS, users).await
}

/// Inserts a notification unless one with its dedup key exists; says whether it did.
pub(crate) async fn insert_notification(
    tx: &mut Transaction<'_, Db>,
    n: &NewNotification,
) -> StoreResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, incident_id, user_id, contact_method_id, kind, address,
         dedup_key, payload, status, run_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)
         ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(db_id(n.id))
    .bind(n.incident_id.map(db_id))
    .bind(db_id(n.user_id))
    .bind(n.contact_method_id.map(db_id))
    .bind(n.kind.as_str())
    .bind(&n.address)
    .bind(&n.dedup_key)
    .bind(json(&n.payload))
    .bind(to_millis(n.run_at))
    .bind(to_millis(n.created_at))
    .execute(&mut **tx)
    .await
    // The incident, user or contact method it names is gone.
    .map_err(fk_not_found)?
    .rows_affected();
    Ok(inserted == 1)
}

#[async_trait]
impl OnCallStore for DbStore {
    async fn create_escalation_policy(
        &self,
        p: EscalationPolicy,
        e: NewEvent,
    ) -> StoreResult<EscalationPolicy> {
        let mut tx = self.write_tx().await?;
        check_targets(&mut tx, &p).await?;
        sqlx::query(
            "INSERT INTO escalation_policies (id, name, description, plan, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(db_id(p.id))
        .bind(&p.name)
        .bind(&p.description)
        .bind(json(&p.plan))
        .bind(to_millis(p.created_at))
        .bind(to_millis(p.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(p)
    }

    async fn escalation_policy(&self, id: EscalationPolicyId) -> StoreResult<EscalationPolicy> {
        let row = sqlx::query("SELECT * FROM escalation_policies WHERE id = $1")
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        policy_from(&row)
    }

    async fn escalation_policies_named(
        &self,
        name: &str,
    ) -> StoreResult<Vec<(EscalationPolicyId, String)>> {
        let sql = "SELECT id, name FROM escalation_policies WHERE lower(name) = lower($1)";
        named(self.reader(), sql, name, get_id::<EscalationPolicyId>).await
    }

    async fn list_escalation_policies(
        &self,
        after: Option<EscalationPolicyId>,
        limit: u32,
    ) -> StoreResult<Page<EscalationPolicy, EscalationPolicyId>> {
        page_by_id(
            self.reader(),
            "SELECT * FROM escalation_policies WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
            after,
            limit,
            policy_from,
            |p| p.id,
        )
        .await
    }

    async fn update_escalation_policy(
        &self,
        p: EscalationPolicy,
        e: NewEvent,
    ) -> StoreResult<EscalationPolicy> {
        let mut tx = self.write_tx().await?;
        check_targets(&mut tx, &p).await?;
        let row = sqlx::query(
            "UPDATE escalation_policies SET name = $2, description = $3, plan = $4,
             updated_at = $5 WHERE id = $1 RETURNING *",
        )
        .bind(db_id(p.id))
        .bind(&p.name)
        .bind(&p.description)
        .bind(json(&p.plan))
        .bind(to_millis(p.updated_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        policy_from(&row)
    }

    async fn delete_escalation_policy(
        &self,
        id: EscalationPolicyId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let in_use = || StoreError::Conflict {
            constraint: "escalation_policy_in_use".into(),
        };
        let mut tx = self.write_tx().await?;
        // Locked until commit: a service taking the policy meanwhile waits for the delete and
        // then fails on the foreign key (NotFound), instead of slipping in between.
        let exists = sqlx::query(concat!(
            "SELECT id FROM escalation_policies WHERE id = $1",
            for_update!()
        ))
        .bind(db_id(id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let used: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM services WHERE escalation_policy_id = $1)",
        )
        .bind(db_id(id))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if used {
            return Err(in_use());
        }
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM escalation_policies WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(|err| match err {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => in_use(),
                err => map_err(err),
            })?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn create_contact_method(
        &self,
        m: ContactMethod,
        e: NewEvent,
        first_rules: Vec<(NotificationRule, NewEvent)>,
    ) -> StoreResult<(ContactMethod, Vec<NotificationRule>)> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO contact_methods (id, user_id, kind, label, address, secret, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(db_id(m.id))
        .bind(db_id(m.user_id))
        .bind(m.kind.as_str())
        .bind(&m.label)
        .bind(&m.address)
        .bind(&m.secret)
        .bind(to_millis(m.created_at))
        .execute(&mut *tx)
        .await
        // The only foreign key: the user does not exist.
        .map_err(fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        let mut added = Vec::new();
        if !first_rules.is_empty() {
            // Two first methods added at once must not both think they are first (and bring
            // their rules twice): the user's row is held until commit (SQLite's one writer is
            // alone anyway).
            sqlx::query(concat!(
                "SELECT id FROM users WHERE id = $1",
                for_no_key_update!()
            ))
            .bind(db_id(m.user_id))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            let has_rules: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM notification_rules WHERE user_id = $1)",
            )
            .bind(db_id(m.user_id))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
            if !has_rules {
                for (rule, rule_event) in &first_rules {
                    added.push(insert_rule(&mut tx, rule, rule_event).await?);
                }
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok((m, added))
    }

    async fn contact_method(&self, id: ContactMethodId) -> StoreResult<ContactMethod> {
        let row = sqlx::query("SELECT * FROM contact_methods WHERE id = $1")
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        method_from(&row)
    }

    async fn list_contact_methods(&self, user: UserId) -> StoreResult<Vec<ContactMethod>> {
        let rows = sqlx::query("SELECT * FROM contact_methods WHERE user_id = $1 ORDER BY id")
            .bind(db_id(user))
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?;
        rows.iter().map(method_from).collect()
    }

    async fn update_contact_method(
        &self,
        m: ContactMethod,
        e: NewEvent,
    ) -> StoreResult<ContactMethod> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "UPDATE contact_methods SET label = $2, address = $3 WHERE id = $1 RETURNING *",
        )
        .bind(db_id(m.id))
        .bind(&m.label)
        .bind(&m.address)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        method_from(&row)
    }

    async fn delete_contact_method(&self, id: ContactMethodId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Its rules go by the cascade; its notifications stay, without it.
        let n = sqlx::query("DELETE FROM contact_methods WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn create_notification_rule(
        &self,
        r: NotificationRule,
        e: NewEvent,
    ) -> StoreResult<NotificationRule> {
        let mut tx = self.write_tx().await?;
        let r = insert_rule(&mut tx, &r, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(r)
    }

    async fn update_notification_rule(
        &self,
        r: NotificationRule,
        e: NewEvent,
    ) -> StoreResult<NotificationRule> {
        let mut tx = self.write_tx().await?;
        let exists = sqlx::query(concat!(
            "SELECT id FROM notification_rules WHERE id = $1 AND user_id = $2",
            for_update!()
        ))
        .bind(db_id(r.id))
        .bind(db_id(r.user_id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        check_rule_method(&mut tx, &r).await?;
        if same_rule(&mut tx, &r).await?.is_some() {
            return Err(StoreError::Conflict {
                constraint: "notification_rules_same".into(),
            });
        }
        let row = sqlx::query(
            "UPDATE notification_rules SET contact_method_id = $3, delay_minutes = $4,
             urgency = $5 WHERE id = $1 AND user_id = $2 RETURNING *",
        )
        .bind(db_id(r.id))
        .bind(db_id(r.user_id))
        .bind(db_id(r.contact_method_id))
        .bind(i64::from(r.delay_minutes))
        .bind(r.urgency.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(fk_not_found)?
        .ok_or(StoreError::NotFound)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        rule_from(&row)
    }

    async fn reach_people(&self, users: &[UserId]) -> StoreResult<Vec<PersonFacts>> {
        reach_people(self.reader(), users).await
    }

    async fn list_notification_rules(&self, user: UserId) -> StoreResult<Vec<NotificationRule>> {
        let rows = sqlx::query(
            "SELECT * FROM notification_rules WHERE user_id = $1 ORDER BY delay_minutes, id",
        )
        .bind(db_id(user))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(rule_from).collect()
    }

    async fn delete_notification_rule(
        &self,
        user: UserId,
        id: NotificationRuleId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM notification_rules WHERE id = $1 AND user_id = $2")
            .bind(db_id(id))
            .bind(db_id(user))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn apply_escalation_step(&self, s: EscalationStep) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        // Acknowledged or resolved since the engine looked: the escalation is over. FOR SHARE
        // makes a concurrent acknowledgement wait for this step, or this step see it.
        let status: Option<String> = sqlx::query_scalar(concat!(
            "SELECT status FROM incidents WHERE id = $1",
            for_share!()
        ))
        .bind(db_id(s.incident_id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        match status.as_deref() {
            None => return Err(StoreError::NotFound),
            Some("triggered") => {}
            Some(_) => {
                tx.rollback().await.map_err(map_err)?;
                return Ok(false);
            }
        }
        // The marker's primary key makes the step once-only: a second engine writing the same
        // step waits here for the first to commit, then finds the row and writes nothing.
        let first = sqlx::query(
            "INSERT INTO escalation_steps (incident_id, step, at) VALUES ($1, $2, $3)
             ON CONFLICT (incident_id, step) DO NOTHING",
        )
        .bind(db_id(s.incident_id))
        .bind(i64::from(s.step))
        .bind(to_millis(s.at))
        .execute(&mut *tx)
        .await
        // The only foreign key: the incident does not exist.
        .map_err(fk_not_found)?
        .rows_affected()
            == 1;
        if !first {
            tx.rollback().await.map_err(map_err)?;
            return Ok(false);
        }
        for n in &s.notifications {
            insert_notification(&mut tx, n).await?;
        }
        for e in &s.events {
            insert_event(&mut tx, e).await?;
        }
        if let Some(job) = &s.next {
            insert_job(&mut tx, job).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn queue_notification(
        &self,
        n: NewNotification,
        e: NewEvent,
    ) -> StoreResult<Notification> {
        let mut tx = self.write_tx().await?;
        if !insert_notification(&mut tx, &n).await? {
            return Err(StoreError::Conflict {
                constraint: "notifications_dedup_key".into(),
            });
        }
        insert_event(&mut tx, &e).await?;
        let row = sqlx::query("SELECT * FROM notifications WHERE id = $1")
            .bind(db_id(n.id))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        notification_from(&row)
    }

    async fn claim_notifications(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Claimed> {
        let mut tx = self.write_tx().await?;
        let mut claimed = Claimed::default();
        let now_ms = to_millis(now);
        // Every step locks the rows it changes and skips those another claimer (or a sender
        // finishing) holds: each change, and its event, is made by exactly one process.
        // Each step also states `open_notification!`: SQLite uses the partial index
        // notifications_due only when the query repeats its condition, and a year of history
        // made each of these steps a scan of every notification (over a second).
        // Claimed, never begun: nothing went out, so it goes back to be sent (the claim did not
        // count as an attempt). First, so that the cancelling below sees it as pending.
        claimed.released = sqlx::query(concat!(
            "UPDATE notifications SET status = 'pending', run_at = $1, attempts = ",
            greatest!(),
            "(attempts - 1, 0)
             WHERE id IN (
                 SELECT id FROM notifications
                 WHERE status = 'sending' AND run_at <= $1 AND send_started_at IS NULL
                 AND ",
            open_notification!(""),
            "
                 ORDER BY id",
            skip_locked!(),
            ")",
        ))
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();

        let moot = sqlx::query(concat!(
            "UPDATE notifications SET status = 'cancelled'
             WHERE id IN (
                 SELECT n.id FROM notifications n LEFT JOIN incidents i ON i.id = n.incident_id
                 JOIN users u ON u.id = n.user_id
                 WHERE n.status = 'pending' AND ",
            open_notification!("n."),
            "
                 AND (u.deactivated_at IS NOT NULL
                      OR (i.status <> 'triggered'
                          AND NOT (n.dedup_key LIKE 'responder:%'
                                   AND i.status NOT IN ('resolved', 'closed'))
                          AND n.dedup_key NOT LIKE 'update:%'))
                 ORDER BY n.id",
            skip_locked!("n"),
            ")
             RETURNING *",
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let mut moot = notifications_from(&moot)?;
        moot.sort_by_key(|n| (n.created_at, n.id));
        for n in &moot {
            let e = notification_event(n, now, EventKind::NotificationCancelled, json!({}));
            insert_event(&mut tx, &e).await?;
        }
        claimed.cancelled = moot.len() as u64;

        let abandoned = sqlx::query(concat!(
            "UPDATE notifications SET status = 'failed', last_error = $2
             WHERE id IN (
                 SELECT id FROM notifications
                 WHERE status = 'sending' AND run_at <= $1 AND send_started_at IS NOT NULL
                 AND ",
            open_notification!(""),
            "
                 ORDER BY id",
            skip_locked!(),
            ")
             RETURNING *",
        ))
        .bind(now_ms)
        .bind(ABANDONED)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let mut abandoned = notifications_from(&abandoned)?;
        abandoned.sort_by_key(|n| (n.created_at, n.id));
        for n in &abandoned {
            let e = notification_event(
                n,
                now,
                EventKind::NotificationFailed,
                json!({"error": ABANDONED}),
            );
            insert_event(&mut tx, &e).await?;
        }
        claimed.abandoned = abandoned.len() as u64;

        let due = sqlx::query(concat!(
            "UPDATE notifications
             SET status = 'sending', attempts = attempts + 1, run_at = $2, send_started_at = NULL
             WHERE id IN (
                 SELECT id FROM notifications WHERE status = 'pending' AND run_at <= $1
                 AND ",
            open_notification!(""),
            "
                 ORDER BY run_at, id LIMIT $3",
            skip_locked!(),
            ")
             RETURNING *",
        ))
        .bind(now_ms)
        .bind(to_millis(until))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        claimed.due = notifications_from(&due)?;
        claimed.due.sort_by_key(|n| (n.created_at, n.id));
        tx.commit().await.map_err(map_err)?;
        Ok(claimed)
    }

    async fn finish_notification(
        &self,
        id: NotificationId,
        result: SendResult,
        e: NewEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        // `status = 'sending'` is checked under the row's lock: a claim failing it as abandoned
        // meanwhile wins or loses as a whole, never both.
        let q = match &result {
            SendResult::Sent { at } => sqlx::query(
                "UPDATE notifications SET status = 'sent', sent_at = $2, last_error = NULL
                 WHERE id = $1 AND status = 'sending'",
            )
            .bind(db_id(id))
            .bind(to_millis(*at)),
            SendResult::Retry { at, error } => sqlx::query(
                "UPDATE notifications SET status = 'pending', run_at = $2, last_error = $3
                 WHERE id = $1 AND status = 'sending'",
            )
            .bind(db_id(id))
            .bind(to_millis(*at))
            .bind(error.clone()),
            SendResult::Failed { error } => sqlx::query(
                "UPDATE notifications SET status = 'failed', last_error = $2
                 WHERE id = $1 AND status = 'sending'",
            )
            .bind(db_id(id))
            .bind(error.clone()),
        };
        let n = q.execute(&mut *tx).await.map_err(map_err)?.rows_affected();
        if n == 0 {
            tx.rollback().await.map_err(map_err)?;
            return Ok(false);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn defer_notification(
        &self,
        id: NotificationId,
        until: Timestamp,
        e: NewEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(concat!(
            "UPDATE notifications SET status = 'pending', run_at = $2, attempts = ",
            greatest!(),
            "(attempts - 1, 0) WHERE id = $1 AND status = 'sending'",
        ))
        .bind(db_id(id))
        .bind(to_millis(until))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            tx.rollback().await.map_err(map_err)?;
            return Ok(false);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn start_sending(
        &self,
        ids: &[NotificationId],
        claimed_until: Timestamp,
        at: Timestamp,
    ) -> StoreResult<bool> {
        if ids.is_empty() {
            return Ok(true);
        }
        let mut tx = self.write_tx().await?;
        // The claim's end time fences it: a later claim of the same row has a later end.
        let n = sqlx::query(concat!(
            "UPDATE notifications SET send_started_at = $3
             WHERE id ",
            in_list!("$1"),
            " AND status = 'sending' AND run_at = $2 AND run_at > $3",
        ))
        .bind(db_ids(ids))
        .bind(to_millis(claimed_until))
        .bind(to_millis(at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n != ids.len() as u64 {
            tx.rollback().await.map_err(map_err)?;
            return Ok(false);
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn last_sent(
        &self,
        methods: &[ContactMethodId],
    ) -> StoreResult<Vec<(ContactMethodId, Timestamp)>> {
        if methods.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(concat!(
            "SELECT contact_method_id, MAX(sent_at) AS last FROM notifications
             WHERE contact_method_id ",
            in_list!("$1"),
            // The condition of the partial index notifications_last_sent, stated whole.
            " AND status = 'sent' AND dedup_key NOT LIKE 'update:%' AND sent_at IS NOT NULL
             GROUP BY contact_method_id",
        ))
        .bind(db_ids(methods))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((get_id(r, "contact_method_id")?, get_ts(r, "last")?)))
            .collect()
    }

    async fn notification(&self, id: NotificationId) -> StoreResult<Notification> {
        let row = sqlx::query("SELECT * FROM notifications WHERE id = $1")
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        notification_from(&row)
    }

    async fn list_notifications(
        &self,
        incident: Option<IncidentId>,
        user: Option<UserId>,
        after: Option<NotificationId>,
        limit: u32,
    ) -> StoreResult<Vec<Notification>> {
        // One statement per filter, each led by the equality its index answers: behind
        // `$1 IS NULL OR …` alone the planner read every notification.
        macro_rules! listed {
            ($filter:literal) => {
                concat!(
                    "SELECT * FROM notifications WHERE ",
                    $filter,
                    "
                     AND ($4 IS NULL
                          OR (created_at, id) > (SELECT created_at, id FROM notifications
                                                 WHERE id = $4))
                     ORDER BY created_at, id LIMIT $3"
                )
            };
        }
        let sql = match (incident, user) {
            (Some(_), _) => listed!("incident_id = $1 AND ($2 IS NULL OR user_id = $2)"),
            (None, Some(_)) => listed!("user_id = $2 AND ($1 IS NULL OR incident_id = $1)"),
            (None, None) => {
                listed!("($1 IS NULL OR incident_id = $1) AND ($2 IS NULL OR user_id = $2)")
            }
        };
        let rows = sqlx::query(sql)
            .bind(incident.map(db_id))
            .bind(user.map(db_id))
            .bind(i64::from(limit))
            .bind(after.map(db_id))
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?;
        notifications_from(&rows)
    }

    async fn escalate_incident(
        &self,
        id: IncidentId,
        at: Timestamp,
        job_id: klaxon_domain::ids::JobId,
        e: NewEvent,
    ) -> StoreResult<u32> {
        let mut tx = self.write_tx().await?;
        // The same lock order as set_incident_status: the service's row, then the incident's.
        lock_incident_services(&mut tx, &[id]).await?;
        let row = sqlx::query(concat!(
            "SELECT i.status, s.escalation_policy_id FROM incidents i
             LEFT JOIN services s ON s.id = i.service_id WHERE i.id = $1",
            for_no_key_update!("i")
        ))
        .bind(db_id(id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let status: IncidentStatus = get_parsed(&row, "status")?;
        if !matches!(
            status,
            IncidentStatus::Triggered | IncidentStatus::Acknowledged
        ) {
            tx.rollback().await.map_err(map_err)?;
            return Err(StoreError::Conflict {
                constraint: "incident_status".into(),
            });
        }
        if opt_id::<EscalationPolicyId>(&row, "escalation_policy_id")?.is_none() {
            tx.rollback().await.map_err(map_err)?;
            return Err(StoreError::Conflict {
                constraint: "no_escalation_policy".into(),
            });
        }
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(step) FROM escalation_steps WHERE incident_id = $1")
                .bind(db_id(id))
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        let next = last.map_or(0, |s| s + 1);
        let next =
            u32::try_from(next).map_err(|_| corrupt("escalation_steps.step", &next.to_string()))?;
        if status == IncidentStatus::Acknowledged {
            retrigger(&mut tx, id).await?;
        }
        let job = escalation_job(job_id, id, next, at);
        let moved = sqlx::query(
            "UPDATE jobs SET run_at = $2 WHERE dedup_key = $1 AND dead_at IS NULL AND run_at > $2",
        )
        .bind(&job.dedup_key)
        .bind(to_millis(at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if moved == 0 {
            insert_job(&mut tx, &job).await?;
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(next)
    }

    async fn reassign_incident(
        &self,
        id: IncidentId,
        pages: Vec<NewNotification>,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // The same lock order as set_incident_status: the service's row, then the incident's.
        lock_incident_services(&mut tx, &[id]).await?;
        let status: String = sqlx::query_scalar(concat!(
            "SELECT status FROM incidents WHERE id = $1",
            for_no_key_update!()
        ))
        .bind(db_id(id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let status: IncidentStatus = status.parse().map_err(|_| corrupt("status", &status))?;
        if !matches!(
            status,
            IncidentStatus::Triggered | IncidentStatus::Acknowledged
        ) {
            tx.rollback().await.map_err(map_err)?;
            return Err(StoreError::Conflict {
                constraint: "incident_status".into(),
            });
        }
        if status == IncidentStatus::Acknowledged {
            retrigger(&mut tx, id).await?;
        }
        // The policy stops: its pending steps go ("escalate now" enqueues the next again).
        sqlx::query("DELETE FROM jobs WHERE kind = $1 AND dedup_key LIKE $2 AND dead_at IS NULL")
            .bind(klaxon_domain::escalation::STEP_JOB)
            .bind(format!("escalation:{id}:%"))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        for n in &pages {
            insert_notification(&mut tx, n).await?;
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }
}

/// Triggers an acknowledged incident again, with its acknowledged alerts.
async fn retrigger(tx: &mut Transaction<'_, Db>, id: IncidentId) -> StoreResult<()> {
    sqlx::query("UPDATE incidents SET status = 'triggered', acknowledged_at = NULL WHERE id = $1")
        .bind(db_id(id))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    sqlx::query(
        "UPDATE alerts SET status = 'triggered', acknowledged_at = NULL
         WHERE incident_id = $1 AND status = 'acknowledged'",
    )
    .bind(db_id(id))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}
