//! Building and running the application: storage, engine, HTTP, shutdown.
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use klaxon_domain::Clock;
use klaxon_domain::auth::{DisplayName, EmailAddress, Role, TokenName};
use klaxon_domain::event::{Actor, EventKind, NewEvent, SubjectType};
use klaxon_domain::ids::{ApiTokenId, UserId};
use klaxon_store::{GroupCommit, NewApiToken, NewUser, Store};
use klaxon_store_postgres::PgStore;
use klaxon_store_sqlite::SqliteStore;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::shared::config::{MetricsAccess, Settings};
use crate::shared::crypto::{self, Passwords, random_bytes};
use crate::shared::engine::Engine;
use crate::shared::error::ApiError;
pub use crate::shared::state::AppState;

/// Opens the configured database (migrating it), whichever backend its URL names.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = &settings.database.url;
    if settings.is_sqlite() {
        let path = klaxon_store_sqlite::path_from_url(url);
        let store = SqliteStore::open(&path)
            .await
            .with_context(|| format!("open SQLite database {}", path.display()))?;
        Ok(Arc::new(store))
    } else {
        let store = PgStore::connect(url, settings.database.max_connections)
            .await
            .with_context(|| {
                format!(
                    "connect to {}",
                    crate::shared::config::mask_url_password(url)
                )
            })?;
        Ok(Arc::new(store))
    }
}

/// What start-up printed once, on an empty database.
#[derive(Debug, Clone)]
pub struct Bootstrapped {
    pub email: String,
    pub password: String,
    pub token: String,
}

/// On an empty database, creates the first admin with a one-time password and an admin API
/// token. Returns them so they can be shown once; they are never stored in clear.
pub async fn bootstrap(
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    passwords: &Passwords,
) -> anyhow::Result<Option<Bootstrapped>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let now = clock.now();
    let password = crypto::random_token()[..24].to_owned();
    let (token, digest) = crypto::new_api_token();
    let admin = NewUser {
        id: UserId::new(now, random_bytes()),
        email: EmailAddress::parse("admin@localhost.localdomain")?,
        name: DisplayName::parse("Administrator")?,
        role: Role::Admin,
        password_hash: passwords.hash(&password).await?,
        created_at: now,
    };
    let api_token = NewApiToken {
        id: ApiTokenId::new(now, random_bytes()),
        name: TokenName::parse("bootstrap admin token")?,
        role: Role::Admin,
        user_id: admin.id,
        prefix: crypto::token_prefix(&token),
        hash: digest,
        created_at: now,
    };
    let events = vec![
        NewEvent::new(
            SubjectType::User,
            admin.id,
            now,
            Actor::System,
            EventKind::UserCreated,
            json!({"email": admin.email, "role": "admin", "by": "bootstrap"}),
        ),
        NewEvent::new(
            SubjectType::ApiToken,
            api_token.id,
            now,
            Actor::System,
            EventKind::ApiTokenCreated,
            json!({"name": api_token.name, "role": "admin", "prefix": api_token.prefix}),
        ),
        NewEvent::new(
            SubjectType::System,
            "klaxon",
            now,
            Actor::System,
            EventKind::SystemBootstrapped,
            json!({"admin": admin.id}),
        ),
    ];
    let email = admin.email.to_string();
    if !store.bootstrap(admin, api_token, events).await? {
        return Ok(None); // another instance got there first
    }
    Ok(Some(Bootstrapped {
        email,
        password,
        token,
    }))
}

/// The engine with every capability's jobs and outboxes: heartbeat checks, escalation steps,
/// pages, webhook deliveries; what calls out or takes long (uptime checks, runbook HTTP steps,
/// SLO evaluation, pruning) in the slow lane.
pub fn new_engine(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: Arc<Settings>) -> Engine {
    let mut engine = Engine::new(store, clock, settings);
    engine.register(
        crate::alerts::heartbeat::CHECK_JOB,
        Arc::new(crate::alerts::heartbeat::Check),
    );
    engine.register_slow(
        klaxon_domain::check::RUN_JOB,
        Arc::new(crate::alerts::checks::RunCheck::new()),
    );
    engine.register_slow(
        klaxon_domain::check::PRUNE_JOB,
        Arc::new(crate::alerts::checks::PruneChecks),
    );
    engine.register(
        klaxon_domain::escalation::STEP_JOB,
        Arc::new(crate::oncall::paging::EscalationStepHandler),
    );
    engine.register(
        crate::status::maintenance::JOB,
        Arc::new(crate::status::maintenance::MoveMaintenances),
    );
    engine.register(
        crate::learning::reminders::JOB,
        Arc::new(crate::learning::reminders::RemindOwners),
    );
    engine.register_slow(
        crate::slos::evaluate::JOB,
        Arc::new(crate::slos::evaluate::Evaluate),
    );
    engine.register_slow(
        crate::automation::runs::HTTP_JOB,
        Arc::new(crate::automation::runs::RunHttp),
    );
    engine.register_slow(
        crate::automation::runners::LEASE_JOB,
        Arc::new(crate::automation::runners::Lease),
    );
    engine.register(
        crate::drills::practice::DRILL_JOB,
        Arc::new(crate::drills::run::DrillStep),
    );
    engine.set_pages(Arc::new(crate::oncall::paging::PageSender));
    engine.add_deliveries(Arc::new(crate::webhooks::api::WebhookSender));
    engine.add_deliveries(Arc::new(crate::status::notices::NoticeSender::default()));
    engine
}

/// A built application, ready to serve.
pub struct App {
    pub state: AppState,
    /// Status pages as readers get them, kept current by a task `serve` runs.
    pub status_pages: Arc<crate::status::snapshot::Snapshots>,
    router: Router,
    writer: tokio::task::JoinHandle<()>,
}

impl App {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = open_store(&settings).await?;
        Ok(Self::with_store(settings, clock, store))
    }

    pub fn with_store(settings: Settings, clock: Arc<dyn Clock>, store: Arc<dyn Store>) -> Self {
        let settings = Arc::new(settings);
        let (group_commit, writer) =
            GroupCommit::spawn(store.clone(), settings.database.group_commit_max_batch);
        // Workflows act through the application's own functions: handed the state once built.
        let workflows = Arc::new(crate::workflows::run::Workflows::default());
        let mut engine = new_engine(store.clone(), clock.clone(), settings.clone());
        engine.set_workflows(workflows.clone());
        let engine = Arc::new(engine);
        let incident_rules = Arc::new(
            settings
                .incidents
                .rules()
                .expect("incident settings are checked when settings load"),
        );
        let state = AppState {
            passwords: Passwords::new(settings.auth.max_concurrent_hashes),
            store,
            clock,
            settings,
            group_commit,
            engine,
            rate_limiter: Default::default(),
            integrations: Default::default(),
            incident_rules,
            incident_changes: Default::default(),
            status_refresh: Default::default(),
            signups: Default::default(),
            readiness: Default::default(),
            shutting_down: Default::default(),
        };
        workflows.attach(state.clone());
        let status_pages = Arc::new(crate::status::snapshot::Snapshots::default());
        let router = router(state.clone(), status_pages.clone());
        Self {
            state,
            status_pages,
            router,
            writer,
        }
    }

    /// Serves on `listener` until `shutdown` resolves, then drains requests in flight, stops the
    /// engine and closes the database.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Bound first: a metrics address that cannot be had stops the start before anything runs.
        let metrics = &self.state.settings.metrics;
        let metrics_listener = match metrics.listen {
            Some(addr)
                if self.state.settings.server.metrics
                    && metrics.access == MetricsAccess::Listen =>
            {
                Some(
                    TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?,
                )
            }
            _ => None,
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let engine_task = if self.state.settings.engine.enabled {
            let mut rx = stop_rx.clone();
            let interval = Duration::from_millis(self.state.settings.engine.tick_interval_ms);
            Some(tokio::spawn(self.state.engine.clone().run(
                interval,
                async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                },
            )))
        } else {
            None
        };
        let status_task = tokio::spawn(crate::status::snapshot::run(
            self.status_pages.clone(),
            self.state.clone(),
            crate::status::render::render,
        ));
        let server = &self.state.settings.server;
        let limits = crate::serve::Limits {
            header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
            max_connections: server.max_connections,
        };
        let metrics_task = match metrics_listener {
            Some(listener) => {
                tracing::info!(addr = ?listener.local_addr().ok(), "serving /metrics on its own address");
                let router = Router::new()
                    .route("/metrics", get(metrics_endpoint))
                    .with_state(self.state.clone());
                let mut rx = stop_rx.clone();
                Some(tokio::spawn(crate::serve::serve(
                    listener,
                    router,
                    limits,
                    async move {
                        let _ = rx.wait_for(|stop| *stop).await;
                    },
                )))
            }
            _ => None,
        };
        let mut rx = stop_rx;
        let http = crate::serve::serve(listener, self.router, limits, async move {
            let _ = rx.wait_for(|stop| *stop).await;
        });
        let shutting_down = self.state.shutting_down.clone();
        let trigger = tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down");
            // Live streams end first, so their connections can close like the others.
            shutting_down.begin();
            let _ = stop_tx.send(true);
        });
        http.await;
        if let Some(t) = metrics_task {
            let _ = t.await;
        }
        trigger.abort();
        let _ = status_task.await;
        if let Some(t) = engine_task {
            let _ = t.await;
        }
        let AppState {
            store,
            group_commit,
            ..
        } = self.state;
        // Other clones of the state (tests, lingering tasks) may still hold a handle, so the
        // writer is told to stop rather than waiting for the last handle to drop.
        group_commit.shutdown();
        let _ = self.writer.await; // every queued write is committed and answered
        store.close().await;
        Ok(())
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// it is first awaited: a signal that arrives while the server is still starting (migrating,
/// bootstrapping) then stops it cleanly instead of killing it.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = int.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Every page of the web UI, and its assets.
fn web_router() -> Router<AppState> {
    Router::new()
        .merge(crate::home::router())
        .merge(crate::shared::assets::router())
        .merge(crate::people::web::router())
        .merge(crate::alerts::web::router())
        .merge(crate::oncall::web::router())
        .merge(crate::oncall::schedules::web::router())
        .merge(crate::oncall::schedules::calendar::router())
        .merge(crate::incidents::web::router())
        .merge(crate::incidents::ack::router())
        .merge(crate::insights::web::router())
        .merge(crate::webhooks::web::router())
        .merge(crate::postmortems::web::router())
        .merge(crate::status::public_router())
        .merge(crate::status::web::router())
        .merge(crate::alerts::checks_web::router())
        .merge(crate::learning::web::router())
        .merge(crate::slos::web::router())
        .merge(crate::automation::runbooks_web::router())
        .merge(crate::automation::runs_web::router())
        .merge(crate::automation::secrets_web::router())
        .merge(crate::automation::runners_web::router())
        .merge(crate::workflows::web::router())
        .merge(crate::drills::web::router())
}

fn router(state: AppState, status_pages: Arc<crate::status::snapshot::Snapshots>) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let (api, _) = crate::openapi::router().split_for_parts();
    let settings = state.settings.clone();
    let body_limit = settings.server.body_limit_bytes;
    let mut app: Router<AppState> = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(api)
        .merge(crate::alerts::ingest::router())
        .route("/api/v1/openapi.json", get(crate::openapi::openapi_json))
        .merge(web_router());
    if settings.server.metrics {
        match settings.metrics.access {
            MetricsAccess::Open => app = app.route("/metrics", get(metrics_endpoint)),
            MetricsAccess::Token => app = app.route("/metrics", get(metrics_with_token)),
            MetricsAccess::Listen => {} // on its own listener, see App::serve
        }
    }
    let app = app
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(settings.server.body_limit_bytes))
        .layer(middleware::map_request(move |req: Request| {
            crate::shared::nul::forms_and_queries(req, body_limit)
        }))
        .layer(middleware::from_fn(track_metrics))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(settings.server.request_timeout_secs),
        ))
        .layer(middleware::from_fn(api_errors_as_json))
        .layer(middleware::map_response(close_when_body_unread))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .extensions()
                    .get::<RequestId>()
                    .and_then(|id| id.header_value().to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %crate::alerts::ingest::loggable_path(req.uri().path()))
            }),
        )
        // No answer is ever sniffed into another type (a JSON string into HTML, say).
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .layer(axum::Extension(status_pages.clone()))
        .with_state(state);
    // A status page's own host name maps onto its path before routing, and public status
    // documents are answered before the middleware (see `status::public::fast_path`).
    let routed = tower::service_fn(move |mut req: Request| {
        crate::status::public::host_rewrite(&status_pages, &mut req);
        let fast = crate::status::public::fast_path(&status_pages, &req);
        let app = app.clone();
        async move {
            match fast {
                Some(resp) => Ok::<_, std::convert::Infallible>(resp),
                None => tower::ServiceExt::oneshot(app, req).await,
            }
        }
    });
    Router::new().fallback_service(routed)
}

/// Under `/api/` and on the ingest routes, every error answer has the JSON error shape,
/// including the ones the framework makes itself: a method the route does not have (405), a
/// path segment that is not valid UTF-8 (400), a request that ran out of time (408). Their
/// headers are kept.
async fn api_errors_as_json(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let api = ["/api/", "/v2/", "/integrations/"]
        .iter()
        .any(|p| path.starts_with(p));
    let method = req.method().clone();
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            format!("this route does not take {method}; its Allow header lists what it takes")
        }
        (StatusCode::REQUEST_TIMEOUT, _) => {
            "the request took longer than this server allows (server.request_timeout_secs)".into()
        }
        (_, false) => text,
        (_, true) => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

/// A request refused before its body was read leaves bytes the server will not read: hyper then
/// drops the connection, so say so, or a pooling client reuses it and its next request fails.
async fn close_when_body_unread(mut response: Response) -> Response {
    if matches!(
        response.status(),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    ) {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Unknown paths: JSON under the API, a page elsewhere.
async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::not_found("route").into_response()
    } else {
        crate::shared::web::no_such_page()
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database takes a write within a second: a database that answers but cannot
/// write (a full disk) would refuse every alert.
async fn readyz(State(state): State<AppState>) -> Response {
    // Concurrent callers wait for one probe and share its result.
    let mut last = state.readiness.lock().await;
    let fresh = last
        .as_ref()
        .filter(|(at, _)| at.elapsed() < Duration::from_secs(1))
        .map(|(_, r)| r.clone());
    let result = match fresh {
        Some(r) => r,
        None => {
            let probe = state.store.probe_write(state.clock.now());
            let r = match tokio::time::timeout(Duration::from_secs(1), probe).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("database: {e}")),
                Err(_) => Err("database: no write within 1 s".to_owned()),
            };
            *last = Some((Instant::now(), r.clone()));
            r
        }
    };
    match result {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => ApiError::Unavailable(e).into_response(),
    }
}

fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Several apps in one test process share the one global recorder.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the metrics recorder; call once at start-up so counters exist before scraping.
pub fn init_metrics() {
    prometheus();
}

async fn metrics_endpoint(State(state): State<AppState>) -> Response {
    let gc = state.group_commit.stats();
    metrics::gauge!("klaxon_group_commit_batches")
        .set(gc.batches.load(std::sync::atomic::Ordering::Relaxed) as f64);
    metrics::gauge!("klaxon_group_commit_writes")
        .set(gc.writes.load(std::sync::atomic::Ordering::Relaxed) as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus().render(),
    )
        .into_response()
}

/// `/metrics` for callers with `metrics.token`; with no token set, for nobody.
async fn metrics_with_token(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = state.settings.metrics.token.as_deref() else {
        return ApiError::NotFound(
            "metrics are served only with a token or on their own address: set metrics.token, \
             or metrics.access (see docs/configuration.md)"
                .into(),
        )
        .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::shared::api::bearer_token);
    match given {
        Some(t) if crate::shared::crypto::secrets_equal(t, expected) => {
            metrics_endpoint(State(state)).await
        }
        _ => ApiError::Unauthorized("/metrics needs Authorization: Bearer <metrics.token>".into())
            .into_response(),
    }
}

/// A request's method as a metric label: the standard methods by name and anything else as
/// `other`, so that a caller inventing methods cannot add series (memory) without bound.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

async fn track_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Label by route template, not raw path, so ids do not explode the series count.
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = method_label(req.method());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [
        ("method", method.to_owned()),
        ("path", path),
        ("status", status),
    ];
    metrics::counter!("klaxon_http_requests_total", &labels).increment(1);
    metrics::histogram!("klaxon_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// Standard error for log lines, where a failed write (a full disk, a closed pipe) is counted
/// (`klaxon_log_write_failures_total`) and otherwise ignored: a log line must never fail, or
/// panic, the request it is written for.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::io::stderr().write_all(buf).is_err() {
            metrics::counter!("klaxon_log_write_failures_total").increment(1);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Logs as text or JSON, filtered by `log.filter` (or `RUST_LOG` when set).
pub fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        // On a failed write it would print to standard error, which panics when that fails too.
        .log_internal_errors(false);
    let _ = if settings.log.format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
