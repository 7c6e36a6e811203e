//! One contract suite for every storage backend, and throwaway databases to run it on.
//!
//! SQLite databases live in a temporary directory. PostgreSQL databases are created with a
//! random name on the server named by `KLAXON_TEST_PG_URL` and dropped afterwards;
//! `scripts/test.sh` starts a throwaway server and sets it. Without it, PostgreSQL tests fail
//! loudly rather than skip, unless `KLAXON_TEST_SKIP_PG=1` says to skip them on purpose.
#![forbid(unsafe_code)]

pub mod contract;

use std::sync::Arc;

use klaxon_store::Store;
use klaxon_store_postgres::PgStore;
use klaxon_store_sqlite::SqliteStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database that is removed when dropped.
pub struct TestDatabase {
    url: String,
    backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>, // (admin url, database name)
}

fn random_suffix() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether PostgreSQL tests should run; panics with what to do when they cannot.
pub fn pg_url() -> Option<String> {
    match std::env::var("KLAXON_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("KLAXON_TEST_SKIP_PG").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: PostgreSQL test (KLAXON_TEST_SKIP_PG=1)");
            None
        }
        _ => panic!(
            "KLAXON_TEST_PG_URL is not set: run scripts/test.sh (it starts a throwaway PostgreSQL), \
             or set it to a server where this user may CREATE DATABASE, \
             or set KLAXON_TEST_SKIP_PG=1 to skip PostgreSQL tests on purpose"
        ),
    }
}

/// `postgres://u@h:p/db?x` with its database replaced.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

impl TestDatabase {
    /// A new database, or `None` when PostgreSQL tests are skipped on purpose.
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("klaxon.db").display());
                Some(Self {
                    url,
                    backend,
                    _dir: Some(dir),
                    pg: None,
                })
            }
            Backend::Postgres => {
                let admin = pg_url()?;
                let name = format!("klaxon_test_{}", random_suffix());
                let store = PgStore::connect_without_migrating(&admin, 1)
                    .await
                    .expect("connect to KLAXON_TEST_PG_URL");
                sqlx_exec(&store, &format!("CREATE DATABASE {name}")).await;
                store.pool().close().await;
                Some(Self {
                    url: with_database(&admin, &name),
                    backend,
                    _dir: None,
                    pg: Some((admin, name)),
                })
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// PostgreSQL only: refuses new connections to this database and ends the open ones (an
    /// outage for whoever uses it, the server staying up for other tests), or lets them in
    /// again.
    pub async fn set_reachable(&self, reachable: bool) {
        let Some((admin, name)) = &self.pg else {
            panic!("only a PostgreSQL test database can be taken away");
        };
        let store = PgStore::connect_without_migrating(admin, 1)
            .await
            .expect("connect to KLAXON_TEST_PG_URL");
        sqlx_exec(
            &store,
            &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {reachable}"),
        )
        .await;
        if !reachable {
            sqlx_exec(
                &store,
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ),
            )
            .await;
        }
        store.pool().close().await;
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Opens the database and applies migrations.
    pub async fn open(&self) -> Arc<dyn Store> {
        match self.backend {
            Backend::Sqlite => Arc::new(
                SqliteStore::open(&klaxon_store_sqlite::path_from_url(&self.url))
                    .await
                    .expect("open sqlite"),
            ),
            Backend::Postgres => Arc::new(
                PgStore::connect(&self.url, 16)
                    .await
                    .expect("connect postgres"),
            ),
        }
    }
}

async fn sqlx_exec(store: &PgStore, sql: &str) {
    use sqlx_reexport::Executor;
    store
        .pool()
        .execute(sqlx_reexport::AssertSqlSafe(sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

mod sqlx_reexport {
    pub use klaxon_store_postgres::sqlx::{AssertSqlSafe, Executor};
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        if std::env::var("KLAXON_TEST_KEEP_DB").as_deref() == Ok("1") {
            eprintln!("kept test database {name}");
            return;
        }
        // Drop runs outside async context: use a small runtime of our own on another thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let store = PgStore::connect_without_migrating(&admin, 1).await.ok()?;
                sqlx_exec(
                    &store,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                )
                .await;
                store.pool().close().await;
                Some(())
            })
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_is_swapped_in_urls() {
        assert_eq!(
            super::with_database(
                "postgres://u:p@127.0.0.1:5433/postgres?sslmode=disable",
                "t1"
            ),
            "postgres://u:p@127.0.0.1:5433/t1?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h:1", "t2"),
            "postgres://u@h:1/t2"
        );
    }
}
