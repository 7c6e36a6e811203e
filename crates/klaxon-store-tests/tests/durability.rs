//! Every write acknowledged by group commit survives an abrupt stop (SIGKILL) of the writer.
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use klaxon_domain::event::SubjectType;
use klaxon_store_tests::{Backend, TestDatabase};

async fn acknowledged_writes_survive_sigkill(backend: Backend) {
    let Some(db) = TestDatabase::new(backend).await else {
        return;
    };
    drop(db.open().await); // create and migrate before the writer starts
    let mut child = Command::new(env!("CARGO_BIN_EXE_durability-writer"))
        .arg(db.url())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start writer");
    let stdout = child.stdout.take().unwrap();
    // Read acknowledgements on a thread; kill the writer mid-stream once enough have arrived.
    let reader = std::thread::spawn(move || {
        let mut acked = HashSet::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ack ") {
                acked.insert(n.parse::<u64>().unwrap());
            }
        }
        acked
    });
    let started = Instant::now();
    // Let it run long enough to have many transactions in flight when it dies.
    while started.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(Some(status)) = child.try_wait() {
            panic!("writer exited early: {status}");
        }
    }
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    child.wait().unwrap();
    let acked = reader.join().unwrap();
    assert!(
        acked.len() > 100,
        "the writer acknowledged only {} writes",
        acked.len()
    );

    let store = db.open().await;
    let mut stored = HashSet::new();
    let mut after = None;
    loop {
        let page = store
            .events(SubjectType::System, "durability", after, 5000)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        stored.extend(page.iter().map(|e| e.data["n"].as_u64().unwrap()));
    }
    let lost: Vec<_> = acked.difference(&stored).take(5).collect();
    assert!(
        lost.is_empty(),
        "acknowledged writes lost after SIGKILL: {lost:?} (of {} acked)",
        acked.len()
    );
    eprintln!(
        "{backend:?}: {} acknowledged, {} stored, none lost",
        acked.len(),
        stored.len()
    );
}

#[tokio::test]
async fn sqlite_acknowledged_writes_survive_sigkill() {
    acknowledged_writes_survive_sigkill(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_acknowledged_writes_survive_sigkill() {
    acknowledged_writes_survive_sigkill(Backend::Postgres).await;
}
