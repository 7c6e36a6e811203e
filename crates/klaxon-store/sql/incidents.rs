//! Incident response: declaring, changing under lock, roles and pins.
//!
//! A change locks the incident's service rows, then the incident row, the same order the alert
//! path takes, so the two never wait on each other in a cycle (on PostgreSQL; SQLite's one
//! writer holds the write lock from `BEGIN IMMEDIATE` instead).
use async_trait::async_trait;
use klaxon_domain::alert::AlertStatus;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::incident::Refusal;
use klaxon_store::*;
use serde_json::json;
use sqlx::Transaction;

use super::alerts::incident_from;
use super::engine::{insert_event, insert_job};
use super::*;

fn role_from(row: &DbRow) -> StoreResult<RoleAssignment> {
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
    tx: &mut Transaction<'_, Db>,
    id: IncidentId,
) -> StoreResult<Vec<RoleAssignment>> {
    sqlx::query(
        "SELECT * FROM incident_roles WHERE incident_id = $1 AND ended_at IS NULL
         ORDER BY assigned_at, id",
    )
    .bind(db_id(id))
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?
    .iter()
    .map(role_from)
    .collect()
}

async fn insert_role(tx: &mut Transaction<'_, Db>, r: &RoleAssignment) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_roles (id, incident_id, role, user_id, assigned_at, assigned_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(db_id(r.id))
    .bind(db_id(r.incident_id))
    .bind(&r.role)
    .bind(db_id(r.user_id))
    .bind(to_millis(r.assigned_at))
    .bind(r.assigned_by.encode())
    .execute(&mut **tx)
    .await
    .map_err(fk_not_found)?;
    Ok(())
}

fn task_from(row: &DbRow) -> StoreResult<IncidentTask> {
    let actor = |col: &str| -> StoreResult<Option<Actor>> {
        get::<Option<String>>(row, col)?
            .map(|s| Actor::decode(&s).ok_or_else(|| corrupt(col, &s)))
            .transpose()
    };
    Ok(IncidentTask {
        id: get_id(row, "id")?,
        incident_id: get_id(row, "incident_id")?,
        title: get(row, "title")?,
        assignee_id: opt_id(row, "assignee_id")?,
        due_at: get_opt_ts(row, "due_at")?,
        done_at: get_opt_ts(row, "done_at")?,
        done_by: actor("done_by")?,
        created_at: get_ts(row, "created_at")?,
        created_by: actor("created_by")?.ok_or_else(|| corrupt("created_by", "null"))?,
    })
}

async fn tasks_in(tx: &mut Transaction<'_, Db>, id: IncidentId) -> StoreResult<Vec<IncidentTask>> {
    sqlx::query("SELECT * FROM incident_tasks WHERE incident_id = $1 ORDER BY created_at, id")
        .bind(db_id(id))
        .fetch_all(&mut **tx)
        .await
        .map_err(map_err)?
        .iter()
        .map(task_from)
        .collect()
}

async fn write_task(tx: &mut Transaction<'_, Db>, t: &IncidentTask) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_tasks (id, incident_id, title, assignee_id, due_at, done_at,
         done_by, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title,
         assignee_id = excluded.assignee_id, due_at = excluded.due_at,
         done_at = excluded.done_at, done_by = excluded.done_by",
    )
    .bind(db_id(t.id))
    .bind(db_id(t.incident_id))
    .bind(&t.title)
    .bind(t.assignee_id.map(db_id))
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
async fn write_incident(tx: &mut Transaction<'_, Db>, i: &Incident) -> StoreResult<()> {
    sqlx::query(
        "UPDATE incidents SET title = $2, description = $3, status = $4, urgency = $5,
         severity = $6, impact = $7, priority = $8, category = $9, subcategory = $10,
         reporter_id = $11, service_id = $12, created_at = $13, impact_started_at = $14,
         detected_at = $15, acknowledged_at = $16, mitigated_at = $17, resolved_at = $18,
         closed_at = $19, conference_url = $20, chat_url = $21, is_drill = $22
         WHERE id = $1",
    )
    .bind(db_id(i.id))
    .bind(&i.title)
    .bind(&i.description)
    .bind(i.status.as_str())
    .bind(i.urgency.as_str())
    .bind(i.severity.map(|s| s.as_str()))
    .bind(i.impact.map(|s| s.as_str()))
    .bind(i.priority.map(|s| s.as_str()))
    .bind(&i.category)
    .bind(&i.subcategory)
    .bind(i.reporter_id.map(db_id))
    .bind(i.service_id.map(db_id))
    .bind(to_millis(i.created_at))
    .bind(opt_ms(i.impact_started_at))
    .bind(opt_ms(i.detected_at))
    .bind(opt_ms(i.acknowledged_at))
    .bind(opt_ms(i.mitigated_at))
    .bind(opt_ms(i.resolved_at))
    .bind(opt_ms(i.closed_at))
    .bind(&i.conference_url)
    .bind(&i.chat_url)
    .bind(i.is_drill)
    .execute(&mut **tx)
    .await
    .map_err(fk_not_found)?;
    Ok(())
}

/// Moves the incident's open alerts with it, one event per alert.
async fn move_alerts(
    tx: &mut Transaction<'_, Db>,
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
    let alerts: Vec<DbUuid> = sqlx::query_scalar(sql)
        .bind(db_id(id))
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

#[async_trait]
impl IncidentStore for DbStore {
    async fn incident(&self, id: IncidentId) -> StoreResult<Incident> {
        let row = sqlx::query("SELECT * FROM incidents WHERE id = $1")
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        incident_from(&row)
    }

    async fn incident_id_by_number(&self, number: i64) -> StoreResult<IncidentId> {
        let row = sqlx::query("SELECT id FROM incidents WHERE number = $1")
            .bind(number)
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        get_id(&row, "id")
    }

    async fn list_incidents(
        &self,
        f: &IncidentFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Page<Incident, i64>> {
        let rows = sqlx::query(concat!(
            "SELECT * FROM incidents WHERE ($1 IS NULL OR service_id = $1)
             AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR number < $3)
             AND (NOT $5 OR status NOT IN ('resolved', 'closed'))
             AND ($6 IS NULL OR severity ",
            in_list!("$6"),
            ")
             AND ($7 IS NULL OR created_at >= $7) AND ($8 IS NULL OR created_at < $8)
             AND ($9 IS NULL OR ",
            instr!(),
            "(lower(title), $9) > 0
                  OR ",
            instr!(),
            "(lower(description), $9) > 0)
             AND ($10 IS NULL OR reporter_id = $10
                  OR EXISTS (SELECT 1 FROM incident_roles r WHERE r.incident_id = incidents.id
                             AND r.user_id = $10 AND r.ended_at IS NULL)
                  OR EXISTS (SELECT 1 FROM notifications n WHERE n.incident_id = incidents.id
                             AND n.user_id = $10 AND n.dedup_key NOT LIKE 'update:%'))
             AND ($11 IS NULL OR service_id IN
                  (SELECT id FROM services WHERE escalation_policy_id = $11))
             AND ($12 IS NULL OR $12 = (",
            learned_from!("incidents"),
            "))
             ORDER BY number DESC LIMIT $4",
        ))
        .bind(f.service_id.map(db_id))
        .bind(f.status.map(|s| s.as_str()))
        .bind(after)
        .bind(i64::from(limit) + 1)
        .bind(f.open)
        .bind((!f.severities.is_empty()).then(|| db_texts(f.severities.iter().map(|s| s.as_str()))))
        .bind(f.from.map(to_millis))
        .bind(f.to.map(to_millis))
        .bind(f.text.as_deref().map(str::to_lowercase))
        .bind(f.involving.map(db_id))
        .bind(f.escalation_policy.map(db_id))
        .bind(f.learned_from)
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        let items = rows
            .iter()
            .map(incident_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, limit, |i| i.number))
    }

    async fn declare_incident(&self, new: NewIncident) -> StoreResult<Incident> {
        let mut tx = self.write_tx().await?;
        let i = &new.incident;
        let number: i64 = sqlx::query_scalar(next_incident_number!())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO incidents (id, number, title, status, urgency, service_id, alert_count,
             opened_by_alert, group_values, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)",
        )
        .bind(db_id(i.id))
        .bind(number)
        .bind(&i.title)
        .bind(i.status.as_str())
        .bind(i.urgency.as_str())
        .bind(i.service_id.map(db_id))
        .bind(false)
        .bind(json(&json!({})))
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
        if let Some(d) = &new.drill {
            super::drills::insert_drill(&mut tx, &d.drill).await?;
            insert_job(&mut tx, &d.job).await?;
        }
        for e in &new.events {
            let mut e = e.clone();
            if let Some(data) = e.data.as_object_mut() {
                data.insert("number".into(), number.into());
            }
            insert_event(&mut tx, &e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        self.incident(i.id).await
    }

    async fn change_incident(
        &self,
        id: IncidentId,
        edit: IncidentEdit,
    ) -> StoreResult<Result<Incident, Refusal>> {
        // Nobody else changes it until this commits, so the edit sees the truth.
        let mut tx = self.write_tx().await?;
        lock_incident_services(&mut tx, &[id]).await?;
        let row = sqlx::query(concat!(
            "SELECT * FROM incidents WHERE id = $1",
            for_no_key_update!()
        ))
        .bind(db_id(id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let snapshot = IncidentSnapshot {
            incident: incident_from(&row)?,
            roles: roles_in(&mut tx, id).await?,
            tasks: tasks_in(&mut tx, id).await?,
            subscribers: sqlx::query_scalar::<_, DbUuid>(
                "SELECT user_id FROM incident_subscribers WHERE incident_id = $1
             ORDER BY created_at, user_id",
            )
            .bind(db_id(id))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(id_from)
            .collect::<StoreResult<Vec<_>>>()?,
        };
        let c = match edit(&snapshot) {
            Ok(c) => c,
            Err(refusal) => {
                tx.rollback().await.map_err(map_err)?;
                return Ok(Err(refusal));
            }
        };
        write_incident(&mut tx, &c.incident).await?;
        for (role, user) in &c.unassign {
            sqlx::query(
                "UPDATE incident_roles SET ended_at = $4, ended_by = $5
                 WHERE incident_id = $1 AND role = $2 AND user_id = $3 AND ended_at IS NULL",
            )
            .bind(db_id(id))
            .bind(role)
            .bind(db_id(user))
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
            .bind(db_id(id))
            .bind(db_id(u))
            .bind(to_millis(c.at))
            .bind(c.actor.encode())
            .execute(&mut *tx)
            .await
            .map_err(fk_not_found)?;
        }
        for u in &c.unsubscribe {
            sqlx::query("DELETE FROM incident_subscribers WHERE incident_id = $1 AND user_id = $2")
                .bind(db_id(id))
                .bind(db_id(u))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        for t in &c.removed_tasks {
            sqlx::query("DELETE FROM incident_tasks WHERE id = $1 AND incident_id = $2")
                .bind(db_id(t))
                .bind(db_id(id))
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
        self.incident(id).await.map(Ok)
    }

    async fn incident_roles(
        &self,
        id: IncidentId,
        history: bool,
    ) -> StoreResult<Vec<RoleAssignment>> {
        self.incident(id).await?;
        sqlx::query(
            "SELECT * FROM incident_roles WHERE incident_id = $1 AND ($2 OR ended_at IS NULL)
             ORDER BY assigned_at, id",
        )
        .bind(db_id(id))
        .bind(history)
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .iter()
        .map(role_from)
        .collect()
    }

    async fn incident_tasks(&self, id: IncidentId) -> StoreResult<Vec<IncidentTask>> {
        self.incident(id).await?;
        sqlx::query("SELECT * FROM incident_tasks WHERE incident_id = $1 ORDER BY created_at, id")
            .bind(db_id(id))
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?
            .iter()
            .map(task_from)
            .collect()
    }

    async fn relate_incidents(
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
                .bind(db_id(id))
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?
                .ok_or(StoreError::NotFound)?;
            numbers.push(n);
        }
        let exists = sqlx::query(
            "SELECT 1 FROM related_incidents WHERE incident_id = $1 AND related_id = $2",
        )
        .bind(db_id(a))
        .bind(db_id(b))
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
                .bind(db_id(x))
                .bind(db_id(y))
                .bind(to_millis(at))
                .bind(actor.encode())
            } else {
                sqlx::query(
                    "DELETE FROM related_incidents WHERE incident_id = $1 AND related_id = $2",
                )
                .bind(db_id(x))
                .bind(db_id(y))
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

    async fn related_incidents(&self, id: IncidentId) -> StoreResult<Vec<Incident>> {
        self.incident(id).await?;
        sqlx::query(
            "SELECT i.* FROM incidents i JOIN related_incidents r ON r.related_id = i.id
             WHERE r.incident_id = $1 ORDER BY i.number DESC",
        )
        .bind(db_id(id))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .iter()
        .map(incident_from)
        .collect()
    }

    async fn merge_incident(
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
        // The alert path locks a service, then its incidents: lock the services first too.
        lock_incident_services(&mut tx, &[from, into]).await?;
        let mut ids = [from, into];
        ids.sort();
        let mut rows = Vec::new();
        for id in ids {
            let row = sqlx::query(concat!(
                "SELECT * FROM incidents WHERE id = $1",
                for_no_key_update!()
            ))
            .bind(db_id(id))
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
            .bind(db_id(from))
            .bind(db_id(into))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        let moved = i64::try_from(moved).unwrap_or(i64::MAX);
        sqlx::query("UPDATE incidents SET alert_count = alert_count + $2 WHERE id = $1")
            .bind(db_id(into))
            .bind(moved)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "UPDATE incidents SET status = 'resolved', resolved_at = $2, merged_into = $3,
             alert_count = 0 WHERE id = $1",
        )
        .bind(db_id(from))
        .bind(to_millis(at))
        .bind(db_id(into))
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
        self.incident(into).await.map(Ok)
    }

    async fn incident_subscribers(&self, id: IncidentId) -> StoreResult<Vec<UserId>> {
        self.incident(id).await?;
        sqlx::query_scalar::<_, DbUuid>(
            "SELECT user_id FROM incident_subscribers WHERE incident_id = $1
             ORDER BY created_at, user_id",
        )
        .bind(db_id(id))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .into_iter()
        .map(id_from)
        .collect()
    }

    async fn pin_incident_event(
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
