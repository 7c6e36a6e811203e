//! Runbooks' operations, shared by the REST API, the web pages and `klaxon runbooks sync`:
//! saving a version (checked whole first), restoring an old one, syncing a directory's files,
//! and the runbooks an incident should show.
use std::collections::BTreeMap;

use klaxon_domain::auth::Role;
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{IncidentId, RunbookId, ServiceId, UserId};
use klaxon_domain::runbook::{self, Runbook};
use klaxon_store::{AlertFilter, RunbookRecord, RunbookVersion, StoreError, VersionInfo};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::shared::crypto::{hex, random_bytes, sha256};
use crate::shared::error::{ApiError, ApiResult};
use crate::shared::state::AppState;
use crate::shared::terms::{self, At};

/// Who saves: their actor on the timeline, their name kept with the version, and their role
/// (command steps are for admins).
#[derive(Debug, Clone)]
pub struct Author {
    pub actor: Actor,
    pub user_id: UserId,
    pub name: String,
    /// Their e-mail address: an approval step may name it.
    pub email: String,
    pub role: Role,
}

/// Which runbook a save is for.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// A new one: its name must be free.
    New,
    /// This one, on top of `base` when given (the version the editor started from).
    Existing { id: RunbookId, base: Option<i32> },
    /// The one its name names, made when there is none (a directory sync).
    ByName,
}

pub use crate::shared::changes::Outcome;

#[derive(Debug, Clone)]
pub struct Saved {
    pub record: RunbookRecord,
    pub outcome: Outcome,
}

/// The source as kept: line ends made `\n`, so a file from Windows has the same digest.
pub fn normalize(source: &str) -> String {
    source.replace("\r\n", "\n")
}

/// The SHA-256 of a source as kept, hex: a version's digest, which runners check.
pub fn digest(source: &str) -> String {
    hex(&sha256(normalize(source).as_bytes()))
}

/// Parses a source, naming the place of a refusal.
pub fn parse(source: &str, fallback_name: Option<&str>) -> ApiResult<Runbook> {
    Ok(runbook::parse(source, fallback_name)?)
}

/// The services a runbook names, as ids; one that does not exist is refused by its place.
async fn services(state: &AppState, rb: &Runbook) -> ApiResult<Vec<ServiceId>> {
    let mut out = Vec::new();
    for (i, name) in rb.services.iter().enumerate() {
        let at = format!("front_matter.services[{i}]");
        let id = terms::service(state, name, At::Field(&at)).await?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out.sort();
    Ok(out)
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { constraint } if constraint.contains("version") => {
            ApiError::Conflict {
                message: "source: another version was saved meanwhile; reload, then save again"
                    .into(),
                field: Some("source".into()),
            }
        }
        StoreError::Conflict { .. } => ApiError::Conflict {
            message: "front_matter.name: another runbook has that name".into(),
            field: Some("front_matter.name".into()),
        },
        e => ApiError::or_not_found("runbook")(e),
    }
}

/// Why only an admin may save this runbook, if so: its commands run on the operator's hosts,
/// and whoever writes a step that names a secret decides where the secret goes.
fn admins_only(rb: &Runbook) -> Option<&'static str> {
    if rb.has_commands() {
        Some("with command steps")
    } else if rb.uses_secrets() {
        Some("whose steps name secrets")
    } else {
        None
    }
}

/// Checks and saves a version of a runbook. Refused: a document that does not parse (400,
/// naming the place), an unknown service (400), command steps from anyone but an admin
/// (403), a name taken by another runbook or a version saved meanwhile (409).
pub async fn save(
    state: &AppState,
    who: &Author,
    source: &str,
    message: &str,
    target: Target,
    fallback_name: Option<&str>,
) -> ApiResult<Saved> {
    let source = normalize(source);
    let rb = parse(&source, fallback_name)?;
    if let Some(why) = admins_only(&rb)
        && who.role < Role::Admin
    {
        return Err(ApiError::Forbidden(format!(
            "only admins save runbooks {why}"
        )));
    }
    let message = message.trim();
    if message.chars().count() > 500 {
        return Err(ApiError::invalid("message", "at most 500 characters"));
    }
    let services = services(state, &rb).await?;
    let now = state.clock.now();
    let existing = match target {
        Target::New => None,
        Target::Existing { id, .. } => Some(state.store.runbook(id).await.map_err(store_error)?),
        Target::ByName => match state.store.runbook_by_name(&rb.name).await {
            Ok(r) => Some(r),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
    };
    let digest = digest(&source);
    let version = |n: i32, id: RunbookId| RunbookVersion {
        info: VersionInfo {
            runbook_id: id,
            version: n,
            digest: digest.clone(),
            author_id: Some(who.user_id),
            author: who.name.clone(),
            message: message.to_owned(),
            created_at: now,
        },
        source: source.clone(),
    };
    let Some(old) = existing else {
        let r = RunbookRecord {
            id: RunbookId::new(now, random_bytes()),
            name: rb.name.clone(),
            title: rb.title.clone(),
            version: 1,
            has_commands: rb.has_commands(),
            services,
            matchers: rb.matchers.clone(),
            created_at: now,
            updated_at: now,
        };
        let e = event(
            &r,
            now,
            who.actor,
            EventKind::RunbookCreated,
            message,
            &digest,
        );
        state
            .store
            .create_runbook(&r, &version(1, r.id), e)
            .await
            .map_err(store_error)?;
        return Ok(Saved {
            record: r,
            outcome: Outcome::Created,
        });
    };
    if let Target::Existing { base: Some(b), .. } = target
        && b != old.version
    {
        return Err(store_error(StoreError::Conflict {
            constraint: "runbooks_version".into(),
        }));
    }
    let latest = state
        .store
        .runbook_version(old.id, old.version)
        .await
        .map_err(store_error)?;
    if latest.info.digest == digest {
        return Ok(Saved {
            record: old,
            outcome: Outcome::Unchanged,
        });
    }
    let r = RunbookRecord {
        name: rb.name.clone(),
        title: rb.title.clone(),
        version: old.version + 1,
        has_commands: rb.has_commands(),
        services,
        matchers: rb.matchers.clone(),
        updated_at: now,
        ..old
    };
    let e = event(
        &r,
        now,
        who.actor,
        EventKind::RunbookVersionSaved,
        message,
        &digest,
    );
    state
        .store
        .add_runbook_version(&r, &version(r.version, r.id), e)
        .await
        .map_err(store_error)?;
    Ok(Saved {
        record: r,
        outcome: Outcome::Updated,
    })
}

fn event(
    r: &RunbookRecord,
    at: jiff::Timestamp,
    actor: Actor,
    kind: EventKind,
    message: &str,
    digest: &str,
) -> NewEvent {
    NewEvent::new(
        SubjectType::Runbook,
        r.id,
        at,
        actor,
        kind,
        json!({"name": r.name, "version": r.version, "message": message, "digest": digest}),
    )
}

/// Saves version `n`'s source again as the newest version.
pub async fn restore(
    state: &AppState,
    who: &Author,
    id: RunbookId,
    n: i32,
    message: &str,
) -> ApiResult<Saved> {
    let old = state
        .store
        .runbook_version(id, n)
        .await
        .map_err(|e| ApiError::or_not_found("runbook version")(e))?;
    let message = match message.trim() {
        "" => format!("Restored version {n}"),
        m => format!("Restored version {n}: {m}"),
    };
    save(
        state,
        who,
        &old.source,
        &message,
        Target::Existing { id, base: None },
        None,
    )
    .await
}

pub async fn delete(state: &AppState, actor: Actor, id: RunbookId) -> ApiResult<()> {
    let r = state.store.runbook(id).await.map_err(store_error)?;
    let e = NewEvent::new(
        SubjectType::Runbook,
        id,
        state.clock.now(),
        actor,
        EventKind::RunbookDeleted,
        json!({"name": r.name, "version": r.version}),
    );
    state.store.delete_runbook(id, e).await.map_err(store_error)
}

/// One file of a directory sync: its path (for the report; its stem names a runbook whose
/// front matter does not) and its text.
#[derive(Debug, Clone, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncFile {
    pub path: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncItem {
    pub path: String,
    pub name: String,
    pub outcome: Outcome,
    /// The version the runbook is at after the sync (unchanged: its latest).
    pub version: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncReport {
    pub dry_run: bool,
    pub files: Vec<SyncItem>,
}

fn stem(path: &str) -> &str {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    file.strip_suffix(".md").unwrap_or(file)
}

/// Imports files as runbooks by name: new names are created, changed files become new
/// versions, the rest is left as it is. Every file is checked before any is written, so a
/// refusal (naming the file) leaves everything as it was; run again, it changes nothing.
pub async fn sync(
    state: &AppState,
    who: &Author,
    files: &[SyncFile],
    message: &str,
    dry_run: bool,
) -> ApiResult<SyncReport> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut planned = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let source = normalize(&f.source);
        let rb = parse(&source, Some(stem(&f.path))).map_err(|e| in_file(i, &f.path, e))?;
        if let Some(other) = names.insert(rb.name.clone(), f.path.clone()) {
            return Err(ApiError::invalid(
                format!("files[{i}]"),
                format!("{}: `{}` is also the name in {other}", f.path, rb.name),
            ));
        }
        if let Some(why) = admins_only(&rb)
            && who.role < Role::Admin
        {
            return Err(ApiError::Forbidden(format!(
                "{}: only admins save runbooks {why}",
                f.path
            )));
        }
        services(state, &rb)
            .await
            .map_err(|e| in_file(i, &f.path, e))?;
        let now = match state.store.runbook_by_name(&rb.name).await {
            Ok(r) => {
                let latest = state.store.runbook_version(r.id, r.version).await?;
                if latest.info.digest == digest(&source) {
                    (Outcome::Unchanged, r.version)
                } else {
                    (Outcome::Updated, r.version + 1)
                }
            }
            Err(StoreError::NotFound) => (Outcome::Created, 1),
            Err(e) => return Err(e.into()),
        };
        planned.push((f, rb.name, now));
    }
    let mut out = Vec::new();
    for (f, name, (outcome, version)) in planned {
        let mut item = SyncItem {
            path: f.path.clone(),
            name,
            outcome,
            version,
        };
        if !dry_run && outcome != Outcome::Unchanged {
            let message = match message.trim() {
                "" => format!("Synced from {}", f.path),
                m => m.to_owned(),
            };
            let saved = save(
                state,
                who,
                &f.source,
                &message,
                Target::ByName,
                Some(stem(&f.path)),
            )
            .await?;
            item.outcome = saved.outcome;
            item.version = saved.record.version;
        }
        out.push(item);
    }
    Ok(SyncReport {
        dry_run,
        files: out,
    })
}

/// A refusal about file `i`, its place prefixed with the file.
fn in_file(i: usize, path: &str, e: ApiError) -> ApiError {
    match e {
        ApiError::BadRequest {
            field: Some(f),
            message,
            ..
        } => {
            let reason = message
                .split_once(": ")
                .map_or(message.as_str(), |(_, r)| r);
            ApiError::invalid(format!("files[{i}].{f}"), format!("{path}: {reason}"))
        }
        other => other,
    }
}

/// Why a runbook is suggested for an incident.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Suggestion {
    pub runbook: RunbookRecordOut,
    /// `service` (it names the incident's service), `alert` (an alert matches), or both.
    pub reasons: Vec<String>,
}

/// A runbook as lists show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunbookRecordOut {
    #[schema(value_type = String, format = Uuid)]
    pub id: RunbookId,
    pub name: String,
    pub title: String,
    pub version: i32,
    pub has_commands: bool,
    #[schema(value_type = Vec<String>)]
    pub services: Vec<ServiceId>,
    pub matchers: Vec<runbook::Matcher>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: jiff::Timestamp,
}

impl From<RunbookRecord> for RunbookRecordOut {
    fn from(r: RunbookRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            title: r.title,
            version: r.version,
            has_commands: r.has_commands,
            services: r.services,
            matchers: r.matchers,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// How many of an incident's alerts (newest first) are matched against runbooks' matchers.
const ALERTS_MATCHED: u32 = 200;

/// The runbooks for an incident: those naming its service, and those one of its alerts
/// matches, by title.
pub async fn suggestions(state: &AppState, incident: IncidentId) -> ApiResult<Vec<Suggestion>> {
    Ok(for_incident(state, incident).await?.0)
}

/// [`suggestions`], and every other runbook (by title): the incident page offers those too.
pub async fn for_incident(
    state: &AppState,
    incident: IncidentId,
) -> ApiResult<(Vec<Suggestion>, Vec<RunbookRecord>)> {
    let inc = state
        .store
        .incident(incident)
        .await
        .map_err(ApiError::or_not_found("incident"))?;
    let all = state.store.list_runbooks().await?;
    let alerts = if all.iter().any(|r| !r.matchers.is_empty()) {
        let filter = AlertFilter {
            incident_id: Some(incident),
            ..AlertFilter::default()
        };
        state
            .store
            .list_alerts(&filter, None, ALERTS_MATCHED)
            .await?
            .items
    } else {
        Vec::new()
    };
    let fields: Vec<_> = alerts
        .iter()
        .map(|a| {
            (
                runbook::alert_fields(&a.content, &a.dedup_key),
                &a.content.details,
            )
        })
        .collect();
    let mut others = Vec::new();
    let mut out: Vec<Suggestion> = all
        .into_iter()
        .filter_map(|r| {
            let mut reasons = Vec::new();
            if inc.service_id.is_some_and(|s| r.services.contains(&s)) {
                reasons.push("service".to_owned());
            }
            if r.matchers
                .iter()
                .any(|m| fields.iter().any(|(f, d)| m.matches(f, d)))
            {
                reasons.push("alert".to_owned());
            }
            if reasons.is_empty() {
                others.push(r);
                return None;
            }
            Some(Suggestion {
                runbook: r.into(),
                reasons,
            })
        })
        .collect();
    out.sort_by(|a, b| a.runbook.title.cmp(&b.runbook.title));
    others.sort_by(|a, b| a.title.cmp(&b.title));
    Ok((out, others))
}
