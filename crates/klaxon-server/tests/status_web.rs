//! Status pages through the web UI, on both backends: a page made with its forms, a group and a
//! component added, refused forms that say why beside the field and keep what was typed,
//! customers told from the incident page (on its timeline and the public page), an update to
//! resolved, and a component's removal that asks "are you sure" first. Then the settings form
//! (footer links included), scheduling maintenance in the reader's zone until the engine starts
//! it, and deleting a public incident and a page.
use crate::common;

use jiff::SignedDuration;
use serde_json::{Value, json};

use common::{Backend, TestApp, at, beside, form, hidden_csrf, ok, patch, session_for, web_get_as};

on_both_backends!(
    a_page_is_made_and_filled_from_the_web,
    refused_forms_say_why_beside_the_field,
    customers_are_told_from_the_incident_page,
    settings_change_from_the_web_and_a_bad_one_is_refused,
    footer_links_are_edited_in_the_settings_form,
    maintenance_is_scheduled_from_the_web,
    an_incident_and_a_page_are_deleted_from_the_web,
);

/// Makes a page with the add form; returns its admin path.
async fn add_page(app: &TestApp, cookie: &str, csrf: &str, slug: &str) -> String {
    let (status, location, html) = form(
        app,
        cookie,
        "/status-pages",
        &[
            ("csrf", csrf),
            ("name", "Acme status"),
            ("slug", slug),
            ("hostname", ""),
            ("time_zone", "Europe/Berlin"),
            ("accent_color", "#1f6feb"),
            ("visibility", "public"),
            ("password", ""),
            ("logo_url", ""),
            ("partial_outage_weight", "0.3"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    assert!(location.starts_with("/status-pages/"), "{location}");
    location
}

/// The code of the component called `name` on an admin page (from its remove form).
fn code_of(html: &str, name: &str) -> String {
    let i = at(html, &format!("aria-label=\"Remove {name}\""));
    let j = i + at(&html[i..], "/components/") + "/components/".len();
    html[j..j + 12].to_owned()
}

async fn a_page_is_made_and_filled_from_the_web(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let path = add_page(&app, &cookie, &csrf, "acme").await;

    // Listed, with its address and overall status.
    let list = web_get_as(&app, "/status-pages", &cookie).await;
    assert!(list.contains("href=\"/status/acme\""), "{list}");
    assert!(list.contains("All Systems Operational"), "{list}");
    assert!(
        list.contains(">Status pages</a>"),
        "the nav names it: {list}"
    );

    // A group, then a component in it.
    let add = format!("{path}/components");
    let (status, _, html) = form(
        &app,
        &cookie,
        &add,
        &[
            ("csrf", &csrf),
            ("name", "Core"),
            ("is_group", "yes"),
            ("show_uptime", "yes"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Added Core."), "{html}");
    let group = code_of(&html, "Core");
    let (status, _, html) = form(
        &app,
        &cookie,
        &add,
        &[
            ("csrf", &csrf),
            ("name", "API"),
            ("description", "The REST API"),
            ("group", &group),
            ("show_uptime", "yes"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Added API."), "{html}");
    let api = code_of(&html, "API");
    let tree = &html[at(&html, "data-testid=\"components\"")..];
    assert!(
        at(tree, "<strong>Core</strong>") < at(tree, "<strong>API</strong>"),
        "the member after its group"
    );
    assert!(tree.contains("class=\"member\""), "{tree}");

    // A responder's status change.
    let (status, _, html) = form(
        &app,
        &cookie,
        &format!("{path}/components/{api}/status"),
        &[("csrf", &csrf), ("status", "degraded_performance")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("API is now degraded performance."), "{html}");
    let public = app
        .http
        .get(format!("{}/status/acme", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(public.contains("API"), "{public}");
    assert!(public.contains("Degraded performance"), "{public}");

    // Removal asks first: without the box, refused beside it, and the component stays.
    let remove = format!("{path}/components/{api}/delete");
    let (status, _, html) = form(&app, &cookie, &remove, &[("csrf", &csrf)]).await;
    assert_eq!(status, 400, "{html}");
    beside(
        &html,
        &format!("r-{api}-confirm"),
        "Tick the box to remove the component.",
    );
    assert!(html.contains("<strong>API</strong>"), "still there");
    let (status, _, html) = form(
        &app,
        &cookie,
        &remove,
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Component removed."), "{html}");
    assert!(!html.contains("<strong>API</strong>"), "{html}");

    // Deleting the page asks first too.
    let (status, _, html) =
        form(&app, &cookie, &format!("{path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 400, "{html}");
    beside(
        &html,
        "delete-confirm",
        "Tick the box to delete the page, its components and its incidents.",
    );
    let (status, location, _) = form(
        &app,
        &cookie,
        &format!("{path}/delete"),
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/status-pages"));
    app.stop().await;
}

async fn refused_forms_say_why_beside_the_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let fields = |slug: &'static str, accent: &'static str| {
        vec![
            ("name", "Typed name"),
            ("slug", slug),
            ("time_zone", "Europe/Berlin"),
            ("accent_color", accent),
            ("visibility", "public"),
            ("partial_outage_weight", "0.3"),
        ]
    };
    let post = |f: Vec<(&'static str, &'static str)>| {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(f);
        let cookie = cookie.clone();
        let app = &app;
        async move { form(app, &cookie, "/status-pages", &all).await }
    };

    // A bad slug: said beside the slug box; the rest typed is kept.
    let (status, _, html) = post(fields("Not A Slug!", "#1f6feb")).await;
    assert_eq!(status, 400, "{html}");
    let slug_msg = &html[at(&html, "id=\"add-slug-error\"")..];
    assert!(slug_msg.starts_with("id=\"add-slug-error\""));
    beside(&html, "add-slug", &{
        let t = &html[at(&html, "id=\"add-slug-error\"")..];
        let t = &t[t.find('>').unwrap() + 1..];
        t[..t.find('<').unwrap()].to_owned()
    });
    assert!(
        !html.contains("add-slug-error\">Slug:"),
        "plain words: {html}"
    );
    assert!(html.contains("value=\"Typed name\""), "{html}");
    assert!(html.contains("value=\"Not A Slug!\""), "{html}");
    assert!(html.contains("value=\"Europe/Berlin\""), "{html}");

    // Too light an accent colour: beside the colour box.
    let (status, _, html) = post(fields("fine", "#ffff00")).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("id=\"add-accent-error\""), "{html}");
    let control = at(&html, "id=\"add-accent\"");
    let tag = &html[html[..control].rfind('<').unwrap()..];
    assert!(tag[..tag.find('>').unwrap()].contains("aria-invalid=\"true\""));
    assert!(html.contains("value=\"#ffff00\""), "{html}");
    assert!(html.contains("value=\"fine\""), "{html}");
    assert!(
        !html.contains("id=\"add-slug-error\""),
        "only the colour: {html}"
    );

    // Nothing was made.
    let list = web_get_as(&app, "/status-pages", &cookie).await;
    assert!(list.contains("No status pages yet."), "{list}");
    app.stop().await;
}

async fn customers_are_told_from_the_incident_page(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let service = ok(
        app.post("/api/v1/services", t, &json!({"name": "checkout"})),
        201,
    )
    .await;
    let sid = service["id"].as_str().unwrap();
    let path = add_page(&app, &cookie, &csrf, "acme").await;
    let page_id = path.trim_start_matches("/status-pages/").to_owned();
    let add = format!("{path}/components");
    let (status, _, html) = form(
        &app,
        &cookie,
        &add,
        &[
            ("csrf", &csrf),
            ("name", "Checkout"),
            ("services", sid),
            ("show_uptime", "yes"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let checkout = code_of(&html, "Checkout");
    let (_, _, html) = form(&app, &cookie, &add, &[("csrf", &csrf), ("name", "Search")]).await;
    let search = code_of(&html, "Search");

    let inc = ok(
        app.post(
            "/api/v1/incidents",
            t,
            &json!({"title": "Payments time out", "severity": "SEV2", "service_id": sid}),
        ),
        201,
    )
    .await;
    let iid = inc["id"].as_str().unwrap();
    let ipath = format!("/incidents/{iid}");

    // The panel proposes the service's component (ticked), not the other, and the title.
    let html = web_get_as(&app, &ipath, &cookie).await;
    let panel = &html[at(&html, "id=\"status-panel\"")..];
    assert!(panel.contains("Customers have not been told"), "{panel}");
    let tick = |code: &str| {
        let i = at(panel, &format!("id=\"tell-a-{code}\""));
        panel[i..i + panel[i..].find('>').unwrap()].contains("checked")
    };
    assert!(tick(&checkout), "proposed");
    assert!(!tick(&search), "not proposed");
    assert!(panel.contains("value=\"Payments time out\""), "{panel}");

    // Refused (no title): said beside the title, the choices kept.
    let status_field = format!("status.{checkout}");
    let (status, _, html) = form(
        &app,
        &cookie,
        &format!("{ipath}/status-page"),
        &[
            ("csrf", &csrf),
            ("page", &page_id),
            ("name", ""),
            ("impact", "major"),
            ("affected", &checkout),
            (&status_field, "major_outage"),
            ("body", "Kept words"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("id=\"tell-name-error\""), "{html}");
    assert!(html.contains(">Kept words</textarea>"), "{html}");
    assert!(html.contains("<option value=\"major\" selected>"), "{html}");

    // Published: on the timeline, and on the public page.
    let (status, location, html) = form(
        &app,
        &cookie,
        &format!("{ipath}/status-page"),
        &[
            ("csrf", &csrf),
            ("page", &page_id),
            ("name", "Payments are slow"),
            ("impact", "major"),
            ("affected", &checkout),
            (&status_field, "major_outage"),
            ("body", ""),
            ("next_update_in_minutes", "30"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    assert!(location.starts_with(&ipath), "{location}");
    let timeline = ok(
        app.get(&format!("/api/v1/incidents/{iid}/timeline"), t),
        200,
    )
    .await;
    let kinds: Vec<&str> = timeline["items"]
        .as_array()
        .or_else(|| timeline.as_array())
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"incident.status_page_published"),
        "{kinds:?}"
    );
    let public = app
        .http
        .get(format!("{}/status/acme", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(public.contains("Payments are slow"), "{public}");
    assert!(public.contains("Major outage"), "{public}");

    // The panel lists it with a link to post an update.
    let html = web_get_as(&app, &ipath, &cookie).await;
    let panel = &html[at(&html, "id=\"status-panel\"")..];
    let i = at(panel, "post an update");
    let href = &panel[panel[..i].rfind("href=\"").unwrap() + 6..];
    let href = href[..href.find('"').unwrap()].to_owned();
    assert!(
        href.starts_with(&format!("/status-pages/{page_id}/incidents/")),
        "{href}"
    );
    let html = web_get_as(&app, &href, &cookie).await;
    assert!(html.contains("Payments are slow"), "{html}");
    assert!(hidden_csrf(&html) == csrf);

    // An update to resolved puts the component back.
    let (status, _, html) = form(
        &app,
        &cookie,
        &href,
        &[("csrf", &csrf), ("status", "resolved"), ("body", "")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Update posted."), "{html}");
    assert!(html.contains("This incident has been resolved."), "{html}");
    assert!(
        html.contains("Checkout: Major outage → Operational"),
        "{html}"
    );
    let page = web_get_as(&app, &path, &cookie).await;
    assert!(page.contains("Payments are slow"), "{page}");
    assert!(page.contains("resolved"), "{page}");
    app.stop().await;
}

/// What a reader gets at `path`: (status, body).
async fn public(app: &TestApp, path: &str) -> (u16, String) {
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The `value` of the control with `id`.
fn value_of(html: &str, id: &str) -> String {
    let i = at(html, &format!("id=\"{id}\""));
    let tag = &html[i..i + html[i..].find('>').unwrap()];
    let v = &tag[at(tag, "value=\"") + 7..];
    v[..v.find('"').unwrap()].to_owned()
}

/// The settings form's fields as the page shows them, for a post that changes some.
fn settings_as_shown(html: &str, csrf: &str) -> Vec<(String, String)> {
    let mut f = vec![("csrf".to_owned(), csrf.to_owned())];
    for (name, id) in [
        ("name", "settings-name"),
        ("slug", "settings-slug"),
        ("hostname", "settings-hostname"),
        ("time_zone", "settings-zone"),
        ("accent_color", "settings-accent"),
        ("logo_url", "settings-logo"),
        ("partial_outage_weight", "settings-weight"),
    ] {
        f.push((name.to_owned(), value_of(html, id)));
    }
    f.push(("visibility".to_owned(), "public".to_owned()));
    f
}

fn with(mut f: Vec<(String, String)>, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in changes {
        match f.iter_mut().find(|(name, _)| name == k) {
            Some(field) => field.1 = (*v).to_owned(),
            None => f.push(((*k).to_owned(), (*v).to_owned())),
        }
    }
    f
}

async fn post_settings(
    app: &TestApp,
    cookie: &str,
    path: &str,
    f: &[(String, String)],
) -> (u16, String) {
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, html) = form(app, cookie, path, &refs).await;
    (status, html)
}

async fn page_api(app: &TestApp, slug: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/status-pages/{slug}"), &app.admin.token),
        200,
    )
    .await
}

async fn settings_change_from_the_web_and_a_bad_one_is_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let path = add_page(&app, &cookie, &csrf, "acme").await;
    let shown = settings_as_shown(&web_get_as(&app, &path, &cookie).await, &csrf);
    assert!(shown.contains(&("time_zone".into(), "Europe/Berlin".into())));

    // A new name, host name, colour, zone and weight, saved and said so.
    let changed = with(
        shown,
        &[
            ("name", "Acme Cloud status"),
            ("hostname", "Status.Acme.Example"),
            ("accent_color", "#0B5CAD"),
            ("time_zone", "America/New_York"),
            ("partial_outage_weight", "0.5"),
        ],
    );
    let (status, html) = post_settings(&app, &cookie, &path, &changed).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Settings saved."), "{html}");
    assert_eq!(value_of(&html, "settings-name"), "Acme Cloud status");
    assert_eq!(value_of(&html, "settings-hostname"), "status.acme.example");
    let p = page_api(&app, "acme").await;
    assert_eq!(p["name"], "Acme Cloud status");
    assert_eq!(p["hostname"], "status.acme.example");
    assert_eq!(p["accent_color"], "#0b5cad");
    assert_eq!(p["time_zone"], "America/New_York");
    assert_eq!(p["partial_outage_weight"], 0.5);
    // Readers see it at once: the name, the zone, the colour.
    let (status, public_html) = public(&app, "/status/acme").await;
    assert_eq!(status, 200);
    assert!(public_html.contains("Acme Cloud status"), "{public_html}");
    assert!(public_html.contains("America/New_York"), "{public_html}");
    let (_, css) = public(&app, "/status/acme/style.css").await;
    assert!(css.contains("--accent:#0b5cad"), "{css}");

    // A weight out of range: refused beside its box, everything typed kept, nothing saved.
    let bad = with(
        changed.clone(),
        &[
            ("name", "Typed but not saved"),
            ("partial_outage_weight", "1.5"),
        ],
    );
    let (status, html) = post_settings(&app, &cookie, &path, &bad).await;
    assert_eq!(status, 400, "{html}");
    beside(&html, "settings-weight", "Must be between 0 and 1.");
    assert_eq!(value_of(&html, "settings-weight"), "1.5");
    assert_eq!(value_of(&html, "settings-name"), "Typed but not saved");
    assert!(!html.contains("Settings saved."), "{html}");
    let p = page_api(&app, "acme").await;
    assert_eq!(p["name"], "Acme Cloud status");
    assert_eq!(p["partial_outage_weight"], 0.5);

    // Not a number at all: the form's own words, beside the same box.
    let bad = with(changed.clone(), &[("partial_outage_weight", "a third")]);
    let (status, html) = post_settings(&app, &cookie, &path, &bad).await;
    assert_eq!(status, 400, "{html}");
    beside(
        &html,
        "settings-weight",
        "Must be a number from 0 to 1, such as 0.3.",
    );
    assert_eq!(value_of(&html, "settings-weight"), "a third");

    // A password page needs a password: said beside the password box.
    let bad = with(changed.clone(), &[("visibility", "password")]);
    let (status, html) = post_settings(&app, &cookie, &path, &bad).await;
    assert_eq!(status, 400, "{html}");
    beside(
        &html,
        "settings-password",
        "A password page needs a password.",
    );
    assert!(
        html.contains("value=\"password\" checked"),
        "the choice kept: {html}"
    );
    // With one, readers are asked for it.
    let ok_pw = with(
        changed,
        &[("visibility", "password"), ("password", "open sesame")],
    );
    let (status, html) = post_settings(&app, &cookie, &path, &ok_pw).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(page_api(&app, "acme").await["visibility"], "password");
    let r = app
        .http
        .get(format!("{}/status/acme", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/status/acme/login");
    app.stop().await;
}

async fn footer_links_are_edited_in_the_settings_form(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let path = add_page(&app, &cookie, &csrf, "acme").await;
    let html = web_get_as(&app, &path, &cookie).await;
    // No links yet: blank rows to fill, each box with its label.
    for id in ["settings-fl0-label", "settings-fl0-url", "settings-fl2-url"] {
        assert!(html.contains(&format!("<label for=\"{id}\">")), "{id}");
        assert_eq!(value_of(&html, id), "");
    }
    assert!(
        !html.contains("id=\"settings-fl3-label\""),
        "three blank rows"
    );
    let shown = settings_as_shown(&html, &csrf);

    // Two links typed, the middle row left blank: saved in order, shown in the public footer.
    let two = with(
        shown.clone(),
        &[
            ("footer[0].label", "Documentation"),
            ("footer[0].url", "https://docs.acme.example"),
            ("footer[1].label", ""),
            ("footer[1].url", ""),
            ("footer[2].label", " Support "),
            ("footer[2].url", "https://acme.example/support"),
        ],
    );
    let (status, html) = post_settings(&app, &cookie, &path, &two).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Settings saved."), "{html}");
    let p = page_api(&app, "acme").await;
    assert_eq!(
        p["footer_links"],
        json!([
            {"label": "Documentation", "url": "https://docs.acme.example"},
            {"label": "Support", "url": "https://acme.example/support"},
        ])
    );
    // The form shows them, then three blank rows.
    assert_eq!(value_of(&html, "settings-fl0-label"), "Documentation");
    assert_eq!(
        value_of(&html, "settings-fl1-url"),
        "https://acme.example/support"
    );
    assert_eq!(value_of(&html, "settings-fl4-label"), "");
    assert!(!html.contains("id=\"settings-fl5-label\""), "{html}");
    let (_, public_html) = public(&app, "/status/acme").await;
    let footer = &public_html[at(&public_html, "<footer>")..];
    assert!(
        footer.contains("<a href=\"https://docs.acme.example\">Documentation</a>"),
        "{footer}"
    );
    assert!(
        footer.contains("<a href=\"https://acme.example/support\">Support</a>"),
        "{footer}"
    );

    // A link that is not http(s), and words without a link: each refused beside its box, all
    // typed kept, nothing saved.
    let bad = with(
        shown.clone(),
        &[
            ("footer[0].label", "Documentation"),
            ("footer[0].url", "javascript:alert(1)"),
            ("footer[1].label", "Support"),
            ("footer[1].url", ""),
            ("footer[2].label", "Status API"),
            ("footer[2].url", "https://acme.example/api"),
        ],
    );
    let (status, html) = post_settings(&app, &cookie, &path, &bad).await;
    assert_eq!(status, 400, "{html}");
    beside(
        &html,
        "settings-fl0-url",
        "Must be an http:// or https:// link.",
    );
    beside(&html, "settings-fl1-url", "Must not be empty.");
    assert!(!html.contains("id=\"settings-fl0-label-error\""), "{html}");
    assert!(!html.contains("id=\"settings-fl2-url-error\""), "{html}");
    assert_eq!(value_of(&html, "settings-fl0-url"), "javascript:alert(1)");
    assert_eq!(value_of(&html, "settings-fl1-label"), "Support");
    assert_eq!(value_of(&html, "settings-fl2-label"), "Status API");
    assert!(!html.contains("Settings saved."), "{html}");
    assert_eq!(
        page_api(&app, "acme").await["footer_links"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "unchanged"
    );

    // Words too long: the API's rule, beside the words.
    let long = "x".repeat(101);
    let bad = with(
        shown.clone(),
        &[
            ("footer[0].label", &long),
            ("footer[0].url", "https://a.example"),
        ],
    );
    let (status, html) = post_settings(&app, &cookie, &path, &bad).await;
    assert_eq!(status, 400, "{html}");
    beside(&html, "settings-fl0-label", "At most 100 characters.");

    // Emptying both boxes of a row removes that link; every row empty removes them all.
    let one = with(
        shown.clone(),
        &[
            ("footer[0].label", ""),
            ("footer[0].url", ""),
            ("footer[1].label", "Support"),
            ("footer[1].url", "https://acme.example/support"),
        ],
    );
    let (status, html) = post_settings(&app, &cookie, &path, &one).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(
        page_api(&app, "acme").await["footer_links"],
        json!([{"label": "Support", "url": "https://acme.example/support"}])
    );
    let none = with(shown, &[("footer[0].label", ""), ("footer[0].url", "")]);
    let (status, html) = post_settings(&app, &cookie, &path, &none).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(page_api(&app, "acme").await["footer_links"], json!([]));
    let (_, public_html) = public(&app, "/status/acme").await;
    assert!(!public_html.contains("Support</a>"), "{public_html}");
    app.stop().await;
}

async fn maintenance_is_scheduled_from_the_web(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    // The admin reads times in Berlin (UTC+1 in November); the clock says 09:00 UTC.
    let me = ok(app.get("/api/v1/me", t), 200).await;
    let admin = me["user"]["id"].as_str().unwrap();
    ok(
        patch(
            &app,
            &format!("/api/v1/users/{admin}"),
            t,
            &json!({"time_zone": "Europe/Berlin"}),
        ),
        200,
    )
    .await;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let path = add_page(&app, &cookie, &csrf, "acme").await;
    let add = format!("{path}/components");
    form(
        &app,
        &cookie,
        &add,
        &[("csrf", &csrf), ("name", "Database")],
    )
    .await;
    let (_, _, html) = form(&app, &cookie, &add, &[("csrf", &csrf), ("name", "Web")]).await;
    let db = code_of(&html, "Database");
    let web = code_of(&html, "Web");
    // The form names the reader's zone beside the window.
    assert!(
        html.contains("<label for=\"mt-from\">From (Europe/Berlin)</label>"),
        "{html}"
    );

    let schedule = format!("{path}/maintenances");
    // A window that ends before it starts: refused beside "Until", what was typed kept.
    let (status, _, html) = form(
        &app,
        &cookie,
        &schedule,
        &[
            ("csrf", &csrf),
            ("name", "Database upgrade"),
            ("scheduled_for", "2026-11-21T11:00"),
            ("scheduled_until", "2026-11-21T10:00"),
            ("affected", &db),
            ("remind_minutes", "30"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("id=\"mt-until-error\""), "{html}");
    assert_eq!(value_of(&html, "mt-until"), "2026-11-21T10:00");
    assert_eq!(value_of(&html, "mt-name"), "Database upgrade");
    let ticked = |html: &str, id: &str| {
        let i = at(html, &format!("id=\"{id}\""));
        html[i..i + html[i..].find('>').unwrap()].contains("checked")
    };
    assert!(ticked(&html, &format!("maintenance-a-{db}")));
    assert!(!ticked(&html, &format!("maintenance-a-{web}")));

    // 11:00 to 11:30 in Berlin, on the database.
    let (status, location, html) = form(
        &app,
        &cookie,
        &schedule,
        &[
            ("csrf", &csrf),
            ("name", "Database upgrade"),
            ("scheduled_for", "2026-11-21T11:00"),
            ("scheduled_until", "2026-11-21T11:30"),
            ("affected", &db),
            ("body", ""),
            ("remind_minutes", "30"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let prefix = format!("{path}/incidents/");
    assert!(location.starts_with(&prefix), "{location}");
    let code = location[prefix.len()..].to_owned();
    let m = ok(
        app.get(&format!("/api/v1/status-pages/acme/incidents/{code}"), t),
        200,
    )
    .await;
    assert_eq!(m["maintenance"], true);
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["impact"], "maintenance");
    assert_eq!(m["scheduled_for"], "2026-11-21T10:00:00Z");
    assert_eq!(m["scheduled_until"], "2026-11-21T10:30:00Z");
    assert_eq!(m["remind_minutes"], 30);
    assert_eq!(m["components"], json!([{"code": db, "name": "Database"}]));
    // Its page shows the window in the reader's zone; the status page lists it.
    let html = web_get_as(&app, &location, &cookie).await;
    assert!(html.contains("Database upgrade"), "{html}");
    assert!(html.contains("datetime=\"2026-11-21T10:00:00Z\""), "{html}");
    assert!(html.contains(">11:00 CET</time>"), "{html}");
    let html = web_get_as(&app, &path, &cookie).await;
    let list = &html[at(&html, "data-testid=\"public-incidents\"")..];
    assert!(list.contains("maintenance, scheduled"), "{list}");
    let (_, public_html) = public(&app, "/status/acme").await;
    assert!(public_html.contains("Database upgrade"), "{public_html}");

    // The engine's job is waiting; nothing moves before 11:00 Berlin, then it starts.
    let jobs = app.state.store.list_jobs(None, 100).await.unwrap().items;
    assert!(
        jobs.iter().any(|j| j.kind == "status.maintenance"),
        "{:?}",
        jobs.iter().map(|j| &j.kind).collect::<Vec<_>>()
    );
    let comps = || app.get("/api/v1/status-pages/acme/components", t);
    let status_of = |c: &Value, name: &str| {
        c.as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    app.clock.advance(SignedDuration::from_mins(59));
    app.state.engine.tick().await.unwrap();
    assert_eq!(
        status_of(&ok(comps(), 200).await, "Database"),
        "operational"
    );
    app.clock.advance(SignedDuration::from_mins(1));
    app.state.engine.tick().await.unwrap();
    let m = ok(
        app.get(&format!("/api/v1/status-pages/acme/incidents/{code}"), t),
        200,
    )
    .await;
    assert_eq!(m["status"], "in_progress");
    let c = ok(comps(), 200).await;
    assert_eq!(status_of(&c, "Database"), "under_maintenance");
    assert_eq!(status_of(&c, "Web"), "operational");
    app.stop().await;
}

async fn an_incident_and_a_page_are_deleted_from_the_web(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let t = &app.admin.token;
    let (cookie, csrf) = session_for(&app, &app.admin.email, &app.admin.password).await;
    let path = add_page(&app, &cookie, &csrf, "acme").await;
    let (_, _, html) = form(
        &app,
        &cookie,
        &format!("{path}/components"),
        &[("csrf", &csrf), ("name", "API")],
    )
    .await;
    let api = code_of(&html, "API");
    let status_field = format!("status.{api}");
    let (status, location, html) = form(
        &app,
        &cookie,
        &format!("{path}/incidents"),
        &[
            ("csrf", &csrf),
            ("name", "Published by mistake"),
            ("impact", "major"),
            ("affected", &api),
            (&status_field, "major_outage"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let code = location.rsplit('/').next().unwrap().to_owned();
    let (status, _) = public(&app, &format!("/status/acme/incidents/{code}")).await;
    assert_eq!(status, 200);

    // The incident's page asks first: without the box, refused beside it, and it stays.
    let html = web_get_as(&app, &location, &cookie).await;
    assert!(html.contains("id=\"delete-confirm\""), "{html}");
    let delete = format!("{location}/delete");
    let (status, _, html) = form(&app, &cookie, &delete, &[("csrf", &csrf)]).await;
    assert_eq!(status, 400, "{html}");
    beside(
        &html,
        "delete-confirm",
        "Tick the box to delete it from the status page.",
    );
    let one = format!("/api/v1/status-pages/acme/incidents/{code}");
    ok(app.get(&one, t), 200).await;
    // A responder may not delete it, box or not.
    common::member(&app, "r@example.com", "Rita", "responder").await;
    let (rcookie, rcsrf) = session_for(&app, "r@example.com", common::PASSWORD).await;
    let (status, _, _) = form(
        &app,
        &rcookie,
        &delete,
        &[("csrf", &rcsrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(status, 403);
    ok(app.get(&one, t), 200).await;
    // Ticked: gone from the admin page, the API and the public page.
    let (status, location, _) = form(
        &app,
        &cookie,
        &delete,
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, path.as_str()));
    let r = app.get(&one, t).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let html = web_get_as(&app, &path, &cookie).await;
    assert!(!html.contains("Published by mistake"), "{html}");
    let (status, _) = public(&app, &format!("/status/acme/incidents/{code}")).await;
    assert_eq!(status, 404);
    let (_, public_html) = public(&app, "/status/acme").await;
    assert!(
        !public_html.contains("Published by mistake"),
        "{public_html}"
    );

    // The page: without the box it stays; ticked, it is gone everywhere.
    let (status, _, _) = form(&app, &cookie, &format!("{path}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 400);
    ok(app.get("/api/v1/status-pages/acme", t), 200).await;
    let (status, location, _) = form(
        &app,
        &cookie,
        &format!("{path}/delete"),
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/status-pages"));
    let r = app
        .get("/api/v1/status-pages/acme", t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let list = web_get_as(&app, "/status-pages", &cookie).await;
    assert!(list.contains("No status pages yet."), "{list}");
    let (status, _) = public(&app, "/status/acme").await;
    assert_eq!(status, 404);
    let (status, _) = public(&app, &format!("/status/acme/components/{api}/history.atom")).await;
    assert_eq!(status, 404);
    // Its admin address answers "not found" too.
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}{path}", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}
