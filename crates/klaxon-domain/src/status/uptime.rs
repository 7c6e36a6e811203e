//! Uptime from a component's status intervals: daily bars in the page's time zone and the
//! percentage over the whole span. A major outage counts as down, a partial outage by a
//! configurable weight (default 0.3, Instatus's formula), degraded performance and planned
//! maintenance as up. Time before the component existed is not counted at all.
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::ComponentStatus;

/// A stretch of time in one status; `until` is `None` while it lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub status: ComponentStatus,
    pub from: Timestamp,
    pub until: Option<Timestamp>,
}

/// One day's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct DayBar {
    pub date: Date,
    /// Seconds of the day the component existed and was watched (up to now, today).
    pub observed_secs: i64,
    pub major_secs: i64,
    pub partial_secs: i64,
    pub degraded_secs: i64,
    pub maintenance_secs: i64,
    /// 0.0 to 1.0; `None` when the day was not observed.
    pub uptime: Option<f64>,
}

impl DayBar {
    /// The worst status the day saw, for its colour; `None` when not observed.
    pub fn worst(&self) -> Option<ComponentStatus> {
        if self.observed_secs == 0 {
            None
        } else if self.major_secs > 0 {
            Some(ComponentStatus::MajorOutage)
        } else if self.partial_secs > 0 {
            Some(ComponentStatus::PartialOutage)
        } else if self.degraded_secs > 0 {
            Some(ComponentStatus::DegradedPerformance)
        } else if self.maintenance_secs > 0 {
            Some(ComponentStatus::UnderMaintenance)
        } else {
            Some(ComponentStatus::Operational)
        }
    }

    /// The bar in words, for those who cannot see its colour: "12 May: 99.2 %, partial
    /// outage 23 min".
    pub fn text(&self) -> String {
        let day = self.date.strftime("%-d %b");
        let Some(up) = self.uptime else {
            return format!("{day}: no data");
        };
        let mut parts = Vec::new();
        for (secs, what) in [
            (self.major_secs, "major outage"),
            (self.partial_secs, "partial outage"),
            (self.degraded_secs, "degraded performance"),
            (self.maintenance_secs, "maintenance"),
        ] {
            if secs > 0 {
                parts.push(format!("{what} {}", minutes(secs)));
            }
        }
        if parts.is_empty() {
            format!("{day}: {}, no downtime", percent(up))
        } else {
            format!("{day}: {}, {}", percent(up), parts.join(", "))
        }
    }
}

/// "23 min", "1 h 05 min"; a few seconds read as "1 min" so that they are not hidden.
fn minutes(secs: i64) -> String {
    let m = (secs + 59) / 60;
    if m < 60 {
        format!("{m} min")
    } else {
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

/// A fraction as a percentage with one decimal, never rounded up to 100 %: "99.9 %".
pub fn percent(up: f64) -> String {
    let tenths = (up * 1000.0).floor() / 10.0;
    if tenths >= 100.0 {
        "100 %".into()
    } else {
        format!("{tenths:.1} %")
    }
}

/// The last `days` days (today included) in `tz`, oldest first. `since` is when the component
/// was created: nothing before it counts.
pub fn daily(
    intervals: &[Interval],
    since: Timestamp,
    now: Timestamp,
    tz: &TimeZone,
    days: u32,
    partial_weight: f64,
) -> Vec<DayBar> {
    let today = now.to_zoned(tz.clone()).date();
    let first = today
        .checked_sub((i64::from(days) - 1).days())
        .unwrap_or(today);
    let mut bars = Vec::with_capacity(days as usize);
    let mut date = first;
    while date <= today {
        let start = day_start(date, tz);
        let end = date
            .tomorrow()
            .map(|d| day_start(d, tz))
            .unwrap_or(Timestamp::MAX);
        bars.push(bar(
            date,
            start.max(since),
            end.min(now),
            intervals,
            partial_weight,
        ));
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    bars
}

fn day_start(date: Date, tz: &TimeZone) -> Timestamp {
    date.to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MIN)
}

fn bar(date: Date, from: Timestamp, to: Timestamp, intervals: &[Interval], w: f64) -> DayBar {
    let mut b = DayBar {
        date,
        observed_secs: 0,
        major_secs: 0,
        partial_secs: 0,
        degraded_secs: 0,
        maintenance_secs: 0,
        uptime: None,
    };
    if to <= from {
        return b;
    }
    b.observed_secs = secs(to.duration_since(from));
    for i in intervals {
        let s = i.from.max(from);
        let e = i.until.unwrap_or(to).min(to);
        if e <= s {
            continue;
        }
        let d = secs(e.duration_since(s));
        match i.status {
            ComponentStatus::MajorOutage => b.major_secs += d,
            ComponentStatus::PartialOutage => b.partial_secs += d,
            ComponentStatus::DegradedPerformance => b.degraded_secs += d,
            ComponentStatus::UnderMaintenance => b.maintenance_secs += d,
            ComponentStatus::Operational => {}
        }
    }
    b.uptime = Some(fraction(&[b.clone()], w).unwrap_or(1.0));
    b
}

fn secs(d: SignedDuration) -> i64 {
    d.as_secs()
}

/// Uptime over several bars, weighted by how long each was observed; `None` if none was.
pub fn fraction(bars: &[DayBar], partial_weight: f64) -> Option<f64> {
    let observed: i64 = bars.iter().map(|b| b.observed_secs).sum();
    if observed == 0 {
        return None;
    }
    let down: f64 = bars
        .iter()
        .map(|b| b.major_secs as f64 + partial_weight * b.partial_secs as f64)
        .sum();
    Some((1.0 - down / observed as f64).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus as C;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_day_with_a_partial_outage_reads_in_words() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let intervals = [
            Interval {
                status: C::Operational,
                from: t("2026-05-01T00:00:00Z"),
                until: Some(t("2026-05-12T10:00:00Z")),
            },
            Interval {
                status: C::PartialOutage,
                from: t("2026-05-12T10:00:00Z"),
                until: Some(t("2026-05-12T10:23:00Z")),
            },
            Interval {
                status: C::Operational,
                from: t("2026-05-12T10:23:00Z"),
                until: None,
            },
        ];
        let bars = daily(
            &intervals,
            t("2026-05-01T00:00:00Z"),
            t("2026-05-13T12:00:00Z"),
            &tz,
            3,
            0.3,
        );
        assert_eq!(bars.len(), 3);
        assert_eq!(bars[0].date.to_string(), "2026-05-11");
        assert_eq!(bars[1].partial_secs, 23 * 60);
        assert_eq!(bars[1].worst(), Some(C::PartialOutage));
        // 23 min × 0.3 of a 24 h day: 99.52 %.
        assert_eq!(bars[1].text(), "12 May: 99.5 %, partial outage 23 min");
        assert_eq!(bars[0].text(), "11 May: 100 %, no downtime");
        // Today counts only up to now (12:00 UTC is 14:00 in Berlin).
        assert_eq!(bars[2].observed_secs, 14 * 3600);
        let all = fraction(&bars, 0.3).unwrap();
        assert!(all > 0.997 && all < 0.999, "{all}");
        // Counted as fully down, the same day is worse.
        assert_eq!(fraction(&bars[1..2], 1.0).map(percent).unwrap(), "98.4 %");
    }

    #[test]
    fn days_before_the_component_existed_have_no_data() {
        let intervals = [Interval {
            status: C::MajorOutage,
            from: t("2026-05-13T06:00:00Z"),
            until: None,
        }];
        let bars = daily(
            &intervals,
            t("2026-05-13T06:00:00Z"),
            t("2026-05-13T12:00:00Z"),
            &TimeZone::UTC,
            90,
            0.3,
        );
        assert_eq!(bars.len(), 90);
        assert!(bars[..89].iter().all(|b| b.uptime.is_none()));
        assert_eq!(bars[0].text().split(": ").nth(1), Some("no data"));
        assert_eq!(bars[89].uptime, Some(0.0));
        assert_eq!(bars[89].text(), "13 May: 0.0 %, major outage 6 h 00 min");
    }

    #[test]
    fn a_long_day_across_dst_counts_its_25_hours() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let intervals = [Interval {
            status: C::Operational,
            from: t("2026-10-01T00:00:00Z"),
            until: None,
        }];
        let bars = daily(
            &intervals,
            t("2026-10-01T00:00:00Z"),
            t("2026-10-26T12:00:00Z"),
            &tz,
            2,
            0.3,
        );
        assert_eq!(bars[0].date.to_string(), "2026-10-25");
        assert_eq!(bars[0].observed_secs, 25 * 3600);
    }

    #[test]
    fn percent_never_rounds_up_to_a_clean_record() {
        assert_eq!(percent(0.99999), "99.9 %");
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(0.5), "50.0 %");
    }
}
