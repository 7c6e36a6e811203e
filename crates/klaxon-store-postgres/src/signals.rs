//! Group commit on PostgreSQL: signals and heartbeats applied to alerts and incidents (SQLite
//! applies them in its own batch writer, `batch.rs`).
//!
//! Several instances may share the database, so whatever reads state and then writes on the
//! strength of it locks the service's row first: signals for one service are applied one
//! transaction at a time across instances (one open alert per dedup key, no duplicate
//! incidents), and a service cannot be deleted while a signal is opening an alert for it.
use jiff::Timestamp;
use klaxon_domain::alert::{AlertContent, AlertStatus, Candidate, Grouping, Step};
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{AlertId, IncidentId, ServiceId};
use klaxon_store::*;
use serde_json::json;
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::PgStore;
use crate::sql::alerts::service_from;
use crate::sql::engine::{insert_event, insert_job};
use crate::sql::*;

impl PgStore {
    /// Group commit's batches: all writes in one transaction, or, when that fails, each alone.
    pub(crate) async fn commit_writes(&self, writes: Vec<Write>) -> Vec<StoreResult<WriteAck>> {
        let whole = async {
            let mut tx = self.write_tx().await?;
            lock_signal_services(&mut tx, &writes).await?;
            let mut acks = Vec::with_capacity(writes.len());
            for w in &writes {
                acks.push(apply_write(&mut tx, w).await?);
            }
            tx.commit().await.map_err(map_err)?;
            Ok::<_, StoreError>(acks)
        };
        match whole.await {
            Ok(acks) => acks.into_iter().map(Ok).collect(),
            Err(batch_err) if writes.len() == 1 => vec![Err(batch_err)],
            Err(batch_err) => {
                if let Some(held_back) = klaxon_store::repeats::allow("pg-batch-failed") {
                    tracing::warn!(error = %batch_err, n = writes.len(), held_back, "batch failed; committing writes one by one");
                }
                let mut out = Vec::with_capacity(writes.len());
                for w in &writes {
                    let one = async {
                        let mut tx = self.write_tx().await?;
                        let ack = apply_write(&mut tx, w).await?;
                        tx.commit().await.map_err(map_err)?;
                        Ok(ack)
                    };
                    out.push(one.await);
                }
                out
            }
        }
    }
}

async fn apply_write(tx: &mut Transaction<'_, Postgres>, w: &Write) -> StoreResult<WriteAck> {
    match w {
        Write::Event(e) => Ok(WriteAck::Event {
            seq: insert_event(tx, e).await?,
        }),
        Write::Job(j) => Ok(WriteAck::Job(insert_job(tx, j).await?)),
        Write::Signal(sig) => Ok(WriteAck::Signal(apply_signal(tx, sig).await?)),
        Write::Heartbeat(hb) => {
            // The service's row before the integration's, the order delete_service takes them
            // in (its row, then the cascade): the other order could deadlock with it.
            lock_service(tx, hb.resolve.service_id).await?;
            let n = sqlx::query("UPDATE integrations SET last_ping_at = $2 WHERE id = $1")
                .bind(hb.resolve.integration_id.map(|i| i.0))
                .bind(to_millis(hb.resolve.at))
                .execute(&mut **tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            let ack = apply_signal(tx, &hb.resolve).await?;
            insert_job(tx, &hb.check).await?;
            Ok(WriteAck::Heartbeat(ack))
        }
    }
}

/// Locks, in id order, the rows of the services a batch's signals are for. Each signal locks
/// its service again (a no-op then); taking them all up front in one order means two instances
/// committing batches for the same services wait for each other instead of deadlocking.
async fn lock_signal_services(
    tx: &mut Transaction<'_, Postgres>,
    writes: &[Write],
) -> StoreResult<()> {
    let mut ids: Vec<Uuid> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Signal(s) => Some(s.service_id.0),
            Write::Heartbeat(hb) => Some(hb.resolve.service_id.0),
            Write::Event(_) | Write::Job(_) => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > 1 {
        sqlx::query("SELECT id FROM services WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ids)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(())
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
                 severity = $4, content = $5, payload = $6 WHERE id = $1",
            )
            .bind(id.0)
            .bind(at)
            .bind(&content.summary)
            .bind(content.severity.as_str())
            .bind(Json(content))
            .bind(w.signal.payload.as_deref())
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
         content, count, in_maintenance, created_at, last_seen_at, payload)
         VALUES ($1, $2, $3, $4, 'triggered', $5, $6, $7, 1, $8, $9, $9, $10)",
    )
    .bind(alert_id.0)
    .bind(service.id.0)
    .bind(w.integration_id.map(|i| i.0))
    .bind(w.signal.dedup_key.as_str())
    .bind(content.severity.as_str())
    .bind(&content.summary)
    .bind(Json(content))
    .bind(in_maintenance)
    .bind(at)
    .bind(w.signal.payload.as_deref())
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
               AND NOT is_drill
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
