//! The group-commit write path, on one rusqlite connection.
//!
//! sqlx runs every SQLite statement on a worker thread and answers over a channel: two thread
//! switches per statement. With ten statements per new alert that capped ingestion near 3,000
//! alerts/s, the time spent almost all in the scheduler (docs/performance.md). Here a whole
//! batch runs in one blocking call with cached prepared statements: one switch per batch.
//!
//! The rules are the domain's ([`Step::decide`], [`Grouping::choose`]); this reads what they
//! need and writes what they say, with every change's event in the same transaction.
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use klaxon_domain::alert::{AlertContent, AlertStatus, Candidate, Grouping, Step};
use klaxon_domain::clock::{from_millis, to_millis};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{AlertId, IncidentId, ServiceId};
use klaxon_store::*;

use crate::sql::corrupt;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde_json::json;

/// rusqlite's errors as the store's.
pub(crate) trait Db<T> {
    fn db(self) -> StoreResult<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> StoreResult<T> {
        self.map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(f, Some(msg))
                if matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                // "UNIQUE constraint failed: alerts.service_id, alerts.dedup_key" -> the first
                // column, as the sqlx path names it.
                let cols = msg.rsplit(": ").next().unwrap_or(&msg);
                let first = cols.split(", ").next().unwrap_or(cols);
                StoreError::Conflict {
                    constraint: first.replace('.', "_"),
                }
            }
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    ErrorCode::DatabaseBusy
                        | ErrorCode::DatabaseLocked
                        | ErrorCode::CannotOpen
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::DiskFull
                ) =>
            {
                StoreError::Unavailable(Box::new(e))
            }
            e => StoreError::Other(Box::new(e)),
        })
    }
}

fn parsed<T: std::str::FromStr>(row: &Row<'_>, col: &str) -> StoreResult<T> {
    let s: String = row.get(col).db()?;
    s.parse().map_err(|_| corrupt(col, &s))
}

fn from_json<T: serde::de::DeserializeOwned>(row: &Row<'_>, col: &str) -> StoreResult<T> {
    let s: String = row.get(col).db()?;
    serde_json::from_str(&s).map_err(|_| corrupt(col, &s))
}

/// The writer connection. Its own thread is tokio's blocking pool; the mutex only makes the
/// single use explicit (the group-commit writer never sends two batches at once).
pub(crate) struct BatchWriter {
    conn: Arc<Mutex<Connection>>,
}

impl BatchWriter {
    /// Opens the (already migrated) database with the same settings as the sqlx pools.
    pub(crate) fn open(path: &Path) -> StoreResult<Self> {
        let conn = Connection::open(path).db()?;
        conn.busy_timeout(Duration::from_secs(5)).db()?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .db()?;
        // FULL: every commit is fsync'd before it is acknowledged. Group commit pays for it.
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .db()?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Commits the writes in one transaction. When that fails, each write is retried in its
    /// own transaction, so one bad write does not sink the others.
    pub(crate) async fn commit(&self, writes: Vec<Write>) -> Vec<StoreResult<WriteAck>> {
        let conn = self.conn.clone();
        let n = writes.len();
        let run = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            commit_all(&mut conn, &writes)
        });
        match run.await {
            Ok(acks) => acks,
            Err(e) => (0..n)
                .map(|_| {
                    Err(StoreError::Other(
                        format!("batch writer failed: {e}").into(),
                    ))
                })
                .collect(),
        }
    }
}

fn commit_all(conn: &mut Connection, writes: &[Write]) -> Vec<StoreResult<WriteAck>> {
    let in_one = |conn: &mut Connection, writes: &[Write]| -> StoreResult<Vec<WriteAck>> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()?;
        let mut services = HashMap::new();
        let acks = writes
            .iter()
            .map(|w| apply_write(&tx, &mut services, w))
            .collect::<StoreResult<Vec<_>>>()?;
        tx.commit().db()?;
        Ok(acks)
    };
    match in_one(conn, writes) {
        Ok(acks) => acks.into_iter().map(Ok).collect(),
        Err(e) if writes.len() == 1 => vec![Err(e)],
        Err(e) => {
            if let Some(held_back) = klaxon_store::repeats::allow("sqlite-batch-failed") {
                tracing::warn!(error = %e, n = writes.len(), held_back, "batch failed; committing writes one by one");
            }
            writes
                .iter()
                .map(|w| {
                    in_one(conn, std::slice::from_ref(w))
                        .map(|mut acks| acks.pop().expect("one write, one ack"))
                })
                .collect()
        }
    }
}

/// Services read in this batch: a burst of alerts for one service reads its row once.
type Services = HashMap<ServiceId, Service>;

fn apply_write(tx: &Transaction<'_>, services: &mut Services, w: &Write) -> StoreResult<WriteAck> {
    match w {
        Write::Event(e) => Ok(WriteAck::Event {
            seq: insert_event(tx, e)?,
        }),
        Write::Job(j) => Ok(WriteAck::Job(insert_job(tx, j)?)),
        Write::Signal(sig) => Ok(WriteAck::Signal(apply_signal(tx, services, sig)?)),
        Write::Heartbeat(hb) => {
            let n = tx
                .prepare_cached("UPDATE integrations SET last_ping_at = ?2 WHERE id = ?1")
                .db()?
                .execute((
                    hb.resolve.integration_id.map(|i| i.to_string()),
                    to_millis(hb.resolve.at),
                ))
                .db()?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            let ack = apply_signal(tx, services, &hb.resolve)?;
            insert_job(tx, &hb.check)?;
            Ok(WriteAck::Heartbeat(ack))
        }
    }
}

fn insert_event(tx: &Transaction<'_>, e: &NewEvent) -> StoreResult<i64> {
    tx.prepare_cached(
        "INSERT INTO events (subject_type, subject_id, at, actor, kind, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .db()?
    .execute((
        e.subject_type.as_str(),
        &e.subject_id,
        to_millis(e.at),
        e.actor.encode(),
        e.kind.as_str(),
        e.data.to_string(),
    ))
    .db()?;
    Ok(tx.last_insert_rowid())
}

fn insert_job(tx: &Transaction<'_>, j: &NewJob) -> StoreResult<Enqueued> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO jobs (id, kind, dedup_key, payload, run_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND dead_at IS NULL DO NOTHING",
        )
        .db()?
        .execute((
            j.id.to_string(),
            &j.kind,
            &j.dedup_key,
            j.payload.to_string(),
            to_millis(j.run_at),
            to_millis(j.created_at),
        ))
        .db()?;
    if inserted == 1 {
        return Ok(Enqueued::New(j.id));
    }
    let id: String = tx
        .prepare_cached("SELECT id FROM jobs WHERE dedup_key = ?1 AND dead_at IS NULL")
        .db()?
        .query_row([&j.dedup_key], |r| r.get(0))
        .db()?;
    Ok(Enqueued::Existing(
        id.parse().map_err(|_| corrupt("jobs.id", &id))?,
    ))
}

fn service<'s>(
    tx: &Transaction<'_>,
    services: &'s mut Services,
    id: ServiceId,
) -> StoreResult<&'s Service> {
    let slot = match services.entry(id) {
        Entry::Occupied(known) => return Ok(known.into_mut()),
        Entry::Vacant(slot) => slot,
    };
    let mut stmt = tx
        .prepare_cached(
            "SELECT id, name, description, urgency_rule, grouping, auto_resolve, created_at,
             updated_at, escalation_policy_id FROM services WHERE id = ?1",
        )
        .db()?;
    let mut rows = stmt.query([id.to_string()]).db()?;
    let row = rows.next().db()?.ok_or(StoreError::NotFound)?;
    Ok(slot.insert(Service {
        id: parsed(row, "id")?,
        name: row.get("name").db()?,
        description: row.get("description").db()?,
        urgency_rule: parsed(row, "urgency_rule")?,
        grouping: from_json(row, "grouping")?,
        auto_resolve: row.get("auto_resolve").db()?,
        escalation_policy_id: row
            .get::<_, Option<String>>("escalation_policy_id")
            .db()?
            .map(|p| p.parse().map_err(|_| corrupt("escalation_policy_id", &p)))
            .transpose()?,
        created_at: from_millis(row.get("created_at").db()?),
        updated_at: from_millis(row.get("updated_at").db()?),
    }))
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

/// Applies one signal inside the batch's transaction.
fn apply_signal(
    tx: &Transaction<'_>,
    services: &mut Services,
    w: &SignalWrite,
) -> StoreResult<SignalAck> {
    let service = service(tx, services, w.service_id)?;
    let at = to_millis(w.at);
    let open = tx
        .prepare_cached(
            "SELECT id, status, incident_id FROM alerts
             WHERE service_id = ?1 AND dedup_key = ?2 AND status <> 'resolved'",
        )
        .db()?
        .query_row(
            (w.service_id.to_string(), w.signal.dedup_key.as_str()),
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            },
        )
        .optional()
        .db()?;
    let open = match open {
        Some((id, status, incident)) => Some((
            id.parse::<AlertId>()
                .map_err(|_| corrupt("alerts.id", &id))?,
            status
                .parse::<AlertStatus>()
                .map_err(|_| corrupt("alerts.status", &status))?,
            incident
                .map(|i| {
                    i.parse::<IncidentId>()
                        .map_err(|_| corrupt("alerts.incident_id", &i))
                })
                .transpose()?,
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
            tx.prepare_cached(
                "UPDATE alerts SET count = count + 1, last_seen_at = ?2, summary = ?3,
                 severity = ?4, content = ?5, payload = ?6 WHERE id = ?1",
            )
            .db()?
            .execute((
                id.to_string(),
                at,
                &content.summary,
                content.severity.as_str(),
                serde_json::to_string(content).unwrap_or_default(),
                w.signal.payload.as_deref(),
            ))
            .db()?;
            insert_event(
                tx,
                &event(
                    SubjectType::Alert,
                    id,
                    w.at,
                    EventKind::AlertDeduplicated,
                    json!({"summary": content.summary, "severity": content.severity}),
                ),
            )?;
        }
        (Step::Acknowledge, Some((id, _, incident))) => {
            tx.prepare_cached(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?2 WHERE id = ?1",
            )
            .db()?
            .execute((id.to_string(), at))
            .db()?;
            insert_event(
                tx,
                &event(
                    SubjectType::Alert,
                    id,
                    w.at,
                    EventKind::AlertAcknowledged,
                    json!({}),
                ),
            )?;
            // A monitoring tool does not command a major incident: a SEV1 or SEV2 without a
            // commander stays triggered (and paging) until a person acknowledges it.
            if let Some(inc) = incident {
                let n = tx
                    .prepare_cached(
                        "UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?2
                         WHERE id = ?1 AND status = 'triggered'
                         AND NOT (COALESCE(severity, '') IN ('SEV1', 'SEV2') AND NOT EXISTS (
                             SELECT 1 FROM incident_roles r WHERE r.incident_id = incidents.id
                             AND r.role = 'commander' AND r.ended_at IS NULL))",
                    )
                    .db()?
                    .execute((inc.to_string(), at))
                    .db()?;
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
                    )?;
                }
            }
        }
        (Step::Resolve, Some((id, _, incident))) => {
            tx.prepare_cached(
                "UPDATE alerts SET status = 'resolved', resolved_at = ?2 WHERE id = ?1",
            )
            .db()?
            .execute((id.to_string(), at))
            .db()?;
            insert_event(
                tx,
                &event(
                    SubjectType::Alert,
                    id,
                    w.at,
                    EventKind::AlertResolved,
                    json!({}),
                ),
            )?;
            if let (Some(inc), true) = (incident, service.auto_resolve) {
                resolve_incident_if_done(tx, inc, w.at)?;
            }
        }
        (Step::Open, _) => {
            let content = w.signal.content.as_ref().ok_or(StoreError::NotFound)?;
            open_alert(tx, service, w, content, &mut ack)?;
        }
        // decide() only answers Deduplicate/Acknowledge/Resolve when an alert is open.
        (_, None) => return Err(StoreError::NotFound),
    }
    Ok(ack)
}

/// Opens an alert: its incident first (joined or new), so the alert row is written once.
fn open_alert(
    tx: &Transaction<'_>,
    service: &Service,
    w: &SignalWrite,
    content: &AlertContent,
    ack: &mut SignalAck,
) -> StoreResult<()> {
    let at = to_millis(w.at);
    let in_maintenance = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM maintenance_windows
             WHERE service_id = ?1 AND starts_at <= ?2 AND ends_at > ?2)",
        )
        .db()?
        .query_row((service.id.to_string(), at), |r| r.get::<_, bool>(0))
        .db()?;
    let alert_id = w.new_alert_id;
    let (incident, opened) = if in_maintenance {
        (None, None)
    } else {
        let (id, opened) = incident_for(tx, service, w, content)?;
        (Some(id), opened)
    };
    tx.prepare_cached(
        "INSERT INTO alerts (id, service_id, integration_id, incident_id, dedup_key, status,
         severity, summary, content, count, in_maintenance, created_at, last_seen_at, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, 'triggered', ?6, ?7, ?8, 1, ?9, ?10, ?10, ?11)",
    )
    .db()?
    .execute((
        alert_id.to_string(),
        service.id.to_string(),
        w.integration_id.map(|i| i.to_string()),
        incident.map(|i| i.to_string()),
        w.signal.dedup_key.as_str(),
        content.severity.as_str(),
        &content.summary,
        serde_json::to_string(content).unwrap_or_default(),
        in_maintenance,
        at,
        w.signal.payload.as_deref(),
    ))
    .db()?;
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
    )?;
    ack.alert_id = Some(alert_id);
    if let Some(opened) = opened {
        insert_event(tx, &opened)?;
        ack.incident_opened = true;
    }
    if let Some(incident) = incident {
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
        )?;
        ack.incident_id = Some(incident);
    }
    Ok(())
}

/// The incident a new alert joins under the service's grouping rule, or a new one with the
/// event that says so (written after the alert's own, so the log reads in causal order).
fn incident_for(
    tx: &Transaction<'_>,
    service: &Service,
    w: &SignalWrite,
    content: &AlertContent,
) -> StoreResult<(IncidentId, Option<NewEvent>)> {
    let at = to_millis(w.at);
    // One incident per alert needs no lookup: the hot path's commonest case stays cheap.
    // A real alert never joins a drill's incident (practice is kept out of every metric).
    let need = service.grouping.candidates_needed();
    let mut candidates: Vec<Candidate<IncidentId>> = Vec::new();
    if need > 0 {
        let mut stmt = tx
            .prepare_cached(
                "SELECT id, created_at, group_values FROM incidents
                 WHERE service_id = ?1 AND status NOT IN ('resolved', 'closed')
                 AND opened_by_alert = 1 AND is_drill = 0
                 ORDER BY created_at DESC, id DESC LIMIT ?2",
            )
            .db()?;
        let mut rows = stmt.query((service.id.to_string(), i64::from(need))).db()?;
        while let Some(r) = rows.next().db()? {
            candidates.push(Candidate {
                id: parsed(r, "id")?,
                opened_at: from_millis(r.get("created_at").db()?),
                group_values: from_json(r, "group_values")?,
            });
        }
    }
    if let Some(existing) = service.grouping.choose(content, &candidates, w.at) {
        tx.prepare_cached("UPDATE incidents SET alert_count = alert_count + 1 WHERE id = ?1")
            .db()?
            .execute([existing.to_string()])
            .db()?;
        return Ok((existing, None));
    }
    let id = w.new_incident_id;
    let number: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(number), 0) + 1 FROM incidents")
        .db()?
        .query_row([], |r| r.get(0))
        .db()?;
    let urgency = service.urgency_rule.urgency(content.severity);
    tx.prepare_cached(
        "INSERT INTO incidents (id, number, title, status, urgency, service_id, alert_count,
         opened_by_alert, group_values, created_at, detected_at)
         VALUES (?1, ?2, ?3, 'triggered', ?4, ?5, 1, 1, ?6, ?7, ?7)",
    )
    .db()?
    .execute((
        id.to_string(),
        number,
        &content.summary,
        urgency.as_str(),
        service.id.to_string(),
        json!(Grouping::values(&service.grouping, content)).to_string(),
        at,
    ))
    .db()?;
    if service.escalation_policy_id.is_some() {
        insert_job(tx, &escalation_job(w.new_job_id, id, 0, w.at))?;
    }
    let opened = event(
        SubjectType::Incident,
        id,
        w.at,
        EventKind::IncidentTriggered,
        json!({"number": number, "title": content.summary, "urgency": urgency,
               "service_id": service.id, "escalation_policy_id": service.escalation_policy_id}),
    );
    Ok((id, Some(opened)))
}

/// Resolves an alert-opened incident once none of its alerts is open.
fn resolve_incident_if_done(
    tx: &Transaction<'_>,
    incident: IncidentId,
    at: Timestamp,
) -> StoreResult<()> {
    let n = tx
        .prepare_cached(
            "UPDATE incidents SET status = 'resolved', resolved_at = ?2
             WHERE id = ?1 AND opened_by_alert = 1 AND status NOT IN ('resolved', 'closed')
             AND NOT EXISTS (SELECT 1 FROM alerts WHERE incident_id = ?1 AND status <> 'resolved')",
        )
        .db()?
        .execute((incident.to_string(), to_millis(at)))
        .db()?;
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
        )?;
    }
    Ok(())
}
