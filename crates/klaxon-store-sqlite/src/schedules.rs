//! On-call schedules and their overrides on SQLite.
//!
//! Every write runs on the single writer connection under `BEGIN IMMEDIATE`, so "is this
//! schedule still targeted by a policy?" and the delete that follows cannot be split by a policy
//! write: policy writes check that their schedules exist in their own transactions.
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::escalation::Plan;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{OverrideId, ScheduleId, UserId};
use klaxon_store::*;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, SqliteConnection, Transaction};

use super::{
    SqliteStore, corrupt, fk_not_found, get, get_id, get_json, get_ts, insert_event, map_err, page,
};

/// A schedule and its overrides overlapping [$2, $3), by start and id.
const JOINED: &str = "SELECT s.*, o.id AS o_id, o.user_id AS o_user_id, o.starts_at AS o_starts_at,
        o.ends_at AS o_ends_at, o.created_at AS o_created_at
    FROM schedules s
    LEFT JOIN schedule_overrides o
        ON o.schedule_id = s.id AND o.ends_at > $2 AND o.starts_at < $3
    WHERE s.id = $1
    ORDER BY o.starts_at, o.id";

fn schedule_from(row: &SqliteRow) -> StoreResult<ScheduleRecord> {
    let layers = get_json(row, "layers")?;
    Ok(ScheduleRecord {
        id: get_id(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        time_zone: get(row, "time_zone")?,
        layers: serde_json::from_value(layers.clone())
            .map_err(|_| corrupt("layers", &layers.to_string()))?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn override_from(row: &SqliteRow) -> StoreResult<ScheduleOverride> {
    Ok(ScheduleOverride {
        id: get_id(row, "id")?,
        schedule_id: get_id(row, "schedule_id")?,
        user_id: get_id(row, "user_id")?,
        start: get_ts(row, "starts_at")?,
        end: get_ts(row, "ends_at")?,
        created_at: get_ts(row, "created_at")?,
    })
}

async fn check_users(conn: &mut SqliteConnection, users: &[UserId]) -> StoreResult<()> {
    for user in users {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1")
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(map_err)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// `NotFound` unless every schedule the plan pages through exists. Policy writes call it in
/// their transaction.
pub(crate) async fn check_plan_schedules(
    tx: &mut Transaction<'_, Sqlite>,
    plan: &Plan,
) -> StoreResult<()> {
    for schedule in plan.schedules() {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM schedules WHERE id = $1")
            .bind(schedule.to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_err)?;
        if found.is_none() {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// The overrides of `schedules` that overlap `[from, to)`, by schedule, start and id.
async fn overrides_of(
    conn: &mut SqliteConnection,
    schedules: &[ScheduleId],
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<Vec<ScheduleOverride>> {
    let ids = serde_json::to_string(schedules).unwrap_or_else(|_| "[]".into());
    let rows = sqlx::query(
        "SELECT * FROM schedule_overrides
         WHERE schedule_id IN (SELECT value FROM json_each($1)) AND ends_at > $2 AND starts_at < $3
         ORDER BY schedule_id, starts_at, id",
    )
    .bind(ids)
    .bind(to_millis(from))
    .bind(to_millis(to))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    rows.iter().map(override_from).collect()
}

fn layers_json(s: &ScheduleRecord) -> String {
    serde_json::to_string(&s.layers).unwrap_or_else(|_| "[]".into())
}

impl SqliteStore {
    pub(crate) async fn do_create_schedule(
        &self,
        s: ScheduleRecord,
        e: NewEvent,
    ) -> StoreResult<ScheduleRecord> {
        let mut tx = self.write_tx().await?;
        check_users(&mut tx, &s.users()).await?;
        sqlx::query(
            "INSERT INTO schedules (id, name, description, time_zone, layers, created_at,
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(s.id.to_string())
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.time_zone)
        .bind(layers_json(&s))
        .bind(to_millis(s.created_at))
        .bind(to_millis(s.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(s)
    }

    pub(crate) async fn do_schedule(&self, id: ScheduleId) -> StoreResult<ScheduleRecord> {
        let row = sqlx::query("SELECT * FROM schedules WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        schedule_from(&row)
    }

    pub(crate) async fn do_list_schedules(
        &self,
        after: Option<ScheduleId>,
        limit: u32,
    ) -> StoreResult<Page<ScheduleRecord, ScheduleId>> {
        let rows = sqlx::query(
            "SELECT * FROM schedules WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after.map(|a| a.to_string()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        let items = rows
            .iter()
            .map(schedule_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, limit, |s| s.id))
    }

    pub(crate) async fn do_update_schedule(
        &self,
        s: ScheduleRecord,
        e: NewEvent,
    ) -> StoreResult<ScheduleRecord> {
        let mut tx = self.write_tx().await?;
        check_users(&mut tx, &s.users()).await?;
        let row = sqlx::query(
            "UPDATE schedules SET name = $2, description = $3, time_zone = $4, layers = $5,
             updated_at = $6 WHERE id = $1 RETURNING *",
        )
        .bind(s.id.to_string())
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.time_zone)
        .bind(layers_json(&s))
        .bind(to_millis(s.updated_at))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        schedule_from(&row)
    }

    pub(crate) async fn do_delete_schedule(&self, id: ScheduleId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Plans are JSON: look for a target {"type": "schedule", "id": <this one>} in any level.
        let used: bool = sqlx::query_scalar(
            "SELECT EXISTS (
                 SELECT 1 FROM escalation_policies p,
                      json_each(p.plan, '$.levels') AS l,
                      json_each(l.value, '$.targets') AS t
                 WHERE json_extract(t.value, '$.type') = 'schedule'
                   AND json_extract(t.value, '$.id') = $1)",
        )
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if used {
            return Err(StoreError::Conflict {
                constraint: "schedule_in_use".into(),
            });
        }
        let n = sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id.to_string())
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

    pub(crate) async fn do_create_schedule_override(
        &self,
        o: ScheduleOverride,
        e: NewEvent,
    ) -> StoreResult<ScheduleOverride> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO schedule_overrides (id, schedule_id, user_id, starts_at, ends_at,
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(o.id.to_string())
        .bind(o.schedule_id.to_string())
        .bind(o.user_id.to_string())
        .bind(to_millis(o.start))
        .bind(to_millis(o.end))
        .bind(to_millis(o.created_at))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(o)
    }

    pub(crate) async fn do_schedule_override(
        &self,
        schedule: ScheduleId,
        id: OverrideId,
    ) -> StoreResult<ScheduleOverride> {
        let row =
            sqlx::query("SELECT * FROM schedule_overrides WHERE id = $1 AND schedule_id = $2")
                .bind(id.to_string())
                .bind(schedule.to_string())
                .fetch_one(&self.reader)
                .await
                .map_err(map_err)?;
        override_from(&row)
    }

    pub(crate) async fn do_list_schedule_overrides(
        &self,
        schedule: ScheduleId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ScheduleOverride>> {
        let mut conn = self.reader.acquire().await.map_err(map_err)?;
        overrides_of(&mut conn, &[schedule], from, to).await
    }

    pub(crate) async fn do_delete_schedule_override(
        &self,
        schedule: ScheduleId,
        id: OverrideId,
        e: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM schedule_overrides WHERE id = $1 AND schedule_id = $2")
            .bind(id.to_string())
            .bind(schedule.to_string())
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

    /// One statement (one snapshot): the schedule joined with its overrides in the range, a row
    /// per override (one row with no override when there is none).
    pub(crate) async fn do_schedule_with_overrides(
        &self,
        id: ScheduleId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<ScheduleWithOverrides> {
        let rows = sqlx::query(JOINED)
            .bind(id.to_string())
            .bind(to_millis(from))
            .bind(to_millis(to))
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        let first = rows.first().ok_or(StoreError::NotFound)?;
        let mut overrides = Vec::new();
        for row in &rows {
            if let Some(oid) = get::<Option<String>>(row, "o_id")? {
                overrides.push(ScheduleOverride {
                    id: oid.parse().map_err(|_| corrupt("o_id", &oid))?,
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

    pub(crate) async fn do_list_schedules_with_overrides(
        &self,
        after: Option<ScheduleId>,
        limit: u32,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Page<ScheduleWithOverrides, ScheduleId>> {
        let mut tx = self.reader.begin().await.map_err(map_err)?;
        let rows = sqlx::query(
            "SELECT * FROM schedules WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after.map(|a| a.to_string()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let schedules = rows
            .iter()
            .map(schedule_from)
            .collect::<StoreResult<Vec<_>>>()?;
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
