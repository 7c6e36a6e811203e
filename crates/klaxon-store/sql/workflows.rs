//! Workflows, their inbox of events, and their runs.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{IncidentId, WorkflowId, WorkflowRunId};
use klaxon_store::*;

use super::engine::{event_from, insert_event, insert_events};
use super::*;

fn workflow_from(row: &DbRow) -> StoreResult<WorkflowRecord> {
    Ok(WorkflowRecord {
        id: get_id(row, "id")?,
        definition: serde_json::from_value(get_json(row, "definition")?)
            .map_err(|e| corrupt("workflows.definition", &e.to_string()))?,
        revision: get(row, "revision")?,
        created_at: get_ts(row, "created_at")?,
        updated_by: opt_id(row, "updated_by")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn run_from(row: &DbRow) -> StoreResult<WorkflowRunRecord> {
    let chain: Vec<String> = serde_json::from_value(get_json(row, "chain")?)
        .map_err(|e| corrupt("workflow_runs.chain", &e.to_string()))?;
    Ok(WorkflowRunRecord {
        id: get_id(row, "id")?,
        workflow_id: get_id(row, "workflow_id")?,
        workflow_name: get(row, "workflow_name")?,
        cause: get(row, "cause")?,
        incident_id: opt_id(row, "incident_id")?,
        revision: get(row, "revision")?,
        definition: serde_json::from_value(get_json(row, "definition")?)
            .map_err(|e| corrupt("workflow_runs.definition", &e.to_string()))?,
        chain: chain
            .iter()
            .map(|s| json_id("workflow_runs.chain", s))
            .collect::<StoreResult<_>>()?,
        state: get(row, "state")?,
        created_at: get_ts(row, "created_at")?,
        lease_until: get_opt_ts(row, "lease_until")?,
        finished_at: get_opt_ts(row, "finished_at")?,
        actions: Vec::new(),
    })
}

macro_rules! workflow_columns {
    () => {
        "id, definition, revision, created_at, updated_by, updated_at"
    };
}

macro_rules! run_columns {
    () => {
        "r.id, r.workflow_id, w.name AS workflow_name, r.cause, r.incident_id, r.revision,
         r.definition, r.chain, r.state, r.created_at, r.lease_until, r.finished_at"
    };
}

/// Reads the runs' action outcomes into them.
async fn with_actions<'e, E>(
    ex: E,
    mut runs: Vec<WorkflowRunRecord>,
) -> StoreResult<Vec<WorkflowRunRecord>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    if runs.is_empty() {
        return Ok(runs);
    }
    let ids: Vec<WorkflowRunId> = runs.iter().map(|r| r.id).collect();
    let rows = sqlx::query(concat!(
        "SELECT run_id, position, kind, state, detail, at FROM workflow_run_actions
         WHERE run_id ",
        in_list!("$1"),
        " ORDER BY run_id, position"
    ))
    .bind(db_ids(&ids))
    .fetch_all(ex)
    .await
    .map_err(map_err)?;
    for row in &rows {
        let run: WorkflowRunId = get_id(row, "run_id")?;
        if let Some(r) = runs.iter_mut().find(|r| r.id == run) {
            r.actions.push(ActionOutcome {
                position: get(row, "position")?,
                kind: get(row, "kind")?,
                state: get(row, "state")?,
                detail: get(row, "detail")?,
                at: get_ts(row, "at")?,
            });
        }
    }
    Ok(runs)
}

#[async_trait]
impl WorkflowStore for DbStore {
    async fn create_workflow(&self, w: &WorkflowRecord, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO workflows (id, name, enabled, trigger_kind, definition, revision,
             created_at, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(db_id(w.id))
        .bind(&w.definition.name)
        .bind(w.definition.enabled)
        .bind(w.definition.trigger.on.as_str())
        .bind(json(&w.definition))
        .bind(w.revision)
        .bind(to_millis(w.created_at))
        .bind(w.updated_by.map(db_id))
        .bind(to_millis(w.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn update_workflow(&self, w: &WorkflowRecord, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE workflows SET name = $2, enabled = $3, trigger_kind = $4, definition = $5,
             revision = $6, updated_by = $7, updated_at = $8
             WHERE id = $1 AND revision = $6 - 1",
        )
        .bind(db_id(w.id))
        .bind(&w.definition.name)
        .bind(w.definition.enabled)
        .bind(w.definition.trigger.on.as_str())
        .bind(json(&w.definition))
        .bind(w.revision)
        .bind(w.updated_by.map(db_id))
        .bind(to_millis(w.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            let exists = sqlx::query("SELECT 1 FROM workflows WHERE id = $1")
                .bind(db_id(w.id))
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            return Err(match exists {
                Some(_) => StoreError::Conflict {
                    constraint: "workflows_revision".into(),
                },
                None => StoreError::NotFound,
            });
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn delete_workflow(&self, id: WorkflowId, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM workflows WHERE id = $1")
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

    async fn workflow(&self, id: WorkflowId) -> StoreResult<WorkflowRecord> {
        let row = sqlx::query(concat!(
            "SELECT ",
            workflow_columns!(),
            " FROM workflows WHERE id = $1"
        ))
        .bind(db_id(id))
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        workflow_from(&row)
    }

    async fn workflow_named(&self, name: &str) -> StoreResult<WorkflowRecord> {
        let row = sqlx::query(concat!(
            "SELECT ",
            workflow_columns!(),
            " FROM workflows WHERE name = $1"
        ))
        .bind(name)
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        workflow_from(&row)
    }

    async fn list_workflows(&self) -> StoreResult<Vec<WorkflowRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            workflow_columns!(),
            " FROM workflows ORDER BY name"
        ))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(workflow_from).collect()
    }

    async fn workflow_inbox(&self, limit: u32) -> StoreResult<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT e.seq, e.subject_type, e.subject_id, e.at, e.actor, e.kind, e.data, e.pinned
             FROM workflow_inbox b JOIN events e ON e.seq = b.event_seq
             ORDER BY b.event_seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(event_from).collect()
    }

    async fn queue_workflow_runs(
        &self,
        taken: &[i64],
        runs: &[NewWorkflowRun],
    ) -> StoreResult<u32> {
        let mut tx = self.write_tx().await?;
        let mut queued = 0;
        for n in runs {
            let r = &n.run;
            let chain: Vec<String> = r.chain.iter().map(|w| w.to_string()).collect();
            let inserted = sqlx::query(
                "INSERT INTO workflow_runs (id, workflow_id, cause, incident_id, revision,
                 definition, chain, state, created_at, finished_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (workflow_id, cause) DO NOTHING",
            )
            .bind(db_id(r.id))
            .bind(db_id(r.workflow_id))
            .bind(&r.cause)
            .bind(r.incident_id.map(db_id))
            .bind(r.revision)
            .bind(json(&r.definition))
            .bind(json(&chain))
            .bind(&r.state)
            .bind(to_millis(r.created_at))
            .bind(r.finished_at.map(to_millis))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
            if inserted == 1 {
                queued += 1;
                insert_events(&mut tx, &n.events).await?;
            }
        }
        if !taken.is_empty() {
            sqlx::query(concat!(
                "DELETE FROM workflow_inbox WHERE event_seq ",
                in_list!("$1")
            ))
            .bind(db_ints(taken))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(queued)
    }

    async fn claim_workflow_runs(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRunRecord>> {
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(concat!(
            "SELECT id FROM workflow_runs
             WHERE state IN ('queued', 'running') AND (lease_until IS NULL OR lease_until <= $1)
             ORDER BY created_at, id LIMIT $2",
            skip_locked!()
        ))
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let ids: Vec<WorkflowRunId> = rows
            .iter()
            .map(|r| get_id(r, "id"))
            .collect::<StoreResult<_>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(concat!(
            "UPDATE workflow_runs SET state = 'running', lease_until = $2, owner = $3 WHERE id ",
            in_list!("$1")
        ))
        .bind(db_ids(&ids))
        .bind(to_millis(until))
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE r.id ",
            in_list!("$1"),
            " ORDER BY r.created_at, r.id"
        ))
        .bind(db_ids(&ids))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let runs = rows.iter().map(run_from).collect::<StoreResult<Vec<_>>>()?;
        let runs = with_actions(&mut *tx, runs).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(runs)
    }

    async fn begin_workflow_action(
        &self,
        run: WorkflowRunId,
        owner: &str,
        position: i32,
        kind: &str,
        at: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let held = sqlx::query(
            "UPDATE workflow_runs SET lease_until = $3
             WHERE id = $1 AND owner = $2 AND state = 'running'",
        )
        .bind(db_id(run))
        .bind(owner)
        .bind(to_millis(until))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if held == 0 {
            return Ok(false);
        }
        let n = sqlx::query(
            "INSERT INTO workflow_run_actions (run_id, position, kind, state, detail, at)
             VALUES ($1, $2, $3, 'started', '', $4) ON CONFLICT (run_id, position) DO NOTHING",
        )
        .bind(db_id(run))
        .bind(position)
        .bind(kind)
        .bind(to_millis(at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(n == 1)
    }

    async fn end_workflow_action(&self, run: WorkflowRunId, o: &ActionOutcome) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO workflow_run_actions (run_id, position, kind, state, detail, at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (run_id, position) DO UPDATE SET state = $4, detail = $5, at = $6
             WHERE workflow_run_actions.state = 'started'",
        )
        .bind(db_id(run))
        .bind(o.position)
        .bind(&o.kind)
        .bind(&o.state)
        .bind(&o.detail)
        .bind(to_millis(o.at))
        .execute(self.writer())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn finish_workflow_run(
        &self,
        run: WorkflowRunId,
        state: &str,
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE workflow_runs SET state = $2, finished_at = $3, lease_until = NULL
             WHERE id = $1 AND state = 'running'",
        )
        .bind(db_id(run))
        .bind(state)
        .bind(to_millis(at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        // Another instance finished it (a lease that ran out mid-run): one event, not two.
        if n == 1 {
            insert_event(&mut tx, &event).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn workflow_run(&self, id: WorkflowRunId) -> StoreResult<WorkflowRunRecord> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE r.id = $1"
        ))
        .bind(db_id(id))
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        let run = run_from(&row)?;
        Ok(with_actions(self.reader(), vec![run]).await?.remove(0))
    }

    async fn list_workflow_runs(
        &self,
        workflow: Option<WorkflowId>,
        incident: Option<IncidentId>,
        after: Option<WorkflowRunId>,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRunRecord>> {
        // Ids are time-ordered UUIDs: the newest first, and a page goes on below the last one.
        let after = after.unwrap_or_else(|| WorkflowRunId::from(uuid::Uuid::max()));
        let q = match (workflow, incident) {
            (Some(w), _) => sqlx::query(concat!(
                "SELECT ",
                run_columns!(),
                " FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id
                 WHERE r.workflow_id = $1 AND r.id < $2 ORDER BY r.id DESC LIMIT $3"
            ))
            .bind(db_id(w)),
            (None, Some(i)) => sqlx::query(concat!(
                "SELECT ",
                run_columns!(),
                " FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id
                 WHERE r.incident_id = $1 AND r.id < $2 ORDER BY r.id DESC LIMIT $3"
            ))
            .bind(db_id(i)),
            (None, None) => sqlx::query(concat!(
                "SELECT ",
                run_columns!(),
                " FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id
                 WHERE r.id < $2 OR $1 ORDER BY r.id DESC LIMIT $3"
            ))
            .bind(false),
        };
        let rows = q
            .bind(db_id(after))
            .bind(i64::from(limit))
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?;
        let runs = rows.iter().map(run_from).collect::<StoreResult<Vec<_>>>()?;
        with_actions(self.reader(), runs).await
    }

    async fn quiet_incidents(
        &self,
        cutoff: Timestamp,
    ) -> StoreResult<Vec<(IncidentId, Timestamp)>> {
        let open = sqlx::query(
            "SELECT id, created_at FROM incidents
             WHERE status IN ('triggered', 'acknowledged', 'mitigated') AND created_at <= $1
             ORDER BY id",
        )
        .bind(to_millis(cutoff))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        if open.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<(IncidentId, Timestamp)> = open
            .iter()
            .map(|r| Ok((get_id(r, "id")?, get_ts(r, "created_at")?)))
            .collect::<StoreResult<_>>()?;
        let ids: Vec<String> = out.iter().map(|(i, _)| i.to_string()).collect();
        // The last update, or reopening: a reopened incident is quiet from then on.
        let latest = sqlx::query(concat!(
            "SELECT subject_id, MAX(at) AS at FROM events
             WHERE subject_type = 'incident'
               AND kind IN ('incident.update_posted', 'incident.reopened') AND subject_id ",
            in_list!("$1"),
            " GROUP BY subject_id"
        ))
        .bind(db_texts(ids.iter().map(String::as_str)))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        let mut since: std::collections::HashMap<String, Timestamp> =
            std::collections::HashMap::with_capacity(latest.len());
        for row in &latest {
            since.insert(get(row, "subject_id")?, get_ts(row, "at")?);
        }
        for (id, at) in out.iter_mut() {
            if let Some(t) = since.get(&id.to_string()) {
                *at = *t;
            }
        }
        out.retain(|(_, since)| *since <= cutoff);
        Ok(out)
    }
}
