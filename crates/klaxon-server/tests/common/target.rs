//! A service for uptime checks to probe, which a test makes fail and recover.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;

/// A service to check: healthy answers 200 `{"status":"UP"}`, failing 503 `{"status":"DOWN"}`.
pub struct Target {
    pub url: String,
    healthy: Arc<AtomicBool>,
}

impl Target {
    pub async fn spawn() -> Self {
        let healthy = Arc::new(AtomicBool::new(true));
        let app = axum::Router::new()
            .route(
                "/health",
                axum::routing::get(|State(h): State<Arc<AtomicBool>>| async move {
                    if h.load(Ordering::SeqCst) {
                        (axum::http::StatusCode::OK, r#"{"status":"UP"}"#)
                    } else {
                        (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            r#"{"status":"DOWN"}"#,
                        )
                    }
                }),
            )
            .with_state(healthy.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, healthy }
    }

    pub fn set(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }
}
