//! Runbooks: immutable versions of their Markdown source, and where they apply.
use async_trait::async_trait;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{RunbookId, ServiceId};
use klaxon_domain::runbook::Matcher;
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::insert_event;
use super::*;

macro_rules! columns {
    () => {
        "r.id, r.name, r.title, r.version, r.has_commands, r.matchers, r.created_at, r.updated_at"
    };
}

fn record_from(row: &DbRow, services: Vec<ServiceId>) -> StoreResult<RunbookRecord> {
    let matchers = get_json(row, "matchers")?;
    Ok(RunbookRecord {
        id: get_id(row, "id")?,
        name: get(row, "name")?,
        title: get(row, "title")?,
        version: get(row, "version")?,
        has_commands: get(row, "has_commands")?,
        services,
        matchers: serde_json::from_value::<Vec<Matcher>>(matchers)
            .map_err(|e| corrupt("matchers", &e.to_string()))?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn info_from(row: &DbRow) -> StoreResult<VersionInfo> {
    Ok(VersionInfo {
        runbook_id: get_id(row, "runbook_id")?,
        version: get(row, "version")?,
        digest: get(row, "digest")?,
        author_id: opt_id(row, "author_id")?,
        author: get(row, "author")?,
        message: get(row, "message")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// Which runbooks [`read`] reads.
enum Which<'a> {
    All,
    Id(RunbookId),
    Name(&'a str),
}

/// The runbooks asked for, by name, each with its services.
async fn read(conn: &mut DbConn, which: Which<'_>) -> StoreResult<Vec<RunbookRecord>> {
    let rows = match which {
        Which::All => {
            sqlx::query(concat!(
                "SELECT ",
                columns!(),
                " FROM runbooks r ORDER BY r.name"
            ))
            .fetch_all(&mut *conn)
            .await
        }
        Which::Id(id) => {
            sqlx::query(concat!(
                "SELECT ",
                columns!(),
                " FROM runbooks r WHERE r.id = $1"
            ))
            .bind(db_id(id))
            .fetch_all(&mut *conn)
            .await
        }
        Which::Name(name) => {
            sqlx::query(concat!(
                "SELECT ",
                columns!(),
                " FROM runbooks r WHERE r.name = $1"
            ))
            .bind(name)
            .fetch_all(&mut *conn)
            .await
        }
    }
    .map_err(map_err)?;
    let links = sqlx::query("SELECT runbook_id, service_id FROM runbook_services")
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
    let mut services: std::collections::HashMap<RunbookId, Vec<ServiceId>> = Default::default();
    for l in &links {
        services
            .entry(get_id(l, "runbook_id")?)
            .or_default()
            .push(get_id(l, "service_id")?);
    }
    rows.iter()
        .map(|row| {
            let id: RunbookId = get_id(row, "id")?;
            let mut s = services.remove(&id).unwrap_or_default();
            s.sort();
            record_from(row, s)
        })
        .collect()
}

async fn one(conn: &mut DbConn, which: Which<'_>) -> StoreResult<RunbookRecord> {
    read(conn, which)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

/// The version row and the runbook's services, as `r` says.
async fn write_version(
    tx: &mut Transaction<'_, Db>,
    r: &RunbookRecord,
    v: &RunbookVersion,
    event: &NewEvent,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO runbook_versions (runbook_id, version, source, digest, author_id, author,
         message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(db_id(r.id))
    .bind(r.version)
    .bind(&v.source)
    .bind(&v.info.digest)
    .bind(v.info.author_id.map(db_id))
    .bind(&v.info.author)
    .bind(&v.info.message)
    .bind(to_millis(v.info.created_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    sqlx::query("DELETE FROM runbook_services WHERE runbook_id = $1")
        .bind(db_id(r.id))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    for s in &r.services {
        sqlx::query("INSERT INTO runbook_services (runbook_id, service_id) VALUES ($1, $2)")
            .bind(db_id(r.id))
            .bind(db_id(*s))
            .execute(&mut **tx)
            .await
            .map_err(fk_not_found)?;
    }
    insert_event(tx, event).await?;
    Ok(())
}

#[async_trait]
impl RunbookStore for DbStore {
    async fn create_runbook(
        &self,
        r: &RunbookRecord,
        v: &RunbookVersion,
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO runbooks (id, name, title, version, has_commands, matchers, created_at,
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(db_id(r.id))
        .bind(&r.name)
        .bind(&r.title)
        .bind(r.version)
        .bind(r.has_commands)
        .bind(json(&r.matchers))
        .bind(to_millis(r.created_at))
        .bind(to_millis(r.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        write_version(&mut tx, r, v, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn add_runbook_version(
        &self,
        r: &RunbookRecord,
        v: &RunbookVersion,
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Saved on top of the latest version only: two people editing at once do not lose
        // either's text without knowing.
        let n = sqlx::query(
            "UPDATE runbooks SET name = $2, title = $3, version = $4, has_commands = $5,
             matchers = $6, updated_at = $7 WHERE id = $1 AND version = $4 - 1",
        )
        .bind(db_id(r.id))
        .bind(&r.name)
        .bind(&r.title)
        .bind(r.version)
        .bind(r.has_commands)
        .bind(json(&r.matchers))
        .bind(to_millis(r.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            let exists = "SELECT 1 FROM runbooks WHERE id = $1";
            return Err(moved_or_gone(&mut tx, exists, r.id, "runbooks_version").await);
        }
        write_version(&mut tx, r, v, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn runbook(&self, id: RunbookId) -> StoreResult<RunbookRecord> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        one(&mut conn, Which::Id(id)).await
    }

    async fn runbook_by_name(&self, name: &str) -> StoreResult<RunbookRecord> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        one(&mut conn, Which::Name(name)).await
    }

    async fn list_runbooks(&self) -> StoreResult<Vec<RunbookRecord>> {
        let mut conn = self.reader().acquire().await.map_err(map_err)?;
        read(&mut conn, Which::All).await
    }

    async fn runbook_versions(&self, id: RunbookId) -> StoreResult<Vec<VersionInfo>> {
        let rows = sqlx::query(
            "SELECT runbook_id, version, digest, author_id, author, message, created_at
             FROM runbook_versions WHERE runbook_id = $1 ORDER BY version DESC",
        )
        .bind(db_id(id))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        rows.iter().map(info_from).collect()
    }

    async fn runbook_version(&self, id: RunbookId, version: i32) -> StoreResult<RunbookVersion> {
        let row = sqlx::query(
            "SELECT runbook_id, version, digest, author_id, author, message, created_at, source
             FROM runbook_versions WHERE runbook_id = $1 AND version = $2",
        )
        .bind(db_id(id))
        .bind(version)
        .fetch_optional(self.reader())
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        Ok(RunbookVersion {
            info: info_from(&row)?,
            source: get(&row, "source")?,
        })
    }

    async fn delete_runbook(&self, id: RunbookId, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM runbooks WHERE id = $1")
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
}
