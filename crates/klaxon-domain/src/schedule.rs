//! On-call schedules: layers of rotations, clipped by restrictions, topped by overrides.
//!
//! Who is on call is computed from the definition alone, as PagerDuty does: a layer's turns
//! follow from its start, so nothing is stored per turn and a layer that started years ago costs
//! no more than a new one. Days and weeks are counted on the wall clock of the schedule's zone,
//! as GoAlert does, so a 09:00 handoff stays at 09:00 across DST; hours are elapsed time.
//!
//! A handoff at a local time that does not exist (in a DST gap) or exists twice (in a fold)
//! resolves like jiff's "compatible" disambiguation: a gap moves it forward by the gap's length,
//! a fold takes its first occurrence. Restriction windows differ in gaps: see [`Restriction`].
//!
//! Priority, highest first: the override that started latest (on a tie, the later one in the
//! list); then the last layer that has someone at that instant; a layer has nobody before its
//! start, from its end, and, if it has restrictions, outside their windows.
use std::cmp::{max, min};
use std::collections::BinaryHeap;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::service::{NAME_MAX, text};
use crate::{Invalid, named_enum};

pub const LAYERS_MAX: usize = 20;
pub const USERS_MAX: usize = 100;
/// Enough for a few windows on each day of the week.
pub const RESTRICTIONS_MAX: usize = 30;
/// Overrides are few per week; this bounds a schedule that keeps years of them.
pub const OVERRIDES_MAX: usize = 10_000;
/// Turns last at most about a year.
pub const TURN_HOURS_MAX: u32 = 8760;
pub const TURN_DAYS_MAX: u32 = 365;
pub const TURN_WEEKS_MAX: u32 = 52;
pub const DAILY_MINUTES_MAX: u32 = 24 * 60;
pub const WEEKLY_MINUTES_MAX: u32 = 7 * 24 * 60;
/// The longest range [`Schedule::shifts`] and [`Schedule::layer_shifts`] render (a leap year);
/// a longer one is cut at `from + RANGE_MAX`. With turns of at least an hour this bounds a layer
/// to 8,786 turns and each restriction to 372 windows.
pub const RANGE_MAX: SignedDuration = SignedDuration::from_hours(366 * 24);

named_enum! {
    pub enum TurnUnit (field = "turn.unit") {
        /// Elapsed time: 24 hours are 24 hours even on a DST day.
        Hours = "hours",
        /// Calendar days in the schedule's zone: the handoff keeps its local time.
        Days = "days",
        Weeks = "weeks",
    }
}

/// How long each user's turn lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// 1 to 8760 hours, 365 days or 52 weeks.
    #[schema(minimum = 1, maximum = 8760)]
    pub count: u32,
    pub unit: TurnUnit,
}

impl Turn {
    pub fn count_max(unit: TurnUnit) -> u32 {
        match unit {
            TurnUnit::Hours => TURN_HOURS_MAX,
            TurnUnit::Days => TURN_DAYS_MAX,
            TurnUnit::Weeks => TURN_WEEKS_MAX,
        }
    }

    fn check(self, at: &str) -> Result<(), Invalid> {
        let max = Self::count_max(self.unit);
        if !(1..=max).contains(&self.count) {
            return Err(Invalid::new(
                format!("{at}.count"),
                format!("must be between 1 and {max} {}", self.unit),
            ));
        }
        Ok(())
    }

    /// The length ignoring DST: exact for hours, within a few hours for days and weeks.
    fn nominal_secs(self) -> i64 {
        let unit = match self.unit {
            TurnUnit::Hours => 3600,
            TurnUnit::Days => 86_400,
            TurnUnit::Weeks => 7 * 86_400,
        };
        i64::from(self.count) * unit
    }
}

/// A recurring window, in the schedule's local time, outside which a layer has nobody on call.
///
/// The window lasts `duration_minutes` of wall-clock time, so 22:00 for 480 minutes ends at
/// 06:00 local even on a DST night. Each edge falls at the first instant the local clock reads
/// its time or later: on a day that skips the edge's time, at the jump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Restriction {
    /// Every day from `start`, for 1 to 1440 minutes (crossing midnight if need be).
    Daily {
        #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", example = "09:00")]
        start: Time,
        #[schema(minimum = 1, maximum = 1440)]
        duration_minutes: u32,
    },
    /// Every week from `start` on `start_weekday`, for 1 to 10080 minutes.
    Weekly {
        #[serde(with = "weekday_name")]
        #[schema(value_type = weekday_name::WeekdayName)]
        start_weekday: Weekday,
        #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", example = "09:00")]
        start: Time,
        #[schema(minimum = 1, maximum = 10080)]
        duration_minutes: u32,
    },
}

impl Restriction {
    fn check(&self, at: &str) -> Result<(), Invalid> {
        let (minutes, max) = match *self {
            Restriction::Daily {
                duration_minutes, ..
            } => (duration_minutes, DAILY_MINUTES_MAX),
            Restriction::Weekly {
                duration_minutes, ..
            } => (duration_minutes, WEEKLY_MINUTES_MAX),
        };
        if !(1..=max).contains(&minutes) {
            return Err(Invalid::new(
                format!("{at}.duration_minutes"),
                format!("must be between 1 and {max}"),
            ));
        }
        Ok(())
    }

    /// Pushes this restriction's windows, as instants with start < end, that may meet
    /// `[a, b]`: all that do, and a few more. O((b - a) / period + 2).
    fn windows(&self, tz: &TimeZone, a: Timestamp, b: Timestamp, out: &mut Vec<Window>) {
        let (time, minutes, step, weekday) = match *self {
            Restriction::Daily {
                start,
                duration_minutes,
            } => (start, duration_minutes, 1, None),
            Restriction::Weekly {
                start_weekday,
                start,
                duration_minutes,
            } => (start, duration_minutes, 7, Some(start_weekday)),
        };
        // A window meeting [a, b] starts at most its length (up to its period) plus a DST shift
        // before a's local date, and at most a DST shift after b's.
        let first = add_days(tz.to_datetime(a).date(), -(step + 1)).unwrap_or(Date::MIN);
        let last = add_days(tz.to_datetime(b).date(), 1).unwrap_or(Date::MAX);
        let mut day = match weekday {
            Some(w) => match add_days(first, first.weekday().until(w).into()) {
                Some(d) => d,
                None => return,
            },
            None => first,
        };
        let length = SignedDuration::from_mins(minutes.into());
        while day <= last {
            let start = day.to_datetime(time);
            let end = start.checked_add(length).ok();
            if let (Some(s), Some(e)) = (edge(tz, start), end.and_then(|e| edge(tz, e))) {
                // Empty when the whole window falls in a DST gap.
                if s < e {
                    out.push((s, e));
                }
            }
            match add_days(day, step) {
                Some(next) => day = next,
                None => break,
            }
        }
    }
}

/// Weekdays on the wire as lowercase English names.
mod weekday_name {
    use std::borrow::Cow;

    use jiff::civil::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];

    /// The names' schema.
    pub struct WeekdayName;

    impl utoipa::PartialSchema for WeekdayName {
        fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
            crate::names::enum_schema(NAMES)
        }
    }

    impl utoipa::ToSchema for WeekdayName {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("Weekday")
        }
    }

    pub fn serialize<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(NAMES[usize::from(day.to_monday_zero_offset().unsigned_abs())])
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let raw = <Cow<'de, str>>::deserialize(d)?;
        let i = NAMES.iter().position(|n| *n == raw).ok_or_else(|| {
            serde::de::Error::custom(format!("must be one of: {}", NAMES.join(", ")))
        })?;
        Ok(Weekday::Monday.wrapping_add(i64::try_from(i).unwrap_or(0)))
    }
}

/// One rotation: `users` take turns from `start`, turn k going to `users[k % len]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    #[schema(max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Local time in the schedule's zone, without an offset: the first handoff and the origin
    /// of every later one.
    #[schema(value_type = String, example = "2026-03-02T09:00")]
    pub start: DateTime,
    /// The layer has nobody from this instant on.
    #[serde(default)]
    pub end: Option<Timestamp>,
    /// In rotation order; a user may appear more than once.
    #[schema(min_items = 1, max_items = 100)]
    pub users: Vec<UserId>,
    pub turn: Turn,
    /// If any, the layer has someone only inside their windows.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub restrictions: Vec<Restriction>,
}

impl Layer {
    fn check(&mut self, tz: &TimeZone, at: &str) -> Result<(), Invalid> {
        self.name = text(&self.name, &format!("{at}.name"), NAME_MAX)?;
        let origin = resolve(tz, self.start)
            .ok_or_else(|| Invalid::new(format!("{at}.start"), "is out of range"))?;
        if self.end.is_some_and(|end| end <= origin) {
            return Err(Invalid::new(format!("{at}.end"), "must be after start"));
        }
        if self.users.is_empty() || self.users.len() > USERS_MAX {
            return Err(Invalid::new(
                format!("{at}.users"),
                format!("must name between 1 and {USERS_MAX} users"),
            ));
        }
        self.turn.check(&format!("{at}.turn"))?;
        if self.restrictions.len() > RESTRICTIONS_MAX {
            return Err(Invalid::new(
                format!("{at}.restrictions"),
                format!("at most {RESTRICTIONS_MAX} restrictions"),
            ));
        }
        for (j, r) in self.restrictions.iter().enumerate() {
            r.check(&format!("{at}.restrictions[{j}]"))?;
        }
        Ok(())
    }
}

/// From `start` to `end`, `user` is on call instead of whoever the layers give, gaps included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub start: Timestamp,
    pub end: Timestamp,
    pub user: UserId,
}

/// `user` is on call from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub user: UserId,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A checked schedule: its zone is known and every layer has users and a valid turn. Build it
/// with [`Schedule::new`]; deserializing runs the same checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleFields")]
pub struct Schedule {
    time_zone: String,
    layers: Vec<Layer>,
    overrides: Vec<Override>,
    #[serde(skip)]
    tz: TimeZone,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFields {
    time_zone: String,
    layers: Vec<Layer>,
    #[serde(default)]
    overrides: Vec<Override>,
}

impl TryFrom<ScheduleFields> for Schedule {
    type Error = Invalid;

    fn try_from(f: ScheduleFields) -> Result<Self, Invalid> {
        Schedule::new(&f.time_zone, f.layers, f.overrides)
    }
}

impl Schedule {
    /// Checks the parts, naming the field to blame (`layers[1].turn.count`). Trims layer names
    /// and keeps the zone's canonical IANA name. O(layers × (users + restrictions) + overrides).
    pub fn new(
        time_zone: &str,
        mut layers: Vec<Layer>,
        overrides: Vec<Override>,
    ) -> Result<Self, Invalid> {
        let time_zone = crate::clock::zone_name("time_zone", time_zone)?;
        let tz = TimeZone::get(&time_zone)
            .map_err(|_| Invalid::new("time_zone", "is not in the time zone database"))?;
        if layers.is_empty() || layers.len() > LAYERS_MAX {
            return Err(Invalid::new(
                "layers",
                format!("must have between 1 and {LAYERS_MAX} layers"),
            ));
        }
        for (i, layer) in layers.iter_mut().enumerate() {
            layer.check(&tz, &format!("layers[{i}]"))?;
        }
        if overrides.len() > OVERRIDES_MAX {
            return Err(Invalid::new(
                "overrides",
                format!("at most {OVERRIDES_MAX} overrides"),
            ));
        }
        if let Some(i) = overrides.iter().position(|o| o.end <= o.start) {
            return Err(Invalid::new(
                format!("overrides[{i}].end"),
                "must be after start",
            ));
        }
        Ok(Self {
            time_zone,
            layers,
            overrides,
            tz,
        })
    }

    pub fn time_zone(&self) -> &str {
        &self.time_zone
    }

    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    pub fn into_parts(self) -> (String, Vec<Layer>, Vec<Override>) {
        (self.time_zone, self.layers, self.overrides)
    }

    /// Who is on call at `at`, if anyone. Agrees with [`Schedule::shifts`] at every instant.
    ///
    /// O(overrides + layers × restrictions): each layer costs a few time-zone conversions,
    /// however long ago it started.
    pub fn on_call(&self, at: Timestamp) -> Option<UserId> {
        let overriding = self
            .overrides
            .iter()
            .enumerate()
            .filter(|(_, o)| o.start <= at && at < o.end)
            .max_by_key(|&(i, o)| (o.start, i));
        if let Some((_, o)) = overriding {
            return Some(o.user);
        }
        self.rotations().rev().find_map(|r| r.user_at(at))
    }

    /// The final schedule over `[from, to)` (cut at `from + RANGE_MAX`): sorted, disjoint,
    /// non-empty shifts, with touching shifts of the same user merged. Instants without a shift
    /// have nobody on call.
    ///
    /// O(L × (T + W) + O log O) for L layers, T turns and W restriction windows in the range and
    /// O overrides: see [`RANGE_MAX`] for the bounds on T and W.
    pub fn shifts(&self, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        let to = cap(from, to);
        if from >= to {
            return Vec::new();
        }
        let mut timeline = Vec::new();
        for r in self.rotations() {
            timeline = overlay(&timeline, &r.segments(from, to));
        }
        merged(overlay(&timeline, &self.override_segments(from, to)))
    }

    /// One layer on its own over `[from, to)`, as [`Schedule::shifts`] renders it but without
    /// the other layers and the overrides; empty for an unknown index. O(T + W).
    pub fn layer_shifts(&self, layer: usize, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        let to = cap(from, to);
        match self
            .layers
            .get(layer)
            .and_then(|l| Rotation::new(l, &self.tz))
        {
            Some(r) if from < to => merged(r.segments(from, to)),
            _ => Vec::new(),
        }
    }

    fn rotations(&self) -> impl DoubleEndedIterator<Item = Rotation<'_>> {
        self.layers
            .iter()
            .filter_map(|l| Rotation::new(l, &self.tz))
    }

    /// The overrides' own timeline over `[from, to)`: a sweep keeping the live overrides in a
    /// heap by priority. O(O log O).
    fn override_segments(&self, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        let mut live: Vec<(Timestamp, usize, Timestamp, UserId)> = self
            .overrides
            .iter()
            .enumerate()
            .filter(|(_, o)| o.start < to && o.end > from)
            .map(|(i, o)| (o.start, i, o.end, o.user))
            .collect();
        live.sort_unstable();
        let mut points: Vec<Timestamp> = live
            .iter()
            .flat_map(|&(s, _, e, _)| [max(s, from), min(e, to)])
            .collect();
        points.sort_unstable();
        points.dedup();
        let mut heap = BinaryHeap::new();
        let mut pending = live.into_iter().peekable();
        let mut out = Vec::new();
        for w in points.windows(2) {
            let (p, q) = (w[0], w[1]);
            while let Some(o) = pending.next_if(|o| o.0 <= p) {
                heap.push(o);
            }
            // Ended overrides leave only when they reach the top; below it they change nothing.
            while heap.peek().is_some_and(|o| o.2 <= p) {
                heap.pop();
            }
            if let Some(&(_, _, _, user)) = heap.peek() {
                out.push(Shift {
                    user,
                    start: p,
                    end: q,
                });
            }
        }
        out
    }
}

type Window = (Timestamp, Timestamp);

/// A layer placed in the schedule's zone.
struct Rotation<'a> {
    layer: &'a Layer,
    tz: &'a TimeZone,
    /// Where turn 0 starts.
    origin: Timestamp,
}

impl<'a> Rotation<'a> {
    fn new(layer: &'a Layer, tz: &'a TimeZone) -> Option<Self> {
        let origin = resolve(tz, layer.start)?;
        Some(Self { layer, tz, origin })
    }

    /// Where turn `k` (k ≥ 0) starts; `None` past the end of time. Never decreases with k.
    fn handoff(&self, k: i64) -> Option<Timestamp> {
        let n = k.checked_mul(i64::from(self.layer.turn.count))?;
        let days = match self.layer.turn.unit {
            TurnUnit::Hours => {
                let secs = n.checked_mul(3600)?;
                return self
                    .origin
                    .checked_add(SignedDuration::from_secs(secs))
                    .ok();
            }
            TurnUnit::Days => n,
            TurnUnit::Weeks => n.checked_mul(7)?,
        };
        let local = self
            .layer
            .start
            .checked_add(Span::new().try_days(days).ok()?)
            .ok()?;
        resolve(self.tz, local)
    }

    /// The turn containing `t` (≥ origin) and where the next one starts: O(1), a few handoffs
    /// around an estimate from the elapsed time. Zero-length turns (a day lost to a zone
    /// change) are passed over.
    fn turn_at(&self, t: Timestamp) -> (i64, Option<Timestamp>) {
        let elapsed = t.duration_since(self.origin).as_secs();
        let mut k = elapsed / self.layer.turn.nominal_secs();
        // Offset changes since the origin put the estimate off by a turn or two at most.
        while k > 0 && self.handoff(k).is_none_or(|h| h > t) {
            k -= 1;
        }
        loop {
            match self.handoff(k + 1) {
                Some(h) if h <= t => k += 1,
                next => return (k, next),
            }
        }
    }

    fn user(&self, k: i64) -> UserId {
        let users = &self.layer.users;
        let i = k.rem_euclid(users.len() as i64) as usize;
        users[i]
    }

    fn user_at(&self, t: Timestamp) -> Option<UserId> {
        if t < self.origin || self.layer.end.is_some_and(|end| t >= end) {
            return None;
        }
        if !self.layer.restrictions.is_empty()
            && !self.windows(t, t).iter().any(|&(s, e)| s <= t && t < e)
        {
            return None;
        }
        Some(self.user(self.turn_at(t).0))
    }

    /// The union of the restriction windows that may meet `[a, b]`, sorted and merged.
    fn windows(&self, a: Timestamp, b: Timestamp) -> Vec<Window> {
        let mut raw = Vec::new();
        for r in &self.layer.restrictions {
            r.windows(self.tz, a, b, &mut raw);
        }
        raw.sort_unstable();
        let mut out: Vec<Window> = Vec::with_capacity(raw.len());
        for (s, e) in raw {
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = max(last.1, e),
                _ => out.push((s, e)),
            }
        }
        out
    }

    /// The layer's shifts over `[from, to)`, one per turn (or per turn and window), unmerged.
    fn segments(&self, from: Timestamp, to: Timestamp) -> Vec<Shift> {
        let a = max(from, self.origin);
        let b = self.layer.end.map_or(to, |end| min(end, to));
        if a >= b {
            return Vec::new();
        }
        let mut turns = Vec::new();
        let (mut k, mut next) = self.turn_at(a);
        let mut start = a;
        loop {
            let end = next.map_or(b, |h| min(h, b));
            if start < end {
                turns.push(Shift {
                    user: self.user(k),
                    start,
                    end,
                });
            }
            match next {
                Some(h) if h < b => {
                    start = h;
                    k += 1;
                    next = self.handoff(k + 1);
                }
                _ => break,
            }
        }
        if self.layer.restrictions.is_empty() {
            turns
        } else {
            clip(&turns, &self.windows(a, b))
        }
    }
}

fn resolve(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
    tz.to_ambiguous_timestamp(local).compatible().ok()
}

/// Where a window edge at local `at` falls: the first instant the clock reads `at` or later,
/// that is `at` itself, its first occurrence in a fold, or the jump in a gap. Unlike a handoff's
/// "compatible" resolution, which puts a gap time past the jump, this keeps the part of a window
/// that exists that day (02:30–03:30 is 03:00–03:30 when 02:00 jumps to 03:00).
fn edge(tz: &TimeZone, at: DateTime) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(at);
    match ambiguous.offset() {
        // Read with the offset after the gap, `at` falls just before the jump.
        AmbiguousOffset::Gap { .. } => {
            let before = ambiguous.earlier().ok()?;
            tz.following(before).next().map(|t| t.timestamp())
        }
        _ => ambiguous.compatible().ok(),
    }
}

fn add_days(d: Date, days: i64) -> Option<Date> {
    d.checked_add(Span::new().try_days(days).ok()?).ok()
}

fn cap(from: Timestamp, to: Timestamp) -> Timestamp {
    min(to, from.saturating_add(RANGE_MAX).unwrap_or(Timestamp::MAX))
}

/// The parts of sorted, disjoint `shifts` inside sorted, disjoint `windows`. O(n + m).
fn clip(shifts: &[Shift], windows: &[Window]) -> Vec<Shift> {
    let mut out = Vec::new();
    let mut j = 0;
    for s in shifts {
        while j < windows.len() && windows[j].1 <= s.start {
            j += 1;
        }
        for &(ws, we) in windows[j..].iter().take_while(|w| w.0 < s.end) {
            let (start, end) = (max(s.start, ws), min(s.end, we));
            if start < end {
                out.push(Shift { start, end, ..*s });
            }
        }
    }
    out
}

/// `top` laid over `base` (both sorted and disjoint): `top` wherever it has a shift, `base`
/// elsewhere. O((n + m) log(n + m)).
fn overlay(base: &[Shift], top: &[Shift]) -> Vec<Shift> {
    let mut out = Vec::with_capacity(base.len() + top.len());
    let mut j = 0;
    for s in base {
        while j < top.len() && top[j].end <= s.start {
            j += 1;
        }
        let mut start = s.start;
        for t in top[j..].iter().take_while(|t| t.start < s.end) {
            if t.start > start {
                out.push(Shift {
                    start,
                    end: t.start,
                    ..*s
                });
            }
            start = max(start, t.end);
        }
        if start < s.end {
            out.push(Shift { start, ..*s });
        }
    }
    out.extend_from_slice(top);
    out.sort_unstable_by_key(|s| s.start);
    out
}

/// Joins touching shifts of the same user.
fn merged(shifts: Vec<Shift>) -> Vec<Shift> {
    let mut out: Vec<Shift> = Vec::with_capacity(shifts.len());
    for s in shifts {
        match out.last_mut() {
            Some(last) if last.user == s.user && last.end == s.start => last.end = s.end,
            _ => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests;
