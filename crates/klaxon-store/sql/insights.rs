//! Insights' reads: a period's incidents with their alert facts, and the pages people got.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_store::*;

use super::alerts::incident_from;
use super::*;

#[async_trait]
impl InsightStore for DbStore {
    async fn insight_incidents(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<InsightIncident>> {
        // Self-resolved: the alert's own resolution came from its monitor (the system resolved
        // it, not a person moving the incident) and nobody had acknowledged it.
        let rows = sqlx::query(
            "SELECT i.*, s.escalation_policy_id AS policy_id,
                    (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id) AS alerts_total,
                    (SELECT COUNT(*) FROM alerts a
                      WHERE a.incident_id = i.id AND a.status = 'resolved'
                        AND a.acknowledged_at IS NULL
                        AND EXISTS (SELECT 1 FROM events e
                                     WHERE e.subject_type = 'alert'
                                       AND e.subject_id = CAST(a.id AS TEXT)
                                       AND e.kind = 'alert.resolved' AND e.actor = 'system'))
                    AS alerts_self_resolved
             FROM incidents i LEFT JOIN services s ON s.id = i.service_id
             WHERE i.created_at >= $1 AND i.created_at < $2 AND NOT i.is_drill
             ORDER BY i.created_at, i.number",
        )
        .bind(to_millis(from))
        .bind(to_millis(to))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(InsightIncident {
                    incident: incident_from(row)?,
                    policy_id: opt_id(row, "policy_id")?,
                    alerts: get::<i64>(row, "alerts_total")?.max(0) as u64,
                    self_resolved_alerts: get::<i64>(row, "alerts_self_resolved")?.max(0) as u64,
                })
            })
            .collect()
    }

    async fn insight_pages(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<InsightPage>> {
        // One escalation step writes a person's notifications in one transaction at one
        // instant: (user, incident, created_at) is one interruption.
        let rows = sqlx::query(
            "SELECT DISTINCT n.user_id, n.incident_id, n.created_at
             FROM notifications n JOIN incidents i ON i.id = n.incident_id
             WHERE n.created_at >= $1 AND n.created_at < $2 AND NOT i.is_drill
               AND n.status IN ('sent', 'sending', 'failed')
               AND n.dedup_key NOT LIKE 'update:%'
             ORDER BY n.created_at, n.user_id, n.incident_id",
        )
        .bind(to_millis(from))
        .bind(to_millis(to))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(InsightPage {
                    user_id: get_id(row, "user_id")?,
                    incident_id: get_id(row, "incident_id")?,
                    at: get_ts(row, "created_at")?,
                })
            })
            .collect()
    }
}
