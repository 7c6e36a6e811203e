//! The error budget resolved incidents burned, per SLO of their service.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::ids::IncidentId;
use klaxon_store::*;

use super::*;

/// An incident's impact start, or its declaration without one: where its burn begins.
macro_rules! burn_from {
    () => {
        "COALESCE(i.impact_started_at, i.created_at)"
    };
}

macro_rules! burn_columns {
    () => {
        "b.incident_id, b.slo_id, b.from_at, b.to_at, b.bad, b.total, b.allowed, b.computed_at"
    };
}

fn burn_from_row(row: &DbRow) -> StoreResult<IncidentBurn> {
    Ok(IncidentBurn {
        incident_id: get_id(row, "incident_id")?,
        slo_id: get_id(row, "slo_id")?,
        from: get_ts(row, "from_at")?,
        to: get_ts(row, "to_at")?,
        bad: get(row, "bad")?,
        total: get(row, "total")?,
        allowed: get(row, "allowed")?,
        computed_at: get_ts(row, "computed_at")?,
    })
}

#[async_trait]
impl SloBurnStore for DbStore {
    async fn due_incident_burns(
        &self,
        since: Timestamp,
        settled: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<BurnDue>> {
        // Few SLOs, each leading to its service's resolved incidents of the period by the
        // index incidents_service_resolved.
        let rows = sqlx::query(concat!(
            "SELECT i.id AS incident_id, s.id AS slo_id, ",
            burn_from!(),
            " AS from_at, i.resolved_at
             FROM slos s
             JOIN incidents i ON i.service_id = s.service_id
             LEFT JOIN incident_slo_burns b ON b.incident_id = i.id AND b.slo_id = s.id
             WHERE i.resolved_at IS NOT NULL AND i.resolved_at >= $1 AND i.resolved_at <= $2
               AND NOT i.is_drill AND s.silent_since IS NULL
               AND (b.incident_id IS NULL OR b.to_at <> i.resolved_at OR b.from_at <> ",
            burn_from!(),
            " OR b.computed_at < s.updated_at)
             ORDER BY i.resolved_at, i.id, s.id
             LIMIT $3"
        ))
        .bind(to_millis(since))
        .bind(to_millis(settled))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(BurnDue {
                    incident_id: get_id(row, "incident_id")?,
                    slo_id: get_id(row, "slo_id")?,
                    from: get_ts(row, "from_at")?,
                    to: get_ts(row, "resolved_at")?,
                })
            })
            .collect()
    }

    async fn record_incident_burn(&self, b: &IncidentBurn) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Written only while both exist: the incident or the SLO may be deleted meanwhile.
        sqlx::query(
            "INSERT INTO incident_slo_burns
                 (incident_id, slo_id, from_at, to_at, bad, total, allowed, computed_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8
             WHERE EXISTS (SELECT 1 FROM incidents WHERE id = $1)
               AND EXISTS (SELECT 1 FROM slos WHERE id = $2)
             ON CONFLICT (incident_id, slo_id) DO UPDATE
             SET from_at = excluded.from_at, to_at = excluded.to_at, bad = excluded.bad,
                 total = excluded.total, allowed = excluded.allowed,
                 computed_at = excluded.computed_at",
        )
        .bind(db_id(b.incident_id))
        .bind(db_id(b.slo_id))
        .bind(to_millis(b.from))
        .bind(to_millis(b.to))
        .bind(b.bad)
        .bind(b.total)
        .bind(b.allowed)
        .bind(to_millis(b.computed_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn incident_burns(&self, incident: IncidentId) -> StoreResult<Vec<IncidentBurn>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            burn_columns!(),
            " FROM incident_slo_burns b WHERE b.incident_id = $1 ORDER BY b.slo_id"
        ))
        .bind(db_id(incident))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(burn_from_row).collect()
    }

    async fn period_burns(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<RankedBurn>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            burn_columns!(),
            ", i.number, i.title, i.severity, i.service_id
             FROM incident_slo_burns b JOIN incidents i ON i.id = b.incident_id
             JOIN slos s ON s.id = b.slo_id AND s.service_id = i.service_id
             WHERE i.created_at >= $1 AND i.created_at < $2 AND NOT i.is_drill
               AND b.to_at = i.resolved_at AND b.from_at = ",
            burn_from!(),
            " ORDER BY i.created_at, i.number, b.slo_id"
        ))
        .bind(to_millis(from))
        .bind(to_millis(to))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(RankedBurn {
                    burn: burn_from_row(row)?,
                    number: get(row, "number")?,
                    title: get(row, "title")?,
                    severity: opt_parsed(row, "severity")?,
                    service_id: get_id(row, "service_id")?,
                })
            })
            .collect()
    }
}
