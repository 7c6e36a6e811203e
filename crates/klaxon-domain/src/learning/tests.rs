use super::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn secs(m: Measure) -> f64 {
    m.seconds().expect("measured")
}

#[test]
fn durations_from_every_milestone() {
    let m = Milestones {
        impact_started_at: Some(t("2026-03-02T09:30:00Z")),
        detected_at: Some(t("2026-03-02T09:45:00Z")),
        declared_at: Some(t("2026-03-02T10:00:00Z")),
        acknowledged_at: Some(t("2026-03-02T10:04:00Z")),
        mitigated_at: Some(t("2026-03-02T10:30:00Z")),
        resolved_at: Some(t("2026-03-02T11:30:00Z")),
        closed_at: Some(t("2026-03-03T10:00:00Z")),
    };
    let d = durations(&m);
    assert_eq!(secs(d.ttd), 15.0 * 60.0);
    assert_eq!(secs(d.tta), 4.0 * 60.0);
    assert_eq!(secs(d.ttm), 60.0 * 60.0);
    assert_eq!(secs(d.ttr), 120.0 * 60.0);
    assert_eq!(secs(d.duration), 24.0 * 3600.0);
}

#[test]
fn missing_milestones_are_not_applicable_never_zero() {
    let m = Milestones {
        declared_at: Some(t("2026-03-02T10:00:00Z")),
        resolved_at: Some(t("2026-03-02T10:20:00Z")),
        ..Default::default()
    };
    let d = durations(&m);
    assert_eq!(d.ttd, Measure::NotApplicable);
    assert_eq!(d.tta, Measure::NotApplicable);
    assert_eq!(d.ttm, Measure::NotApplicable);
    // No impact start: TTR starts at the declaration.
    assert_eq!(secs(d.ttr), 1200.0);
    // Not closed: the whole duration ends at resolution.
    assert_eq!(secs(d.duration), 1200.0);
    assert_eq!(d.ttd.label(), "not applicable");
}

#[test]
fn end_before_start_is_invalid() {
    let m = Milestones {
        impact_started_at: Some(t("2026-03-02T10:00:00Z")),
        detected_at: Some(t("2026-03-02T09:00:00Z")),
        declared_at: Some(t("2026-03-02T09:00:00Z")),
        ..Default::default()
    };
    assert_eq!(durations(&m).ttd, Measure::Invalid);
    assert_eq!(
        serde_json::to_value(Measure::Invalid).unwrap(),
        serde_json::json!({"status": "invalid"})
    );
    assert_eq!(
        serde_json::to_value(Measure::Measured { seconds: 60.0 }).unwrap(),
        serde_json::json!({"status": "measured", "seconds": 60.0})
    );
}

#[test]
fn stats_by_hand() {
    // Sorted: 10 20 30 40 50 60 70 80 90 100 1000.
    let v = [
        100.0, 20.0, 10.0, 1000.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0,
    ];
    let s = stats(&v);
    assert_eq!(s.count, 11);
    assert_eq!(s.mean, Some(1550.0 / 11.0));
    assert_eq!(s.median, Some(60.0));
    // ⌈0.9 × 11⌉ = 10th value.
    assert_eq!(s.p90, Some(100.0));
    let even = stats(&[1.0, 2.0, 3.0, 10.0]);
    assert_eq!(even.median, Some(2.5));
    assert_eq!(even.p90, Some(10.0));
    assert_eq!(stats(&[7.0]).p90, Some(7.0));
    assert_eq!(stats(&[]), Stats::default());
}

#[test]
fn weeks_start_on_monday_utc() {
    assert_eq!(
        week_start(t("2026-03-08T23:59:00Z")),
        t("2026-03-02T00:00:00Z")
    );
    assert_eq!(
        week_start(t("2026-03-09T00:00:00Z")),
        t("2026-03-09T00:00:00Z")
    );
    let w = weeks(t("2026-03-04T00:00:00Z"), t("2026-03-17T00:00:00Z"));
    assert_eq!(
        w,
        vec![
            t("2026-03-02T00:00:00Z"),
            t("2026-03-09T00:00:00Z"),
            t("2026-03-16T00:00:00Z")
        ]
    );
}

#[test]
fn pages_classified_in_the_persons_zone() {
    let paris = TimeZone::get("Europe/Paris").unwrap();
    // Monday 2026-03-02 09:00 UTC is 10:00 in Paris: business.
    assert_eq!(classify(t("2026-03-02T09:00:00Z"), &paris), Band::Business);
    // 17:30 UTC is 18:30 in Paris: off hours.
    assert_eq!(classify(t("2026-03-02T17:30:00Z"), &paris), Band::Off);
    // 21:30 UTC is 22:30 in Paris: sleep; in UTC it would still be off hours.
    assert_eq!(classify(t("2026-03-02T21:30:00Z"), &paris), Band::Sleep);
    assert_eq!(
        classify(t("2026-03-02T21:30:00Z"), &TimeZone::UTC),
        Band::Off
    );
    // Saturday 10:00 local: off hours.
    assert_eq!(classify(t("2026-03-07T09:00:00Z"), &paris), Band::Off);
    // 07:59 and 08:00 local on a weekday.
    assert_eq!(classify(t("2026-03-02T06:59:00Z"), &paris), Band::Sleep);
    assert_eq!(classify(t("2026-03-02T07:00:00Z"), &paris), Band::Business);
}

#[test]
fn a_week_of_on_call_splits_by_hand() {
    // Monday 00:00 to the next Monday 00:00, UTC: 5 × 10 h business, 5 × 4 h + 2 × 14 h off,
    // 7 × 10 h sleep.
    let s = split(
        t("2026-03-02T00:00:00Z"),
        t("2026-03-09T00:00:00Z"),
        &TimeZone::UTC,
    );
    assert_eq!(s.business, 50.0 * 3600.0);
    assert_eq!(s.off, 48.0 * 3600.0);
    assert_eq!(s.sleep, 70.0 * 3600.0);
    assert_eq!(s.total(), 168.0 * 3600.0);
}

#[test]
fn sleep_band_across_dst() {
    let ny = TimeZone::get("America/New_York").unwrap();
    // Spring forward: Sunday 2026-03-08 02:00 → 03:00. Saturday 22:00 EST (03:00 UTC) to
    // Sunday 08:00 EDT (12:00 UTC) is 9 real hours, all sleep.
    let s = split(t("2026-03-08T03:00:00Z"), t("2026-03-08T12:00:00Z"), &ny);
    assert_eq!(s.sleep, 9.0 * 3600.0);
    assert_eq!(s.business + s.off, 0.0);
    // Fall back: Sunday 2026-11-01 02:00 → 01:00. Saturday 22:00 EDT (02:00 UTC) to Sunday
    // 08:00 EST (13:00 UTC) is 11 real hours of sleep.
    let s = split(t("2026-11-01T02:00:00Z"), t("2026-11-01T13:00:00Z"), &ny);
    assert_eq!(s.sleep, 11.0 * 3600.0);
    // 24 real hours from Saturday 12:00 EST end at Sunday 13:00 EDT: 10 h off (12:00–22:00),
    // 9 h sleep, then 5 h off (08:00–13:00).
    let s = split(t("2026-03-07T17:00:00Z"), t("2026-03-08T17:00:00Z"), &ny);
    assert_eq!(s.sleep, 9.0 * 3600.0);
    assert_eq!(s.off, 15.0 * 3600.0);
    // A page at 23:30 local on either side of the change is a sleep-hour page.
    assert_eq!(classify(t("2026-03-08T03:30:00Z"), &ny), Band::Sleep);
    assert_eq!(classify(t("2026-03-09T03:30:00Z"), &ny), Band::Sleep);
    // 07:30 UTC on Monday 2026-03-09 is 03:30 EDT (sleep); a week earlier, 07:30 UTC was 02:30
    // EST: still sleep. 12:30 UTC is 08:30 EDT (business) but 07:30 EST (sleep) before.
    assert_eq!(classify(t("2026-03-09T12:30:00Z"), &ny), Band::Business);
    assert_eq!(classify(t("2026-03-02T12:30:00Z"), &ny), Band::Sleep);
}

#[test]
fn human_labels() {
    assert_eq!(human(45.0), "45 s");
    assert_eq!(human(725.0), "12 min 5 s");
    assert_eq!(human(12_000.0), "3 h 20 min");
    assert_eq!(human(187_200.0), "2 d 4 h");
}
