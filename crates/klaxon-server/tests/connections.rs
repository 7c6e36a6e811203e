//! Slow or idle clients cannot hold the server: a request's headers must arrive within
//! `server.header_read_timeout_secs`, at most `server.max_connections` are served at once, and
//! open live streams end when graceful shutdown begins.
use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{Backend, TestApp};

fn addr(app: &TestApp) -> String {
    app.url.trim_start_matches("http://").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.server.header_read_timeout_secs = 1;
    })
    .await
    else {
        return;
    };
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: klaxon\r\nX-Slow: ")
        .await
        .unwrap();
    // The server closes it (with or without a 408) once the timeout passes; the wait is
    // bounded so a server that never does fails the test instead of hanging it.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        read.is_ok(),
        "the connection was still open after 10 s: {answer}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // Others are served meanwhile and after.
    let r = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_their_turn() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.server.max_connections = 3;
    })
    .await
    else {
        return;
    };
    let fresh = || {
        reqwest::Client::builder()
            .timeout(Duration::from_millis(700))
            .build()
            .unwrap()
    };
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(addr(&app)).await.unwrap());
    }
    // All three slots are held: a fourth client is not served.
    let waiting = fresh().get(format!("{}/healthz", app.url)).send().await;
    assert!(
        waiting.as_ref().is_err_and(|e| e.is_timeout()),
        "served beyond the cap: {waiting:?}"
    );
    // Once they go, it is.
    drop(idle);
    let mut served = None;
    for _ in 0..20 {
        if let Ok(r) = fresh().get(format!("{}/healthz", app.url)).send().await {
            served = Some(r.status());
            break;
        }
    }
    assert_eq!(served, Some(reqwest::StatusCode::OK));
    app.stop().await;
}

/// Live streams never end by themselves (for minutes): when shutdown begins they end at once, so
/// the server stops within a couple of seconds and the browsers reconnect elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_end_when_shutdown_begins() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let (cookie, _) = common::session_for(&app, &app.admin.email, &app.admin.password).await;
    let incident = common::ok(
        app.post(
            "/api/v1/incidents",
            &app.admin.token,
            &serde_json::json!({"title": "Checkout is down", "severity": "SEV3"}),
        ),
        201,
    )
    .await;
    let mut streams = Vec::new();
    for path in [
        "/incidents/changes".to_owned(),
        format!("/incidents/{}/live", incident["id"].as_str().unwrap()),
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "text/event-stream", "{path}");
        streams.push((path, r));
    }
    tokio::time::timeout(Duration::from_secs(3), app.stop())
        .await
        .expect("the server stops while live streams are open");
    for (path, mut r) in streams {
        // Ended as a stream ends (the browser reconnects), not cut off.
        let ended = tokio::time::timeout(Duration::from_secs(2), async {
            while r.chunk().await.expect("ends cleanly").is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "{path} is still open");
    }
}

/// A TCP proxy to PostgreSQL that can be cut: existing connections drop and new ones hang, as
/// when the database host goes away.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn to(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (c, l) = (cut.clone(), live.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let cut = c.clone();
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if cut.load(Ordering::SeqCst) {
                        // Unreachable: the connection is held, never answered.
                        std::future::pending::<()>().await;
                    }
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                l.lock().unwrap().push(task);
            }
        });
        Self { port, cut, live }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for t in self.live.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn mend(&self) {
        self.cut.store(false, Ordering::SeqCst);
        for t in self.live.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

/// While PostgreSQL cannot be reached, readiness says so within a second and an alert gets a
/// 503 (retry) within about two, instead of hanging; once it is back, all is well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_answered_quickly() {
    // The test database lives on the server KLAXON_TEST_PG_URL names: reach it through the
    // proxy instead.
    let target = std::env::var("KLAXON_TEST_PG_URL")
        .ok()
        .and_then(|u| Some(u.split_once('@')?.1.split('/').next()?.to_owned()));
    let proxy = match target {
        Some(t) => Some(Proxy::to(t).await),
        None => None,
    };
    let port = proxy.as_ref().map(|p| p.port);
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |s| {
        if let Some(port) = port {
            let url = s.database.url.clone();
            let (head, rest) = url.split_once('@').unwrap();
            let db = rest.split_once('/').unwrap().1;
            s.database.url = format!("{head}@127.0.0.1:{port}/{db}");
        }
    })
    .await
    else {
        return;
    };
    let proxy = proxy.expect("PostgreSQL tests run with KLAXON_TEST_PG_URL");
    let admin = app.admin.token.clone();
    let svc = common::ok(
        app.post(
            "/api/v1/services",
            &admin,
            &serde_json::json!({"name": "db"}),
        ),
        201,
    )
    .await;
    let integration = common::ok(
        app.post(
            &format!(
                "/api/v1/services/{}/integrations",
                svc["id"].as_str().unwrap()
            ),
            &admin,
            &serde_json::json!({"name": "hook", "kind": "generic"}),
        ),
        201,
    )
    .await;
    let hook = format!(
        "{}/integrations/{}/generic",
        app.url,
        integration["key"].as_str().unwrap()
    );
    let alert = |key: &str| {
        app.http
            .post(&hook)
            .json(&serde_json::json!({"summary": "db test", "dedup_key": key}))
            .timeout(Duration::from_secs(15))
            .send()
    };
    assert_eq!(alert("before").await.unwrap().status(), 202);

    proxy.cut();
    let started = Instant::now();
    let ready = app
        .http
        .get(format!("{}/readyz", app.url))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(ready.status(), 503);
    assert!(
        took < Duration::from_millis(1500),
        "readiness took {took:?}"
    );
    let started = Instant::now();
    let r = alert("during").await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 503, "retry later");
    assert!(
        took < Duration::from_millis(3500),
        "the alert waited {took:?}"
    );

    proxy.mend();
    let mut back = false;
    for _ in 0..50 {
        let r = app
            .http
            .get(format!("{}/readyz", app.url))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // waiting for the pool to reconnect
    }
    assert!(back, "ready again once the database is back");
    assert_eq!(alert("after").await.unwrap().status(), 202);
    app.stop().await;
}
