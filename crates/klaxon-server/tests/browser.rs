//! A real browser (headless Chromium through chromedriver) logs in, sees the dashboard and logs
//! out. Needs `chromium` and `chromium-driver`; scripts/test.sh installs them. Never skipped.
mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Backend, TestApp};
use serde_json::{Value, json};

struct Driver {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(var: &str, fallback: &str) -> String {
    let path = std::env::var(var)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| fallback.into());
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} not found: install chromium and chromium-driver (scripts/test.sh does), or set {var}"
    );
    path
}

impl Driver {
    async fn start() -> Self {
        let driver = tool("KLAXON_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let d = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        // Wait for the driver to answer (a readiness poll, not a timing assumption).
        for _ in 0..200 {
            if let Ok(r) = d.http.get(format!("{}/status", d.url)).send().await
                && r.status().is_success()
            {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not start");
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(v["value"].get("error").is_none(), "webdriver {path}: {v}");
        v["value"].clone()
    }
}

struct Session<'a> {
    d: &'a Driver,
    id: String,
}

impl Session<'_> {
    async fn new(d: &Driver) -> Session<'_> {
        let chromium = tool("KLAXON_TEST_CHROMIUM", "/usr/bin/chromium");
        let profile = tempfile::tempdir().unwrap().keep();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let v = d.call(reqwest::Method::POST, "/session", Some(caps)).await;
        Session {
            d,
            id: v["sessionId"].as_str().unwrap().to_owned(),
        }
    }

    async fn go(&self, url: &str) {
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/url", self.id),
                Some(json!({"url": url})),
            )
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element", self.id),
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{el}/value", self.id),
                Some(json!({"text": text})),
            )
            .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{el}/click", self.id),
                Some(json!({})),
            )
            .await;
    }

    async fn current_url(&self) -> String {
        self.d
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/url", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.d
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/element/{el}/text", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn title(&self) -> String {
        self.d
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/title", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Polls until the page's title is `want`: a click's navigation may still be in flight.
    async fn wait_title(&self, want: &str) {
        for _ in 0..200 {
            if self.title().await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "the page never got the title {want:?} (it is {:?})",
            self.title().await
        );
    }

    /// Polls until an element matches `css` and returns its text.
    async fn wait_text(&self, css: &str) -> String {
        let path = format!("/session/{}/elements", self.id);
        for _ in 0..200 {
            let v = self
                .d
                .call(
                    reqwest::Method::POST,
                    &path,
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if v.as_array().is_some_and(|a| !a.is_empty()) {
                return self.text(css).await;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no element matches {css}");
    }

    async fn end(self) {
        self.d
            .call(
                reqwest::Method::DELETE,
                &format!("/session/{}", self.id),
                None,
            )
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_sees_the_dashboard_and_logs_out() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;

    s.go(&format!("{}/", app.url)).await;
    assert!(
        s.current_url().await.ends_with("/login"),
        "signed out: sent to the login page"
    );
    assert_eq!(s.title().await, "Log in · Klaxon");

    s.type_into("#email", &app.admin.email).await;
    s.type_into("#password", "a wrong password").await;
    s.click("#login").await;
    assert_eq!(s.wait_text("p.error").await, "Wrong e-mail or password.");

    s.type_into("#password", &app.admin.password).await;
    s.click("#login").await;
    s.wait_title("Dashboard · Klaxon").await;
    assert!(
        s.current_url()
            .await
            .ends_with(&format!("{}/", app.url.trim_start_matches("http://"))),
        "{}",
        s.current_url().await
    );
    assert_eq!(s.text("[data-testid=current-user]").await, "Administrator");
    assert_eq!(s.text("[data-testid=user-count]").await, "1");

    s.click("nav a[href='/users']").await;
    s.wait_title("Users · Klaxon").await;

    s.click("#logout").await;
    s.wait_title("Log in · Klaxon").await;
    assert!(s.current_url().await.ends_with("/login"));
    // Logged out for real: the dashboard sends us back to the login page.
    s.go(&format!("{}/", app.url)).await;
    assert!(s.current_url().await.ends_with("/login"));
    s.end().await;
    app.stop().await;
}
