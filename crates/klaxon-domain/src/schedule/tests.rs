//! Rotations, restrictions, overrides and time zones, across DST.
use jiff::civil::{date, time};

use super::*;

const A: u128 = 0xA;
const B: u128 = 0xB;
const C: u128 = 0xC;
const X: u128 = 0x1;
const Y: u128 = 0x2;
const Z: u128 = 0x3;

fn user(n: u128) -> UserId {
    UserId(uuid::Uuid::from_u128(n))
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn layer(start: DateTime, users: &[u128], count: u32, unit: TurnUnit) -> Layer {
    Layer {
        name: "primary".into(),
        start,
        end: None,
        users: users.iter().map(|&u| user(u)).collect(),
        turn: Turn { count, unit },
        restrictions: Vec::new(),
    }
}

fn over(start: &str, end: &str, u: u128) -> Override {
    Override {
        start: ts(start),
        end: ts(end),
        user: user(u),
    }
}

fn shift(u: u128, start: &str, end: &str) -> Shift {
    Shift {
        user: user(u),
        start: ts(start),
        end: ts(end),
    }
}

fn weekly(day: Weekday, start: Time, duration_minutes: u32) -> Restriction {
    Restriction::Weekly {
        start_weekday: day,
        start,
        duration_minutes,
    }
}

/// Checks `shifts` of `[.., to)` against `on_call` at each start, just before each end, and
/// at each end inside the range (where a gap or the next shift begins).
fn assert_agrees(s: &Schedule, shifts: &[Shift], to: Timestamp) {
    for (i, sh) in shifts.iter().enumerate() {
        assert_eq!(s.on_call(sh.start), Some(sh.user), "start of {sh:?}");
        let before_end = sh.end.checked_sub(SignedDuration::from_nanos(1)).unwrap();
        assert_eq!(s.on_call(before_end), Some(sh.user), "end of {sh:?}");
        if sh.end < to {
            let next = shifts.get(i + 1).filter(|n| n.start == sh.end);
            assert_eq!(s.on_call(sh.end), next.map(|n| n.user), "after {sh:?}");
        }
    }
}

/// Weekly handoffs, Monday 09:00 local from 2026-01-05 (turn k = weeks since then), around
/// each DST change of 2026: `(instant, user)` for each expected handoff.
fn check_weekly_handoffs(zone: &str, expected: &[(&str, u128)]) {
    let s = Schedule::new(
        zone,
        vec![layer(
            date(2026, 1, 5).at(9, 0, 0, 0),
            &[A, B, C],
            1,
            TurnUnit::Weeks,
        )],
        vec![],
    )
    .unwrap();
    let tz = TimeZone::get(zone).unwrap();
    let first = ts(expected[0].0);
    let last = ts(expected[expected.len() - 1].0);
    let (from, to) = (
        first - SignedDuration::from_hours(1),
        last + SignedDuration::from_hours(1),
    );
    let shifts = s.layer_shifts(0, from, to);
    assert_eq!(s.shifts(from, to), shifts);
    let handoffs: Vec<(Timestamp, UserId)> =
        shifts[1..].iter().map(|sh| (sh.start, sh.user)).collect();
    let want: Vec<(Timestamp, UserId)> = expected.iter().map(|&(t, u)| (ts(t), user(u))).collect();
    assert_eq!(handoffs, want, "{zone}");
    for (t, _) in handoffs {
        let local = tz.to_datetime(t);
        assert_eq!(
            (local.weekday(), local.time()),
            (Weekday::Monday, time(9, 0, 0, 0))
        );
    }
    assert_agrees(&s, &shifts, to);
}

#[test]
fn weekly_handoff_stays_at_nine_local_across_dst_in_new_york() {
    // DST starts 2026-03-08 (EST -05 -> EDT -04) and ends 2026-11-01.
    check_weekly_handoffs(
        "America/New_York",
        &[
            ("2026-03-02T14:00:00Z", C),
            ("2026-03-09T13:00:00Z", A),
            ("2026-03-16T13:00:00Z", B),
        ],
    );
    check_weekly_handoffs(
        "America/New_York",
        &[
            ("2026-10-26T13:00:00Z", A),
            ("2026-11-02T14:00:00Z", B),
            ("2026-11-09T14:00:00Z", C),
        ],
    );
}

#[test]
fn weekly_handoff_stays_at_nine_local_across_dst_in_berlin() {
    // DST starts 2026-03-29 (CET +01 -> CEST +02) and ends 2026-10-25.
    check_weekly_handoffs(
        "Europe/Berlin",
        &[("2026-03-23T08:00:00Z", C), ("2026-03-30T07:00:00Z", A)],
    );
    check_weekly_handoffs(
        "Europe/Berlin",
        &[("2026-10-19T07:00:00Z", C), ("2026-10-26T08:00:00Z", A)],
    );
}

#[test]
fn weekly_handoff_stays_at_nine_local_across_dst_in_sydney() {
    // DST ends 2026-04-05 (AEDT +11 -> AEST +10) and starts 2026-10-04.
    check_weekly_handoffs(
        "Australia/Sydney",
        &[("2026-03-29T22:00:00Z", A), ("2026-04-05T23:00:00Z", B)],
    );
    check_weekly_handoffs(
        "Australia/Sydney",
        &[("2026-09-27T23:00:00Z", C), ("2026-10-04T22:00:00Z", A)],
    );
}

#[test]
fn daily_handoff_keeps_local_time_and_resolves_gaps_and_folds_compatibly() {
    let ny = |start: DateTime| {
        Schedule::new(
            "America/New_York",
            vec![layer(start, &[A, B], 1, TurnUnit::Days)],
            vec![],
        )
        .unwrap()
    };
    // 09:00 every day: the turn spanning the change lasts 23 hours, the others 24.
    let s = ny(date(2026, 3, 6).at(9, 0, 0, 0));
    let (from, to) = (ts("2026-03-06T14:00:00Z"), ts("2026-03-10T13:00:00Z"));
    let shifts = s.shifts(from, to);
    assert_eq!(
        shifts,
        [
            shift(A, "2026-03-06T14:00:00Z", "2026-03-07T14:00:00Z"),
            shift(B, "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"),
            shift(A, "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"),
            shift(B, "2026-03-09T13:00:00Z", "2026-03-10T13:00:00Z"),
        ]
    );
    assert_agrees(&s, &shifts, to);

    // 02:30 does not exist on 2026-03-08: that handoff is at 03:30 EDT, the next at 02:30.
    let s = ny(date(2026, 3, 6).at(2, 30, 0, 0));
    let starts: Vec<Timestamp> = s
        .shifts(ts("2026-03-07T00:00:00Z"), ts("2026-03-10T00:00:00Z"))
        .iter()
        .map(|sh| sh.start)
        .collect();
    assert_eq!(
        starts,
        [
            ts("2026-03-07T00:00:00Z"),
            ts("2026-03-07T07:30:00Z"),
            ts("2026-03-08T07:30:00Z"),
            ts("2026-03-09T06:30:00Z"),
        ]
    );

    // 01:30 happens twice on 2026-11-01: the handoff is at the first (EDT).
    let s = ny(date(2026, 10, 30).at(1, 30, 0, 0));
    let starts: Vec<Timestamp> = s
        .shifts(ts("2026-10-31T00:00:00Z"), ts("2026-11-03T00:00:00Z"))
        .iter()
        .map(|sh| sh.start)
        .collect();
    assert_eq!(
        starts,
        [
            ts("2026-10-31T00:00:00Z"),
            ts("2026-10-31T05:30:00Z"),
            ts("2026-11-01T05:30:00Z"),
            ts("2026-11-02T06:30:00Z"),
        ]
    );
}

#[test]
fn hour_turns_are_elapsed_time() {
    // 12-hour turns from 09:00 EST: after the change they fall at 10:00 and 22:00 EDT.
    let s = Schedule::new(
        "America/New_York",
        vec![layer(
            date(2026, 3, 7).at(9, 0, 0, 0),
            &[A, B],
            12,
            TurnUnit::Hours,
        )],
        vec![],
    )
    .unwrap();
    let (from, to) = (ts("2026-03-07T00:00:00Z"), ts("2026-03-09T14:00:00Z"));
    let shifts = s.shifts(from, to);
    assert_eq!(
        shifts,
        [
            shift(A, "2026-03-07T14:00:00Z", "2026-03-08T02:00:00Z"),
            shift(B, "2026-03-08T02:00:00Z", "2026-03-08T14:00:00Z"),
            shift(A, "2026-03-08T14:00:00Z", "2026-03-09T02:00:00Z"),
            shift(B, "2026-03-09T02:00:00Z", "2026-03-09T14:00:00Z"),
        ]
    );
    let local = s.tz().to_datetime(shifts[2].start);
    assert_eq!(local.time(), time(10, 0, 0, 0));
    // Nobody before the layer starts.
    assert_eq!(s.on_call(ts("2026-03-07T13:59:59Z")), None);
    assert_agrees(&s, &shifts, to);
}

#[test]
fn layers_that_started_long_ago_are_computed_directly() {
    let s = Schedule::new(
        "America/New_York",
        vec![
            layer(
                date(2000, 1, 3).at(9, 0, 0, 0),
                &[A, B, C],
                1,
                TurnUnit::Days,
            ),
            layer(date(1990, 1, 1).at(0, 0, 0, 0), &[X, Y], 7, TurnUnit::Hours),
        ],
        vec![],
    )
    .unwrap();
    let t = ts("2026-07-01T12:00:00Z"); // 08:00 EDT: still 2026-06-30's turn
    let days = date(2000, 1, 3)
        .until(date(2026, 6, 30))
        .unwrap()
        .get_days();
    assert_eq!(days, 9675);
    let s0 = Schedule::new("America/New_York", vec![s.layers()[0].clone()], vec![]).unwrap();
    assert_eq!(s0.on_call(t), Some(user([A, B, C][9675 % 3])));
    // 1990-01-01T00:00 EST is 05:00Z; turns of 7 elapsed hours since.
    let hours = (t.as_second() - ts("1990-01-01T05:00:00Z").as_second()) / 3600;
    assert_eq!(s.on_call(t), Some(user([X, Y][(hours / 7 % 2) as usize])));
}

#[test]
fn weekday_business_hours_restrict_a_layer() {
    let business: Vec<Restriction> = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ]
    .into_iter()
    .map(|d| weekly(d, time(9, 0, 0, 0), 8 * 60))
    .collect();
    let mut l = layer(date(2026, 3, 2).at(9, 0, 0, 0), &[A, B], 1, TurnUnit::Weeks);
    l.restrictions = business;
    let s = Schedule::new("America/New_York", vec![l], vec![]).unwrap();
    // Friday 2026-03-06 to Tuesday 2026-03-10, across the DST change.
    let (from, to) = (ts("2026-03-06T05:00:00Z"), ts("2026-03-10T04:00:00Z"));
    let shifts = s.shifts(from, to);
    assert_eq!(
        shifts,
        [
            shift(A, "2026-03-06T14:00:00Z", "2026-03-06T22:00:00Z"),
            shift(B, "2026-03-09T13:00:00Z", "2026-03-09T21:00:00Z"),
        ]
    );
    assert_eq!(s.on_call(ts("2026-03-07T17:00:00Z")), None); // Saturday noon
    assert_eq!(s.on_call(ts("2026-03-06T13:59:59Z")), None);
    assert_agrees(&s, &shifts, to);
}

#[test]
fn a_weekly_window_can_cross_the_end_of_the_week() {
    // Friday 17:00 to Monday 09:00 local: 64 wall-clock hours, 63 elapsed across the change.
    let mut l = layer(date(2026, 1, 5).at(9, 0, 0, 0), &[A], 1, TurnUnit::Weeks);
    l.restrictions = vec![weekly(Weekday::Friday, time(17, 0, 0, 0), 64 * 60)];
    let s = Schedule::new("America/New_York", vec![l], vec![]).unwrap();
    let (from, to) = (ts("2026-03-05T00:00:00Z"), ts("2026-03-12T00:00:00Z"));
    let shifts = s.shifts(from, to);
    assert_eq!(
        shifts,
        [shift(A, "2026-03-06T22:00:00Z", "2026-03-09T13:00:00Z")]
    );
    assert_agrees(&s, &shifts, to);
}

#[test]
fn a_daily_overnight_window_crosses_midnight() {
    // Daily turns at midnight, covered only 22:00-06:00: whoever's turn it is at each
    // instant, so the window before midnight goes to the day's user and the rest to the next.
    let mut l = layer(date(2026, 3, 6).at(0, 0, 0, 0), &[A, B], 1, TurnUnit::Days);
    l.restrictions = vec![Restriction::Daily {
        start: time(22, 0, 0, 0),
        duration_minutes: 8 * 60,
    }];
    let s = Schedule::new("America/New_York", vec![l], vec![]).unwrap();
    let (from, to) = (ts("2026-03-06T05:00:00Z"), ts("2026-03-08T17:00:00Z"));
    let shifts = s.shifts(from, to);
    assert_eq!(
        shifts,
        [
            // The window from Thursday 22:00 is cut by the layer's start.
            shift(A, "2026-03-06T05:00:00Z", "2026-03-06T11:00:00Z"),
            // Friday 22:00 EST to Saturday 06:00 EST.
            shift(A, "2026-03-07T03:00:00Z", "2026-03-07T05:00:00Z"),
            shift(B, "2026-03-07T05:00:00Z", "2026-03-07T11:00:00Z"),
            // Saturday 22:00 EST to Sunday 06:00 EDT: 7 hours.
            shift(B, "2026-03-08T03:00:00Z", "2026-03-08T05:00:00Z"),
            shift(A, "2026-03-08T05:00:00Z", "2026-03-08T10:00:00Z"),
        ]
    );
    assert_eq!(s.on_call(ts("2026-03-07T17:00:00Z")), None);
    assert_agrees(&s, &shifts, to);
}

#[test]
fn restriction_edges_fall_at_the_first_instant_the_clock_reaches_them() {
    let daily = |h: i8, m: i8, duration_minutes: u32| {
        let mut l = layer(date(2026, 3, 1).at(0, 0, 0, 0), &[A], 1, TurnUnit::Weeks);
        l.restrictions = vec![Restriction::Daily {
            start: time(h, m, 0, 0),
            duration_minutes,
        }];
        Schedule::new("America/New_York", vec![l], vec![]).unwrap()
    };
    let day = |s: &Schedule, from: &str, to: &str| s.shifts(ts(from), ts(to));
    // 02:30-03:30: on 2026-03-08 02:00 EST jumps to 03:00 EDT, leaving 03:00-03:30.
    let s = daily(2, 30, 60);
    assert_eq!(
        day(&s, "2026-03-07T05:00:00Z", "2026-03-09T04:00:00Z"),
        [
            shift(A, "2026-03-07T07:30:00Z", "2026-03-07T08:30:00Z"),
            shift(A, "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"),
        ]
    );
    // 02:10-02:40 does not happen that day.
    let s = daily(2, 10, 30);
    assert!(day(&s, "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z").is_empty());
    // 01:30-02:30 on 2026-11-01, when 01:00-02:00 happens twice: from the first 01:30 (EDT)
    // to 02:30 EST, two hours.
    let s = daily(1, 30, 60);
    let shifts = day(&s, "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z");
    assert_eq!(
        shifts,
        [shift(A, "2026-11-01T05:30:00Z", "2026-11-01T07:30:00Z")]
    );
    assert_agrees(&s, &shifts, ts("2026-11-02T05:00:00Z"));
}

#[test]
fn the_last_layer_wins_and_earlier_layers_show_through_its_gaps() {
    let base = layer(date(2026, 1, 5).at(9, 0, 0, 0), &[A, B], 1, TurnUnit::Weeks);
    let mut day = layer(date(2026, 1, 5).at(0, 0, 0, 0), &[C], 1, TurnUnit::Days);
    day.name = "business hours".into();
    day.restrictions = vec![
        weekly(Weekday::Monday, time(9, 0, 0, 0), 8 * 60),
        weekly(Weekday::Tuesday, time(9, 0, 0, 0), 8 * 60),
    ];
    let s = Schedule::new("Europe/Berlin", vec![base.clone(), day], vec![]).unwrap();
    // Monday 2026-03-02 00:00 CET to Wednesday 00:00 CET; B's week until Monday 09:00.
    let (from, to) = (ts("2026-03-01T23:00:00Z"), ts("2026-03-03T23:00:00Z"));
    let shifts = s.shifts(from, to);
    assert_eq!(
        shifts,
        [
            shift(B, "2026-03-01T23:00:00Z", "2026-03-02T08:00:00Z"),
            shift(C, "2026-03-02T08:00:00Z", "2026-03-02T16:00:00Z"),
            shift(A, "2026-03-02T16:00:00Z", "2026-03-03T08:00:00Z"),
            shift(C, "2026-03-03T08:00:00Z", "2026-03-03T16:00:00Z"),
            shift(A, "2026-03-03T16:00:00Z", "2026-03-03T23:00:00Z"),
        ]
    );
    assert_agrees(&s, &shifts, to);

    // Without restrictions the last layer hides the first entirely, except where it has
    // not started yet or has ended.
    let mut top = layer(date(2026, 3, 2).at(12, 0, 0, 0), &[X], 1, TurnUnit::Days);
    top.end = Some(ts("2026-03-03T11:00:00Z"));
    let s = Schedule::new("Europe/Berlin", vec![base, top], vec![]).unwrap();
    let (from, to) = (ts("2026-03-01T23:00:00Z"), ts("2026-03-03T23:00:00Z"));
    let shifts = s.shifts(from, to);
    assert_eq!(
        shifts,
        [
            shift(B, "2026-03-01T23:00:00Z", "2026-03-02T08:00:00Z"),
            shift(A, "2026-03-02T08:00:00Z", "2026-03-02T11:00:00Z"),
            shift(X, "2026-03-02T11:00:00Z", "2026-03-03T11:00:00Z"),
            shift(A, "2026-03-03T11:00:00Z", "2026-03-03T23:00:00Z"),
        ]
    );
    assert_agrees(&s, &shifts, to);
}

#[test]
fn overrides_replace_the_layers_and_the_latest_started_wins() {
    let base = layer(date(2026, 3, 2).at(0, 0, 0, 0), &[A], 1, TurnUnit::Weeks);
    let overrides = vec![
        over("2026-03-03T10:00:00Z", "2026-03-03T14:00:00Z", X),
        over("2026-03-03T12:00:00Z", "2026-03-03T13:00:00Z", Y),
        // Listed last but started first: lowest priority.
        over("2026-03-03T09:00:00Z", "2026-03-03T15:00:00Z", Z),
        // Same start as the first: listed later, so it wins over it.
        over("2026-03-03T10:00:00Z", "2026-03-03T11:00:00Z", C),
        // Overriding with the layer's own user merges with the layer.
        over("2026-03-03T16:00:00Z", "2026-03-03T17:00:00Z", A),
    ];
    let s = Schedule::new("UTC", vec![base], overrides).unwrap();
    let (from, to) = (ts("2026-03-03T08:00:00Z"), ts("2026-03-03T18:00:00Z"));
    let shifts = s.shifts(from, to);
    assert_eq!(
        shifts,
        [
            shift(A, "2026-03-03T08:00:00Z", "2026-03-03T09:00:00Z"),
            shift(Z, "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z"),
            shift(C, "2026-03-03T10:00:00Z", "2026-03-03T11:00:00Z"),
            shift(X, "2026-03-03T11:00:00Z", "2026-03-03T12:00:00Z"),
            shift(Y, "2026-03-03T12:00:00Z", "2026-03-03T13:00:00Z"),
            shift(X, "2026-03-03T13:00:00Z", "2026-03-03T14:00:00Z"),
            shift(Z, "2026-03-03T14:00:00Z", "2026-03-03T15:00:00Z"),
            shift(A, "2026-03-03T15:00:00Z", "2026-03-03T18:00:00Z"),
        ]
    );
    assert_agrees(&s, &shifts, to);
    // The layer alone is unaffected.
    assert_eq!(
        s.layer_shifts(0, ts("2026-03-03T08:00:00Z"), ts("2026-03-03T18:00:00Z")),
        [shift(A, "2026-03-03T08:00:00Z", "2026-03-03T18:00:00Z")]
    );
}

#[test]
fn an_override_fills_a_gap() {
    let mut l = layer(date(2026, 3, 2).at(0, 0, 0, 0), &[A], 1, TurnUnit::Weeks);
    l.restrictions = vec![Restriction::Daily {
        start: time(9, 0, 0, 0),
        duration_minutes: 60,
    }];
    let overrides = vec![over("2026-03-03T12:00:00Z", "2026-03-03T13:00:00Z", X)];
    let s = Schedule::new("UTC", vec![l], overrides).unwrap();
    assert_eq!(s.on_call(ts("2026-03-03T11:00:00Z")), None);
    assert_eq!(s.on_call(ts("2026-03-03T12:30:00Z")), Some(user(X)));
    let (from, to) = (ts("2026-03-03T00:00:00Z"), ts("2026-03-04T00:00:00Z"));
    let shifts = s.shifts(from, to);
    assert_eq!(
        shifts,
        [
            shift(A, "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z"),
            shift(X, "2026-03-03T12:00:00Z", "2026-03-03T13:00:00Z"),
        ]
    );
    assert_agrees(&s, &shifts, to);
}

#[test]
fn ranges_are_clipped_and_capped() {
    let s = Schedule::new(
        "UTC",
        vec![layer(
            date(2026, 1, 1).at(0, 0, 0, 0),
            &[A, B],
            1,
            TurnUnit::Days,
        )],
        vec![],
    )
    .unwrap();
    let from = ts("2026-01-01T12:00:00Z");
    let shifts = s.shifts(from, ts("2026-01-02T06:00:00Z"));
    assert_eq!(
        shifts,
        [
            shift(A, "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z"),
            shift(B, "2026-01-02T00:00:00Z", "2026-01-02T06:00:00Z"),
        ]
    );
    assert!(s.shifts(from, from).is_empty());
    assert!(s.shifts(ts("2026-01-03T00:00:00Z"), from).is_empty());
    let year = s.shifts(from, ts("2036-01-01T00:00:00Z"));
    assert_eq!(year.last().unwrap().end, from + RANGE_MAX);
    assert_eq!(year.len(), 367);
    assert!(
        s.layer_shifts(1, from, ts("2026-01-02T00:00:00Z"))
            .is_empty()
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    let s = Schedule::new(
        "Australia/Sydney",
        vec![
            layer(date(2026, 1, 1).at(9, 0, 0, 0), &[A, B], 1, TurnUnit::Days),
            layer(date(2026, 1, 1).at(9, 0, 0, 0), &[A, B], 3, TurnUnit::Hours),
        ],
        vec![],
    )
    .unwrap();
    for t in [Timestamp::MIN, Timestamp::MAX] {
        s.on_call(t);
        s.shifts(t, Timestamp::MAX);
    }
    let end = Timestamp::MAX;
    let shifts = s.shifts(end - SignedDuration::from_hours(100), end);
    assert_eq!(shifts.last().unwrap().end, end);
}

#[test]
fn validation_names_the_field() {
    let good = || {
        let mut l = layer(date(2026, 1, 5).at(9, 0, 0, 0), &[A], 1, TurnUnit::Weeks);
        l.restrictions = vec![Restriction::Daily {
            start: time(9, 0, 0, 0),
            duration_minutes: 60,
        }];
        vec![l.clone(), l]
    };
    let err = |zone: &str, layers: Vec<Layer>, overrides: Vec<Override>| {
        Schedule::new(zone, layers, overrides).unwrap_err().field
    };
    assert!(Schedule::new("UTC", good(), vec![]).is_ok());
    assert_eq!(err("Mars/Olympus", good(), vec![]), "time_zone");
    assert_eq!(err("", good(), vec![]), "time_zone");
    assert_eq!(err("Etc/Unknown", good(), vec![]), "time_zone");
    assert_eq!(err("UTC", vec![], vec![]), "layers");
    assert_eq!(
        err("UTC", vec![good()[0].clone(); LAYERS_MAX + 1], vec![]),
        "layers"
    );
    let broken = |f: fn(&mut Layer)| {
        let mut layers = good();
        f(&mut layers[1]);
        err("UTC", layers, vec![])
    };
    assert_eq!(broken(|l| l.name = "  ".into()), "layers[1].name");
    assert_eq!(broken(|l| l.users.clear()), "layers[1].users");
    assert_eq!(
        broken(|l| l.users = vec![user(A); USERS_MAX + 1]),
        "layers[1].users"
    );
    assert_eq!(broken(|l| l.turn.count = 0), "layers[1].turn.count");
    assert_eq!(
        broken(|l| l.turn = Turn {
            count: TURN_HOURS_MAX + 1,
            unit: TurnUnit::Hours
        }),
        "layers[1].turn.count"
    );
    assert_eq!(
        broken(|l| l.turn.count = TURN_WEEKS_MAX + 1),
        "layers[1].turn.count"
    );
    assert_eq!(
        broken(|l| l.end = Some(ts("2026-01-05T09:00:00Z"))),
        "layers[1].end"
    );
    assert_eq!(
        broken(|l| l
            .restrictions
            .push(weekly(Weekday::Friday, time(9, 0, 0, 0), 0))),
        "layers[1].restrictions[1].duration_minutes"
    );
    assert_eq!(
        broken(|l| l.restrictions[0] = Restriction::Daily {
            start: time(9, 0, 0, 0),
            duration_minutes: DAILY_MINUTES_MAX + 1,
        }),
        "layers[1].restrictions[0].duration_minutes"
    );
    assert_eq!(
        broken(|l| l.restrictions = vec![l.restrictions[0]; RESTRICTIONS_MAX + 1]),
        "layers[1].restrictions"
    );
    let ok = over("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", A);
    let empty = over("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", A);
    assert_eq!(err("UTC", good(), vec![ok, empty]), "overrides[1].end");
    assert_eq!(err("UTC", good(), vec![ok; OVERRIDES_MAX + 1]), "overrides");
    // Bounds are inclusive; names are trimmed and the zone made canonical.
    let mut layers = good();
    layers[0].name = "  primary ".into();
    layers[0].turn.count = TURN_WEEKS_MAX;
    layers[1].restrictions[0] = weekly(Weekday::Sunday, time(0, 0, 0, 0), WEEKLY_MINUTES_MAX);
    let s = Schedule::new(" america/new_york ", layers, vec![]).unwrap();
    assert_eq!(s.time_zone(), "America/New_York");
    assert_eq!(s.layers()[0].name, "primary");
}

#[test]
fn serde_uses_snake_case_names_and_checks_on_the_way_in() {
    let json = serde_json::json!({
        "time_zone": "Europe/Berlin",
        "layers": [{
            "name": "primary",
            "start": "2026-01-05T09:00",
            "end": null,
            "users": [user(A), user(B)],
            "turn": {"count": 1, "unit": "weeks"},
            "restrictions": [
                {"type": "daily", "start": "22:00", "duration_minutes": 480},
                {"type": "weekly", "start_weekday": "friday", "start": "17:00:00",
                 "duration_minutes": 3840},
            ],
        }],
        "overrides": [{
            "start": "2026-01-06T10:00:00Z",
            "end": "2026-01-06T12:00:00Z",
            "user": user(C),
        }],
    });
    let s: Schedule = serde_json::from_value(json).unwrap();
    let l = &s.layers()[0];
    assert_eq!(l.turn.unit, TurnUnit::Weeks);
    assert_eq!(
        l.restrictions[1],
        weekly(Weekday::Friday, time(17, 0, 0, 0), 3840)
    );
    let out = serde_json::to_value(&s).unwrap();
    assert_eq!(out["layers"][0]["restrictions"][0]["type"], "daily");
    assert_eq!(
        out["layers"][0]["restrictions"][1]["start_weekday"],
        "friday"
    );
    assert_eq!(out["layers"][0]["turn"]["unit"], "weeks");
    assert!(out.get("tz").is_none());
    let back: Schedule = serde_json::from_value(out).unwrap();
    assert_eq!(back, s);

    let bad = serde_json::json!({
        "time_zone": "UTC",
        "layers": [{
            "name": "primary", "start": "2026-01-05T09:00", "users": [user(A)],
            "turn": {"count": 0, "unit": "days"},
        }],
    });
    let e = serde_json::from_value::<Schedule>(bad).unwrap_err();
    assert!(e.to_string().contains("layers[0].turn.count"), "{e}");
    let bad_day = serde_json::json!({"type": "weekly", "start_weekday": "Funday",
        "start": "09:00", "duration_minutes": 60});
    assert!(serde_json::from_value::<Restriction>(bad_day).is_err());
}
