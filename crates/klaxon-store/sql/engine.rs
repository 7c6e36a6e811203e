//! The engine's ledger and queue: events and jobs.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::JobId;
use klaxon_store::*;
use sqlx::Transaction;

use super::*;

pub(crate) fn event_from(row: &DbRow) -> StoreResult<Event> {
    let st: String = get(row, "subject_type")?;
    let kind: String = get(row, "kind")?;
    let actor: String = get(row, "actor")?;
    Ok(Event {
        seq: get(row, "seq")?,
        subject_type: SubjectType::parse(&st).ok_or_else(|| corrupt("subject_type", &st))?,
        subject_id: get(row, "subject_id")?,
        at: get_ts(row, "at")?,
        actor: Actor::decode(&actor).ok_or_else(|| corrupt("actor", &actor))?,
        kind: EventKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        data: get_json(row, "data")?,
        pinned: get(row, "pinned")?,
    })
}

pub(crate) fn job_from(row: &DbRow) -> StoreResult<Job> {
    Ok(Job {
        id: get_id(row, "id")?,
        kind: get(row, "kind")?,
        dedup_key: get(row, "dedup_key")?,
        payload: get_json(row, "payload")?,
        run_at: get_ts(row, "run_at")?,
        attempts: get_job_attempts(row)?,
        lease_owner: get(row, "lease_owner")?,
        lease_expires_at: get_opt_ts(row, "lease_expires_at")?,
        last_error: get(row, "last_error")?,
        dead_at: get_opt_ts(row, "dead_at")?,
        created_at: get_ts(row, "created_at")?,
    })
}

// --- statements shared by several methods ----------------------------------------------------

pub(crate) async fn insert_event(tx: &mut Transaction<'_, Db>, e: &NewEvent) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO events (subject_type, subject_id, at, actor, kind, data)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
    )
    .bind(e.subject_type.as_str())
    .bind(&e.subject_id)
    .bind(to_millis(e.at))
    .bind(e.actor.encode())
    .bind(e.kind.as_str())
    .bind(json(&e.data))
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)?;
    get(&row, "seq")
}

/// Many events in one statement, in order (one round trip, not one each).
pub(crate) async fn insert_events(
    tx: &mut Transaction<'_, Db>,
    events: &[NewEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            serde_json::json!([
                e.subject_type.as_str(),
                e.subject_id,
                to_millis(e.at),
                e.actor.encode(),
                e.kind.as_str(),
                e.data,
            ])
        })
        .collect();
    sqlx::query(concat!(
        "INSERT INTO events (subject_type, subject_id, at, actor, kind, data)
         SELECT ",
        json_at!(0, "TEXT"),
        ", ",
        json_at!(1, "TEXT"),
        ", ",
        json_at!(2, "BIGINT"),
        ", ",
        json_at!(3, "TEXT"),
        ", ",
        json_at!(4, "TEXT"),
        ", e.value -> 5
         FROM ",
        json_array_rows!("$1"),
        " ORDER BY e.n",
    ))
    .bind(json(&rows))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

pub(crate) async fn insert_job(tx: &mut Transaction<'_, Db>, j: &NewJob) -> StoreResult<Enqueued> {
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, kind, dedup_key, payload, run_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND dead_at IS NULL DO NOTHING",
    )
    .bind(db_id(j.id))
    .bind(&j.kind)
    .bind(&j.dedup_key)
    .bind(json(&j.payload))
    .bind(to_millis(j.run_at))
    .bind(to_millis(j.created_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?
    .rows_affected();
    if inserted == 1 {
        return Ok(Enqueued::New(j.id));
    }
    let row = sqlx::query("SELECT id FROM jobs WHERE dedup_key = $1 AND dead_at IS NULL")
        .bind(&j.dedup_key)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(Enqueued::Existing(get_id(&row, "id")?))
}

#[async_trait]
impl EngineStore for DbStore {
    async fn append_event(&self, event: NewEvent) -> StoreResult<Event> {
        let mut tx = self.write_tx().await?;
        let seq = insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Event {
            seq,
            subject_type: event.subject_type,
            subject_id: event.subject_id,
            at: event.at,
            actor: event.actor,
            kind: event.kind,
            data: event.data,
            pinned: false,
        })
    }

    async fn events(
        &self,
        subject_type: SubjectType,
        subject_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT seq, subject_type, subject_id, at, actor, kind, data, pinned FROM events
             WHERE subject_type = $1 AND subject_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .bind(subject_type.as_str())
        .bind(subject_id)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(event_from).collect()
    }

    async fn last_event_seq(&self) -> StoreResult<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events")
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        Ok(seq.unwrap_or(0))
    }

    async fn events_of_type(
        &self,
        subject_type: SubjectType,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        // `|| ''` keeps the planner off the (subject_type, subject_id, seq) index, which would
        // read every event of the type ever written: the recent end of the primary key is what
        // is wanted.
        let rows = sqlx::query(
            "SELECT seq, subject_type, subject_id, at, actor, kind, data, pinned FROM events
             WHERE seq > $1 AND subject_type || '' = $2 ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(subject_type.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(event_from).collect()
    }

    async fn enqueue_job(&self, job: NewJob) -> StoreResult<Enqueued> {
        let mut tx = self.write_tx().await?;
        let out = insert_job(&mut tx, &job).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(out)
    }

    async fn claim_jobs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        kinds: JobKinds<'_>,
    ) -> StoreResult<Vec<Job>> {
        let (list, only) = match kinds {
            JobKinds::Only(k) => (k, true),
            JobKinds::Except(k) => (k, false),
        };
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(concat!(
            "UPDATE jobs SET lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM jobs
                 WHERE dead_at IS NULL AND run_at <= $3
                   AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
                   AND (kind ",
            in_list!("$5"),
            ") = $6
                 ORDER BY run_at, id LIMIT $4",
            skip_locked!(),
            ")
             RETURNING *",
        ))
        .bind(owner)
        .bind(to_millis(lease_until))
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .bind(db_texts(list.iter().copied()))
        .bind(only)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        let mut jobs = rows.iter().map(job_from).collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    async fn complete_job(&self, id: JobId, owner: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
            .bind(db_id(id))
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        tx.commit().await.map_err(map_err)?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn retry_job(
        &self,
        id: JobId,
        owner: &str,
        error: &str,
        run_at: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE jobs SET run_at = $3, last_error = $4, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(db_id(id))
        .bind(owner)
        .bind(to_millis(run_at))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        tx.commit().await.map_err(map_err)?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn reschedule_job(&self, id: JobId, owner: &str, run_at: Timestamp) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE jobs SET run_at = $3, attempts = 0, last_error = NULL, lease_owner = NULL,
                             lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(db_id(id))
        .bind(owner)
        .bind(to_millis(run_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        tx.commit().await.map_err(map_err)?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn bury_job(
        &self,
        id: JobId,
        owner: &str,
        error: &str,
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE jobs SET dead_at = $3, last_error = $4, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(db_id(id))
        .bind(owner)
        .bind(to_millis(event.at))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn cancel_jobs(&self, dedup_key: &str) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM jobs WHERE dedup_key = $1 AND dead_at IS NULL")
            .bind(dedup_key)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }

    async fn job(&self, id: JobId) -> StoreResult<Job> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        job_from(&row)
    }

    async fn list_jobs(&self, after: Option<JobId>, limit: u32) -> StoreResult<Page<Job, JobId>> {
        page_by_id(
            self.reader(),
            "SELECT * FROM jobs WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
            after,
            limit,
            job_from,
            |j| j.id,
        )
        .await
    }

    async fn count_live_jobs(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE dead_at IS NULL")
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        Ok(n.try_into().unwrap_or(0))
    }
}
