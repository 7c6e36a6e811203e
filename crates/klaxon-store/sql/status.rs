//! Status pages: pages, components and their status intervals, public incidents and
//! maintenances with their updates. Every change a reader can see bumps the page's revision.
use std::collections::HashMap;

use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::clock::to_millis;
use klaxon_domain::event::{NewEvent, SubjectType};
use klaxon_domain::ids::{ComponentId, IncidentId, ServiceId, StatusIncidentId, StatusPageId};
use klaxon_domain::status::{ComponentStatus, MaintenanceStatus, PublicStatus};
use klaxon_store::*;
use sqlx::Transaction;

use super::engine::insert_event;
use super::status_follow::{Followers, follow_checks};
use super::subscribers::{About, queue};
use super::*;

fn page_from(row: &DbRow) -> StoreResult<StatusPage> {
    let visibility: String = get(row, "visibility")?;
    Ok(StatusPage {
        id: get_id(row, "id")?,
        code: get(row, "code")?,
        name: get(row, "name")?,
        slug: get(row, "slug")?,
        hostname: get(row, "hostname")?,
        logo_url: get(row, "logo_url")?,
        accent_color: get(row, "accent_color")?,
        time_zone: get(row, "time_zone")?,
        footer_links: from_json(row, "footer_links")?,
        visibility: Visibility::parse(&visibility)
            .ok_or_else(|| corrupt("visibility", &visibility))?,
        password_hash: get(row, "password_hash")?,
        partial_outage_weight: get(row, "partial_outage_weight")?,
        revision: get(row, "revision")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn component_from(row: &DbRow) -> StoreResult<Component> {
    Ok(Component {
        id: get_id(row, "id")?,
        code: get(row, "code")?,
        page_id: get_id(row, "page_id")?,
        group_id: opt_id(row, "group_id")?,
        is_group: get(row, "is_group")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        position: get(row, "position")?,
        status: get_parsed(row, "status")?,
        only_show_if_degraded: get(row, "only_show_if_degraded")?,
        show_uptime: get(row, "show_uptime")?,
        service_ids: Vec::new(),
        follow_checks: get(row, "follow_checks")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

fn status_of(row: &DbRow, maintenance: bool) -> StoreResult<PublicStatus> {
    let s: String = get(row, "status")?;
    PublicStatus::parse(maintenance, &s).map_err(|_| corrupt("status", &s))
}

fn incident_from(row: &DbRow) -> StoreResult<StatusIncident> {
    let maintenance: bool = get(row, "maintenance")?;
    Ok(StatusIncident {
        id: get_id(row, "id")?,
        code: get(row, "code")?,
        page_id: get_id(row, "page_id")?,
        incident_id: opt_id(row, "incident_id")?,
        maintenance,
        name: get(row, "name")?,
        status: status_of(row, maintenance)?,
        impact: get_parsed(row, "impact")?,
        scheduled_for: get_opt_ts(row, "scheduled_for")?,
        scheduled_until: get_opt_ts(row, "scheduled_until")?,
        next_update_at: get_opt_ts(row, "next_update_at")?,
        remind_minutes: get(row, "remind_minutes")?,
        reminded: get(row, "reminded")?,
        component_ids: Vec::new(),
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        started_at: get_ts(row, "started_at")?,
        monitoring_at: get_opt_ts(row, "monitoring_at")?,
        resolved_at: get_opt_ts(row, "resolved_at")?,
        postmortem: match get_opt_ts(row, "postmortem_published_at")? {
            Some(published_at) => Some(PublicPostmortem {
                body: get::<Option<String>>(row, "postmortem_body")?.unwrap_or_default(),
                published_at,
            }),
            None => None,
        },
    })
}

fn update_from(row: &DbRow, maintenance: bool) -> StoreResult<StatusUpdate> {
    Ok(StatusUpdate {
        id: get_id(row, "id")?,
        code: get(row, "code")?,
        status_incident_id: get_id(row, "status_incident_id")?,
        status: status_of(row, maintenance)?,
        body: get(row, "body")?,
        changes: from_json(row, "changes")?,
        next_update_at: get_opt_ts(row, "next_update_at")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// The page of a component or public incident (`sql` selects `page_id` by `id = $1`), locked
/// in the transaction's snapshot; `NotFound` if it is gone.
async fn page_of(
    tx: &mut Transaction<'_, Db>,
    sql: &'static str,
    id: impl DbId,
) -> StoreResult<StatusPageId> {
    let page: Option<DbUuid> = sqlx::query_scalar(sql)
        .bind(db_id(id))
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    id_from(page.ok_or(StoreError::NotFound)?)
}

/// Public incidents from their rows, with their components (their updates are read and left).
async fn incidents_only(pool: &sqlx::Pool<Db>, rows: &[DbRow]) -> StoreResult<Vec<StatusIncident>> {
    let all = rows
        .iter()
        .map(incident_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(with_parts(pool, all)
        .await?
        .into_iter()
        .map(|w| w.incident)
        .collect())
}

/// Tells readers' snapshots that `page` changed.
pub(super) async fn bump(tx: &mut Transaction<'_, Db>, page: StatusPageId) -> StoreResult<()> {
    sqlx::query("UPDATE status_pages SET revision = revision + 1 WHERE id = $1")
        .bind(db_id(page))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Moves a component to `status` at `at`: closes its open interval and opens another. A
/// status it already has changes nothing.
pub(super) async fn set_status(
    tx: &mut Transaction<'_, Db>,
    id: ComponentId,
    status: ComponentStatus,
    at: Timestamp,
) -> StoreResult<()> {
    let n = sqlx::query(
        "UPDATE status_components SET status = $2, updated_at = $3 WHERE id = $1 AND status <> $2",
    )
    .bind(db_id(id))
    .bind(status.as_str())
    .bind(to_millis(at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?
    .rows_affected();
    if n == 0 {
        return Ok(());
    }
    sqlx::query(
        "UPDATE status_intervals SET ended_at = $2 WHERE component_id = $1 AND ended_at IS NULL",
    )
    .bind(db_id(id))
    .bind(to_millis(at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    open_interval(tx, id, status, at).await
}

async fn open_interval(
    tx: &mut Transaction<'_, Db>,
    id: ComponentId,
    status: ComponentStatus,
    at: Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO status_intervals (component_id, status, started_at) VALUES ($1, $2, $3)",
    )
    .bind(db_id(id))
    .bind(status.as_str())
    .bind(to_millis(at))
    .execute(&mut **tx)
    .await
    .map_err(fk_not_found)?;
    Ok(())
}

async fn set_services(
    tx: &mut Transaction<'_, Db>,
    id: ComponentId,
    services: &[ServiceId],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM status_component_services WHERE component_id = $1")
        .bind(db_id(id))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    for s in services {
        sqlx::query(
            "INSERT INTO status_component_services (component_id, service_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(db_id(id))
        .bind(db_id(*s))
        .execute(&mut **tx)
        .await
        .map_err(fk_not_found)?;
    }
    Ok(())
}

/// Fills in components' services, in one query.
async fn with_services(
    pool: &sqlx::Pool<Db>,
    mut components: Vec<Component>,
) -> StoreResult<Vec<Component>> {
    if components.is_empty() {
        return Ok(components);
    }
    let ids: Vec<ComponentId> = components.iter().map(|c| c.id).collect();
    let rows = sqlx::query(concat!(
        "SELECT component_id, service_id FROM status_component_services WHERE component_id ",
        in_list!("$1"),
        " ORDER BY service_id"
    ))
    .bind(db_ids(&ids))
    .fetch_all(pool)
    .await
    .map_err(map_err)?;
    let mut by: HashMap<ComponentId, Vec<ServiceId>> = HashMap::new();
    for r in &rows {
        by.entry(get_id(r, "component_id")?)
            .or_default()
            .push(get_id(r, "service_id")?);
    }
    for c in &mut components {
        c.service_ids = by.remove(&c.id).unwrap_or_default();
    }
    Ok(components)
}

/// Applies an update's component changes and writes the incident's component list.
async fn write_incident_parts(
    tx: &mut Transaction<'_, Db>,
    incident: &StatusIncident,
    update: &StatusUpdate,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM status_incident_components WHERE status_incident_id = $1")
        .bind(db_id(incident.id))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    for c in &incident.component_ids {
        sqlx::query(
            "INSERT INTO status_incident_components (status_incident_id, component_id)
             SELECT $1, id FROM status_components WHERE id = $2 AND page_id = $3
             ON CONFLICT DO NOTHING",
        )
        .bind(db_id(incident.id))
        .bind(db_id(*c))
        .bind(db_id(incident.page_id))
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    }
    for ch in &update.changes {
        set_status(tx, ch.component_id, ch.new_status, update.created_at).await?;
    }
    sqlx::query(
        "INSERT INTO status_updates (id, code, status_incident_id, status, body, changes,
         next_update_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(db_id(update.id))
    .bind(&update.code)
    .bind(db_id(incident.id))
    .bind(update.status.as_str())
    .bind(&update.body)
    .bind(json(&update.changes))
    .bind(update.next_update_at.map(to_millis))
    .bind(to_millis(update.created_at))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Reads incidents' components and updates, in two queries.
async fn with_parts(
    pool: &sqlx::Pool<Db>,
    incidents: Vec<StatusIncident>,
) -> StoreResult<Vec<StatusIncidentWithUpdates>> {
    if incidents.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<StatusIncidentId> = incidents.iter().map(|i| i.id).collect();
    let links = sqlx::query(concat!(
        "SELECT l.status_incident_id, l.component_id FROM status_incident_components l
         JOIN status_components c ON c.id = l.component_id
         WHERE l.status_incident_id ",
        in_list!("$1"),
        " ORDER BY c.position, c.name"
    ))
    .bind(db_ids(&ids))
    .fetch_all(pool)
    .await
    .map_err(map_err)?;
    let updates = sqlx::query(concat!(
        "SELECT u.*, i.maintenance FROM status_updates u
         JOIN status_incidents i ON i.id = u.status_incident_id
         WHERE u.status_incident_id ",
        in_list!("$1"),
        " ORDER BY u.created_at, u.id"
    ))
    .bind(db_ids(&ids))
    .fetch_all(pool)
    .await
    .map_err(map_err)?;
    let mut comps: HashMap<StatusIncidentId, Vec<ComponentId>> = HashMap::new();
    for r in &links {
        comps
            .entry(get_id(r, "status_incident_id")?)
            .or_default()
            .push(get_id(r, "component_id")?);
    }
    let mut ups: HashMap<StatusIncidentId, Vec<StatusUpdate>> = HashMap::new();
    for r in &updates {
        let maintenance: bool = get(r, "maintenance")?;
        let u = update_from(r, maintenance)?;
        ups.entry(u.status_incident_id).or_default().push(u);
    }
    Ok(incidents
        .into_iter()
        .map(|mut incident| {
            incident.component_ids = comps.remove(&incident.id).unwrap_or_default();
            let updates = ups.remove(&incident.id).unwrap_or_default();
            StatusIncidentWithUpdates { incident, updates }
        })
        .collect())
}

/// Writes an update and the incident's new state; with `from`, only if its status is still
/// that. `false` (nothing written) when no row matched.
async fn write_update(
    store: &DbStore,
    from: Option<PublicStatus>,
    i: StatusIncident,
    u: StatusUpdate,
    events: Vec<NewEvent>,
) -> StoreResult<bool> {
    let mut tx = store.write_tx().await?;
    let n = sqlx::query(
        "UPDATE status_incidents SET name = $2, status = $3, impact = $4,
         scheduled_for = $5, scheduled_until = $6, next_update_at = $7, remind_minutes = $8,
         reminded = $9, updated_at = $10, monitoring_at = $11, resolved_at = $12
         WHERE id = $1 AND ($13 = '' OR status = $13)",
    )
    .bind(db_id(i.id))
    .bind(&i.name)
    .bind(i.status.as_str())
    .bind(i.impact.as_str())
    .bind(i.scheduled_for.map(to_millis))
    .bind(i.scheduled_until.map(to_millis))
    .bind(i.next_update_at.map(to_millis))
    .bind(i.remind_minutes)
    .bind(i.reminded)
    .bind(to_millis(i.updated_at))
    .bind(i.monitoring_at.map(to_millis))
    .bind(i.resolved_at.map(to_millis))
    .bind(from.map_or("", PublicStatus::as_str))
    .execute(&mut *tx)
    .await
    .map_err(map_err)?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    write_incident_parts(&mut tx, &i, &u).await?;
    // Maintenance over: what it held goes back to its checks (it was just set operational).
    if i.status == PublicStatus::Maintenance(MaintenanceStatus::Completed) {
        follow_checks(
            &mut tx,
            Followers::Components(&i.component_ids),
            u.created_at,
        )
        .await?;
    }
    bump(&mut tx, i.page_id).await?;
    write_events(&mut tx, &i, &u, &events).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(true)
}

/// Writes a publication's or update's events and queues its subscribers' notices: the
/// update for everyone who follows the incident's components, and each component change for
/// webhook subscribers of that component, all after the page's own event.
async fn write_events(
    tx: &mut Transaction<'_, Db>,
    i: &StatusIncident,
    u: &StatusUpdate,
    events: &[NewEvent],
) -> StoreResult<()> {
    let mut page_seq = None;
    for e in events {
        let seq = insert_event(tx, e).await?;
        if e.subject_type == SubjectType::StatusPage {
            page_seq = Some(seq);
        }
    }
    let Some(seq) = page_seq else {
        return Ok(());
    };
    let about = About {
        page: i.page_id,
        event_seq: seq,
        kind: NoticeKind::Incident,
        part: "",
        incident: Some(i.id),
        update: Some(u.id),
        change: None,
        only: None,
        at: u.created_at,
    };
    queue(tx, &about).await?;
    for ch in &u.changes {
        let change = (ch.component_id, ch.old_status, ch.new_status);
        queue(
            tx,
            &component_notice(i.page_id, seq, &ch.code, change, u.created_at),
        )
        .await?;
    }
    Ok(())
}

pub(super) fn component_notice(
    page: StatusPageId,
    seq: i64,
    code: &str,
    change: (ComponentId, ComponentStatus, ComponentStatus),
    at: Timestamp,
) -> About<'_> {
    About {
        page,
        event_seq: seq,
        kind: NoticeKind::Component,
        part: code,
        incident: None,
        update: None,
        change: Some(change),
        only: Some(SubscriberKind::Webhook),
        at,
    }
}

#[async_trait]
impl StatusStore for DbStore {
    async fn create_status_page(&self, p: StatusPage, e: NewEvent) -> StoreResult<StatusPage> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO status_pages (id, code, name, slug, hostname, logo_url, accent_color,
             time_zone, footer_links, visibility, password_hash, partial_outage_weight, revision,
             created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14)",
        )
        .bind(db_id(p.id))
        .bind(&p.code)
        .bind(&p.name)
        .bind(&p.slug)
        .bind(&p.hostname)
        .bind(&p.logo_url)
        .bind(&p.accent_color)
        .bind(&p.time_zone)
        .bind(json(&p.footer_links))
        .bind(p.visibility.as_str())
        .bind(&p.password_hash)
        .bind(p.partial_outage_weight)
        .bind(to_millis(p.created_at))
        .bind(to_millis(p.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        self.status_page(p.id).await
    }

    async fn status_page(&self, id: StatusPageId) -> StoreResult<StatusPage> {
        let row = sqlx::query("SELECT * FROM status_pages WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(self.reader())
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        page_from(&row)
    }

    async fn list_status_pages(&self) -> StoreResult<Vec<StatusPage>> {
        sqlx::query("SELECT * FROM status_pages ORDER BY name, id")
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?
            .iter()
            .map(page_from)
            .collect()
    }

    async fn status_pages_named(&self, name: &str) -> StoreResult<Vec<(StatusPageId, String)>> {
        let rows = sqlx::query(
            "SELECT id, name, slug FROM status_pages WHERE lower(name) = lower($1) OR slug = lower($1)",
        )
        .bind(name)
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        // lower() folds more than ASCII on PostgreSQL: the same answer on both, as `named`.
        let mut out = Vec::new();
        for r in &rows {
            let (found, slug): (String, String) = (get(r, "name")?, get(r, "slug")?);
            if found.eq_ignore_ascii_case(name) || slug.eq_ignore_ascii_case(name) {
                out.push((get_id(r, "id")?, found));
            }
        }
        Ok(out)
    }

    async fn update_status_page(&self, p: StatusPage, e: NewEvent) -> StoreResult<StatusPage> {
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "UPDATE status_pages SET name = $2, slug = $3, hostname = $4, logo_url = $5,
             accent_color = $6, time_zone = $7, footer_links = $8, visibility = $9,
             password_hash = $10, partial_outage_weight = $11, updated_at = $12,
             revision = revision + 1
             WHERE id = $1",
        )
        .bind(db_id(p.id))
        .bind(&p.name)
        .bind(&p.slug)
        .bind(&p.hostname)
        .bind(&p.logo_url)
        .bind(&p.accent_color)
        .bind(&p.time_zone)
        .bind(json(&p.footer_links))
        .bind(p.visibility.as_str())
        .bind(&p.password_hash)
        .bind(p.partial_outage_weight)
        .bind(to_millis(p.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)?;
        self.status_page(p.id).await
    }

    async fn delete_status_page(&self, id: StatusPageId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Members before groups, so that no cascade runs into a row already gone.
        sqlx::query("DELETE FROM status_incidents WHERE page_id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("DELETE FROM status_components WHERE page_id = $1 AND group_id IS NOT NULL")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let n = sqlx::query("DELETE FROM status_pages WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn status_revisions(&self) -> StoreResult<Vec<(StatusPageId, i64)>> {
        sqlx::query("SELECT id, revision FROM status_pages")
            .fetch_all(self.reader())
            .await
            .map_err(map_err)?
            .iter()
            .map(|r| Ok((get_id(r, "id")?, get(r, "revision")?)))
            .collect()
    }

    async fn create_component(&self, c: Component, e: NewEvent) -> StoreResult<Component> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO status_components (id, code, page_id, group_id, is_group, name,
             description, position, status, only_show_if_degraded, show_uptime, follow_checks,
             created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(db_id(c.id))
        .bind(&c.code)
        .bind(db_id(c.page_id))
        .bind(c.group_id.map(db_id))
        .bind(c.is_group)
        .bind(&c.name)
        .bind(&c.description)
        .bind(c.position)
        .bind(c.status.as_str())
        .bind(c.only_show_if_degraded)
        .bind(c.show_uptime)
        .bind(c.follow_checks)
        .bind(to_millis(c.created_at))
        .bind(to_millis(c.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        open_interval(&mut tx, c.id, c.status, c.created_at).await?;
        set_services(&mut tx, c.id, &c.service_ids).await?;
        // The person's event first: the checks' move comes after the component exists.
        // The page's row before the event number, as for every change to a page.
        bump(&mut tx, c.page_id).await?;
        insert_event(&mut tx, &e).await?;
        follow_checks(&mut tx, Followers::Components(&[c.id]), c.created_at).await?;
        tx.commit().await.map_err(map_err)?;
        self.component(c.id).await
    }

    async fn component(&self, id: ComponentId) -> StoreResult<Component> {
        let row = sqlx::query("SELECT * FROM status_components WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(self.reader())
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        let c = component_from(&row)?;
        Ok(with_services(self.reader(), vec![c]).await?.remove(0))
    }

    async fn list_components(&self, page: StatusPageId) -> StoreResult<Vec<Component>> {
        let rows = sqlx::query(
            "SELECT * FROM status_components WHERE page_id = $1 ORDER BY position, name, id",
        )
        .bind(db_id(page))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        let all = rows
            .iter()
            .map(component_from)
            .collect::<StoreResult<Vec<_>>>()?;
        // Each top-level entry, then its members.
        let mut ordered = Vec::with_capacity(all.len());
        for top in all.iter().filter(|c| c.group_id.is_none()) {
            ordered.push(top.clone());
            ordered.extend(all.iter().filter(|c| c.group_id == Some(top.id)).cloned());
        }
        with_services(self.reader(), ordered).await
    }

    async fn update_component(&self, c: Component, e: NewEvent) -> StoreResult<Component> {
        let mut tx = self.write_tx().await?;
        let old: Option<String> = sqlx::query_scalar(concat!(
            "SELECT status FROM status_components WHERE id = $1",
            for_update!()
        ))
        .bind(db_id(c.id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        set_status(&mut tx, c.id, c.status, c.updated_at).await?;
        // What it followed before, read under the lock the status change (or this) holds.
        let before = sqlx::query(concat!(
            "SELECT follow_checks FROM status_components WHERE id = $1 AND page_id = $2",
            for_no_key_update!()
        ))
        .bind(db_id(c.id))
        .bind(db_id(c.page_id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)?;
        let followed: bool = get(&before, "follow_checks")?;
        let old_services: Vec<ServiceId> = sqlx::query_scalar::<_, DbUuid>(
            "SELECT service_id FROM status_component_services WHERE component_id = $1",
        )
        .bind(db_id(c.id))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?
        .into_iter()
        .map(id_from)
        .collect::<StoreResult<_>>()?;
        sqlx::query(
            "UPDATE status_components SET group_id = $2, name = $3, description = $4,
             position = $5, only_show_if_degraded = $6, show_uptime = $7, follow_checks = $8,
             updated_at = $9
             WHERE id = $1",
        )
        .bind(db_id(c.id))
        .bind(c.group_id.map(db_id))
        .bind(&c.name)
        .bind(&c.description)
        .bind(c.position)
        .bind(c.only_show_if_degraded)
        .bind(c.show_uptime)
        .bind(c.follow_checks)
        .bind(to_millis(c.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        set_services(&mut tx, c.id, &c.service_ids).await?;
        // The page's row first: changes to one page then take their event numbers in commit
        // order, and subscribers hear of them in that order.
        bump(&mut tx, c.page_id).await?;
        let seq = insert_event(&mut tx, &e).await?;
        let old = old.and_then(|o| o.parse::<ComponentStatus>().ok());
        if let Some(old) = old.filter(|o| *o != c.status) {
            let change = (c.id, old, c.status);
            queue(
                &mut tx,
                &component_notice(c.page_id, seq, &c.code, change, e.at),
            )
            .await?;
        }
        // Starting to follow, or following other services, takes the checks' status now; a
        // status a person sets on a following component stands until a check moves.
        let same_services = {
            let mut old = old_services;
            old.sort();
            let mut new = c.service_ids.clone();
            new.sort();
            old == new
        };
        if c.follow_checks && !(followed && same_services) {
            follow_checks(&mut tx, Followers::Components(&[c.id]), c.updated_at).await?;
        }
        tx.commit().await.map_err(map_err)?;
        self.component(c.id).await
    }

    async fn delete_component(&self, id: ComponentId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let page = page_of(
            &mut tx,
            "SELECT page_id FROM status_components WHERE id = $1",
            id,
        )
        .await?;
        // A group's members go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM status_components WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        bump(&mut tx, page).await?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn components_of_services(&self, services: &[ServiceId]) -> StoreResult<Vec<Component>> {
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(concat!(
            "SELECT DISTINCT c.* FROM status_components c
             JOIN status_component_services s ON s.component_id = c.id
             WHERE s.service_id ",
            in_list!("$1"),
            " ORDER BY c.page_id, c.position, c.name"
        ))
        .bind(db_ids(services))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        let all = rows
            .iter()
            .map(component_from)
            .collect::<StoreResult<Vec<_>>>()?;
        with_services(self.reader(), all).await
    }

    async fn status_intervals(
        &self,
        page: StatusPageId,
        since: Timestamp,
    ) -> StoreResult<Vec<StatusInterval>> {
        sqlx::query(
            "SELECT i.* FROM status_intervals i
             JOIN status_components c ON c.id = i.component_id
             WHERE c.page_id = $1 AND (i.ended_at IS NULL OR i.ended_at > $2)
             ORDER BY i.component_id, i.started_at",
        )
        .bind(db_id(page))
        .bind(to_millis(since))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?
        .iter()
        .map(|r| {
            Ok(StatusInterval {
                component_id: get_id(r, "component_id")?,
                status: get_parsed(r, "status")?,
                from: get_ts(r, "started_at")?,
                until: get_opt_ts(r, "ended_at")?,
            })
        })
        .collect()
    }

    async fn create_status_incident(
        &self,
        i: StatusIncident,
        first: StatusUpdate,
        events: Vec<NewEvent>,
    ) -> StoreResult<StatusIncident> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO status_incidents (id, code, page_id, incident_id, maintenance, name,
             status, impact, scheduled_for, scheduled_until, next_update_at, remind_minutes,
             reminded, created_at, updated_at, started_at, monitoring_at, resolved_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
             $17, $18)",
        )
        .bind(db_id(i.id))
        .bind(&i.code)
        .bind(db_id(i.page_id))
        .bind(i.incident_id.map(db_id))
        .bind(i.maintenance)
        .bind(&i.name)
        .bind(i.status.as_str())
        .bind(i.impact.as_str())
        .bind(i.scheduled_for.map(to_millis))
        .bind(i.scheduled_until.map(to_millis))
        .bind(i.next_update_at.map(to_millis))
        .bind(i.remind_minutes)
        .bind(i.reminded)
        .bind(to_millis(i.created_at))
        .bind(to_millis(i.updated_at))
        .bind(to_millis(i.started_at))
        .bind(i.monitoring_at.map(to_millis))
        .bind(i.resolved_at.map(to_millis))
        .execute(&mut *tx)
        .await
        .map_err(fk_not_found)?;
        write_incident_parts(&mut tx, &i, &first).await?;
        bump(&mut tx, i.page_id).await?;
        write_events(&mut tx, &i, &first, &events).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(self.status_incident(i.id).await?.incident)
    }

    async fn add_status_update(
        &self,
        i: StatusIncident,
        u: StatusUpdate,
        events: Vec<NewEvent>,
    ) -> StoreResult<StatusIncident> {
        let id = i.id;
        if !write_update(self, None, i, u, events).await? {
            return Err(StoreError::NotFound);
        }
        Ok(self.status_incident(id).await?.incident)
    }

    async fn move_status_incident(
        &self,
        from: PublicStatus,
        i: StatusIncident,
        u: StatusUpdate,
        events: Vec<NewEvent>,
    ) -> StoreResult<bool> {
        write_update(self, Some(from), i, u, events).await
    }

    async fn unfinished_maintenances(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM status_incidents WHERE maintenance AND status <> 'completed'",
        )
        .fetch_one(self.reader())
        .await
        .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn status_incident_by_code(&self, code: &str) -> StoreResult<StatusIncidentId> {
        let id: Option<DbUuid> =
            sqlx::query_scalar("SELECT id FROM status_incidents WHERE code = $1")
                .bind(code)
                .fetch_optional(self.reader())
                .await
                .map_err(map_err)?;
        id_from(id.ok_or(StoreError::NotFound)?)
    }

    async fn status_incident(
        &self,
        id: StatusIncidentId,
    ) -> StoreResult<StatusIncidentWithUpdates> {
        let row = sqlx::query("SELECT * FROM status_incidents WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(self.reader())
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        let i = incident_from(&row)?;
        Ok(with_parts(self.reader(), vec![i]).await?.remove(0))
    }

    async fn list_status_incidents(
        &self,
        page: StatusPageId,
        limit: u32,
    ) -> StoreResult<Vec<StatusIncidentWithUpdates>> {
        let rows = sqlx::query(
            "SELECT * FROM status_incidents WHERE page_id = $1
             ORDER BY COALESCE(scheduled_for, started_at) DESC, id DESC LIMIT $2",
        )
        .bind(db_id(page))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        let all = rows
            .iter()
            .map(incident_from)
            .collect::<StoreResult<Vec<_>>>()?;
        with_parts(self.reader(), all).await
    }

    async fn status_incidents_of(&self, incident: IncidentId) -> StoreResult<Vec<StatusIncident>> {
        let rows = sqlx::query(
            "SELECT * FROM status_incidents WHERE incident_id = $1 ORDER BY created_at, id",
        )
        .bind(db_id(incident))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        incidents_only(self.reader(), &rows).await
    }

    async fn delete_status_incident(&self, id: StatusIncidentId, e: NewEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let page = page_of(
            &mut tx,
            "SELECT page_id FROM status_incidents WHERE id = $1",
            id,
        )
        .await?;
        sqlx::query("DELETE FROM status_incidents WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        bump(&mut tx, page).await?;
        insert_event(&mut tx, &e).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn due_maintenances(&self, now: Timestamp) -> StoreResult<Vec<StatusIncident>> {
        let rows = sqlx::query(
            "SELECT * FROM status_incidents
             WHERE maintenance AND status <> 'completed' AND (
                 (status = 'scheduled' AND scheduled_for <= $1)
              OR (status IN ('in_progress', 'verifying') AND scheduled_until <= $1)
              OR (status = 'scheduled' AND NOT reminded AND remind_minutes IS NOT NULL
                  AND scheduled_for - remind_minutes * 60000 <= $1))
             ORDER BY scheduled_for, id",
        )
        .bind(to_millis(now))
        .fetch_all(self.reader())
        .await
        .map_err(map_err)?;
        incidents_only(self.reader(), &rows).await
    }
}
