//! Services and their integrations: the parsed forms of their settings.
use crate::Invalid;

/// Trims `raw` and checks it has 1 to `max` characters.
pub fn text(raw: &str, field: &str, max: usize) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(s.to_owned())
}

/// Like [`text`] but may be empty.
pub fn optional_text(raw: &str, field: &str, max: usize) -> Result<String, Invalid> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        text(raw, field, max)
    }
}

pub const NAME_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 2000;

/// Requests per minute an integration accepts by default before answering 429. PagerDuty
/// allows about 120 per key; a self-hosted server can afford more.
pub const DEFAULT_RATE_LIMIT: u32 = 600;
pub const MAX_RATE_LIMIT: u32 = 1_000_000;

pub fn rate_limit(n: u32) -> Result<u32, Invalid> {
    if n > MAX_RATE_LIMIT {
        return Err(Invalid::new(
            "rate_limit_per_minute",
            format!("must be at most {MAX_RATE_LIMIT} (0 means no limit)"),
        ));
    }
    Ok(n)
}

/// Heartbeat intervals from a minute to 9000 hours (GoAlert's upper bound).
pub const HEARTBEAT_MIN_SECS: u32 = 60;
pub const HEARTBEAT_MAX_SECS: u32 = 9000 * 3600;

pub fn heartbeat_interval(secs: u32) -> Result<u32, Invalid> {
    if !(HEARTBEAT_MIN_SECS..=HEARTBEAT_MAX_SECS).contains(&secs) {
        return Err(Invalid::new(
            "heartbeat_interval_secs",
            format!("must be between {HEARTBEAT_MIN_SECS} and {HEARTBEAT_MAX_SECS} seconds"),
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_bounded() {
        assert_eq!(text("  api  ", "name", 10).unwrap(), "api");
        assert_eq!(text(" ", "name", 10).unwrap_err().field, "name");
        assert!(text(&"x".repeat(11), "name", 10).is_err());
        assert_eq!(optional_text("", "description", 5).unwrap(), "");
        assert!(heartbeat_interval(59).is_err());
        assert!(heartbeat_interval(300).is_ok());
        assert!(rate_limit(0).is_ok());
        assert!(rate_limit(MAX_RATE_LIMIT + 1).is_err());
    }
}
