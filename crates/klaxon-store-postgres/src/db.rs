//! What the shared queries (`crates/klaxon-store/sql`) need to know about PostgreSQL: its
//! types, how ids (UUID) and JSON (JSONB) are kept, its errors, and the SQL it spells its own way.
use klaxon_store::{StoreError, StoreResult};
use sqlx::types::Json;
use sqlx::{PgPool, Transaction};
use uuid::Uuid;

use crate::sql::{DbId, get};

pub(crate) use sqlx::PgConnection as DbConn;
pub(crate) use sqlx::Postgres as Db;
pub(crate) use sqlx::postgres::PgRow as DbRow;

/// What [`Store::backend`](klaxon_store::Store::backend) says.
pub(crate) const BACKEND: &str = "postgres";

pub(crate) type DbStore = crate::PgStore;

pub(crate) fn db_id(id: impl DbId) -> Uuid {
    id.uuid()
}

/// A list of ids, for `in_list!`: a UUID array.
pub(crate) fn db_ids<I: DbId>(ids: &[I]) -> Vec<Uuid> {
    ids.iter().map(|&i| i.uuid()).collect()
}

/// Integers for `in_list!` (an array).
pub(crate) fn db_ints(ints: &[i64]) -> Vec<i64> {
    ints.to_vec()
}

/// How [`db_id`] spells an id.
pub(crate) type DbUuid = Uuid;

/// An id read back from its [`DbUuid`].
pub(crate) fn id_from<T: From<Uuid>>(u: DbUuid) -> StoreResult<T> {
    Ok(T::from(u))
}

/// A list of texts, for `in_list!`: a TEXT array.
pub(crate) fn db_texts<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<String> {
    texts.map(str::to_owned).collect()
}

pub(crate) fn get_id<T: From<Uuid>>(row: &DbRow, col: &str) -> StoreResult<T> {
    Ok(T::from(get::<Uuid>(row, col)?))
}

pub(crate) fn opt_id<T: From<Uuid>>(row: &DbRow, col: &str) -> StoreResult<Option<T>> {
    Ok(get::<Option<Uuid>>(row, col)?.map(T::from))
}

/// A job's attempt count (INTEGER, i32 here).
pub(crate) fn get_job_attempts(row: &DbRow) -> StoreResult<u32> {
    Ok(get::<i32>(row, "attempts")?.try_into().unwrap_or(0))
}

pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Json<&T> {
    Json(value)
}

pub(crate) fn get_json(row: &DbRow, col: &str) -> StoreResult<serde_json::Value> {
    get(row, col)
}

pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            constraint: db.constraint().unwrap_or("unique").to_owned(),
        },
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Configuration(_)) => StoreError::Unavailable(Box::new(e)),
        e => StoreError::Other(Box::new(e)),
    }
}

/// Like [`map_err`], but a foreign-key violation (23503) means the row referred to is gone.
pub(crate) fn fk_not_found(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => map_err(e),
    }
}

impl DbStore {
    pub(crate) fn reader(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn writer(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) async fn close_pools(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn write_tx(&self) -> StoreResult<Transaction<'static, Db>> {
        self.pool.begin().await.map_err(map_err)
    }

    /// A large read's rows, each decoded in turn: PostgreSQL's driver hands rows over cheaply,
    /// and as one JSON value it took longer building it than sending the rows.
    pub(crate) async fn bulk_rows<T: Send + 'static>(
        &self,
        sql: &'static str,
        args: Vec<i64>,
        decode: fn(&dyn crate::sql::Cols) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(|r| decode(&RowCols(r))).collect()
    }
}

struct RowCols<'a>(&'a DbRow);

impl crate::sql::Cols for RowCols<'_> {
    fn int(&self, i: usize) -> StoreResult<Option<i64>> {
        sqlx::Row::try_get(self.0, i).map_err(map_err)
    }

    fn text(&self, i: usize) -> StoreResult<Option<String>> {
        sqlx::Row::try_get(self.0, i).map_err(map_err)
    }

    fn uuid(&self, i: usize) -> StoreResult<Option<Uuid>> {
        sqlx::Row::try_get(self.0, i).map_err(map_err)
    }
}

// --- SQL spelled differently -----------------------------------------------------------------
// Several instances share the database: what reads and then writes locks the rows it read.

macro_rules! for_update {
    () => {
        " FOR UPDATE"
    };
}

/// A row lock that still lets rows pointing at it (alerts, roles) be written.
macro_rules! for_no_key_update {
    () => {
        " FOR NO KEY UPDATE"
    };
    ($table:literal) => {
        concat!(" FOR NO KEY UPDATE OF ", $table)
    };
}

/// Incident numbers come from a sequence: instances never draw the same one.
macro_rules! next_incident_number {
    () => {
        "SELECT nextval('incident_number_seq')"
    };
}

/// Locks a row against deletion (and key changes) only.
macro_rules! for_key_share {
    () => {
        " FOR KEY SHARE"
    };
}

/// The larger of two values.
macro_rules! greatest {
    () => {
        "GREATEST"
    };
}

/// Finds a substring: `strpos(haystack, needle)`.
macro_rules! instr {
    () => {
        "strpos"
    };
}

/// The rows' `$cols` as one JSON array of arrays (as TEXT; `[]` without rows), in no
/// particular order.
macro_rules! json_rows {
    ($cols:literal) => {
        concat!(
            "COALESCE(CAST(json_agg(json_build_array(",
            $cols,
            ")) AS TEXT), '[]')"
        )
    };
}

/// 32 random bytes, made by the database.
macro_rules! random_key {
    () => {
        "sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()))"
    };
}

macro_rules! for_share {
    () => {
        " FOR SHARE"
    };
}

/// `IN` the ids of an array bound with `db_ids`.
macro_rules! in_list {
    ($param:literal) => {
        concat!("= ANY(", $param, ")")
    };
}

/// Claims skip rows another instance is claiming, so no two lease the same one.
macro_rules! skip_locked {
    () => {
        " FOR UPDATE SKIP LOCKED"
    };
    ($table:literal) => {
        concat!(" FOR UPDATE OF ", $table, " SKIP LOCKED")
    };
}

/// A JSON array bound as one parameter, read as rows `e`: each element `e.value`, its place
/// `e.n`. One statement writes many rows instead of one round trip each.
macro_rules! json_array_rows {
    ($param:literal) => {
        concat!(
            "jsonb_array_elements(CAST(",
            $param,
            " AS JSONB)) WITH ORDINALITY AS e(value, n)"
        )
    };
}

/// Item `$i` of a `json_array_rows!` row as SQL type `$ty`.
macro_rules! json_at {
    ($i:literal, $ty:literal) => {
        concat!("CAST(e.value ->> ", $i, " AS ", $ty, ")")
    };
}

/// Null-safe inequality (JSONB `<>` with a NULL is NULL).
macro_rules! is_distinct {
    () => {
        "IS DISTINCT FROM"
    };
}

// --- hooks: the steps whose logic differs ----------------------------------------------------

/// Webhook fan-out's look-back. Sequence numbers are drawn before commit: an event may commit
/// behind a webhook's cursor. Looks back over the last few hundred for any without a delivery.
pub(crate) async fn late_events(
    tx: &mut Transaction<'_, Db>,
    webhook: &klaxon_store::Webhook,
    row: &DbRow,
    cursor: i64,
) -> StoreResult<Vec<klaxon_store::Event>> {
    let start: i64 = get(row, "start_seq")?;
    let from = (cursor - klaxon_store::FAN_OUT_LOOKBACK).max(start);
    sqlx::query(
        "SELECT e.seq, e.subject_type, e.subject_id, e.at, e.actor, e.kind, e.data, e.pinned
         FROM events e
         WHERE e.subject_type = 'incident' AND e.seq > $1 AND e.seq <= $2
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                         WHERE d.webhook_id = $3 AND d.event_seq = e.seq)
         ORDER BY e.seq",
    )
    .bind(from)
    .bind(cursor)
    .bind(webhook.id.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?
    .iter()
    .map(crate::sql::engine::event_from)
    .collect()
}

/// Whether an escalation policy targets the schedule: a plan containing the target.
pub(crate) async fn schedule_in_use(
    tx: &mut Transaction<'_, Db>,
    id: klaxon_domain::ids::ScheduleId,
) -> StoreResult<bool> {
    let target = serde_json::json!({"levels": [{"targets": [{"type": "schedule", "id": id}]}]});
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM escalation_policies WHERE plan @> $1)")
        .bind(Json(&target))
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)
}

/// Locks, in id order, the services of these incidents and of their alerts (a merged duplicate
/// brings alerts of another service), before the incidents themselves, in the order the alert
/// path takes them: service, then incident.
pub(crate) async fn lock_incident_services(
    tx: &mut Transaction<'_, Db>,
    incidents: &[klaxon_domain::ids::IncidentId],
) -> StoreResult<()> {
    let mut services: Vec<Uuid> = sqlx::query_scalar(
        "SELECT service_id FROM incidents WHERE id = ANY($1) AND service_id IS NOT NULL
         UNION SELECT service_id FROM alerts WHERE incident_id = ANY($1)",
    )
    .bind(db_ids(incidents))
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?;
    services.sort();
    for service in services {
        sqlx::query("SELECT 1 FROM services WHERE id = $1 FOR UPDATE")
            .bind(service)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

/// One user change (or bootstrap) at a time: row locks taken from a snapshot would miss admins
/// promoted meanwhile, and two demotions could then both count on the other. Changes to people
/// are rare; logins and reads are not held up.
pub(crate) async fn lock_users(tx: &mut Transaction<'_, Db>) -> StoreResult<()> {
    sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}
