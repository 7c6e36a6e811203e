//! The public side's memory: every page's documents (HTML, v2 JSON, feeds, badges) rendered
//! ahead, with their ETags and gzip forms, swapped in whole when the page changes. A reader's
//! request is a map lookup: no database query, and a database outage still serves the last good
//! state (the page says so once it is old).
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::ids::StatusPageId;
use klaxon_store::{
    Component, StatusIncidentWithUpdates, StatusInterval, StatusPage, Store, StoreResult,
};

use crate::shared::config::Settings;
use crate::shared::crypto::{hex, sha256};

/// How many days of uptime bars a page shows.
pub const DAYS: u32 = 90;
/// After this long without a successful refresh, pages say they may be out of date.
pub const STALE_AFTER: SignedDuration = SignedDuration::from_mins(2);
/// Pages are rebuilt at least this often: today's bar grows and "in 5 min" ages.
const REBUILD_EVERY: SignedDuration = SignedDuration::from_secs(60);

/// What a page is built from, read in one go.
pub struct PageData {
    pub page: StatusPage,
    /// The page's public address (`https://status.example.com` or `…/status/{slug}`).
    pub url: String,
    pub components: Vec<Component>,
    pub intervals: Vec<StatusInterval>,
    /// Newest first.
    pub incidents: Vec<StatusIncidentWithUpdates>,
    /// The newest change a reader can see.
    pub updated_at: Timestamp,
}

/// Reads what `id`'s documents are built from.
pub async fn load(
    store: &dyn Store,
    settings: &Settings,
    id: StatusPageId,
    now: Timestamp,
) -> StoreResult<PageData> {
    let page = store.status_page(id).await?;
    let components = store.list_components(id).await?;
    let since = now - SignedDuration::from_hours(24 * (i64::from(DAYS) + 1));
    let intervals = store.status_intervals(id, since).await?;
    let incidents = store.list_status_incidents(id, 5_000).await?;
    let updated_at = components
        .iter()
        .map(|c| c.updated_at)
        .chain(incidents.iter().map(|w| w.incident.updated_at))
        .chain([page.updated_at])
        .max()
        .unwrap_or(page.updated_at);
    let url = super::subscribers::page_base(settings, &page)
        .unwrap_or_else(|| format!("/status/{}", page.slug));
    Ok(PageData {
        page,
        url,
        components,
        intervals,
        incidents,
        updated_at,
    })
}

/// One document, ready to send.
pub struct Doc {
    pub content_type: &'static str,
    pub body: Bytes,
    /// The body gzipped, when that is smaller.
    pub gzip: Option<Bytes>,
    /// A strong ETag of the body, quoted.
    pub etag: String,
}

impl Doc {
    pub fn new(content_type: &'static str, body: impl Into<Bytes>) -> Self {
        let body: Bytes = body.into();
        let etag = format!("\"{}\"", &hex(&sha256(&body))[..20]);
        let gzip = (body.len() > 512)
            .then(|| {
                let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                z.write_all(&body).ok()?;
                z.finish().ok()
            })
            .flatten()
            .filter(|z| z.len() < body.len())
            .map(Bytes::from);
        Self {
            content_type,
            body,
            gzip,
            etag,
        }
    }
}

/// A page's documents, by path under the page (`""` is the page itself).
pub struct Rendered {
    pub page: StatusPage,
    pub docs: HashMap<String, Doc>,
    pub built_at: Timestamp,
    /// Whether it was built while the database could not be read.
    pub stale: bool,
}

/// Every page's rendered documents, and what they were rendered from.
#[derive(Default)]
pub struct Snapshots {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    pages: HashMap<StatusPageId, Arc<Rendered>>,
    /// The pages by slug, and the slug of each page's own host name: kept with `pages` so a
    /// reader's request (and `host_rewrite`, which sees every request) is a lookup, not a scan.
    slugs: HashMap<String, StatusPageId>,
    hosts: HashMap<String, String>,
    /// Kept to render again (the stale notice, the day's bars) without the database.
    data: HashMap<StatusPageId, Arc<PageData>>,
    /// The last time every page was read successfully.
    last_ok: Option<Timestamp>,
    /// Signs password pages' cookies; read with the pages, so readers never wait on it.
    cookie_key: Option<[u8; 32]>,
}

impl Inner {
    /// Rebuilds the slug and host maps from `pages`, whenever a page comes, goes, or changes
    /// its slug or host name: rare, so building whole is simpler than patching and cannot leave
    /// a stale key behind.
    fn index(&mut self) {
        self.slugs = self
            .pages
            .iter()
            .map(|(id, r)| (r.page.slug.clone(), *id))
            .collect();
        self.hosts = self
            .pages
            .values()
            .filter_map(|r| Some((r.page.hostname.clone()?, r.page.slug.clone())))
            .collect();
    }
}

impl Snapshots {
    pub fn by_slug(&self, slug: &str) -> Option<Arc<Rendered>> {
        let inner = self.inner.read().ok()?;
        inner.pages.get(inner.slugs.get(slug)?).cloned()
    }

    pub fn cookie_key(&self) -> Option<[u8; 32]> {
        self.inner.read().ok()?.cookie_key
    }

    /// The slug of the page whose own host name is `host` (as stored: lowercase, no port).
    pub fn slug_for_host(&self, host: &str) -> Option<String> {
        self.inner.read().ok()?.hosts.get(host).cloned()
    }

    /// Every page, by name.
    pub fn all(&self) -> Vec<Arc<Rendered>> {
        let Ok(inner) = self.inner.read() else {
            return Vec::new();
        };
        let mut all: Vec<Arc<Rendered>> = inner.pages.values().cloned().collect();
        all.sort_by(|a, b| a.page.name.cmp(&b.page.name));
        all
    }

    fn put(&self, data: Arc<PageData>, rendered: Rendered) {
        if let Ok(mut inner) = self.inner.write() {
            let id = rendered.page.id;
            // Most rebuilds (a new incident, the minute's bars) keep the slug and host name.
            let moved = inner.pages.get(&id).is_none_or(|old| {
                old.page.slug != rendered.page.slug || old.page.hostname != rendered.page.hostname
            });
            inner.pages.insert(id, Arc::new(rendered));
            inner.data.insert(id, data);
            if moved {
                inner.index();
            }
        }
    }

    fn retain(&self, ids: &[StatusPageId]) {
        if let Ok(mut inner) = self.inner.write() {
            let before = inner.pages.len();
            inner.pages.retain(|id, _| ids.contains(id));
            inner.data.retain(|id, _| ids.contains(id));
            if inner.pages.len() != before {
                inner.index();
            }
        }
    }

    fn known(&self) -> HashMap<StatusPageId, (i64, Timestamp, bool)> {
        self.inner
            .read()
            .map(|i| {
                i.pages
                    .iter()
                    .map(|(id, r)| (*id, (r.page.revision, r.built_at, r.stale)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Renders `data`'s documents.
pub type Render = fn(&PageData, &Settings, Timestamp, bool) -> HashMap<String, Doc>;

/// One refresh: reads the pages' revisions and rebuilds what changed or aged. On a database
/// error, keeps serving what it has and, once that is [`STALE_AFTER`] old, renders it again
/// with a notice. Returns whether the database answered.
pub async fn refresh(
    snaps: &Snapshots,
    store: &dyn Store,
    settings: &Arc<Settings>,
    now: Timestamp,
    render: Render,
) -> bool {
    let known = snaps.known();
    let revisions = match store.status_revisions().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "status pages: cannot read revisions; serving the last good state");
            mark_stale(snaps, settings, now, render).await;
            return false;
        }
    };
    if snaps.cookie_key().is_none()
        && let Ok(key) = store.server_key(super::public::COOKIE_KEY).await
        && let Ok(mut inner) = snaps.inner.write()
    {
        inner.cookie_key = Some(key);
    }
    let ids: Vec<StatusPageId> = revisions.iter().map(|(id, _)| *id).collect();
    snaps.retain(&ids);
    let mut ok = true;
    let mut rebuilt = Vec::new();
    for (id, revision) in revisions {
        let fresh = known.get(&id).is_some_and(|(r, built, stale)| {
            *r == revision && !stale && now.duration_since(*built) < REBUILD_EVERY
        });
        if fresh {
            continue;
        }
        match load(store, settings, id, now).await {
            Ok(data) => {
                let data = Arc::new(data);
                match render_apart(&data, settings, now, false, render).await {
                    Some(docs) => {
                        let rendered = Rendered {
                            page: data.page.clone(),
                            docs,
                            built_at: now,
                            stale: false,
                        };
                        snaps.put(data, rendered);
                        rebuilt.push(id);
                    }
                    None => ok = false,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, page = %id, "status page: cannot read it; serving the last good state");
                ok = false;
            }
        }
    }
    if let Some(dir) = &settings.status_pages.export_dir
        && !rebuilt.is_empty()
    {
        match export(snaps, dir.clone(), &rebuilt).await {
            Ok(files) => tracing::debug!(files, "status pages exported"),
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "status pages: export failed")
            }
        }
    }
    if ok {
        if let Ok(mut inner) = snaps.inner.write() {
            inner.last_ok = Some(now);
        }
    } else {
        mark_stale(snaps, settings, now, render).await;
    }
    ok
}

/// Renders on the blocking pool: a page with a thousand incidents takes a good part of a
/// second to render, and on a runtime worker it would hold up every reader queued behind it.
async fn render_apart(
    data: &Arc<PageData>,
    settings: &Arc<Settings>,
    now: Timestamp,
    stale: bool,
    render: Render,
) -> Option<HashMap<String, Doc>> {
    let (data, settings) = (data.clone(), settings.clone());
    match tokio::task::spawn_blocking(move || render(&data, &settings, now, stale)).await {
        Ok(docs) => Some(docs),
        Err(e) => {
            tracing::error!(error = %e, "status page: rendering failed");
            None
        }
    }
}

/// Writes the rebuilt public pages to `dir` and removes those no longer public.
pub async fn export(
    snaps: &Snapshots,
    dir: std::path::PathBuf,
    rebuilt: &[StatusPageId],
) -> std::io::Result<usize> {
    let all = snaps.all();
    let public: Vec<(String, String)> = all
        .iter()
        .filter(|r| r.page.visibility == klaxon_store::Visibility::Public)
        .map(|r| (r.page.slug.clone(), r.page.name.clone()))
        .collect();
    let write: Vec<Arc<Rendered>> = all
        .into_iter()
        .filter(|r| {
            rebuilt.contains(&r.page.id) && r.page.visibility == klaxon_store::Visibility::Public
        })
        .collect();
    let done = tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
        super::export::tidy(&dir, &public)?;
        let mut files = 0;
        for r in &write {
            files += super::export::write_page(&dir, r)?;
        }
        Ok(files)
    })
    .await;
    done.map_err(std::io::Error::other)?
}

/// Reads and renders every page once, then writes the public ones to `dir` (the offline
/// `klaxon status-pages export`). Returns each exported page's slug.
pub async fn export_once(
    store: &dyn Store,
    settings: &Arc<Settings>,
    now: Timestamp,
    dir: std::path::PathBuf,
    render: Render,
) -> anyhow::Result<Vec<String>> {
    let snaps = Snapshots::default();
    if !refresh(&snaps, store, settings, now, render).await {
        anyhow::bail!("the database could not be read");
    }
    let ids: Vec<StatusPageId> = snaps.all().iter().map(|r| r.page.id).collect();
    export(&snaps, dir, &ids).await?;
    Ok(snaps
        .all()
        .iter()
        .filter(|r| r.page.visibility == klaxon_store::Visibility::Public)
        .map(|r| r.page.slug.clone())
        .collect())
}

/// Renders the kept data again with the "may be out of date" notice, once the last good read
/// is old enough.
async fn mark_stale(snaps: &Snapshots, settings: &Arc<Settings>, now: Timestamp, render: Render) {
    let (last_ok, data): (Option<Timestamp>, Vec<Arc<PageData>>) = match snaps.inner.read() {
        Ok(i) => (
            i.last_ok,
            i.data
                .iter()
                .filter(|(id, _)| i.pages.get(*id).is_some_and(|r| !r.stale))
                .map(|(_, d)| d.clone())
                .collect(),
        ),
        Err(_) => return,
    };
    if last_ok.is_some_and(|t| now.duration_since(t) < STALE_AFTER) {
        return;
    }
    for d in data {
        let Some(docs) = render_apart(&d, settings, now, true, render).await else {
            continue;
        };
        let rendered = Rendered {
            page: d.page.clone(),
            docs,
            built_at: now,
            stale: true,
        };
        snaps.put(d, rendered);
    }
}

/// Keeps the snapshots current: at once when this instance changes a page (`wake`), and
/// every second otherwise (other instances' changes, the engine's). Ends with `stop`.
pub async fn run(snaps: Arc<Snapshots>, state: crate::shared::state::AppState, render: Render) {
    let stop = state.shutting_down.begun();
    tokio::pin!(stop);
    let refreshes = state.status_refresh.clone();
    loop {
        let covers = refreshes.begin();
        let now = state.clock.now();
        refresh(&snaps, state.store.as_ref(), &state.settings, now, render).await;
        refreshes.done(covers);
        tokio::select! {
            () = &mut stop => break,
            () = refreshes.asked() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    refreshes.stopped();
}
