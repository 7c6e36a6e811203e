//! The real application on 127.0.0.1:0, a fresh database, a fake clock.
#![allow(dead_code)]

use std::sync::Arc;

use jiff::Timestamp;
use klaxon_domain::FakeClock;
use klaxon_server::app::{self, Bootstrapped};
use klaxon_server::{App, AppState, Settings};
pub use klaxon_store_tests::Backend;
use klaxon_store_tests::TestDatabase;
use serde_json::Value;

pub mod target;

pub struct TestApp {
    pub url: String,
    pub clock: FakeClock,
    pub state: AppState,
    pub admin: Bootstrapped,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    pub db: TestDatabase,
}

impl TestApp {
    /// `None` only when PostgreSQL tests are skipped on purpose (KLAXON_TEST_SKIP_PG=1).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Option<Self> {
        let db = TestDatabase::new(backend).await?;
        let mut settings = Settings::default();
        settings.database.url = db.url().to_owned();
        settings.engine.enabled = false; // tests tick the engine themselves
        // The tests' receivers listen on loopback, which users' destinations may not reach
        // unless allowed.
        settings.outgoing.allow = vec!["127.0.0.1".into()];
        tweak(&mut settings);
        let clock = FakeClock::new("2026-11-21T09:00:00Z".parse::<Timestamp>().unwrap());
        app::init_metrics();
        let app = App::build(settings, Arc::new(clock.clone()))
            .await
            .expect("build app");
        let state = app.state.clone();
        let admin = app::bootstrap(&state.store, &state.clock, &state.passwords)
            .await
            .unwrap()
            .expect("fresh database bootstraps");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Some(Self {
            url,
            clock,
            state,
            admin,
            http,
            stop: Some(stop),
            server: Some(server),
            db,
        })
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body)
    }

    /// Creates a user and a token of `role` for it, through the API.
    pub async fn user_with_token(&self, email: &str, role: &str) -> (String, String) {
        let m = member(self, email, "Someone", role).await;
        (m.id, m.token)
    }

    /// Stops the server gracefully and fails the test if that takes more than a few seconds.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            tokio::time::timeout(std::time::Duration::from_secs(5), h)
                .await
                .expect("graceful shutdown finishes")
                .expect("server task");
        }
    }
}

/// A person with a token of their role; their password is [`PASSWORD`].
pub struct Member {
    pub id: String,
    pub token: String,
}

pub const PASSWORD: &str = "correct horse battery";

/// Creates a user through the API and, as no API call can give another user a token, a token
/// of `role` for them through the offline path.
pub async fn member(app: &TestApp, email: &str, name: &str, role: &str) -> Member {
    let r = app
        .post(
            "/api/v1/users",
            &app.admin.token,
            &serde_json::json!({"email": email, "name": name, "role": role, "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let user: Value = r.json().await.unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    let (_, token) = klaxon_server::people::api::issue_token(
        &app.state,
        id.parse().unwrap(),
        klaxon_domain::auth::TokenName::parse("test").unwrap(),
        role.parse().unwrap(),
        klaxon_domain::event::Actor::System,
    )
    .await
    .unwrap();
    Member { id, token }
}

pub fn patch(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::RequestBuilder {
    app.http
        .patch(format!("{}{path}", app.url))
        .bearer_auth(token)
        .json(body)
}

pub fn put(app: &TestApp, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.http
        .put(format!("{}{path}", app.url))
        .bearer_auth(token)
}

pub fn delete(app: &TestApp, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.http
        .delete(format!("{}{path}", app.url))
        .bearer_auth(token)
}

/// Sends the request, asserts the status and returns the JSON body (null when empty).
pub async fn ok(req: reqwest::RequestBuilder, status: u16) -> Value {
    let r = req.send().await.unwrap();
    let got = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// Sends the request, asserts the API's error shape and returns its `error` object.
pub async fn refused(
    req: reqwest::RequestBuilder,
    status: u16,
    code: &str,
    field: Option<&str>,
) -> Value {
    expect_error(req.send().await.unwrap(), status, code, field).await
}

/// Asserts the API's error shape and returns its `error` object.
pub async fn expect_error(
    resp: reqwest::Response,
    status: u16,
    code: &str,
    field: Option<&str>,
) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    match field {
        Some(f) => assert_eq!(body["error"]["field"], f, "{body}"),
        None => assert!(body["error"].get("field").is_none(), "{body}"),
    }
    body["error"].clone()
}

/// Runs each scenario against SQLite and PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() { super::$case(super::common::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() { super::$case(super::common::Backend::Postgres).await }
            )*
        }
    };
}

// --- the web UI as a signed-in browser would use it --------------------------------------------

/// The `name=value` of a Set-Cookie header of the response, if set.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=')?;
            (k == name).then(|| (val.to_owned(), attrs.to_owned()))
        })
}

pub fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[i..i + 64].to_owned()
}

/// Loads the login form and returns (cookie header, csrf token).
pub async fn login_form(app: &TestApp) -> (String, String) {
    let r = app
        .http
        .get(format!("{}/login", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (pre, attrs) = set_cookie(&r, "klaxon_login").expect("login cookie");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"),
        "{attrs}"
    );
    let html = r.text().await.unwrap();
    (format!("klaxon_login={pre}"), hidden_csrf(&html))
}

pub async fn post_login(
    app: &TestApp,
    cookie: &str,
    csrf: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.http
        .post(format!("{}/login", app.url))
        .header("cookie", cookie)
        .form(&[("email", email), ("password", password), ("csrf", csrf)])
        .send()
        .await
        .unwrap()
}

/// Logs someone in; returns (session cookie header, the session's CSRF token).
pub async fn session_for(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let (cookie, csrf) = login_form(app).await;
    let r = post_login(app, &cookie, &csrf, email, password).await;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    let (session, _) = set_cookie(&r, "klaxon_session").expect("session cookie");
    let cookie = format!("klaxon_session={session}");
    let html = app
        .http
        .get(format!("{}/schedules", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (cookie, hidden_csrf(&html))
}

/// A signed-in GET of a web page as the admin; returns its HTML.
pub async fn web_get(app: &TestApp, path: &str) -> String {
    let (cookie, _) = session_for(app, &app.admin.email, &app.admin.password).await;
    web_get_as(app, path, &cookie).await
}

/// A GET of a web page with a session `cookie` (from [`session_for`]); returns its HTML.
pub async fn web_get_as(app: &TestApp, path: &str, cookie: &str) -> String {
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    r.text().await.unwrap()
}

/// Every item of an API list, read `limit` at a time by following `next_cursor`; each page
/// must hold at most `limit` items and only the last may lack a cursor.
pub async fn all_pages(app: &TestApp, path: &str, limit: u32) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&url, &app.admin.token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let page: Value = r.json().await.unwrap();
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit as usize, "{url}: {page}");
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(
                    got.len(),
                    limit as usize,
                    "a full page before a cursor: {page}"
                );
                cursor = Some(c.to_owned());
            }
            None => return items,
        }
    }
}

/// A signed-in form post, not following redirects; returns (status, Location, HTML).
pub async fn form(
    app: &TestApp,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}{path}", app.url))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// Where `needle` is in `html`, which must have it.
pub fn at(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in {html}"))
}

/// The message for `id` sits right after the control with that id, which points at it.
pub fn beside(html: &str, id: &str, message: &str) {
    let control = at(html, &format!("id=\"{id}\""));
    let error = at(html, &format!("id=\"{id}-error\""));
    assert!(control < error, "{id}: the message comes after the control");
    assert!(
        !html[control..error].contains("<label"),
        "{id}: nothing between the control and its message"
    );
    let tag = &html[html[..control].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    assert!(
        tag.contains("aria-invalid=\"true\"")
            && tag.contains(&format!("aria-describedby=\"{id}-error\"")),
        "{tag}"
    );
    let text = &html[error..];
    let text = &text[text.find('>').unwrap() + 1..];
    assert_eq!(&text[..text.find('<').unwrap()], message);
}
