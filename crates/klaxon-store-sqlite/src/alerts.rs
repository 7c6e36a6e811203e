//! Services, integrations, maintenance windows, alerts and incidents on SQLite.
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{AlertId, IncidentId, IntegrationId, MaintenanceWindowId, ServiceId};
use klaxon_store::*;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};

use super::{
    SqliteStore, corrupt, fk_not_found, get, get_id, get_json, get_opt_ts, get_parsed, get_ts,
    get_u32, insert_event, map_err, opt_id, opt_parsed, page,
};

fn from_json<T: serde::de::DeserializeOwned>(row: &SqliteRow, col: &str) -> StoreResult<T> {
    let v = get_json(row, col)?;
    serde_json::from_value(v.clone()).map_err(|_| corrupt(col, &v.to_string()))
}

fn service_from(row: &SqliteRow) -> StoreResult<Service> {
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

fn integration_from(row: &SqliteRow) -> StoreResult<Integration> {
    Ok(Integration {
        id: get_id(row, "id")?,
        service_id: get_id(row, "service_id")?,
        name: get(row, "name")?,
        kind: get_parsed(row, "kind")?,
        key_prefix: get(row, "key_prefix")?,
        rate_limit_per_minute: get_u32(row, "rate_limit_per_minute")?,
        heartbeat_interval_secs: get::<Option<i64>>(row, "heartbeat_interval_secs")?
            .map(|n| u32::try_from(n).map_err(|_| corrupt("heartbeat_interval_secs", "")))
            .transpose()?,
        last_ping_at: get_opt_ts(row, "last_ping_at")?,
        created_at: get_ts(row, "created_at")?,
        key_rotated_at: get_ts(row, "key_rotated_at")?,
    })
}

fn maintenance_from(row: &SqliteRow) -> StoreResult<MaintenanceWindow> {
    Ok(MaintenanceWindow {
        id: get_id(row, "id")?,
        service_id: get_id(row, "service_id")?,
        starts_at: get_ts(row, "starts_at")?,
        ends_at: get_ts(row, "ends_at")?,
        description: get(row, "description")?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn alert_from(row: &SqliteRow) -> StoreResult<Alert> {
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

pub(crate) fn incident_from(row: &SqliteRow) -> StoreResult<Incident> {
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

async fn service_in(tx: &mut Transaction<'_, Sqlite>, id: ServiceId) -> StoreResult<Service> {
    let row = sqlx::query("SELECT * FROM services WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    service_from(&row)
}

async fn integration_in(
    tx: &mut Transaction<'_, Sqlite>,
    id: IntegrationId,
) -> StoreResult<Integration> {
    let row = sqlx::query("SELECT * FROM integrations WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    integration_from(&row)
}

impl SqliteStore {
    pub(crate) async fn do_create_service(&self, s: Service, e: NewEvent) -> StoreResult<Service> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO services (id, name, description, urgency_rule, grouping, auto_resolve,
             created_at, updated_at, escalation_policy_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.id.to_string())
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.urgency_rule.as_str())
        .bind(serde_json::to_string(&s.grouping).unwrap_or_default())
        .bind(s.auto_resolve)
        .bind(to_millis(s.created_at))
        .bind(to_millis(s.updated_at))
        .bind(s.escalation_policy_id.map(|p| p.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(s)
    }

    pub(crate) async fn do_service(&self, id: ServiceId) -> StoreResult<Service> {
        let row = sqlx::query("SELECT * FROM services WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&self.reader)
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
            "SELECT * FROM services WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after.map(|a| a.to_string()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
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
        .bind(s.id.to_string())
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.urgency_rule.as_str())
        .bind(serde_json::to_string(&s.grouping).unwrap_or_default())
        .bind(s.auto_resolve)
        .bind(to_millis(s.updated_at))
        .bind(s.escalation_policy_id.map(|p| p.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?
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
        service_in(&mut tx, id).await?;
        let open: i64 = get(
            &sqlx::query(
                "SELECT COUNT(*) AS n FROM alerts WHERE service_id = $1 AND status <> 'resolved'",
            )
            .bind(id.to_string())
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
            .bind(id.to_string())
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
        .bind(i.id.to_string())
        .bind(i.service_id.to_string())
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
        .map_err(fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(n.integration)
    }

    pub(crate) async fn do_integration(&self, id: IntegrationId) -> StoreResult<Integration> {
        let row = sqlx::query("SELECT * FROM integrations WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        integration_from(&row)
    }

    pub(crate) async fn do_integration_by_key(&self, hash: &[u8; 32]) -> StoreResult<Integration> {
        let row = sqlx::query("SELECT * FROM integrations WHERE key_hash = $1")
            .bind(&hash[..])
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        integration_from(&row)
    }

    pub(crate) async fn do_list_integrations(
        &self,
        service: ServiceId,
    ) -> StoreResult<Vec<Integration>> {
        let rows = sqlx::query("SELECT * FROM integrations WHERE service_id = $1 ORDER BY id")
            .bind(service.to_string())
            .fetch_all(&self.reader)
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
        .bind(i.id.to_string())
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
        .bind(id.to_string())
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
            .bind(id.to_string())
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
        .bind(w.id.to_string())
        .bind(w.service_id.to_string())
        .bind(to_millis(w.starts_at))
        .bind(to_millis(w.ends_at))
        .bind(&w.description)
        .bind(to_millis(w.created_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
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
        .bind(service.to_string())
        .bind(to_millis(now))
        .fetch_all(&self.reader)
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
            .bind(id.to_string())
            .bind(service.to_string())
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
            .bind(id.to_string())
            .fetch_one(&self.reader)
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
            "SELECT * FROM alerts WHERE ($1 IS NULL OR service_id = $1)
             AND ($2 IS NULL OR incident_id = $2) AND ($3 IS NULL OR status = $3)
             AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
        )
        .bind(f.service_id.map(|i| i.to_string()))
        .bind(f.incident_id.map(|i| i.to_string()))
        .bind(f.status.map(|s| s.as_str()))
        .bind(after.map(|a| a.to_string()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
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
            .bind(id.to_string())
            .fetch_one(&self.reader)
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
            "SELECT * FROM incidents WHERE ($1 IS NULL OR service_id = $1)
             AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR number < $3)
             AND (NOT $5 OR status NOT IN ('resolved', 'closed'))
             AND ($6 IS NULL OR severity IN (SELECT value FROM json_each($6)))
             AND ($7 IS NULL OR created_at >= $7) AND ($8 IS NULL OR created_at < $8)
             AND ($9 IS NULL OR instr(lower(title), $9) > 0
                  OR instr(lower(description), $9) > 0)
             AND ($10 IS NULL OR reporter_id = $10
                  OR EXISTS (SELECT 1 FROM incident_roles r WHERE r.incident_id = incidents.id
                             AND r.user_id = $10 AND r.ended_at IS NULL)
                  OR EXISTS (SELECT 1 FROM notifications n WHERE n.incident_id = incidents.id
                             AND n.user_id = $10 AND n.dedup_key NOT LIKE 'update:%'))
             AND ($11 IS NULL OR service_id IN
                  (SELECT id FROM services WHERE escalation_policy_id = $11))
             ORDER BY number DESC LIMIT $4",
        )
        .bind(f.service_id.map(|i| i.to_string()))
        .bind(f.status.map(|s| s.as_str()))
        .bind(after)
        .bind(i64::from(limit) + 1)
        .bind(f.open)
        .bind((!f.severities.is_empty()).then(|| {
            serde_json::Value::from(f.severities.iter().map(|s| s.as_str()).collect::<Vec<_>>())
                .to_string()
        }))
        .bind(f.from.map(to_millis))
        .bind(f.to.map(to_millis))
        .bind(f.text.as_deref().map(str::to_lowercase))
        .bind(f.involving.map(|u| u.to_string()))
        .bind(f.escalation_policy.map(|p| p.to_string()))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        let items = rows
            .iter()
            .map(incident_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, limit, |i| i.number))
    }
}
