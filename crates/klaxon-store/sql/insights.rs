//! Insights' reads: a period's incidents with their alert facts, and the pages people got.
use std::collections::HashMap;

use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::{from_millis, to_millis};
use klaxon_domain::ids::{EscalationPolicyId, ServiceId};
use klaxon_domain::incident::Milestones;
use klaxon_store::*;

use super::*;

/// One incident as the insights read packs it, in its columns' order: declared at, number,
/// service, severity, category, six milestones, alerts grouped and self-resolved.
#[derive(serde::Deserialize)]
struct Packed(
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
);

impl Packed {
    fn incident(self, policy: Option<String>) -> StoreResult<InsightIncident> {
        fn id<T: From<uuid::Uuid>>(col: &str, v: Option<String>) -> StoreResult<Option<T>> {
            v.map(|s| json_id(col, &s)).transpose()
        }
        let ts = |ms: Option<i64>| ms.map(from_millis);
        let created_at = from_millis(self.0);
        Ok(InsightIncident {
            created_at,
            service_id: id("service_id", self.2)?,
            policy_id: id("escalation_policy_id", policy)?,
            severity: self
                .3
                .map(|s| s.parse().map_err(|_| corrupt("severity", &s)))
                .transpose()?,
            category: self.4,
            milestones: Milestones {
                impact_started_at: ts(self.5),
                detected_at: ts(self.6),
                declared_at: Some(created_at),
                acknowledged_at: ts(self.7),
                mitigated_at: ts(self.8),
                resolved_at: ts(self.9),
                closed_at: ts(self.10),
            },
            alerts: self.11.max(0) as u64,
            self_resolved_alerts: self.12.max(0) as u64,
        })
    }
}

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
        // columns the reports use (on SQLite, all in the index incidents_insight), packed into
        // one JSON value: a year is 100,000 rows, and handing them over one by one cost SQLite
        // several times the query itself. Sorted here: a sort in the query cost more.
        let packed: String = sqlx::query_scalar(concat!(
            "SELECT ",
            json_rows!(
                "i.created_at, i.number, i.service_id, i.severity, i.category,
                 i.impact_started_at, i.detected_at, i.acknowledged_at, i.mitigated_at,
                 i.resolved_at, i.closed_at, i.alerts_grouped, i.alerts_self_resolved"
            ),
            " FROM incidents i WHERE i.created_at >= $1 AND i.created_at < $2 AND NOT i.is_drill"
        ))
        .bind(to_millis(from))
        .bind(to_millis(to))
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        let mut rows: Vec<Packed> =
            serde_json::from_str(&packed).map_err(|e| corrupt("insight rows", &e.to_string()))?;
        rows.sort_unstable_by_key(|r| (r.0, r.1));
        // Each service's escalation policy (the team), read once rather than joined per row.
        let policies: HashMap<String, Option<String>> =
            sqlx::query("SELECT id, escalation_policy_id FROM services")
                .fetch_all(self.reader())
                .await
                .map_err(map_err)?
                .iter()
                .map(|row| {
                    let id: Option<EscalationPolicyId> = opt_id(row, "escalation_policy_id")?;
                    let svc: ServiceId = get_id(row, "id")?;
                    Ok((svc.to_string(), id.map(|p| p.to_string())))
                })
                .collect::<StoreResult<_>>()?;
        rows.into_iter()
            .map(|r| {
                let policy =
                    r.2.as_ref()
                        .and_then(|s| policies.get(s).cloned().flatten());
                r.incident(policy)
            })
            .collect()
    }

    async fn insight_pages(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<InsightPage>> {
        // One escalation step writes a person's notifications in one transaction at one
        // instant: (user, incident, created_at) is one interruption. The conditions are those
        // of the index notifications_pages, so only the index is read; NOT IN reads the few
        // drills once. Without an incident (a test page) it is no page. Row by row, not
        // packed with json_rows!: PostgreSQL took three times as long building the JSON of a
        // year's 175,000 pages (p99 847 ms against 247), and SQLite gained less than that.
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
