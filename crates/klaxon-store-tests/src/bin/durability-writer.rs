//! Writes events through group commit as fast as it can and prints `ack <n>` for each write
//! once it is acknowledged, until it is killed. Used by the durability test.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::sync::Arc;

use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_store::{GroupCommit, Store, Write};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: durability-writer URL");
    let store: Arc<dyn Store> = if url.starts_with("postgres") {
        Arc::new(
            klaxon_store_postgres::PgStore::connect(&url, 8)
                .await
                .expect("connect"),
        )
    } else {
        Arc::new(
            klaxon_store_sqlite::SqliteStore::open(&klaxon_store_sqlite::path_from_url(&url))
                .await
                .expect("open"),
        )
    };
    let (gc, _writer) = GroupCommit::spawn(store, 256);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    for w in 0..32u64 {
        let gc = gc.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0.. {
                let n = w * 1_000_000_000 + i;
                let e = NewEvent::new(
                    SubjectType::System,
                    "durability",
                    jiff::Timestamp::now(),
                    Actor::System,
                    EventKind::SystemNote,
                    serde_json::json!({ "n": n }),
                );
                gc.write(Write::Event(e)).await.expect("write");
                if tx.send(n).is_err() {
                    return;
                }
            }
        });
    }
    let mut out = std::io::stdout().lock();
    while let Some(n) = rx.recv().await {
        // Printed only after the commit: whatever the parent reads was acknowledged.
        writeln!(out, "ack {n}").expect("stdout");
        out.flush().expect("stdout");
    }
}
