//! Klaxon's queries, written once for both databases.
//!
//! This folder is not part of `klaxon-store`: each backend crate compiles it as its own module
//! (`#[path = "../../klaxon-store/sql/mod.rs"] mod sql;`), so every query is type-checked
//! against SQLite and against PostgreSQL, with no generic bounds. The backend's `db` module names
//! what differs between them, and this code uses only those names:
//!
//! - `Db`, `DbRow`, `DbConn`, `DbStore`: the sqlx database, row and connection, and the store;
//! - codecs: `db_id` (ids are TEXT on SQLite, UUID on PostgreSQL), `json` (JSON is TEXT on
//!   SQLite, JSONB on PostgreSQL), `get_id`, `opt_id` and `get_json` to read them back;
//! - `map_err` and `fk_not_found`, each database's errors as [`StoreError`]s;
//! - on the store, `reader()`, `writer()` and `write_tx()`: SQLite has a reader and a writer pool
//!   and writes under `BEGIN IMMEDIATE`; PostgreSQL has one pool;
//! - hooks for the few steps whose logic differs, each small: `late_events` (PostgreSQL looks
//!   back for events committed behind a webhook's cursor), `lock_users`, `lock_incident_services`,
//!   `schedule_in_use` (JSON containment vs `json_each`), `commit_writes` (group commit: SQLite's
//!   rusqlite batch writer, PostgreSQL's `signals.rs`), `bulk_rows` (a large read: rusqlite on
//!   SQLite, plain rows on PostgreSQL, each row decoded through [`Cols`]);
//! - SQL fragment macros (`for_update!()`, `for_share!()`, `skip_locked!()`, `in_list!("$1")`,
//!   `is_distinct!()`, `greatest!()`, `instr!()`, …): string literals, so `concat!` keeps every
//!   query a `&'static str`.
use std::str::FromStr;

use jiff::Timestamp;
use klaxon_domain::auth::Role;
use klaxon_domain::clock::from_millis;
use klaxon_store::{Page, StoreError, StoreResult};
use sqlx::Row;

pub(crate) use crate::db::*;

/// "Learned from" (docs/learning.md), for the incident row `$i` (a table name or alias): no
/// priority action item of it is still open or in progress. Written once: the incident list,
/// the action-item list and the learning counts all use it.
macro_rules! learned_from {
    ($i:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM action_items lf WHERE lf.incident_id = ",
            $i,
            ".id AND lf.priority AND lf.state IN ('open', 'in_progress'))"
        )
    };
}

/// Why a guarded `UPDATE` of the row `id` changed nothing: `Conflict` (named `constraint`) when
/// the row is still there (it moved on meanwhile), `NotFound` when it is gone. `exists` is a
/// `SELECT 1 … WHERE id = $1` on its table.
pub(crate) async fn moved_or_gone(
    tx: &mut sqlx::Transaction<'_, Db>,
    exists: &'static str,
    id: impl DbId,
    constraint: &str,
) -> StoreError {
    match sqlx::query(exists)
        .bind(db_id(id))
        .fetch_optional(&mut **tx)
        .await
    {
        Ok(Some(_)) => StoreError::Conflict {
            constraint: constraint.into(),
        },
        Ok(None) => StoreError::NotFound,
        Err(e) => map_err(e),
    }
}

mod action_items;
pub(crate) mod alerts;
mod checks;
mod drills;
pub(crate) mod engine;
mod incidents;
mod insights;
mod oncall;
mod oncall_rules;
mod postmortems;
mod runbooks;
mod runners;
mod runs;
pub(crate) mod schedules;
mod secrets;
mod slo_burns;
mod slos;
mod status;
mod status_follow;
mod store;
pub(crate) mod subscribers;
mod users;
mod webhooks;
mod workflows;

/// A typed id, for [`db_id`] to bind in the database's own spelling.
pub(crate) trait DbId: Copy {
    fn uuid(self) -> uuid::Uuid;
}

impl<T: DbId> DbId for &T {
    fn uuid(self) -> uuid::Uuid {
        (*self).uuid()
    }
}

macro_rules! db_ids {
    ($($t:ident),* $(,)?) => {$(
        impl DbId for klaxon_domain::ids::$t {
            fn uuid(self) -> uuid::Uuid {
                self.0
            }
        }
    )*};
}

#[rustfmt::skip]
db_ids!(
    UserId, ApiTokenId, SessionId, JobId, ServiceId, IntegrationId, MaintenanceWindowId, AlertId,
    IncidentId, EscalationPolicyId, ContactMethodId, NotificationRuleId, NotificationId,
    ScheduleId, OverrideId, RoleAssignmentId, TaskId, WebhookId, DeliveryId, StatusPageId,
    ComponentId, StatusIncidentId, StatusUpdateId, CheckId, SubscriberId, SloId, ActionItemId,
    PostmortemId, PostmortemCommentId, RunbookId, RunId, RunnerId, WorkflowId, WorkflowRunId,
    DrillId, DrillScenarioId,
);

// --- reading rows ----------------------------------------------------------------------------

/// One row of a `bulk_rows` read, by column position, whichever driver read it. NULL is `None`.
pub(crate) trait Cols {
    fn int(&self, i: usize) -> StoreResult<Option<i64>>;
    fn text(&self, i: usize) -> StoreResult<Option<String>>;
    fn uuid(&self, i: usize) -> StoreResult<Option<uuid::Uuid>>;
}

/// A column that is never NULL: `what` names it when it is.
pub(crate) fn required<T>(v: Option<T>, what: &str) -> StoreResult<T> {
    v.ok_or_else(|| corrupt(what, "NULL"))
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!("stored {what} is invalid: {value:?}").into())
}

pub(crate) fn get<'r, T: sqlx::Decode<'r, Db> + sqlx::Type<Db>>(
    row: &'r DbRow,
    col: &str,
) -> StoreResult<T> {
    row.try_get(col).map_err(map_err)
}

/// A column holding a parsed value (an enum's name).
pub(crate) fn get_parsed<T: FromStr>(row: &DbRow, col: &str) -> StoreResult<T> {
    let s: String = get(row, col)?;
    s.parse().map_err(|_| corrupt(col, &s))
}

/// A nullable column holding a parsed value (an enum's name).
pub(crate) fn opt_parsed<T: FromStr>(row: &DbRow, col: &str) -> StoreResult<Option<T>> {
    get::<Option<String>>(row, col)?
        .map(|s| s.parse().map_err(|_| corrupt(col, &s)))
        .transpose()
}

pub(crate) fn get_role(row: &DbRow, col: &str) -> StoreResult<Role> {
    get_parsed(row, col)
}

pub(crate) fn get_u32(row: &DbRow, col: &str) -> StoreResult<u32> {
    let n: i64 = get(row, col)?;
    u32::try_from(n).map_err(|_| corrupt(col, &n.to_string()))
}

pub(crate) fn get_opt_u32(row: &DbRow, col: &str) -> StoreResult<Option<u32>> {
    get::<Option<i64>>(row, col)?
        .map(|n| u32::try_from(n).map_err(|_| corrupt(col, &n.to_string())))
        .transpose()
}

/// An id from a [`json_rows!`] value: both databases write ids there as hyphenated text.
pub(crate) fn json_id<T: From<uuid::Uuid>>(col: &str, s: &str) -> StoreResult<T> {
    uuid::Uuid::parse_str(s)
        .map(T::from)
        .map_err(|_| corrupt(col, s))
}

pub(crate) fn get_ts(row: &DbRow, col: &str) -> StoreResult<Timestamp> {
    Ok(from_millis(get(row, col)?))
}

pub(crate) fn get_opt_ts(row: &DbRow, col: &str) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(from_millis))
}

/// A JSON column read into its Rust type.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(row: &DbRow, col: &str) -> StoreResult<T> {
    let v = get_json(row, col)?;
    serde_json::from_value(v.clone()).map_err(|_| corrupt(col, &v.to_string()))
}

/// Builds a page from `limit + 1` fetched rows: the extra row only says that more exist.
/// One page of a table read in id order after `after`: `sql` ends with
/// `WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2`, and one row more than `limit` is read
/// to tell whether another page follows.
pub(crate) async fn page_by_id<T, K: DbId>(
    pool: &sqlx::Pool<Db>,
    sql: &'static str,
    after: Option<K>,
    limit: u32,
    from: fn(&DbRow) -> StoreResult<T>,
    key: impl Fn(&T) -> K,
) -> StoreResult<Page<T, K>> {
    let rows = sqlx::query(sql)
        .bind(after.map(db_id))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await
        .map_err(map_err)?;
    let items = rows.iter().map(from).collect::<StoreResult<Vec<_>>>()?;
    Ok(page(items, limit, key))
}

/// `(id, name)` of the rows `sql` finds whose name is `name` ignoring the case of ASCII letters.
/// `sql` is `SELECT id, name FROM <table> WHERE lower(name) = lower($1)`: SQLite's `lower`
/// folds ASCII letters only and PostgreSQL's folds more, so the rows are narrowed here to the
/// same answer on both.
pub(crate) async fn named<K>(
    pool: &sqlx::Pool<Db>,
    sql: &'static str,
    name: &str,
    id: fn(&DbRow, &str) -> StoreResult<K>,
) -> StoreResult<Vec<(K, String)>> {
    let rows = sqlx::query(sql)
        .bind(name)
        .fetch_all(pool)
        .await
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in &rows {
        let found: String = get(row, "name")?;
        if found.eq_ignore_ascii_case(name) {
            out.push((id(row, "id")?, found));
        }
    }
    Ok(out)
}

pub(crate) fn page<T, C>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> C) -> Page<T, C> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more { items.last().map(cursor) } else { None };
    Page { items, next }
}
