//! In-memory protections for hot paths: a per-key rate limiter and a short-lived cache of
//! looked-up records. Both protect this process only; a restart forgets them, losing nothing.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;

/// Limits per key over a sliding minute, estimated from this minute's count and the previous
/// minute's (weighted by how much of it still lies in the window). A restart forgets at most a
/// minute of counts.
pub struct RateLimiter<K> {
    windows: Mutex<HashMap<K, (i64, u32, u32)>>,
}

impl<K> Default for RateLimiter<K> {
    fn default() -> Self {
        Self {
            windows: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// Counts one request; `Err(seconds)` says when to retry if over `per_minute`.
    pub fn check(&self, key: K, per_minute: u32, now: Timestamp) -> Result<(), u64> {
        if per_minute == 0 {
            return Ok(());
        }
        let ms = now.as_millisecond();
        let minute = ms.div_euclid(60_000);
        let into = ms.rem_euclid(60_000);
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(key).or_insert((minute, 0, 0));
        if entry.0 != minute {
            let prev = if entry.0 == minute - 1 { entry.1 } else { 0 };
            *entry = (minute, 0, prev);
        }
        let (_, current, previous) = *entry;
        let weight = (60_000 - into) as f64 / 60_000.0;
        let estimate = f64::from(current) + f64::from(previous) * weight;
        if estimate + 1.0 > f64::from(per_minute) {
            let retry = ((60_000 - into) as u64).div_ceil(1000).max(1);
            return Err(retry);
        }
        entry.1 += 1;
        Ok(())
    }
}

/// How long a looked-up record is trusted without reading the database again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);
/// Past this many keys the cache starts afresh rather than grow.
const KEY_CACHE_MAX: usize = 10_000;

/// Records by the digest of the secret key that finds them (integration keys), so a burst of
/// requests does not read the database per request. The owner forgets every entry when such a
/// record changes, so a rotated or deleted key stops working here at once; other instances
/// (PostgreSQL) stop within [`KEY_CACHE_TTL`]. Callers never cache unknown keys, so guessing
/// cannot fill it.
pub struct KeyCache<V> {
    entries: Mutex<HashMap<[u8; 32], (V, Instant)>>,
}

impl<V> Default for KeyCache<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> KeyCache<V> {
    pub fn get(&self, digest: &[u8; 32]) -> Option<V> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(digest)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(v, _)| v.clone())
    }

    pub fn put(&self, digest: [u8; 32], value: V) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= KEY_CACHE_MAX {
            map.clear();
        }
        map.insert(digest, (value, Instant::now()));
    }

    /// Called after any change to what is cached.
    pub fn forget_all(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
