//! Repeated warnings as periodic summaries. While the database is down or the disk is full,
//! every request fails the same way; a line per failure (thousands a second) would bury the
//! cause, fill what is left of the disk and cost more than the requests. So each kind of
//! warning is written at most once per [`WINDOW`], and the next line written says how many like
//! it were held back.
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// At most one line per kind of warning this often.
pub const WINDOW: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Kind {
    last: Option<Instant>,
    held_back: u64,
}

/// Whether to write a warning of kind `key` now. `Some(n)`: write it, saying that `n` like it
/// were held back since the last one; `None`: skip it (it is counted).
pub fn allow(key: &'static str) -> Option<u64> {
    allow_at(key, Instant::now())
}

fn allow_at(key: &'static str, now: Instant) -> Option<u64> {
    static KINDS: OnceLock<Mutex<HashMap<&'static str, Kind>>> = OnceLock::new();
    let mut kinds = KINDS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let kind = kinds.entry(key).or_default();
    match kind.last {
        Some(last) if now.saturating_duration_since(last) < WINDOW => {
            kind.held_back += 1;
            None
        }
        _ => {
            kind.last = Some(now);
            Some(std::mem::take(&mut kind.held_back))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_window_then_the_count_of_those_held_back() {
        let t0 = Instant::now();
        assert_eq!(allow_at("test-a", t0), Some(0));
        for i in 1..=500 {
            assert_eq!(allow_at("test-a", t0 + Duration::from_millis(i)), None);
        }
        // Another kind is not held back by the first.
        assert_eq!(allow_at("test-b", t0), Some(0));
        assert_eq!(allow_at("test-a", t0 + WINDOW), Some(500));
        assert_eq!(allow_at("test-a", t0 + WINDOW + WINDOW), Some(0));
    }
}
