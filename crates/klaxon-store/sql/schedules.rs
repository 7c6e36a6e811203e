//! On-call schedules and their overrides.
//!
//! A schedule may not be deleted while an escalation policy targets it. Policies keep their
//! targets in their JSON plan, so the two sides meet on the schedule's row: a policy write locks
//! the schedules it names `FOR SHARE` while it checks they exist, and a schedule's delete locks
//! its row `FOR UPDATE` before it looks for policies naming it. Whichever comes second waits for
//! the first to commit, then sees what it did. (On SQLite the one writer does the same.)
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::escalation::Plan;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{OverrideId, ScheduleId};
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::insert_event;
use super::*;

/// A schedule and its overrides overlapping [$2, $3), by start and id.
const JOINED: &str = "SELECT s.*, o.id AS o_id, o.user_id AS o_user_id, o.starts_at AS o_starts_at,
        o.ends_at AS o_ends_at, o.created_at AS o_created_at
    FROM schedules s
    LEFT JOIN schedule_overrides o
        ON o.schedule_id = s.id AND o.ends_at > $2 AND o.starts_at < $3
    WHERE s.id = $1
    ORDER BY o.starts_at, o.id";

fn schedule_from(row: &DbRow) -> StoreResult<ScheduleRecord> {
    Ok(ScheduleRecord {
        id: get_id(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        time_zone: get(row, "time_zone")?,
        layers: from_json(row, "layers")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn override_from(row: &DbRow) -> StoreResult<ScheduleOverride> {
    Ok(ScheduleOverride {
        id: get_id(row, "id")?,
        schedule_id: get_id(row, "schedule_id")?,
        user_id: get_id(row, "user_id")?,
        start: get_ts(row, "starts_at")?,
        end: get_ts(row, "ends_at")?,
        created_at: get_ts(row, "created_at")?,
    })
}

pub(crate) const USERS: &str = concat!("SELECT id FROM users WHERE id ", in_list!("$1"));
/// Locked `FOR SHARE` until the transaction ends: not deleted meanwhile.
const SCHEDULES_LOCKED: &str = concat!(
    "SELECT id FROM schedules WHERE id ",
    in_list!("$1"),
    " ORDER BY id",
    for_share!()
);

/// `NotFound` unless every one of `ids` exists (`sql` selects those of `$1` that do).
pub(crate) async fn check_all_exist<I: DbId + Ord>(
    conn: &mut DbConn,
    sql: &'static str,
    mut ids: Vec<I>,
) -> StoreResult<()> {
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let found = sqlx::query(sql)
        .bind(db_ids(&ids))
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
    if found.len() != ids.len() {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// `NotFound` unless every schedule the plan pages through exists; they stay locked against
/// deletion until the policy write commits. Policy writes call it in their transaction.
pub(crate) async fn check_plan_schedules(
    tx: &mut Transaction<'_, Db>,
    plan: &Plan,
) -> StoreResult<()> {
    check_all_exist(tx, SCHEDULES_LOCKED, plan.schedules().collect()).await
}

/// The overrides of `schedules` that overlap `[from, to)`, by schedule, start and id.
async fn overrides_of(
    conn: &mut DbConn,
    schedules: &[ScheduleId],
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<Vec<ScheduleOverride>> {
    let rows = sqlx::query(concat!(
        "SELECT * FROM schedule_overrides WHERE schedule_id ",
        in_list!("$1"),
        " AND ends_at > $2 AND starts_at < $3 ORDER BY schedule_id, starts_at, id",
    ))
    .bind(db_ids(schedules))
    .bind(to_millis(from))
    .bind(to_millis(to))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    rows.iter().map(override_from).collect()
}

async fn schedules_page(
    conn: &mut DbConn,
    after: Option<ScheduleId>,
    limit: u32,
) -> StoreResult<Vec<ScheduleRecord>> {
    let rows =
        sqlx::query("SELECT * FROM schedules WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2")
            .bind(after.map(db_id))
            .bind(i64::from(limit) + 1)
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err)?;
    rows.iter().map(schedule_from).collect()
}

#[async_trait]
impl ScheduleStore for DbStore {
    async fn create_schedule(&self, s: ScheduleRecord, e: NewEvent) -> StoreResult<ScheduleRecord> {
        let mut tx = self.write_tx().await?;
        check_all_exist(&mut tx, USERS, s.users()).await?;
        sqlx::query(
            "INSERT INTO schedules (id, name, description, time_zone, layers, created_at,
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(db_id(s.id))
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.time_zone)
        .bind(json(&s.layers))
        .bind(to_millis(s.created_at))
        .bind(to_millis(s.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(s)
    }

    async fn schedule(&self, id: ScheduleId) -> StoreResult<ScheduleRecord> {
        let row = sqlx::query("SELECT * FROM schedules WHERE id = $1")
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        schedule_from(&row)
    }

    async fn schedules_named(&self, name: &str) -> StoreResult<Vec<(ScheduleId, String)>> {
        let sql = "SELECT id, name FROM schedules WHERE lower(name) = lower($1)";
        named(self.reader(), sql, name, get_id::<ScheduleId>).await
    }

    async fn list_schedules(
        &self,
        after: Option<ScheduleId>,
        limit: u32,
    ) -> StoreResult<Page<ScheduleRecord, ScheduleId>> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        let items = schedules_page(&mut conn, after, limit).await?;
        Ok(page(items, limit, |s| s.id))
    }

    async fn update_schedule(&self, s: ScheduleRecord, e: NewEvent) -> StoreResult<ScheduleRecord> {
        let mut tx = self.write_tx().await?;
        check_all_exist(&mut tx, USERS, s.users()).await?;
        let row = sqlx::query(
            "UPDATE schedules SET name = $2, description = $3, time_zone = $4, layers = $5,
             updated_at = $6 WHERE id = $1 RETURNING *",
        )
        .bind(db_id(s.id))
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.time_zone)
        .bind(json(&s.layers))
        .bind(to_millis(s.updated_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        schedule_from(&row)
    }

    async fn delete_schedule(&self, id: ScheduleId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Locked first: a policy write naming this schedule either committed before (and is
        // seen below) or waits, and then finds the schedule gone.
        let exists = sqlx::query(concat!(
            "SELECT id FROM schedules WHERE id = $1",
            for_update!()
        ))
        .bind(db_id(id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        if schedule_in_use(&mut tx, id).await? {
            return Err(StoreError::Conflict {
                constraint: "schedule_in_use".into(),
            });
        }
        sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn create_schedule_override(
        &self,
        o: ScheduleOverride,
        e: NewEvent,
    ) -> StoreResult<ScheduleOverride> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO schedule_overrides (id, schedule_id, user_id, starts_at, ends_at,
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(db_id(o.id))
        .bind(db_id(o.schedule_id))
        .bind(db_id(o.user_id))
        .bind(to_millis(o.start))
        .bind(to_millis(o.end))
        .bind(to_millis(o.created_at))
        .execute(&mut *tx)
        .await
        // The schedule or the user is gone.
        .map_err(fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(o)
    }

    async fn schedule_override(
        &self,
        schedule: ScheduleId,
        id: OverrideId,
    ) -> StoreResult<ScheduleOverride> {
        let row =
            sqlx::query("SELECT * FROM schedule_overrides WHERE id = $1 AND schedule_id = $2")
                .bind(db_id(id))
                .bind(db_id(schedule))
                .fetch_one(self.reader())
                .await
                .map_err(map_err)?;
        override_from(&row)
    }

    async fn list_schedule_overrides(
        &self,
        schedule: ScheduleId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ScheduleOverride>> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        overrides_of(&mut conn, &[schedule], from, to).await
    }

    async fn delete_schedule_override(
        &self,
        schedule: ScheduleId,
        id: OverrideId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM schedule_overrides WHERE id = $1 AND schedule_id = $2")
            .bind(db_id(id))
            .bind(db_id(schedule))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    /// One statement (one round trip, one snapshot): the schedule joined with its overrides in
    /// the range, a row per override (one row with no override when there is none).
    async fn schedule_with_overrides(
        &self,
        id: ScheduleId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<ScheduleWithOverrides> {
        let rows = sqlx::query(JOINED)
            .bind(db_id(id))
            .bind(to_millis(from))
            .bind(to_millis(to))
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?;
        let first = rows.first().ok_or(StoreError::NotFound)?;
        let mut overrides = Vec::new();
        for row in &rows {
            if let Some(oid) = opt_id(row, "o_id")? {
                overrides.push(ScheduleOverride {
                    id: oid,
                    schedule_id: id,
                    user_id: get_id(row, "o_user_id")?,
                    start: get_ts(row, "o_starts_at")?,
                    end: get_ts(row, "o_ends_at")?,
                    created_at: get_ts(row, "o_created_at")?,
                });
            }
        }
        Ok(ScheduleWithOverrides {
            schedule: schedule_from(first)?,
            overrides,
        })
    }

    async fn list_schedules_with_overrides(
        &self,
        after: Option<ScheduleId>,
        limit: u32,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Page<ScheduleWithOverrides, ScheduleId>> {
        // One read transaction: one snapshot on SQLite.
        let mut tx = self.reader().begin().await.map_err(map_err)?;
        let schedules = schedules_page(&mut tx, after, limit).await?;
        let ids: Vec<ScheduleId> = schedules.iter().map(|s| s.id).collect();
        let overrides = overrides_of(&mut tx, &ids, from, to).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(page(
            ScheduleWithOverrides::group(schedules, overrides),
            limit,
            |s| s.schedule.id,
        ))
    }
}
