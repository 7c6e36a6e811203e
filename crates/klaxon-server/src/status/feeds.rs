//! Feeds and badges: Atom and RSS 2.0 of the page's incidents (and of each component's), and
//! SVG badges of the overall status and of each component. Titles and bodies are text: escaped
//! here, never markup.
use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use klaxon_store::StatusIncidentWithUpdates;

use super::render::status_look;
use super::snapshot::{Doc, PageData};

/// How many incidents a feed carries, newest first.
const ENTRIES: usize = 50;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn rfc2822(t: Timestamp) -> String {
    t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// The incident's updates as HTML (escaped for the feed's XML in turn), newest first.
fn content(w: &StatusIncidentWithUpdates, tz: &TimeZone) -> String {
    let mut html = String::new();
    // The postmortem came last, so it leads.
    if let Some(p) = &w.incident.postmortem {
        let when = p
            .published_at
            .to_zoned(tz.clone())
            .strftime("%-d %b %Y, %H:%M %Z");
        html.push_str(&format!(
            "<p><small>{}</small><br><strong>Postmortem</strong> - {}</p>",
            escape(&when.to_string()),
            escape(&p.body)
        ));
    }
    for u in w.updates.iter().rev() {
        let when = u
            .created_at
            .to_zoned(tz.clone())
            .strftime("%-d %b %Y, %H:%M %Z");
        html.push_str(&format!(
            "<p><small>{}</small><br><strong>{}</strong> - {}</p>",
            escape(&when.to_string()),
            escape(u.status.label()),
            escape(&u.body)
        ));
    }
    html
}

fn atom(
    d: &PageData,
    title: &str,
    self_url: &str,
    list: &[&StatusIncidentWithUpdates],
    tz: &TimeZone,
) -> String {
    let updated = list
        .iter()
        .map(|w| w.incident.updated_at)
        .max()
        .unwrap_or(d.page.created_at);
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n<id>{u}</id>\n<title>{t}</title>\n<updated>{up}</updated>\n<link rel=\"alternate\" type=\"text/html\" href=\"{u}\"/>\n<link rel=\"self\" type=\"application/atom+xml\" href=\"{s}\"/>\n<author><name>{n}</name></author>\n",
        u = escape(&d.url),
        t = escape(title),
        up = rfc3339(updated),
        s = escape(self_url),
        n = escape(&d.page.name),
    );
    for w in list {
        let link = format!("{}/incidents/{}", d.url, w.incident.code);
        x.push_str(&format!(
            "<entry>\n<id>{l}</id>\n<title>{t}</title>\n<published>{p}</published>\n<updated>{up}</updated>\n<link rel=\"alternate\" type=\"text/html\" href=\"{l}\"/>\n<content type=\"html\">{c}</content>\n</entry>\n",
            l = escape(&link),
            t = escape(&w.incident.name),
            p = rfc3339(w.incident.created_at),
            up = rfc3339(w.incident.updated_at),
            c = escape(&content(w, tz)),
        ));
    }
    x.push_str("</feed>\n");
    x
}

fn rss(d: &PageData, title: &str, list: &[&StatusIncidentWithUpdates], tz: &TimeZone) -> String {
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n<title>{t}</title>\n<link>{u}</link>\n<description>{t}</description>\n<language>en</language>\n",
        t = escape(title),
        u = escape(&d.url),
    );
    if let Some(w) = list.first() {
        x.push_str(&format!(
            "<lastBuildDate>{}</lastBuildDate>\n",
            rfc2822(w.incident.updated_at)
        ));
    }
    for w in list {
        let link = format!("{}/incidents/{}", d.url, w.incident.code);
        x.push_str(&format!(
            "<item>\n<title>{t}</title>\n<description>{c}</description>\n<pubDate>{p}</pubDate>\n<link>{l}</link>\n<guid isPermaLink=\"true\">{l}</guid>\n</item>\n",
            t = escape(&w.incident.name),
            c = escape(&content(w, tz)),
            p = rfc2822(w.incident.created_at),
            l = escape(&link),
        ));
    }
    x.push_str("</channel>\n</rss>\n");
    x
}

/// A flat two-part badge: label on grey, status on its colour; white text passes AA on both.
pub fn badge(label: &str, value: &str, colour: &str) -> String {
    // Wide enough for the text at 11 px in a sans font (about 6.5 px a character).
    let w = |s: &str| 10 + (s.chars().count() as u32 * 13).div_ceil(2);
    let (lw, vw) = (w(label), w(value));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{tw}\" height=\"20\" role=\"img\" aria-label=\"{l}: {v}\"><title>{l}: {v}</title><rect width=\"{lw}\" height=\"20\" fill=\"#4a5563\"/><rect x=\"{lw}\" width=\"{vw}\" height=\"20\" fill=\"{colour}\"/><g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,sans-serif\" font-size=\"11\"><text x=\"5\" y=\"14\">{l}</text><text x=\"{vx}\" y=\"14\">{v}</text></g></svg>",
        tw = lw + vw,
        l = escape(label),
        v = escape(value),
        vx = lw + 5,
    )
}

/// Badge colours: white text on each meets 4.5:1.
fn colour(class: &str) -> &'static str {
    match class {
        "s-ok" => "#166534",
        "s-minor" => "#8a4b00",
        "s-major" => "#9a3412",
        "s-crit" => "#b42318",
        _ => "#1e4f9a",
    }
}

pub fn add(docs: &mut HashMap<String, Doc>, d: &PageData, tz: &TimeZone) {
    let all: Vec<&StatusIncidentWithUpdates> = d.incidents.iter().take(ENTRIES).collect();
    let title = format!("{} status history", d.page.name);
    docs.insert(
        "history.atom".into(),
        Doc::new(
            "application/atom+xml; charset=utf-8",
            atom(d, &title, &format!("{}/history.atom", d.url), &all, tz),
        ),
    );
    docs.insert(
        "history.rss".into(),
        Doc::new(
            "application/rss+xml; charset=utf-8",
            rss(d, &title, &all, tz),
        ),
    );
    let o = d.overall();
    let (class, _) = match o.indicator {
        klaxon_domain::status::Indicator::None => ("s-ok", ""),
        klaxon_domain::status::Indicator::Minor => ("s-minor", ""),
        klaxon_domain::status::Indicator::Major => ("s-major", ""),
        klaxon_domain::status::Indicator::Critical => ("s-crit", ""),
        klaxon_domain::status::Indicator::Maintenance => ("s-maint", ""),
    };
    docs.insert(
        "badge.svg".into(),
        Doc::new(
            "image/svg+xml",
            badge(&d.page.name, o.description, colour(class)),
        ),
    );
    for c in &d.components {
        let mine: Vec<&StatusIncidentWithUpdates> = d
            .incidents
            .iter()
            .filter(|w| w.incident.component_ids.contains(&c.id))
            .take(ENTRIES)
            .collect();
        let title = format!("{}: {} status history", d.page.name, c.name);
        let base = format!("components/{}", c.code);
        docs.insert(
            format!("{base}/history.atom"),
            Doc::new(
                "application/atom+xml; charset=utf-8",
                atom(
                    d,
                    &title,
                    &format!("{}/{base}/history.atom", d.url),
                    &mine,
                    tz,
                ),
            ),
        );
        docs.insert(
            format!("{base}/history.rss"),
            Doc::new(
                "application/rss+xml; charset=utf-8",
                rss(d, &title, &mine, tz),
            ),
        );
        let (class, _) = status_look(c.status);
        docs.insert(
            format!("{base}/badge.svg"),
            Doc::new(
                "image/svg+xml",
                badge(&c.name, c.status.label(), colour(class)),
            ),
        );
    }
}
