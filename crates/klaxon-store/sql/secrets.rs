//! Runbook secrets, kept sealed.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::NewEvent;
use klaxon_store::*;

use super::engine::insert_event;
use super::*;

#[async_trait]
impl SecretStore for DbStore {
    async fn put_secret(
        &self,
        name: &str,
        sealed: &[u8],
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO secrets (name, sealed, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed,
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(sealed)
        .bind(to_millis(at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &event).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn delete_secret(&self, name: &str, event: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query("DELETE FROM secrets WHERE name = $1")
            .bind(name)
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

    async fn list_secrets(&self) -> StoreResult<Vec<SecretInfo>> {
        let rows = sqlx::query("SELECT name, created_at, updated_at FROM secrets ORDER BY name")
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|r| {
                Ok(SecretInfo {
                    name: get(r, "name")?,
                    created_at: get_ts(r, "created_at")?,
                    updated_at: get_ts(r, "updated_at")?,
                })
            })
            .collect()
    }

    async fn sealed_secrets(&self, names: &[String]) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        // A step names a few secrets: one short read each.
        for name in names {
            let row = sqlx::query("SELECT sealed FROM secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(self.reader())
                .await
                .map_err(map_err)?;
            if let Some(r) = row {
                out.push((name.clone(), get(&r, "sealed")?));
            }
        }
        Ok(out)
    }
}
