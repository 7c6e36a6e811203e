//! Large reads (a year of insights) on read-only rusqlite connections.
//!
//! sqlx hands SQLite's rows over one at a time from its worker thread: on a read of 175,000
//! rows that handover cost several times the query itself (docs/performance.md, Insights).
//! Here the whole read runs in one blocking call and decodes its rows in place.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use klaxon_store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags, Row};
use tokio::sync::Semaphore;

use crate::batch::Db as _;
use crate::sql::{Cols, corrupt};

/// At most this many large reads at once, as the sqlx reader pool allows: each holds a
/// blocking thread and its rows.
const READERS: usize = 4;

/// Read-only connections, idle ones kept for reuse (opening one reads the schema again).
pub(crate) struct BulkReader {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl BulkReader {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Arc::default(),
            permits: Arc::new(Semaphore::new(READERS)),
        }
    }

    /// Every row of `sql`, each decoded by `decode`. `args` bind by position: SQLite numbers
    /// `$N` parameters in the order they first appear, so a query names `$1` before `$2`.
    pub(crate) async fn rows<T: Send + 'static>(
        &self,
        sql: &'static str,
        args: Vec<i64>,
        decode: fn(&dyn Cols) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let (path, idle) = (self.path.clone(), self.idle.clone());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match taken {
                Some(c) => c,
                None => open(&path)?,
            };
            let out = read(&conn, sql, &args, decode);
            // A connection whose read failed may be in any state: dropped, not kept.
            if out.is_ok() {
                idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Other(format!("bulk read failed: {e}").into()))?
    }

    /// Closes the idle connections and refuses further reads (the store is closing).
    pub(crate) fn close(&self) {
        self.permits.close();
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Read-only, with the reader pool's settings (a busy timeout, sorts in memory) and the file
/// mapped into memory: a year's read walks some 100 MB of index, and copying each page in
/// through `pread` took a fifth of its time.
fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .db()?;
    conn.busy_timeout(Duration::from_secs(5)).db()?;
    conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824;")
        .db()?;
    conn.set_prepared_statement_cache_capacity(8);
    Ok(conn)
}

fn read<T>(
    conn: &Connection,
    sql: &str,
    args: &[i64],
    decode: fn(&dyn Cols) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args.iter())).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(decode(&RowCols(row))?);
    }
    Ok(out)
}

struct RowCols<'a, 'r>(&'a Row<'r>);

impl Cols for RowCols<'_, '_> {
    fn int(&self, i: usize) -> StoreResult<Option<i64>> {
        self.0.get(i).db()
    }

    fn text(&self, i: usize) -> StoreResult<Option<String>> {
        self.0.get(i).db()
    }

    /// Ids are TEXT, hyphenated.
    fn uuid(&self, i: usize) -> StoreResult<Option<uuid::Uuid>> {
        let s: Option<String> = self.0.get(i).db()?;
        s.map(|s| uuid::Uuid::parse_str(&s).map_err(|_| corrupt("id", &s)))
            .transpose()
    }
}
