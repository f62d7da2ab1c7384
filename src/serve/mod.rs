//! `assay serve`: the self-hosted receiver of results. Runners push their results
//! documents to it (docs/ingestion-api.md, as `assay push` speaks it); each is checked
//! against the published schema and written into a history store of the kind `assay
//! scan` writes, once per scan id, and acknowledged only after its transaction commits.
//! It also hands instructions to agents: runs of its project's contracts asked for
//! through the API or due on the project's schedules (`runs.rs`, `project.rs`), claimed
//! with a lease that heartbeats renew (`queue.rs`, `agents.rs`). Every endpoint asks
//! for a token with a scope (`tokens.rs`); what no route names is 404 to anybody.

mod agents;
mod ingest;
mod monitors;
pub mod project;
pub mod queue;
mod read;
pub mod runs;
pub mod schema;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::channel::guard::{Guard, Peer};
use crate::channel::spec::Tls;
use crate::scan::history::HistoryStore;

pub use tokens::{TokenScope, Tokens};

/// How a server runs.
pub struct ServeOptions {
    pub history: HistoryStore,
    /// `notify:` of the server's assay.yml: told of every pushed result that fails,
    /// warns or changes a schema, once (a re-delivery is not news)
    pub notify: Option<crate::config::NotifyConfig>,
    /// the server's project folder (its outbox keeps notifications not delivered)
    pub project_dir: std::path::PathBuf,
    pub tokens: Tokens,
    pub max_body: usize,
    pub rate_per_minute: u32,
    /// the project the server hands its agents
    pub project: project::ProjectSource,
    /// how long a claim holds without a heartbeat
    pub lease: Duration,
    /// `scan.anomalies` of the server's assay.yml: pushed points are judged by it
    pub anomalies: crate::config::AnomalyConfig,
    /// how long the history keeps points (how far back a monitor may read)
    pub keep: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {listen}: {message}")]
    Listen { listen: String, message: String },
    #[error(transparent)]
    Tls(#[from] crate::channel::error::ChannelError),
}

/// When an agent's row was last written, and when the agent was first seen.
pub(crate) type SeenAt = (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>);

/// The shared state of every request.
pub(crate) struct ServeState {
    pub history: HistoryStore,
    pub notify: Option<crate::config::NotifyConfig>,
    pub project_dir: std::path::PathBuf,
    pub tokens: Tokens,
    pub max_body: usize,
    pub limits: ingest::RateLimits,
    pub guard: Arc<Guard>,
    pub validator: schema::Validator,
    /// the page last built
    pub page: read::PageCache,
    pub tls: bool,
    /// an embedded store is one file that one connection at a time may open: requests
    /// take turns on it (a server store takes them at once)
    pub one_at_a_time: Option<tokio::sync::Mutex<()>>,
    pub project: project::ProjectWatch,
    pub queue: queue::Queue,
    pub anomalies: crate::config::AnomalyConfig,
    pub keep: Duration,
    /// agents heard from: when their row was last written, and when first seen
    pub agents_seen: std::sync::Mutex<std::collections::HashMap<String, SeenAt>>,
}

impl ServeState {
    /// The store to oneself while the guard lives, where it is one file; at once on a
    /// server store.
    pub(crate) async fn turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.one_at_a_time {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }
}

pub async fn bind(listen: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(listen)
        .await
        .map_err(|e| ServeError::Listen {
            listen: listen.to_string(),
            message: e.to_string(),
        })
}

/// Serve until `stop` resolves; requests in flight then finish (their documents are
/// written or not acknowledged), new connections are refused.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Tls>,
    options: ServeOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // runners behind one address (a CI's NAT) each keep a connection
    let guard = Guard::with_caps(MAX_CONNECTIONS, MAX_CONNECTIONS_PER_PEER);
    let one_at_a_time = options
        .history
        .is_embedded()
        .then(|| tokio::sync::Mutex::new(()));
    let app = Arc::new(ServeState {
        history: options.history,
        notify: options.notify,
        project_dir: options.project_dir,
        tokens: options.tokens,
        max_body: options.max_body,
        limits: ingest::RateLimits::new(options.rate_per_minute),
        guard: guard.clone(),
        validator: schema::Validator::results(),
        page: read::PageCache::default(),
        tls: tls.is_some(),
        one_at_a_time,
        project: project::ProjectWatch::new(options.project),
        queue: queue::Queue::new(options.lease),
        anomalies: options.anomalies,
        keep: options.keep,
        agents_seen: Default::default(),
    });
    let ticking = tokio::spawn(tick(app.clone()));
    let router = Router::new()
        .route("/api/v1/results", post(ingest::results))
        .route("/", get(read::page))
        .route("/api/v1/datasets", get(read::datasets))
        .route("/api/v1/series", get(read::series))
        .route("/api/v1/checks", get(read::checks))
        .route("/api/v1/incidents", get(read::incidents))
        .route("/api/v1/schema_changes", get(read::schema_changes))
        .route("/api/v1/openapi.json", get(read::openapi))
        .route("/api/v1/runs", post(runs::create).get(runs::list))
        .route("/api/v1/runs/{id}", get(runs::one))
        .route("/api/v1/project", get(runs::project).put(runs::upload))
        .route("/api/v1/agents", get(agents::list))
        .route("/api/v1/agent/claim", post(agents::claim))
        .route("/api/v1/agent/heartbeat", post(agents::heartbeat))
        .route("/api/v1/agent/complete", post(agents::complete))
        .route("/runs", get(agents::page))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::extract::DefaultBodyLimit::max(options.max_body))
        .layer(axum::middleware::from_fn(request_read))
        .with_state(app);
    let stopped = |e: std::io::Error| ServeError::Listen {
        listen: "the server's address".into(),
        message: e.to_string(),
    };
    let served = crate::channel::tls::serve_guarded(listener, tls.as_ref(), guard, router, stop)
        .await?
        .map_err(stopped);
    ticking.abort();
    served
}

/// Every second: lapsed leases, unclaimed instructions past their time, due schedules.
async fn tick(app: Arc<ServeState>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = app.queue.tick(&app, chrono::Utc::now()).await {
            tracing::error!(
                "the queue could not be looked after: {}",
                crate::secrets::mask(&e.to_string())
            );
        }
    }
}

/// Every request read whole gives its connection a new deadline for the next one; each
/// is logged with its status and time (never its body).
async fn request_read(
    ConnectInfo(peer): ConnectInfo<Peer>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    peer.request_read();
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        "{} {method} {} -> {} ({:.1} ms)",
        peer.addr,
        crate::secrets::for_terminal(&path.chars().take(200).collect::<String>()),
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// The address a bound listener really has (a chosen free port), as a URL.
pub fn url_of(addr: SocketAddr, tls: bool) -> String {
    format!("{}://{addr}", if tls { "https" } else { "http" })
}

/// Connections open at once, overall and from one address.
const MAX_CONNECTIONS: usize = 2048;
const MAX_CONNECTIONS_PER_PEER: usize = 512;

/// How long a client should wait before it tries again after a 503.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(5);
