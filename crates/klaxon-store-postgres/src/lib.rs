//! Klaxon on PostgreSQL: for several stateless instances sharing one database.
//!
//! Work is shared through row locks: job claims use `FOR UPDATE SKIP LOCKED`, so instances never
//! lease the same job, and start-up bootstrap takes a table lock so only one creates the admin.
#![forbid(unsafe_code)]

pub use sqlx;

use std::time::Duration;

use klaxon_store::*;
use sqlx::postgres::{PgPool, PgPoolOptions};

use db::map_err;

/// What the shared queries need of PostgreSQL: types, codecs, errors, SQL fragments, hooks.
#[macro_use]
mod db;
/// The queries, written once for SQLite and PostgreSQL.
#[path = "../../klaxon-store/sql/mod.rs"]
mod sql;

mod signals;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and applies pending migrations (sqlx serialises concurrent migrators with an
    /// advisory lock, so several instances may start at once).
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let store = Self::connect_without_migrating(url, max_connections).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn connect_without_migrating(url: &str, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // While the database cannot be reached, callers get 503 in about this long rather
            // than hanging; a healthy pool hands out connections in milliseconds.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(map_err)?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
