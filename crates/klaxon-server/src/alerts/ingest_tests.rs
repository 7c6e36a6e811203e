//! Unit tests of the ingest routes' pure parts.
use super::*;
use klaxon_domain::ids::IntegrationId;

#[test]
fn times_in_pagerduty_and_rfc3339_forms() {
    let a = parse_time("2015-07-17T08:42:58.315+0000").unwrap();
    let b = parse_time("2015-07-17T08:42:58.315Z").unwrap();
    assert_eq!(a, b);
    assert!(parse_time("yesterday").is_none());
    assert!(parse_time("2015-07-17").is_none());
}

#[test]
fn keys_are_not_logged() {
    assert_eq!(
        loggable_path("/integrations/abcdef0123/alertmanager"),
        "/integrations/<key>/alertmanager"
    );
    assert_eq!(loggable_path("/ack/AbC-123_x"), "/ack/<token>");
    assert_eq!(
        loggable_path("/calendar/users/AbC-123.ics"),
        "/calendar/users/<token>"
    );
    assert_eq!(loggable_path("/api/v1/me"), "/api/v1/me");
}

#[test]
fn the_rate_limit_slides_over_a_minute() {
    let rl = crate::shared::limits::RateLimiter::default();
    let id = IntegrationId(uuid::Uuid::nil());
    let t0: Timestamp = "2026-11-21T09:00:00Z".parse().unwrap();
    for _ in 0..10 {
        rl.check(id, 10, t0).unwrap();
    }
    let retry = rl.check(id, 10, t0).unwrap_err();
    assert_eq!(retry, 60);
    // Half a minute into the next minute, half of the previous minute still counts.
    let t1 = t0 + jiff::SignedDuration::from_secs(90);
    for _ in 0..5 {
        rl.check(id, 10, t1).unwrap();
    }
    assert!(rl.check(id, 10, t1).is_err());
    // Two minutes later, the slate is clean.
    let t2 = t0 + jiff::SignedDuration::from_secs(180);
    rl.check(id, 10, t2).unwrap();
    assert!(rl.check(id, 0, t2).is_ok());
}
