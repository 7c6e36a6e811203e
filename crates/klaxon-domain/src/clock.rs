//! Time is injected: every rule takes `now` from a [`Clock`], so tests can drive time by hand.
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct FakeClock(Arc<Mutex<Timestamp>>);

impl FakeClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }

    pub fn advance(&self, by: SignedDuration) -> Timestamp {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.saturating_add(by).unwrap_or(*now);
        *now
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Milliseconds since the Unix epoch: how instants are stored, identically on both backends.
pub fn to_millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_told_and_clones_share_time() {
        let start: Timestamp = "2026-03-08T06:00:00Z".parse().unwrap();
        let clock = FakeClock::new(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        other.advance(SignedDuration::from_mins(5));
        assert_eq!(
            clock.now(),
            "2026-03-08T06:05:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn millis_round_trip() {
        let t: Timestamp = "2026-11-21T10:11:12.345Z".parse().unwrap();
        assert_eq!(from_millis(to_millis(t)), t);
    }
}

/// An IANA time zone name as given by a person ("Europe/Berlin", " utc "), checked against the
/// bundled database and returned in its canonical spelling. `field` names the input to blame.
pub fn zone_name(field: &str, raw: &str) -> Result<String, crate::Invalid> {
    let tz = jiff::tz::TimeZone::get(raw.trim())
        .ok()
        .filter(|tz| !tz.is_unknown())
        .ok_or_else(|| {
            crate::Invalid::new(field, "must be an IANA time zone name, like Europe/Berlin")
        })?;
    Ok(tz.iana_name().unwrap_or(raw.trim()).to_owned())
}

#[cfg(test)]
mod zone_tests {
    #[test]
    fn zone_names_are_checked_and_canonical() {
        assert_eq!(
            super::zone_name("tz", "Europe/Berlin").unwrap(),
            "Europe/Berlin"
        );
        let e = super::zone_name("time_zone", "Berlin").unwrap_err();
        assert_eq!(e.field, "time_zone");
    }
}
