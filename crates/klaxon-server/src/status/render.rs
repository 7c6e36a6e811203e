//! A page's documents from its snapshot data: the HTML pages people read (no script, nothing
//! from elsewhere), the v2 JSON, the feeds and the badges. Pure: the same data and time give
//! the same bytes, which is what the static export writes.
use std::collections::HashMap;

use askama::Template;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use klaxon_domain::status::uptime::{self, Interval};
use klaxon_domain::status::{ComponentStatus, Impact, Indicator};
use klaxon_store::{Component, FooterLink, StatusIncidentWithUpdates};

use super::snapshot::{DAYS, Doc, PageData};
use super::{feeds, v2};
use crate::shared::config::Settings;

const CSS: &str = include_str!("../../assets/status/status.css");

/// The parts every page of a status page shares.
pub struct View {
    pub name: String,
    /// Links start here: `/status/{slug}`, or `""` on the page's own host.
    pub root: String,
    pub logo_url: Option<String>,
    pub footer_links: Vec<FooterLink>,
    pub zone: String,
    pub overall_text: &'static str,
    pub overall_class: &'static str,
    pub overall_icon: &'static str,
    pub updated_text: String,
    pub built_text: String,
    pub stale: bool,
    pub css_version: String,
    /// The sign-up form, absolute (so it works from a static export too); `None` when no
    /// link back to the page can be made, so nobody could confirm.
    pub subscribe: Option<String>,
}

pub struct ComponentView {
    /// For its feeds' links (`components/{code}/history.atom`); "" for a group, which has no
    /// incidents of its own (they name its members).
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub label: &'static str,
    pub class: &'static str,
    pub icon: &'static str,
    /// (colour level 0–4, or 9 for no data; the day in words).
    pub bars: Vec<(u8, String)>,
    pub uptime: String,
    pub members: Vec<ComponentView>,
}

pub struct UpdateView {
    pub status: &'static str,
    pub body: String,
    pub when: String,
}

pub struct IncidentView {
    pub code: String,
    pub name: String,
    pub status_label: &'static str,
    pub impact_label: &'static str,
    pub class: &'static str,
    pub icon: &'static str,
    pub window: Option<String>,
    pub latest: Option<UpdateView>,
    pub next_update: Option<String>,
    pub components: String,
    pub when: String,
    /// The postmortem's public summary, in paragraphs, and when it was published.
    pub postmortem: Option<(Vec<String>, String)>,
}

#[derive(Template)]
#[template(path = "status/page.html")]
struct PageHtml<'a> {
    v: &'a View,
    active: Vec<IncidentView>,
    maintenances: Vec<IncidentView>,
    components: Vec<ComponentView>,
    past: Vec<(String, Vec<IncidentView>)>,
}

#[derive(Template)]
#[template(path = "status/incident.html")]
struct IncidentHtml<'a> {
    v: &'a View,
    i: IncidentView,
    updates: Vec<UpdateView>,
}

#[derive(Template)]
#[template(path = "status/history.html")]
struct HistoryHtml<'a> {
    v: &'a View,
    months: Vec<(String, Vec<IncidentView>)>,
}

pub(crate) fn status_look(s: ComponentStatus) -> (&'static str, &'static str) {
    match s {
        ComponentStatus::Operational => ("s-ok", "✓"),
        ComponentStatus::DegradedPerformance => ("s-minor", "!"),
        ComponentStatus::PartialOutage => ("s-major", "!"),
        ComponentStatus::MajorOutage => ("s-crit", "✕"),
        ComponentStatus::UnderMaintenance => ("s-maint", "⚒"),
    }
}

fn impact_look(i: Impact) -> (&'static str, &'static str, &'static str) {
    match i {
        Impact::None => ("s-ok", "i", ""),
        Impact::Minor => ("s-minor", "!", "minor impact"),
        Impact::Major => ("s-major", "!", "major impact"),
        Impact::Critical => ("s-crit", "✕", "critical impact"),
        Impact::Maintenance => ("s-maint", "⚒", "maintenance"),
    }
}

fn indicator_look(i: Indicator) -> (&'static str, &'static str) {
    match i {
        Indicator::None => ("s-ok", "✓"),
        Indicator::Minor => ("s-minor", "!"),
        Indicator::Major => ("s-major", "!"),
        Indicator::Critical => ("s-crit", "✕"),
        Indicator::Maintenance => ("s-maint", "⚒"),
    }
}

struct Clock<'a> {
    tz: &'a TimeZone,
}

impl Clock<'_> {
    /// "12 May 2026, 14:05 CEST".
    fn at(&self, t: Timestamp) -> String {
        t.to_zoned(self.tz.clone())
            .strftime("%-d %b %Y, %H:%M %Z")
            .to_string()
    }
}

fn level(s: Option<ComponentStatus>) -> u8 {
    match s {
        None => 9,
        Some(ComponentStatus::Operational) => 0,
        Some(ComponentStatus::DegradedPerformance) => 1,
        Some(ComponentStatus::PartialOutage) => 2,
        Some(ComponentStatus::MajorOutage) => 3,
        Some(ComponentStatus::UnderMaintenance) => 4,
    }
}

fn component_view(d: &PageData, c: &Component, tz: &TimeZone, now: Timestamp) -> ComponentView {
    let (class, icon) = status_look(c.status);
    let (bars, uptime) = if c.show_uptime && !c.is_group {
        let intervals: Vec<Interval> = d
            .intervals
            .iter()
            .filter(|i| i.component_id == c.id)
            .map(|i| Interval {
                status: i.status,
                from: i.from,
                until: i.until,
            })
            .collect();
        let days = uptime::daily(
            &intervals,
            c.created_at,
            now,
            tz,
            DAYS,
            d.page.partial_outage_weight,
        );
        let total = uptime::fraction(&days, d.page.partial_outage_weight)
            .map_or_else(|| "no data".to_owned(), uptime::percent);
        (
            days.iter().map(|b| (level(b.worst()), b.text())).collect(),
            total,
        )
    } else {
        (Vec::new(), String::new())
    };
    ComponentView {
        code: if c.is_group {
            String::new()
        } else {
            c.code.clone()
        },
        name: c.name.clone(),
        description: c.description.clone(),
        label: c.status.label(),
        class,
        icon,
        bars,
        uptime,
        members: Vec::new(),
    }
}

fn incident_view(d: &PageData, w: &StatusIncidentWithUpdates, clock: &Clock<'_>) -> IncidentView {
    let i = &w.incident;
    let (class, icon, impact_label) = impact_look(i.impact);
    let (class, icon) = if i.status.is_current() {
        (class, icon)
    } else {
        ("s-ok", "✓")
    };
    let latest = w.updates.last().map(|u| UpdateView {
        status: u.status.label(),
        body: u.body.clone(),
        when: clock.at(u.created_at),
    });
    let window = match (i.scheduled_for, i.scheduled_until) {
        (Some(f), Some(u)) => Some(format!("{} to {}", clock.at(f), clock.at(u))),
        _ => None,
    };
    let names: Vec<&str> = i
        .component_ids
        .iter()
        .filter_map(|id| d.components.iter().find(|c| c.id == *id))
        .map(|c| c.name.as_str())
        .collect();
    IncidentView {
        code: i.code.clone(),
        name: i.name.clone(),
        status_label: i.status.label(),
        impact_label,
        class,
        icon,
        window,
        latest,
        next_update: i
            .next_update_at
            .filter(|_| i.status.is_current())
            .map(|t| clock.at(t)),
        components: names.join(", "),
        when: clock.at(i.scheduled_for.unwrap_or(i.started_at)),
        postmortem: i.postmortem.as_ref().map(|p| {
            let paragraphs = p
                .body
                .split("\n\n")
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect();
            (paragraphs, clock.at(p.published_at))
        }),
    }
}

/// Every document of the page, by its path under the page.
pub fn render(
    d: &PageData,
    settings: &Settings,
    now: Timestamp,
    stale: bool,
) -> HashMap<String, Doc> {
    let tz = TimeZone::get(&d.page.time_zone).unwrap_or(TimeZone::UTC);
    let clock = Clock { tz: &tz };
    let overall = d.overall();
    let (overall_class, overall_icon) = indicator_look(overall.indicator);
    let css = format!("{CSS}:root{{--accent:{}}}\n", d.page.accent_color);
    let css_doc = Doc::new("text/css; charset=utf-8", css);
    // The same links work on Klaxon's host and on the page's own (which maps /status/… too).
    let root = format!("/status/{}", d.page.slug);
    let v = View {
        name: d.page.name.clone(),
        root,
        logo_url: d.page.logo_url.clone(),
        footer_links: d.page.footer_links.clone(),
        zone: format!(
            "{} ({})",
            d.page.time_zone,
            now.to_zoned(tz.clone()).strftime("%Z")
        ),
        overall_text: overall.description,
        overall_class,
        overall_icon,
        updated_text: clock.at(d.updated_at),
        built_text: clock.at(now),
        stale,
        css_version: css_doc.etag.trim_matches('"').to_owned(),
        subscribe: super::subscribers::page_base(settings, &d.page)
            .map(|b| format!("{b}/subscribe")),
    };
    let mut docs = HashMap::new();
    docs.insert("style.css".to_owned(), css_doc);

    // Components: each top-level one with its members; hidden while operational if so asked.
    let shown =
        |c: &Component| !c.only_show_if_degraded || c.status != ComponentStatus::Operational;
    let mut components = Vec::new();
    for top in d.components.iter().filter(|c| c.group_id.is_none()) {
        let mut view = component_view(d, top, &tz, now);
        view.members = d
            .components
            .iter()
            .filter(|m| m.group_id == Some(top.id) && shown(m))
            .map(|m| component_view(d, m, &tz, now))
            .collect();
        if top.is_group {
            // A group reads as its worst member.
            let worst = d
                .components
                .iter()
                .filter(|m| m.group_id == Some(top.id))
                .fold(ComponentStatus::Operational, |w, m| w.worst(m.status));
            let (class, icon) = status_look(worst);
            view.label = worst.label();
            view.class = class;
            view.icon = icon;
            if view.members.is_empty() && !shown(top) {
                continue;
            }
        } else if !shown(top) {
            continue;
        }
        components.push(view);
    }
    let active: Vec<IncidentView> = d
        .incidents
        .iter()
        .filter(|w| !w.incident.maintenance && w.incident.status.is_current())
        .map(|w| incident_view(d, w, &clock))
        .collect();
    let maintenances: Vec<IncidentView> = d
        .incidents
        .iter()
        .rev()
        .filter(|w| w.incident.maintenance && w.incident.status.is_current())
        .map(|w| incident_view(d, w, &clock))
        .collect();
    // The last 14 days, each with its incidents (Statuspage's "past incidents").
    let today = now.to_zoned(tz.clone()).date();
    let mut past = Vec::new();
    for back in 0..14 {
        let Ok(day) = today.checked_sub(jiff::Span::new().days(back)) else {
            break;
        };
        let list: Vec<IncidentView> = d
            .incidents
            .iter()
            .filter(|w| !w.incident.maintenance || !w.incident.status.is_current())
            .filter(|w| {
                w.incident
                    .scheduled_for
                    .unwrap_or(w.incident.started_at)
                    .to_zoned(tz.clone())
                    .date()
                    == day
            })
            .map(|w| incident_view(d, w, &clock))
            .collect();
        past.push((day.strftime("%-d %B %Y").to_string(), list));
    }
    let html = PageHtml {
        v: &v,
        active,
        maintenances,
        components,
        past,
    }
    .render()
    .unwrap_or_default();
    docs.insert(String::new(), Doc::new("text/html; charset=utf-8", html));

    let mut months: Vec<(String, Vec<IncidentView>)> = Vec::new();
    for w in &d.incidents {
        let month = w
            .incident
            .scheduled_for
            .unwrap_or(w.incident.started_at)
            .to_zoned(tz.clone())
            .strftime("%B %Y")
            .to_string();
        let view = incident_view(d, w, &clock);
        match months.last_mut() {
            Some((m, list)) if *m == month => list.push(view),
            _ => months.push((month, vec![view])),
        }
        let updates = w
            .updates
            .iter()
            .rev()
            .map(|u| UpdateView {
                status: u.status.label(),
                body: u.body.clone(),
                when: clock.at(u.created_at),
            })
            .collect();
        let page = IncidentHtml {
            v: &v,
            i: incident_view(d, w, &clock),
            updates,
        }
        .render()
        .unwrap_or_default();
        docs.insert(
            format!("incidents/{}", w.incident.code),
            Doc::new("text/html; charset=utf-8", page),
        );
    }
    let history = HistoryHtml { v: &v, months }.render().unwrap_or_default();
    docs.insert(
        "history".into(),
        Doc::new("text/html; charset=utf-8", history),
    );

    for (path, json) in v2::documents(d) {
        let body = serde_json::to_vec(&json).unwrap_or_default();
        docs.insert(path.into(), Doc::new("application/json", body));
    }
    feeds::add(&mut docs, d, &tz);
    docs
}
