//! Status pages: what customers read. The enumerations are Atlassian Statuspage's, so that its
//! public API v2 can be served field for field; the overall status and the uptime bars are
//! computed here from components, public incidents and status intervals.
use jiff::Timestamp;
use serde_json::json;

use crate::event::{Actor, EventKind, NewEvent, SubjectType};
use crate::ids::StatusPageId;
use crate::{Invalid, named_enum};

pub mod follow;
pub mod uptime;

named_enum! {
    /// A component's status, worst last but one (`under_maintenance` is planned, not broken).
    pub enum ComponentStatus (field = "status") {
        Operational = "operational",
        DegradedPerformance = "degraded_performance",
        PartialOutage = "partial_outage",
        MajorOutage = "major_outage",
        UnderMaintenance = "under_maintenance",
    }
}

impl ComponentStatus {
    /// In words for the page: "Degraded performance".
    pub fn label(self) -> &'static str {
        match self {
            Self::Operational => "Operational",
            Self::DegradedPerformance => "Degraded performance",
            Self::PartialOutage => "Partial outage",
            Self::MajorOutage => "Major outage",
            Self::UnderMaintenance => "Under maintenance",
        }
    }

    /// How bad, for "the worst of": maintenance is below any failure, above operational.
    fn rank(self) -> u8 {
        match self {
            Self::Operational => 0,
            Self::UnderMaintenance => 1,
            Self::DegradedPerformance => 2,
            Self::PartialOutage => 3,
            Self::MajorOutage => 4,
        }
    }

    /// The worse of two statuses.
    pub fn worst(self, other: Self) -> Self {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// The `status_page.component_updated` event, written alike by people and by the checks a
/// component follows: `moved` is its status change (from, to), if it has one.
pub fn component_updated(
    page: StatusPageId,
    at: Timestamp,
    actor: Actor,
    code: &str,
    name: &str,
    moved: Option<(ComponentStatus, ComponentStatus)>,
) -> NewEvent {
    let mut data = json!({"component": code, "name": name});
    if let Some((from, to)) = moved {
        data["from"] = json!(from);
        data["to"] = json!(to);
    }
    NewEvent::new(
        SubjectType::StatusPage,
        page,
        at,
        actor,
        EventKind::StatusComponentUpdated,
        data,
    )
}

named_enum! {
    /// How bad a public incident is; `maintenance` is a scheduled maintenance's impact.
    pub enum Impact (field = "impact", schema = "StatusImpact") {
        None = "none",
        Minor = "minor",
        Major = "major",
        Critical = "critical",
        Maintenance = "maintenance",
    }
}

named_enum! {
    /// Where a public incident stands. `postmortem` is Statuspage's state for a resolved one
    /// whose postmortem is published.
    pub enum IncidentStatus (field = "status", schema = "StatusIncidentStatus") {
        Investigating = "investigating",
        Identified = "identified",
        Monitoring = "monitoring",
        Resolved = "resolved",
        Postmortem = "postmortem",
    }
}

impl IncidentStatus {
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Investigating | Self::Identified | Self::Monitoring
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Investigating => "Investigating",
            Self::Identified => "Identified",
            Self::Monitoring => "Monitoring",
            Self::Resolved => "Resolved",
            Self::Postmortem => "Postmortem",
        }
    }
}

named_enum! {
    /// Where a scheduled maintenance stands: the engine starts and completes it at its times.
    pub enum MaintenanceStatus (field = "status", schema = "MaintenanceStatus") {
        Scheduled = "scheduled",
        InProgress = "in_progress",
        Verifying = "verifying",
        Completed = "completed",
    }
}

impl MaintenanceStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Scheduled => "Scheduled",
            Self::InProgress => "In progress",
            Self::Verifying => "Verifying",
            Self::Completed => "Completed",
        }
    }

    pub fn is_active(self) -> bool {
        matches!(self, Self::InProgress | Self::Verifying)
    }
}

/// The status of a public incident or a maintenance: the two kinds share updates and pages,
/// but not their states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicStatus {
    Incident(IncidentStatus),
    Maintenance(MaintenanceStatus),
}

impl PublicStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incident(s) => s.as_str(),
            Self::Maintenance(s) => s.as_str(),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Incident(s) => s.label(),
            Self::Maintenance(s) => s.label(),
        }
    }

    /// Still shown as current: an open incident, or a maintenance not yet completed.
    pub fn is_current(self) -> bool {
        match self {
            Self::Incident(s) => s.is_open(),
            Self::Maintenance(s) => s != MaintenanceStatus::Completed,
        }
    }

    /// Reads a stored status for the given kind.
    pub fn parse(maintenance: bool, s: &str) -> Result<Self, Invalid> {
        Ok(if maintenance {
            Self::Maintenance(s.parse()?)
        } else {
            Self::Incident(s.parse()?)
        })
    }
}

named_enum! {
    /// Statuspage's overall indicator.
    pub enum Indicator (field = "indicator") {
        None = "none",
        Minor = "minor",
        Major = "major",
        Critical = "critical",
        Maintenance = "maintenance",
    }
}

/// The page's status in one line, as Statuspage words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overall {
    pub indicator: Indicator,
    pub description: &'static str,
}

/// The page's overall status: the worse of its components' statuses and its open incidents'
/// impacts. A maintenance in progress shows only when nothing is broken.
pub fn overall(components: &[ComponentStatus], open_impacts: &[Impact]) -> Overall {
    let worst = components
        .iter()
        .fold(ComponentStatus::Operational, |w, c| w.worst(*c));
    let from_components = match worst {
        ComponentStatus::MajorOutage => 3,
        ComponentStatus::PartialOutage => 2,
        ComponentStatus::DegradedPerformance => 1,
        _ => 0,
    };
    let from_incidents = open_impacts
        .iter()
        .map(|i| match i {
            Impact::Critical => 3,
            Impact::Major => 2,
            Impact::Minor => 1,
            Impact::None | Impact::Maintenance => 0,
        })
        .max()
        .unwrap_or(0);
    match from_components.max(from_incidents) {
        3 => Overall {
            indicator: Indicator::Critical,
            description: "Major System Outage",
        },
        2 => Overall {
            indicator: Indicator::Major,
            description: "Partial System Outage",
        },
        1 => Overall {
            indicator: Indicator::Minor,
            description: "Minor Service Outage",
        },
        _ if worst == ComponentStatus::UnderMaintenance
            || open_impacts.contains(&Impact::Maintenance) =>
        {
            Overall {
                indicator: Indicator::Maintenance,
                description: "Service Under Maintenance",
            }
        }
        _ => Overall {
            indicator: Indicator::None,
            description: "All Systems Operational",
        },
    }
}

/// A 12-character lowercase alphanumeric id, as Statuspage's, from caller-supplied randomness.
pub fn code(random: [u8; 12]) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    random
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % 36] as char)
        .collect()
}

/// Whether `s` has the shape of a [`code`].
pub fn is_code(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A page's slug: its path under `/status/`.
pub fn parse_slug(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    let ok = (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Invalid::new(
            "slug",
            "use 1 to 63 lowercase letters, digits and inner hyphens, like status or acme-api",
        ))
    }
}

/// The host name a page answers on (`status.example.com`): lowercased, without port or scheme.
pub fn parse_hostname(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if s.len() <= 253 && s.contains('.') && s.split('.').all(label_ok) {
        Ok(s)
    } else {
        Err(Invalid::new(
            "hostname",
            "must be a host name like status.example.com, without scheme or port",
        ))
    }
}

/// An accent colour `#rrggbb`. It colours links and the page's band on white, so it must be
/// readable there: WCAG AA asks 4.5:1 for text.
pub fn parse_accent(raw: &str) -> Result<String, Invalid> {
    let s = raw.trim().to_ascii_lowercase();
    let rgb = parse_hex(&s).ok_or_else(|| {
        Invalid::new(
            "accent_color",
            "must be a colour like #1f6feb (# and 6 hex digits)",
        )
    })?;
    let ratio = contrast(rgb, (255, 255, 255));
    if ratio < 4.5 {
        return Err(Invalid::new(
            "accent_color",
            format!(
                "is too light to read on white ({ratio:.1}:1, text needs 4.5:1): pick a darker shade"
            ),
        ));
    }
    Ok(s)
}

fn parse_hex(s: &str) -> Option<(u8, u8, u8)> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let at = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some((at(0)?, at(2)?, at(4)?))
}

/// WCAG contrast ratio of two sRGB colours.
pub fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
        let ch = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)
    }
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// The weight of a partial outage in uptime, between 0 (counts as up) and 1 (as down).
pub fn parse_partial_weight(w: f64) -> Result<f64, Invalid> {
    if (0.0..=1.0).contains(&w) {
        Ok(w)
    } else {
        Err(Invalid::new(
            "partial_outage_weight",
            "must be between 0 and 1",
        ))
    }
}

/// A scheduled maintenance's window: it must end after it starts.
pub fn check_window(from: Timestamp, until: Timestamp) -> Result<(), Invalid> {
    if until > from {
        Ok(())
    } else {
        Err(Invalid::new(
            "scheduled_until",
            "must be after scheduled_for",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_is_the_worst_of_components_and_incidents() {
        use ComponentStatus as C;
        assert_eq!(overall(&[], &[]).indicator, Indicator::None);
        assert_eq!(
            overall(&[C::Operational, C::Operational], &[]).description,
            "All Systems Operational"
        );
        assert_eq!(
            overall(&[C::Operational, C::DegradedPerformance], &[]).indicator,
            Indicator::Minor
        );
        assert_eq!(
            overall(&[C::PartialOutage, C::UnderMaintenance], &[]).indicator,
            Indicator::Major
        );
        assert_eq!(
            overall(&[C::MajorOutage], &[Impact::Minor]).indicator,
            Indicator::Critical
        );
        assert_eq!(
            overall(&[C::Operational], &[Impact::Critical]).description,
            "Major System Outage"
        );
        let m = overall(&[C::UnderMaintenance, C::Operational], &[]);
        assert_eq!(m.indicator, Indicator::Maintenance);
        assert_eq!(m.description, "Service Under Maintenance");
        // A failure outranks maintenance.
        assert_eq!(
            overall(&[C::UnderMaintenance], &[Impact::Minor]).indicator,
            Indicator::Minor
        );
    }

    #[test]
    fn codes_are_statuspage_shaped() {
        let c = code([0, 1, 25, 26, 35, 36, 255, 7, 8, 9, 10, 11]);
        assert_eq!(c, "abz09adhijkl");
        assert!(is_code(&c));
        assert!(!is_code("ABCDEFGHIJKL"));
        assert!(!is_code("abc"));
    }

    #[test]
    fn slugs_hosts_and_colours_are_checked() {
        assert_eq!(parse_slug(" acme-api ").unwrap(), "acme-api");
        for bad in ["", "-a", "a-", "Acme", "a b", "a/b", &"x".repeat(64)] {
            assert_eq!(parse_slug(bad).unwrap_err().field, "slug", "{bad}");
        }
        assert_eq!(
            parse_hostname("Status.Example.COM.").unwrap(),
            "status.example.com"
        );
        for bad in ["localhost", "https://a.b", "a.b:8080", "a..b", "-a.b"] {
            assert!(parse_hostname(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_accent("#1F6FEB").unwrap(), "#1f6feb");
        let light = parse_accent("#ffd700").unwrap_err();
        assert!(light.reason.contains("too light"), "{light:?}");
        assert!(parse_accent("1f6feb").is_err());
        assert!(parse_accent("#12345").is_err());
        assert!((contrast((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 0.01);
    }

    #[test]
    fn statuses_parse_by_kind() {
        assert_eq!(
            PublicStatus::parse(true, "in_progress").unwrap(),
            PublicStatus::Maintenance(MaintenanceStatus::InProgress)
        );
        assert!(PublicStatus::parse(false, "in_progress").is_err());
        assert!(
            PublicStatus::parse(false, "monitoring")
                .unwrap()
                .is_current()
        );
        assert!(!PublicStatus::parse(true, "completed").unwrap().is_current());
        assert_eq!(
            "bogus".parse::<ComponentStatus>().unwrap_err().field,
            "status"
        );
    }
}
