//! Drill scenarios, drills and the steps they took.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::drill::Scorecard;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{DrillId, DrillScenarioId, IncidentId, UserId};
use klaxon_store::*;

use sqlx::Transaction;

use super::engine::{insert_event, insert_events};
use super::*;

fn scenario_from(row: &DbRow) -> StoreResult<ScenarioRecord> {
    Ok(ScenarioRecord {
        id: get_id(row, "id")?,
        definition: serde_json::from_value(get_json(row, "definition")?)
            .map_err(|e| corrupt("drill_scenarios.definition", &e.to_string()))?,
        revision: get(row, "revision")?,
        created_at: get_ts(row, "created_at")?,
        updated_by: opt_id(row, "updated_by")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn drill_from(row: &DbRow) -> StoreResult<DrillRecord> {
    Ok(DrillRecord {
        id: get_id(row, "id")?,
        incident_id: get_id(row, "incident_id")?,
        scenario_id: opt_id(row, "scenario_id")?,
        scenario_name: get(row, "scenario_name")?,
        definition: serde_json::from_value(get_json(row, "definition")?)
            .map_err(|e| corrupt("drills.definition", &e.to_string()))?,
        started_by: opt_id(row, "started_by")?,
        started_at: get_ts(row, "started_at")?,
        ended_at: get_opt_ts(row, "ended_at")?,
        ended_by: opt_id(row, "ended_by")?,
        scorecard: serde_json::from_value(get_json(row, "scorecard")?)
            .map_err(|e| corrupt("drills.scorecard", &e.to_string()))?,
        incident_number: get(row, "incident_number")?,
        incident_title: get(row, "incident_title")?,
        incident_status: get(row, "incident_status")?,
    })
}

macro_rules! scenario_columns {
    () => {
        "id, definition, revision, created_at, updated_by, updated_at"
    };
}

macro_rules! drill_select {
    () => {
        "SELECT d.id, d.incident_id, d.scenario_id, d.scenario_name, d.definition, d.started_by,
         d.started_at, d.ended_at, d.ended_by, COALESCE(d.scorecard, 'null') AS scorecard, i.number AS incident_number,
         i.title AS incident_title, i.status AS incident_status
         FROM drills d JOIN incidents i ON i.id = d.incident_id "
    };
}

/// Writes a drill's row, in the transaction that declares its incident.
pub(crate) async fn insert_drill(tx: &mut Transaction<'_, Db>, d: &DrillRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO drills (id, incident_id, scenario_id, scenario_name, definition, started_by,
         started_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(db_id(d.id))
    .bind(db_id(d.incident_id))
    .bind(d.scenario_id.map(db_id))
    .bind(&d.scenario_name)
    .bind(json(&d.definition))
    .bind(d.started_by.map(db_id))
    .bind(to_millis(d.started_at))
    .execute(&mut **tx)
    .await
    .map_err(fk_not_found)?;
    Ok(())
}

#[async_trait]
impl DrillStore for DbStore {
    async fn create_scenario(&self, s: &ScenarioRecord, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO drill_scenarios (id, name, definition, revision, created_at, updated_by,
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(db_id(s.id))
        .bind(&s.definition.name)
        .bind(json(&s.definition))
        .bind(s.revision)
        .bind(to_millis(s.created_at))
        .bind(s.updated_by.map(db_id))
        .bind(to_millis(s.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn update_scenario(&self, s: &ScenarioRecord, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE drill_scenarios SET name = $2, definition = $3, revision = $4,
             updated_by = $5, updated_at = $6 WHERE id = $1 AND revision = $4 - 1",
        )
        .bind(db_id(s.id))
        .bind(&s.definition.name)
        .bind(json(&s.definition))
        .bind(s.revision)
        .bind(s.updated_by.map(db_id))
        .bind(to_millis(s.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            let exists = sqlx::query("SELECT 1 FROM drill_scenarios WHERE id = $1")
                .bind(db_id(s.id))
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            return Err(match exists {
                Some(_) => StoreError::Conflict {
                    constraint: "drill_scenarios_revision".into(),
                },
                None => StoreError::NotFound,
            });
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn delete_scenario(&self, id: DrillScenarioId, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM drill_scenarios WHERE id = $1")
            .bind(db_id(id))
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

    async fn scenario(&self, id: DrillScenarioId) -> StoreResult<ScenarioRecord> {
        let row = sqlx::query(concat!(
            "SELECT ",
            scenario_columns!(),
            " FROM drill_scenarios WHERE id = $1"
        ))
        .bind(db_id(id))
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        scenario_from(&row)
    }

    async fn scenario_named(&self, name: &str) -> StoreResult<ScenarioRecord> {
        let row = sqlx::query(concat!(
            "SELECT ",
            scenario_columns!(),
            " FROM drill_scenarios WHERE name = $1"
        ))
        .bind(name)
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        scenario_from(&row)
    }

    async fn list_scenarios(&self) -> StoreResult<Vec<ScenarioRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            scenario_columns!(),
            " FROM drill_scenarios ORDER BY name"
        ))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(scenario_from).collect()
    }

    async fn drill(&self, id: DrillId) -> StoreResult<DrillRecord> {
        let row = sqlx::query(concat!(drill_select!(), "WHERE d.id = $1"))
            .bind(db_id(id))
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        drill_from(&row)
    }

    async fn drill_of_incident(&self, incident: IncidentId) -> StoreResult<Option<DrillRecord>> {
        let row = sqlx::query(concat!(drill_select!(), "WHERE d.incident_id = $1"))
            .bind(db_id(incident))
            .fetch_optional(self.reader())
            .await
            .map_err(map_err)?;
        row.as_ref().map(drill_from).transpose()
    }

    async fn list_drills(
        &self,
        scenario: Option<&str>,
        after: Option<DrillId>,
        limit: u32,
    ) -> StoreResult<Vec<DrillRecord>> {
        // Ids are time-ordered UUIDs: the newest first, and a page goes on below the last one.
        let after = after.unwrap_or_else(|| DrillId::from(uuid::Uuid::max()));
        let q = match scenario {
            Some(name) => sqlx::query(concat!(
                drill_select!(),
                "WHERE d.scenario_name = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3"
            ))
            .bind(name.to_owned()),
            // `$1` is bound (false) only so both arms number their parameters alike.
            None => sqlx::query(concat!(
                drill_select!(),
                "WHERE (d.id < $2 OR $1) ORDER BY d.id DESC LIMIT $3"
            ))
            .bind(false),
        };
        let rows = q
            .bind(db_id(after))
            .bind(i64::from(limit))
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?;
        rows.iter().map(drill_from).collect()
    }

    async fn drill_step(
        &self,
        drill: DrillId,
        position: u32,
        at: Timestamp,
        write: DrillWrite,
        events: Vec<NewEvent>,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "SELECT incident_id FROM drills WHERE id = $1 AND ended_at IS NULL",
            for_no_key_update!()
        ))
        .bind(db_id(drill))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let incident: IncidentId = get_id(&row, "incident_id")?;
        let taken = sqlx::query(
            "INSERT INTO drill_steps (drill_id, position, at) VALUES ($1, $2, $3)
             ON CONFLICT (drill_id, position) DO NOTHING",
        )
        .bind(db_id(drill))
        .bind(i64::from(position))
        .bind(to_millis(at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if taken == 0 {
            return Ok(false);
        }
        match write {
            DrillWrite::Alert(a) => {
                sqlx::query(
                    "INSERT INTO alerts (id, service_id, integration_id, incident_id, dedup_key,
                     status, severity, summary, content, count, in_maintenance, created_at,
                     last_seen_at) VALUES ($1, $2, NULL, $3, $4, 'triggered', $5, $6, $7, 1,
                     $8, $9, $9)",
                )
                .bind(db_id(a.id))
                .bind(db_id(a.service_id))
                .bind(db_id(incident))
                .bind(&a.dedup_key)
                .bind(a.content.severity.as_str())
                .bind(&a.content.summary)
                .bind(json(&a.content))
                .bind(false)
                .bind(to_millis(a.created_at))
                .execute(&mut *tx)
                .await
                .map_err(fk_not_found)?;
                sqlx::query("UPDATE incidents SET alert_count = alert_count + 1 WHERE id = $1")
                    .bind(db_id(incident))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            DrillWrite::Resolve(alert) => {
                let n = sqlx::query(
                    "UPDATE alerts SET status = 'resolved', resolved_at = $2
                     WHERE id = $1 AND incident_id = $3 AND status <> 'resolved'",
                )
                .bind(db_id(alert))
                .bind(to_millis(at))
                .bind(db_id(incident))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
                // Resolved by someone meanwhile: the step is taken, nothing to tell.
                if n == 0 {
                    tx.commit().await.map_err(map_err)?;
                    return Ok(true);
                }
            }
            DrillWrite::Nothing => {}
        }
        insert_events(&mut tx, &events).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn drill_steps_taken(&self, drill: DrillId) -> StoreResult<Vec<(u32, Timestamp)>> {
        let rows = sqlx::query(
            "SELECT position, at FROM drill_steps WHERE drill_id = $1 ORDER BY position",
        )
        .bind(db_id(drill))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let position: i32 = get(r, "position")?;
                Ok((position as u32, get_ts(r, "at")?))
            })
            .collect()
    }

    async fn end_drill(
        &self,
        drill: DrillId,
        at: Timestamp,
        by: Option<UserId>,
        scorecard: &Scorecard,
        event: NewEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE drills SET ended_at = $2, ended_by = $3, scorecard = $4
             WHERE id = $1 AND ended_at IS NULL",
        )
        .bind(db_id(drill))
        .bind(to_millis(at))
        .bind(by.map(db_id))
        .bind(json(scorecard))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }
}
