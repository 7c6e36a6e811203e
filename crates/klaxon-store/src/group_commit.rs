//! Durable group commit: one writer task drains concurrent writes into one transaction and
//! answers each caller only after that transaction committed.
//!
//! A durable commit costs an fsync; with one transaction per request the disk's fsync rate caps
//! throughput. Batching shares one fsync among every write waiting at that moment, so under load
//! throughput grows with the batch size while each caller still gets its answer only once its
//! write is on disk.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{Store, StoreError, StoreResult, Write, WriteAck};

type Request = (Write, oneshot::Sender<StoreResult<WriteAck>>);

/// Counters for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct GroupCommitStats {
    pub batches: AtomicU64,
    pub writes: AtomicU64,
}

/// A handle to the writer task. Cheap to clone; the task stops when the last handle is dropped
/// and the queue is drained.
#[derive(Clone)]
pub struct GroupCommit {
    tx: mpsc::Sender<Request>,
    stats: Arc<GroupCommitStats>,
    stop: Arc<tokio::sync::watch::Sender<bool>>,
}

impl GroupCommit {
    /// Starts the writer. `max_batch` bounds one transaction; the queue holds as many waiting
    /// writes again before callers wait for room (back-pressure instead of unbounded memory).
    pub fn spawn(store: Arc<dyn Store>, max_batch: usize) -> (Self, JoinHandle<()>) {
        let max_batch = max_batch.max(1);
        let (tx, mut rx) = mpsc::channel::<Request>(max_batch * 2);
        let stats = Arc::new(GroupCommitStats::default());
        let task_stats = stats.clone();
        let (stop, mut stopping) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max_batch);
            loop {
                let stop = async {
                    let _ = stopping.wait_for(|s| *s).await;
                };
                let received = tokio::select! {
                    n = rx.recv_many(&mut batch, max_batch) => Some(n),
                    _ = stop => None,
                };
                match received {
                    Some(0) => break,
                    Some(_) => commit(&*store, &mut batch, &task_stats).await,
                    None => {
                        // Refuse new writes, then commit and answer everything already queued.
                        rx.close();
                        while rx.recv_many(&mut batch, max_batch).await > 0 {
                            commit(&*store, &mut batch, &task_stats).await;
                        }
                        break;
                    }
                }
            }
        });
        (
            Self {
                tx,
                stats,
                stop: Arc::new(stop),
            },
            task,
        )
    }

    /// Queues a write and waits until it is committed (or failed).
    pub async fn write(&self, write: Write) -> StoreResult<WriteAck> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((write, reply))
            .await
            .map_err(|_| StoreError::Unavailable("group commit writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("group commit writer stopped".into()))?
    }

    /// Stops taking writes; the writer task commits what is queued and ends.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    pub fn stats(&self) -> &GroupCommitStats {
        &self.stats
    }
}

async fn commit(store: &dyn Store, batch: &mut Vec<Request>, stats: &GroupCommitStats) {
    let (writes, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
    let n = writes.len();
    let results = store.commit_batch(writes).await;
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats.writes.fetch_add(n as u64, Ordering::Relaxed);
    for (reply, result) in replies.into_iter().zip(results) {
        // A caller that gave up waiting still had its write committed; nothing to do.
        let _ = reply.send(result);
    }
}
