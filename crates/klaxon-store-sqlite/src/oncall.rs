//! Escalation policies, contact methods, notification rules and the notification outbox on
//! SQLite.
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::contact::NotificationStatus;
use klaxon_domain::event::{EventKind, NewEvent};
use klaxon_domain::ids::{
    ContactMethodId, EscalationPolicyId, IncidentId, NotificationId, NotificationRuleId, UserId,
};
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::*;
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};

use super::{
    SqliteStore, corrupt, fk_not_found, get, get_id, get_json, get_opt_ts, get_parsed, get_ts,
    get_u32, insert_event, map_err, opt_id, page,
};

fn policy_from(row: &SqliteRow) -> StoreResult<EscalationPolicy> {
    let plan = get_json(row, "plan")?;
    Ok(EscalationPolicy {
        id: get_id(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        plan: serde_json::from_value(plan.clone())
            .map_err(|_| corrupt("plan", &plan.to_string()))?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn method_from(row: &SqliteRow) -> StoreResult<ContactMethod> {
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

fn rule_from(row: &SqliteRow) -> StoreResult<NotificationRule> {
    Ok(NotificationRule {
        id: get_id(row, "id")?,
        user_id: get_id(row, "user_id")?,
        contact_method_id: get_id(row, "contact_method_id")?,
        delay_minutes: get_u32(row, "delay_minutes")?,
        urgency: get_parsed(row, "urgency")?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn notification_from(row: &SqliteRow) -> StoreResult<Notification> {
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

pub(crate) async fn insert_notification(
    tx: &mut Transaction<'_, Sqlite>,
    n: &NewNotification,
) -> StoreResult<bool> {
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, incident_id, user_id, contact_method_id, kind, address,
         dedup_key, payload, status, run_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)
         ON CONFLICT (dedup_key) DO NOTHING",
    )
    .bind(n.id.to_string())
    .bind(n.incident_id.map(|i| i.to_string()))
    .bind(n.user_id.to_string())
    .bind(n.contact_method_id.map(|c| c.to_string()))
    .bind(n.kind.as_str())
    .bind(&n.address)
    .bind(&n.dedup_key)
    .bind(n.payload.to_string())
    .bind(to_millis(n.run_at))
    .bind(to_millis(n.created_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?
    .rows_affected();
    Ok(inserted == 1)
}

/// `NotFound` unless every user and schedule the plan pages exists.
async fn check_targets(tx: &mut Transaction<'_, Sqlite>, p: &EscalationPolicy) -> StoreResult<()> {
    crate::sql::schedules::check_plan_schedules(tx, &p.plan).await?;
    for user in p.plan.users() {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1")
            .bind(user.to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_err)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

async fn set_status(
    tx: &mut Transaction<'_, Sqlite>,
    n: &Notification,
    status: NotificationStatus,
    error: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE notifications SET status = $2, last_error = COALESCE($3, last_error) WHERE id = $1",
    )
    .bind(n.id.to_string())
    .bind(status.as_str())
    .bind(error)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn do_create_escalation_policy(
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
        .bind(p.id.to_string())
        .bind(&p.name)
        .bind(&p.description)
        .bind(serde_json::to_string(&p.plan).unwrap_or_default())
        .bind(to_millis(p.created_at))
        .bind(to_millis(p.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(p)
    }

    pub(crate) async fn do_escalation_policy(
        &self,
        id: EscalationPolicyId,
    ) -> StoreResult<EscalationPolicy> {
        let row = sqlx::query("SELECT * FROM escalation_policies WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        policy_from(&row)
    }

    pub(crate) async fn do_list_escalation_policies(
        &self,
        after: Option<EscalationPolicyId>,
        limit: u32,
    ) -> StoreResult<Page<EscalationPolicy, EscalationPolicyId>> {
        let rows = sqlx::query(
            "SELECT * FROM escalation_policies WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after.map(|a| a.to_string()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        let items = rows
            .iter()
            .map(policy_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, limit, |p| p.id))
    }

    pub(crate) async fn do_update_escalation_policy(
        &self,
        p: EscalationPolicy,
        e: NewEvent,
    ) -> StoreResult<EscalationPolicy> {
        let mut tx = self.write_tx().await?;
        check_targets(&mut tx, &p).await?;
        let n = sqlx::query(
            "UPDATE escalation_policies SET name = $2, description = $3, plan = $4,
             updated_at = $5 WHERE id = $1",
        )
        .bind(p.id.to_string())
        .bind(&p.name)
        .bind(&p.description)
        .bind(serde_json::to_string(&p.plan).unwrap_or_default())
        .bind(to_millis(p.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query("SELECT * FROM escalation_policies WHERE id = $1")
            .bind(p.id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        policy_from(&row)
    }

    pub(crate) async fn do_delete_escalation_policy(
        &self,
        id: EscalationPolicyId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let used: i64 = get(
            &sqlx::query("SELECT COUNT(*) AS n FROM services WHERE escalation_policy_id = $1")
                .bind(id.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?,
            "n",
        )?;
        if used > 0 {
            return Err(StoreError::Conflict {
                constraint: "escalation_policy_in_use".into(),
            });
        }
        let n = sqlx::query("DELETE FROM escalation_policies WHERE id = $1")
            .bind(id.to_string())
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

    pub(crate) async fn do_create_contact_method(
        &self,
        m: ContactMethod,
        e: NewEvent,
    ) -> StoreResult<ContactMethod> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO contact_methods (id, user_id, kind, label, address, secret, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(m.id.to_string())
        .bind(m.user_id.to_string())
        .bind(m.kind.as_str())
        .bind(&m.label)
        .bind(&m.address)
        .bind(&m.secret)
        .bind(to_millis(m.created_at))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(m)
    }

    pub(crate) async fn do_contact_method(
        &self,
        id: ContactMethodId,
    ) -> StoreResult<ContactMethod> {
        let row = sqlx::query("SELECT * FROM contact_methods WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        method_from(&row)
    }

    pub(crate) async fn do_list_contact_methods(
        &self,
        user: UserId,
    ) -> StoreResult<Vec<ContactMethod>> {
        let rows = sqlx::query("SELECT * FROM contact_methods WHERE user_id = $1 ORDER BY id")
            .bind(user.to_string())
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        rows.iter().map(method_from).collect()
    }

    pub(crate) async fn do_update_contact_method(
        &self,
        m: ContactMethod,
        e: NewEvent,
    ) -> StoreResult<ContactMethod> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("UPDATE contact_methods SET label = $2, address = $3 WHERE id = $1")
            .bind(m.id.to_string())
            .bind(&m.label)
            .bind(&m.address)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query("SELECT * FROM contact_methods WHERE id = $1")
            .bind(m.id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        method_from(&row)
    }

    pub(crate) async fn do_delete_contact_method(
        &self,
        id: ContactMethodId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM contact_methods WHERE id = $1")
            .bind(id.to_string())
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

    pub(crate) async fn do_create_notification_rule(
        &self,
        r: NotificationRule,
        e: NewEvent,
    ) -> StoreResult<NotificationRule> {
        let mut tx = self.write_tx().await?;
        // The method must be the same user's: nobody routes their pages to someone else's phone.
        let owner: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM contact_methods WHERE id = $1")
                .bind(r.contact_method_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        if owner.as_deref() != Some(r.user_id.to_string().as_str()) {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO notification_rules (id, user_id, contact_method_id, delay_minutes,
             urgency, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(r.id.to_string())
        .bind(r.user_id.to_string())
        .bind(r.contact_method_id.to_string())
        .bind(i64::from(r.delay_minutes))
        .bind(r.urgency.as_str())
        .bind(to_millis(r.created_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(r)
    }

    pub(crate) async fn do_list_notification_rules(
        &self,
        user: UserId,
    ) -> StoreResult<Vec<NotificationRule>> {
        let rows = sqlx::query(
            "SELECT * FROM notification_rules WHERE user_id = $1 ORDER BY delay_minutes, id",
        )
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(rule_from).collect()
    }

    pub(crate) async fn do_delete_notification_rule(
        &self,
        user: UserId,
        id: NotificationRuleId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM notification_rules WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(user.to_string())
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

    pub(crate) async fn do_apply_escalation_step(&self, s: EscalationStep) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        // Acknowledged or resolved since the engine looked: the escalation is over.
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM incidents WHERE id = $1")
                .bind(s.incident_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        match status.as_deref() {
            None => return Err(StoreError::NotFound),
            Some("triggered") => {}
            Some(_) => return Ok(false),
        }
        let first = sqlx::query(
            "INSERT INTO escalation_steps (incident_id, step, at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(s.incident_id.to_string())
        .bind(i64::from(s.step))
        .bind(to_millis(s.at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected()
            == 1;
        if !first {
            return Ok(false);
        }
        for n in &s.notifications {
            insert_notification(&mut tx, n).await?;
        }
        for e in &s.events {
            insert_event(&mut tx, e).await?;
        }
        if let Some(job) = &s.next {
            super::insert_job(&mut tx, job).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn do_queue_notification(
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
            .bind(n.id.to_string())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        notification_from(&row)
    }

    pub(crate) async fn do_claim_notifications(
        &self,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Claimed> {
        let mut tx = self.write_tx().await?;
        let mut claimed = Claimed::default();
        let moot = sqlx::query(
            "SELECT n.* FROM notifications n LEFT JOIN incidents i ON i.id = n.incident_id
             JOIN users u ON u.id = n.user_id
             WHERE n.status = 'pending'
             AND (u.deactivated_at IS NOT NULL
                  OR (i.status <> 'triggered'
                      AND NOT (n.dedup_key LIKE 'responder:%'
                               AND i.status NOT IN ('resolved', 'closed'))
                      AND n.dedup_key NOT LIKE 'update:%'))",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        for row in &moot {
            let n = notification_from(row)?;
            set_status(&mut tx, &n, NotificationStatus::Cancelled, None).await?;
            let e = notification_event(&n, now, EventKind::NotificationCancelled, json!({}));
            insert_event(&mut tx, &e).await?;
            claimed.cancelled += 1;
        }
        let abandoned =
            sqlx::query("SELECT * FROM notifications WHERE status = 'sending' AND run_at <= $1")
                .bind(to_millis(now))
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
        for row in &abandoned {
            let n = notification_from(row)?;
            let error = "outcome unknown: the sender stopped while sending; not resent";
            set_status(&mut tx, &n, NotificationStatus::Failed, Some(error)).await?;
            let e = notification_event(
                &n,
                now,
                EventKind::NotificationFailed,
                json!({"error": error}),
            );
            insert_event(&mut tx, &e).await?;
            claimed.abandoned += 1;
        }
        let due = sqlx::query(
            "UPDATE notifications SET status = 'sending', attempts = attempts + 1, run_at = $2
             WHERE id IN (SELECT id FROM notifications WHERE status = 'pending' AND run_at <= $1
                          ORDER BY run_at, id LIMIT $3)
             RETURNING *",
        )
        .bind(to_millis(now))
        .bind(to_millis(until))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        claimed.due = due
            .iter()
            .map(notification_from)
            .collect::<StoreResult<_>>()?;
        claimed.due.sort_by_key(|n| (n.created_at, n.id));
        tx.commit().await.map_err(map_err)?;
        Ok(claimed)
    }

    pub(crate) async fn do_finish_notification(
        &self,
        id: NotificationId,
        result: SendResult,
        e: NewEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let q = match &result {
            SendResult::Sent { at } => sqlx::query(
                "UPDATE notifications SET status = 'sent', sent_at = $2, last_error = NULL
                 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id.to_string())
            .bind(to_millis(*at)),
            SendResult::Retry { at, error } => sqlx::query(
                "UPDATE notifications SET status = 'pending', run_at = $2, last_error = $3
                 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id.to_string())
            .bind(to_millis(*at))
            .bind(error.clone()),
            SendResult::Failed { error } => sqlx::query(
                "UPDATE notifications SET status = 'failed', last_error = $2
                 WHERE id = $1 AND status = 'sending'",
            )
            .bind(id.to_string())
            .bind(error.clone()),
        };
        let n = q.execute(&mut *tx).await.map_err(map_err)?.rows_affected();
        if n == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn do_defer_notification(
        &self,
        id: NotificationId,
        until: Timestamp,
        e: NewEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE notifications SET status = 'pending', run_at = $2,
             attempts = MAX(attempts - 1, 0) WHERE id = $1 AND status = 'sending'",
        )
        .bind(id.to_string())
        .bind(to_millis(until))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn do_last_sent(
        &self,
        methods: &[ContactMethodId],
    ) -> StoreResult<Vec<(ContactMethodId, Timestamp)>> {
        if methods.is_empty() {
            return Ok(Vec::new());
        }
        let ids =
            serde_json::Value::from(methods.iter().map(|m| m.to_string()).collect::<Vec<_>>());
        let rows = sqlx::query(
            "SELECT contact_method_id, MAX(sent_at) AS last FROM notifications
             WHERE contact_method_id IN (SELECT value FROM json_each($1))
             AND status = 'sent' AND sent_at IS NOT NULL
             AND dedup_key NOT LIKE 'update:%' GROUP BY contact_method_id",
        )
        .bind(ids.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((get_id(r, "contact_method_id")?, get_ts(r, "last")?)))
            .collect()
    }

    pub(crate) async fn do_notification(&self, id: NotificationId) -> StoreResult<Notification> {
        let row = sqlx::query("SELECT * FROM notifications WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        notification_from(&row)
    }

    pub(crate) async fn do_list_notifications(
        &self,
        incident: Option<IncidentId>,
        user: Option<UserId>,
        after: Option<NotificationId>,
        limit: u32,
    ) -> StoreResult<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT * FROM notifications WHERE ($1 IS NULL OR incident_id = $1)
             AND ($2 IS NULL OR user_id = $2)
             AND ($4 IS NULL
                  OR (created_at, id) > (SELECT created_at, id FROM notifications WHERE id = $4))
             ORDER BY created_at, id LIMIT $3",
        )
        .bind(incident.map(|i| i.to_string()))
        .bind(user.map(|u| u.to_string()))
        .bind(i64::from(limit))
        .bind(after.map(|a| a.to_string()))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(notification_from).collect()
    }

    pub(crate) async fn do_escalate_incident(
        &self,
        id: IncidentId,
        at: Timestamp,
        job_id: klaxon_domain::ids::JobId,
        e: NewEvent,
    ) -> StoreResult<u32> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT i.status, s.escalation_policy_id FROM incidents i
             LEFT JOIN services s ON s.id = i.service_id WHERE i.id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let status: IncidentStatus = get_parsed(&row, "status")?;
        if !matches!(
            status,
            IncidentStatus::Triggered | IncidentStatus::Acknowledged
        ) {
            return Err(StoreError::Conflict {
                constraint: "incident_status".into(),
            });
        }
        if get::<Option<String>>(&row, "escalation_policy_id")?.is_none() {
            return Err(StoreError::Conflict {
                constraint: "no_escalation_policy".into(),
            });
        }
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(step) FROM escalation_steps WHERE incident_id = $1")
                .bind(id.to_string())
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
            super::insert_job(&mut tx, &job).await?;
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(next)
    }

    pub(crate) async fn do_reassign_incident(
        &self,
        id: IncidentId,
        pages: Vec<NewNotification>,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let status: String = sqlx::query_scalar("SELECT status FROM incidents WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        let status: IncidentStatus = status.parse().map_err(|_| corrupt("status", &status))?;
        if !matches!(
            status,
            IncidentStatus::Triggered | IncidentStatus::Acknowledged
        ) {
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
async fn retrigger(tx: &mut Transaction<'_, Sqlite>, id: IncidentId) -> StoreResult<()> {
    sqlx::query("UPDATE incidents SET status = 'triggered', acknowledged_at = NULL WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    sqlx::query(
        "UPDATE alerts SET status = 'triggered', acknowledged_at = NULL
         WHERE incident_id = $1 AND status = 'acknowledged'",
    )
    .bind(id.to_string())
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}
