use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const DAY: i64 = 86_400;

#[test]
fn objectives_lie_strictly_between_0_and_100() {
    for bad in [0.0, 100.0, -1.0, 100.5, f64::NAN, f64::INFINITY] {
        let e = Objective::new(bad).unwrap_err();
        assert_eq!(e.field, "objective");
    }
    let o = Objective::new(99.9).unwrap();
    assert!(close(o.budget(), 0.001));
    assert!(close(Objective::new(95.0).unwrap().budget(), 0.05));
}

#[test]
fn rolling_windows_are_7_28_30_or_90_days() {
    for d in [7, 28, 30, 90] {
        assert!(Window::rolling(d).is_ok());
    }
    for d in [0, 1, 14, 31, 365] {
        assert_eq!(Window::rolling(d).unwrap_err().field, "window");
    }
    let now = ts("2026-03-31T12:00:00Z");
    let w = Window::rolling(30).unwrap();
    assert_eq!(w.bounds(now), (ts("2026-03-01T12:00:00Z"), now));
    assert_eq!(w.length(now), SignedDuration::from_secs(30 * DAY));
}

#[test]
fn a_calendar_month_is_the_month_in_its_zone_dst_included() {
    let w = Window::CalendarMonth {
        tz: TimeZone::get("Europe/Berlin").unwrap(),
    };
    // 31 March 23:30 UTC is already 1 April in Berlin.
    let (start, end) = w.bounds(ts("2026-03-31T23:30:00Z"));
    assert_eq!(start, ts("2026-03-31T22:00:00Z"));
    assert_eq!(end, ts("2026-04-30T22:00:00Z"));
    // March 2026 loses an hour on the 29th: 31 days less one hour.
    let march = w.length(ts("2026-03-15T00:00:00Z"));
    assert_eq!(march, SignedDuration::from_secs(31 * DAY - 3600));
    let feb = Window::CalendarMonth { tz: TimeZone::UTC }.length(ts("2026-02-10T00:00:00Z"));
    assert_eq!(feb, SignedDuration::from_secs(28 * DAY));
}

#[test]
fn burn_rate_is_the_error_rate_over_the_budget() {
    let o = Objective::new(99.9).unwrap();
    // 10,000 requests, 150 bad: error rate 1.5 %, 15 times the 0.1 % budget.
    let c = Counts::new(9_850.0, 10_000.0);
    assert!(close(c.bad(), 150.0));
    assert!(close(c.error_rate().unwrap(), 0.015));
    assert!(close(c.burn_rate(o), 15.0));
    // No traffic burns nothing; good above total (a counter reset) is not negative.
    assert_eq!(Counts::new(0.0, 0.0).error_rate(), None);
    assert!(close(Counts::new(0.0, 0.0).burn_rate(o), 0.0));
    assert!(close(Counts::new(12.0, 10.0).bad(), 0.0));
    let sum: Counts = [Counts::new(9.0, 10.0), Counts::new(1.0, 2.0)]
        .into_iter()
        .sum();
    assert_eq!(sum, Counts::new(10.0, 12.0));
    // A ratio SLI's answers: good or bad over total, good kept within [0, total].
    assert_eq!(
        Counts::from_ratio(true, 95.0, 100.0),
        Counts::new(95.0, 100.0)
    );
    assert_eq!(
        Counts::from_ratio(false, 5.0, 100.0),
        Counts::new(95.0, 100.0)
    );
    assert_eq!(
        Counts::from_ratio(true, 120.0, 100.0),
        Counts::new(100.0, 100.0)
    );
    assert_eq!(
        Counts::from_ratio(false, 120.0, 100.0),
        Counts::new(0.0, 100.0)
    );
}

#[test]
fn default_rules_are_the_workbooks_for_30_days_and_scale_with_the_window() {
    let rules = default_rules(SignedDuration::from_secs(30 * DAY));
    let got: Vec<(&str, Urgency, f64, i64, i64)> = rules
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.urgency,
                r.rate,
                r.long.as_secs(),
                r.short.as_secs(),
            )
        })
        .collect();
    let want = [
        ("page-fast", Urgency::Page, 14.4, 3600, 300),
        ("page-slow", Urgency::Page, 6.0, 6 * 3600, 1800),
        ("ticket", Urgency::Ticket, 1.0, 3 * DAY, 6 * 3600),
    ];
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0, g.1, g.3, g.4), (w.0, w.1, w.3, w.4));
        assert!(close(g.2, w.2), "{} rate {} != {}", g.0, g.2, w.2);
    }
    // A 7-day window: 0.02 × 168 h / 1 h, 0.05 × 168 / 6, 0.1 × 168 / 72.
    let week: Vec<f64> = default_rules(SignedDuration::from_secs(7 * DAY))
        .iter()
        .map(|r| r.rate)
        .collect();
    assert!(close(week[0], 3.36) && close(week[1], 1.4) && close(week[2], 0.1 * 168.0 / 72.0));
    let quarter: Vec<f64> = default_rules(SignedDuration::from_secs(90 * DAY))
        .iter()
        .map(|r| r.rate)
        .collect();
    assert!(close(quarter[0], 43.2) && close(quarter[1], 18.0) && close(quarter[2], 3.0));
}

#[test]
fn a_rule_fires_on_both_windows_and_resolves_on_the_long_one() {
    let o = Objective::new(99.9).unwrap();
    let rule = &default_rules(SignedDuration::from_secs(30 * DAY))[0]; // 14.4 over 1 h and 5 min
    let rate = |bad: f64, total: f64| Some(Counts::new(total - bad, total).burn_rate(o));
    // The last hour burns at 15, the last 5 minutes at 20: fires.
    let burst = Rates {
        long: rate(150.0, 10_000.0),
        short: rate(20.0, 1_000.0),
    };
    assert!(fires(rule, false, burst));
    // The long window alone is not enough (the burst is over) ...
    let over = Rates {
        long: rate(150.0, 10_000.0),
        short: rate(5.0, 1_000.0), // 5
    };
    assert!(!fires(rule, false, over));
    // ... nor the short one alone (a blip).
    let blip = Rates {
        long: rate(100.0, 10_000.0), // 10
        short: rate(50.0, 1_000.0),  // 50
    };
    assert!(!fires(rule, false, blip));
    // Firing, it holds while the long window stays above the rate, whatever the short one does,
    assert!(fires(rule, true, over));
    // and resolves once the long window is at or under it.
    let calm = Rates {
        long: rate(144.0, 10_000.0), // 14.4 exactly: not above
        short: rate(50.0, 1_000.0),
    };
    assert!(!fires(rule, true, calm));
    // A silent source changes nothing: no page from nothing, no resolution from nothing.
    let silent = Rates {
        long: None,
        short: None,
    };
    assert!(!fires(rule, false, silent));
    assert!(fires(rule, true, silent));
    assert!(!fires(
        rule,
        false,
        Rates {
            long: rate(150.0, 10_000.0),
            short: None
        }
    ));
}

#[test]
fn a_7_day_window_pages_at_its_scaled_rate() {
    let o = Objective::new(99.0).unwrap(); // budget 1 %
    let rule = &default_rules(SignedDuration::from_secs(7 * DAY))[0]; // 3.36
    // 3.5 % errors is a burn of 3.5: pages on a 7-day window, not on a 30-day one (14.4).
    let r = Some(Counts::new(965.0, 1_000.0).burn_rate(o));
    let rates = Rates { long: r, short: r };
    assert!(fires(rule, false, rates));
    let month = &default_rules(SignedDuration::from_secs(30 * DAY))[0];
    assert!(!fires(month, false, rates));
}

#[test]
fn event_budgets_follow_the_traffic_and_time_budgets_the_window() {
    let o = Objective::new(99.9).unwrap();
    // 1,000,000 requests so far, 400 bad: 1,000 allowed, 600 left (60 %), burning at 0.4.
    let b = Budget::events(o, Counts::new(999_600.0, 1_000_000.0));
    assert!(close(b.allowed, 1_000.0) && close(b.spent, 400.0) && close(b.remaining, 600.0));
    assert!(close(b.remaining_share.unwrap(), 0.6) && close(b.burn_rate, 0.4));
    // Overspent: below zero.
    let over = Budget::events(o, Counts::new(998_500.0, 1_000_000.0));
    assert!(close(over.remaining_share.unwrap(), -0.5));
    assert_eq!(Budget::events(o, Counts::default()).remaining_share, None);
    // A 30-day month at 99.9 % allows 43.2 minutes; 12 down so far leaves 31.2.
    let window = SignedDuration::from_secs(30 * DAY);
    let t = Budget::time(o, Counts::new(14_388.0, 14_400.0), window);
    assert!(close(t.allowed, 43.2) && close(t.spent, 12.0) && close(t.remaining, 31.2));
    assert!(close(t.remaining_share.unwrap(), 31.2 / 43.2));
}

#[test]
fn status_worsens_at_once_and_recovers_past_a_margin() {
    use BudgetStatus::*;
    assert_eq!(status(None, 0.5, 0.2), Healthy);
    assert_eq!(status(None, 0.2, 0.2), AtRisk);
    assert_eq!(status(None, 0.0, 0.2), Exhausted);
    assert_eq!(status(Some(Healthy), 0.19, 0.2), AtRisk);
    assert_eq!(status(Some(Healthy), -0.1, 0.2), Exhausted);
    // Back above 20 % by less than the margin: still at risk; past it: healthy.
    assert_eq!(status(Some(AtRisk), 0.21, 0.2), AtRisk);
    assert_eq!(status(Some(AtRisk), 0.23, 0.2), Healthy);
    // Exhausted, a sliver back is still exhausted; then at risk; then healthy in one step.
    assert_eq!(status(Some(Exhausted), 0.01, 0.2), Exhausted);
    assert_eq!(status(Some(Exhausted), 0.05, 0.2), AtRisk);
    assert_eq!(status(Some(Exhausted), 0.5, 0.2), Healthy);
    // Hovering at the threshold never flaps.
    let mut s = Some(Healthy);
    let mut changes = 0;
    for r in [0.2, 0.205, 0.199, 0.21, 0.2, 0.215] {
        let next = status(s, r, 0.2);
        if Some(next) != s {
            changes += 1;
        }
        s = Some(next);
    }
    assert_eq!(changes, 1);
}

#[test]
fn the_burn_down_is_the_remaining_share_after_each_slice() {
    let o = Objective::new(99.0).unwrap();
    let t0 = ts("2026-03-01T00:00:00Z");
    let at = |h: i64| t0 + SignedDuration::from_hours(h);
    let slices = [
        (at(1), Counts::new(100.0, 100.0)),
        (at(2), Counts::new(99.0, 100.0)),
        (at(3), Counts::new(97.0, 100.0)),
        (at(4), Counts::new(0.0, 0.0)),
    ];
    let points = burn_down(o, Basis::Events, SignedDuration::from_hours(24), &slices);
    let shares: Vec<f64> = points.iter().map(|(_, s)| s.unwrap()).collect();
    // Allowed: 1, 2, 3, 3 bad; spent 0, 1, 4, 4.
    let want = [1.0, 0.5, 1.0 - 4.0 / 3.0, 1.0 - 4.0 / 3.0];
    for (g, w) in shares.iter().zip(want) {
        assert!(close(*g, w), "{g} != {w}");
    }
    assert_eq!(points[3].0, at(4));
    // Minutes: a 24-hour window at 99 % allows 14.4 minutes.
    let mins = [(at(1), Counts::new(50.0, 60.0))];
    let p = burn_down(o, Basis::Time, SignedDuration::from_hours(24), &mins);
    assert!(close(p[0].1.unwrap(), 1.0 - 10.0 / 14.4));
}

#[test]
fn steps_are_the_same_on_every_instance() {
    let minute = SignedDuration::from_secs(60);
    assert_eq!(
        step_of(ts("2026-03-01T10:17:42.5Z"), minute),
        ts("2026-03-01T10:17:00Z")
    );
    assert_eq!(
        step_of(ts("2026-03-01T10:17:00Z"), minute),
        ts("2026-03-01T10:17:00Z")
    );
    assert_eq!(
        step_of(ts("1969-12-31T23:59:30Z"), minute),
        ts("1969-12-31T23:59:00Z")
    );
}

#[test]
fn rules_are_checked_field_by_field() {
    let month = SignedDuration::from_secs(30 * DAY);
    let good = default_rules(month);
    assert!(check_rules(&good, month).is_ok());
    assert_eq!(check_rules(&[], month).unwrap_err().field, "rules");
    let bad = |f: &dyn Fn(&mut BurnRule)| {
        let mut rules = good.clone();
        f(&mut rules[1]);
        check_rules(&rules, month).unwrap_err().field
    };
    assert_eq!(bad(&|r| r.name = "page fast".into()), "rules[1].name");
    assert_eq!(bad(&|r| r.name = "page-fast".into()), "rules[1].name");
    assert_eq!(
        bad(&|r| r.short = SignedDuration::from_secs(30)),
        "rules[1].short"
    );
    assert_eq!(bad(&|r| r.long = r.short), "rules[1].long");
    assert_eq!(
        bad(&|r| r.long = SignedDuration::from_secs(31 * DAY)),
        "rules[1].long"
    );
    assert_eq!(bad(&|r| r.rate = 0.0), "rules[1].rate");
    // The week's ticket rule (3 days) fits a 7-day window.
    let week = SignedDuration::from_secs(7 * DAY);
    assert!(check_rules(&default_rules(week), week).is_ok());
    assert_eq!(
        Window::CalendarMonth { tz: TimeZone::UTC }.nominal(),
        SignedDuration::from_secs(30 * DAY)
    );
    assert_eq!(
        resolution_for(SignedDuration::from_hours(6)),
        Resolution::Minute
    );
    assert_eq!(
        resolution_for(SignedDuration::from_hours(72)),
        Resolution::Hour
    );
}

fn month_slo() -> Slo {
    let window = Window::rolling(30).unwrap();
    Slo {
        id: crate::ids::SloId::new(ts("2026-03-01T00:00:00Z"), [1; 10]),
        service_id: crate::ids::ServiceId::new(ts("2026-03-01T00:00:00Z"), [2; 10]),
        name: "availability".into(),
        description: String::new(),
        objective: Objective::new(99.9).unwrap(),
        rules: default_rules(window.nominal())
            .into_iter()
            .map(|rule| RuleState {
                rule,
                firing: false,
                since: None,
            })
            .collect(),
        window,
        sli: Sli::Pushed,
        at_risk: DEFAULT_AT_RISK,
        status: BudgetStatus::Healthy,
        status_since: ts("2026-03-01T00:00:00Z"),
        evaluated_step: None,
        silent_since: None,
        silent_alerted: false,
        created_at: ts("2026-03-01T00:00:00Z"),
        updated_at: ts("2026-03-01T00:00:00Z"),
    }
}

#[test]
fn an_evaluation_reads_each_rules_windows_and_the_slo_window() {
    let slo = month_slo();
    let step = ts("2026-03-31T12:00:00Z");
    let (rules, window) = spans(&slo, step);
    let first = rules[0];
    assert_eq!(
        (first.0.from, first.0.to, first.0.resolution),
        (ts("2026-03-31T11:00:00Z"), step, Resolution::Minute)
    );
    assert_eq!(first.1.from, ts("2026-03-31T11:55:00Z"));
    // The ticket rule's 3 days are summed per hour, its 6 hours per minute.
    assert_eq!(rules[2].0.resolution, Resolution::Hour);
    assert_eq!(rules[2].1.resolution, Resolution::Minute);
    assert_eq!(
        (window.from, window.to, window.resolution),
        (ts("2026-03-01T12:00:00Z"), step, Resolution::Hour)
    );
}

const SILENCE: SignedDuration = SignedDuration::from_mins(10);

#[test]
fn a_silent_source_raises_its_own_alert_after_the_silence_and_pages_nothing() {
    let mut slo = month_slo();
    let at = |m: i64| ts("2026-03-31T12:00:00Z") + SignedDuration::from_mins(m);
    let silent = Observed::default();
    let mut alerts = Vec::new();
    for m in 0..=12 {
        let d = evaluate(&slo, at(m), &silent, SILENCE);
        assert!(d.rules.iter().all(|(r, t)| !r.firing && t.is_none()));
        if let Some(t) = d.silent_alert {
            alerts.push((m, t));
        }
        slo.silent_since = d.silent_since;
        slo.silent_alerted = d.silent_alerted(&slo);
    }
    // Silent from minute 0: its alert at minute 10, once.
    assert_eq!(alerts, [(10, Transition::Fired)]);
    assert_eq!(slo.silent_since, Some(at(0)));
    let back = Observed {
        rules: vec![(Some(Counts::default()), Some(Counts::default())); 3],
        window: Some(Counts::default()),
        answered: true,
    };
    let d = evaluate(&slo, at(13), &back, SILENCE);
    assert_eq!(
        (d.silent_since, d.silent_alert),
        (None, Some(Transition::Resolved))
    );
    assert!(d.changed(&slo));
}

#[test]
fn prometheus_slis_name_a_source_a_ratio_and_their_window() {
    let sli = |good: Option<&str>, bad: Option<&str>, total: &str| Sli::Prometheus {
        source: "main".into(),
        good: good.map(Into::into),
        bad: bad.map(Into::into),
        total: total.into(),
    };
    let total = "sum(increase(req_total[{{window}}]))";
    let bad = "sum(increase(req_total{code=~\"5..\"}[{{window}}]))";
    assert!(sli(None, Some(bad), total).check(&["main"]).is_ok());
    assert_eq!(
        sli(None, Some(bad), total)
            .check(&["other"])
            .unwrap_err()
            .field,
        "sli.source"
    );
    assert_eq!(
        sli(None, Some(bad), total).check(&[]).unwrap_err().field,
        "sli.source"
    );
    assert_eq!(
        sli(Some(bad), Some(bad), total)
            .check(&["main"])
            .unwrap_err()
            .field,
        "sli.good"
    );
    assert_eq!(
        sli(None, None, total).check(&["main"]).unwrap_err().field,
        "sli.good"
    );
    assert_eq!(
        sli(None, Some("sum(errors)"), total)
            .check(&["main"])
            .unwrap_err()
            .field,
        "sli.bad"
    );
    assert_eq!(
        sli(None, Some(bad), "").check(&["main"]).unwrap_err().field,
        "sli.total"
    );
    assert_eq!(
        promql(total, SignedDuration::from_hours(72)),
        "sum(increase(req_total[3d]))"
    );
    assert!(Sli::Pushed.check(&[]).is_ok());
}

#[test]
fn an_evaluation_fires_resolves_and_moves_the_status() {
    let mut slo = month_slo();
    let step = ts("2026-03-31T12:00:00Z");
    let burst = Some(Counts::new(9_800.0, 10_000.0)); // burn 20
    let calm = Some(Counts::new(10_000.0, 10_000.0));
    // The fast rule's windows both burn at 20; the slow ones do not; the window so far has
    // spent 85 % of its budget.
    let seen = Observed {
        rules: vec![(burst, burst), (calm, burst), (calm, calm)],
        window: Some(Counts::new(999_150.0, 1_000_000.0)),
        answered: true,
    };
    let d = evaluate(&slo, step, &seen, SILENCE);
    let moved: Vec<(bool, Option<Transition>)> =
        d.rules.iter().map(|(r, t)| (r.firing, *t)).collect();
    assert_eq!(
        moved,
        [
            (true, Some(Transition::Fired)),
            (false, None),
            (false, None)
        ]
    );
    assert_eq!(d.rules[0].0.since, Some(step));
    assert!(close(d.rates[0].long.unwrap(), 20.0));
    assert!(close(d.budget.unwrap().remaining_share.unwrap(), 0.15));
    assert_eq!((d.status, d.status_since), (BudgetStatus::AtRisk, step));
    assert!(d.changed(&slo));

    // Next step: the short window calms, the long one still burns: it holds. Then the long one
    // calms: it resolves. A silent source changes nothing, the status included.
    for (r, (state, _)) in slo.rules.iter_mut().zip(&d.rules) {
        *r = state.clone();
    }
    slo.status = d.status;
    slo.status_since = d.status_since;
    let later = ts("2026-03-31T12:01:00Z");
    let hold = evaluate(
        &slo,
        later,
        &Observed {
            rules: vec![(burst, calm), (calm, calm), (calm, calm)],
            window: None,
            answered: true,
        },
        SILENCE,
    );
    assert_eq!(hold.rules[0].1, None);
    assert!(hold.rules[0].0.firing);
    assert_eq!(hold.rules[0].0.since, Some(step));
    assert_eq!(
        (hold.status, hold.status_since),
        (BudgetStatus::AtRisk, step)
    );
    assert!(!hold.changed(&slo));
    let done = evaluate(
        &slo,
        later,
        &Observed {
            rules: vec![(calm, calm), (calm, calm), (calm, calm)],
            window: Some(Counts::new(999_850.0, 1_000_000.0)), // 85 % left
            answered: true,
        },
        SILENCE,
    );
    assert_eq!(done.rules[0].1, Some(Transition::Resolved));
    assert_eq!(
        (done.status, done.status_since),
        (BudgetStatus::Healthy, later)
    );
    let silent = evaluate(&slo, later, &Observed::default(), SILENCE);
    assert_eq!(
        (silent.rules[0].1, silent.status, silent.silent_alert),
        (None, BudgetStatus::AtRisk, None)
    );
    assert_eq!(silent.silent_since, Some(later));
}

#[test]
fn durations_read_and_write_in_one_unit() {
    for (raw, secs) in [
        ("30s", 30),
        ("5m", 300),
        ("6h", 21_600),
        ("3d", 259_200),
        (" 1h ", 3600),
    ] {
        let d = parse_duration("long", raw).unwrap();
        assert_eq!(d.as_secs(), secs);
        assert_eq!(format_duration(d), raw.trim());
    }
    for bad in ["", "h", "5", "-5m", "0m", "1.5h", "5w", "401d"] {
        assert_eq!(
            parse_duration("long", bad).unwrap_err().field,
            "long",
            "{bad}"
        );
    }
    assert_eq!(format_duration(SignedDuration::from_secs(90)), "90s");
}

#[test]
fn a_long_span_is_summed_from_days_in_its_middle_and_hours_at_its_ends() {
    let span = |from: &str, to: &str| Span {
        from: ts(from),
        to: ts(to),
        resolution: Resolution::Hour,
    };
    let got = pieces(span("2026-03-01T10:30:00Z", "2026-03-31T12:00:00Z"));
    let want = [
        (
            "2026-03-01T10:30:00Z",
            "2026-03-02T00:00:00Z",
            Resolution::Hour,
        ),
        (
            "2026-03-02T00:00:00Z",
            "2026-03-31T00:00:00Z",
            Resolution::Day,
        ),
        (
            "2026-03-31T00:00:00Z",
            "2026-03-31T12:00:00Z",
            Resolution::Hour,
        ),
    ];
    assert_eq!(got.len(), 3);
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.from, g.to, g.resolution), (ts(w.0), ts(w.1), w.2));
    }
    // Less than a whole day inside: hours only.
    let short = span("2026-03-01T10:30:00Z", "2026-03-02T09:00:00Z");
    assert_eq!(pieces(short), [short]);
    // A 6-hour minute span: its whole hours from hour slices, then whole five minutes, then
    // minutes at the ends.
    let minutes = |f: &str, t: &str| Span {
        resolution: Resolution::Minute,
        ..span(f, t)
    };
    let of = |s: Span| -> Vec<(Timestamp, Timestamp, Resolution)> {
        pieces(s)
            .iter()
            .map(|p| (p.from, p.to, p.resolution))
            .collect()
    };
    let at = |f: &str, t: &str, r: Resolution| (ts(f), ts(t), r);
    let six = minutes("2026-03-01T04:17:00Z", "2026-03-01T10:17:00Z");
    assert_eq!(
        of(six),
        [
            at(
                "2026-03-01T04:17:00Z",
                "2026-03-01T04:20:00Z",
                Resolution::Minute
            ),
            at(
                "2026-03-01T04:20:00Z",
                "2026-03-01T05:00:00Z",
                Resolution::FiveMinutes
            ),
            at(
                "2026-03-01T05:00:00Z",
                "2026-03-01T10:00:00Z",
                Resolution::Hour
            ),
            at(
                "2026-03-01T10:00:00Z",
                "2026-03-01T10:15:00Z",
                Resolution::FiveMinutes
            ),
            at(
                "2026-03-01T10:15:00Z",
                "2026-03-01T10:17:00Z",
                Resolution::Minute
            ),
        ]
    );
    // Under a whole hour inside (an hour not on the hour): five minutes and minutes.
    let hour = minutes("2026-03-01T09:17:00Z", "2026-03-01T10:17:00Z");
    assert_eq!(
        of(hour),
        [
            at(
                "2026-03-01T09:17:00Z",
                "2026-03-01T09:20:00Z",
                Resolution::Minute
            ),
            at(
                "2026-03-01T09:20:00Z",
                "2026-03-01T10:15:00Z",
                Resolution::FiveMinutes
            ),
            at(
                "2026-03-01T10:15:00Z",
                "2026-03-01T10:17:00Z",
                Resolution::Minute
            ),
        ]
    );
    // On five-minute edges: no minute pieces; under five minutes: minutes only.
    let even = minutes("2026-03-01T09:20:00Z", "2026-03-01T09:50:00Z");
    assert_eq!(
        of(even),
        [at(
            "2026-03-01T09:20:00Z",
            "2026-03-01T09:50:00Z",
            Resolution::FiveMinutes
        )]
    );
    let few = minutes("2026-03-01T09:21:00Z", "2026-03-01T09:24:00Z");
    assert_eq!(pieces(few), [few]);
    // Day slices are read as they are.
    let days = Span {
        resolution: Resolution::Day,
        ..short
    };
    assert_eq!(pieces(days), [days]);
}

#[test]
fn a_half_answer_holds_every_rule_and_the_status() {
    let slo = month_slo();
    let burst = Some(Counts::new(9_800.0, 10_000.0)); // burn 20
    // Both fast windows burn, but the window's own question went unanswered.
    let half = Observed {
        rules: vec![(burst, burst), (burst, burst), (burst, burst)],
        window: None,
        answered: false,
    };
    let d = evaluate(&slo, ts("2026-03-31T12:00:00Z"), &half, SILENCE);
    assert!(d.rules.iter().all(|(r, t)| !r.firing && t.is_none()));
    assert_eq!((d.status, d.budget), (BudgetStatus::Healthy, None));
    assert!(d.silent_since.is_some());
}

/// Every minute of a span is in exactly one of its pieces' slices, for spans of many lengths
/// starting at many offsets (seconds included): the pieces sum the same counts as the span.
#[test]
fn pieces_cover_each_minute_once() {
    let base = ts("2026-03-01T00:00:00Z").as_second();
    let minute = |s: i64| Timestamp::from_second(s).unwrap();
    for start in (0..3 * 86_400).step_by(1_789) {
        for len in [300, 1_800, 3_600, 7_200, 21_600, 86_400, 3 * 86_400 + 77] {
            for res in [Resolution::Minute, Resolution::Hour] {
                let span = Span {
                    from: minute(base + start),
                    to: minute(base + start + len),
                    resolution: res,
                };
                let len_of = |r: Resolution| r.length().as_secs();
                // The minute slices a piece's own slices hold.
                let mut got: Vec<i64> = Vec::new();
                for p in pieces(span) {
                    let step = len_of(p.resolution);
                    let first = step_up(p.from, p.resolution.length()).as_second();
                    let end = step_up(p.to, p.resolution.length()).as_second();
                    for slice in (first..end).step_by(step as usize) {
                        got.extend((slice..slice + step).step_by(60));
                    }
                }
                got.sort_unstable();
                let fine = res.length();
                let (a, b) = (
                    step_up(span.from, fine).as_second(),
                    step_up(span.to, fine).as_second(),
                );
                let want: Vec<i64> = (a..b).step_by(60).collect();
                assert_eq!(got, want, "{span:?}");
            }
        }
    }
}
