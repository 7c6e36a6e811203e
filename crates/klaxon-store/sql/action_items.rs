//! Action items and their reminders.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{Actor, NewEvent};
use klaxon_domain::ids::{ActionItemId, IncidentId};
use klaxon_domain::incident::Refusal;
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::{insert_event, insert_job};
use super::oncall::insert_notification;
use super::*;

// The postmortem's id is a plain UUID until postmortems have an id type of their own.
impl DbId for uuid::Uuid {
    fn uuid(self) -> uuid::Uuid {
        self
    }
}

/// An item with its incident's number and title and its owner's name.
macro_rules! select_items {
    () => {
        "SELECT a.*, i.number AS incident_number, i.title AS incident_title,
                u.name AS owner_name
         FROM action_items a
         JOIN incidents i ON i.id = a.incident_id
         JOIN users u ON u.id = a.owner_id"
    };
}

/// Open (or in progress): still to be done.
macro_rules! open_state {
    ($t:literal) => {
        concat!($t, ".state IN ('open', 'in_progress')")
    };
}

fn item_from(row: &DbRow) -> StoreResult<ActionItem> {
    let created_by: String = get(row, "created_by")?;
    Ok(ActionItem {
        id: get_id(row, "id")?,
        incident_id: get_id(row, "incident_id")?,
        postmortem_id: opt_id(row, "postmortem_id")?,
        title: get(row, "title")?,
        owner_id: get_id(row, "owner_id")?,
        kind: get_parsed(row, "kind")?,
        priority: get(row, "priority")?,
        due_at: get_ts(row, "due_at")?,
        tracker_url: get(row, "tracker_url")?,
        state: get_parsed(row, "state")?,
        reason: get(row, "reason")?,
        created_at: get_ts(row, "created_at")?,
        created_by: Actor::decode(&created_by).ok_or_else(|| corrupt("created_by", &created_by))?,
        updated_at: get_ts(row, "updated_at")?,
        last_reminded_at: get_opt_ts(row, "last_reminded_at")?,
    })
}

fn row_from(row: &DbRow) -> StoreResult<ActionItemRow> {
    Ok(ActionItemRow {
        item: item_from(row)?,
        incident_number: get(row, "incident_number")?,
        incident_title: get(row, "incident_title")?,
        owner_name: get(row, "owner_name")?,
    })
}

async fn read_row(conn: &mut DbConn, id: ActionItemId) -> StoreResult<ActionItemRow> {
    let row = sqlx::query(concat!(select_items!(), " WHERE a.id = $1"))
        .bind(db_id(id))
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
    row_from(&row)
}

async fn write_item(tx: &mut Transaction<'_, Db>, a: &ActionItem) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO action_items (id, incident_id, postmortem_id, title, owner_id, kind, priority,
         due_at, tracker_url, state, reason, created_at, created_by, updated_at, last_reminded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (id) DO UPDATE SET postmortem_id = excluded.postmortem_id,
         title = excluded.title, owner_id = excluded.owner_id, kind = excluded.kind,
         priority = excluded.priority, due_at = excluded.due_at,
         tracker_url = excluded.tracker_url, state = excluded.state, reason = excluded.reason,
         updated_at = excluded.updated_at",
    )
    .bind(db_id(a.id))
    .bind(db_id(a.incident_id))
    .bind(a.postmortem_id.map(db_id))
    .bind(&a.title)
    .bind(db_id(a.owner_id))
    .bind(a.kind.as_str())
    .bind(a.priority)
    .bind(to_millis(a.due_at))
    .bind(&a.tracker_url)
    .bind(a.state.as_str())
    .bind(&a.reason)
    .bind(to_millis(a.created_at))
    .bind(a.created_by.encode())
    .bind(to_millis(a.updated_at))
    .bind(a.last_reminded_at.map(to_millis))
    .execute(&mut **tx)
    .await
    // The incident or the owner named is gone.
    .map_err(fk_not_found)?;
    Ok(())
}

fn count(row: &DbRow, col: &str) -> StoreResult<u64> {
    let n: i64 = get(row, col)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

#[async_trait]
impl ActionItemStore for DbStore {
    async fn create_action_item(&self, new: NewActionItem) -> StoreResult<ActionItemRow> {
        let mut tx = self.write_tx().await?;
        // Only the incident's own postmortem: the column has no foreign key (postmortems
        // came later), so the rule is kept here, against the postmortem as it stands.
        if let Some(pm) = new.item.postmortem_id {
            let of: Option<DbUuid> = sqlx::query_scalar(concat!(
                "SELECT incident_id FROM postmortems WHERE id = $1",
                for_share!()
            ))
            .bind(db_id(pm))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            if of.map(id_from::<IncidentId>).transpose()? != Some(new.item.incident_id) {
                return Err(StoreError::Conflict {
                    constraint: "action_items_postmortem".into(),
                });
            }
        }
        write_item(&mut tx, &new.item).await?;
        insert_event(&mut tx, &new.event).await?;
        if let Some(job) = &new.job {
            insert_job(&mut tx, job).await?;
        }
        let row = read_row(&mut tx, new.item.id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(row)
    }

    async fn action_item(&self, id: ActionItemId) -> StoreResult<ActionItemRow> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        read_row(&mut conn, id).await
    }

    async fn list_action_items(
        &self,
        f: &ActionItemFilter,
        after: Option<(Timestamp, ActionItemId)>,
        limit: u32,
    ) -> StoreResult<Page<ActionItemRow, (Timestamp, ActionItemId)>> {
        let rows = sqlx::query(concat!(
            select_items!(),
            " LEFT JOIN services s ON s.id = i.service_id
             WHERE ($1 IS NULL OR a.owner_id = $1)
               AND ($2 IS NULL OR s.escalation_policy_id = $2)
               AND ($3 IS NULL OR a.incident_id = $3)
               AND ($4 IS NULL OR a.state = $4)
               AND ($5 IS NULL OR (",
            open_state!("a"),
            " AND a.due_at < $5))
               AND ($6 IS NULL OR $6 = (",
            learned_from!("i"),
            "))
               AND ($7 IS NULL OR a.due_at > $7 OR (a.due_at = $7 AND a.id > $8))
             ORDER BY a.due_at, a.id LIMIT $9",
        ))
        .bind(f.owner.map(db_id))
        .bind(f.team.map(db_id))
        .bind(f.incident.map(db_id))
        .bind(f.state.map(|s| s.as_str()))
        .bind(f.overdue_at.map(to_millis))
        .bind(f.learned_from)
        .bind(after.map(|(due, _)| to_millis(due)))
        .bind(after.map(|(_, id)| db_id(id)))
        .bind(i64::from(limit) + 1)
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        let items = rows.iter().map(row_from).collect::<StoreResult<Vec<_>>>()?;
        Ok(page(items, limit, |r| (r.item.due_at, r.item.id)))
    }

    async fn change_action_item(
        &self,
        id: ActionItemId,
        edit: ActionItemEdit,
    ) -> StoreResult<Result<ActionItemRow, Refusal>> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "SELECT * FROM action_items WHERE id = $1",
            for_update!()
        ))
        .bind(db_id(id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let current = item_from(&row)?;
        let (item, events) = match edit(&current) {
            Ok(decided) => decided,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if item != current {
            write_item(&mut tx, &item).await?;
        }
        for e in &events {
            insert_event(&mut tx, e).await?;
        }
        let row = read_row(&mut tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Ok(row))
    }

    async fn delete_action_item(&self, id: ActionItemId, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let gone = sqlx::query("DELETE FROM action_items WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn due_reminders(
        &self,
        due_before: Timestamp,
        reminded_before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ActionItemRow>> {
        sqlx::query(concat!(
            select_items!(),
            " WHERE ",
            open_state!("a"),
            " AND a.due_at <= $1
               AND (a.last_reminded_at IS NULL OR a.last_reminded_at <= $2)
             ORDER BY a.id LIMIT $3",
        ))
        .bind(to_millis(due_before))
        .bind(to_millis(reminded_before))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .iter()
        .map(row_from)
        .collect()
    }

    async fn remind_action_item(&self, r: ActionReminder) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        // The conditional update is the once-only guard: a second reminder in the same day,
        // from this instance or another, changes no row and writes nothing.
        let marked = sqlx::query(concat!(
            "UPDATE action_items SET last_reminded_at = $2
             WHERE id = $1 AND ",
            open_state!("action_items"),
            " AND (last_reminded_at IS NULL OR last_reminded_at <= $3)",
        ))
        .bind(db_id(r.id))
        .bind(to_millis(r.at))
        .bind(to_millis(r.reminded_before))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        for n in &r.notifications {
            insert_notification(&mut tx, n).await?;
        }
        insert_event(&mut tx, &r.event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn open_action_items(&self) -> StoreResult<u64> {
        let row = sqlx::query(concat!(
            "SELECT COUNT(*) AS n FROM action_items a WHERE ",
            open_state!("a")
        ))
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        count(&row, "n")
    }

    async fn learning_counts(&self, now: Timestamp) -> StoreResult<LearningCounts> {
        let row = sqlx::query(concat!(
            "SELECT
               (SELECT COUNT(*) FROM incidents WHERE merged_into IS NULL AND NOT is_drill)
                 AS incidents,
               (SELECT COUNT(*) FROM incidents i
                 WHERE i.merged_into IS NULL AND NOT i.is_drill AND NOT ",
            learned_from!("i"),
            ") AS not_learned,
               (SELECT COUNT(*) FROM action_items a WHERE ",
            open_state!("a"),
            ") AS open_items,
               (SELECT COUNT(*) FROM action_items a WHERE ",
            open_state!("a"),
            " AND a.due_at < $1) AS overdue_items",
        ))
        .bind(to_millis(now))
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        let incidents = count(&row, "incidents")?;
        let not_learned = count(&row, "not_learned")?;
        Ok(LearningCounts {
            incidents,
            learned_from: incidents.saturating_sub(not_learned),
            not_learned_from: not_learned,
            open_items: count(&row, "open_items")?,
            overdue_items: count(&row, "overdue_items")?,
        })
    }

    async fn not_learned_from(&self, limit: u32) -> StoreResult<Vec<(IncidentId, i64, String)>> {
        let rows = sqlx::query(concat!(
            "SELECT i.id, i.number, i.title FROM incidents i
             WHERE i.merged_into IS NULL AND NOT i.is_drill AND NOT ",
            learned_from!("i"),
            "
             ORDER BY i.number DESC LIMIT $1",
        ))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((get_id(r, "id")?, get(r, "number")?, get(r, "title")?)))
            .collect()
    }
}
