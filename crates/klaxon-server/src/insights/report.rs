//! The reports, computed from the store's raw rows with the domain's formulas
//! (`klaxon_domain::learning`; stated in docs/learning.md). No I/O here: `api.rs` reads, this
//! counts, so a test can recompute the same numbers from the same rows by hand.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use klaxon_domain::ids::{IncidentId, ScheduleId, ServiceId, UserId};
use klaxon_domain::incident::Severity;
pub use klaxon_domain::learning::GroupBy;
use klaxon_domain::learning::{self, Band, BandSeconds, METRICS, Stats};
use klaxon_domain::schedule::Shift;
use klaxon_store::{InsightIncident, InsightPage};
use serde::Serialize;
use utoipa::ToSchema;

/// Count, mean, median and p90 of each duration over a set of incidents.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MetricsRow {
    /// The group's key (an id, a severity, a category, a week's Monday); `none` for incidents
    /// without one; `all` for the whole period.
    pub key: String,
    /// What people call it.
    pub label: String,
    /// Incidents in the group.
    pub incidents: u64,
    pub ttd: Stats,
    pub tta: Stats,
    pub ttm: Stats,
    pub ttr: Stats,
    pub duration: Stats,
}

impl MetricsRow {
    pub fn stats(&self, metric: &str) -> &Stats {
        match metric {
            "ttd" => &self.ttd,
            "tta" => &self.tta,
            "ttm" => &self.ttm,
            "ttr" => &self.ttr,
            _ => &self.duration,
        }
    }
}

/// Incidents of one severity and the minutes they lasted.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SeverityLoad {
    pub severity: Severity,
    pub incidents: u64,
    /// Sum over its incidents of impact start (or declared) to resolved, or to the period's end
    /// while still open.
    pub minutes: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MetricsReport {
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    pub group_by: Option<GroupBy>,
    /// Every incident of the period (drills left out).
    pub overall: MetricsRow,
    /// One row per group, largest first; empty without `group_by`.
    pub groups: Vec<MetricsRow>,
    /// One row per week (Monday 00:00 UTC), oldest first, empty weeks included.
    pub weeks: Vec<MetricsRow>,
    /// SEV1 and SEV2.
    pub severe: Vec<SeverityLoad>,
}

/// Names for the keys a report shows.
#[derive(Debug, Default)]
pub struct Names {
    pub services: HashMap<String, String>,
    pub policies: HashMap<String, String>,
    pub users: HashMap<UserId, String>,
}

fn row(key: String, label: String, set: &[&InsightIncident]) -> MetricsRow {
    let durations: Vec<_> = set.iter().map(|i| i.durations()).collect();
    let s = |m: &str| -> Stats {
        let v: Vec<f64> = durations
            .iter()
            .filter_map(|d| d.get(m).seconds())
            .collect();
        learning::stats(&v)
    };
    MetricsRow {
        key,
        label,
        incidents: set.len() as u64,
        ttd: s(METRICS[0]),
        tta: s(METRICS[1]),
        ttm: s(METRICS[2]),
        ttr: s(METRICS[3]),
        duration: s(METRICS[4]),
    }
}

fn group_key(i: &InsightIncident, by: GroupBy) -> Option<String> {
    match by {
        GroupBy::Service => i.service_id.map(|s| s.to_string()),
        GroupBy::Team => i.policy_id.map(|p| p.to_string()),
        GroupBy::Severity => i.severity.map(|s| s.as_str().to_owned()),
        GroupBy::Category => i.category.clone(),
    }
}

pub fn metrics(
    rows: &[InsightIncident],
    from: Timestamp,
    to: Timestamp,
    group_by: Option<GroupBy>,
    names: &Names,
) -> MetricsReport {
    let all: Vec<&InsightIncident> = rows.iter().collect();
    let mut groups = Vec::new();
    if let Some(by) = group_by {
        let mut sets: BTreeMap<Option<String>, Vec<&InsightIncident>> = BTreeMap::new();
        for i in &all {
            sets.entry(group_key(i, by)).or_default().push(i);
        }
        for (key, set) in sets {
            let label = match (&key, by) {
                (None, _) => "(none)".to_owned(),
                (Some(k), GroupBy::Service) => names.services.get(k).cloned().unwrap_or(k.clone()),
                (Some(k), GroupBy::Team) => names.policies.get(k).cloned().unwrap_or(k.clone()),
                (Some(k), _) => k.clone(),
            };
            groups.push(row(key.unwrap_or_else(|| "none".into()), label, &set));
        }
        groups.sort_by(|a, b| b.incidents.cmp(&a.incidents).then(a.label.cmp(&b.label)));
    }
    // Each incident's week worked out once: a year is 53 weeks of 100,000 incidents.
    let mut by_week: HashMap<Timestamp, Vec<&InsightIncident>> = HashMap::new();
    for i in &all {
        by_week
            .entry(learning::week_start(i.created_at))
            .or_default()
            .push(i);
    }
    let weeks = learning::weeks(
        from,
        to.checked_sub(jiff::SignedDuration::from_millis(1))
            .unwrap_or(to),
    )
    .into_iter()
    .map(|w| {
        let set = by_week.remove(&w).unwrap_or_default();
        let day = w.to_zoned(TimeZone::UTC).date().to_string();
        row(day.clone(), format!("week of {day}"), &set)
    })
    .collect();
    let severe = [Severity::Sev1, Severity::Sev2]
        .into_iter()
        .map(|sev| {
            let set: Vec<_> = all.iter().filter(|i| i.severity == Some(sev)).collect();
            let minutes = set
                .iter()
                .map(|i| {
                    let m = &i.milestones;
                    let start = m.impact_started_at.unwrap_or(i.created_at);
                    let end = m.resolved_at.unwrap_or(to).max(start);
                    (end.as_millisecond() - start.as_millisecond()) as f64 / 60_000.0
                })
                .sum();
            SeverityLoad {
                severity: sev,
                incidents: set.len() as u64,
                minutes,
            }
        })
        .collect();
    MetricsReport {
        from,
        to,
        group_by,
        overall: row("all".into(), "all incidents".into(), &all),
        groups,
        weeks,
        severe,
    }
}

/// A service's share of the alerts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ServiceNoise {
    /// `none` for incidents without a service.
    pub service_id: String,
    pub name: String,
    pub alerts: u64,
    pub incidents: u64,
    pub self_resolved_alerts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NoiseReport {
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// Incidents declared in the period (drills left out).
    pub incidents: u64,
    /// Alerts grouped into those incidents.
    pub alerts: u64,
    /// Alerts over incidents with at least one alert; none without such incidents.
    pub alerts_per_incident: Option<f64>,
    /// Alerts that resolved on their own (their monitor said so) before anyone acknowledged.
    pub self_resolved_alerts: u64,
    /// Incidents with no acknowledgement: nobody acknowledged them.
    pub unacknowledged_incidents: u64,
    /// Services by alerts, most first.
    pub services: Vec<ServiceNoise>,
}

pub fn noise(
    rows: &[InsightIncident],
    from: Timestamp,
    to: Timestamp,
    names: &Names,
) -> NoiseReport {
    let alerts: u64 = rows.iter().map(|i| i.alerts).sum();
    let with_alerts = rows.iter().filter(|i| i.alerts > 0).count() as u64;
    let mut by: BTreeMap<Option<ServiceId>, ServiceNoise> = BTreeMap::new();
    for i in rows {
        let key = i.service_id;
        let s = by.entry(key).or_insert_with(|| {
            let id = key.map_or("none".to_owned(), |k| k.to_string());
            ServiceNoise {
                name: names.services.get(&id).cloned().unwrap_or_else(|| {
                    if key.is_none() {
                        "(no service)".into()
                    } else {
                        id.clone()
                    }
                }),
                service_id: id,
                alerts: 0,
                incidents: 0,
                self_resolved_alerts: 0,
            }
        });
        s.alerts += i.alerts;
        s.incidents += 1;
        s.self_resolved_alerts += i.self_resolved_alerts;
    }
    let mut services: Vec<_> = by.into_values().collect();
    services.sort_by(|a, b| b.alerts.cmp(&a.alerts).then(a.name.cmp(&b.name)));
    NoiseReport {
        from,
        to,
        incidents: rows.len() as u64,
        alerts,
        alerts_per_incident: (with_alerts > 0).then(|| alerts as f64 / with_alerts as f64),
        self_resolved_alerts: rows.iter().map(|i| i.self_resolved_alerts).sum(),
        unacknowledged_incidents: rows
            .iter()
            .filter(|i| i.milestones.acknowledged_at.is_none())
            .count() as u64,
        services,
    }
}

/// Hours and pages by band.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, ToSchema)]
pub struct BandCounts {
    pub business: u64,
    pub off: u64,
    pub sleep: u64,
}

impl BandCounts {
    fn add(&mut self, b: Band) {
        match b {
            Band::Business => self.business += 1,
            Band::Off => self.off += 1,
            Band::Sleep => self.sleep += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.business + self.off + self.sleep
    }
}

/// Hours by band (from seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, ToSchema)]
pub struct BandHours {
    pub business: f64,
    pub off: f64,
    pub sleep: f64,
    pub total: f64,
}

impl From<BandSeconds> for BandHours {
    fn from(s: BandSeconds) -> Self {
        Self {
            business: s.business / 3600.0,
            off: s.off / 3600.0,
            sleep: s.sleep / 3600.0,
            total: s.total() / 3600.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PersonLoad {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub name: String,
    /// The zone the bands are counted in (UTC when they chose none).
    pub time_zone: String,
    /// On call in any schedule (overlaps counted once).
    pub on_call_hours: BandHours,
    /// Interruptions: pages raised, by band at the moment they were raised.
    pub pages: BandCounts,
    /// Incidents behind those pages.
    pub page_incidents: u64,
    /// Their shifts in the period, across schedules.
    pub shifts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MemberLoad {
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    pub name: String,
    pub hours: BandHours,
    /// Pages they got while on call in this schedule.
    pub pages: u64,
    pub sleep_pages: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScheduleLoad {
    #[schema(value_type = String, format = Uuid)]
    pub schedule_id: ScheduleId,
    pub name: String,
    pub shifts: u64,
    /// Incidents behind the pages the person on call got during each shift, summed.
    pub incidents: u64,
    /// `incidents` over `shifts`; none without shifts.
    pub incidents_per_shift: Option<f64>,
    /// Fairness: each member's hours and pages, most hours first.
    pub members: Vec<MemberLoad>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OnCallReport {
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// Everyone on call or paged in the period, by name.
    pub people: Vec<PersonLoad>,
    pub schedules: Vec<ScheduleLoad>,
}

/// A person's zone and name, for the on-call report.
pub struct Person {
    pub name: String,
    pub zone: String,
    pub tz: TimeZone,
}

/// Joins overlapping intervals, so time on two schedules at once counts once.
fn union(mut v: Vec<(Timestamp, Timestamp)>) -> Vec<(Timestamp, Timestamp)> {
    v.sort();
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::new();
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn clip(s: &Shift, from: Timestamp, to: Timestamp) -> Option<(Timestamp, Timestamp)> {
    let (a, b) = (s.start.max(from), s.end.min(to));
    (a < b).then_some((a, b))
}

/// The on-call report from each schedule's shifts over the period and the pages raised in it.
pub fn oncall(
    schedules: &[(ScheduleId, String, Vec<Shift>)],
    pages: &[InsightPage],
    people: &HashMap<UserId, Person>,
    from: Timestamp,
    to: Timestamp,
) -> OnCallReport {
    let utc = Person {
        name: String::new(),
        zone: "UTC".into(),
        tz: TimeZone::UTC,
    };
    let person = |u: &UserId| people.get(u).unwrap_or(&utc);
    let name = |u: &UserId| {
        people
            .get(u)
            .map_or_else(|| u.to_string(), |p| p.name.clone())
    };
    let mut intervals: HashMap<UserId, Vec<(Timestamp, Timestamp)>> = HashMap::new();
    let mut shift_counts: HashMap<UserId, u64> = HashMap::new();
    // Each person's pages, oldest first, each placed in its band once: a shift then takes its
    // pages as one slice found by binary search (a year has thousands of shifts and a
    // person's pages can run to tens of thousands).
    let mut pages_of: HashMap<UserId, Vec<(Timestamp, IncidentId, Band)>> = HashMap::new();
    for p in pages {
        let band = learning::classify(p.at, &person(&p.user_id).tz);
        pages_of
            .entry(p.user_id)
            .or_default()
            .push((p.at, p.incident_id, band));
    }
    for v in pages_of.values_mut() {
        v.sort_by_key(|p| p.0);
    }
    let mut out_schedules = Vec::new();
    for (id, sname, shifts) in schedules {
        let mut members: BTreeMap<UserId, (BandSeconds, u64, u64)> = BTreeMap::new();
        let mut incidents = 0u64;
        let mut count = 0u64;
        for s in shifts {
            let Some((a, b)) = clip(s, from, to) else {
                continue;
            };
            count += 1;
            *shift_counts.entry(s.user).or_default() += 1;
            intervals.entry(s.user).or_default().push((a, b));
            let tz = &person(&s.user).tz;
            let m = members.entry(s.user).or_default();
            m.0 = m.0.plus(&learning::split(a, b, tz));
            let during = pages_of.get(&s.user).map_or(&[][..], |v| {
                &v[v.partition_point(|p| p.0 < a)..v.partition_point(|p| p.0 < b)]
            });
            m.1 += during.len() as u64;
            m.2 += during.iter().filter(|p| p.2 == Band::Sleep).count() as u64;
            incidents += during
                .iter()
                .map(|p| p.1)
                .collect::<BTreeSet<IncidentId>>()
                .len() as u64;
        }
        let mut members: Vec<MemberLoad> = members
            .into_iter()
            .map(|(u, (secs, pages, sleep))| MemberLoad {
                user_id: u,
                name: name(&u),
                hours: secs.into(),
                pages,
                sleep_pages: sleep,
            })
            .collect();
        members.sort_by(|a, b| {
            b.hours
                .total
                .total_cmp(&a.hours.total)
                .then(a.name.cmp(&b.name))
        });
        out_schedules.push(ScheduleLoad {
            schedule_id: *id,
            name: sname.clone(),
            shifts: count,
            incidents,
            incidents_per_shift: (count > 0).then(|| incidents as f64 / count as f64),
            members,
        });
    }
    let users: BTreeSet<UserId> = intervals.keys().chain(pages_of.keys()).copied().collect();
    let mut out_people: Vec<PersonLoad> = users
        .into_iter()
        .map(|u| {
            let p = person(&u);
            let secs = union(intervals.remove(&u).unwrap_or_default())
                .into_iter()
                .fold(BandSeconds::default(), |acc, (a, b)| {
                    acc.plus(&learning::split(a, b, &p.tz))
                });
            let mine = pages_of.get(&u).map(Vec::as_slice).unwrap_or_default();
            let mut bands = BandCounts::default();
            for pg in mine {
                bands.add(pg.2);
            }
            PersonLoad {
                user_id: u,
                name: name(&u),
                time_zone: p.zone.clone(),
                on_call_hours: secs.into(),
                pages: bands,
                page_incidents: mine.iter().map(|p| p.1).collect::<BTreeSet<_>>().len() as u64,
                shifts: shift_counts.get(&u).copied().unwrap_or(0),
            }
        })
        .collect();
    out_people.sort_by(|a, b| a.name.cmp(&b.name));
    OnCallReport {
        from,
        to,
        people: out_people,
        schedules: out_schedules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_shift_counts_the_pages_inside_it_and_no_others() {
        let now = t("2026-03-01T00:00:00Z");
        let (u, sched) = (UserId::new(now, [1; 10]), ScheduleId::new(now, [2; 10]));
        let shift = |a, b| Shift {
            user: u,
            start: t(a),
            end: t(b),
        };
        let shifts = vec![
            shift("2026-03-02T02:00:00Z", "2026-03-02T12:00:00Z"),
            shift("2026-03-02T12:00:00Z", "2026-03-02T23:30:00Z"),
        ];
        let [i1, i2, i3] = [3, 4, 5].map(|n| IncidentId::new(now, [n; 10]));
        // Given out of order, as a store need not sort them.
        let pages: Vec<InsightPage> = [
            ("2026-03-02T23:00:00Z", i2), // second shift, sleep hours
            ("2026-03-02T01:00:00Z", i1), // before any shift
            ("2026-03-02T12:00:00Z", i2), // the second shift's first instant
            ("2026-03-02T11:59:59Z", i3), // the first shift's last second
            ("2026-03-02T23:30:00Z", i3), // the second shift has ended
        ]
        .into_iter()
        .map(|(at, incident_id)| InsightPage {
            user_id: u,
            incident_id,
            at: t(at),
        })
        .collect();
        let r = oncall(
            &[(sched, "Day".into(), shifts)],
            &pages,
            &HashMap::new(),
            t("2026-03-02T00:00:00Z"),
            t("2026-03-03T00:00:00Z"),
        );
        let s = &r.schedules[0];
        assert_eq!((s.shifts, s.incidents), (2, 2)); // i3 in the first, i2 in the second
        assert_eq!((s.members[0].pages, s.members[0].sleep_pages), (3, 1));
        let p = &r.people[0];
        assert_eq!(p.page_incidents, 3);
        assert_eq!((p.pages.business, p.pages.off, p.pages.sleep), (2, 0, 3));
    }
}
