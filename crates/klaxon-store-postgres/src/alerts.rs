//! Services, integrations, maintenance windows, alerts and incidents on PostgreSQL.
//!
//! Several instances may share the database, so whatever reads state and then writes on the
//! strength of it locks the service's row first: signals for one service are applied one
//! transaction at a time across instances (one open alert per dedup key, no duplicate
//! incidents), and a service cannot be deleted while a signal is opening an alert for it.
use jiff::Timestamp;
use klaxon_domain::alert::{AlertContent, AlertStatus, Candidate, Grouping, Step};
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{AlertId, IncidentId, IntegrationId, MaintenanceWindowId, ServiceId};
use klaxon_store::*;
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{
    PgStore, corrupt, get, get_id, get_json, get_opt_ts, get_ts, insert_event, insert_job, map_err,
    page,
};

/// Like [`map_err`], but a foreign-key violation (23503) means the row referred to is gone.
pub(crate) fn map_err_fk_not_found(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => map_err(e),
    }
}

pub(crate) fn get_parsed<T: std::str::FromStr>(row: &PgRow, col: &str) -> StoreResult<T> {
    let s: String = get(row, col)?;
    s.parse().map_err(|_| corrupt(col, &s))
}

/// A nullable column holding a parsed value (an enum's name).
pub(crate) fn opt_parsed<T: std::str::FromStr>(row: &PgRow, col: &str) -> StoreResult<Option<T>> {
    get::<Option<String>>(row, col)?
        .map(|s| s.parse().map_err(|_| corrupt(col, &s)))
        .transpose()
}

pub(crate) fn get_u32(row: &PgRow, col: &str) -> StoreResult<u32> {
    let n: i64 = get(row, col)?;
    u32::try_from(n).map_err(|_| corrupt(col, &n.to_string()))
}

fn get_opt_u32(row: &PgRow, col: &str) -> StoreResult<Option<u32>> {
    get::<Option<i64>>(row, col)?
        .map(|n| u32::try_from(n).map_err(|_| corrupt(col, &n.to_string())))
        .transpose()
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(row: &PgRow, col: &str) -> StoreResult<T> {
    let v = get_json(row, col)?;
    serde_json::from_value(v.clone()).map_err(|_| corrupt(col, &v.to_string()))
}

fn service_from(row: &PgRow) -> StoreResult<Service> {
    Ok(Service {
        id: get_id(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        urgency_rule: get_parsed(row, "urgency_rule")?,
        grouping: from_json(row, "grouping")?,
        auto_resolve: get(row, "auto_resolve")?,
        escalation_policy_id: opt_id(row, "escalation_policy_id")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn integration_from(row: &PgRow) -> StoreResult<Integration> {
    Ok(Integration {
        id: get_id(row, "id")?,
        service_id: get_id(row, "service_id")?,
        name: get(row, "name")?,
        kind: get_parsed(row, "kind")?,
        key_prefix: get(row, "key_prefix")?,
        rate_limit_per_minute: get_u32(row, "rate_limit_per_minute")?,
        heartbeat_interval_secs: get_opt_u32(row, "heartbeat_interval_secs")?,
        last_ping_at: get_opt_ts(row, "last_ping_at")?,
        created_at: get_ts(row, "created_at")?,
        key_rotated_at: get_ts(row, "key_rotated_at")?,
    })
}

fn maintenance_from(row: &PgRow) -> StoreResult<MaintenanceWindow> {
    Ok(MaintenanceWindow {
        id: get_id(row, "id")?,
        service_id: get_id(row, "service_id")?,
        starts_at: get_ts(row, "starts_at")?,
        ends_at: get_ts(row, "ends_at")?,
        description: get(row, "description")?,
        created_at: get_ts(row, "created_at")?,
    })
}

pub(crate) fn opt_id<T: From<Uuid>>(row: &PgRow, col: &str) -> StoreResult<Option<T>> {
    Ok(get::<Option<Uuid>>(row, col)?.map(T::from))
}

fn alert_from(row: &PgRow) -> StoreResult<Alert> {
    Ok(Alert {
        id: get_id(row, "id")?,
        service_id: get_id(row, "service_id")?,
        integration_id: opt_id(row, "integration_id")?,
        incident_id: opt_id(row, "incident_id")?,
        dedup_key: get(row, "dedup_key")?,
        status: get_parsed(row, "status")?,
        content: from_json(row, "content")?,
        count: get_u32(row, "count")?,
        in_maintenance: get(row, "in_maintenance")?,
        created_at: get_ts(row, "created_at")?,
        last_seen_at: get_ts(row, "last_seen_at")?,
        acknowledged_at: get_opt_ts(row, "acknowledged_at")?,
        resolved_at: get_opt_ts(row, "resolved_at")?,
    })
}

pub(crate) fn incident_from(row: &PgRow) -> StoreResult<Incident> {
    Ok(Incident {
        id: get_id(row, "id")?,
        number: get(row, "number")?,
        title: get(row, "title")?,
        description: get(row, "description")?,
        status: get_parsed(row, "status")?,
        urgency: get_parsed(row, "urgency")?,
        severity: opt_parsed(row, "severity")?,
        impact: opt_parsed(row, "impact")?,
        priority: opt_parsed(row, "priority")?,
        category: get(row, "category")?,
        subcategory: get(row, "subcategory")?,
        reporter_id: opt_id(row, "reporter_id")?,
        service_id: opt_id(row, "service_id")?,
        alert_count: get_u32(row, "alert_count")?,
        opened_by_alert: get(row, "opened_by_alert")?,
        created_at: get_ts(row, "created_at")?,
        impact_started_at: get_opt_ts(row, "impact_started_at")?,
        detected_at: get_opt_ts(row, "detected_at")?,
        acknowledged_at: get_opt_ts(row, "acknowledged_at")?,
        mitigated_at: get_opt_ts(row, "mitigated_at")?,
        resolved_at: get_opt_ts(row, "resolved_at")?,
        closed_at: get_opt_ts(row, "closed_at")?,
        conference_url: get(row, "conference_url")?,
        chat_url: get(row, "chat_url")?,
        merged_into: opt_id(row, "merged_into")?,
    })
}

async fn service_in(tx: &mut Transaction<'_, Postgres>, id: ServiceId) -> StoreResult<Service> {
    let row = sqlx::query("SELECT * FROM services WHERE id = $1")
        .bind(id.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    service_from(&row)
}

async fn integration_in(
    tx: &mut Transaction<'_, Postgres>,
    id: IntegrationId,
) -> StoreResult<Integration> {
    let row = sqlx::query("SELECT * FROM integrations WHERE id = $1")
        .bind(id.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    integration_from(&row)
}

impl PgStore {
    pub(crate) async fn do_create_service(&self, s: Service, e: NewEvent) -> StoreResult<Service> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO services (id, name, description, urgency_rule, grouping, auto_resolve,
             created_at, updated_at, escalation_policy_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.id.0)
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.urgency_rule.as_str())
        .bind(Json(&s.grouping))
        .bind(s.auto_resolve)
        .bind(to_millis(s.created_at))
        .bind(to_millis(s.updated_at))
        .bind(s.escalation_policy_id.map(|p| p.0))
        .execute(&mut *tx)
        .await
        // The only foreign key: the escalation policy does not exist.
        .map_err(map_err_fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(s)
    }

    pub(crate) async fn do_service(&self, id: ServiceId) -> StoreResult<Service> {
        let row = sqlx::query("SELECT * FROM services WHERE id = $1")
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        service_from(&row)
    }

    pub(crate) async fn do_list_services(
        &self,
        after: Option<ServiceId>,
        limit: u32,
    ) -> StoreResult<Page<Service, ServiceId>> {
        let rows = sqlx::query(
            "SELECT * FROM services WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after.map(|a| a.0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let items = rows
            .iter()
            .map(service_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, limit, |s| s.id))
    }

    pub(crate) async fn do_update_service(&self, s: Service, e: NewEvent) -> StoreResult<Service> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE services SET name = $2, description = $3, urgency_rule = $4,
             grouping = $5, auto_resolve = $6, updated_at = $7, escalation_policy_id = $8
             WHERE id = $1",
        )
        .bind(s.id.0)
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.urgency_rule.as_str())
        .bind(Json(&s.grouping))
        .bind(s.auto_resolve)
        .bind(to_millis(s.updated_at))
        .bind(s.escalation_policy_id.map(|p| p.0))
        .execute(&mut *tx)
        .await
        // The only foreign key: the escalation policy does not exist.
        .map_err(map_err_fk_not_found)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let stored = service_in(&mut tx, s.id).await?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    pub(crate) async fn do_delete_service(&self, id: ServiceId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Locked until commit: a signal for this service waits, then finds it gone, instead of
        // opening an alert between the count and the delete.
        sqlx::query("SELECT id FROM services WHERE id = $1 FOR UPDATE")
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let open: i64 = get(
            &sqlx::query(
                "SELECT COUNT(*) AS n FROM alerts WHERE service_id = $1 AND status <> 'resolved'",
            )
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?,
            "n",
        )?;
        if open > 0 {
            return Err(StoreError::Conflict {
                constraint: "open_alerts".into(),
            });
        }
        sqlx::query("DELETE FROM services WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn do_create_integration(
        &self,
        n: NewIntegration,
        e: NewEvent,
    ) -> StoreResult<Integration> {
        let i = &n.integration;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO integrations (id, service_id, name, kind, key_prefix, key_hash,
             rate_limit_per_minute, heartbeat_interval_secs, last_ping_at, created_at,
             key_rotated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(i.id.0)
        .bind(i.service_id.0)
        .bind(&i.name)
        .bind(i.kind.as_str())
        .bind(&i.key_prefix)
        .bind(&n.key_hash[..])
        .bind(i64::from(i.rate_limit_per_minute))
        .bind(i.heartbeat_interval_secs.map(i64::from))
        .bind(i.last_ping_at.map(to_millis))
        .bind(to_millis(i.created_at))
        .bind(to_millis(i.key_rotated_at))
        .execute(&mut *tx)
        .await
        // The only foreign key: the service is gone.
        .map_err(map_err_fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(n.integration)
    }

    pub(crate) async fn do_integration(&self, id: IntegrationId) -> StoreResult<Integration> {
        let row = sqlx::query("SELECT * FROM integrations WHERE id = $1")
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        integration_from(&row)
    }

    pub(crate) async fn do_integration_by_key(&self, hash: &[u8; 32]) -> StoreResult<Integration> {
        let row = sqlx::query("SELECT * FROM integrations WHERE key_hash = $1")
            .bind(&hash[..])
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        integration_from(&row)
    }

    pub(crate) async fn do_list_integrations(
        &self,
        service: ServiceId,
    ) -> StoreResult<Vec<Integration>> {
        let rows = sqlx::query("SELECT * FROM integrations WHERE service_id = $1 ORDER BY id")
            .bind(service.0)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(integration_from).collect()
    }

    pub(crate) async fn do_update_integration(
        &self,
        i: Integration,
        e: NewEvent,
    ) -> StoreResult<Integration> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE integrations SET name = $2, rate_limit_per_minute = $3,
             heartbeat_interval_secs = $4 WHERE id = $1",
        )
        .bind(i.id.0)
        .bind(&i.name)
        .bind(i64::from(i.rate_limit_per_minute))
        .bind(i.heartbeat_interval_secs.map(i64::from))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let stored = integration_in(&mut tx, i.id).await?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    pub(crate) async fn do_rotate_integration_key(
        &self,
        id: IntegrationId,
        prefix: &str,
        hash: [u8; 32],
        at: Timestamp,
        e: NewEvent,
    ) -> StoreResult<Integration> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE integrations SET key_prefix = $2, key_hash = $3, key_rotated_at = $4
             WHERE id = $1",
        )
        .bind(id.0)
        .bind(prefix)
        .bind(&hash[..])
        .bind(to_millis(at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let stored = integration_in(&mut tx, id).await?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(stored)
    }

    pub(crate) async fn do_delete_integration(
        &self,
        id: IntegrationId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM integrations WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        // A heartbeat monitor's pending check goes with it.
        sqlx::query("DELETE FROM jobs WHERE dedup_key = $1")
            .bind(format!("heartbeat:{id}"))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn do_create_maintenance(
        &self,
        w: MaintenanceWindow,
        e: NewEvent,
    ) -> StoreResult<MaintenanceWindow> {
        let mut tx = self.write_tx().await?;
        service_in(&mut tx, w.service_id).await?;
        sqlx::query(
            "INSERT INTO maintenance_windows (id, service_id, starts_at, ends_at, description,
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(w.id.0)
        .bind(w.service_id.0)
        .bind(to_millis(w.starts_at))
        .bind(to_millis(w.ends_at))
        .bind(&w.description)
        .bind(to_millis(w.created_at))
        .execute(&mut *tx)
        .await
        // The service was deleted since the check above.
        .map_err(map_err_fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(w)
    }

    pub(crate) async fn do_list_maintenance(
        &self,
        service: ServiceId,
        now: Timestamp,
    ) -> StoreResult<Vec<MaintenanceWindow>> {
        let rows = sqlx::query(
            "SELECT * FROM maintenance_windows WHERE service_id = $1 AND ends_at > $2
             ORDER BY starts_at, id",
        )
        .bind(service.0)
        .bind(to_millis(now))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(maintenance_from).collect()
    }

    pub(crate) async fn do_delete_maintenance(
        &self,
        service: ServiceId,
        id: MaintenanceWindowId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM maintenance_windows WHERE id = $1 AND service_id = $2")
            .bind(id.0)
            .bind(service.0)
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

    pub(crate) async fn do_alert(&self, id: AlertId) -> StoreResult<Alert> {
        let row = sqlx::query("SELECT * FROM alerts WHERE id = $1")
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        alert_from(&row)
    }

    pub(crate) async fn do_list_alerts(
        &self,
        f: &AlertFilter,
        after: Option<AlertId>,
        limit: u32,
    ) -> StoreResult<Page<Alert, AlertId>> {
        let rows = sqlx::query(
            "SELECT * FROM alerts WHERE ($1::uuid IS NULL OR service_id = $1)
             AND ($2::uuid IS NULL OR incident_id = $2) AND ($3::text IS NULL OR status = $3)
             AND ($4::uuid IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
        )
        .bind(f.service_id.map(|i| i.0))
        .bind(f.incident_id.map(|i| i.0))
        .bind(f.status.map(|s| s.as_str()))
        .bind(after.map(|a| a.0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let items = rows
            .iter()
            .map(alert_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, limit, |a| a.id))
    }

    pub(crate) async fn do_incident(&self, id: IncidentId) -> StoreResult<Incident> {
        let row = sqlx::query("SELECT * FROM incidents WHERE id = $1")
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        incident_from(&row)
    }

    pub(crate) async fn do_list_incidents(
        &self,
        f: &IncidentFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Page<Incident, i64>> {
        let rows = sqlx::query(
            "SELECT * FROM incidents WHERE ($1::uuid IS NULL OR service_id = $1)
             AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR number < $3)
             AND (NOT $5 OR status NOT IN ('resolved', 'closed'))
             AND ($6::text[] IS NULL OR severity = ANY($6))
             AND ($7::bigint IS NULL OR created_at >= $7)
             AND ($8::bigint IS NULL OR created_at < $8)
             AND ($9::text IS NULL OR strpos(lower(title), $9) > 0
                  OR strpos(lower(description), $9) > 0)
             AND ($10::uuid IS NULL OR reporter_id = $10
                  OR EXISTS (SELECT 1 FROM incident_roles r WHERE r.incident_id = incidents.id
                             AND r.user_id = $10 AND r.ended_at IS NULL)
                  OR EXISTS (SELECT 1 FROM notifications n WHERE n.incident_id = incidents.id
                             AND n.user_id = $10 AND n.dedup_key NOT LIKE 'update:%'))
             AND ($11::uuid IS NULL OR service_id IN
                  (SELECT id FROM services WHERE escalation_policy_id = $11))
             ORDER BY number DESC LIMIT $4",
        )
        .bind(f.service_id.map(|i| i.0))
        .bind(f.status.map(|s| s.as_str()))
        .bind(after)
        .bind(i64::from(limit) + 1)
        .bind(f.open)
        .bind((!f.severities.is_empty()).then(|| {
            f.severities
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect::<Vec<_>>()
        }))
        .bind(f.from.map(to_millis))
        .bind(f.to.map(to_millis))
        .bind(f.text.as_deref().map(str::to_lowercase))
        .bind(f.involving.map(|u| u.0))
        .bind(f.escalation_policy.map(|p| p.0))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let items = rows
            .iter()
            .map(incident_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, limit, |i| i.number))
    }
}

fn event(
    subject_type: SubjectType,
    id: impl std::fmt::Display,
    at: Timestamp,
    kind: EventKind,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent::new(subject_type, id, at, Actor::System, kind, data)
}

/// Reads a service and locks its row until the transaction ends (see [`apply_signal`]).
pub(crate) async fn lock_service(
    tx: &mut Transaction<'_, Postgres>,
    id: ServiceId,
) -> StoreResult<Service> {
    let row = sqlx::query("SELECT * FROM services WHERE id = $1 FOR UPDATE")
        .bind(id.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    service_from(&row)
}

/// Applies one signal inside the batch's transaction: the rules are the domain's
/// ([`Step::decide`], [`Grouping::choose`]); this reads what they need and writes what they say.
///
/// The service's row stays locked until the transaction ends, so signals for one service are
/// applied one at a time across every instance sharing the database: two cannot both see no
/// open alert for a dedup key, nor both open an incident that one should have joined.
pub(crate) async fn apply_signal(
    tx: &mut Transaction<'_, Postgres>,
    w: &SignalWrite,
) -> StoreResult<SignalAck> {
    let service = lock_service(tx, w.service_id).await?;
    let at = to_millis(w.at);
    let key = w.signal.dedup_key.as_str();
    let open = sqlx::query(
        "SELECT id, status, incident_id FROM alerts
         WHERE service_id = $1 AND dedup_key = $2 AND status <> 'resolved'",
    )
    .bind(w.service_id.0)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?;
    let open = match open {
        Some(row) => Some((
            get_id::<AlertId>(&row, "id")?,
            get_parsed::<AlertStatus>(&row, "status")?,
            opt_id::<IncidentId>(&row, "incident_id")?,
        )),
        None => None,
    };
    let step = Step::decide(w.signal.action, open.map(|(_, s, _)| s));
    let mut ack = SignalAck {
        step,
        alert_id: open.map(|(id, _, _)| id),
        incident_id: open.and_then(|(_, _, i)| i),
        incident_opened: false,
    };
    match (step, open) {
        (Step::Ignore, _) => {}
        (Step::Deduplicate, Some((id, _, _))) => {
            let content = w.signal.content.as_ref().ok_or(StoreError::NotFound)?;
            sqlx::query(
                "UPDATE alerts SET count = count + 1, last_seen_at = $2, summary = $3,
                 severity = $4, content = $5 WHERE id = $1",
            )
            .bind(id.0)
            .bind(at)
            .bind(&content.summary)
            .bind(content.severity.as_str())
            .bind(Json(content))
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
            insert_event(
                tx,
                &event(
                    SubjectType::Alert,
                    id,
                    w.at,
                    EventKind::AlertDeduplicated,
                    json!({"summary": content.summary, "severity": content.severity}),
                ),
            )
            .await?;
        }
        (Step::Acknowledge, Some((id, _, incident))) => {
            sqlx::query(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $2 WHERE id = $1",
            )
            .bind(id.0)
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
            insert_event(
                tx,
                &event(
                    SubjectType::Alert,
                    id,
                    w.at,
                    EventKind::AlertAcknowledged,
                    json!({}),
                ),
            )
            .await?;
            // A monitoring tool does not command a major incident: a SEV1 or SEV2 without a
            // commander stays triggered (and paging) until a person acknowledges it.
            if let Some(inc) = incident {
                let n = sqlx::query(
                    "UPDATE incidents SET status = 'acknowledged', acknowledged_at = $2
                     WHERE id = $1 AND status = 'triggered'
                     AND NOT (COALESCE(severity, '') IN ('SEV1', 'SEV2') AND NOT EXISTS (
                         SELECT 1 FROM incident_roles r WHERE r.incident_id = incidents.id
                         AND r.role = 'commander' AND r.ended_at IS NULL))",
                )
                .bind(inc.0)
                .bind(at)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?
                .rows_affected();
                if n == 1 {
                    insert_event(
                        tx,
                        &event(
                            SubjectType::Incident,
                            inc,
                            w.at,
                            EventKind::IncidentAcknowledged,
                            json!({"alert_id": id, "via": "integration"}),
                        ),
                    )
                    .await?;
                }
            }
        }
        (Step::Resolve, Some((id, _, incident))) => {
            sqlx::query("UPDATE alerts SET status = 'resolved', resolved_at = $2 WHERE id = $1")
                .bind(id.0)
                .bind(at)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
            insert_event(
                tx,
                &event(
                    SubjectType::Alert,
                    id,
                    w.at,
                    EventKind::AlertResolved,
                    json!({}),
                ),
            )
            .await?;
            if let (Some(inc), true) = (incident, service.auto_resolve) {
                resolve_incident_if_done(tx, inc, w.at).await?;
            }
        }
        (Step::Open, _) => {
            let content = w.signal.content.as_ref().ok_or(StoreError::NotFound)?;
            open_alert(tx, &service, w, content, &mut ack).await?;
        }
        // decide() only answers Deduplicate/Acknowledge/Resolve when an alert is open.
        (_, None) => return Err(StoreError::NotFound),
    }
    Ok(ack)
}

async fn open_alert(
    tx: &mut Transaction<'_, Postgres>,
    service: &Service,
    w: &SignalWrite,
    content: &AlertContent,
    ack: &mut SignalAck,
) -> StoreResult<()> {
    let at = to_millis(w.at);
    let in_maintenance: i64 = get(
        &sqlx::query(
            "SELECT COUNT(*) AS n FROM maintenance_windows
             WHERE service_id = $1 AND starts_at <= $2 AND ends_at > $2",
        )
        .bind(service.id.0)
        .bind(at)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?,
        "n",
    )?;
    let in_maintenance = in_maintenance > 0;
    let alert_id = w.new_alert_id;
    sqlx::query(
        "INSERT INTO alerts (id, service_id, integration_id, dedup_key, status, severity, summary,
         content, count, in_maintenance, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, 'triggered', $5, $6, $7, 1, $8, $9, $9)",
    )
    .bind(alert_id.0)
    .bind(service.id.0)
    .bind(w.integration_id.0)
    .bind(w.signal.dedup_key.as_str())
    .bind(content.severity.as_str())
    .bind(&content.summary)
    .bind(Json(content))
    .bind(in_maintenance)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    insert_event(
        tx,
        &event(
            SubjectType::Alert,
            alert_id,
            w.at,
            EventKind::AlertTriggered,
            json!({
                "dedup_key": w.signal.dedup_key.as_str(),
                "summary": content.summary,
                "severity": content.severity,
                "integration_id": w.integration_id,
                "in_maintenance": in_maintenance,
            }),
        ),
    )
    .await?;
    ack.alert_id = Some(alert_id);
    if in_maintenance {
        return Ok(());
    }

    // One incident per alert needs no lookup: the hot path's commonest case stays cheap.
    let need = service.grouping.candidates_needed();
    let rows = if need == 0 {
        Vec::new()
    } else {
        sqlx::query(
            "SELECT id, created_at, group_values FROM incidents
             WHERE service_id = $1 AND status NOT IN ('resolved', 'closed') AND opened_by_alert
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(service.id.0)
        .bind(i64::from(need))
        .fetch_all(&mut **tx)
        .await
        .map_err(map_err)?
    };
    let candidates = rows
        .iter()
        .map(|r| {
            Ok(Candidate {
                id: get_id::<IncidentId>(r, "id")?,
                opened_at: get_ts(r, "created_at")?,
                group_values: from_json(r, "group_values")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let incident = match service.grouping.choose(content, &candidates, w.at) {
        Some(existing) => {
            sqlx::query("UPDATE incidents SET alert_count = alert_count + 1 WHERE id = $1")
                .bind(existing.0)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
            existing
        }
        None => {
            let id = w.new_incident_id;
            // A sequence, not MAX + 1: instances opening incidents for different services at
            // once must not draw the same number.
            let number: i64 = get(
                &sqlx::query("SELECT nextval('incident_number_seq') AS n")
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(map_err)?,
                "n",
            )?;
            let urgency = service.urgency_rule.urgency(content.severity);
            sqlx::query(
                "INSERT INTO incidents (id, number, title, status, urgency, service_id,
                 alert_count, opened_by_alert, group_values, created_at, detected_at)
                 VALUES ($1, $2, $3, 'triggered', $4, $5, 1, TRUE, $6, $7, $7)",
            )
            .bind(id.0)
            .bind(number)
            .bind(&content.summary)
            .bind(urgency.as_str())
            .bind(service.id.0)
            .bind(Json(Grouping::values(&service.grouping, content)))
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
            // Its escalation starts in this transaction: an incident is never left unpaged.
            if service.escalation_policy_id.is_some() {
                insert_job(tx, &escalation_job(w.new_job_id, id, 0, w.at)).await?;
            }
            insert_event(
                tx,
                &event(
                    SubjectType::Incident,
                    id,
                    w.at,
                    EventKind::IncidentTriggered,
                    json!({"number": number, "title": content.summary, "urgency": urgency,
                           "service_id": service.id,
                           "escalation_policy_id": service.escalation_policy_id}),
                ),
            )
            .await?;
            ack.incident_opened = true;
            id
        }
    };
    sqlx::query("UPDATE alerts SET incident_id = $2 WHERE id = $1")
        .bind(alert_id.0)
        .bind(incident.0)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    insert_event(
        tx,
        &event(
            SubjectType::Incident,
            incident,
            w.at,
            EventKind::IncidentAlertAdded,
            json!({"alert_id": alert_id, "summary": content.summary,
                   "severity": content.severity, "dedup_key": w.signal.dedup_key.as_str()}),
        ),
    )
    .await?;
    ack.incident_id = Some(incident);
    Ok(())
}

/// Resolves an alert-opened incident once none of its alerts is open.
async fn resolve_incident_if_done(
    tx: &mut Transaction<'_, Postgres>,
    incident: IncidentId,
    at: Timestamp,
) -> StoreResult<()> {
    let n = sqlx::query(
        "UPDATE incidents SET status = 'resolved', resolved_at = $2
         WHERE id = $1 AND opened_by_alert AND status NOT IN ('resolved', 'closed')
         AND NOT EXISTS (SELECT 1 FROM alerts WHERE incident_id = $1 AND status <> 'resolved')",
    )
    .bind(incident.0)
    .bind(to_millis(at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?
    .rows_affected();
    if n == 1 {
        insert_event(
            tx,
            &event(
                SubjectType::Incident,
                incident,
                at,
                EventKind::IncidentResolved,
                json!({"reason": "all alerts resolved"}),
            ),
        )
        .await?;
    }
    Ok(())
}
