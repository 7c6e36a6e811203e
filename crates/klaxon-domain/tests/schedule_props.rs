//! Property tests for on-call schedules: random zones, layers, restrictions and overrides.
use jiff::civil::{DateTime, Time, Weekday, date};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};
use klaxon_domain::ids::UserId;
use klaxon_domain::schedule::{Layer, Override, Restriction, Schedule, Shift, Turn, TurnUnit};
use proptest::prelude::*;

const ZONES: [&str; 4] = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "UTC",
];
/// 2025-01-01T00:00:00Z.
const EPOCH_2025: i64 = 1_735_689_600;
const DAY: i64 = 86_400;

fn user(n: u8) -> UserId {
    UserId(uuid::Uuid::from_u128(u128::from(n) + 1))
}

/// Local times biased towards the small hours, where DST changes happen.
fn local_time() -> impl Strategy<Value = Time> {
    (prop_oneof![0i8..24, 0i8..4], 0i8..60).prop_map(|(h, m)| Time::new(h, m, 0, 0).unwrap())
}

fn turn() -> impl Strategy<Value = Turn> {
    prop_oneof![
        (1u32..=72).prop_map(|count| Turn {
            count,
            unit: TurnUnit::Hours
        }),
        (1u32..=14).prop_map(|count| Turn {
            count,
            unit: TurnUnit::Days
        }),
        (1u32..=4).prop_map(|count| Turn {
            count,
            unit: TurnUnit::Weeks
        }),
    ]
}

fn restriction() -> impl Strategy<Value = Restriction> {
    prop_oneof![
        (local_time(), 1u32..=1440).prop_map(|(start, duration_minutes)| {
            Restriction::Daily {
                start,
                duration_minutes,
            }
        }),
        (0i64..7, local_time(), 1u32..=10080).prop_map(|(d, start, duration_minutes)| {
            Restriction::Weekly {
                start_weekday: Weekday::Monday.wrapping_add(d),
                start,
                duration_minutes,
            }
        }),
    ]
}

/// A layer, with its end as hours after its start (resolved once the zone is known).
#[derive(Debug, Clone)]
struct LayerSpec {
    start: DateTime,
    end_hours: Option<i64>,
    users: Vec<u8>,
    turn: Turn,
    restrictions: Vec<Restriction>,
}

/// Layers starting in 2025–2027; `plain` ones have no restrictions and no end.
fn layer(plain: bool) -> impl Strategy<Value = LayerSpec> {
    let restrictions = if plain { 0 } else { 3 };
    (
        0i64..3 * 365,
        local_time(),
        proptest::option::weighted(0.25, 1i64..24 * 120),
        proptest::collection::vec(0u8..6, 1..=5),
        turn(),
        proptest::collection::vec(restriction(), 0..=restrictions),
    )
        .prop_map(
            move |(day, time, end_hours, users, turn, restrictions)| LayerSpec {
                start: date(2025, 1, 1)
                    .checked_add(Span::new().days(day))
                    .unwrap()
                    .to_datetime(time),
                end_hours: end_hours.filter(|_| !plain),
                users,
                turn,
                restrictions,
            },
        )
}

#[derive(Debug, Clone)]
struct Case {
    schedule: Schedule,
    from: Timestamp,
    to: Timestamp,
    /// Instants in [from, to) to compare `on_call` against `shifts` at.
    samples: Vec<Timestamp>,
}

/// A random schedule and a window of up to 60 days. With `plain`, every layer is unrestricted,
/// endless and started before the window.
fn case(plain: bool) -> impl Strategy<Value = Case> {
    (
        proptest::sample::select(&ZONES[..]),
        proptest::collection::vec(layer(plain), 1..=3),
        // Overrides on whole hours around the window, each a few hours before or after the
        // previous one, so they overlap, touch and tie often.
        -72i64..24 * 62,
        proptest::collection::vec((-12i64..12, 1i64..240, 0u8..6), 0..=3),
        0i64..3 * 365 * DAY,
        1i64..=60 * DAY,
        proptest::collection::vec(0.0f64..1.0, 16),
    )
        .prop_map(
            move |(zone, specs, first, overrides, from, len, fractions)| {
                let tz = TimeZone::get(zone).unwrap();
                // Plain windows start in 2028, after every layer.
                let from = from + if plain { 3 * 365 * DAY + DAY } else { 0 };
                let from = Timestamp::from_second(EPOCH_2025 + from).unwrap();
                let to = from + SignedDuration::from_secs(len);
                let layers = specs
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let origin = tz.to_timestamp(l.start).unwrap();
                        Layer {
                            name: format!("layer {i}"),
                            start: l.start,
                            end: l.end_hours.map(|h| origin + SignedDuration::from_hours(h)),
                            users: l.users.into_iter().map(user).collect(),
                            turn: l.turn,
                            restrictions: l.restrictions,
                        }
                    })
                    .collect();
                let mut hour = from.as_second() / 3600 + first;
                let overrides = overrides
                    .into_iter()
                    .map(|(after, hours, u)| {
                        hour += after;
                        let start = Timestamp::from_second(hour * 3600).unwrap();
                        Override {
                            start,
                            end: start + SignedDuration::from_hours(hours),
                            user: user(u),
                        }
                    })
                    .collect();
                let schedule = Schedule::new(zone, layers, overrides).unwrap();
                let span = (to.as_nanosecond() - from.as_nanosecond()) as f64;
                let samples = fractions
                    .into_iter()
                    .map(|f| {
                        let t = from.as_nanosecond() + (span * f) as i128;
                        Timestamp::from_nanosecond(t)
                            .unwrap()
                            .clamp(from, to - ns(1))
                    })
                    .collect();
                Case {
                    schedule,
                    from,
                    to,
                    samples,
                }
            },
        )
}

fn ns(n: i64) -> SignedDuration {
    SignedDuration::from_nanos(n)
}

/// The user of the shift containing `t`, if any.
fn covering(shifts: &[Shift], t: Timestamp) -> Option<UserId> {
    let i = shifts.partition_point(|s| s.end <= t);
    shifts.get(i).filter(|s| s.start <= t).map(|s| s.user)
}

/// Sorted, disjoint, non-empty, inside the window, and merged.
fn assert_well_formed(shifts: &[Shift], from: Timestamp, to: Timestamp) {
    for s in shifts {
        assert!(s.start < s.end, "{s:?}");
        assert!(
            from <= s.start && s.end <= to,
            "{s:?} outside [{from}, {to})"
        );
    }
    for w in shifts.windows(2) {
        assert!(w[0].end <= w[1].start, "overlap or disorder: {w:?}");
        assert!(
            w[0].end < w[1].start || w[0].user != w[1].user,
            "not merged: {w:?}"
        );
    }
}

/// `on_call` from first principles: walks every turn from the layer's start and checks every
/// restriction window of the surrounding days. Slow, and independent of the module's search.
fn naive_on_call(s: &Schedule, t: Timestamp) -> Option<UserId> {
    let tz = s.tz();
    let winner = s
        .overrides()
        .iter()
        .enumerate()
        .filter(|(_, o)| o.start <= t && t < o.end)
        .max_by_key(|&(i, o)| (o.start, i));
    if let Some((_, o)) = winner {
        return Some(o.user);
    }
    s.layers().iter().rev().find_map(|l| {
        let origin = tz.to_timestamp(l.start).unwrap();
        if t < origin || l.end.is_some_and(|e| t >= e) {
            return None;
        }
        if !l.restrictions.is_empty() && !l.restrictions.iter().any(|r| in_window(tz, r, t)) {
            return None;
        }
        let count = i64::from(l.turn.count);
        let handoff = |k: i64| match l.turn.unit {
            TurnUnit::Hours => origin + SignedDuration::from_hours(k * count),
            TurnUnit::Days => tz
                .to_timestamp(l.start + Span::new().days(k * count))
                .unwrap(),
            TurnUnit::Weeks => tz
                .to_timestamp(l.start + Span::new().weeks(k * count))
                .unwrap(),
        };
        let mut k = 0;
        while handoff(k + 1) <= t {
            k += 1;
        }
        Some(l.users[(k as usize) % l.users.len()])
    })
}

fn in_window(tz: &TimeZone, r: &Restriction, t: Timestamp) -> bool {
    let (weekday, start, minutes) = match *r {
        Restriction::Daily {
            start,
            duration_minutes,
        } => (None, start, duration_minutes),
        Restriction::Weekly {
            start_weekday,
            start,
            duration_minutes,
        } => (Some(start_weekday), start, duration_minutes),
    };
    let today = tz.to_datetime(t).date();
    (-9..=1).any(|d| {
        let day = today + Span::new().days(d);
        if weekday.is_some_and(|w| day.weekday() != w) {
            return false;
        }
        let local = day.to_datetime(start);
        let s = naive_edge(tz, local);
        let e = naive_edge(tz, local + SignedDuration::from_mins(minutes.into()));
        s <= t && t < e
    })
}

/// The first instant at which the local clock reads `at` or later.
fn naive_edge(tz: &TimeZone, at: DateTime) -> Timestamp {
    // On or after that instant: `at` itself, its first occurrence, or past a gap.
    let mut t = tz.to_timestamp(at).unwrap();
    let minute = SignedDuration::from_mins(1);
    while tz.to_datetime(t - minute) >= at {
        t -= minute;
    }
    t
}

proptest! {
    /// (1) shifts() are sorted, disjoint, non-empty, inside [from, to) and merged, for the
    /// final schedule and for each layer.
    #[test]
    fn shifts_are_well_formed(c in case(false)) {
        let shifts = c.schedule.shifts(c.from, c.to);
        assert_well_formed(&shifts, c.from, c.to);
        for i in 0..c.schedule.layers().len() {
            assert_well_formed(&c.schedule.layer_shifts(i, c.from, c.to), c.from, c.to);
        }
    }

    /// (2) Without restrictions or layer bounds in the window, someone is always on call.
    #[test]
    fn unrestricted_started_layers_leave_no_gap(c in case(true)) {
        let shifts = c.schedule.shifts(c.from, c.to);
        prop_assert!(!shifts.is_empty());
        prop_assert_eq!(shifts[0].start, c.from);
        prop_assert_eq!(shifts[shifts.len() - 1].end, c.to);
        for w in shifts.windows(2) {
            prop_assert_eq!(w[0].end, w[1].start);
        }
        // And the last layer hides the others wherever no override applies.
        let last = c.schedule.layers().len() - 1;
        let top = c.schedule.layer_shifts(last, c.from, c.to);
        for &t in &c.samples {
            if !c.schedule.overrides().iter().any(|o| o.start <= t && t < o.end) {
                prop_assert_eq!(covering(&shifts, t), covering(&top, t));
            }
        }
    }

    /// (3) on_call(t) is the user of the shift containing t, and None in gaps: at random
    /// instants and at every shift boundary.
    #[test]
    fn on_call_agrees_with_shifts(c in case(false)) {
        let shifts = c.schedule.shifts(c.from, c.to);
        let mut instants = c.samples.clone();
        instants.push(c.from);
        for s in &shifts {
            instants.extend([s.start, s.end - ns(1), s.end - SignedDuration::from_secs(1), s.end]);
        }
        for t in instants.into_iter().filter(|&t| c.from <= t && t < c.to) {
            prop_assert_eq!(c.schedule.on_call(t), covering(&shifts, t), "at {}", t);
        }
    }

    /// on_call agrees with a naive walk over every turn since each layer's start.
    #[test]
    fn on_call_agrees_with_a_naive_walk(c in case(false)) {
        // Boundaries are where an off-by-one turn would show.
        let shifts = c.schedule.shifts(c.from, c.to);
        let boundaries = shifts.iter().take(4).flat_map(|s| [s.start, s.end - ns(1)]);
        for t in c.samples.iter().copied().take(4).chain(boundaries) {
            prop_assert_eq!(c.schedule.on_call(t), naive_on_call(&c.schedule, t), "at {}", t);
        }
    }

    /// (4) Day and week handoffs keep the layer's local start time across DST, or its
    /// "compatible" resolution on a day that skips it; and fall a whole number of turns from
    /// the start date.
    #[test]
    fn calendar_handoffs_keep_local_time(c in case(false)) {
        let tz = c.schedule.tz();
        for (i, l) in c.schedule.layers().iter().enumerate() {
            let step = match l.turn.unit {
                TurnUnit::Hours => continue,
                TurnUnit::Days => i64::from(l.turn.count),
                TurnUnit::Weeks => 7 * i64::from(l.turn.count),
            };
            if !l.restrictions.is_empty() {
                continue;
            }
            for s in c.schedule.layer_shifts(i, c.from, c.to) {
                if s.start == c.from {
                    continue;
                }
                let day = tz.to_datetime(s.start).date();
                let local = day.to_datetime(l.start.time());
                prop_assert_eq!(s.start, tz.to_timestamp(local).unwrap());
                let skipped = matches!(
                    tz.to_ambiguous_timestamp(local).offset(),
                    AmbiguousOffset::Gap { .. }
                );
                if !skipped {
                    prop_assert_eq!(tz.to_datetime(s.start).time(), l.start.time());
                }
                let days = l.start.date().until(day).unwrap().get_days();
                prop_assert_eq!(i64::from(days) % step, 0, "{} is not a handoff day", day);
            }
        }
    }

    /// Serialized schedules come back equal.
    #[test]
    fn serde_round_trips(c in case(false)) {
        let json = serde_json::to_string(&c.schedule).unwrap();
        let back: Schedule = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, c.schedule);
    }
}
