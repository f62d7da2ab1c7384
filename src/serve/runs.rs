//! Runs: instructions made on demand (`POST /api/v1/runs`, which `assay run --server`
//! sends) or by the project's schedules, followed through `GET /api/v1/runs[/ID]`; the
//! project they are made from (`GET|PUT /api/v1/project`). An instruction carries what
//! a job needs and nothing secret: the contracts' text, the project's assay.yml with its
//! `${env.X}` placeholders, the variables, the run's now and its timeout.

// A refusal is the response itself, returned by the handler at once: boxing it would
// only add an allocation to every refused request.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ingest::{authorize, problem};
use super::project::{Project, ProjectSource, Upload, CONFIG_FILE};
use super::tokens::TokenScope;
use super::ServeState;
use crate::channel::guard::Peer;
use crate::error::RunError;
use crate::scan::history::queue::{InstructionQuery, InstructionRow, NewInstruction};
use crate::timestamp::rfc3339;

/// How long an instruction made on demand waits for an agent, unless the request says.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(3600);
/// The longest a run may be given.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Why a run cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunRefused {
    #[error("the project holds no contract '{0}'")]
    UnknownContract(String),
    #[error("name at least one contract of the project")]
    NoContract,
    #[error("the server has no project yet: upload one (PUT /api/v1/project) or start it with --project DIR")]
    NoProject,
}

/// An instruction for `contracts` of `project`.
pub fn instruction(
    project: &Project,
    contracts: &[String],
    variables: &BTreeMap<String, String>,
    timeout: Duration,
    now: DateTime<Utc>,
    origin: &str,
    expires_at: DateTime<Utc>,
) -> Result<NewInstruction, RunRefused> {
    if contracts.is_empty() {
        return Err(RunRefused::NoContract);
    }
    let mut files = Vec::new();
    for c in contracts {
        let text = project
            .files
            .get(c)
            .filter(|_| c != CONFIG_FILE)
            .ok_or_else(|| RunRefused::UnknownContract(c.clone()))?;
        files.push(json!({"path": c, "text": text}));
    }
    let created_at = Utc::now();
    let payload = json!({
        "api_version": 1,
        "origin": origin,
        "created_at": rfc3339(created_at),
        "now": rfc3339(now),
        "timeout_seconds": timeout.as_secs().max(1),
        "project_revision": project.revision,
        "config": project.files.get(CONFIG_FILE).map(|t| json!({"path": CONFIG_FILE, "text": t})),
        "contracts": files,
        "variables": variables,
        "placeholders": project.placeholders(),
    });
    Ok(NewInstruction {
        id: uuid::Uuid::new_v4().to_string(),
        created_at,
        origin: origin.to_string(),
        payload: payload.to_string(),
        expires_at,
    })
}

/// The schedules that came due since they were last marked, queued once each. A
/// schedule seen for the first time starts from now (no run for the past).
pub(super) async fn schedules_due(app: &ServeState, now: DateTime<Utc>) -> Result<(), RunError> {
    let (Some(project), _) = app.project.current() else {
        return Ok(());
    };
    if project.schedules.is_empty() {
        return Ok(());
    }
    let marks = {
        let _store = app.turn().await;
        app.history.schedule_marks().await?
    };
    for s in &project.schedules {
        let Some(since) = marks.get(&s.name) else {
            app.queue.add(app, &[], Some((&s.name, now))).await?;
            continue;
        };
        let Some(due) = s.cron.due(*since, now) else {
            continue;
        };
        // unclaimed until the next time it comes due, when a newer run replaces it
        let expires_at = s.cron.next_after(due);
        let origin = format!("schedule:{}", s.name);
        match instruction(
            &project,
            &s.contracts,
            &s.variables,
            s.timeout,
            due,
            &origin,
            expires_at,
        ) {
            Ok(i) => {
                tracing::info!(
                    "schedule '{}' due at {}: instruction {}",
                    s.name,
                    rfc3339(due),
                    i.id
                );
                app.queue.add(app, &[i], Some((&s.name, due))).await?;
            }
            Err(e) => tracing::error!("schedule '{}' cannot run: {e}", s.name),
        }
    }
    Ok(())
}

/// `POST /api/v1/runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub contracts: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// like 10m
    #[serde(default)]
    pub timeout: Option<String>,
    /// the run's now (RFC 3339) [default: when it is made]
    #[serde(default)]
    pub now: Option<String>,
    /// how long it may wait for an agent, like 1h
    #[serde(default)]
    pub expires_in: Option<String>,
}

fn duration_of(text: Option<&str>, default: Duration, what: &str) -> Result<Duration, Response> {
    match text {
        None => Ok(default),
        Some(t) => match humantime::parse_duration(t) {
            Ok(d) if !d.is_zero() && d <= MAX_TIMEOUT => Ok(d),
            _ => Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{what} '{t}' is not a duration from 1s to 24h"),
            )),
        },
    }
}

pub(super) async fn create(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = match authorize(&app, &peer, &headers, TokenScope::Run) {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let request: RunRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("not a run request: {e}")),
    };
    let timeout = match duration_of(
        request.timeout.as_deref(),
        crate::config::DEFAULT_RUN_TIMEOUT,
        "timeout",
    ) {
        Ok(d) => d,
        Err(refused) => return refused,
    };
    let expires_in = match duration_of(request.expires_in.as_deref(), DEFAULT_EXPIRY, "expires_in")
    {
        Ok(d) => d,
        Err(refused) => return refused,
    };
    let now = match request
        .now
        .as_deref()
        .map(crate::timestamp::parse_timestamp)
    {
        None => Utc::now(),
        Some(Some(t)) => t,
        Some(None) => return problem(StatusCode::UNPROCESSABLE_ENTITY, "now is not a timestamp"),
    };
    let (Some(project), _) = app.project.current() else {
        return problem(StatusCode::CONFLICT, RunRefused::NoProject.to_string());
    };
    let expires_at = Utc::now() + chrono::Duration::from_std(expires_in).unwrap_or_default();
    let origin = format!("api:{}", client.name);
    let made = instruction(
        &project,
        &request.contracts,
        &request.variables,
        timeout,
        now,
        &origin,
        expires_at,
    );
    let i = match made {
        Ok(i) => i,
        Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    if let Err(e) = app.queue.add(&app, std::slice::from_ref(&i), None).await {
        return super::read::unavailable(e);
    }
    tracing::info!(
        "instruction {} queued for '{}' ({} contract(s))",
        i.id,
        client.name,
        request.contracts.len()
    );
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": i.id,
            "state": "queued",
            "origin": origin,
            "project_revision": project.revision,
            "url": format!("/api/v1/runs/{}", i.id),
        })),
    )
        .into_response()
}

/// An instruction as the API shows it (never its payload: the contracts are the
/// project's, the placeholders name what agents hold).
pub(super) fn run_json(i: &InstructionRow) -> Value {
    json!({
        "id": i.id,
        "origin": i.origin,
        "state": i.state,
        "attempt": i.attempt,
        "agent_id": i.agent_id,
        "created_at": i.created_at.map(rfc3339),
        "lease_until": i.lease_until.map(rfc3339),
        "expires_at": i.expires_at.map(rfc3339),
        "finished_at": i.finished_at.map(rfc3339),
        "outcome": i.outcome.as_deref().and_then(|o| serde_json::from_str::<Value>(o).ok()),
    })
}

#[derive(Debug, Deserialize, Default)]
pub struct RunFilter {
    pub state: Option<String>,
    pub limit: Option<u64>,
}

/// Read or run scope: a CI that asked for a run may follow it.
fn follower(app: &ServeState, peer: &Peer, headers: &HeaderMap) -> Result<(), Response> {
    let headers = super::read::with_cookie(headers);
    super::ingest::authorize_any(app, peer, &headers, &[TokenScope::Run, TokenScope::Read])
        .map(|_| ())
}

pub(super) async fn list(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(filter): Query<RunFilter>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = follower(&app, &peer, &headers) {
        return refused;
    }
    let states: Vec<&str> = filter
        .state
        .as_deref()
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    let q = InstructionQuery {
        states: &states,
        limit: Some(filter.limit.unwrap_or(100).clamp(1, 10_000)),
        ..Default::default()
    };
    match super::read::reading(&app, app.history.instructions(&q)).await {
        Ok(rows) => axum::Json(json!({"runs": rows.iter().map(run_json).collect::<Vec<_>>()}))
            .into_response(),
        Err(refused) => refused,
    }
}

pub(super) async fn one(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = follower(&app, &peer, &headers) {
        return refused;
    }
    let q = InstructionQuery {
        id: Some(&id),
        ..Default::default()
    };
    let read = async {
        let rows = app.history.instructions(&q).await?;
        let events = app.history.instruction_events(&id).await?;
        Ok((rows, events))
    };
    match super::read::reading(&app, read).await {
        Ok((rows, events)) => match rows.first() {
            None => problem(StatusCode::NOT_FOUND, "no run has this id"),
            Some(row) => {
                let mut out = run_json(row);
                out["attempts"] = events
                    .iter()
                    .map(|e| {
                        json!({
                            "attempt": e.attempt,
                            "phase": e.phase,
                            "state": e.state,
                            "at": e.at.map(rfc3339),
                            "agent_id": e.agent_id,
                        })
                    })
                    .collect();
                axum::Json(out).into_response()
            }
        },
        Err(refused) => refused,
    }
}

/// `GET /api/v1/project`: which version is served, its files and schedules, and why
/// newer files were refused (if they were).
pub(super) async fn project(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = super::read::read_scope(&app, &peer, &headers) {
        return refused;
    }
    let (project, refused) = app.project.current();
    let now = Utc::now();
    let source = match &app.project.source {
        ProjectSource::Watched(_) => "watched",
        ProjectSource::Uploaded(_) => "uploaded",
    };
    axum::Json(json!({
        "source": source,
        "revision": project.as_ref().map(|p| p.revision.clone()),
        "files": project.as_ref().map(|p| p.files.keys().cloned().collect::<Vec<_>>()).unwrap_or_default(),
        "placeholders": project.as_ref().map(|p| p.placeholders()).unwrap_or_default(),
        "schedules": project.as_ref().map(|p| p.schedules.iter().map(|s| json!({
            "name": s.name,
            "cron": s.cron_text,
            "contracts": s.contracts,
            "timeout_seconds": s.timeout.as_secs(),
            "next_due": rfc3339(s.cron.next_after(now)),
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "refused": refused.map(|r| r.problems),
    }))
    .into_response()
}

/// `PUT /api/v1/project`: the whole project, replacing the last one if it loads (else
/// 422 with every problem, and the last one stays).
pub(super) async fn upload(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = match authorize(&app, &peer, &headers, TokenScope::Admin) {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let ProjectSource::Uploaded(file) = &app.project.source else {
        return problem(
            StatusCode::CONFLICT,
            "this server serves the folder it was started with (--project); change the files there",
        );
    };
    let upload: Upload = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("not a project: {e}")),
    };
    let project = match Project::from_files(upload.files) {
        Ok(p) => p,
        Err(refused) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(
                    json!({"error": "the project was refused", "problems": refused.problems}),
                ),
            )
                .into_response()
        }
    };
    let text = serde_json::to_vec(&Upload {
        files: project.files.clone(),
    })
    .unwrap_or_default();
    if let Err(e) = crate::paths::write_whole(file, &text) {
        tracing::error!("the project could not be kept: {e}");
        return problem(
            StatusCode::INSUFFICIENT_STORAGE,
            "the project could not be written to disk; the last one stays",
        );
    }
    tracing::info!(
        "project revision {} uploaded by '{}'",
        project.revision,
        client.name
    );
    let (current, _) = app.project.current();
    axum::Json(json!({
        "revision": current.map(|p| p.revision.clone()),
        "files": project.files.len(),
        "schedules": project.schedules.len(),
    }))
    .into_response()
}
