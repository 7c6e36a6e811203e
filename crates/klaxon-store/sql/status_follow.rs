//! Components that follow their checks, set inside the transaction that changed what they
//! follow (a check's state, its service or `enabled`, a check created or deleted, a component
//! starting to follow, a maintenance completing), so that no crash or second instance can leave
//! one behind its checks.
//!
//! On PostgreSQL the components are locked (in id order) before their checks' states are read:
//! two checks of one component changing at once on two instances are then applied one after
//! the other, and the second reads the first's state. Pages' revisions are bumped last, after
//! every component lock is held, so this never waits on a component while holding a page.
use std::collections::{BTreeSet, HashMap, HashSet};

use jiff::Timestamp;
use klaxon_domain::check::CheckState;
use klaxon_domain::event::Actor;
use klaxon_domain::ids::{ComponentId, ServiceId, StatusPageId};
use klaxon_domain::status::{self as domain, ComponentStatus, follow};
use klaxon_store::*;
use serde_json::json;
use sqlx::Transaction;

use super::engine::insert_event;
use super::status::{bump, component_notice, set_status};
use super::subscribers::queue;
use super::*;

/// Which following components to bring in line with their checks.
pub(super) enum Followers<'a> {
    /// Those depending on any of these services (a check's change).
    OfServices(&'a [ServiceId]),
    /// These, if they follow (a component changed, a maintenance completed).
    Components(&'a [ComponentId]),
}

struct Follower {
    id: ComponentId,
    code: String,
    name: String,
    page: StatusPageId,
    status: ComponentStatus,
}

/// Sets each following component in scope to the status its checks call for, unless planned
/// maintenance holds it; components without checks are left alone.
pub(super) async fn follow_checks(
    tx: &mut Transaction<'_, Db>,
    scope: Followers<'_>,
    at: Timestamp,
) -> StoreResult<()> {
    let rows = match scope {
        Followers::OfServices([]) | Followers::Components([]) => return Ok(()),
        Followers::OfServices(services) => {
            sqlx::query(concat!(
                "SELECT id, code, name, page_id, status FROM status_components
                 WHERE follow_checks AND id IN (
                     SELECT component_id FROM status_component_services WHERE service_id ",
                in_list!("$1"),
                ") ORDER BY id",
                for_no_key_update!()
            ))
            .bind(db_ids(services))
            .fetch_all(&mut **tx)
            .await
        }
        Followers::Components(ids) => {
            sqlx::query(concat!(
                "SELECT id, code, name, page_id, status FROM status_components
                 WHERE follow_checks AND id ",
                in_list!("$1"),
                " ORDER BY id",
                for_no_key_update!()
            ))
            .bind(db_ids(ids))
            .fetch_all(&mut **tx)
            .await
        }
    }
    .map_err(map_err)?;
    if rows.is_empty() {
        return Ok(());
    }
    let followers = rows
        .iter()
        .map(|r| {
            Ok(Follower {
                id: get_id(r, "id")?,
                code: get(r, "code")?,
                name: get(r, "name")?,
                page: get_id(r, "page_id")?,
                status: get_parsed(r, "status")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let ids: Vec<ComponentId> = followers.iter().map(|f| f.id).collect();
    // Read after the locks: on PostgreSQL each statement sees what committed before it began.
    let states = sqlx::query(concat!(
        "SELECT s.component_id, k.state FROM status_component_services s
         JOIN checks k ON k.service_id = s.service_id
         WHERE k.enabled AND s.component_id ",
        in_list!("$1")
    ))
    .bind(db_ids(&ids))
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?;
    let mut by: HashMap<ComponentId, Vec<CheckState>> = HashMap::new();
    for r in &states {
        by.entry(get_id(r, "component_id")?)
            .or_default()
            .push(get_parsed(r, "state")?);
    }
    let held: HashSet<ComponentId> = sqlx::query_scalar::<_, DbUuid>(concat!(
        "SELECT DISTINCT l.component_id FROM status_incident_components l
         JOIN status_incidents i ON i.id = l.status_incident_id
         WHERE i.maintenance AND i.status IN ('in_progress', 'verifying')
           AND l.component_id ",
        in_list!("$1")
    ))
    .bind(db_ids(&ids))
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?
    .into_iter()
    .map(id_from)
    .collect::<StoreResult<_>>()?;
    let mut moves = Vec::new();
    for f in &followers {
        let checks = by.get(&f.id).map_or(&[][..], Vec::as_slice);
        if let Some(to) = follow::next(f.status, held.contains(&f.id), checks) {
            set_status(tx, f.id, to, at).await?;
            moves.push((f, to));
        }
    }
    // The pages' rows before the events, in one order: changes to one page take their event
    // numbers in commit order (subscribers hear of them in that order), and two transactions
    // never wait on each other's pages.
    let pages: BTreeSet<_> = moves.iter().map(|(f, _)| f.page).collect();
    for page in &pages {
        bump(tx, *page).await?;
    }
    for (f, to) in moves {
        let mut e = domain::component_updated(
            f.page,
            at,
            Actor::System,
            &f.code,
            &f.name,
            Some((f.status, to)),
        );
        e.data["via"] = json!("checks");
        let seq = insert_event(tx, &e).await?;
        // Webhook subscribers hear of it as of a person's change.
        let change = (f.id, f.status, to);
        queue(tx, &component_notice(f.page, seq, &f.code, change, at)).await?;
    }
    Ok(())
}
