//! The alerts a page carries: what the monitoring tool said about the problem (summary,
//! source, custom details, links, images, client), so that whoever is paged sees it in the
//! e-mail, chat message or webhook without opening Klaxon. Bounded: a page is not the place
//! for a 500 KiB event; the alert page has everything.
use klaxon_domain::alert_details::{flatten, web_href};
use klaxon_store::{Alert, AlertFilter, Incident, Store, StoreResult};
use serde_json::{Value, json};

/// The newest alerts of the incident that a page lists.
pub const PAGE_ALERTS: u32 = 3;
/// Custom-detail rows per alert in a page, and the longest value, in characters.
pub const DETAIL_ROWS: usize = 20;
pub const DETAIL_CHARS: usize = 300;

/// The incident's newest alerts as a page shows them (an empty list for a declared incident).
/// `public_url` makes each alert's link to its page.
pub async fn page_alerts(
    store: &dyn Store,
    incident: &Incident,
    public_url: Option<&str>,
) -> StoreResult<Value> {
    let filter = AlertFilter {
        incident_id: Some(incident.id),
        ..Default::default()
    };
    let alerts = store.list_alerts(&filter, None, PAGE_ALERTS).await?.items;
    Ok(Value::Array(
        alerts.iter().map(|a| alert_json(a, public_url)).collect(),
    ))
}

/// One alert for a page. Links and images a tool sent that are not http(s) are left out.
fn alert_json(a: &Alert, public_url: Option<&str>) -> Value {
    let c = &a.content;
    let (rows, total) = flatten(&c.details, DETAIL_ROWS);
    let details: Vec<Value> = rows
        .into_iter()
        .map(|r| json!({"key": r.key, "value": cut(&r.value, DETAIL_CHARS)}))
        .collect();
    let links: Vec<Value> = c
        .links
        .iter()
        .filter_map(|l| {
            let href = web_href(&l.href)?;
            Some(json!({"href": href, "text": l.text}))
        })
        .collect();
    let images: Vec<Value> = c
        .images
        .iter()
        .filter_map(|i| {
            let src = web_href(&i.src)?;
            Some(json!({"src": src, "href": i.href.as_deref().and_then(web_href), "alt": i.alt}))
        })
        .collect();
    let url = public_url.map(|base| format!("{}/alerts/{}", base.trim_end_matches('/'), a.id));
    json!({
        "id": a.id,
        "url": url,
        "summary": c.summary,
        "source": c.source,
        "severity": c.severity,
        "status": a.status,
        "dedup_key": a.dedup_key,
        "count": a.count,
        "first_seen": a.created_at,
        "last_seen": a.last_seen_at,
        "component": c.component,
        "group": c.group,
        "class": c.class,
        "client": c.client,
        "client_url": c.client_url.as_deref().and_then(web_href),
        "details": details,
        "details_total": total,
        "links": links,
        "images": images,
    })
}

/// At most `max` characters, the last one `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
