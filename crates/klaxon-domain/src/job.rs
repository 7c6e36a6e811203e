//! The engine's queue, as rules: how long a claim lasts and when a failed job runs again.
use jiff::{SignedDuration, Timestamp};

/// When a job that failed on its `attempt`-th try (1-based) runs next, or `None` once it has
/// used up its attempts and should be kept aside as dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: SignedDuration,
    pub cap: SignedDuration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base: SignedDuration::from_secs(5),
            cap: SignedDuration::from_mins(30),
        }
    }
}

impl RetryPolicy {
    /// Exponential back-off: base, 2·base, 4·base… capped.
    pub fn delay(&self, attempt: u32) -> SignedDuration {
        let exp = attempt.saturating_sub(1).min(30);
        let factor = 1i64 << exp;
        let secs = self.base.as_secs().saturating_mul(factor);
        SignedDuration::from_secs(secs).min(self.cap)
    }

    pub fn next_run(&self, attempt: u32, now: Timestamp) -> Option<Timestamp> {
        (attempt < self.max_attempts)
            .then(|| now.saturating_add(self.delay(attempt)).unwrap_or(now))
    }
}

/// How long a claimed job is reserved for its worker. A worker that dies mid-job loses the
/// lease when it expires, and the job becomes claimable again.
pub const DEFAULT_LEASE: SignedDuration = SignedDuration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps_then_gives_up() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), SignedDuration::from_secs(5));
        assert_eq!(p.delay(2), SignedDuration::from_secs(10));
        assert_eq!(p.delay(4), SignedDuration::from_secs(40));
        assert_eq!(p.delay(20), SignedDuration::from_mins(30));
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            p.next_run(1, now),
            Some("2026-01-01T00:00:05Z".parse().unwrap())
        );
        assert_eq!(p.next_run(8, now), None);
    }
}
