//! Atlassian Statuspage's public API v2, field for field: ids are the 12-character codes,
//! times carry milliseconds in the page's offset, and fields without a value are `null`, never
//! left out. Built from a snapshot, not from the database.
use jiff::Timestamp;
use jiff::tz::TimeZone;
use klaxon_domain::status::{ComponentStatus, PublicStatus, overall};
use klaxon_store::{Component, StatusIncidentWithUpdates};
use serde_json::{Value, json};

use super::snapshot::PageData;

/// `2022-02-15T13:37:37.407-08:00`.
pub fn time(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

fn opt_time(at: Option<Timestamp>, tz: &TimeZone) -> Value {
    at.map_or(Value::Null, |t| Value::String(time(t, tz)))
}

struct Ctx<'a> {
    d: &'a PageData,
    tz: TimeZone,
}

impl Ctx<'_> {
    fn t(&self, at: Timestamp) -> String {
        time(at, &self.tz)
    }

    fn page(&self) -> Value {
        let p = &self.d.page;
        json!({
            "id": p.code,
            "name": p.name,
            "url": self.d.url,
            "time_zone": p.time_zone,
            "updated_at": self.t(self.d.updated_at),
        })
    }

    fn component(&self, c: &Component) -> Value {
        let mut v = json!({
            "id": c.code,
            "name": c.name,
            "status": c.status.as_str(),
            "created_at": self.t(c.created_at),
            "updated_at": self.t(c.updated_at),
            "position": c.position,
            "description": c.description,
            "showcase": c.show_uptime,
            "start_date": c.created_at.to_zoned(self.tz.clone()).date().to_string(),
            "group_id": c.group_id.and_then(|g| self.d.components.iter().find(|x| x.id == g)).map(|g| g.code.clone()),
            "page_id": self.d.page.code,
            "group": c.is_group,
            "only_show_if_degraded": c.only_show_if_degraded,
        });
        if c.is_group {
            v["components"] = self
                .d
                .components
                .iter()
                .filter(|m| m.group_id == Some(c.id))
                .map(|m| Value::String(m.code.clone()))
                .collect();
        }
        v
    }

    fn incident(&self, w: &StatusIncidentWithUpdates) -> Value {
        let i = &w.incident;
        let updates: Vec<Value> = w
            .updates
            .iter()
            .rev()
            .map(|u| {
                let affected: Value = if u.changes.is_empty() {
                    Value::Null
                } else {
                    u.changes
                        .iter()
                        .map(|c| {
                            json!({"code": c.code, "name": c.name,
                                "old_status": c.old_status.as_str(), "new_status": c.new_status.as_str()})
                        })
                        .collect()
                };
                json!({
                    "id": u.code,
                    "status": u.status.as_str(),
                    "body": u.body,
                    "incident_id": i.code,
                    "created_at": self.t(u.created_at),
                    "updated_at": self.t(u.created_at),
                    "display_at": self.t(u.created_at),
                    "affected_components": affected,
                    "deliver_notifications": true,
                    "custom_tweet": null,
                    "tweet_id": null,
                })
            })
            .collect();
        let components: Vec<Value> = i
            .component_ids
            .iter()
            .filter_map(|id| self.d.components.iter().find(|c| c.id == *id))
            .map(|c| self.component(c))
            .collect();
        let mut v = json!({
            "id": i.code,
            "name": i.name,
            "status": i.status.as_str(),
            "created_at": self.t(i.created_at),
            "updated_at": self.t(i.updated_at),
            "monitoring_at": opt_time(i.monitoring_at, &self.tz),
            "resolved_at": opt_time(i.resolved_at, &self.tz),
            "impact": i.impact.as_str(),
            "shortlink": format!("{}/incidents/{}", self.d.url, i.code),
            "started_at": self.t(i.started_at),
            "page_id": self.d.page.code,
            "incident_updates": updates,
            "components": components,
            // Statuspage's postmortem fields: the public summary a person attached.
            "postmortem_body": i.postmortem.as_ref().map(|p| p.body.clone()),
            "postmortem_published_at": opt_time(i.postmortem.as_ref().map(|p| p.published_at), &self.tz),
        });
        if i.maintenance {
            v["scheduled_for"] = opt_time(i.scheduled_for, &self.tz);
            v["scheduled_until"] = opt_time(i.scheduled_until, &self.tz);
        }
        v
    }

    fn status(&self) -> Value {
        let o = self.d.overall();
        json!({"indicator": o.indicator.as_str(), "description": o.description})
    }

    fn incidents<'i>(
        &self,
        keep: impl Fn(&StatusIncidentWithUpdates) -> bool + 'i,
        limit: usize,
    ) -> Vec<Value> {
        self.d
            .incidents
            .iter()
            .filter(|w| keep(w))
            .take(limit)
            .map(|w| self.incident(w))
            .collect()
    }
}

impl PageData {
    /// The page's overall status, from its components and its open incidents.
    pub fn overall(&self) -> klaxon_domain::status::Overall {
        let statuses: Vec<ComponentStatus> = self
            .components
            .iter()
            .filter(|c| !c.is_group)
            .map(|c| c.status)
            .collect();
        let impacts: Vec<_> = self
            .incidents
            .iter()
            .filter(|w| !w.incident.maintenance && w.incident.status.is_current())
            .map(|w| w.incident.impact)
            .collect();
        overall(&statuses, &impacts)
    }
}

fn is_maintenance(w: &StatusIncidentWithUpdates) -> bool {
    w.incident.maintenance
}

fn maintenance_in(w: &StatusIncidentWithUpdates, f: fn(PublicStatus) -> bool) -> bool {
    w.incident.maintenance && f(w.incident.status)
}

/// Every v2 document of the page: (path under the page, JSON).
pub fn documents(d: &PageData) -> Vec<(&'static str, Value)> {
    let tz = TimeZone::get(&d.page.time_zone).unwrap_or(TimeZone::UTC);
    let c = Ctx { d, tz };
    let components: Vec<Value> = d.components.iter().map(|x| c.component(x)).collect();
    let unresolved = c.incidents(
        |w| !w.incident.maintenance && w.incident.status.is_current(),
        usize::MAX,
    );
    let upcoming_or_active = |s: PublicStatus| matches!(s, PublicStatus::Maintenance(m) if m != klaxon_domain::status::MaintenanceStatus::Completed);
    let upcoming = |s: PublicStatus| {
        matches!(
            s,
            PublicStatus::Maintenance(klaxon_domain::status::MaintenanceStatus::Scheduled)
        )
    };
    let active = |s: PublicStatus| matches!(s, PublicStatus::Maintenance(m) if m.is_active());
    let page = c.page();
    let status = c.status();
    vec![
        (
            "api/v2/summary.json",
            json!({
                "page": page,
                "components": components,
                "incidents": unresolved,
                "scheduled_maintenances": c.incidents(|w| maintenance_in(w, upcoming_or_active), usize::MAX),
                "status": status,
            }),
        ),
        (
            "api/v2/status.json",
            json!({"page": page, "status": status}),
        ),
        (
            "api/v2/components.json",
            json!({"page": page, "components": components}),
        ),
        (
            "api/v2/incidents.json",
            json!({"page": page, "incidents": c.incidents(|w| !is_maintenance(w), 50)}),
        ),
        (
            "api/v2/incidents/unresolved.json",
            json!({"page": page, "incidents": unresolved}),
        ),
        (
            "api/v2/scheduled-maintenances.json",
            json!({"page": page, "scheduled_maintenances": c.incidents(is_maintenance, 50)}),
        ),
        (
            "api/v2/scheduled-maintenances/upcoming.json",
            json!({"page": page, "scheduled_maintenances": c.incidents(|w| maintenance_in(w, upcoming), usize::MAX)}),
        ),
        (
            "api/v2/scheduled-maintenances/active.json",
            json!({"page": page, "scheduled_maintenances": c.incidents(|w| maintenance_in(w, active), usize::MAX)}),
        ),
    ]
}

/// The `page` object of a subscriber webhook.
pub fn webhook_page(d: &PageData) -> Value {
    let o = d.overall();
    json!({
        "id": d.page.code,
        "status_indicator": o.indicator.as_str(),
        "status_description": o.description,
    })
}

/// An incident as a subscriber webhook carries it: the v2 incident with the updates up to
/// `upto` (the one the webhook tells of; `None`: all, as it now stands), not later ones, and
/// Statuspage's extra fields; its postmortem if it was attached by `told_at` (when the notice
/// was queued).
pub fn webhook_incident(
    d: &PageData,
    w: &StatusIncidentWithUpdates,
    upto: Option<&klaxon_store::StatusUpdate>,
    told_at: Timestamp,
) -> Value {
    let ctx = Ctx {
        d,
        tz: TimeZone::get(&d.page.time_zone).unwrap_or(TimeZone::UTC),
    };
    let mut w = w.clone();
    if w.incident
        .postmortem
        .as_ref()
        .is_some_and(|p| p.published_at > told_at)
    {
        w.incident.postmortem = None;
    }
    // Updates are kept in the order they were written.
    if let Some(upto) = upto
        && let Some(pos) = w.updates.iter().position(|u| u.id == upto.id)
    {
        w.updates.truncate(pos + 1);
    }
    let i = &w.incident;
    let mut v = ctx.incident(&w);
    v["backfilled"] = json!(false);
    v["impact_override"] = Value::Null;
    v["scheduled_remind_prior"] = json!(i.remind_minutes.is_some());
    v["scheduled_reminded_at"] = Value::Null;
    v["scheduled_auto_in_progress"] = json!(i.maintenance);
    v["scheduled_auto_completed"] = json!(i.maintenance);
    if !i.maintenance {
        v["scheduled_for"] = Value::Null;
        v["scheduled_until"] = Value::Null;
    }
    // The incident as it stood at that update.
    if let Some(upto) = upto {
        v["status"] = json!(upto.status.as_str());
        v["updated_at"] = json!(ctx.t(upto.created_at));
    }
    v
}

/// A component as a subscriber webhook carries it, and its `component_update`.
pub fn webhook_component(
    d: &PageData,
    c: &Component,
    old: ComponentStatus,
    new: ComponentStatus,
    at: Timestamp,
    update_code: &str,
) -> (Value, Value) {
    let ctx = Ctx {
        d,
        tz: TimeZone::get(&d.page.time_zone).unwrap_or(TimeZone::UTC),
    };
    let mut comp = ctx.component(c);
    comp["status"] = json!(new.as_str());
    let update = json!({
        "old_status": old.as_str(),
        "new_status": new.as_str(),
        "created_at": ctx.t(at),
        "component_type": "Component",
        "id": update_code,
        "component_id": c.code,
    });
    (comp, update)
}
