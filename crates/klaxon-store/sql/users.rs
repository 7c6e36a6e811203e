//! Users and how they sign in: users, API tokens, web sessions, login throttling, the first
//! admin and the server's own keys.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ApiTokenId, SessionId, UserId};
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::insert_event;
use super::*;

fn user_from(row: &DbRow) -> StoreResult<User> {
    Ok(User {
        id: get_id(row, "id")?,
        email: get(row, "email")?,
        name: get(row, "name")?,
        role: get_role(row, "role")?,
        created_at: get_ts(row, "created_at")?,
        deactivated_at: get_opt_ts(row, "deactivated_at")?,
        time_zone: get(row, "time_zone")?,
    })
}

fn token_from(row: &DbRow) -> StoreResult<ApiToken> {
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

async fn insert_user(tx: &mut Transaction<'_, Db>, u: &NewUser) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(db_id(u.id))
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

async fn insert_token(tx: &mut Transaction<'_, Db>, t: &NewApiToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, role, prefix, hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(db_id(t.id))
    .bind(db_id(t.user_id))
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

#[async_trait]
impl UserStore for DbStore {
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
            time_zone: None,
        })
    }

    async fn user(&self, id: UserId) -> StoreResult<User> {
        let row = sqlx::query(
            "SELECT id, email, name, role, created_at, deactivated_at, time_zone FROM users WHERE id = $1",
        )
        .bind(db_id(id))
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        user_from(&row)
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<UserCredentials> {
        let row = sqlx::query(
            "SELECT id, email, name, role, created_at, deactivated_at, time_zone, password_hash FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        Ok(UserCredentials {
            user: user_from(&row)?,
            password_hash: get(&row, "password_hash")?,
        })
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.reader())
            .await
            .map_err(map_err)?;
        Ok(n as u64)
    }

    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Page<User, UserId>> {
        page_by_id(
            self.reader(),
            "SELECT id, email, name, role, created_at, deactivated_at, time_zone FROM users
             WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
            after,
            limit,
            user_from,
            |u| u.id,
        )
        .await
    }

    async fn change_user(
        &self,
        id: UserId,
        edit: UserEdit,
    ) -> StoreResult<Result<User, klaxon_domain::incident::Refusal>> {
        let mut tx = self.write_tx().await?;
        lock_users(&mut tx).await?;
        let row = sqlx::query(
            "SELECT id, email, name, role, created_at, deactivated_at, time_zone FROM users WHERE id = $1",
        )
        .bind(db_id(id))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        let user = user_from(&row)?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND deactivated_at IS NULL AND id <> $1",
        )
        .bind(db_id(id))
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
            "UPDATE users SET email = $2, name = $3, role = $4, deactivated_at = $5, time_zone = $6
             WHERE id = $1",
        )
        .bind(db_id(id))
        .bind(&new.email)
        .bind(&new.name)
        .bind(new.role.as_str())
        .bind(new.deactivated_at.map(to_millis))
        .bind(new.time_zone.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        for e in &change.events {
            insert_event(&mut tx, e).await?;
        }
        if let (true, Some(at)) = (snap.user.active(), new.deactivated_at) {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(db_id(id))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let revoked = sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL
                 RETURNING id, name, prefix",
            )
            .bind(db_id(id))
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
            .bind(db_id(id))
            .bind(&password_hash)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR hash <> $2)")
            .bind(db_id(id))
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
        // BEGIN IMMEDIATE (SQLite) or the table lock (PostgreSQL) holds off other writers from
        // the count to the commit: no race.
        let mut tx = self.write_tx().await?;
        lock_users(&mut tx).await?;
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
        let active: Option<Option<i64>> = sqlx::query_scalar(concat!(
            "SELECT deactivated_at FROM users WHERE id = $1",
            for_share!()
        ))
        .bind(db_id(token.user_id))
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
                    u.deactivated_at AS u_deactivated_at, u.time_zone AS u_time_zone
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.hash = $1 AND t.revoked_at IS NULL AND u.deactivated_at IS NULL",
        )
        .bind(&hash[..])
        .fetch_one(self.reader())
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
            time_zone: get(&row, "u_time_zone")?,
        };
        Ok((token, user))
    }

    async fn token(&self, id: ApiTokenId) -> StoreResult<ApiToken> {
        let row = sqlx::query(
            "SELECT id, name, role, user_id, prefix, created_at, revoked_at FROM api_tokens WHERE id = $1",
        )
        .bind(db_id(id))
        .fetch_one(self.reader())
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
        .bind(user.map(db_id))
        .bind(after.map(db_id))
        .bind(i64::from(limit) + 1)
        .fetch_all(self.reader())
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
        .bind(db_id(id))
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
        .bind(db_id(s.id))
        .bind(db_id(s.user_id))
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
                    u.id, u.email, u.name, u.role, u.created_at, u.deactivated_at, u.time_zone
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.hash = $1 AND u.deactivated_at IS NULL",
        )
        .bind(&hash[..])
        .fetch_one(self.reader())
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
                .fetch_one(self.reader())
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
        // Made once: read first, so the usual call writes nothing. Callers (and instances)
        // racing to make it all insert-or-skip, then read the one row that won.
        let row = match read(self.reader()).await? {
            Some(row) => row,
            None => {
                sqlx::query(concat!(
                    "INSERT INTO server_keys (name, key) VALUES ($1, ",
                    random_key!(),
                    ")
                     ON CONFLICT (name) DO NOTHING",
                ))
                .bind(name)
                .execute(self.writer())
                .await
                .map_err(map_err)?;
                read(self.writer()).await?.ok_or(StoreError::NotFound)?
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
