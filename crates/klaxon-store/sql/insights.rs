//! Insights' reads: a period's incidents with their alert facts, and the pages people got.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::incident::Milestones;
use klaxon_store::*;

use super::*;

#[async_trait]
impl InsightStore for DbStore {
    async fn insight_incidents(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<InsightIncident>> {
        // The alert facts are the incident's roll-up columns, kept by triggers in every write
        // of an alert or its resolution event (migration 20261121000025): a year of incidents
        // would otherwise count 2,000,000 alerts and probe their events per read. Only the
        // columns the reports use.
        let rows = sqlx::query(
            "SELECT i.created_at, i.service_id, s.escalation_policy_id AS policy_id, i.severity,
                    i.category, i.impact_started_at, i.detected_at, i.acknowledged_at,
                    i.mitigated_at, i.resolved_at, i.closed_at, i.alerts_grouped,
                    i.alerts_self_resolved
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
                let created_at = get_ts(row, "created_at")?;
                Ok(InsightIncident {
                    created_at,
                    service_id: opt_id(row, "service_id")?,
                    policy_id: opt_id(row, "policy_id")?,
                    severity: opt_parsed(row, "severity")?,
                    category: get(row, "category")?,
                    milestones: Milestones {
                        impact_started_at: get_opt_ts(row, "impact_started_at")?,
                        detected_at: get_opt_ts(row, "detected_at")?,
                        declared_at: Some(created_at),
                        acknowledged_at: get_opt_ts(row, "acknowledged_at")?,
                        mitigated_at: get_opt_ts(row, "mitigated_at")?,
                        resolved_at: get_opt_ts(row, "resolved_at")?,
                        closed_at: get_opt_ts(row, "closed_at")?,
                    },
                    alerts: get::<i64>(row, "alerts_grouped")?.max(0) as u64,
                    self_resolved_alerts: get::<i64>(row, "alerts_self_resolved")?.max(0) as u64,
                })
            })
            .collect()
    }

    async fn insight_pages(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<InsightPage>> {
        // One escalation step writes a person's notifications in one transaction at one
        // instant: (user, incident, created_at) is one interruption. The conditions are those
        // of the index notifications_pages, so only the index is read; NOT IN reads the few
        // drills once. Without an incident (a test page) it is no page.
        let rows = sqlx::query(
            "SELECT DISTINCT n.user_id, n.incident_id, n.created_at
             FROM notifications n
             WHERE n.created_at >= $1 AND n.created_at < $2
               AND n.status IN ('sent', 'sending', 'failed')
               AND n.dedup_key NOT LIKE 'update:%'
               AND n.incident_id IS NOT NULL
               AND n.incident_id NOT IN (SELECT d.id FROM incidents d WHERE d.is_drill)
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
