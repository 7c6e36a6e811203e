//! The store itself: its migrations, and the methods of [`Store`] beside its capabilities.
use async_trait::async_trait;
use klaxon_domain::clock::to_millis;
use klaxon_store::{Store, StoreError, StoreResult};

use super::*;

impl DbStore {
    /// Applies pending migrations.
    pub async fn migrate(&self) -> StoreResult<()> {
        crate::MIGRATOR
            .run(self.writer())
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))
    }

    /// Names of the migrations applied to this database, oldest first.
    pub async fn applied_migrations(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT description FROM _sqlx_migrations ORDER BY version")
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?;
        rows.iter().map(|r| get(r, "description")).collect()
    }
}

#[async_trait]
impl Store for DbStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(self.reader())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn probe_write(&self, at: jiff::Timestamp) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO readiness (id, checked_at) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(to_millis(at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn close(&self) {
        self.close_pools().await;
    }
}
