//! The schedule form's state, as typed: parsed from the posted fields, changed by the form's
//! buttons (move a person up, add a layer, …) without saving, and turned into the API's layers
//! only when saved or previewed. Controls are named as the domain names its fields
//! (`layers[1].turn.count`), so a refusal lands beside the control it is about.
use std::collections::BTreeMap;

use jiff::civil::{DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use klaxon_domain::ids::UserId;
use klaxon_domain::schedule::{
    DAILY_MINUTES_MAX, LAYERS_MAX, Layer, RESTRICTIONS_MAX, Restriction, Turn, TurnUnit, USERS_MAX,
    WEEKLY_MINUTES_MAX,
};
use klaxon_store::ScheduleRecord;

use crate::shared::error::ApiError;
use crate::shared::time::zone_names;

/// Weekdays as the form and the API name them, Monday first.
pub const WEEKDAYS: [(&str, &str); 7] = [
    ("monday", "Monday"),
    ("tuesday", "Tuesday"),
    ("wednesday", "Wednesday"),
    ("thursday", "Thursday"),
    ("friday", "Friday"),
    ("saturday", "Saturday"),
    ("sunday", "Sunday"),
];

/// The whole form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub name: String,
    pub description: String,
    pub time_zone: String,
    pub layers: Vec<LayerDraft>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerDraft {
    pub name: String,
    /// `datetime-local`, in the schedule's zone.
    pub start: String,
    /// `datetime-local`, in the schedule's zone; empty for none.
    pub end: String,
    /// User ids in rotation order.
    pub users: Vec<String>,
    /// Someone picked in "Add a person" but not added yet.
    pub add: String,
    pub turn_count: String,
    pub turn_unit: String,
    pub restrictions: Vec<RestrictionDraft>,
}

/// A window as people say it: from a (day and) time to a (day and) time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictionDraft {
    /// `daily` or `weekly`.
    pub kind: String,
    pub start_day: String,
    pub start: String,
    pub end_day: String,
    pub end: String,
}

impl Default for RestrictionDraft {
    fn default() -> Self {
        Self {
            kind: "daily".into(),
            start_day: "monday".into(),
            start: "09:00".into(),
            end_day: "friday".into(),
            end: "17:00".into(),
        }
    }
}

/// What a button on the form asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Save,
    Preview,
    /// Take this zone (a "did you mean" button).
    Zone(String),
    LayerAdd,
    LayerRemove(usize),
    LayerUp(usize),
    LayerDown(usize),
    UserAdd(usize),
    UserUp(usize, usize),
    UserDown(usize, usize),
    UserRemove(usize, usize),
    RestrictionAdd(usize),
    RestrictionRemove(usize, usize),
}

impl Op {
    /// `user-up:0:2` and the like; anything else (or nothing: a plain submit) saves.
    pub fn parse(raw: &str) -> Op {
        if let Some(zone) = raw.strip_prefix("zone:") {
            return Op::Zone(zone.to_owned());
        }
        let mut parts = raw.split(':');
        let verb = parts.next().unwrap_or_default();
        let nums: Vec<usize> = parts.filter_map(|p| p.parse().ok()).collect();
        match (verb, nums.as_slice()) {
            ("preview", []) => Op::Preview,
            ("layer-add", []) => Op::LayerAdd,
            ("layer-remove", [i]) => Op::LayerRemove(*i),
            ("layer-up", [i]) => Op::LayerUp(*i),
            ("layer-down", [i]) => Op::LayerDown(*i),
            ("user-add", [i]) => Op::UserAdd(*i),
            ("user-up", [i, j]) => Op::UserUp(*i, *j),
            ("user-down", [i, j]) => Op::UserDown(*i, *j),
            ("user-remove", [i, j]) => Op::UserRemove(*i, *j),
            ("restriction-add", [i]) => Op::RestrictionAdd(*i),
            ("restriction-remove", [i, k]) => Op::RestrictionRemove(*i, *k),
            _ => Op::Save,
        }
    }
}

/// `layers[3].turn.count` → `(3, "turn.count")`; `restrictions[0].start` under a layer likewise.
fn indexed<'a>(key: &'a str, name: &str) -> Option<(usize, &'a str)> {
    let rest = key.strip_prefix(name)?.strip_prefix('[')?;
    let (i, rest) = rest.split_once(']')?;
    let i: usize = i.parse().ok()?;
    Some((i, rest.strip_prefix('.').unwrap_or(rest)))
}

impl Draft {
    /// The form's fields: the CSRF token, the button pressed and the draft. Layers and windows
    /// keep the order of their indices; the rotation keeps the order its fields came in.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> (String, Op, Self) {
        let mut csrf = String::new();
        let mut op = Op::Save;
        let mut d = Draft::default();
        let mut layers: BTreeMap<usize, (LayerDraft, BTreeMap<usize, RestrictionDraft>)> =
            BTreeMap::new();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => csrf = v,
                "op" => op = Op::parse(&v),
                "name" => d.name = v,
                "description" => d.description = v,
                "time_zone" => d.time_zone = v,
                _ => {
                    let Some((i, field)) = indexed(&k, "layers") else {
                        continue;
                    };
                    // More than the domain takes would be refused anyway; don't hold them.
                    if i >= LAYERS_MAX * 2 {
                        continue;
                    }
                    let (l, windows) = layers.entry(i).or_default();
                    match field {
                        "name" => l.name = v,
                        "start" => l.start = v,
                        "end" => l.end = v,
                        "users" if l.users.len() < USERS_MAX * 2 => l.users.push(v),
                        "add" => l.add = v,
                        "turn.count" => l.turn_count = v,
                        "turn.unit" => l.turn_unit = v,
                        _ => {
                            let Some((k, part)) = indexed(field, "restrictions") else {
                                continue;
                            };
                            if k >= RESTRICTIONS_MAX * 2 {
                                continue;
                            }
                            let r = windows.entry(k).or_default();
                            match part {
                                "type" => r.kind = v,
                                "start_weekday" => r.start_day = v,
                                "start" => r.start = v,
                                "end_weekday" => r.end_day = v,
                                "end" => r.end = v,
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
        d.layers = layers
            .into_values()
            .map(|(mut l, windows)| {
                l.restrictions = windows.into_values().collect();
                l
            })
            .collect();
        (csrf, op, d)
    }

    /// A new schedule: one weekly layer from the next Monday at 09:00.
    pub fn new_schedule(time_zone: &str, now: Timestamp) -> Self {
        let tz = TimeZone::get(time_zone).unwrap_or(TimeZone::UTC);
        let today = now.to_zoned(tz).date();
        let monday = (1..=7)
            .filter_map(|n| today.checked_add(Span::new().days(n)).ok())
            .find(|d| d.weekday() == Weekday::Monday)
            .unwrap_or(today);
        Self {
            time_zone: time_zone.to_owned(),
            layers: vec![LayerDraft {
                name: "Layer 1".into(),
                start: format!("{monday}T09:00"),
                turn_count: "1".into(),
                turn_unit: "weeks".into(),
                ..LayerDraft::default()
            }],
            ..Self::default()
        }
    }

    /// The form for a saved schedule.
    pub fn from_record(r: &ScheduleRecord) -> Self {
        let tz = TimeZone::get(&r.time_zone).unwrap_or(TimeZone::UTC);
        Self {
            name: r.name.clone(),
            description: r.description.clone(),
            time_zone: r.time_zone.clone(),
            layers: r
                .layers
                .iter()
                .map(|l| LayerDraft {
                    name: l.name.clone(),
                    start: local_input(l.start),
                    end: l
                        .end
                        .map(|e| local_input(e.to_zoned(tz.clone()).datetime()))
                        .unwrap_or_default(),
                    users: l.users.iter().map(|u| u.to_string()).collect(),
                    add: String::new(),
                    turn_count: l.turn.count.to_string(),
                    turn_unit: l.turn.unit.as_str().to_owned(),
                    restrictions: l.restrictions.iter().map(window_draft).collect(),
                })
                .collect(),
        }
    }

    /// Applies a button that changes the form without saving. Out-of-range indices (a stale
    /// page) change nothing.
    pub fn apply(&mut self, op: &Op) {
        match *op {
            Op::Save | Op::Preview => {}
            Op::Zone(ref z) => self.time_zone = z.clone(),
            Op::LayerAdd => {
                let n = self.layers.len() + 1;
                let start = self
                    .layers
                    .last()
                    .map(|l| l.start.clone())
                    .unwrap_or_default();
                self.layers.push(LayerDraft {
                    name: format!("Layer {n}"),
                    start,
                    turn_count: "1".into(),
                    turn_unit: "weeks".into(),
                    ..LayerDraft::default()
                });
            }
            Op::LayerRemove(i) => {
                if i < self.layers.len() {
                    self.layers.remove(i);
                }
            }
            Op::LayerUp(i) => swap_back(&mut self.layers, i),
            Op::LayerDown(i) => swap_back(&mut self.layers, i + 1),
            Op::UserAdd(i) => {
                if let Some(l) = self.layers.get_mut(i) {
                    l.take_picked();
                }
            }
            Op::UserUp(i, j) => {
                if let Some(l) = self.layers.get_mut(i) {
                    swap_back(&mut l.users, j);
                }
            }
            Op::UserDown(i, j) => {
                if let Some(l) = self.layers.get_mut(i) {
                    swap_back(&mut l.users, j + 1);
                }
            }
            Op::UserRemove(i, j) => {
                if let Some(l) = self.layers.get_mut(i)
                    && j < l.users.len()
                {
                    l.users.remove(j);
                }
            }
            Op::RestrictionAdd(i) => {
                if let Some(l) = self.layers.get_mut(i) {
                    l.restrictions.push(RestrictionDraft::default());
                }
            }
            Op::RestrictionRemove(i, k) => {
                if let Some(l) = self.layers.get_mut(i)
                    && k < l.restrictions.len()
                {
                    l.restrictions.remove(k);
                }
            }
        }
    }

    /// Someone picked in a layer's "Add a person" joins the rotation when the form is saved or
    /// previewed, as whoever picked them meant.
    pub fn take_picked(&mut self) {
        for l in &mut self.layers {
            l.take_picked();
        }
    }

    /// The zone and layers for the API. Reads the form's syntax only (numbers, dates, times,
    /// days), naming the field as the domain does; the domain checks the rest.
    pub fn to_layers(&self) -> Result<(String, Vec<Layer>), ApiError> {
        let zone = self.time_zone.trim();
        let tz = TimeZone::get(zone)
            .ok()
            .filter(|tz| !tz.is_unknown())
            .ok_or_else(|| {
                ApiError::invalid(
                    "time_zone",
                    "must be an IANA time zone name, like Europe/Berlin",
                )
            })?;
        let mut layers = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            layers.push(l.to_layer(i, &tz)?);
        }
        Ok((zone.to_owned(), layers))
    }
}

impl LayerDraft {
    fn take_picked(&mut self) {
        let picked = std::mem::take(&mut self.add);
        if !picked.trim().is_empty() {
            self.users.push(picked.trim().to_owned());
        }
    }

    fn to_layer(&self, i: usize, tz: &TimeZone) -> Result<Layer, ApiError> {
        let at = |f: &str| format!("layers[{i}].{f}");
        let start = self.start.trim().parse::<DateTime>().map_err(|_| {
            ApiError::invalid(
                at("start"),
                "must be a date and time, like 2026-11-23T09:00",
            )
        })?;
        let end = match self.end.trim() {
            "" => None,
            raw => Some(
                raw.parse::<DateTime>()
                    .ok()
                    .and_then(|dt| dt.to_zoned(tz.clone()).ok())
                    .map(|z| z.timestamp())
                    .ok_or_else(|| {
                        ApiError::invalid(
                            at("end"),
                            "must be a date and time, like 2026-12-31T09:00, or empty",
                        )
                    })?,
            ),
        };
        let users = self
            .users
            .iter()
            .map(|u| u.trim().parse::<UserId>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ApiError::invalid(at("users"), "names someone unknown"))?;
        let count =
            self.turn_count.trim().parse::<u32>().map_err(|_| {
                ApiError::invalid(at("turn.count"), "must be a whole number, like 1")
            })?;
        let unit = self
            .turn_unit
            .parse::<TurnUnit>()
            .map_err(|_| ApiError::invalid(at("turn.unit"), "must be hours, days or weeks"))?;
        let restrictions = self
            .restrictions
            .iter()
            .enumerate()
            .map(|(k, r)| r.to_restriction(&at(&format!("restrictions[{k}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Layer {
            name: self.name.clone(),
            start,
            end,
            users,
            turn: Turn { count, unit },
            restrictions,
        })
    }
}

fn minutes_of_day(t: Time) -> u32 {
    u32::from(t.hour().unsigned_abs()) * 60 + u32::from(t.minute().unsigned_abs())
}

fn weekday(raw: &str) -> Option<Weekday> {
    let i = WEEKDAYS.iter().position(|(n, _)| *n == raw.trim())?;
    Some(Weekday::Monday.wrapping_add(i64::try_from(i).ok()?))
}

fn day_index(w: Weekday) -> u32 {
    u32::from(w.to_monday_zero_offset().unsigned_abs())
}

fn day_name(i: u32) -> String {
    WEEKDAYS[(i % 7) as usize].0.to_owned()
}

impl RestrictionDraft {
    /// From–to as the domain's start and length: an end at or before the start is on the next
    /// day (or week); an end equal to the start means the whole day (or week).
    fn to_restriction(&self, at: &str) -> Result<Restriction, ApiError> {
        let time = |field: &str, raw: &str| {
            raw.trim().parse::<Time>().map_err(|_| {
                ApiError::invalid(format!("{at}.{field}"), "must be a time, like 09:00")
            })
        };
        let day = |field: &str, raw: &str| {
            weekday(raw).ok_or_else(|| {
                ApiError::invalid(format!("{at}.{field}"), "must be a day of the week")
            })
        };
        let start = time("start", &self.start)?;
        let end = time("end", &self.end)?;
        match self.kind.as_str() {
            "daily" => {
                let span = DAILY_MINUTES_MAX;
                let d = (minutes_of_day(end) + span - minutes_of_day(start)) % span;
                Ok(Restriction::Daily {
                    start,
                    duration_minutes: if d == 0 { span } else { d },
                })
            }
            "weekly" => {
                let sd = day("start_weekday", &self.start_day)?;
                let ed = day("end_weekday", &self.end_day)?;
                let span = WEEKLY_MINUTES_MAX;
                let from = day_index(sd) * DAILY_MINUTES_MAX + minutes_of_day(start);
                let to = day_index(ed) * DAILY_MINUTES_MAX + minutes_of_day(end);
                let d = (to + span - from) % span;
                Ok(Restriction::Weekly {
                    start_weekday: sd,
                    start,
                    duration_minutes: if d == 0 { span } else { d },
                })
            }
            _ => Err(ApiError::invalid(
                format!("{at}.type"),
                "must be every day or every week",
            )),
        }
    }
}

/// A saved window as the form shows it.
pub fn window_draft(r: &Restriction) -> RestrictionDraft {
    let (kind, start_day, start, minutes) = match *r {
        Restriction::Daily {
            start,
            duration_minutes,
        } => ("daily", 0, start, duration_minutes),
        Restriction::Weekly {
            start_weekday,
            start,
            duration_minutes,
        } => ("weekly", day_index(start_weekday), start, duration_minutes),
    };
    let from = start_day * DAILY_MINUTES_MAX + minutes_of_day(start);
    let to = (from + minutes) % WEEKLY_MINUTES_MAX;
    let end = Time::new(
        i8::try_from(to % DAILY_MINUTES_MAX / 60).unwrap_or(0),
        i8::try_from(to % 60).unwrap_or(0),
        0,
        0,
    )
    .unwrap_or(Time::midnight());
    let default = RestrictionDraft::default();
    RestrictionDraft {
        kind: kind.into(),
        start_day: if kind == "weekly" {
            day_name(start_day)
        } else {
            default.start_day
        },
        start: time_input(start),
        end_day: if kind == "weekly" {
            day_name(to / DAILY_MINUTES_MAX)
        } else {
            default.end_day
        },
        end: time_input(end),
    }
}

/// A `time` input's value: seconds only when there are some.
pub fn time_input(t: Time) -> String {
    if t.second() == 0 {
        t.strftime("%H:%M").to_string()
    } else {
        t.strftime("%H:%M:%S").to_string()
    }
}

/// A `datetime-local` input's value: seconds only when there are some.
pub fn local_input(dt: DateTime) -> String {
    format!("{}T{}", dt.date(), time_input(dt.time()))
}

/// `a[i]` and `a[i - 1]` trade places (a move up of `i`, a move down of `i - 1`).
fn swap_back<T>(a: &mut [T], i: usize) {
    if i > 0 && i < a.len() {
        a.swap(i - 1, i);
    }
}

/// Zones a mistyped one may have meant: those whose city (the last part) is what was typed,
/// then those whose city starts with it, then any whose name contains it. At most five.
pub fn zone_suggestions(typed: &str) -> Vec<String> {
    let t = typed.trim().replace(' ', "_").to_lowercase();
    if t.is_empty() {
        return Vec::new();
    }
    let city = |z: &str| z.rsplit('/').next().unwrap_or(z).to_lowercase();
    let names = zone_names();
    let mut out: Vec<String> = Vec::new();
    let tiers: [&dyn Fn(&str) -> bool; 3] =
        [&|z| city(z) == t, &|z| city(z).starts_with(&t), &|z| {
            z.to_lowercase().contains(&t)
        }];
    for tier in tiers {
        for z in names.iter().filter(|z| tier(z)) {
            if out.len() == 5 {
                return out;
            }
            if !out.contains(z) {
                out.push(z.clone());
            }
        }
    }
    out
}

/// A refusal reworded for the form where the API's words fit it badly.
pub fn for_the_form(e: ApiError, d: &Draft) -> ApiError {
    let ApiError::BadRequest {
        field: Some(field), ..
    } = &e
    else {
        return e;
    };
    if field == "time_zone" {
        let typed = d.time_zone.trim();
        if typed.is_empty() {
            return ApiError::invalid("time_zone", "choose a time zone, like Europe/Berlin");
        }
        let s = zone_suggestions(typed);
        let reason = match s.as_slice() {
            [] => format!(
                "“{typed}” is not a time zone: type a city or region, like Berlin, and pick one from the list"
            ),
            [one] => format!("“{typed}” is not a time zone: did you mean {one}?"),
            more => format!(
                "“{typed}” is not a time zone: did you mean {}?",
                more.join(", ")
            ),
        };
        return ApiError::invalid("time_zone", reason);
    }
    if field == "layers" && d.layers.is_empty() {
        return ApiError::invalid("layers", "a schedule needs at least one layer: add one");
    }
    if let Some((i, "users")) = indexed(field, "layers")
        && d.layers.get(i).is_some_and(|l| l.users.is_empty())
    {
        return ApiError::invalid(field.clone(), "add at least one person to this rotation");
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const ADA: &str = "0195b6c8-0000-7000-8000-000000000001";
    const BOB: &str = "0195b6c8-0000-7000-8000-000000000002";

    #[test]
    fn the_form_reads_layers_rotations_and_windows_in_order() {
        let (csrf, op, d) = Draft::from_pairs(pairs(&[
            ("csrf", "t"),
            ("op", "preview"),
            ("name", "Ops"),
            ("time_zone", "Europe/Berlin"),
            ("layers[1].name", "Business hours"),
            ("layers[1].start", "2026-11-23T00:00"),
            ("layers[1].users", ADA),
            ("layers[1].turn.count", "1"),
            ("layers[1].turn.unit", "days"),
            ("layers[1].restrictions[0].type", "weekly"),
            ("layers[1].restrictions[0].start_weekday", "friday"),
            ("layers[1].restrictions[0].start", "17:00"),
            ("layers[1].restrictions[0].end_weekday", "monday"),
            ("layers[1].restrictions[0].end", "09:00"),
            ("layers[0].name", "Weekly"),
            ("layers[0].start", "2026-11-23T09:00"),
            ("layers[0].end", "2027-01-04T09:00"),
            ("layers[0].users", BOB),
            ("layers[0].users", ADA),
            ("layers[0].turn.count", "2"),
            ("layers[0].turn.unit", "weeks"),
            ("layers[0].restrictions[0].type", "daily"),
            ("layers[0].restrictions[0].start", "22:00"),
            ("layers[0].restrictions[0].end", "06:00"),
        ]));
        assert_eq!((csrf.as_str(), op), ("t", Op::Preview));
        let (zone, layers) = d.to_layers().unwrap();
        assert_eq!(zone, "Europe/Berlin");
        assert_eq!(layers[0].name, "Weekly");
        assert_eq!(
            layers[0]
                .users
                .iter()
                .map(|u| u.to_string())
                .collect::<Vec<_>>(),
            [BOB, ADA]
        );
        assert_eq!(layers[0].turn.count, 2);
        assert_eq!(
            layers[0].end,
            Some("2027-01-04T08:00:00Z".parse().unwrap()),
            "the end is read in the schedule's zone"
        );
        assert_eq!(
            layers[0].restrictions,
            [Restriction::Daily {
                start: Time::constant(22, 0, 0, 0),
                duration_minutes: 480
            }]
        );
        assert_eq!(
            layers[1].restrictions,
            [Restriction::Weekly {
                start_weekday: Weekday::Friday,
                start: Time::constant(17, 0, 0, 0),
                duration_minutes: 2 * 1440 + 16 * 60
            }]
        );
    }

    #[test]
    fn saved_windows_come_back_as_they_were() {
        let windows = [
            Restriction::Daily {
                start: Time::constant(9, 0, 0, 0),
                duration_minutes: 480,
            },
            Restriction::Daily {
                start: Time::constant(9, 0, 30, 0),
                duration_minutes: 1440,
            },
            Restriction::Weekly {
                start_weekday: Weekday::Sunday,
                start: Time::constant(22, 0, 0, 0),
                duration_minutes: 600,
            },
            Restriction::Weekly {
                start_weekday: Weekday::Monday,
                start: Time::constant(0, 0, 0, 0),
                duration_minutes: 10080,
            },
        ];
        for w in windows {
            let d = window_draft(&w);
            assert_eq!(d.to_restriction("r").unwrap(), w, "{d:?}");
        }
        let d = window_draft(&windows[2]);
        assert_eq!((d.end_day.as_str(), d.end.as_str()), ("monday", "08:00"));
        let refused = RestrictionDraft {
            start: "nine".into(),
            ..RestrictionDraft::default()
        };
        let e = refused
            .to_restriction("layers[0].restrictions[2]")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "layers[0].restrictions[2].start: must be a time, like 09:00"
        );
    }

    #[test]
    fn buttons_reorder_add_and_remove_keeping_what_was_typed() {
        let mut d = Draft::new_schedule("UTC", "2026-11-21T09:00:00Z".parse().unwrap());
        assert_eq!(d.layers[0].start, "2026-11-23T09:00", "the next Monday");
        d.name = "typed".into();
        d.layers[0].users = vec![ADA.into(), BOB.into()];
        d.apply(&Op::UserUp(0, 1));
        assert_eq!(d.layers[0].users, [BOB, ADA]);
        d.apply(&Op::UserUp(0, 0));
        d.apply(&Op::UserDown(0, 1));
        assert_eq!(d.layers[0].users, [BOB, ADA], "the ends stay put");
        d.layers[0].add = ADA.into();
        d.apply(&Op::UserAdd(0));
        assert_eq!(d.layers[0].users, [BOB, ADA, ADA]);
        assert!(d.layers[0].add.is_empty());
        d.apply(&Op::UserRemove(0, 0));
        assert_eq!(d.layers[0].users, [ADA, ADA]);
        d.apply(&Op::LayerAdd);
        d.apply(&Op::RestrictionAdd(1));
        assert_eq!(d.layers[1].name, "Layer 2");
        assert_eq!(d.layers[1].start, d.layers[0].start);
        assert_eq!(d.layers[1].restrictions.len(), 1);
        d.apply(&Op::LayerUp(1));
        assert_eq!(d.layers[0].name, "Layer 2");
        d.apply(&Op::RestrictionRemove(0, 0));
        d.apply(&Op::LayerRemove(1));
        d.apply(&Op::LayerRemove(7));
        assert_eq!(d.layers.len(), 1);
        assert!(d.layers[0].restrictions.is_empty());
        assert_eq!(d.name, "typed");
        assert_eq!(Op::parse("user-down:2:3"), Op::UserDown(2, 3));
        assert_eq!(
            Op::parse("zone:Europe/Berlin"),
            Op::Zone("Europe/Berlin".into())
        );
        assert_eq!(Op::parse("user-down:x"), Op::Save);
    }

    #[test]
    fn a_mistyped_zone_gets_suggestions() {
        assert_eq!(zone_suggestions("Berlin"), ["Europe/Berlin"]);
        assert_eq!(zone_suggestions("berl")[0], "Europe/Berlin");
        assert_eq!(zone_suggestions("new york"), ["America/New_York"]);
        assert!(zone_suggestions("Atlantis").is_empty());
        let d = Draft {
            time_zone: "Berlin".into(),
            ..Draft::default()
        };
        let e = d.to_layers().unwrap_err();
        assert_eq!(
            for_the_form(e, &d).to_string(),
            "time_zone: “Berlin” is not a time zone: did you mean Europe/Berlin?"
        );
    }
}
