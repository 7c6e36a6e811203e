//! iCalendar (RFC 5545) feeds of on-call shifts, at secret URLs a calendar app subscribes to:
//! `/calendar/schedules/{token}.ics` (every shift of one schedule) and
//! `/calendar/users/{token}.ics` (one user's shifts across all schedules), from 7 days ago to
//! 60 days ahead.
//!
//! Calendar apps send no session, so the URL is the credential. The token is stateless:
//!
//! ```text
//! token = base64url( kind (1 byte: 1 schedule, 2 user) ‖ subject id (16 bytes)
//!                    ‖ first 16 bytes of HMAC-SHA256(key, "klaxon-calendar-v1" ‖ 0 ‖ kind ‖ id) )
//! ```
//!
//! with the server key named [`CALENDAR_KEY`]. The tag is compared in constant time; a changed
//! or foreign token answers 404, as does one naming something deleted since. A feed cannot be
//! revoked on its own: rotating the key changes every feed's URL.
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::ids::{ScheduleId, UserId};
use klaxon_domain::page::Limit;
use klaxon_domain::schedule::Shift;
use uuid::Uuid;

use crate::oncall::schedules::api::domain;
use crate::shared::crypto::{base64url, bytes_equal, hmac_sha256, unbase64url};
use crate::shared::error::ApiError;
use crate::shared::state::AppState;

/// The name of the server key feed tokens are signed with.
pub const CALENDAR_KEY: &str = "calendar";
/// How far back and ahead a feed reaches.
pub const FEED_PAST: SignedDuration = SignedDuration::from_hours(7 * 24);
pub const FEED_AHEAD: SignedDuration = SignedDuration::from_hours(60 * 24);
/// Shifts are computed this much wider than the feed, so one crossing its edges keeps its real
/// start and end (and so its UID) as the window slides.
const MARGIN: SignedDuration = SignedDuration::from_hours(32 * 24);

const DOMAIN: &[u8] = b"klaxon-calendar-v1\0";
const ID_LEN: usize = 16;
const TAG_LEN: usize = 16;
const TOKEN_LEN: usize = 1 + ID_LEN + TAG_LEN;

/// What a feed lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    Schedule(ScheduleId),
    User(UserId),
}

impl Feed {
    fn kind(self) -> u8 {
        match self {
            Feed::Schedule(_) => 1,
            Feed::User(_) => 2,
        }
    }

    fn id(self) -> Uuid {
        match self {
            Feed::Schedule(id) => id.0,
            Feed::User(id) => id.0,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Feed::Schedule(_) => "schedules",
            Feed::User(_) => "users",
        }
    }
}

fn tag(key: &[u8; 32], signed: &[u8]) -> [u8; TAG_LEN] {
    let mut data = DOMAIN.to_vec();
    data.extend_from_slice(signed);
    let mac = hmac_sha256(key, &data);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&mac[..TAG_LEN]);
    tag
}

/// The token of a feed: 33 bytes, 44 characters.
pub fn feed_token(key: &[u8; 32], feed: Feed) -> String {
    let mut bytes = Vec::with_capacity(TOKEN_LEN);
    bytes.push(feed.kind());
    bytes.extend_from_slice(feed.id().as_bytes());
    let tag = tag(key, &bytes);
    bytes.extend_from_slice(&tag);
    base64url(&bytes)
}

/// The feed a token names, if it was made with `key` and not changed since.
pub fn check_feed_token(key: &[u8; 32], token: &str) -> Option<Feed> {
    let bytes = unbase64url(token)?;
    if bytes.len() != TOKEN_LEN {
        return None;
    }
    let (signed, given) = bytes.split_at(1 + ID_LEN);
    if !bytes_equal(&tag(key, signed), given) {
        return None;
    }
    let id = Uuid::from_slice(&signed[1..]).ok()?;
    match signed[0] {
        1 => Some(Feed::Schedule(ScheduleId(id))),
        2 => Some(Feed::User(UserId(id))),
        _ => None,
    }
}

/// The URL of a feed: absolute when the server knows its public URL, else from the root.
pub async fn feed_url(state: &AppState, feed: Feed) -> Result<String, ApiError> {
    let key = state.store.server_key(CALENDAR_KEY).await?;
    Ok(format!(
        "{}/calendar/{}/{}.ics",
        state
            .settings
            .server
            .public_url
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/'),
        feed.path(),
        feed_token(&key, feed)
    ))
}

// --- iCalendar text ----------------------------------------------------------------------------

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines escaped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// One content line, folded (§3.1): no line longer than 75 octets, continuation lines start
/// with a space, a UTF-8 character never split; every line ends with CRLF.
pub fn fold_line(line: &str) -> String {
    const MAX: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / 64 * 3 + 2);
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > MAX {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
    out
}

/// `YYYYMMDDTHHMMSSZ`.
pub fn utc_stamp(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// One event of a feed.
pub struct Event {
    pub schedule: ScheduleId,
    pub user: UserId,
    pub start: Timestamp,
    pub end: Timestamp,
    pub summary: String,
}

impl Event {
    /// Stable while the shift is: the same shift has the same UID in every feed and fetch.
    pub fn uid(&self) -> String {
        format!(
            "{}-{}-{}@klaxon",
            self.schedule,
            self.user,
            self.start.as_second()
        )
    }
}

/// A whole calendar, CRLF line endings, lines folded.
pub fn render_calendar(name: &str, stamp: Timestamp, events: &[Event]) -> String {
    let mut out = String::new();
    let mut line = |l: String| out.push_str(&fold_line(&l));
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line("PRODID:-//Klaxon//On-call//EN".into());
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    line(format!("X-WR-CALNAME:{}", escape_text(name)));
    let stamp = utc_stamp(stamp);
    for e in events {
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}", e.uid()));
        line(format!("DTSTAMP:{stamp}"));
        line(format!("DTSTART:{}", utc_stamp(e.start)));
        line(format!("DTEND:{}", utc_stamp(e.end)));
        line(format!("SUMMARY:{}", escape_text(&e.summary)));
        line("TRANSP:TRANSPARENT".into());
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

// --- routes ------------------------------------------------------------------------------------

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calendar/schedules/{file}", get(schedule_feed))
        .route("/calendar/users/{file}", get(user_feed))
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "no such calendar\n",
    )
        .into_response()
}

fn ics(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The feed a `{token}.ics` path segment names.
async fn feed_of(state: &AppState, file: &str) -> Result<Option<Feed>, ApiError> {
    let Some(token) = file.strip_suffix(".ics") else {
        return Ok(None);
    };
    let key = state.store.server_key(CALENDAR_KEY).await?;
    Ok(check_feed_token(&key, token))
}

/// The feed's window around `now`, and the wider one shifts are computed over.
fn window(now: Timestamp) -> (Timestamp, Timestamp, Timestamp, Timestamp) {
    let from = now.saturating_sub(FEED_PAST).unwrap_or(Timestamp::MIN);
    let to = now.saturating_add(FEED_AHEAD).unwrap_or(Timestamp::MAX);
    (
        from,
        to,
        from.saturating_sub(MARGIN).unwrap_or(Timestamp::MIN),
        to.saturating_add(MARGIN).unwrap_or(Timestamp::MAX),
    )
}

fn overlaps(s: &Shift, from: Timestamp, to: Timestamp) -> bool {
    s.start < to && from < s.end
}

async fn schedule_feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    match schedule_calendar(&state, &file).await {
        Ok(Some(body)) => ics(body),
        Ok(None) => not_found(),
        Err(e) => e.into_response(),
    }
}

async fn schedule_calendar(state: &AppState, file: &str) -> Result<Option<String>, ApiError> {
    let Some(Feed::Schedule(id)) = feed_of(state, file).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let (from, to, wide_from, wide_to) = window(now);
    let stored = match state
        .store
        .schedule_with_overrides(id, wide_from, wide_to)
        .await
    {
        Ok(s) => s,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let shifts: Vec<Shift> = domain(&stored)?
        .shifts(wide_from, wide_to)
        .into_iter()
        .filter(|s| overlaps(s, from, to))
        .collect();
    let names = crate::shared::lists::user_names(
        state.store.as_ref(),
        shifts.iter().map(|s| s.user).collect(),
    )
    .await?;
    let events: Vec<Event> = shifts
        .iter()
        .map(|s| Event {
            schedule: id,
            user: s.user,
            start: s.start,
            end: s.end,
            summary: format!(
                "On call: {}",
                names
                    .get(&s.user)
                    .cloned()
                    .unwrap_or_else(|| s.user.to_string())
            ),
        })
        .collect();
    let name = format!("Klaxon: {}", stored.schedule.name);
    Ok(Some(render_calendar(&name, now, &events)))
}

async fn user_feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    match user_calendar(&state, &file).await {
        Ok(Some(body)) => ics(body),
        Ok(None) => not_found(),
        Err(e) => e.into_response(),
    }
}

async fn user_calendar(state: &AppState, file: &str) -> Result<Option<String>, ApiError> {
    let Some(Feed::User(user)) = feed_of(state, file).await? else {
        return Ok(None);
    };
    let who = match state.store.user(user).await {
        Ok(u) if u.active() => u,
        // A deactivated user's feed is gone, as their sessions and tokens are.
        Ok(_) => return Ok(None),
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let now = state.clock.now();
    let (from, to, wide_from, wide_to) = window(now);
    let mut events = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_schedules_with_overrides(after, Limit::MAX, wide_from, wide_to)
            .await?;
        for s in &page.items {
            for shift in domain(s)?.shifts(wide_from, wide_to) {
                if shift.user == user && overlaps(&shift, from, to) {
                    events.push(Event {
                        schedule: s.schedule.id,
                        user,
                        start: shift.start,
                        end: shift.end,
                        summary: format!("On call: {}", s.schedule.name),
                    });
                }
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    events.sort_by_key(|e| (e.start, e.schedule));
    let name = format!("Klaxon: {} on call", who.name);
    Ok(Some(render_calendar(&name, now, &events)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strict reading of the subset of RFC 5545 the feeds use: returns the events' unfolded
    /// properties, or what is wrong.
    pub(crate) fn check_calendar(text: &str) -> Result<Vec<Vec<(String, String)>>, String> {
        if !text.ends_with("\r\n") {
            return Err("does not end with CRLF".into());
        }
        let body = &text[..text.len() - 2];
        let mut lines: Vec<String> = Vec::new();
        for raw in body.split("\r\n") {
            if raw.contains('\n') || raw.contains('\r') {
                return Err(format!("bare CR or LF in {raw:?}"));
            }
            if raw.len() > 75 {
                return Err(format!("line of {} octets: {raw:?}", raw.len()));
            }
            match raw.strip_prefix(' ') {
                Some(rest) => lines.last_mut().ok_or("continuation first")?.push_str(rest),
                None => lines.push(raw.to_owned()),
            }
        }
        let mut stack: Vec<String> = Vec::new();
        let mut events = Vec::new();
        let mut current: Option<Vec<(String, String)>> = None;
        let mut calendar_props = Vec::new();
        for l in &lines {
            let (name, value) = l.split_once(':').ok_or(format!("no colon: {l:?}"))?;
            match name {
                "BEGIN" => {
                    if value == "VEVENT" {
                        current = Some(Vec::new());
                    }
                    stack.push(value.to_owned());
                }
                "END" => {
                    if stack.pop().as_deref() != Some(value) {
                        return Err(format!("unbalanced END:{value}"));
                    }
                    if value == "VEVENT" {
                        events.push(current.take().ok_or("END:VEVENT without BEGIN")?);
                    }
                }
                _ => match current.as_mut() {
                    Some(e) => e.push((name.to_owned(), value.to_owned())),
                    None => calendar_props.push(name.to_owned()),
                },
            }
        }
        if !stack.is_empty() || lines.first().map(String::as_str) != Some("BEGIN:VCALENDAR") {
            return Err("not one balanced VCALENDAR".into());
        }
        for p in ["VERSION", "PRODID"] {
            if !calendar_props.iter().any(|n| n == p) {
                return Err(format!("calendar lacks {p}"));
            }
        }
        for e in &events {
            let get = |p: &str| e.iter().find(|(n, _)| n == p).map(|(_, v)| v.clone());
            for p in ["UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"] {
                get(p).ok_or(format!("event lacks {p}"))?;
            }
            let parse = |v: String| {
                jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", &v)
                    .map_err(|e| format!("{v}: {e}"))
            };
            if parse(get("DTSTART").unwrap())? >= parse(get("DTEND").unwrap())? {
                return Err("DTSTART not before DTEND".into());
            }
        }
        Ok(events)
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text("a\\b;c,d\ne\r\nf"), "a\\\\b\\;c\\,d\\ne\\nf");
        assert_eq!(escape_text("plain: text"), "plain: text");
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let short = fold_line("SUMMARY:hi");
        assert_eq!(short, "SUMMARY:hi\r\n");
        let long = format!("SUMMARY:{}", "x".repeat(200));
        let folded = fold_line(&long);
        let parts: Vec<&str> = folded.trim_end_matches("\r\n").split("\r\n").collect();
        assert_eq!(parts[0].len(), 75);
        assert!(
            parts[1..]
                .iter()
                .all(|p| p.starts_with(' ') && p.len() <= 75)
        );
        let unfolded: String = parts
            .iter()
            .enumerate()
            .map(|(i, p)| if i == 0 { *p } else { &p[1..] })
            .collect();
        assert_eq!(unfolded, long);
        // Multi-byte characters stay whole: 'é' is 2 octets, '🚨' 4.
        let long = format!("SUMMARY:{}", "é🚨".repeat(40));
        let folded = fold_line(&long);
        for p in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(p.len() <= 75, "{p}");
        }
        let unfolded = folded.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, long);
    }

    #[test]
    fn a_calendar_parses_strictly() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let s = ScheduleId(Uuid::from_u128(1));
        let u = UserId(Uuid::from_u128(2));
        let events = vec![
            Event {
                schedule: s,
                user: u,
                start: t("2026-11-21T09:00:00Z"),
                end: t("2026-11-22T09:00:00Z"),
                summary: "On call: Ops, primary; the \"long\" one\\with a very long name indeed, more than 75 octets".into(),
            },
            Event {
                schedule: s,
                user: u,
                start: t("2026-11-23T09:00:00Z"),
                end: t("2026-11-24T09:00:00Z"),
                summary: "On call: Ünïcödé 🚨".into(),
            },
        ];
        let text = render_calendar("Klaxon: Ops, primary", t("2026-11-21T10:00:00Z"), &events);
        let parsed = check_calendar(&text).unwrap();
        assert_eq!(parsed.len(), 2);
        let get =
            |e: &Vec<(String, String)>, p: &str| e.iter().find(|(n, _)| n == p).unwrap().1.clone();
        assert_eq!(get(&parsed[0], "DTSTART"), "20261121T090000Z");
        assert_eq!(get(&parsed[0], "DTEND"), "20261122T090000Z");
        assert_eq!(
            get(&parsed[0], "UID"),
            format!("{s}-{u}-{}@klaxon", t("2026-11-21T09:00:00Z").as_second())
        );
        assert!(get(&parsed[0], "SUMMARY").starts_with("On call: Ops\\, primary\\; the"));
        assert!(text.contains("X-WR-CALNAME:Klaxon: Ops\\, primary\r\n"));
        // The checker itself refuses what it should.
        assert!(check_calendar(&text.replace("\r\n", "\n")).is_err());
        assert!(check_calendar(&text.replace("END:VEVENT\r\n", "")).is_err());
        assert!(
            check_calendar(&text.replace("DTEND:20261122T090000Z", "DTEND:20261120T090000Z"))
                .is_err()
        );
    }

    #[test]
    fn tokens_round_trip_and_refuse_changes() {
        let key = [7u8; 32];
        let feed = Feed::Schedule(ScheduleId(Uuid::from_u128(42)));
        let token = feed_token(&key, feed);
        assert_eq!(token.len(), 44);
        assert_eq!(check_feed_token(&key, &token), Some(feed));
        assert_eq!(check_feed_token(&[8u8; 32], &token), None);
        // The same subject as a user feed is another token.
        let user = Feed::User(UserId(Uuid::from_u128(42)));
        assert_ne!(feed_token(&key, user), token);
        // Any changed byte is refused, the kind byte included.
        let bytes = unbase64url(&token).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            assert_eq!(check_feed_token(&key, &base64url(&b)), None, "byte {i}");
        }
        assert_eq!(check_feed_token(&key, "short"), None);
    }
}
