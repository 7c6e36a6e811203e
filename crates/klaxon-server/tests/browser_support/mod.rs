//! The headless Chromium harness the browser tests share: chromedriver, a session, and the
//! few WebDriver and DevTools calls the tests use. Needs `chromium` and `chromium-driver`;
//! scripts/test.sh installs them. Never skipped.
#![allow(dead_code)] // each test file uses its own part of it

pub mod drills;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub struct Driver {
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

pub fn tool(var: &str, fallback: &str) -> String {
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
    pub async fn start() -> Self {
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

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(v["value"].get("error").is_none(), "webdriver {path}: {v}");
        v["value"].clone()
    }
}

pub struct Session<'a> {
    pub d: &'a Driver,
    pub id: String,
}

impl Session<'_> {
    pub async fn new(d: &Driver) -> Session<'_> {
        let chromium = tool("KLAXON_TEST_CHROMIUM", "/usr/bin/chromium");
        let profile = tempfile::tempdir().unwrap().keep();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                         "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let v = d.call(reqwest::Method::POST, "/session", Some(caps)).await;
        Session {
            d,
            id: v["sessionId"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn go(&self, url: &str) {
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/url", self.id),
                Some(json!({"url": url})),
            )
            .await;
    }

    pub async fn find(&self, css: &str) -> String {
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

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{el}/value", self.id),
                Some(json!({"text": text})),
            )
            .await;
    }

    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{el}/click", self.id),
                Some(json!({})),
            )
            .await;
    }

    pub async fn current_url(&self) -> String {
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

    pub async fn text(&self, css: &str) -> String {
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

    pub async fn title(&self) -> String {
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
    pub async fn wait_title(&self, want: &str) {
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
    pub async fn wait_text(&self, css: &str) -> String {
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

    /// Runs `script` in the page and returns its result.
    pub async fn exec(&self, script: &str, args: Value) -> Value {
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/execute/sync", self.id),
                Some(json!({"script": script, "args": args})),
            )
            .await
    }

    /// The text of every element matching `css`, one per line.
    pub async fn texts(&self, css: &str) -> String {
        self.exec(
            "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent).join('\\n');",
            json!([css]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Polls until some element matching `css` contains `needle`.
    pub async fn wait_contains(&self, css: &str, needle: &str) {
        for _ in 0..400 {
            if self.texts(css).await.contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "{css} never showed {needle:?}; it shows {:?}",
            self.texts(css).await
        );
    }

    pub async fn login(&self, base: &str, email: &str, password: &str) {
        self.go(&format!("{base}/login")).await;
        self.type_into("#email", email).await;
        self.type_into("#password", password).await;
        self.click("#login").await;
        self.wait_title("Dashboard · Klaxon").await;
    }

    pub async fn end(self) {
        self.d
            .call(
                reqwest::Method::DELETE,
                &format!("/session/{}", self.id),
                None,
            )
            .await;
    }
}

impl Session<'_> {
    /// A Chrome DevTools command, through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/goog/cdp/execute", self.id),
                Some(json!({"cmd": cmd, "params": params})),
            )
            .await
    }

    /// Lays pages out as a phone (`mobile`) or a desktop of this CSS size.
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
    }

    /// Makes the page see `prefers-color-scheme: dark` (or light).
    pub async fn color_scheme(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
        )
        .await;
    }

    /// Presses one key (a character, or a WebDriver key such as "\u{E007}" for Enter) on
    /// whatever has focus.
    pub async fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]});
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/actions", self.id),
                Some(actions),
            )
            .await;
    }
}

impl Session<'_> {
    /// Empties a text box (WebDriver's Element Clear), so that typing replaces what it held.
    pub async fn clear(&self, css: &str) {
        let el = self.find(css).await;
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{el}/clear", self.id),
                Some(json!({})),
            )
            .await;
    }
}

/// What is wrong with the page now: sideways scrolling, and axe's serious and critical
/// findings, each as one line.
pub async fn problems(s: &Session<'_>, axe: &str, check_overflow: bool) -> Vec<String> {
    let mut out = Vec::new();
    if check_overflow {
        let v = s
            .exec(
                "const d = document.documentElement;
                 const wide = Array.from(document.querySelectorAll('body *'))
                   .filter(e => e.getBoundingClientRect().right > d.clientWidth + 1
                             && getComputedStyle(e).position !== 'absolute')
                   .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                             + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''));
                 return [d.scrollWidth, d.clientWidth, wide];",
                json!([]),
            )
            .await;
        let (scroll, client) = (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
        if scroll > client {
            out.push(format!(
                "scrolls sideways: {scroll} px wide in {client} px (widest: {})",
                v[2]
            ));
        }
    }
    s.exec(&format!("{axe}\n;return null;"), json!([])).await;
    let found =
        s.d.call(
            reqwest::Method::POST,
            &format!("/session/{}/execute/async", s.id),
            Some(
                json!({"script": "const done = arguments[arguments.length - 1];
                axe.run(document, {resultTypes: ['violations']}).then(r => done(
                  r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at '
                        + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))
                ).catch(e => done(['axe failed: ' + e]));", "args": []}),
            ),
        )
        .await;
    for v in found.as_array().unwrap() {
        out.push(v.as_str().unwrap_or_default().to_owned());
    }
    out
}

/// axe-core's source, to run in pages (installed by scripts/test.sh).
pub fn axe_source() -> String {
    let path = tool(
        "KLAXON_TEST_AXE",
        &format!(
            "{}/.cache/klaxon/axe/node_modules/axe-core/axe.min.js",
            std::env::var("HOME").unwrap_or_default()
        ),
    );
    std::fs::read_to_string(&path).unwrap()
}
