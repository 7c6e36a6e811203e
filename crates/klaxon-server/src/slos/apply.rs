//! Applying a file of OpenSLO documents: each SLO, known by its service and name, is created,
//! updated or left alone. The whole file is checked (as the API checks one SLO) before
//! anything is written, so a bad document leaves everything as it was.
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use axum::http::header;
use axum::response::{IntoResponse, Response};
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{ServiceId, SloId};
use klaxon_domain::slo::{self, Slo};
use serde::Serialize;
use utoipa::ToSchema;

use super::api;
use super::openslo::{self, Wanted};
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

pub use crate::shared::changes::Outcome;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Applied {
    /// The service as the file names it.
    pub service: String,
    pub name: String,
    /// None for an SLO a dry run would create.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub id: Option<SloId>,
    pub result: Outcome,
    /// For `updated`: the fields that changed (`description`, `objective`, `window`,
    /// `time_zone`, `sli`, `at_risk`, `rules`).
    pub changed: Vec<String>,
    /// The SLO's document in the file (`documents[0]`).
    pub document: String,
}

impl Applied {
    /// One line for people: `created checkout/availability`, `updated checkout/latency
    /// (objective, rules)`.
    pub fn line(&self) -> String {
        let mut out = format!("{} {}/{}", self.result.as_str(), self.service, self.name);
        if !self.changed.is_empty() {
            out += &format!(" ({})", self.changed.join(", "));
        }
        out
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplyReport {
    /// True when nothing was written.
    pub dry_run: bool,
    /// Each SLO of the file, in its order.
    pub slos: Vec<Applied>,
}

enum Step {
    Create(Slo),
    Update(Box<Slo>, Slo),
    Keep,
}

/// The fields that differ between `old` and `new`, named as the API names them. A rule's
/// `budget_spent` follows from its rate, so only what is written down is compared.
fn changes(old: &Slo, new: &Slo) -> Vec<String> {
    let (ow, otz) = api::window_spelling(&old.window);
    let (nw, ntz) = api::window_spelling(&new.window);
    let rule = |s: &Slo| -> Vec<_> {
        s.rules
            .iter()
            .map(|r| {
                let r = &r.rule;
                (r.name.clone(), r.urgency, r.long, r.short, r.rate)
            })
            .collect()
    };
    [
        ("description", old.description != new.description),
        ("objective", old.objective != new.objective),
        ("window", ow != nw),
        ("time_zone", otz != ntz),
        ("sli", old.sli != new.sli),
        ("at_risk", old.at_risk != new.at_risk),
        ("rules", rule(old) != rule(new)),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(f, _)| f.to_owned())
    .collect()
}

/// Applies `text`, a file of OpenSLO v1 documents; with `dry_run`, only says what it would do.
pub async fn apply_with(
    state: &AppState,
    actor: Actor,
    text: &str,
    dry_run: bool,
) -> ApiResult<ApplyReport> {
    let sources: Vec<&str> = state
        .settings
        .slos
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let parsed = openslo::parse(text, &sources)?;
    for (place, name) in &parsed.services {
        terms::service(state, name, At::Field(place)).await?;
    }
    let mut known: HashMap<ServiceId, Vec<Slo>> = HashMap::new();
    let mut seen: HashSet<(ServiceId, String)> = HashSet::new();
    let mut steps = Vec::new();
    for w in parsed.slos {
        let (step, report) = plan(state, &w, &mut known, &mut seen)
            .await
            .map_err(|e| w.paths.relocate(e))?;
        steps.push((step, report));
    }
    let mut out = Vec::with_capacity(steps.len());
    for (step, mut report) in steps {
        if !dry_run {
            match step {
                Step::Create(s) => {
                    report.id = Some(api::insert(state, actor, s).await?.id);
                }
                Step::Update(old, s) => {
                    api::save(state, actor, &old, s).await?;
                }
                Step::Keep => {}
            }
        }
        out.push(report);
    }
    Ok(ApplyReport { dry_run, slos: out })
}

/// What to do for one wanted SLO, checked as the API would check it.
async fn plan(
    state: &AppState,
    w: &Wanted,
    known: &mut HashMap<ServiceId, Vec<Slo>>,
    seen: &mut HashSet<(ServiceId, String)>,
) -> ApiResult<(Step, Applied)> {
    let n = &w.input;
    let service = terms::service(state, &n.service, At::Field("service")).await?;
    let name = slo::name(&n.name)?;
    if !seen.insert((service, name.clone())) {
        return Err(ApiError::invalid(
            "name",
            "another document of the file defines this service's SLO of this name",
        ));
    }
    if let Entry::Vacant(e) = known.entry(service) {
        e.insert(state.store.list_slos(Some(service)).await?);
    }
    let old = known
        .get(&service)
        .and_then(|l| l.iter().find(|s| s.name == name))
        .cloned();
    let mut report = Applied {
        service: n.service.clone(),
        name,
        id: None,
        result: Outcome::Unchanged,
        changed: Vec::new(),
        document: w.paths.doc().to_owned(),
    };
    let step = match old {
        None => {
            let input = api::NewSlo {
                service: service.to_string(),
                ..n.clone()
            };
            report.result = Outcome::Created;
            Step::Create(api::check_new(state, input).await?)
        }
        Some(old) => {
            report.id = Some(old.id);
            let new = api::check_patch(state, &old, w.patch(&old)).await?;
            report.changed = changes(&old, &new);
            if report.changed.is_empty() {
                Step::Keep
            } else {
                report.result = Outcome::Updated;
                Step::Update(Box::new(old), new)
            }
        }
    };
    Ok((step, report))
}

/// `slos` as one OpenSLO file, each under its service's name.
pub async fn export_with(state: &AppState, slos: &[Slo]) -> ApiResult<String> {
    let mut names: HashMap<ServiceId, String> = HashMap::new();
    for s in slos {
        if let Entry::Vacant(e) = names.entry(s.service_id) {
            let svc = state
                .store
                .service(s.service_id)
                .await
                .map_err(ApiError::or_not_found("service"))?;
            e.insert(svc.name);
        }
    }
    openslo::export_all(slos.iter().map(|s| (s, names[&s.service_id].as_str())))
}

/// YAML as an answer; `download` names the file a browser saves it as. Never rendered in
/// place: it carries people's text.
pub fn yaml_answer(body: String, download: Option<&str>) -> Response {
    let mut resp = (
        [
            (header::CONTENT_TYPE, "application/yaml; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
        ],
        body,
    )
        .into_response();
    if let Some(name) = download
        && let Ok(v) = format!("attachment; filename=\"{name}\"").parse()
    {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
