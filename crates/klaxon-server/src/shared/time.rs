//! Times on pages, in the reader's time zone and saying which: every page shows a time through
//! a `Reader` (from `WebSession::reader()`), never with a bare `strftime` in UTC.
//!
//! In a template: `{{ w.html()|safe }}` gives `<time datetime="…Z" title="…">6 Dec, 21:10
//! CET</time>`; `{{ w.html_ago()|safe }}` adds " (12 min ago)"; `{{ w.text }}` and `{{ w.ago }}`
//! are the plain parts; `{{ reader.zone }}` names the zone for a column heading.
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Who reads a page: their zone, and "now" from the app's clock (so relative times follow
/// the fake clock in tests).
#[derive(Clone)]
pub struct Reader {
    pub tz: TimeZone,
    /// The zone's IANA name ("Europe/Berlin"), or "UTC".
    pub zone: String,
    /// Whether the person chose the zone; until they do, pages offer the browser's.
    pub chosen: bool,
    pub now: Timestamp,
}

/// One time, ready for a page.
pub struct When {
    /// RFC 3339 in UTC, for `<time datetime>` and scripts.
    pub iso: String,
    /// In the reader's zone, as short as is unambiguous today: "21:10 CET", "6 Dec, 21:10
    /// CET", "6 Dec 2025, 21:10 CET".
    pub text: String,
    /// The full local date and time with the zone's name, for a tooltip.
    pub full: String,
    /// "12 min ago", "in 3 h", "just now".
    pub ago: String,
}

impl Reader {
    /// The reader for a stored zone name; an unknown or missing one reads in UTC.
    pub fn new(zone: Option<&str>, now: Timestamp) -> Self {
        let found = zone.and_then(|z| TimeZone::get(z).ok().filter(|t| !t.is_unknown()));
        match found {
            Some(tz) => Self {
                zone: tz.iana_name().unwrap_or("UTC").to_owned(),
                tz,
                chosen: true,
                now,
            },
            None => Self {
                tz: TimeZone::UTC,
                zone: "UTC".into(),
                chosen: false,
                now,
            },
        }
    }

    pub fn when(&self, at: Timestamp) -> When {
        let local = at.to_zoned(self.tz.clone());
        let today = self.now.to_zoned(self.tz.clone());
        let text = if local.date() == today.date() {
            local.strftime("%H:%M %Z").to_string()
        } else if local.year() == today.year() {
            local.strftime("%-d %b, %H:%M %Z").to_string()
        } else {
            local.strftime("%-d %b %Y, %H:%M %Z").to_string()
        };
        When {
            iso: at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            full: format!(
                "{} ({})",
                local.strftime("%a %-d %b %Y, %H:%M:%S %Z"),
                self.zone
            ),
            text,
            ago: relative(self.now, at),
        }
    }

    /// A time as a local date-time input value (`2026-12-06T21:10`) in the reader's zone.
    pub fn input_value(&self, at: Timestamp) -> String {
        at.to_zoned(self.tz.clone())
            .strftime("%Y-%m-%dT%H:%M")
            .to_string()
    }

    /// Reads a `datetime-local` input (`2026-12-06T21:10`) as a time in the reader's zone.
    /// In a gap (spring forward) the later time is taken; in an overlap, the earlier.
    pub fn parse_input(&self, raw: &str) -> Option<Timestamp> {
        let dt: jiff::civil::DateTime = raw.trim().parse().ok()?;
        dt.to_zoned(self.tz.clone())
            .ok()
            .map(|z: Zoned| z.timestamp())
    }
}

impl When {
    pub fn html(&self) -> String {
        format!(
            r#"<time datetime="{}" title="{}">{}</time>"#,
            self.iso,
            escape(&self.full),
            escape(&self.text)
        )
    }

    pub fn html_ago(&self) -> String {
        format!(
            r#"<time datetime="{}" title="{}">{}</time> <span class="ago">({})</span>"#,
            self.iso,
            escape(&self.full),
            escape(&self.text),
            escape(&self.ago)
        )
    }
}

/// Zone abbreviations and names are tzdb text, but escape anyway: this goes out as HTML.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// "just now", "12 min ago", "3 h ago", "2 days ago", and the same ahead ("in 5 min").
pub fn relative(now: Timestamp, at: Timestamp) -> String {
    let secs = at.as_second() - now.as_second();
    let (n, ahead) = (secs.unsigned_abs(), secs > 0);
    if n < 45 {
        return "just now".into();
    }
    let amount = if n < 3_600 {
        format!("{} min", n.div_ceil(60).clamp(1, 59))
    } else if n < 86_400 {
        let h = n / 3_600;
        let m = (n % 3_600) / 60;
        if h < 10 && m > 0 {
            format!("{h} h {m} min")
        } else {
            format!("{h} h")
        }
    } else {
        let d = n / 86_400;
        format!("{d} day{}", if d == 1 { "" } else { "s" })
    };
    if ahead {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// Every IANA zone name the bundled database knows, sorted, for pickers.
pub fn zone_names() -> &'static [String] {
    static NAMES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        let mut v: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_owned())
            .filter(|n| n.contains('/') || n == "UTC")
            .filter(|n| !n.starts_with("Etc/") && !n.starts_with("SystemV/"))
            .collect();
        v.sort();
        v.dedup();
        v
    });
    &NAMES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn shows_times_in_the_readers_zone_with_its_name() {
        let r = Reader::new(Some("Europe/Berlin"), at("2026-12-06T21:10:00Z"));
        assert!(r.chosen);
        let w = r.when(at("2026-12-06T20:58:00Z"));
        assert_eq!(w.text, "21:58 CET");
        assert_eq!(w.ago, "12 min ago");
        assert_eq!(w.iso, "2026-12-06T20:58:00Z");
        assert_eq!(r.when(at("2026-07-01T10:00:00Z")).text, "1 Jul, 12:00 CEST");
        assert_eq!(
            r.when(at("2025-07-01T10:00:00Z")).text,
            "1 Jul 2025, 12:00 CEST"
        );
        assert!(w.html_ago().contains("(12 min ago)"));
    }

    #[test]
    fn no_zone_reads_in_utc_and_is_not_chosen() {
        let r = Reader::new(None, at("2026-12-06T21:10:00Z"));
        assert!(!r.chosen);
        assert_eq!(r.zone, "UTC");
        assert_eq!(r.when(at("2026-12-06T21:00:00Z")).text, "21:00 UTC");
        assert!(!Reader::new(Some("Berlin"), Timestamp::UNIX_EPOCH).chosen);
    }

    #[test]
    fn relative_times() {
        let now = at("2026-12-06T12:00:00Z");
        assert_eq!(relative(now, at("2026-12-06T11:59:50Z")), "just now");
        assert_eq!(relative(now, at("2026-12-06T11:58:00Z")), "2 min ago");
        assert_eq!(relative(now, at("2026-12-06T09:30:00Z")), "2 h 30 min ago");
        assert_eq!(relative(now, at("2026-12-06T12:05:00Z")), "in 5 min");
        assert_eq!(relative(now, at("2026-12-04T12:00:00Z")), "2 days ago");
    }

    #[test]
    fn local_inputs_round_trip_in_the_readers_zone() {
        let r = Reader::new(Some("America/New_York"), at("2026-12-06T21:10:00Z"));
        let t = r.parse_input("2026-12-06T09:30").unwrap();
        assert_eq!(t, at("2026-12-06T14:30:00Z"));
        assert_eq!(r.input_value(t), "2026-12-06T09:30");
        assert!(r.parse_input("yesterday").is_none());
    }

    #[test]
    fn zone_names_are_iana_names() {
        let names = zone_names();
        assert!(names.iter().any(|n| n == "Europe/Berlin"));
        assert!(names.iter().any(|n| n == "UTC"));
        assert!(names.len() > 300);
    }
}
