//! Delivering one page on a contact method: chat and webhook posts, e-mail over SMTP, SMS and
//! voice through Twilio, each rendered for its channel.
use super::paging::bundle_title;
use crate::shared::crypto::sign_v1;
use crate::shared::egress::{Outgoing, describe, refusal};
use jiff::Timestamp;
use klaxon_domain::contact::{ContactKind, Delivery};
use klaxon_store::Notification;
use serde_json::{Value, json};
use std::time::Duration;

/// A stakeholder update (not a page): it tells, it asks nothing.
pub fn is_update(p: &Value) -> bool {
    p["update"].is_object()
}

/// An action item's reminder (`learning::reminders`): it tells, it pages nobody.
pub fn is_reminder(p: &Value) -> bool {
    p["reminder"].is_object()
}

/// `Action item overdue: Add a checkout alert (incident #12)`.
fn reminder_title(p: &Value) -> String {
    let a = &p["reminder"]["action_item"];
    format!(
        "Action item {}: {} (incident #{})",
        if a["overdue"].as_bool() == Some(true) {
            "overdue"
        } else {
            "due soon"
        },
        a["title"].as_str().unwrap_or(""),
        p["reminder"]["incident"]["number"],
    )
}

fn reminder_text(p: &Value) -> String {
    let a = &p["reminder"]["action_item"];
    let mut t = format!(
        "{}

",
        reminder_title(p)
    );
    t += &format!(
        "Due:       {}
",
        a["due_at"].as_str().unwrap_or("")
    );
    t += &format!(
        "State:     {}
",
        a["state"].as_str().unwrap_or("")
    );
    if let Some(link) = a["tracker_url"].as_str() {
        t += &format!(
            "Tracker:   {link}
"
        );
    }
    if let Some(url) = a["url"].as_str() {
        t += &format!("\nMark it done, or won't do with a reason:\n{url}\n");
    }
    t += "\nYou get this once a day while the item is open and near or past its due date.\n\n-- \nKlaxon\n";
    t
}

fn update_title(p: &Value) -> String {
    format!(
        "Update on incident #{}: {}",
        p["incident"]["number"],
        p["incident"]["title"].as_str().unwrap_or("")
    )
}

/// One line a person reads first.
fn headline(p: &Value) -> String {
    if let Some(t) = bundle_title(p) {
        return t;
    }
    if is_reminder(p) {
        return reminder_title(p);
    }
    if is_update(p) {
        return format!(
            "{}\n{}",
            update_title(p),
            p["update"]["message"].as_str().unwrap_or("")
        );
    }
    if p["test"].as_bool() == Some(true) {
        return "Klaxon test notification: this contact method works.".to_owned();
    }
    format!(
        "[{}] Incident #{}: {} ({})",
        p["incident"]["urgency"]
            .as_str()
            .unwrap_or("high")
            .to_uppercase(),
        p["incident"]["number"],
        p["incident"]["title"].as_str().unwrap_or(""),
        p["service"]["name"].as_str().unwrap_or("no service"),
    )
}

/// The alerts a page carries (`oncall::page_alerts`), newest first; none for tests, updates
/// and declared incidents.
fn alerts_of(p: &Value) -> &[Value] {
    p["alerts"].as_array().map_or(&[], Vec::as_slice)
}

/// An alert's facts worth a line each: (name, value).
fn alert_facts(a: &Value) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    for (name, key) in [
        ("Source", "source"),
        ("Severity", "severity"),
        ("Component", "component"),
        ("Group", "group"),
        ("Class", "class"),
    ] {
        if let Some(v) = a[key].as_str().filter(|v| !v.is_empty()) {
            facts.push((name, v.to_owned()));
        }
    }
    if let Some(n) = a["count"].as_u64().filter(|&n| n > 1) {
        facts.push(("Triggered", format!("{n} times")));
    }
    let client = a["client"].as_str().filter(|c| !c.is_empty());
    let sent_by = match (client, a["client_url"].as_str()) {
        (Some(c), Some(u)) => Some(format!("{c} {u}")),
        (Some(c), None) => Some(c.to_owned()),
        (None, Some(u)) => Some(u.to_owned()),
        (None, None) => None,
    };
    if let Some(s) = sent_by {
        facts.push(("Sent by", s));
    }
    facts
}

/// A link's text and address: `Dashboard: https://…`, or the address alone.
fn link_line(text: Option<&str>, href: &str) -> String {
    match text.filter(|t| !t.trim().is_empty()) {
        Some(t) => format!("{}: {href}", t.trim()),
        None => href.to_owned(),
    }
}

/// The alert's links, then its images as links (nothing is loaded from elsewhere).
fn alert_links(a: &Value) -> Vec<String> {
    let mut lines: Vec<String> = a["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| Some(link_line(l["text"].as_str(), l["href"].as_str()?)))
        .collect();
    for i in a["images"].as_array().into_iter().flatten() {
        let Some(src) = i["src"].as_str() else {
            continue;
        };
        let alt = i["alt"].as_str().filter(|t| !t.trim().is_empty());
        lines.push(format!("Image: {}", link_line(alt, src)));
        if let Some(href) = i["href"].as_str() {
            lines.push(format!("Image links to: {href}"));
        }
    }
    lines
}

/// The body each chat tool's incoming webhook takes: the headline and link as text, and each
/// alert as structured fields (Slack and Mattermost attachments, Teams card sections).
fn chat_body(kind: ContactKind, p: &Value) -> Value {
    let title = headline(p);
    let link = p["incident"]["url"]
        .as_str()
        .or(p["reminder"]["action_item"]["url"].as_str());
    let text = match link {
        Some(url) => format!("{title}\n{url}"),
        None => title.clone(),
    };
    let alerts = alerts_of(p);
    match kind {
        ContactKind::Teams => {
            let mut card = json!({
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": title,
                "themeColor": "D7263D",
                "title": title,
                "text": link.unwrap_or(""),
            });
            if !alerts.is_empty() {
                card["sections"] = alerts.iter().map(teams_section).collect();
            }
            card
        }
        _ if alerts.is_empty() => json!({"text": text}),
        _ => {
            json!({"text": text, "attachments": alerts.iter().map(chat_attachment).collect::<Vec<_>>()})
        }
    }
}

/// Fields for a chat message: the alert's facts, its custom details, its links.
fn chat_fields(a: &Value) -> Vec<(String, String, bool)> {
    let mut fields: Vec<(String, String, bool)> = alert_facts(a)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v, true))
        .collect();
    for d in a["details"].as_array().into_iter().flatten() {
        let key = d["key"].as_str().unwrap_or("");
        let key = if key.is_empty() { "Details" } else { key };
        fields.push((
            key.to_owned(),
            d["value"].as_str().unwrap_or("").to_owned(),
            true,
        ));
    }
    if let Some(more) = more_details(a) {
        fields.push(("Details".into(), more, false));
    }
    let links = alert_links(a);
    if !links.is_empty() {
        fields.push(("Links".into(), links.join("\n"), false));
    }
    fields
}

/// "12 more on the alert page", when the page carries only some of the details.
fn more_details(a: &Value) -> Option<String> {
    let shown = a["details"].as_array().map_or(0, Vec::len) as u64;
    let total = a["details_total"].as_u64().unwrap_or(0);
    (total > shown).then(|| format!("{} more on the alert page", total - shown))
}

fn chat_attachment(a: &Value) -> Value {
    let summary = a["summary"].as_str().unwrap_or("");
    let color = match a["severity"].as_str() {
        Some("critical") => "#B42318",
        Some("error") => "#C2410C",
        Some("warning") => "#F2B01E",
        _ => "#475569",
    };
    let fields: Vec<Value> = chat_fields(a)
        .into_iter()
        .map(|(title, value, short)| json!({"title": title, "value": value, "short": short}))
        .collect();
    let mut att = json!({"fallback": summary, "color": color, "title": summary, "fields": fields});
    if let Some(url) = a["url"].as_str() {
        att["title_link"] = json!(url);
    }
    att
}

fn teams_section(a: &Value) -> Value {
    let facts: Vec<Value> = chat_fields(a)
        .into_iter()
        .map(|(name, value, _)| json!({"name": name, "value": value}))
        .collect();
    let mut section = json!({"activityTitle": a["summary"], "facts": facts});
    if let Some(url) = a["url"].as_str() {
        section["potentialAction"] = json!([{"@type": "OpenUri", "name": "Open the alert",
                                              "targets": [{"os": "default", "uri": url}]}]);
    }
    section
}

/// What the sender needs besides the notification: the providers' settings and clients.
pub struct Channels<'a> {
    /// For the providers the operator configured (the SMS gateway).
    pub http: &'a reqwest::Client,
    /// For the addresses users gave (webhooks, chat).
    pub outgoing: &'a Outgoing,
    pub settings: &'a crate::shared::config::Settings,
    /// How long a provider gets to answer.
    pub timeout: Duration,
    /// The key acknowledge links are signed with; `None` leaves the links out.
    pub ack_key: Option<[u8; 32]>,
}

/// Calls the provider once, and says what its answer means.
pub async fn deliver(
    n: &Notification,
    secret: Option<&str>,
    channels: &Channels<'_>,
    now: Timestamp,
) -> Delivery {
    let timeout = channels.timeout;
    let (body, signed) = match n.kind {
        ContactKind::Webhook => (
            json!({"type": if n.payload["test"].as_bool() == Some(true) { "test" }
                           else if is_update(&n.payload) { "incident.update" }
                           else if is_reminder(&n.payload) { "action_item.reminder" }
                           else if n.payload["bundle"].as_bool() == Some(true) { "incident.page.bundle" }
                           else { "incident.page" },
                   "notification_id": n.id, "summary": headline(&n.payload), "data": n.payload}),
            true,
        ),
        ContactKind::Slack | ContactKind::Teams | ContactKind::Mattermost => {
            (chat_body(n.kind, &n.payload), false)
        }
        ContactKind::Email => return send_email(n, channels, now).await,
        ContactKind::Sms => return send_sms(n, channels, now).await,
        ContactKind::Voice => return send_call(n, channels).await,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut req = match channels.outgoing.post(&n.address) {
        Ok(req) => req,
        Err(refused) => return Delivery::Failed(format!("not sent: {refused}")),
    };
    req = req
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("idempotency-key", n.id.to_string());
    if signed {
        let Some(secret) = secret else {
            return Delivery::Failed("the webhook's contact method was deleted".into());
        };
        let ts = now.as_second();
        req = req
            .header("x-klaxon-timestamp", ts.to_string())
            .header("x-klaxon-signature", sign_v1(secret, ts, &bytes));
    }
    http_outcome(req.body(bytes).send().await, timeout, "the receiver", false).await
}

/// What an HTTP provider's answer means: 2xx sent; 429 and 5xx retried; other answers refused
/// for good; a timeout after the request went out is unknown, so never resent. With
/// `with_body`, a refusal quotes the start of the answer (a provider's reason).
async fn http_outcome(
    sent: reqwest::Result<reqwest::Response>,
    timeout: Duration,
    who: &str,
    with_body: bool,
) -> Delivery {
    let reason = |r: reqwest::Response| async move {
        let status = r.status();
        if !with_body {
            return status.to_string();
        }
        let body = r.text().await.unwrap_or_default();
        let body: String = body.trim().chars().take(300).collect();
        if body.is_empty() {
            status.to_string()
        } else {
            format!("{status}: {body}")
        }
    };
    match sent {
        Ok(r) if r.status().is_success() => Delivery::Sent,
        Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
            Delivery::Retry(format!("{who} answered {}", reason(r).await))
        }
        Ok(r) => Delivery::Failed(format!("{who} refused it: {}", reason(r).await)),
        // A destination users may not reach: trying again changes nothing.
        Err(e) if refusal(&e).is_some() => Delivery::Failed(format!("not sent: {}", describe(e))),
        // Nothing reached the receiver: safe to try again.
        Err(e) if e.is_connect() => Delivery::Retry(format!("could not connect: {}", describe(e))),
        Err(e) if e.is_timeout() => Delivery::Failed(format!(
            "no answer within {} ms; it may or may not have arrived, so it is not resent",
            timeout.as_millis()
        )),
        Err(e) => Delivery::Failed(format!("outcome unknown: {}", describe(e))),
    }
}

// --- e-mail, SMS and voice ----------------------------------------------------------------------

/// The subject of a page e-mail: `[HIGH] Incident #12: Checkout is down`.
fn subject(p: &Value) -> String {
    if let Some(t) = bundle_title(p) {
        return cut(&t, 150);
    }
    if is_update(p) {
        return cut(&update_title(p), 150);
    }
    if is_reminder(p) {
        return cut(&reminder_title(p), 150);
    }
    if p["test"].as_bool() == Some(true) {
        return "Klaxon test notification".to_owned();
    }
    format!(
        "[{}] Incident #{}: {}",
        p["incident"]["urgency"]
            .as_str()
            .unwrap_or("high")
            .to_uppercase(),
        p["incident"]["number"],
        p["incident"]["title"].as_str().unwrap_or(""),
    )
}

/// The signed one-click acknowledge link for a page, when the server knows its public URL and
/// the key could be read. Test notifications have nothing to acknowledge.
fn ack_link(n: &Notification, channels: &Channels<'_>, now: Timestamp) -> Option<String> {
    let public_url = channels.settings.server.public_url.as_deref()?;
    let key = channels.ack_key.as_ref()?;
    n.incident_id?;
    let expires = now
        .saturating_add(crate::oncall::ack::ACK_LINK_TTL)
        .unwrap_or(now);
    let token = crate::oncall::ack::ack_token(key, n.id, expires);
    Some(crate::oncall::ack::ack_url(Some(public_url), &token))
}

/// The plain-text body of a page e-mail.
fn email_text(n: &Notification, link: Option<&str>, now: Timestamp) -> String {
    let p = &n.payload;
    if p["test"].as_bool() == Some(true) {
        return "This is a test from Klaxon: this contact method works.\n\n-- \nKlaxon\n".into();
    }
    if is_reminder(p) {
        return reminder_text(p);
    }
    if is_update(p) {
        let i = &p["incident"];
        let mut t = format!(
            "{}\n\n{}\n\n",
            update_title(p),
            p["update"]["message"].as_str().unwrap_or("")
        );
        t += &format!("Status:    {}\n", i["status"].as_str().unwrap_or(""));
        if let Some(sev) = i["severity"].as_str() {
            t += &format!("Severity:  {sev}\n");
        }
        if let Some(by) = p["update"]["posted_by"].as_str() {
            t += &format!("From:      {by}\n");
        }
        if let Some(url) = i["url"].as_str() {
            t += &format!("\nFollow the incident:\n{url}\n");
        }
        t += "\nYou get these updates because you follow this incident.\n\n-- \nKlaxon\n";
        return t;
    }
    if let Some(title) = bundle_title(p) {
        // Many pages at once: one mail listing them, each with its link.
        let mut t = format!("{title}\n\n");
        for i in p["items"].as_array().into_iter().flatten() {
            let inc = &i["incident"];
            t += &format!(
                "#{} {} ({}, {})\n",
                inc["number"],
                inc["title"].as_str().unwrap_or(""),
                i["service"]["name"].as_str().unwrap_or("no service"),
                inc["urgency"].as_str().unwrap_or("high")
            );
            if let Some(url) = inc["url"].as_str() {
                t += &format!("  {url}\n");
            }
        }
        t += "\nAcknowledge them in Klaxon.\n\n-- \nKlaxon\n";
        return t;
    }
    let i = &p["incident"];
    let mut t = format!("{}\n\n", subject(p));
    t += &format!(
        "Service:   {}\n",
        p["service"]["name"].as_str().unwrap_or("none")
    );
    t += &format!("Urgency:   {}\n", i["urgency"].as_str().unwrap_or("high"));
    if let Some(opened) = i["created_at"].as_str() {
        t += &format!("Opened:    {opened}\n");
    }
    if let Some(level) = p["level"].as_u64() {
        t += &format!("Level:     {level} of the escalation policy\n");
    }
    if let Some(link) = link {
        let until = now
            .saturating_add(crate::oncall::ack::ACK_LINK_TTL)
            .unwrap_or(now)
            .strftime("%Y-%m-%d %H:%M UTC");
        t += &format!(
            "\nAcknowledge (stops the escalation):\n{link}\n\
             The link opens a page with a button: nothing changes until you\n\
             press it. It works until {until}.\n"
        );
    }
    match i["url"].as_str() {
        Some(url) => t += &format!("\nOpen the incident:\n{url}\n"),
        None => {
            t += "\nThis Klaxon server has no public URL (server.public_url), so this\n\
                  message has no links: acknowledge the incident in Klaxon.\n"
        }
    }
    t += &alerts_text(p);
    t += "\n-- \nKlaxon\n";
    t
}

/// The alerts as e-mail text: each one's facts, its custom details as a two-column table,
/// its links, and its images as links (a page e-mail loads nothing from elsewhere).
fn alerts_text(p: &Value) -> String {
    let alerts = alerts_of(p);
    let mut t = String::new();
    for a in alerts {
        t += &format!("\nAlert: {}\n", a["summary"].as_str().unwrap_or(""));
        for (name, value) in alert_facts(a) {
            t += &format!("  {:<10} {value}\n", format!("{name}:"));
        }
        let details = a["details"].as_array().map_or(&[][..], Vec::as_slice);
        if !details.is_empty() {
            t += "  Details:\n";
            let width = details
                .iter()
                .map(|d| d["key"].as_str().unwrap_or("").chars().count())
                .max()
                .unwrap_or(0)
                .min(28);
            for d in details {
                let key = d["key"].as_str().unwrap_or("");
                let value = d["value"].as_str().unwrap_or("");
                // Continuation lines of a multi-line value start under its first line.
                let indent = format!("\n    {:width$}  ", "");
                t += &format!(
                    "    {key:<width$}  {}\n",
                    value.lines().collect::<Vec<_>>().join(&indent)
                );
            }
            if let Some(more) = more_details(a) {
                t += &format!("    ({more})\n");
            }
        }
        let links = alert_links(a);
        if !links.is_empty() {
            t += "  Links:\n";
            for l in links {
                t += &format!("    {l}\n");
            }
        }
        if let Some(url) = a["url"].as_str() {
            t += &format!("  Open the alert: {url}\n");
        }
    }
    let total = p["incident"]["alert_count"].as_u64().unwrap_or(0);
    if total > alerts.len() as u64 && !alerts.is_empty() {
        t += &format!(
            "\nThe incident has {total} alerts; the newest {} are above.\n",
            alerts.len()
        );
    }
    t
}

/// Builds the e-mail; an address that does not parse fails for good.
fn email_message(
    n: &Notification,
    from: &str,
    link: Option<&str>,
    now: Timestamp,
) -> Result<lettre::Message, String> {
    use lettre::message::{Mailbox, header::ContentType};
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("smtp.from is not an e-mail address: {e}"))?;
    let to: Mailbox = n
        .address
        .parse()
        .map_err(|e| format!("{:?} is not an e-mail address: {e}", n.address))?;
    // Message-ID from the notification: a relay that sees it twice can tell.
    let domain = from.email.domain().to_owned();
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject(&n.payload))
        .date(std::time::SystemTime::from(now))
        .message_id(Some(format!("<{}@{domain}>", n.id)))
        .header(ContentType::TEXT_PLAIN)
        .body(email_text(n, link, now))
        .map_err(|e| format!("cannot build the e-mail: {e}"))
}

/// Sends a page e-mail over SMTP (see [`crate::shared::mail::send`] for what is retried).
async fn send_email(n: &Notification, channels: &Channels<'_>, now: Timestamp) -> Delivery {
    let smtp = &channels.settings.smtp;
    let (Some(host), Some(from)) = (
        smtp.host.as_deref().filter(|_| smtp.is_configured()),
        smtp.from.as_deref(),
    ) else {
        return Delivery::Failed("no e-mail provider is set up on this server ([smtp])".into());
    };
    // An update asks for nothing: no acknowledge link.
    let link = (!is_update(&n.payload))
        .then(|| ack_link(n, channels, now))
        .flatten();
    let message = match email_message(n, from, link.as_deref(), now) {
        Ok(m) => m,
        Err(e) => return Delivery::Failed(e),
    };
    crate::shared::mail::send(smtp, host, &message, channels.timeout).await
}

/// The Twilio-style account, when `[sms]` is set up.
fn twilio(settings: &crate::shared::config::Settings) -> Option<(&str, &str, &str, &str)> {
    let sms = &settings.sms;
    if !sms.is_configured() {
        return None;
    }
    Some((
        sms.base_url.trim_end_matches('/'),
        sms.account_sid.as_deref()?,
        sms.auth_token.as_deref()?,
        sms.from.as_deref()?,
    ))
}

/// Creates a message or a call through the Twilio-compatible API (form-encoded, HTTP basic
/// auth with the account SID and auth token), and says what the answer means.
async fn twilio_post(channels: &Channels<'_>, resource: &str, form: &[(&str, &str)]) -> Delivery {
    let Some((base, sid, token, _)) = twilio(channels.settings) else {
        return Delivery::Failed(
            "no SMS or voice provider is set up on this server ([sms])".into(),
        );
    };
    let sent = channels
        .http
        .post(format!("{base}/2010-04-01/Accounts/{sid}/{resource}"))
        .timeout(channels.timeout)
        .basic_auth(sid, Some(token))
        .form(form)
        .send()
        .await;
    http_outcome(sent, channels.timeout, "the SMS provider", true).await
}

/// The longest prefix of `s` with at most `max` characters, marked with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One SMS (160 characters) when it can be: `[HIGH] #12 Checkout is down (checkout) Ack: URL`,
/// cutting the title rather than the link.
fn sms_text(p: &Value, link: Option<&str>) -> String {
    const SMS: usize = 160;
    if let Some(t) = bundle_title(p) {
        return cut(&t, SMS);
    }
    if p["test"].as_bool() == Some(true) {
        return "Klaxon test: this contact method works.".into();
    }
    let head = format!(
        "[{}] #{} ",
        p["incident"]["urgency"]
            .as_str()
            .unwrap_or("high")
            .to_uppercase(),
        p["incident"]["number"]
    );
    // One link at most, to keep to one text: acknowledging, else the incident's page.
    let tail = match (link, p["incident"]["url"].as_str()) {
        (Some(l), _) => format!(" Ack: {l}"),
        (None, Some(url)) => format!(" {url}"),
        (None, None) => String::new(),
    };
    let title = p["incident"]["title"].as_str().unwrap_or("");
    let service = p["service"]["name"]
        .as_str()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let room = SMS.saturating_sub(head.chars().count() + tail.chars().count());
    let middle = if title.chars().count() + service.chars().count() <= room {
        format!("{title}{service}")
    } else {
        cut(title, room.max(20))
    };
    format!("{head}{middle}{tail}")
}

async fn send_sms(n: &Notification, channels: &Channels<'_>, now: Timestamp) -> Delivery {
    let Some((_, _, _, from)) = twilio(channels.settings) else {
        return Delivery::Failed("no SMS provider is set up on this server ([sms])".into());
    };
    let link = ack_link(n, channels, now);
    let body = sms_text(&n.payload, link.as_deref());
    twilio_post(
        channels,
        "Messages.json",
        &[("To", &n.address), ("From", from), ("Body", &body)],
    )
    .await
}

/// Text for XML: `&`, `<`, `>`, `"` and `'` escaped.
fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What the call says (TwiML): the incident read out, twice.
fn call_twiml(p: &Value) -> String {
    let said = if p["test"].as_bool() == Some(true) {
        "This is a test call from Klaxon. This contact method works. Goodbye.".to_owned()
    } else if p["bundle"].as_bool() == Some(true) {
        let first = &p["items"][0]["incident"];
        format!(
            "This is Klaxon. {} incidents need you. The first: incident {}, {}. \
             Acknowledge them in Klaxon.",
            p["count"],
            first["number"],
            cut(first["title"].as_str().unwrap_or(""), 200)
        )
    } else {
        let i = &p["incident"];
        let title = cut(i["title"].as_str().unwrap_or(""), 300);
        let service = p["service"]["name"]
            .as_str()
            .map(|s| format!(" on service {s}"))
            .unwrap_or_default();
        format!(
            "This is Klaxon. {} urgency incident {}{service}: {title}. \
             Acknowledge it in Klaxon, or with the link in your e-mail or text message.",
            i["urgency"].as_str().unwrap_or("high"),
            i["number"],
        )
    };
    format!(
        "<Response><Say loop=\"2\">{}</Say></Response>",
        xml_text(&said)
    )
}

async fn send_call(n: &Notification, channels: &Channels<'_>) -> Delivery {
    let Some((_, _, _, from)) = twilio(channels.settings) else {
        return Delivery::Failed("no voice provider is set up on this server ([sms])".into());
    };
    let twiml = call_twiml(&n.payload);
    twilio_post(
        channels,
        "Calls.json",
        &[("To", &n.address), ("From", from), ("Twiml", &twiml)],
    )
    .await
}

#[cfg(test)]
mod channel_tests {
    use super::*;
    use klaxon_domain::ids::NotificationId;

    #[test]
    fn a_stakeholder_update_reads_as_one_and_asks_for_nothing() {
        let now: Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
        let p = json!({"update": {"message": "A fix is rolling out.", "posted_by": "Ada"},
                       "incident": {"id": "x", "number": 12, "title": "Checkout errors",
                                    "status": "acknowledged", "severity": "SEV2",
                                    "url": "https://k.example.com/incidents/x"}});
        let n = Notification {
            id: NotificationId::new(now, [1; 10]),
            incident_id: None,
            user_id: klaxon_domain::ids::UserId::new(now, [2; 10]),
            contact_method_id: None,
            kind: ContactKind::Email,
            address: "bob@example.com".into(),
            dedup_key: "update:x".into(),
            payload: p.clone(),
            status: klaxon_domain::contact::NotificationStatus::Sending,
            attempts: 1,
            run_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        };
        assert_eq!(subject(&p), "Update on incident #12: Checkout errors");
        let text = email_text(&n, None, now);
        assert!(
            text.starts_with("Update on incident #12: Checkout errors\n\nA fix is rolling out.\n"),
            "{text}"
        );
        assert!(
            text.contains("Severity:  SEV2") && text.contains("From:      Ada"),
            "{text}"
        );
        assert!(
            text.contains("https://k.example.com/incidents/x") && !text.contains("Acknowledge"),
            "{text}"
        );
        assert!(headline(&p).ends_with("A fix is rolling out."));
    }

    fn page(title: &str) -> Value {
        json!({"incident": {"id": "x", "number": 12, "title": title, "urgency": "high",
                            "status": "triggered", "url": "https://k.example.com/incidents/x"},
               "service": {"id": "s", "name": "checkout"}, "level": 1})
    }

    #[test]
    fn texts_fit_one_sms_and_keep_the_whole_link() {
        let link = format!("https://klaxon.example.com/ack/{}", "A".repeat(48));
        let short = sms_text(&page("Checkout is down"), Some(&link));
        assert_eq!(
            short,
            format!("[HIGH] #12 Checkout is down (checkout) Ack: {link}")
        );
        assert!(short.chars().count() <= 160);
        let long = sms_text(&page(&"very long title ".repeat(20)), Some(&link));
        assert_eq!(long.chars().count(), 160, "{long}");
        assert!(long.ends_with(&link) && long.contains('…'), "{long}");
        assert_eq!(
            sms_text(&json!({"test": true}), None),
            "Klaxon test: this contact method works."
        );
        assert_eq!(
            subject(&page("Checkout is down")),
            "[HIGH] Incident #12: Checkout is down"
        );
    }

    #[test]
    fn without_an_ack_link_a_text_carries_the_incidents_link() {
        assert_eq!(
            sms_text(&page("Checkout is down"), None),
            "[HIGH] #12 Checkout is down (checkout) https://k.example.com/incidents/x"
        );
        let mut no_url = page("Checkout is down");
        no_url["incident"]["url"] = Value::Null;
        assert_eq!(
            sms_text(&no_url, None),
            "[HIGH] #12 Checkout is down (checkout)"
        );
    }

    #[test]
    fn a_chat_post_without_alerts_is_the_plain_text() {
        let body = chat_body(ContactKind::Slack, &page("Checkout is down"));
        assert_eq!(
            body,
            json!({"text": "[HIGH] Incident #12: Checkout is down (checkout)\nhttps://k.example.com/incidents/x"})
        );
        let card = chat_body(ContactKind::Teams, &page("Checkout is down"));
        assert!(card.get("sections").is_none(), "{card}");
    }

    #[test]
    fn tls_parameters_build_with_the_chosen_crypto_and_roots() {
        // lettre on rustls (aws-lc-rs) with the platform verifier: no provider left unset.
        lettre::transport::smtp::client::TlsParameters::new("smtp.example.com".into()).unwrap();
    }

    #[test]
    fn calls_read_the_title_escaped() {
        let t = call_twiml(&page("p99 > 2s & <rising>"));
        assert!(
            t.starts_with("<Response><Say") && t.ends_with("</Say></Response>"),
            "{t}"
        );
        assert!(
            t.contains("incident 12 on service checkout: p99 &gt; 2s &amp; &lt;rising&gt;."),
            "{t}"
        );
    }
}
