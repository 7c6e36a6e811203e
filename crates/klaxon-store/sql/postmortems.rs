//! Postmortems. A change reads the whole postmortem in its transaction, lets the server's rules
//! decide, then replaces its parts: postmortems are small and changed by hand.
use std::collections::BTreeMap;

use async_trait::async_trait;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{IncidentId, PostmortemId};
use klaxon_domain::incident::{IncidentStatus, Refusal};
use klaxon_domain::postmortem::{Comment, Factor, Postmortem, Reviewer, TimelineEntry};
use klaxon_store::*;

use super::engine::insert_event;
use super::status::bump;
use super::subscribers::{About, queue};
use super::*;

fn postmortem_from(row: &DbRow) -> StoreResult<Postmortem> {
    let frozen = get_json(row, "frozen")?;
    Ok(Postmortem {
        id: get_id(row, "id")?,
        incident_id: get_id(row, "incident_id")?,
        state: get_parsed(row, "state")?,
        owner_id: opt_id(row, "owner_id")?,
        due_at: get_opt_ts(row, "due_at")?,
        sections: BTreeMap::new(),
        factors: Vec::new(),
        reviewers: Vec::new(),
        timeline: Vec::new(),
        comments: Vec::new(),
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        published_at: get_opt_ts(row, "published_at")?,
        published_by: opt_id(row, "published_by")?,
        publish_reason: get(row, "publish_reason")?,
        frozen: (!frozen.is_null()).then_some(frozen),
        public_summary: get(row, "public_summary")?,
    })
}

/// The postmortem row `sql` finds (by `$1`), with its parts; `None` without it.
async fn load(
    conn: &mut DbConn,
    sql: &'static str,
    key: DbUuid,
) -> StoreResult<Option<Postmortem>> {
    let Some(row) = sqlx::query(sql)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?
    else {
        return Ok(None);
    };
    let mut pm = postmortem_from(&row)?;
    let pid = pm.id;
    for row in sqlx::query("SELECT section, body FROM postmortem_sections WHERE postmortem_id = $1")
        .bind(db_id(pid))
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?
    {
        pm.sections
            .insert(get(&row, "section")?, get(&row, "body")?);
    }
    for row in sqlx::query(
        "SELECT kind, text FROM postmortem_factors WHERE postmortem_id = $1 ORDER BY ord",
    )
    .bind(db_id(pid))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?
    {
        pm.factors.push(Factor {
            kind: get_parsed(&row, "kind")?,
            text: get(&row, "text")?,
        });
    }
    for row in sqlx::query(
        "SELECT user_id, approved_at FROM postmortem_reviewers WHERE postmortem_id = $1 ORDER BY user_id",
    )
    .bind(db_id(pid))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?
    {
        pm.reviewers.push(Reviewer {
            user_id: get_id(&row, "user_id")?,
            approved_at: get_opt_ts(&row, "approved_at")?,
        });
    }
    for row in sqlx::query(
        "SELECT event_seq, included, note FROM postmortem_timeline WHERE postmortem_id = $1 ORDER BY event_seq",
    )
    .bind(db_id(pid))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?
    {
        pm.timeline.push(TimelineEntry {
            seq: get(&row, "event_seq")?,
            include: get(&row, "included")?,
            note: get(&row, "note")?,
        });
    }
    for row in sqlx::query(
        "SELECT id, section, author_id, body, at FROM postmortem_comments
         WHERE postmortem_id = $1 ORDER BY at, id",
    )
    .bind(db_id(pid))
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?
    {
        pm.comments.push(Comment {
            id: get_id(&row, "id")?,
            section: get(&row, "section")?,
            author_id: get_id(&row, "author_id")?,
            body: get(&row, "body")?,
            at: get_ts(&row, "at")?,
        });
    }
    Ok(Some(pm))
}

const BY_ID: &str = "SELECT * FROM postmortems WHERE id = $1";
const BY_ID_LOCKED: &str = concat!("SELECT * FROM postmortems WHERE id = $1", for_update!());
const BY_INCIDENT: &str = "SELECT * FROM postmortems WHERE incident_id = $1";

/// Writes the postmortem's row (inserted or updated) and replaces its parts.
async fn write(tx: &mut DbConn, pm: &Postmortem, insert: bool) -> StoreResult<()> {
    let sql = if insert {
        "INSERT INTO postmortems (id, incident_id, state, owner_id, due_at, created_at, updated_at,
             published_at, published_by, publish_reason, frozen, public_summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    } else {
        "UPDATE postmortems SET incident_id = $2, state = $3, owner_id = $4, due_at = $5,
             created_at = $6, updated_at = $7, published_at = $8, published_by = $9,
             publish_reason = $10, frozen = $11, public_summary = $12
         WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(db_id(pm.id))
        .bind(db_id(pm.incident_id))
        .bind(pm.state.as_str())
        .bind(pm.owner_id.map(db_id))
        .bind(pm.due_at.map(to_millis))
        .bind(to_millis(pm.created_at))
        .bind(to_millis(pm.updated_at))
        .bind(pm.published_at.map(to_millis))
        .bind(pm.published_by.map(db_id))
        .bind(pm.publish_reason.as_deref())
        .bind(json(&pm.frozen))
        .bind(&pm.public_summary)
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
    let id = || db_id(pm.id);
    for table in [
        "DELETE FROM postmortem_sections WHERE postmortem_id = $1",
        "DELETE FROM postmortem_factors WHERE postmortem_id = $1",
        "DELETE FROM postmortem_reviewers WHERE postmortem_id = $1",
        "DELETE FROM postmortem_timeline WHERE postmortem_id = $1",
        "DELETE FROM postmortem_comments WHERE postmortem_id = $1",
    ] {
        if !insert {
            sqlx::query(table)
                .bind(id())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
    }
    for (key, body) in &pm.sections {
        sqlx::query(
            "INSERT INTO postmortem_sections (postmortem_id, section, body) VALUES ($1, $2, $3)",
        )
        .bind(id())
        .bind(key)
        .bind(body)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    }
    for (i, f) in pm.factors.iter().enumerate() {
        sqlx::query("INSERT INTO postmortem_factors (postmortem_id, ord, kind, text) VALUES ($1, $2, $3, $4)")
            .bind(id())
            .bind(i64::try_from(i).unwrap_or(i64::MAX))
            .bind(f.kind.as_str())
            .bind(&f.text)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
    }
    for r in &pm.reviewers {
        sqlx::query("INSERT INTO postmortem_reviewers (postmortem_id, user_id, approved_at) VALUES ($1, $2, $3)")
            .bind(id())
            .bind(db_id(r.user_id))
            .bind(r.approved_at.map(to_millis))
            .execute(&mut *tx)
            .await
            .map_err(fk_not_found)?;
    }
    for e in &pm.timeline {
        sqlx::query("INSERT INTO postmortem_timeline (postmortem_id, event_seq, included, note) VALUES ($1, $2, $3, $4)")
            .bind(id())
            .bind(e.seq)
            .bind(e.include)
            .bind(&e.note)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
    }
    for c in &pm.comments {
        sqlx::query(
            "INSERT INTO postmortem_comments (id, postmortem_id, section, author_id, body, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(db_id(c.id))
        .bind(id())
        .bind(&c.section)
        .bind(db_id(c.author_id))
        .bind(&c.body)
        .bind(to_millis(c.at))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
    }
    Ok(())
}

#[async_trait]
impl PostmortemStore for DbStore {
    async fn create_postmortem(&self, pm: Postmortem, event: NewEvent) -> StoreResult<Postmortem> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(concat!(
            "SELECT status FROM incidents WHERE id = $1",
            for_share!()
        ))
        .bind(db_id(pm.incident_id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let status: IncidentStatus = get_parsed(&row, "status")?;
        if status.is_open() {
            return Err(StoreError::Conflict {
                constraint: "incident_status".into(),
            });
        }
        write(&mut tx, &pm, true).await?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(pm)
    }

    async fn postmortem(&self, id: PostmortemId) -> StoreResult<Postmortem> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        load(&mut conn, BY_ID, db_id(id))
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn postmortem_of_incident(&self, id: IncidentId) -> StoreResult<Option<Postmortem>> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        load(&mut conn, BY_INCIDENT, db_id(id)).await
    }

    async fn list_postmortems(
        &self,
        filter: &PostmortemFilter,
    ) -> StoreResult<Vec<PostmortemSummary>> {
        let text = filter
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_ascii_lowercase);
        let rows = sqlx::query(concat!(
            "SELECT p.id, p.incident_id, i.number, i.title, i.severity, p.state, p.owner_id,
                    p.due_at, p.created_at, p.published_at
             FROM postmortems p JOIN incidents i ON i.id = p.incident_id
             WHERE ($1 IS NULL OR p.state = $1)
               AND ($2 IS NULL OR ",
            instr!(),
            "(lower(i.title), $2) > 0
                    OR EXISTS (SELECT 1 FROM postmortem_sections s
                               WHERE s.postmortem_id = p.id AND ",
            instr!(),
            "(lower(s.body), $2) > 0))
             ORDER BY p.created_at DESC, p.id DESC
             LIMIT $3",
        ))
        .bind(filter.state.map(|s| s.as_str()))
        .bind(text)
        .bind(i64::from(filter.limit.max(1)))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(PostmortemSummary {
                    id: get_id(row, "id")?,
                    incident_id: get_id(row, "incident_id")?,
                    incident_number: get(row, "number")?,
                    incident_title: get(row, "title")?,
                    severity: opt_parsed(row, "severity")?,
                    state: get_parsed(row, "state")?,
                    owner_id: opt_id(row, "owner_id")?,
                    due_at: get_opt_ts(row, "due_at")?,
                    created_at: get_ts(row, "created_at")?,
                    published_at: get_opt_ts(row, "published_at")?,
                })
            })
            .collect()
    }

    async fn change_postmortem(
        &self,
        id: PostmortemId,
        edit: PostmortemEdit,
    ) -> StoreResult<Result<Postmortem, Refusal>> {
        let mut tx = self.write_tx().await?;
        let old = load(&mut tx, BY_ID_LOCKED, db_id(id))
            .await?
            .ok_or(StoreError::NotFound)?;
        let (new, events) = match edit(&old) {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        write(&mut tx, &new, false).await?;
        for e in &events {
            insert_event(&mut tx, e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Ok(new))
    }

    async fn attach_postmortem(&self, a: PostmortemAttach) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Held against a change of the postmortem while its summary goes out.
        let row = sqlx::query(concat!(
            "SELECT incident_id, state, public_summary FROM postmortems WHERE id = $1",
            for_share!()
        ))
        .bind(db_id(a.postmortem))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let incident: IncidentId = get_id(&row, "incident_id")?;
        let state: String = get(&row, "state")?;
        let summary: String = get(&row, "public_summary")?;
        if incident != a.incident || state != "published" || summary != a.body {
            return Err(StoreError::Conflict {
                constraint: "postmortem_state".into(),
            });
        }
        insert_event(&mut tx, &a.event).await?;
        for (target, page_event) in &a.targets {
            let page: Option<DbUuid> = sqlx::query_scalar(
                "UPDATE status_incidents
                 SET postmortem_body = $2, postmortem_published_at = $3, updated_at = $3
                 WHERE id = $1 AND incident_id = $4 AND NOT maintenance
                   AND postmortem_published_at IS NULL
                 RETURNING page_id",
            )
            .bind(db_id(*target))
            .bind(&a.body)
            .bind(to_millis(a.at))
            .bind(db_id(a.incident))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            let Some(page) = page else {
                return Err(StoreError::Conflict {
                    constraint: "status_incidents_postmortem".into(),
                });
            };
            let page = id_from(page)?;
            // The page's row before the page's event number: its subscribers hear of
            // concurrent changes in commit order.
            bump(&mut tx, page).await?;
            let seq = insert_event(&mut tx, page_event).await?;
            // Told as an incident notice without an update: the postmortem is the news.
            queue(
                &mut tx,
                &About {
                    page,
                    event_seq: seq,
                    kind: NoticeKind::Incident,
                    part: "",
                    incident: Some(*target),
                    update: None,
                    change: None,
                    only: None,
                    at: a.at,
                },
            )
            .await?;
        }
        tx.commit().await.map_err(map_err)
    }
}
