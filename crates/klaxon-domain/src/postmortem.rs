//! Postmortems: the blameless review written after an incident. Its states, who may move it,
//! when it is due and what its template asks for are rules here; the store keeps what they allow.
use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Weekday;
use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::event::EventKind;
use crate::ids::{IncidentId, PostmortemCommentId, PostmortemId, UserId};
use crate::incident::{Refusal, Severity};
use crate::named_enum;

named_enum! {
    /// Where a postmortem is: written, reviewed, then published (read-only).
    pub enum PostmortemState (field = "state") {
        Draft = "draft",
        InReview = "in_review",
        Published = "published",
    }
}

named_enum! {
    /// What part a contributing factor played: there is rarely one root cause.
    pub enum FactorKind (field = "kind") {
        /// What set the incident off.
        Trigger = "trigger",
        /// What made it possible or worse.
        Contributing = "contributing",
        /// What made it less bad than it could have been.
        Mitigating = "mitigating",
    }
}

named_enum! {
    /// How a due date's days are counted.
    pub enum DayCount (field = "count") {
        Calendar = "calendar",
        /// Monday to Friday (UTC dates).
        Business = "business",
    }
}

pub const SECTION_MAX: usize = 50_000;
pub const FACTOR_MAX: usize = 2_000;
pub const NOTE_MAX: usize = 2_000;
pub const COMMENT_MAX: usize = 10_000;
pub const REASON_MAX: usize = 1_000;
pub const FACTORS_MAX: usize = 100;
pub const REVIEWERS_MAX: usize = 20;
/// The public summary: a few paragraphs for customers.
pub const PUBLIC_SUMMARY_MAX: usize = 10_000;

/// A due date `days` after resolution, counted in calendar or business days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueRule {
    pub days: u32,
    pub count: DayCount,
}

impl DueRule {
    pub fn due(&self, resolved: Timestamp) -> Timestamp {
        let day = jiff::SignedDuration::from_hours(24);
        match self.count {
            DayCount::Calendar => resolved
                .checked_add(day * i32::try_from(self.days).unwrap_or(i32::MAX))
                .unwrap_or(resolved),
            DayCount::Business => {
                let mut t = resolved;
                let mut left = self.days;
                while left > 0 {
                    t = t.checked_add(day).unwrap_or(t);
                    let wd = t.to_zoned(jiff::tz::TimeZone::UTC).weekday();
                    if !matches!(wd, Weekday::Saturday | Weekday::Sunday) {
                        left -= 1;
                    }
                }
                t
            }
        }
    }

    /// `"3 calendar"`, `"5 business"` (configuration's spelling).
    pub fn parse(field: &str, s: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                field,
                "must be a number of days and `calendar` or `business`, e.g. \"5 business\"",
            )
        };
        let mut parts = s.split_whitespace();
        let days: u32 = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
        let count = match parts.next() {
            None => DayCount::Calendar,
            Some(c) => c.parse().map_err(|_| bad())?,
        };
        if parts.next().is_some() || days > 365 {
            return Err(bad());
        }
        Ok(Self { days, count })
    }
}

/// One part of the template: its key (stable, in the API), title and the help shown beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SectionDef {
    pub key: String,
    pub title: String,
    #[serde(default)]
    pub help: String,
}

impl SectionDef {
    fn new(key: &str, title: &str, help: &str) -> Self {
        Self {
            key: key.into(),
            title: title.into(),
            help: help.into(),
        }
    }
}

/// The default template, in the order it is written.
pub fn default_sections() -> Vec<SectionDef> {
    vec![
        SectionDef::new(
            "summary",
            "Summary",
            "Two or three sentences a busy reader can stop after: what broke, for how long, and how it ended.",
        ),
        SectionDef::new(
            "customer_impact",
            "Customer impact",
            "Who noticed and how: which features, how many users or accounts, errors or delay they saw, support tickets.",
        ),
        SectionDef::new(
            "contributing_factors",
            "Contributing factors",
            "The conditions that lined up, in your own words; list each one below as a trigger, contributing or mitigating factor. People's actions are never the cause.",
        ),
        SectionDef::new(
            "detection",
            "Detection",
            "How we found out (alert, customer, chance) and how long after impact began; what would have told us sooner.",
        ),
        SectionDef::new(
            "response",
            "Response",
            "Who was involved and how they came together; what slowed the response or sped it up.",
        ),
        SectionDef::new(
            "recovery",
            "Recovery",
            "What stopped the impact and what restored full service; whether the fix is temporary.",
        ),
        SectionDef::new(
            "went_well",
            "What went well",
            "Tools, habits and decisions worth keeping.",
        ),
        SectionDef::new(
            "went_badly",
            "What went badly",
            "Where the system, the tooling or the process got in the way.",
        ),
        SectionDef::new(
            "got_lucky",
            "Where we got lucky",
            "Things that helped by chance and will not next time.",
        ),
        SectionDef::new(
            "lessons",
            "Lessons",
            "What we now know about the system that we did not know before.",
        ),
    ]
}

/// The postmortem rules the configuration sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmortemRules {
    /// Severities whose incidents must have a postmortem.
    pub required: Vec<Severity>,
    pub due: BTreeMap<Severity, DueRule>,
    pub sections: Vec<SectionDef>,
}

impl Default for PostmortemRules {
    fn default() -> Self {
        Self {
            required: vec![Severity::Sev1, Severity::Sev2],
            due: BTreeMap::from([
                (
                    Severity::Sev1,
                    DueRule {
                        days: 3,
                        count: DayCount::Calendar,
                    },
                ),
                (
                    Severity::Sev2,
                    DueRule {
                        days: 5,
                        count: DayCount::Business,
                    },
                ),
            ]),
            sections: default_sections(),
        }
    }
}

impl PostmortemRules {
    /// Whether an incident of this severity must have a postmortem (untriaged ones need not).
    pub fn required(&self, severity: Option<Severity>) -> bool {
        severity.is_some_and(|s| self.required.contains(&s))
    }

    /// When its postmortem is due, if a rule covers the severity.
    pub fn due_at(&self, severity: Option<Severity>, resolved: Timestamp) -> Option<Timestamp> {
        severity
            .and_then(|s| self.due.get(&s))
            .map(|r| r.due(resolved))
    }

    pub fn section(&self, key: &str) -> Option<&SectionDef> {
        self.sections.iter().find(|s| s.key == key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    pub kind: FactorKind,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewer {
    pub user_id: UserId,
    pub approved_at: Option<Timestamp>,
}

/// The author's decision about one incident event: shown or not, and a note beside it. Events
/// without one are shown when [`preselected`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub seq: i64,
    pub include: bool,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: PostmortemCommentId,
    /// The section's key.
    pub section: String,
    pub author_id: UserId,
    pub body: String,
    pub at: Timestamp,
}

/// A postmortem as stored. `frozen` holds the incident's facts as they were at publishing.
#[derive(Debug, Clone, PartialEq)]
pub struct Postmortem {
    pub id: PostmortemId,
    pub incident_id: IncidentId,
    pub state: PostmortemState,
    pub owner_id: Option<UserId>,
    pub due_at: Option<Timestamp>,
    /// Section key → text; sections never written are absent.
    pub sections: BTreeMap<String, String>,
    pub factors: Vec<Factor>,
    pub reviewers: Vec<Reviewer>,
    pub timeline: Vec<TimelineEntry>,
    pub comments: Vec<Comment>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
    pub published_by: Option<UserId>,
    pub publish_reason: Option<String>,
    pub frozen: Option<serde_json::Value>,
    /// What customers read on the status page once it is attached (empty: none written). Not
    /// the internal sections.
    pub public_summary: String,
}

/// Who asks: their user id and whether they are an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asker {
    pub user: Option<UserId>,
    pub admin: bool,
}

/// The rule publishing follows, said in the 403.
pub const PUBLISH_RULE: &str = "publishing needs the owner and at least one approval from a reviewer other than the owner, or an admin with a reason";

impl Postmortem {
    /// Refused once published: a published postmortem is the record.
    pub fn check_editable(&self) -> Result<(), Refusal> {
        if self.state == PostmortemState::Published {
            return Err(Refusal::conflict(
                "state",
                "a published postmortem is read-only",
            ));
        }
        Ok(())
    }

    pub fn approvals(&self) -> impl Iterator<Item = &Reviewer> {
        self.reviewers.iter().filter(|r| r.approved_at.is_some())
    }

    /// Draft → in review. It needs an owner to answer the reviewers.
    pub fn submit(&mut self) -> Result<(), Refusal> {
        if self.state != PostmortemState::Draft {
            return Err(Refusal::conflict(
                "state",
                "only a draft is submitted for review",
            ));
        }
        if self.owner_id.is_none() {
            return Err(Refusal::conflict("owner_id", "set an owner before review"));
        }
        self.state = PostmortemState::InReview;
        Ok(())
    }

    /// In review → draft. Approvals were of the text under review, so they lapse.
    pub fn back_to_draft(&mut self) -> Result<(), Refusal> {
        if self.state != PostmortemState::InReview {
            return Err(Refusal::conflict(
                "state",
                "only a postmortem in review goes back to draft",
            ));
        }
        self.state = PostmortemState::Draft;
        for r in &mut self.reviewers {
            r.approved_at = None;
        }
        Ok(())
    }

    /// A reviewer other than the owner approves the postmortem under review.
    pub fn approve(&mut self, who: Asker, now: Timestamp) -> Result<(), Refusal> {
        if self.state != PostmortemState::InReview {
            return Err(Refusal::conflict(
                "state",
                "only a postmortem in review is approved",
            ));
        }
        let user = who.user.filter(|u| Some(*u) != self.owner_id);
        let Some(r) = user.and_then(|u| self.reviewers.iter_mut().find(|r| r.user_id == u)) else {
            return Err(Refusal::Forbidden(
                "only a reviewer other than the owner approves".into(),
            ));
        };
        r.approved_at.get_or_insert(now);
        Ok(())
    }

    /// Publishes: the owner with an approval, or an admin with a reason (which is kept).
    pub fn publish(
        &mut self,
        who: Asker,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        self.check_editable()?;
        let owner = who.user.is_some() && who.user == self.owner_id;
        let approved = self.approvals().any(|r| Some(r.user_id) != self.owner_id);
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let reason = if owner && approved && self.state == PostmortemState::InReview {
            None
        } else if who.admin && reason.is_some() {
            reason
        } else {
            return Err(Refusal::Forbidden(PUBLISH_RULE.into()));
        };
        if let Some(r) = reason
            && r.chars().count() > REASON_MAX
        {
            return Err(Invalid::new("reason", format!("at most {REASON_MAX} characters")).into());
        }
        self.state = PostmortemState::Published;
        self.published_at = Some(now);
        self.published_by = who.user;
        self.publish_reason = reason.map(str::to_owned);
        Ok(())
    }

    /// Sets one section's text; the key must be in the template.
    pub fn set_section(
        &mut self,
        rules: &PostmortemRules,
        key: &str,
        body: &str,
    ) -> Result<(), Invalid> {
        let field = format!("sections.{key}");
        if rules.section(key).is_none() {
            let keys: Vec<&str> = rules.sections.iter().map(|s| s.key.as_str()).collect();
            return Err(Invalid::new(
                field,
                format!("not a section; sections are: {}", keys.join(", ")),
            ));
        }
        if body.chars().count() > SECTION_MAX {
            return Err(Invalid::new(
                field,
                format!("at most {SECTION_MAX} characters"),
            ));
        }
        if body.trim().is_empty() {
            self.sections.remove(key);
        } else {
            self.sections.insert(key.to_owned(), body.to_owned());
        }
        Ok(())
    }

    /// Sets the public summary (trimmed; empty clears it).
    pub fn set_public_summary(&mut self, text: &str) -> Result<(), Invalid> {
        let text = text.trim();
        if text.chars().count() > PUBLIC_SUMMARY_MAX {
            return Err(Invalid::new(
                "public_summary",
                format!("at most {PUBLIC_SUMMARY_MAX} characters"),
            ));
        }
        self.public_summary = text.to_owned();
        Ok(())
    }

    /// The public summary, once it may go on a status page: published and written.
    pub fn shareable_summary(&self) -> Result<&str, Refusal> {
        if self.state != PostmortemState::Published {
            return Err(Refusal::conflict(
                "state",
                "only a published postmortem goes on the status page",
            ));
        }
        if self.public_summary.is_empty() {
            return Err(Refusal::conflict(
                "public_summary",
                "the postmortem has no public summary to show",
            ));
        }
        Ok(&self.public_summary)
    }

    /// The author's choice for one event: `include` or not, with a note. Replaces an earlier one.
    pub fn select(&mut self, seq: i64, include: bool, note: &str) -> Result<(), Invalid> {
        if note.chars().count() > NOTE_MAX {
            return Err(Invalid::new(
                "note",
                format!("at most {NOTE_MAX} characters"),
            ));
        }
        let entry = TimelineEntry {
            seq,
            include,
            note: note.trim().to_owned(),
        };
        match self.timeline.iter_mut().find(|e| e.seq == seq) {
            Some(e) => *e = entry,
            None => {
                self.timeline.push(entry);
                self.timeline.sort_by_key(|e| e.seq);
            }
        }
        Ok(())
    }
}

/// Parses the factor list, each text trimmed and non-empty.
pub fn parse_factors(raw: &[(String, String)]) -> Result<Vec<Factor>, Invalid> {
    if raw.len() > FACTORS_MAX {
        return Err(Invalid::new("factors", format!("at most {FACTORS_MAX}")));
    }
    raw.iter()
        .enumerate()
        .map(|(i, (kind, text))| {
            let kind: FactorKind = kind
                .parse()
                .map_err(|e: Invalid| Invalid::new(format!("factors[{i}].kind"), e.reason))?;
            let text = text.trim();
            if text.is_empty() || text.chars().count() > FACTOR_MAX {
                return Err(Invalid::new(
                    format!("factors[{i}].text"),
                    format!("1 to {FACTOR_MAX} characters"),
                ));
            }
            Ok(Factor {
                kind,
                text: text.to_owned(),
            })
        })
        .collect()
}

/// The events a postmortem's timeline shows before the author chooses: pinned ones and the
/// incident's turning points (its states, milestones, severity and roles).
pub fn preselected(kind: EventKind, pinned: bool) -> bool {
    use EventKind as K;
    pinned
        || matches!(
            kind,
            K::IncidentTriggered
                | K::IncidentDeclared
                | K::IncidentAcknowledged
                | K::IncidentMitigated
                | K::IncidentResolved
                | K::IncidentReopened
                | K::IncidentClosed
                | K::IncidentSeverityChanged
                | K::IncidentMilestonesChanged
                | K::IncidentRoleAssigned
                | K::IncidentRoleUnassigned
                | K::IncidentMerged
                | K::IncidentMergedIn
        )
}

/// Whether an event is shown in the postmortem's timeline: the author's choice, else the
/// preselection.
pub fn shown(entries: &[TimelineEntry], seq: i64, kind: EventKind, pinned: bool) -> bool {
    entries
        .iter()
        .find(|e| e.seq == seq)
        .map_or_else(|| preselected(kind, pinned), |e| e.include)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn pm() -> Postmortem {
        let now = ts("2026-03-02T10:00:00Z");
        Postmortem {
            id: PostmortemId(Uuid::from_u128(1)),
            incident_id: IncidentId(Uuid::from_u128(2)),
            state: PostmortemState::Draft,
            owner_id: Some(user(10)),
            due_at: None,
            sections: BTreeMap::new(),
            factors: vec![],
            reviewers: vec![
                Reviewer {
                    user_id: user(10),
                    approved_at: None,
                },
                Reviewer {
                    user_id: user(11),
                    approved_at: None,
                },
            ],
            timeline: vec![],
            comments: vec![],
            created_at: now,
            updated_at: now,
            published_at: None,
            published_by: None,
            publish_reason: None,
            frozen: None,
            public_summary: String::new(),
        }
    }

    const OWNER: Asker = Asker {
        user: Some(UserId(Uuid::from_u128(10))),
        admin: false,
    };
    const REVIEWER: Asker = Asker {
        user: Some(UserId(Uuid::from_u128(11))),
        admin: false,
    };
    const ADMIN: Asker = Asker {
        user: Some(UserId(Uuid::from_u128(99))),
        admin: true,
    };

    #[test]
    fn due_dates_follow_severity() {
        let r = PostmortemRules::default();
        // Friday evening: SEV1 is three calendar days later, SEV2 five weekdays.
        let fri = ts("2026-03-06T18:00:00Z");
        assert_eq!(
            r.due_at(Some(Severity::Sev1), fri),
            Some(ts("2026-03-09T18:00:00Z"))
        );
        assert_eq!(
            r.due_at(Some(Severity::Sev2), fri),
            Some(ts("2026-03-13T18:00:00Z"))
        );
        assert_eq!(r.due_at(Some(Severity::Sev3), fri), None);
        assert_eq!(r.due_at(None, fri), None);
        let sat = ts("2026-03-07T09:00:00Z");
        assert_eq!(
            r.due_at(Some(Severity::Sev2), sat),
            Some(ts("2026-03-13T09:00:00Z"))
        );
        assert!(r.required(Some(Severity::Sev1)) && r.required(Some(Severity::Sev2)));
        assert!(!r.required(Some(Severity::Sev3)) && !r.required(None));
        assert_eq!(
            DueRule::parse("due", "2 business").unwrap(),
            DueRule {
                days: 2,
                count: DayCount::Business
            }
        );
        assert_eq!(
            DueRule::parse("due", "4").unwrap().count,
            DayCount::Calendar
        );
        assert_eq!(
            DueRule::parse("due.sev3", "soon").unwrap_err().field,
            "due.sev3"
        );
    }

    #[test]
    fn the_template_has_ten_sections_with_help() {
        let s = default_sections();
        assert_eq!(s.len(), 10);
        assert!(s.iter().all(|d| !d.help.is_empty() && !d.title.is_empty()));
        let mut p = pm();
        let r = PostmortemRules::default();
        p.set_section(&r, "summary", "It broke.").unwrap();
        assert_eq!(p.sections["summary"], "It broke.");
        assert_eq!(
            p.set_section(&r, "blame", "x").unwrap_err().field,
            "sections.blame"
        );
        p.set_section(&r, "summary", "  ").unwrap();
        assert!(p.sections.is_empty());
    }

    #[test]
    fn life_cycle_and_approval() {
        let now = ts("2026-03-03T00:00:00Z");
        let mut p = pm();
        assert!(matches!(
            p.approve(REVIEWER, now),
            Err(Refusal::Conflict { .. })
        ));
        p.submit().unwrap();
        assert_eq!(p.state, PostmortemState::InReview);
        // The owner's own approval does not count; strangers may not approve.
        assert!(matches!(p.approve(OWNER, now), Err(Refusal::Forbidden(_))));
        assert!(matches!(p.approve(ADMIN, now), Err(Refusal::Forbidden(_))));
        assert!(
            matches!(p.publish(OWNER, None, now), Err(Refusal::Forbidden(m)) if m == PUBLISH_RULE)
        );
        p.approve(REVIEWER, now).unwrap();
        // Back to draft drops the approval.
        p.back_to_draft().unwrap();
        assert_eq!(p.approvals().count(), 0);
        p.submit().unwrap();
        p.approve(REVIEWER, now).unwrap();
        assert!(matches!(
            p.publish(REVIEWER, None, now),
            Err(Refusal::Forbidden(_))
        ));
        p.publish(OWNER, None, now).unwrap();
        assert_eq!(p.state, PostmortemState::Published);
        assert_eq!(p.published_by, OWNER.user);
        assert!(p.check_editable().is_err());
        assert!(p.back_to_draft().is_err());
        assert!(p.publish(OWNER, None, now).is_err());
    }

    #[test]
    fn an_admin_publishes_with_a_reason() {
        let now = ts("2026-03-03T00:00:00Z");
        let mut p = pm();
        assert!(matches!(
            p.publish(ADMIN, None, now),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            p.publish(ADMIN, Some("  "), now),
            Err(Refusal::Forbidden(_))
        ));
        p.publish(ADMIN, Some("owner left the company"), now)
            .unwrap();
        assert_eq!(p.publish_reason.as_deref(), Some("owner left the company"));
    }

    #[test]
    fn submitting_needs_an_owner() {
        let mut p = pm();
        p.owner_id = None;
        assert!(matches!(p.submit(), Err(Refusal::Conflict { field, .. }) if field == "owner_id"));
    }

    #[test]
    fn factors_and_timeline_choices() {
        let f = parse_factors(&[
            ("trigger".into(), " deploy ".into()),
            ("mitigating".into(), "canary".into()),
        ])
        .unwrap();
        assert_eq!(f[0].text, "deploy");
        assert_eq!(f[1].kind, FactorKind::Mitigating);
        let e = parse_factors(&[("root_cause".into(), "x".into())]).unwrap_err();
        assert_eq!(e.field, "factors[0].kind");
        let e = parse_factors(&[("trigger".into(), " ".into())]).unwrap_err();
        assert_eq!(e.field, "factors[0].text");

        let mut p = pm();
        assert!(shown(&p.timeline, 5, EventKind::IncidentResolved, false));
        assert!(!shown(&p.timeline, 6, EventKind::IncidentNoteAdded, false));
        assert!(shown(&p.timeline, 6, EventKind::IncidentNoteAdded, true));
        p.select(6, true, "the clue").unwrap();
        p.select(5, false, "").unwrap();
        p.select(6, true, "the first clue").unwrap();
        assert_eq!(p.timeline.len(), 2);
        assert_eq!(p.timeline[1].note, "the first clue");
        assert!(!shown(&p.timeline, 5, EventKind::IncidentResolved, false));
        assert!(shown(&p.timeline, 6, EventKind::IncidentNoteAdded, false));
    }

    #[test]
    fn the_public_summary_goes_out_only_once_published_and_written() {
        let mut p = pm();
        p.set_public_summary("  Payments failed for 40 minutes.  ")
            .unwrap();
        assert_eq!(p.public_summary, "Payments failed for 40 minutes.");
        let e = p.shareable_summary().unwrap_err();
        assert!(
            matches!(e, Refusal::Conflict { ref field, .. } if field == "state"),
            "{e:?}"
        );
        p.state = PostmortemState::Published;
        assert_eq!(
            p.shareable_summary().unwrap(),
            "Payments failed for 40 minutes."
        );
        p.set_public_summary(" ").unwrap();
        let e = p.shareable_summary().unwrap_err();
        assert!(
            matches!(e, Refusal::Conflict { ref field, .. } if field == "public_summary"),
            "{e:?}"
        );
        let long = "x".repeat(PUBLIC_SUMMARY_MAX + 1);
        assert_eq!(
            p.set_public_summary(&long).unwrap_err().field,
            "public_summary"
        );
    }
}
