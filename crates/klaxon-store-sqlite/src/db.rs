//! What the shared queries (`crates/klaxon-store/sql`) need to know about SQLite: its types,
//! how ids and JSON are kept (TEXT), its errors, and the SQL it spells its own way.
use std::str::FromStr;

use klaxon_store::{StoreError, StoreResult};
use sqlx::{SqlitePool, Transaction};

use crate::sql::{DbId, corrupt, get};

pub(crate) use sqlx::Sqlite as Db;
pub(crate) use sqlx::SqliteConnection as DbConn;
pub(crate) use sqlx::sqlite::SqliteRow as DbRow;

/// What [`Store::backend`](klaxon_store::Store::backend) says.
pub(crate) const BACKEND: &str = "sqlite";

pub(crate) type DbStore = crate::SqliteStore;

/// Ids are TEXT: the UUID's hyphenated form.
pub(crate) fn db_id(id: impl DbId) -> String {
    id.uuid().to_string()
}

/// How [`db_id`] spells an id.
pub(crate) type DbUuid = String;

/// An id read back from its [`DbUuid`]. Takes it by value, as PostgreSQL's does, for
/// `.map(id_from)` over fetched ids.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn id_from<T: FromStr>(s: DbUuid) -> StoreResult<T> {
    s.parse().map_err(|_| corrupt("id", &s))
}

/// A list of texts, for `in_list!`: a JSON array.
pub(crate) fn db_texts<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    json(&texts.collect::<Vec<_>>())
}

pub(crate) fn get_id<T: FromStr>(row: &DbRow, col: &str) -> StoreResult<T> {
    let s: String = get(row, col)?;
    s.parse().map_err(|_| corrupt(col, &s))
}

pub(crate) fn opt_id<T: FromStr>(row: &DbRow, col: &str) -> StoreResult<Option<T>> {
    get::<Option<String>>(row, col)?
        .map(|s| s.parse().map_err(|_| corrupt(col, &s)))
        .transpose()
}

/// A list of ids, for `in_list!`: a JSON array of their TEXT.
pub(crate) fn db_ids<I: DbId>(ids: &[I]) -> String {
    let ids: Vec<String> = ids.iter().map(|&i| db_id(i)).collect();
    json(&ids)
}

/// Integers for `in_list!` (a JSON array).
pub(crate) fn db_ints(ints: &[i64]) -> String {
    json(ints)
}

/// A job's attempt count (INTEGER).
pub(crate) fn get_job_attempts(row: &DbRow) -> StoreResult<u32> {
    Ok(get::<i64>(row, "attempts")?.try_into().unwrap_or(u32::MAX))
}

/// JSON is TEXT.
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

pub(crate) fn get_json(row: &DbRow, col: &str) -> StoreResult<serde_json::Value> {
    let s: String = get(row, col)?;
    serde_json::from_str(&s).map_err(|_| corrupt(col, &s))
}

pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            // "UNIQUE constraint failed: users.email" -> "users_email", the index's name.
            let msg = db.message();
            let cols = msg.rsplit(": ").next().unwrap_or(msg);
            let first = cols.split(", ").next().unwrap_or(cols);
            StoreError::Conflict {
                constraint: first.replace('.', "_"),
            }
        }
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Configuration(_)) => StoreError::Unavailable(Box::new(e)),
        e => StoreError::Other(Box::new(e)),
    }
}

/// A foreign key that points nowhere: the row referred to is gone.
pub(crate) fn fk_not_found(e: sqlx::Error) -> StoreError {
    match map_err(e) {
        StoreError::Other(o) if o.to_string().contains("FOREIGN KEY") => StoreError::NotFound,
        other => other,
    }
}

impl DbStore {
    /// Reads run on the reader pool, beside the one writer (WAL).
    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Writes outside a transaction run on the one writer connection.
    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub(crate) async fn close_pools(&self) {
        self.writer.close().await;
        self.reader.close().await;
        self.bulk.close();
    }

    /// `BEGIN IMMEDIATE`: the write lock is taken up front, so a write never fails half-way
    /// because another process (an offline `klaxon` command) holds it.
    pub(crate) async fn write_tx(&self) -> StoreResult<Transaction<'static, Db>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)
    }
}

// --- SQL spelled differently -----------------------------------------------------------------
// SQLite has no row locks, and needs none: its one writer is alone, so every lock fragment is
// empty.

#[rustfmt::skip] macro_rules! for_update { () => { "" }; }
#[rustfmt::skip] macro_rules! for_share { () => { "" }; }
#[rustfmt::skip] macro_rules! for_key_share { () => { "" }; }
#[rustfmt::skip] macro_rules! for_no_key_update { ($($table:literal)?) => { "" }; }
#[rustfmt::skip] macro_rules! skip_locked { ($($table:literal)?) => { "" }; }

/// The next incident number: one more than the highest (the writer is alone).
#[rustfmt::skip] macro_rules! next_incident_number {
    () => { "SELECT COALESCE(MAX(number), 0) + 1 FROM incidents" };
}
/// `IN` the values of a JSON array bound with `db_ids` or `db_texts`.
#[rustfmt::skip] macro_rules! in_list {
    ($param:literal) => { concat!("IN (SELECT value FROM json_each(", $param, "))") };
}
/// Null-safe inequality; `<>` is enough for the non-null values compared.
/// A JSON array bound as one parameter, read as rows `e`: each element `e.value`, its place
/// `e.n`. One statement writes many rows instead of one round trip each.
#[rustfmt::skip] macro_rules! json_array_rows {
    ($param:literal) => { concat!("(SELECT key AS n, value FROM json_each(", $param, ")) AS e") };
}
/// Item `$i` of a `json_array_rows!` row as SQL type `$ty` (SQLite's JSON values keep theirs).
#[rustfmt::skip] macro_rules! json_at {
    ($i:literal, $ty:literal) => { concat!("(e.value ->> ", $i, ")") };
}
#[rustfmt::skip] macro_rules! is_distinct { () => { "<>" }; }
/// The larger of two values.
#[rustfmt::skip] macro_rules! greatest { () => { "MAX" }; }
/// Finds a substring: `instr(haystack, needle)`.
#[rustfmt::skip] macro_rules! instr { () => { "instr" }; }
/// 32 random bytes, made by the database.
#[rustfmt::skip] macro_rules! random_key { () => { "randomblob(32)" }; }
/// The rows' `$cols` as one JSON array of arrays (TEXT), in no particular order: a large read
/// handed over as one value rather than row by row, which costs more than the query itself.
#[rustfmt::skip] macro_rules! json_rows {
    ($cols:literal) => { concat!("json_group_array(json_array(", $cols, "))") };
}

// --- hooks: the steps whose logic differs ----------------------------------------------------

/// Webhook fan-out's look-back: none. One writer commits events in sequence order, so nothing
/// commits behind a webhook's cursor (PostgreSQL needs one).
pub(crate) async fn late_events(
    _tx: &mut Transaction<'_, Db>,
    _webhook: &klaxon_store::Webhook,
    _row: &DbRow,
    _cursor: i64,
) -> StoreResult<Vec<klaxon_store::Event>> {
    Ok(Vec::new())
}

/// Whether an escalation policy targets the schedule. Plans are JSON: look for a target
/// {"type": "schedule", "id": <this one>} in any level.
pub(crate) async fn schedule_in_use(
    tx: &mut Transaction<'_, Db>,
    id: klaxon_domain::ids::ScheduleId,
) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM escalation_policies p,
                  json_each(p.plan, '$.levels') AS l,
                  json_each(l.value, '$.targets') AS t
             WHERE json_extract(t.value, '$.type') = 'schedule'
               AND json_extract(t.value, '$.id') = $1)",
    )
    .bind(db_id(id))
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)
}

/// Incident changes lock nothing more: the one writer is alone.
pub(crate) async fn lock_incident_services(
    _tx: &mut Transaction<'_, Db>,
    _incidents: &[klaxon_domain::ids::IncidentId],
) -> StoreResult<()> {
    Ok(())
}

impl DbStore {
    /// Group commit's batches go to the batch writer (`batch.rs`, rusqlite).
    pub(crate) async fn commit_writes(
        &self,
        writes: Vec<klaxon_store::Write>,
    ) -> Vec<StoreResult<klaxon_store::WriteAck>> {
        self.batch.commit(writes).await
    }

    /// A large read's rows, each decoded in place (`bulk.rs`, rusqlite): sqlx would hand them
    /// over one by one across threads.
    pub(crate) async fn bulk_rows<T: Send + 'static>(
        &self,
        sql: &'static str,
        args: Vec<i64>,
        decode: fn(&dyn crate::sql::Cols) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        self.bulk.rows(sql, args, decode).await
    }
}

/// User changes need no lock of their own: `BEGIN IMMEDIATE` already holds every other writer off.
pub(crate) async fn lock_users(_tx: &mut Transaction<'_, Db>) -> StoreResult<()> {
    Ok(())
}
