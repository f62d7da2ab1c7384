//! The agents' side of the queue (docs/agent-api.md), every route with the agent scope:
//! `POST /api/v1/agent/claim` (long polling: it answers as soon as there is work, or
//! empty after the wait asked for), `POST /api/v1/agent/heartbeat` (leases renewed; a
//! job no longer the agent's is answered `keep: false`), `POST /api/v1/agent/complete`
//! (once per attempt; a lapsed attempt is 409). And who is working: `GET
//! /api/v1/agents` and the page `GET /runs`, with the read scope.

// A refusal is the response itself, returned by the handler at once: boxing it would
// only add an allocation to every refused request.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ingest::{authorize, problem};
use super::queue::{AgentIdentity, Completed, Completion, HeldJob};
use super::tokens::TokenScope;
use super::ServeState;
use crate::channel::guard::Peer;
use crate::report::html::esc as escape;
use crate::scan::history::queue::{AgentRow, InstructionQuery, InstructionRow, CLAIMED, RUNNING};
use crate::timestamp::rfc3339;

/// The longest a claim waits for work.
const MAX_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimRequest {
    agent: AgentIdentity,
    /// instructions it can take now
    #[serde(default = "one")]
    max: usize,
    /// seconds to wait for work
    #[serde(default)]
    wait_seconds: u64,
}

fn one() -> usize {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeartbeatRequest {
    agent: AgentIdentity,
    #[serde(default)]
    jobs: Vec<HeldJob>,
}

/// A completion and its agent: `{"agent": {...}, ...the completion's members}`.
#[derive(Debug)]
struct CompleteRequest {
    agent: AgentIdentity,
    completion: Completion,
}

impl<'de> Deserialize<'de> for CompleteRequest {
    // serde's flatten cannot deny unknown members: take the agent out, then read the
    // rest strictly
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut members = serde_json::Map::<String, Value>::deserialize(d)?;
        let agent = members
            .remove("agent")
            .ok_or_else(|| D::Error::missing_field("agent"))?;
        Ok(CompleteRequest {
            agent: serde_json::from_value(agent).map_err(D::Error::custom)?,
            completion: serde_json::from_value(Value::Object(members)).map_err(D::Error::custom)?,
        })
    }
}

/// Every request of the agent API names its agent.
trait FromAgent {
    fn agent(&self) -> &AgentIdentity;
}

impl FromAgent for ClaimRequest {
    fn agent(&self) -> &AgentIdentity {
        &self.agent
    }
}

impl FromAgent for HeartbeatRequest {
    fn agent(&self) -> &AgentIdentity {
        &self.agent
    }
}

impl FromAgent for CompleteRequest {
    fn agent(&self) -> &AgentIdentity {
        &self.agent
    }
}

/// An agent's request, let in and read, its agent named as the API says: else the
/// response that refuses it.
fn agent_request<T: DeserializeOwned + FromAgent>(
    app: &ServeState,
    peer: &Peer,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, Response> {
    authorize(app, peer, headers, TokenScope::Agent)?;
    let request: T = serde_json::from_slice(body).map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            format!("not a request of the agent API: {e}"),
        )
    })?;
    match request.agent().problem() {
        Some(p) => Err(problem(StatusCode::UNPROCESSABLE_ENTITY, p)),
        None => Ok(request),
    }
}

pub(super) async fn claim(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: ClaimRequest = match agent_request(&app, &peer, &headers, &body) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(request.wait_seconds).min(MAX_WAIT);
    loop {
        // registered before looking, so work queued while we look wakes us
        let arrived = app.queue.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        match app
            .queue
            .claim(&app, &request.agent, request.max, Utc::now())
            .await
        {
            Err(e) => return super::read::unavailable(e),
            Ok(list) if !list.is_empty() => {
                return axum::Json(json!({"instructions": list})).into_response();
            }
            Ok(_) => {}
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return axum::Json(json!({"instructions": []})).into_response();
        }
        // a lapsed lease or an expiry requeues without a notice from another server:
        // look again every few seconds
        let _ = tokio::time::timeout((deadline - now).min(Duration::from_secs(2)), arrived).await;
    }
}

pub(super) async fn heartbeat(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: HeartbeatRequest = match agent_request(&app, &peer, &headers, &body) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    match app
        .queue
        .heartbeat(&app, &request.agent, &request.jobs, Utc::now())
        .await
    {
        Ok(jobs) => axum::Json(json!({
            "jobs": jobs,
            "lease_seconds": app.queue.lease.as_secs(),
        }))
        .into_response(),
        Err(e) => super::read::unavailable(e),
    }
}

pub(super) async fn complete(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: CompleteRequest = match agent_request(&app, &peer, &headers, &body) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let c = &request.completion;
    if !["done", "failed", "interrupted"].contains(&c.state.as_str()) {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "state is done, failed or interrupted",
        );
    }
    match app.queue.complete(&app, &request.agent, c, Utc::now()).await {
        Ok(Completed::Recorded) => {
            tracing::info!(
                "instruction {} attempt {} {} on agent '{}'",
                c.id,
                c.attempt,
                c.state,
                crate::secrets::for_terminal(&request.agent.id)
            );
            axum::Json(json!({"id": c.id, "attempt": c.attempt, "status": "recorded"}))
                .into_response()
        }
        Ok(Completed::Already) => {
            axum::Json(json!({"id": c.id, "attempt": c.attempt, "status": "already recorded"}))
                .into_response()
        }
        Ok(Completed::Lost) => problem(
            StatusCode::CONFLICT,
            "this attempt is no longer this agent's (its lease lapsed, or it is unknown); it runs again elsewhere",
        ),
        Err(e) => super::read::unavailable(e),
    }
}

/// Every agent with the jobs it holds now.
async fn agents_and_jobs(
    app: &ServeState,
) -> Result<
    (
        Vec<AgentRow>,
        BTreeMap<String, Vec<InstructionRow>>,
        Vec<InstructionRow>,
    ),
    Response,
> {
    let read = async {
        let agents = app.history.agents().await?;
        let held = app
            .history
            .instructions(&InstructionQuery {
                states: &[CLAIMED, RUNNING],
                ..Default::default()
            })
            .await?;
        let recent = app
            .history
            .instructions(&InstructionQuery {
                limit: Some(200),
                ..Default::default()
            })
            .await?;
        Ok((agents, held, recent))
    };
    let (agents, held, recent) = super::read::reading(app, read).await?;
    let mut jobs: BTreeMap<String, Vec<InstructionRow>> = BTreeMap::new();
    for i in held {
        jobs.entry(i.agent_id.clone().unwrap_or_default())
            .or_default()
            .push(i);
    }
    Ok((agents, jobs, recent))
}

fn agent_json(a: &AgentRow, jobs: &[InstructionRow]) -> Value {
    json!({
        "id": a.id,
        "version": a.version,
        "host": a.host,
        "first_seen": a.first_seen.map(rfc3339),
        "last_heartbeat": a.last_heartbeat.map(rfc3339),
        "running_jobs": jobs.iter().map(|j| json!({
            "id": j.id, "attempt": j.attempt, "state": j.state,
            "lease_until": j.lease_until.map(rfc3339),
        })).collect::<Vec<_>>(),
    })
}

pub(super) async fn list(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = super::read::read_scope(&app, &peer, &headers) {
        return refused;
    }
    match agents_and_jobs(&app).await {
        Ok((agents, jobs, _)) => axum::Json(json!({
            "agents": agents
                .iter()
                .map(|a| agent_json(a, jobs.get(&a.id).map(Vec::as_slice).unwrap_or_default()))
                .collect::<Vec<_>>()
        }))
        .into_response(),
        Err(refused) => refused,
    }
}

/// `GET /runs`: the agents and the latest runs, as a page (every name escaped).
pub(super) async fn page(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = super::read::read_scope(&app, &peer, &headers) {
        return refused;
    }
    let (agents, jobs, recent) = match agents_and_jobs(&app).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let time = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>assay: agents and runs</title>\
         <style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}\
         td,th{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left}.failed,.expired{color:#b00}.done{color:#070}</style>\
         </head><body><h1>Agents</h1><table><tr><th>agent</th><th>version</th><th>host</th><th>last heartbeat (UTC)</th><th>running jobs</th></tr>",
    );
    for a in &agents {
        let held = jobs.get(&a.id).map(Vec::as_slice).unwrap_or_default();
        let held: Vec<String> = held
            .iter()
            .map(|j| format!("{} ({})", escape(&j.id), escape(&j.state)))
            .collect();
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&a.id),
            escape(&a.version),
            escape(&a.host),
            time(a.last_heartbeat),
            held.join("<br>")
        ));
    }
    html.push_str("</table><h1>Runs</h1><table><tr><th>run</th><th>from</th><th>state</th><th>attempt</th><th>agent</th><th>created (UTC)</th><th>finished (UTC)</th></tr>");
    for r in &recent {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.id),
            escape(&r.origin),
            escape(&r.state),
            escape(&r.state),
            r.attempt,
            escape(r.agent_id.as_deref().unwrap_or("")),
            time(r.created_at),
            time(r.finished_at)
        ));
    }
    html.push_str("</table></body></html>");
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}
