//! Slow or idle clients cannot hold the server: a request's headers must arrive within
//! `server.header_read_timeout_secs`, and at most `server.max_connections` are served at once.
mod common;

use std::time::Duration;

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
