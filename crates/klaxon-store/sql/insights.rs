//! Insights' reads: a period's incidents with their alert facts, and the pages people got.
use std::collections::HashMap;

use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::{from_millis, to_millis};
use klaxon_domain::ids::{EscalationPolicyId, ServiceId};
use klaxon_domain::incident::Milestones;
use klaxon_store::*;

use super::*;

/// The insights read's columns, in [`INCIDENTS`]' order.
const INCIDENT_COLS: [&str; 13] = [
    "created_at",
    "number",
    "service_id",
    "severity",
    "category",
    "impact_started_at",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "alerts_grouped",
    "alerts_self_resolved",
];

/// A period's incidents, drills left out. The alert facts are the incident's roll-up columns,
/// kept by triggers in every write of an alert or its resolution event (migration
/// 20261121000025): a year of incidents would otherwise count 2,000,000 alerts and probe their
/// events per read. Only the columns the reports use (on SQLite, all in the index
/// incidents_insight). Unsorted: a sort in the query cost more than one here.
const INCIDENTS: &str = "SELECT i.created_at, i.number, i.service_id, i.severity, i.category,
        i.impact_started_at, i.detected_at, i.acknowledged_at, i.mitigated_at,
        i.resolved_at, i.closed_at, i.alerts_grouped, i.alerts_self_resolved
     FROM incidents i WHERE i.created_at >= $1 AND i.created_at < $2 AND NOT i.is_drill";

/// One incident of [`INCIDENTS`], with its number for the order.
fn incident_from(c: &dyn Cols) -> StoreResult<(i64, InsightIncident)> {
    let int = |i: usize| c.int(i);
    let need = |i: usize| required(c.int(i)?, INCIDENT_COLS[i]);
    let ts = |i: usize| Ok::<_, StoreError>(int(i)?.map(from_millis));
    let created_at = from_millis(need(0)?);
    let severity = c
        .text(3)?
        .map(|s| s.parse().map_err(|_| corrupt("severity", &s)))
        .transpose()?;
    Ok((
        need(1)?,
        InsightIncident {
            created_at,
            service_id: c.uuid(2)?.map(ServiceId::from),
            // Filled in from the service after the read.
            policy_id: None,
            severity,
            category: c.text(4)?,
            milestones: Milestones {
                impact_started_at: ts(5)?,
                detected_at: ts(6)?,
                declared_at: Some(created_at),
                acknowledged_at: ts(7)?,
                mitigated_at: ts(8)?,
                resolved_at: ts(9)?,
                closed_at: ts(10)?,
            },
            alerts: need(11)?.max(0) as u64,
            self_resolved_alerts: need(12)?.max(0) as u64,
        },
    ))
}

/// The pages of a period, from insight_pages (the notifications that count as pages, kept by
/// triggers): one escalation step writes a person's notifications at one instant, so each
/// (user, incident, created_at) is one interruption, counted once after the read. NOT IN reads
/// the few drills once.
const PAGES: &str = "SELECT p.user_id, p.incident_id, p.created_at
     FROM insight_pages p
     WHERE p.created_at >= $1 AND p.created_at < $2
       AND p.incident_id NOT IN (SELECT d.id FROM incidents d WHERE d.is_drill)";

fn page_from(c: &dyn Cols) -> StoreResult<InsightPage> {
    Ok(InsightPage {
        user_id: required(c.uuid(0)?, "user_id")?.into(),
        incident_id: required(c.uuid(1)?, "incident_id")?.into(),
        at: from_millis(required(c.int(2)?, "created_at")?),
    })
}

#[async_trait]
impl InsightStore for DbStore {
    async fn insight_incidents(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<InsightIncident>> {
        let mut rows = self
            .bulk_rows(
                INCIDENTS,
                vec![to_millis(from), to_millis(to)],
                incident_from,
            )
            .await?;
        rows.sort_unstable_by_key(|(number, i)| (i.created_at, *number));
        // Each service's escalation policy (the team), read once rather than joined per row.
        let policies: HashMap<ServiceId, Option<EscalationPolicyId>> =
            sqlx::query("SELECT id, escalation_policy_id FROM services")
                .fetch_all(self.reader())
                .await
                .map_err(map_err)?
                .iter()
                .map(|row| Ok((get_id(row, "id")?, opt_id(row, "escalation_policy_id")?)))
                .collect::<StoreResult<_>>()?;
        Ok(rows
            .into_iter()
            .map(|(_, mut i)| {
                i.policy_id = i
                    .service_id
                    .and_then(|s| policies.get(&s).copied().flatten());
                i
            })
            .collect())
    }

    async fn insight_pages(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<InsightPage>> {
        let mut pages = self
            .bulk_rows(PAGES, vec![to_millis(from), to_millis(to)], page_from)
            .await?;
        pages.sort_unstable_by_key(|p| (p.at, p.user_id, p.incident_id));
        pages.dedup();
        Ok(pages)
    }
}
