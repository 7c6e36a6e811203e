//! Klaxon on SQLite: the embedded default, for one instance.
//!
//! Two pools: one writer connection (SQLite has one writer; serialising writers in-process
//! avoids busy-waiting on the file lock) and a few readers, which WAL lets run beside it.
//! Every write transaction starts with `BEGIN IMMEDIATE`, so it takes the write lock up front
//! and never fails half-way when another process (an offline `klaxon` command) holds it.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{
    AlertId, ApiTokenId, ContactMethodId, EscalationPolicyId, IncidentId, IntegrationId, JobId,
    MaintenanceWindowId, NotificationId, NotificationRuleId, ServiceId, SessionId, UserId,
};
use klaxon_store::*;
use sql::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

#[macro_use]
mod db;
#[path = "../../klaxon-store/sql/mod.rs"]
mod sql;

mod batch;
#[cfg(test)]
mod upgrade;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct SqliteStore {
    writer: SqlitePool,
    /// Group commit's batches; the pool above serves the other, rarer writes.
    batch: batch::BatchWriter,
    reader: SqlitePool,
    path: PathBuf,
}

/// The file a `sqlite:` URL names (`sqlite://path`, `sqlite:path`, or a bare path).
pub fn path_from_url(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let rest = rest.split('?').next().unwrap_or(rest);
    PathBuf::from(rest)
}

/// Creates the data directory (and missing parents) readable by its owner only: the database
/// holds password hashes and signing keys, and the files SQLite makes inside take the umask,
/// usually world-readable. An existing directory is left as it is.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let store = Self::open_without_migrating(path).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating, for `klaxon migrate --status`-style inspection and tests.
    pub async fn open_without_migrating(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: every commit is fsync'd before it is acknowledged. Group commit pays for it.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(map_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(map_err)?;
        let batch = batch::BatchWriter::open(path)?;
        Ok(Self {
            writer,
            batch,
            reader,
            path: path.to_owned(),
        })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))
    }

    /// Names of the migrations applied to this database, oldest first.
    pub async fn applied_migrations(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT description FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(map_err))
            .collect()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

// --- error and row mapping -------------------------------------------------------------------

fn user_from(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: get_id(row, "id")?,
        email: get(row, "email")?,
        name: get(row, "name")?,
        role: get_role(row, "role")?,
        created_at: get_ts(row, "created_at")?,
        deactivated_at: get_opt_ts(row, "deactivated_at")?,
    })
}

fn token_from(row: &SqliteRow) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: get_id(row, "id")?,
        name: get(row, "name")?,
        role: get_role(row, "role")?,
        user_id: get_id(row, "user_id")?,
        prefix: get(row, "prefix")?,
        created_at: get_ts(row, "created_at")?,
        revoked_at: get_opt_ts(row, "revoked_at")?,
    })
}

fn event_from(row: &SqliteRow) -> StoreResult<Event> {
    let st: String = get(row, "subject_type")?;
    let kind: String = get(row, "kind")?;
    let actor: String = get(row, "actor")?;
    Ok(Event {
        seq: get(row, "seq")?,
        subject_type: SubjectType::parse(&st).ok_or_else(|| corrupt("subject_type", &st))?,
        subject_id: get(row, "subject_id")?,
        at: get_ts(row, "at")?,
        actor: Actor::decode(&actor).ok_or_else(|| corrupt("actor", &actor))?,
        kind: EventKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        data: get_json(row, "data")?,
        pinned: get(row, "pinned")?,
    })
}

fn job_from(row: &SqliteRow) -> StoreResult<Job> {
    Ok(Job {
        id: get_id(row, "id")?,
        kind: get(row, "kind")?,
        dedup_key: get(row, "dedup_key")?,
        payload: get_json(row, "payload")?,
        run_at: get_ts(row, "run_at")?,
        attempts: get::<i64>(row, "attempts")?.try_into().unwrap_or(u32::MAX),
        lease_owner: get(row, "lease_owner")?,
        lease_expires_at: get_opt_ts(row, "lease_expires_at")?,
        last_error: get(row, "last_error")?,
        dead_at: get_opt_ts(row, "dead_at")?,
        created_at: get_ts(row, "created_at")?,
    })
}

// --- statements shared by several methods ----------------------------------------------------

async fn insert_event(tx: &mut Transaction<'_, Sqlite>, e: &NewEvent) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO events (subject_type, subject_id, at, actor, kind, data)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
    )
    .bind(e.subject_type.as_str())
    .bind(&e.subject_id)
    .bind(to_millis(e.at))
    .bind(e.actor.encode())
    .bind(e.kind.as_str())
    .bind(e.data.to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)?;
    get(&row, "seq")
}

async fn insert_user(tx: &mut Transaction<'_, Sqlite>, u: &NewUser) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(u.id.to_string())
    .bind(u.email.as_str())
    .bind(u.name.as_str())
    .bind(u.role.as_str())
    .bind(&u.password_hash)
    .bind(to_millis(u.created_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn insert_token(tx: &mut Transaction<'_, Sqlite>, t: &NewApiToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, role, prefix, hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(t.id.to_string())
    .bind(t.user_id.to_string())
    .bind(t.name.as_str())
    .bind(t.role.as_str())
    .bind(&t.prefix)
    .bind(&t.hash[..])
    .bind(to_millis(t.created_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn insert_job(tx: &mut Transaction<'_, Sqlite>, j: &NewJob) -> StoreResult<Enqueued> {
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, kind, dedup_key, payload, run_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND dead_at IS NULL DO NOTHING",
    )
    .bind(j.id.to_string())
    .bind(&j.kind)
    .bind(&j.dedup_key)
    .bind(j.payload.to_string())
    .bind(to_millis(j.run_at))
    .bind(to_millis(j.created_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?
    .rows_affected();
    if inserted == 1 {
        return Ok(Enqueued::New(j.id));
    }
    let row = sqlx::query("SELECT id FROM jobs WHERE dedup_key = $1 AND dead_at IS NULL")
        .bind(&j.dedup_key)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(Enqueued::Existing(get_id(&row, "id")?))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewUser, event: NewEvent) -> StoreResult<User> {
        let mut tx = self.write_tx().await?;
        insert_user(&mut tx, &user).await?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(User {
            id: user.id,
            email: user.email.as_str().to_owned(),
            name: user.name.as_str().to_owned(),
            role: user.role,
            created_at: user.created_at,
            deactivated_at: None,
        })
    }

    async fn user(&self, id: UserId) -> StoreResult<User> {
        let row = sqlx::query(
            "SELECT id, email, name, role, created_at, deactivated_at FROM users WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_one(&self.reader)
        .await
        .map_err(map_err)?;
        user_from(&row)
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<UserCredentials> {
        let row = sqlx::query(
            "SELECT id, email, name, role, created_at, deactivated_at, password_hash FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_one(&self.reader)
        .await
        .map_err(map_err)?;
        Ok(UserCredentials {
            user: user_from(&row)?,
            password_hash: get(&row, "password_hash")?,
        })
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        Ok(n as u64)
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Page<User, UserId>> {
        let rows = sqlx::query(
            "SELECT id, email, name, role, created_at, deactivated_at FROM users
             WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after.map(|a| a.to_string()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        let users = rows
            .iter()
            .map(user_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(users, limit, |u| u.id))
    }

    async fn change_user(
        &self,
        id: UserId,
        edit: UserEdit,
    ) -> StoreResult<Result<User, klaxon_domain::incident::Refusal>> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT id, email, name, role, created_at, deactivated_at FROM users WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let user = user_from(&row)?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND deactivated_at IS NULL AND id <> $1",
        )
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let snap = UserSnapshot {
            user,
            other_admins: others.try_into().unwrap_or(0),
        };
        let change = match edit(&snap) {
            Ok(c) => c,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let new = change.user;
        sqlx::query(
            "UPDATE users SET email = $2, name = $3, role = $4, deactivated_at = $5 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(&new.email)
        .bind(&new.name)
        .bind(new.role.as_str())
        .bind(new.deactivated_at.map(to_millis))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        for e in &change.events {
            insert_event(&mut tx, e).await?;
        }
        if let (true, Some(at)) = (snap.user.active(), new.deactivated_at) {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let revoked = sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL
                 RETURNING id, name, prefix",
            )
            .bind(id.to_string())
            .bind(to_millis(at))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            let actor = change.events.first().map_or(Actor::System, |e| e.actor);
            for row in &revoked {
                let token: ApiTokenId = get_id(row, "id")?;
                let e = NewEvent::new(
                    SubjectType::ApiToken,
                    token,
                    at,
                    actor,
                    EventKind::ApiTokenRevoked,
                    serde_json::json!({
                        "name": get::<String>(row, "name")?,
                        "prefix": get::<String>(row, "prefix")?,
                        "reason": "user deactivated",
                    }),
                );
                insert_event(&mut tx, &e).await?;
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Ok(new))
    }

    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<[u8; 32]>,
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(&password_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR hash <> $2)")
            .bind(id.to_string())
            .bind(keep.map(|h| h.to_vec()))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn bootstrap(
        &self,
        admin: NewUser,
        token: NewApiToken,
        events: Vec<NewEvent>,
    ) -> StoreResult<bool> {
        // BEGIN IMMEDIATE holds the write lock from the count to the commit: no race.
        let mut tx = self.write_tx().await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        if n > 0 {
            return Ok(false);
        }
        insert_user(&mut tx, &admin).await?;
        insert_token(&mut tx, &token).await?;
        for e in &events {
            insert_event(&mut tx, e).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn create_token(&self, token: NewApiToken, event: NewEvent) -> StoreResult<ApiToken> {
        let mut tx = self.write_tx().await?;
        // A deactivated user gets no token: it would come back to life on reactivation.
        let active: Option<Option<i64>> =
            sqlx::query_scalar("SELECT deactivated_at FROM users WHERE id = $1")
                .bind(token.user_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        if !matches!(active, Some(None)) {
            return Err(StoreError::NotFound);
        }
        insert_token(&mut tx, &token).await?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(ApiToken {
            id: token.id,
            name: token.name.as_str().to_owned(),
            role: token.role,
            user_id: token.user_id,
            prefix: token.prefix,
            created_at: token.created_at,
            revoked_at: None,
        })
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<(ApiToken, User)> {
        let row = sqlx::query(
            "SELECT t.id, t.name, t.role, t.user_id, t.prefix, t.created_at, t.revoked_at,
                    u.email AS u_email, u.name AS u_name, u.role AS u_role, u.created_at AS u_created_at,
                    u.deactivated_at AS u_deactivated_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.hash = $1 AND t.revoked_at IS NULL AND u.deactivated_at IS NULL",
        )
        .bind(&hash[..])
        .fetch_one(&self.reader)
        .await
        .map_err(map_err)?;
        let token = token_from(&row)?;
        let user = User {
            id: token.user_id,
            email: get(&row, "u_email")?,
            name: get(&row, "u_name")?,
            role: get_role(&row, "u_role")?,
            created_at: get_ts(&row, "u_created_at")?,
            deactivated_at: get_opt_ts(&row, "u_deactivated_at")?,
        };
        Ok((token, user))
    }

    async fn token(&self, id: ApiTokenId) -> StoreResult<ApiToken> {
        let row = sqlx::query(
            "SELECT id, name, role, user_id, prefix, created_at, revoked_at FROM api_tokens WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_one(&self.reader)
        .await
        .map_err(map_err)?;
        token_from(&row)
    }

    async fn list_tokens(
        &self,
        user: Option<UserId>,
        after: Option<ApiTokenId>,
        limit: u32,
    ) -> StoreResult<Page<ApiToken, ApiTokenId>> {
        let rows = sqlx::query(
            "SELECT id, name, role, user_id, prefix, created_at, revoked_at FROM api_tokens
             WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR id > $2)
             ORDER BY id LIMIT $3",
        )
        .bind(user.map(|u| u.to_string()))
        .bind(after.map(|a| a.to_string()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        let tokens = rows
            .iter()
            .map(token_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page(tokens, limit, |t| t.id))
    }

    async fn revoke_token(
        &self,
        id: ApiTokenId,
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<ApiToken> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
             RETURNING id, name, role, user_id, prefix, created_at, revoked_at",
        )
        .bind(id.to_string())
        .bind(to_millis(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        token_from(&row)
    }

    async fn create_session(&self, s: NewSession, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, hash, csrf_token, client_addr, created_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(&s.hash[..])
        .bind(&s.csrf_token)
        .bind(&s.client_addr)
        .bind(to_millis(s.created_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn session_by_hash(&self, hash: &[u8; 32]) -> StoreResult<(Session, User)> {
        let row = sqlx::query(
            "SELECT s.id AS s_id, s.csrf_token, s.created_at AS s_created_at, s.last_seen_at,
                    u.id, u.email, u.name, u.role, u.created_at, u.deactivated_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.hash = $1 AND u.deactivated_at IS NULL",
        )
        .bind(&hash[..])
        .fetch_one(&self.reader)
        .await
        .map_err(map_err)?;
        let user = user_from(&row)?;
        let session = Session {
            id: get_id::<SessionId>(&row, "s_id")?,
            user_id: user.id,
            csrf_token: get(&row, "csrf_token")?,
            created_at: get_ts(&row, "s_created_at")?,
            last_seen_at: get_ts(&row, "last_seen_at")?,
        };
        Ok((session, user))
    }

    async fn touch_session(&self, hash: &[u8; 32], at: Timestamp) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE hash = $1")
            .bind(&hash[..])
            .bind(to_millis(at))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn delete_session(&self, hash: &[u8; 32], event: Option<NewEvent>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM sessions WHERE hash = $1")
            .bind(&hash[..])
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(e) = &event {
            insert_event(&mut tx, e).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn record_login_failure(
        &self,
        keys: &[String],
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for key in keys {
            sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
                .bind(key)
                .bind(to_millis(at))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn count_login_failures(&self, key: &str, since: Timestamp) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at >= $2")
                .bind(key)
                .bind(to_millis(since))
                .fetch_one(&self.reader)
                .await
                .map_err(map_err)?;
        Ok(n as u64)
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn server_key(&self, name: &str) -> StoreResult<[u8; 32]> {
        let read = |pool| async move {
            sqlx::query("SELECT key FROM server_keys WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(map_err)
        };
        // Made once: read first, so the usual call takes no write lock.
        let row = match read(&self.reader).await? {
            Some(row) => row,
            None => {
                sqlx::query(
                    "INSERT INTO server_keys (name, key) VALUES ($1, randomblob(32))
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
                read(&self.writer).await?.ok_or(StoreError::NotFound)?
            }
        };
        let key: Vec<u8> = get(&row, "key")?;
        key.try_into()
            .map_err(|k: Vec<u8>| corrupt("server key length", &k.len().to_string()))
    }

    async fn prune(
        &self,
        sessions_before: Timestamp,
        idle_before: Timestamp,
        failures_before: Timestamp,
    ) -> StoreResult<Pruned> {
        let mut tx = self.write_tx().await?;
        let sessions =
            sqlx::query("DELETE FROM sessions WHERE created_at < $1 OR last_seen_at < $2")
                .bind(to_millis(sessions_before))
                .bind(to_millis(idle_before))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
        let login_failures = sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(to_millis(failures_before))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(Pruned {
            sessions,
            login_failures,
        })
    }
}

#[async_trait]
impl EngineStore for SqliteStore {
    async fn append_event(&self, event: NewEvent) -> StoreResult<Event> {
        let mut tx = self.write_tx().await?;
        let seq = insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Event {
            seq,
            subject_type: event.subject_type,
            subject_id: event.subject_id,
            at: event.at,
            actor: event.actor,
            kind: event.kind,
            data: event.data,
            pinned: false,
        })
    }

    async fn events(
        &self,
        subject_type: SubjectType,
        subject_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT seq, subject_type, subject_id, at, actor, kind, data, pinned FROM events
             WHERE subject_type = $1 AND subject_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .bind(subject_type.as_str())
        .bind(subject_id)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(event_from).collect()
    }

    async fn enqueue_job(&self, job: NewJob) -> StoreResult<Enqueued> {
        let mut tx = self.write_tx().await?;
        let out = insert_job(&mut tx, &job).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(out)
    }

    async fn claim_jobs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(
            "UPDATE jobs SET lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM jobs
                 WHERE dead_at IS NULL AND run_at <= $3
                   AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
                 ORDER BY run_at, id LIMIT $4)
             RETURNING *",
        )
        .bind(owner)
        .bind(to_millis(lease_until))
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        let mut jobs = rows.iter().map(job_from).collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    async fn complete_job(&self, id: JobId, owner: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
            .bind(id.to_string())
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        tx.commit().await.map_err(map_err)?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn retry_job(
        &self,
        id: JobId,
        owner: &str,
        error: &str,
        run_at: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE jobs SET run_at = $3, last_error = $4, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(to_millis(run_at))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        tx.commit().await.map_err(map_err)?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn reschedule_job(&self, id: JobId, owner: &str, run_at: Timestamp) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE jobs SET run_at = $3, attempts = 0, last_error = NULL, lease_owner = NULL,
                             lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(to_millis(run_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        tx.commit().await.map_err(map_err)?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn bury_job(
        &self,
        id: JobId,
        owner: &str,
        error: &str,
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE jobs SET dead_at = $3, last_error = $4, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(to_millis(event.at))
        .bind(error)
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

    async fn cancel_jobs(&self, dedup_key: &str) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM jobs WHERE dedup_key = $1 AND dead_at IS NULL")
            .bind(dedup_key)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }

    async fn job(&self, id: JobId) -> StoreResult<Job> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        job_from(&row)
    }

    async fn list_jobs(&self, after: Option<JobId>, limit: u32) -> StoreResult<Page<Job, JobId>> {
        let rows =
            sqlx::query("SELECT * FROM jobs WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2")
                .bind(after.map(|a| a.to_string()))
                .bind(i64::from(limit) + 1)
                .fetch_all(&self.reader)
                .await
                .map_err(map_err)?;
        let jobs = rows.iter().map(job_from).collect::<StoreResult<Vec<_>>>()?;
        Ok(page(jobs, limit, |j| j.id))
    }

    async fn count_live_jobs(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE dead_at IS NULL")
            .fetch_one(&self.reader)
            .await
            .map_err(map_err)?;
        Ok(n.try_into().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn the_data_directory_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = std::env::temp_dir().join(format!("klaxon-perm-{}", std::process::id()));
        let dir = tmp.join("klaxon-data");
        super::create_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
