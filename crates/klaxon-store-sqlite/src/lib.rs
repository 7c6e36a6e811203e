//! Klaxon on SQLite: the embedded default, for one instance.
//!
//! Two pools: one writer connection (SQLite has one writer; serialising writers in-process
//! avoids busy-waiting on the file lock) and a few readers, which WAL lets run beside it.
//! Every write transaction starts with `BEGIN IMMEDIATE`, so it takes the write lock up front
//! and never fails half-way when another process (an offline `klaxon` command) holds it.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use klaxon_store::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use db::map_err;

/// What the shared queries need of SQLite: types, codecs, errors, SQL fragments, hooks.
#[macro_use]
mod db;
/// The queries, written once for SQLite and PostgreSQL.
#[path = "../../klaxon-store/sql/mod.rs"]
mod sql;

mod batch;
mod bulk;
#[cfg(test)]
mod upgrade;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct SqliteStore {
    writer: SqlitePool,
    /// Group commit's batches; the pool above serves the other, rarer writes.
    batch: batch::BatchWriter,
    reader: SqlitePool,
    /// Large reads, on rusqlite (`bulk.rs`).
    bulk: bulk::BulkReader,
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
            // A COMMIT that fails (a full disk) is rolled back by SQLite itself, but sqlx then
            // still counts a transaction open on the connection and refuses every BEGIN on it
            // for good. Such a connection is closed when it comes back, and the next write
            // opens a fresh one: writes resume as soon as space does.
            .after_release(|conn, _| {
                Box::pin(async move {
                    use sqlx::Connection as _;
                    use sqlx_core::transaction::TransactionManager as _;
                    // A dropped transaction's ROLLBACK is only queued: carry it out first, so
                    // that only a connection it cannot bring back is closed.
                    conn.ping().await?;
                    Ok(sqlx::sqlite::SqliteTransactionManager::get_transaction_depth(conn) == 0)
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(map_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            // A read's sorts and DISTINCTs in memory: in a temporary file they were read back
            // page by page through the kernel.
            .connect_with(options.read_only(true).pragma("temp_store", "memory"))
            .await
            .map_err(map_err)?;
        let batch = batch::BatchWriter::open(path)?;
        Ok(Self {
            writer,
            batch,
            reader,
            bulk: bulk::BulkReader::new(path),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
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
