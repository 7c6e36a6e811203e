//! Services, integrations, maintenance windows, alerts and incidents.
//!
//! Several instances may share a PostgreSQL database, so whatever reads state and then writes on
//! the strength of it locks the service's row first (signals are applied in each backend's own
//! group commit: `batch.rs` on SQLite, `signals.rs` on PostgreSQL).
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{AlertId, IntegrationId, MaintenanceWindowId, ServiceId};
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::insert_event;
use super::*;

pub(crate) fn service_from(row: &DbRow) -> StoreResult<Service> {
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

fn integration_from(row: &DbRow) -> StoreResult<Integration> {
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

fn maintenance_from(row: &DbRow) -> StoreResult<MaintenanceWindow> {
    Ok(MaintenanceWindow {
        id: get_id(row, "id")?,
        service_id: get_id(row, "service_id")?,
        starts_at: get_ts(row, "starts_at")?,
        ends_at: get_ts(row, "ends_at")?,
        description: get(row, "description")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// An alert's columns without its payload, which only the alert page reads: lists of
/// hundreds of alerts do not carry their events as sent.
macro_rules! alert_columns {
    () => {
        "id, service_id, integration_id, incident_id, dedup_key, status, content, count,
         in_maintenance, created_at, last_seen_at, acknowledged_at, resolved_at"
    };
}

fn alert_from(row: &DbRow) -> StoreResult<Alert> {
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

pub(crate) fn incident_from(row: &DbRow) -> StoreResult<Incident> {
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
        is_drill: get(row, "is_drill")?,
    })
}

async fn service_in(tx: &mut Transaction<'_, Db>, id: ServiceId) -> StoreResult<Service> {
    let row = sqlx::query("SELECT * FROM services WHERE id = $1")
        .bind(db_id(id))
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    service_from(&row)
}

async fn integration_in(
    tx: &mut Transaction<'_, Db>,
    id: IntegrationId,
) -> StoreResult<Integration> {
    let row = sqlx::query("SELECT * FROM integrations WHERE id = $1")
        .bind(db_id(id))
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    integration_from(&row)
}

#[async_trait]
impl AlertStore for DbStore {
    async fn create_service(&self, s: Service, e: NewEvent) -> StoreResult<Service> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO services (id, name, description, urgency_rule, grouping, auto_resolve,
             created_at, updated_at, escalation_policy_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(db_id(s.id))
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.urgency_rule.as_str())
        .bind(json(&s.grouping))
        .bind(s.auto_resolve)
        .bind(to_millis(s.created_at))
        .bind(to_millis(s.updated_at))
        .bind(s.escalation_policy_id.map(db_id))
        .execute(&mut *tx)
        .await
        // The only foreign key: the escalation policy does not exist.
        .map_err(fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(s)
    }

    async fn service(&self, id: ServiceId) -> StoreResult<Service> {
        let row = sqlx::query("SELECT * FROM services WHERE id = $1")
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        service_from(&row)
    }

    async fn services_named(&self, name: &str) -> StoreResult<Vec<(ServiceId, String)>> {
        let sql = "SELECT id, name FROM services WHERE lower(name) = lower($1)";
        named(self.reader(), sql, name, get_id::<ServiceId>).await
    }

    async fn list_services(
        &self,
        after: Option<ServiceId>,
        limit: u32,
    ) -> StoreResult<Page<Service, ServiceId>> {
        page_by_id(
            self.reader(),
            "SELECT * FROM services WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
            after,
            limit,
            service_from,
            |s| s.id,
        )
        .await
    }

    async fn update_service(&self, s: Service, e: NewEvent) -> StoreResult<Service> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE services SET name = $2, description = $3, urgency_rule = $4,
             grouping = $5, auto_resolve = $6, updated_at = $7, escalation_policy_id = $8
             WHERE id = $1",
        )
        .bind(db_id(s.id))
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.urgency_rule.as_str())
        .bind(json(&s.grouping))
        .bind(s.auto_resolve)
        .bind(to_millis(s.updated_at))
        .bind(s.escalation_policy_id.map(db_id))
        .execute(&mut *tx)
        .await
        // The only foreign key: the escalation policy does not exist.
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

    async fn delete_service(&self, id: ServiceId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Locked until commit: a signal for this service waits, then finds it gone, instead of
        // opening an alert between the count and the delete.
        sqlx::query(concat!(
            "SELECT id FROM services WHERE id = $1",
            for_update!()
        ))
        .bind(db_id(id))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let open: i64 = get(
            &sqlx::query(
                "SELECT COUNT(*) AS n FROM alerts WHERE service_id = $1 AND status <> 'resolved'",
            )
            .bind(db_id(id))
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
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn create_integration(&self, n: NewIntegration, e: NewEvent) -> StoreResult<Integration> {
        let i = &n.integration;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO integrations (id, service_id, name, kind, key_prefix, key_hash,
             rate_limit_per_minute, heartbeat_interval_secs, last_ping_at, created_at,
             key_rotated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(db_id(i.id))
        .bind(db_id(i.service_id))
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

    async fn integration(&self, id: IntegrationId) -> StoreResult<Integration> {
        let row = sqlx::query("SELECT * FROM integrations WHERE id = $1")
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        integration_from(&row)
    }

    async fn integrations_named(&self, name: &str) -> StoreResult<Vec<(IntegrationId, String)>> {
        let sql = "SELECT id, name FROM integrations WHERE lower(name) = lower($1)";
        named(self.reader(), sql, name, get_id::<IntegrationId>).await
    }

    async fn integration_by_key(&self, hash: &[u8; 32]) -> StoreResult<Integration> {
        let row = sqlx::query("SELECT * FROM integrations WHERE key_hash = $1")
            .bind(&hash[..])
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        integration_from(&row)
    }

    async fn list_integrations(&self, service: ServiceId) -> StoreResult<Vec<Integration>> {
        let rows = sqlx::query("SELECT * FROM integrations WHERE service_id = $1 ORDER BY id")
            .bind(db_id(service))
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?;
        rows.iter().map(integration_from).collect()
    }

    async fn update_integration(&self, i: Integration, e: NewEvent) -> StoreResult<Integration> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE integrations SET name = $2, rate_limit_per_minute = $3,
             heartbeat_interval_secs = $4 WHERE id = $1",
        )
        .bind(db_id(i.id))
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

    async fn rotate_integration_key(
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
        .bind(db_id(id))
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

    async fn delete_integration(&self, id: IntegrationId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM integrations WHERE id = $1")
            .bind(db_id(id))
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

    async fn create_maintenance(
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
        .bind(db_id(w.id))
        .bind(db_id(w.service_id))
        .bind(to_millis(w.starts_at))
        .bind(to_millis(w.ends_at))
        .bind(&w.description)
        .bind(to_millis(w.created_at))
        .execute(&mut *tx)
        .await
        // The service was deleted since the check above.
        .map_err(fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(w)
    }

    async fn list_maintenance(
        &self,
        service: ServiceId,
        now: Timestamp,
    ) -> StoreResult<Vec<MaintenanceWindow>> {
        let rows = sqlx::query(
            "SELECT * FROM maintenance_windows WHERE service_id = $1 AND ends_at > $2
             ORDER BY starts_at, id",
        )
        .bind(db_id(service))
        .bind(to_millis(now))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(maintenance_from).collect()
    }

    async fn delete_maintenance(
        &self,
        service: ServiceId,
        id: MaintenanceWindowId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM maintenance_windows WHERE id = $1 AND service_id = $2")
            .bind(db_id(id))
            .bind(db_id(service))
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

    async fn alert(&self, id: AlertId) -> StoreResult<Alert> {
        let row = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE id = $1"
        ))
        .bind(db_id(id))
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        alert_from(&row)
    }

    async fn alert_payload(&self, id: AlertId) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT payload FROM alerts WHERE id = $1")
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        get(&row, "payload")
    }

    async fn list_alerts(
        &self,
        f: &AlertFilter,
        after: Option<AlertId>,
        limit: u32,
    ) -> StoreResult<Page<Alert, AlertId>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE ($1 IS NULL OR service_id = $1)
             AND ($2 IS NULL OR incident_id = $2) AND ($3 IS NULL OR status = $3)
             AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
        ))
        .bind(f.service_id.map(db_id))
        .bind(f.incident_id.map(db_id))
        .bind(f.status.map(|s| s.as_str()))
        .bind(after.map(db_id))
        .bind(i64::from(limit) + 1)
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        let items = rows
            .iter()
            .map(alert_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, limit, |a| a.id))
    }

    async fn commit_batch(&self, writes: Vec<Write>) -> Vec<StoreResult<WriteAck>> {
        self.commit_writes(writes).await
    }
}
