//! Incident response on SQLite: declaring, changing under the write lock, roles and pins.
use klaxon_domain::alert::AlertStatus;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::incident::Refusal;
use klaxon_store::*;
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};

use super::alerts::incident_from;
use super::{
    SqliteStore, corrupt, fk_not_found, get, get_id, get_opt_ts, get_ts, insert_event, insert_job,
    map_err,
};

fn role_from(row: &SqliteRow) -> StoreResult<RoleAssignment> {
    let actor = |col: &str| -> StoreResult<Option<Actor>> {
        get::<Option<String>>(row, col)?
            .map(|s| Actor::decode(&s).ok_or_else(|| corrupt(col, &s)))
            .transpose()
    };
    Ok(RoleAssignment {
        id: get_id(row, "id")?,
        incident_id: get_id(row, "incident_id")?,
        role: get(row, "role")?,
        user_id: get_id(row, "user_id")?,
        assigned_at: get_ts(row, "assigned_at")?,
        assigned_by: actor("assigned_by")?.ok_or_else(|| corrupt("assigned_by", "null"))?,
        ended_at: get_opt_ts(row, "ended_at")?,
        ended_by: actor("ended_by")?,
    })
}

async fn roles_in(
    tx: &mut Transaction<'_, Sqlite>,
    id: IncidentId,
) -> StoreResult<Vec<RoleAssignment>> {
    sqlx::query(
        "SELECT * FROM incident_roles WHERE incident_id = $1 AND ended_at IS NULL
         ORDER BY assigned_at, id",
    )
    .bind(id.to_string())
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?
    .iter()
    .map(role_from)
    .collect()
}

async fn insert_role(tx: &mut Transaction<'_, Sqlite>, r: &RoleAssignment) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_roles (id, incident_id, role, user_id, assigned_at, assigned_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(r.id.to_string())
    .bind(r.incident_id.to_string())
    .bind(&r.role)
    .bind(r.user_id.to_string())
    .bind(to_millis(r.assigned_at))
    .bind(r.assigned_by.encode())
    .execute(&mut **tx)
    .await
    .map_err(fk_not_found)?;
    Ok(())
}

fn task_from(row: &SqliteRow) -> StoreResult<IncidentTask> {
    let actor = |col: &str| -> StoreResult<Option<Actor>> {
        get::<Option<String>>(row, col)?
            .map(|s| Actor::decode(&s).ok_or_else(|| corrupt(col, &s)))
            .transpose()
    };
    Ok(IncidentTask {
        id: get_id(row, "id")?,
        incident_id: get_id(row, "incident_id")?,
        title: get(row, "title")?,
        assignee_id: get::<Option<String>>(row, "assignee_id")?
            .map(|s| s.parse().map_err(|_| corrupt("assignee_id", &s)))
            .transpose()?,
        due_at: get_opt_ts(row, "due_at")?,
        done_at: get_opt_ts(row, "done_at")?,
        done_by: actor("done_by")?,
        created_at: get_ts(row, "created_at")?,
        created_by: actor("created_by")?.ok_or_else(|| corrupt("created_by", "null"))?,
    })
}

async fn tasks_in(
    tx: &mut Transaction<'_, Sqlite>,
    id: IncidentId,
) -> StoreResult<Vec<IncidentTask>> {
    sqlx::query("SELECT * FROM incident_tasks WHERE incident_id = $1 ORDER BY created_at, id")
        .bind(id.to_string())
        .fetch_all(&mut **tx)
        .await
        .map_err(map_err)?
        .iter()
        .map(task_from)
        .collect()
}

async fn write_task(tx: &mut Transaction<'_, Sqlite>, t: &IncidentTask) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_tasks (id, incident_id, title, assignee_id, due_at, done_at,
         done_by, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title,
         assignee_id = excluded.assignee_id, due_at = excluded.due_at,
         done_at = excluded.done_at, done_by = excluded.done_by",
    )
    .bind(t.id.to_string())
    .bind(t.incident_id.to_string())
    .bind(&t.title)
    .bind(t.assignee_id.map(|u| u.to_string()))
    .bind(opt_ms(t.due_at))
    .bind(opt_ms(t.done_at))
    .bind(t.done_by.map(|a| a.encode()))
    .bind(to_millis(t.created_at))
    .bind(t.created_by.encode())
    .execute(&mut **tx)
    .await
    .map_err(fk_not_found)?;
    Ok(())
}

fn opt_ms(t: Option<jiff::Timestamp>) -> Option<i64> {
    t.map(to_millis)
}

/// Writes the columns people own.
async fn write_incident(tx: &mut Transaction<'_, Sqlite>, i: &Incident) -> StoreResult<()> {
    sqlx::query(
        "UPDATE incidents SET title = $2, description = $3, status = $4, urgency = $5,
         severity = $6, impact = $7, priority = $8, category = $9, subcategory = $10,
         reporter_id = $11, service_id = $12, created_at = $13, impact_started_at = $14,
         detected_at = $15, acknowledged_at = $16, mitigated_at = $17, resolved_at = $18,
         closed_at = $19, conference_url = $20, chat_url = $21
         WHERE id = $1",
    )
    .bind(i.id.to_string())
    .bind(&i.title)
    .bind(&i.description)
    .bind(i.status.as_str())
    .bind(i.urgency.as_str())
    .bind(i.severity.map(|s| s.as_str()))
    .bind(i.impact.map(|s| s.as_str()))
    .bind(i.priority.map(|s| s.as_str()))
    .bind(&i.category)
    .bind(&i.subcategory)
    .bind(i.reporter_id.map(|u| u.to_string()))
    .bind(i.service_id.map(|u| u.to_string()))
    .bind(to_millis(i.created_at))
    .bind(opt_ms(i.impact_started_at))
    .bind(opt_ms(i.detected_at))
    .bind(opt_ms(i.acknowledged_at))
    .bind(opt_ms(i.mitigated_at))
    .bind(opt_ms(i.resolved_at))
    .bind(opt_ms(i.closed_at))
    .bind(&i.conference_url)
    .bind(&i.chat_url)
    .execute(&mut **tx)
    .await
    .map_err(fk_not_found)?;
    Ok(())
}

/// Moves the incident's open alerts with it, one event per alert.
async fn move_alerts(
    tx: &mut Transaction<'_, Sqlite>,
    id: IncidentId,
    to: AlertStatus,
    c: &IncidentChange,
) -> StoreResult<()> {
    let (sql, kind) = match to {
        AlertStatus::Acknowledged => (
            "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $2
             WHERE incident_id = $1 AND status = 'triggered' RETURNING id",
            EventKind::AlertAcknowledged,
        ),
        AlertStatus::Resolved => (
            "UPDATE alerts SET status = 'resolved', resolved_at = $2
             WHERE incident_id = $1 AND status <> 'resolved' RETURNING id",
            EventKind::AlertResolved,
        ),
        AlertStatus::Triggered => return Ok(()),
    };
    let alerts: Vec<String> = sqlx::query_scalar(sql)
        .bind(id.to_string())
        .bind(to_millis(c.at))
        .fetch_all(&mut **tx)
        .await
        .map_err(map_err)?;
    for alert in alerts {
        let e = NewEvent::new(
            SubjectType::Alert,
            alert,
            c.at,
            c.actor,
            kind,
            json!({"via": "incident", "incident_id": id}),
        );
        insert_event(tx, &e).await?;
    }
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn do_declare_incident(&self, new: NewIncident) -> StoreResult<Incident> {
        let mut tx = self.write_tx().await?;
        let i = &new.incident;
        let number: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM incidents")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO incidents (id, number, title, status, urgency, service_id, alert_count,
             opened_by_alert, group_values, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0, '{}', $7)",
        )
        .bind(i.id.to_string())
        .bind(number)
        .bind(&i.title)
        .bind(i.status.as_str())
        .bind(i.urgency.as_str())
        .bind(i.service_id.map(|s| s.to_string()))
        .bind(to_millis(i.created_at))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        write_incident(&mut tx, i).await?;
        for r in &new.roles {
            insert_role(&mut tx, r).await?;
        }
        if let Some(job) = &new.job {
            insert_job(&mut tx, job).await?;
        }
        for e in &new.events {
            let mut e = e.clone();
            if let Some(data) = e.data.as_object_mut() {
                data.insert("number".into(), number.into());
            }
            insert_event(&mut tx, &e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        self.do_incident(i.id).await
    }

    pub(crate) async fn do_change_incident(
        &self,
        id: IncidentId,
        edit: IncidentEdit,
    ) -> StoreResult<Result<Incident, Refusal>> {
        // BEGIN IMMEDIATE: nobody else writes until this commits, so the edit sees the truth.
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT * FROM incidents WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        let snapshot = IncidentSnapshot {
            incident: incident_from(&row)?,
            roles: roles_in(&mut tx, id).await?,
            tasks: tasks_in(&mut tx, id).await?,
            subscribers: sqlx::query_scalar::<_, String>(
                "SELECT user_id FROM incident_subscribers WHERE incident_id = $1
             ORDER BY created_at, user_id",
            )
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(|s| s.parse().map_err(|_| corrupt("user_id", &s)))
            .collect::<StoreResult<Vec<_>>>()?,
        };
        let c = match edit(&snapshot) {
            Ok(c) => c,
            Err(refusal) => return Ok(Err(refusal)),
        };
        write_incident(&mut tx, &c.incident).await?;
        for (role, user) in &c.unassign {
            sqlx::query(
                "UPDATE incident_roles SET ended_at = $4, ended_by = $5
                 WHERE incident_id = $1 AND role = $2 AND user_id = $3 AND ended_at IS NULL",
            )
            .bind(id.to_string())
            .bind(role)
            .bind(user.to_string())
            .bind(to_millis(c.at))
            .bind(c.actor.encode())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        for r in &c.assign {
            insert_role(&mut tx, r).await?;
        }
        for t in &c.tasks {
            write_task(&mut tx, t).await?;
        }
        for u in &c.subscribe {
            sqlx::query(
                "INSERT INTO incident_subscribers (incident_id, user_id, created_at, created_by)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(id.to_string())
            .bind(u.to_string())
            .bind(to_millis(c.at))
            .bind(c.actor.encode())
            .execute(&mut *tx)
            .await
            .map_err(fk_not_found)?;
        }
        for u in &c.unsubscribe {
            sqlx::query("DELETE FROM incident_subscribers WHERE incident_id = $1 AND user_id = $2")
                .bind(id.to_string())
                .bind(u.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        for t in &c.removed_tasks {
            sqlx::query("DELETE FROM incident_tasks WHERE id = $1 AND incident_id = $2")
                .bind(t.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        if let Some(to) = c.alerts {
            move_alerts(&mut tx, id, to, &c).await?;
        }
        for job in &c.jobs {
            insert_job(&mut tx, job).await?;
        }
        for page in &c.pages {
            super::oncall::insert_notification(&mut tx, page).await?;
        }
        for e in &c.events {
            insert_event(&mut tx, e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        self.do_incident(id).await.map(Ok)
    }

    pub(crate) async fn do_incident_roles(
        &self,
        id: IncidentId,
        history: bool,
    ) -> StoreResult<Vec<RoleAssignment>> {
        self.do_incident(id).await?;
        sqlx::query(
            "SELECT * FROM incident_roles WHERE incident_id = $1 AND ($2 OR ended_at IS NULL)
             ORDER BY assigned_at, id",
        )
        .bind(id.to_string())
        .bind(history)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?
        .iter()
        .map(role_from)
        .collect()
    }

    pub(crate) async fn do_incident_tasks(&self, id: IncidentId) -> StoreResult<Vec<IncidentTask>> {
        self.do_incident(id).await?;
        sqlx::query("SELECT * FROM incident_tasks WHERE incident_id = $1 ORDER BY created_at, id")
            .bind(id.to_string())
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?
            .iter()
            .map(task_from)
            .collect()
    }

    pub(crate) async fn do_relate_incidents(
        &self,
        a: IncidentId,
        b: IncidentId,
        related: bool,
        at: jiff::Timestamp,
        actor: Actor,
    ) -> StoreResult<Result<(), Refusal>> {
        if a == b {
            return Ok(Err(Refusal::Invalid(klaxon_domain::Invalid::new(
                "incident_id",
                "an incident is not related to itself",
            ))));
        }
        let mut tx = self.write_tx().await?;
        let mut numbers = Vec::new();
        for id in [a, b] {
            let n: i64 = sqlx::query_scalar("SELECT number FROM incidents WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?
                .ok_or(StoreError::NotFound)?;
            numbers.push(n);
        }
        let exists = sqlx::query(
            "SELECT 1 FROM related_incidents WHERE incident_id = $1 AND related_id = $2",
        )
        .bind(a.to_string())
        .bind(b.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .is_some();
        if exists == related {
            let why = if related {
                "is already related"
            } else {
                "is not related"
            };
            return Ok(Err(Refusal::conflict("incident_id", why)));
        }
        for (x, y, y_number) in [(a, b, numbers[1]), (b, a, numbers[0])] {
            let q = if related {
                sqlx::query(
                    "INSERT INTO related_incidents (incident_id, related_id, created_at, created_by)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(x.to_string())
                .bind(y.to_string())
                .bind(to_millis(at))
                .bind(actor.encode())
            } else {
                sqlx::query(
                    "DELETE FROM related_incidents WHERE incident_id = $1 AND related_id = $2",
                )
                .bind(x.to_string())
                .bind(y.to_string())
            };
            q.execute(&mut *tx).await.map_err(map_err)?;
            let kind = if related {
                EventKind::IncidentRelated
            } else {
                EventKind::IncidentUnrelated
            };
            let e = NewEvent::new(
                SubjectType::Incident,
                x,
                at,
                actor,
                kind,
                json!({"incident_id": y, "number": y_number}),
            );
            insert_event(&mut tx, &e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Ok(()))
    }

    pub(crate) async fn do_related_incidents(&self, id: IncidentId) -> StoreResult<Vec<Incident>> {
        self.do_incident(id).await?;
        sqlx::query(
            "SELECT i.* FROM incidents i JOIN related_incidents r ON r.related_id = i.id
             WHERE r.incident_id = $1 ORDER BY i.number DESC",
        )
        .bind(id.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?
        .iter()
        .map(incident_from)
        .collect()
    }

    pub(crate) async fn do_merge_incident(
        &self,
        from: IncidentId,
        into: IncidentId,
        at: jiff::Timestamp,
        actor: Actor,
    ) -> StoreResult<Result<Incident, Refusal>> {
        if from == into {
            return Ok(Err(Refusal::Invalid(klaxon_domain::Invalid::new(
                "into",
                "an incident cannot be merged into itself",
            ))));
        }
        let mut tx = self.write_tx().await?;
        let mut ids = [from, into];
        ids.sort();
        let mut rows = Vec::new();
        for id in ids {
            let row = sqlx::query("SELECT * FROM incidents WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?
                .ok_or(StoreError::NotFound)?;
            rows.push(incident_from(&row)?);
        }
        let find = |id: IncidentId| rows.iter().find(|i| i.id == id).cloned();
        let (Some(dup), Some(target)) = (find(from), find(into)) else {
            return Err(StoreError::NotFound);
        };
        for (field, i) in [("id", &dup), ("into", &target)] {
            if !i.status.is_open() {
                return Ok(Err(Refusal::conflict(
                    field,
                    format!(
                        "incident #{} is {}; only open incidents merge",
                        i.number, i.status
                    ),
                )));
            }
        }
        let moved = sqlx::query("UPDATE alerts SET incident_id = $2 WHERE incident_id = $1")
            .bind(from.to_string())
            .bind(into.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        let moved = i64::try_from(moved).unwrap_or(i64::MAX);
        sqlx::query("UPDATE incidents SET alert_count = alert_count + $2 WHERE id = $1")
            .bind(into.to_string())
            .bind(moved)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "UPDATE incidents SET status = 'resolved', resolved_at = $2, merged_into = $3,
             alert_count = 0 WHERE id = $1",
        )
        .bind(from.to_string())
        .bind(to_millis(at))
        .bind(into.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let events = [
            NewEvent::new(
                SubjectType::Incident,
                from,
                at,
                actor,
                EventKind::IncidentMerged,
                json!({"into": into, "into_number": target.number, "alerts": moved}),
            ),
            NewEvent::new(
                SubjectType::Incident,
                into,
                at,
                actor,
                EventKind::IncidentMergedIn,
                json!({"from": from, "from_number": dup.number, "title": dup.title, "alerts": moved}),
            ),
        ];
        for e in &events {
            insert_event(&mut tx, e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        self.do_incident(into).await.map(Ok)
    }

    pub(crate) async fn do_incident_subscribers(&self, id: IncidentId) -> StoreResult<Vec<UserId>> {
        self.do_incident(id).await?;
        sqlx::query_scalar::<_, String>(
            "SELECT user_id FROM incident_subscribers WHERE incident_id = $1
             ORDER BY created_at, user_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?
        .into_iter()
        .map(|s| s.parse().map_err(|_| corrupt("user_id", &s)))
        .collect()
    }

    pub(crate) async fn do_pin_incident_event(
        &self,
        id: IncidentId,
        seq: i64,
        pinned: bool,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE events SET pinned = $3
             WHERE seq = $1 AND subject_type = 'incident' AND subject_id = $2",
        )
        .bind(seq)
        .bind(id.to_string())
        .bind(pinned)
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
}

#[cfg(test)]
mod upgrade {
    use std::borrow::Cow;

    use sqlx::migrate::Migrator;

    use super::*;

    /// Migration 6 rebuilds `incidents`; the rows pointing at it (alerts, notifications) must
    /// come through untouched, not nulled or deleted by their foreign keys' actions.
    #[tokio::test]
    async fn rebuilding_incidents_keeps_what_points_at_them() {
        let dir = std::env::temp_dir().join(format!("klaxon-upgrade-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteStore::open_without_migrating(&dir.join("k.db"))
            .await
            .unwrap();
        let before_6: Vec<_> = crate::MIGRATOR
            .migrations
            .iter()
            .filter(|m| m.version < 20261121000006)
            .cloned()
            .collect();
        let old = Migrator {
            migrations: Cow::Owned(before_6),
            ..Migrator::DEFAULT
        };
        old.run(&store.writer).await.unwrap();
        for sql in [
            "INSERT INTO users (id, email, name, role, password_hash, created_at)
             VALUES ('00000000-0000-7000-8000-000000000001', 'a@x.org', 'A', 'admin', 'h', 0)",
            "INSERT INTO services (id, name, description, urgency_rule, grouping, auto_resolve,
             created_at, updated_at)
             VALUES ('00000000-0000-7000-8000-000000000002', 's', '', 'high', '{\"kind\":\"none\"}', 1, 0, 0)",
            "INSERT INTO incidents (id, number, title, status, urgency, service_id, alert_count,
             opened_by_alert, group_values, created_at, acknowledged_at)
             VALUES ('00000000-0000-7000-8000-000000000003', 7, 'disk', 'acknowledged', 'high',
             '00000000-0000-7000-8000-000000000002', 1, 1, '{}', 1000, 2000)",
            "INSERT INTO alerts (id, service_id, incident_id, dedup_key, status, severity, summary,
             content, count, in_maintenance, created_at, last_seen_at)
             VALUES ('00000000-0000-7000-8000-000000000004', '00000000-0000-7000-8000-000000000002',
             '00000000-0000-7000-8000-000000000003', 'k', 'acknowledged', 'critical', 'disk',
             '{}', 1, 0, 1000, 1000)",
            "INSERT INTO contact_methods (id, user_id, kind, label, address, created_at)
             VALUES ('00000000-0000-7000-8000-000000000005', '00000000-0000-7000-8000-000000000001',
             'webhook', 'hook', 'http://127.0.0.1:1/', 0)",
            "INSERT INTO notifications (id, incident_id, user_id, contact_method_id, kind,
             address, dedup_key, payload, status, attempts, run_at, created_at)
             VALUES ('00000000-0000-7000-8000-000000000006', '00000000-0000-7000-8000-000000000003',
             '00000000-0000-7000-8000-000000000001', '00000000-0000-7000-8000-000000000005',
             'webhook', 'http://127.0.0.1:1/', 'd', '{}', 'sent', 1, 1000, 1000)",
        ] {
            sqlx::query(sql).execute(&store.writer).await.unwrap();
        }
        store.migrate().await.unwrap();

        let i = store
            .do_incident("00000000-0000-7000-8000-000000000003".parse().unwrap())
            .await
            .unwrap();
        assert_eq!((i.number, i.title.as_str(), i.alert_count), (7, "disk", 1));
        assert_eq!(
            i.status,
            klaxon_domain::incident::IncidentStatus::Acknowledged
        );
        assert_eq!(i.detected_at, Some(i.created_at));
        let alert_incident: Option<String> = sqlx::query_scalar("SELECT incident_id FROM alerts")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(
            alert_incident.as_deref(),
            Some("00000000-0000-7000-8000-000000000003")
        );
        let notifications: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(notifications, 1);
        let broken: Vec<sqlx::sqlite::SqliteRow> = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&store.writer)
            .await
            .unwrap();
        assert!(broken.is_empty());
        let fk_on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(
            fk_on, 1,
            "foreign keys are enforced again after the migration"
        );
        store.writer.close().await;
        store.reader.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
