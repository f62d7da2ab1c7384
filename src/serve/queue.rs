//! The instruction queue's changes of hands: claims with a lease, heartbeats that renew
//! it, completions, and every second the lapsed leases (back to the queue, or expired
//! after `MAX_ATTEMPTS`), the queued instructions nobody claimed in time, and the
//! schedules that are due. One change at a time per server (the store's event keys make
//! each attempt claimed and ended once even so: `scan::history::queue`).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::ServeState;
use crate::error::RunError;
use crate::scan::history::queue::{
    AgentRow, AttemptChange, InstructionQuery, NewInstruction, CLAIMED, DONE, EXPIRED, FAILED,
    QUEUED, RUNNING,
};

/// An instruction whose lease lapsed this often is not handed out again.
pub const MAX_ATTEMPTS: i64 = 3;
/// Instructions one claim may take.
pub const MAX_CLAIM: usize = 64;

/// The queue's turn and the wake-up of agents waiting for work.
pub struct Queue {
    pub lease: Duration,
    /// its tables exist in the store
    pub ready: std::sync::atomic::AtomicBool,
    turn: tokio::sync::Mutex<()>,
    /// told when instructions are queued (or come back to the queue)
    pub arrived: tokio::sync::Notify,
}

/// The queue's turn and, where the store is one file, the store's.
type Held<'a> = (
    tokio::sync::MutexGuard<'a, ()>,
    Option<tokio::sync::MutexGuard<'a, ()>>,
);

/// How an agent names itself in every request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentIdentity {
    pub id: String,
    pub version: String,
    pub host: String,
}

impl AgentIdentity {
    /// Short, printable words: they are shown on a page and in logs.
    pub fn problem(&self) -> Option<String> {
        for (what, text) in [
            ("id", &self.id),
            ("version", &self.version),
            ("host", &self.host),
        ] {
            if text.trim().is_empty() || text.len() > 200 || text.chars().any(char::is_control) {
                return Some(format!("agent.{what} must be 1-200 printable characters"));
            }
        }
        None
    }
}

/// A job an agent says it holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldJob {
    pub id: String,
    pub attempt: i64,
    /// claimed (not started yet) or running
    #[serde(default)]
    pub state: Option<String>,
}

/// What an agent reports when a job ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    pub id: String,
    pub attempt: i64,
    /// done (it ran; its verdict says how the checks went), failed (it could not run),
    /// interrupted (the agent stopped it: back to the queue)
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// What became of a completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    Recorded,
    /// the same attempt was reported before: nothing changes
    Already,
    /// the attempt is no longer the agent's (its lease lapsed; it runs again elsewhere)
    Lost,
}

impl Queue {
    pub fn new(lease: Duration) -> Queue {
        Queue {
            lease,
            ready: Default::default(),
            turn: tokio::sync::Mutex::new(()),
            arrived: tokio::sync::Notify::new(),
        }
    }

    /// The queue's tables, made the first time the store answers (it may be down as the
    /// server starts: requests then get 503 until it is back).
    async fn ready(&self, app: &ServeState) -> Result<(), RunError> {
        use std::sync::atomic::Ordering;
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        app.history.ensure_queue().await?;
        // the agents could not reach a server that was down: one lease to come back
        app.history
            .extend_held_leases(self.lease_until(Utc::now()))
            .await?;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// The queue to oneself (and the store, where it is one file), its tables made.
    async fn hold<'a>(&'a self, app: &'a ServeState) -> Result<Held<'a>, RunError> {
        let queue = self.turn.lock().await;
        let store = app.turn().await;
        self.ready(app).await?;
        Ok((queue, store))
    }

    fn lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(60))
    }

    /// Queue instructions (and mark a schedule due), then wake waiting agents.
    pub(crate) async fn add(
        &self,
        app: &ServeState,
        list: &[NewInstruction],
        mark: Option<(&str, DateTime<Utc>)>,
    ) -> Result<(), RunError> {
        let _held = self.hold(app).await?;
        app.history.enqueue(list, mark).await?;
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Up to `max` of the oldest queued instructions, now the agent's: each as handed out
    /// (its payload with its id, attempt and lease).
    pub(crate) async fn claim(
        &self,
        app: &ServeState,
        agent: &AgentIdentity,
        max: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, RunError> {
        let _held = self.hold(app).await?;
        self.seen(app, agent, now).await?;
        let q = InstructionQuery {
            states: &[QUEUED],
            limit: Some(max.clamp(1, MAX_CLAIM) as u64),
            payload: true,
            oldest_first: true,
            ..Default::default()
        };
        let queued: Vec<_> = app
            .history
            .instructions(&q)
            .await?
            .into_iter()
            .filter(|i| i.expires_at.is_none_or(|e| e > now))
            .collect();
        if queued.is_empty() {
            return Ok(Vec::new());
        }
        let picks: Vec<(String, i64)> = queued.iter().map(|i| (i.id.clone(), i.attempt)).collect();
        let lease_until = self.lease_until(now);
        app.history
            .claim(&agent.id, &picks, lease_until, now)
            .await?;
        Ok(queued
            .into_iter()
            .map(|i| {
                let mut payload: Value = i
                    .payload
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_else(|| json!({}));
                payload["id"] = json!(i.id);
                payload["attempt"] = json!(i.attempt + 1);
                payload["lease_until"] = json!(crate::timestamp::rfc3339(lease_until));
                payload["lease_seconds"] = json!(self.lease.as_secs());
                payload
            })
            .collect())
    }

    /// The agent's heartbeat: every job it holds gets a new lease; the others it names
    /// are no longer its (stop them). Answers each job with whether to keep it.
    pub(crate) async fn heartbeat(
        &self,
        app: &ServeState,
        agent: &AgentIdentity,
        jobs: &[HeldJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, RunError> {
        let _held = self.hold(app).await?;
        self.seen(app, agent, now).await?;
        let q = InstructionQuery {
            states: &[CLAIMED, RUNNING],
            agent_id: Some(&agent.id),
            ..Default::default()
        };
        let held: HashMap<String, i64> = app
            .history
            .instructions(&q)
            .await?
            .into_iter()
            .map(|i| (i.id, i.attempt))
            .collect();
        let lease_until = self.lease_until(now);
        let mut out = Vec::new();
        for job in jobs {
            let keep = held.get(&job.id) == Some(&job.attempt);
            if keep {
                let state = match job.state.as_deref() {
                    Some(RUNNING) => RUNNING,
                    _ => CLAIMED,
                };
                app.history
                    .renew(&agent.id, &job.id, job.attempt, state, lease_until)
                    .await?;
            }
            out.push(json!({
                "id": job.id,
                "attempt": job.attempt,
                "keep": keep,
                "lease_until": keep.then(|| crate::timestamp::rfc3339(lease_until)),
            }));
        }
        Ok(out)
    }

    /// An agent's report of a job's end: recorded once per attempt.
    pub(crate) async fn complete(
        &self,
        app: &ServeState,
        agent: &AgentIdentity,
        c: &Completion,
        now: DateTime<Utc>,
    ) -> Result<Completed, RunError> {
        let _held = self.hold(app).await?;
        self.seen(app, agent, now).await?;
        let q = InstructionQuery {
            id: Some(&c.id),
            ..Default::default()
        };
        let Some(row) = app.history.instructions(&q).await?.into_iter().next() else {
            return Ok(Completed::Lost);
        };
        let held = [CLAIMED, RUNNING].contains(&row.state.as_str());
        let mine = row.attempt == c.attempt && row.agent_id.as_deref() == Some(&agent.id);
        if row.attempt == c.attempt && !held && mine {
            return Ok(if row.state == c.state {
                Completed::Already
            } else {
                Completed::Lost
            });
        }
        if !(held && mine) {
            return Ok(Completed::Lost);
        }
        let outcome = serde_json::to_string(c).unwrap_or_default();
        let interrupted = c.state == "interrupted";
        let requeue = interrupted && row.attempt < MAX_ATTEMPTS;
        let state = match c.state.as_str() {
            DONE => DONE,
            FAILED => FAILED,
            _ if requeue => "interrupted",
            _ => EXPIRED,
        };
        app.history
            .end_attempt(
                &AttemptChange {
                    id: &c.id,
                    attempt: c.attempt,
                    state,
                    agent: Some(&agent.id),
                    at: now,
                    outcome: Some(&outcome),
                },
                requeue,
            )
            .await?;
        if requeue {
            self.arrived.notify_waiters();
        }
        Ok(Completed::Recorded)
    }

    async fn seen(
        &self,
        app: &ServeState,
        agent: &AgentIdentity,
        now: DateTime<Utc>,
    ) -> Result<(), RunError> {
        // at most one write per agent every few seconds: a busy agent reports often
        let known = app
            .agents_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&agent.id)
            .copied();
        let first = match known {
            Some((written, _)) if now - written < chrono::Duration::seconds(5) => return Ok(()),
            Some((_, first)) => first,
            // first heard from by this process: since when the store knows it
            None => app
                .history
                .agents()
                .await?
                .into_iter()
                .find(|a| a.id == agent.id)
                .and_then(|a| a.first_seen)
                .unwrap_or(now),
        };
        app.agents_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(agent.id.clone(), (now, first));
        let row = AgentRow {
            id: agent.id.clone(),
            version: agent.version.clone(),
            host: agent.host.clone(),
            first_seen: Some(first),
            last_heartbeat: None,
        };
        app.history.agent_seen(&row, now).await
    }

    /// What a second of the server's clock owes: lapsed leases, unclaimed instructions
    /// past their time, and due schedules.
    pub(crate) async fn tick(&self, app: &ServeState, now: DateTime<Utc>) -> Result<(), RunError> {
        {
            let _held = self.hold(app).await?;
            let q = InstructionQuery {
                states: &[QUEUED, CLAIMED, RUNNING],
                ..Default::default()
            };
            let mut requeued = false;
            for i in app.history.instructions(&q).await? {
                if i.state == QUEUED {
                    if i.expires_at.is_some_and(|e| e <= now) {
                        tracing::warn!("instruction {} expired in the queue, never claimed", i.id);
                        app.history.expire_queued(&i.id, i.attempt, now).await?;
                    }
                    continue;
                }
                if i.lease_until.is_some_and(|l| l > now) {
                    continue;
                }
                let requeue = i.attempt < MAX_ATTEMPTS;
                tracing::warn!(
                    "the lease of instruction {} (attempt {}, agent {}) lapsed: {}",
                    i.id,
                    i.attempt,
                    i.agent_id.as_deref().unwrap_or("?"),
                    if requeue {
                        "back to the queue"
                    } else {
                        "expired"
                    }
                );
                app.history
                    .end_attempt(
                        &AttemptChange {
                            id: &i.id,
                            attempt: i.attempt,
                            state: EXPIRED,
                            agent: i.agent_id.as_deref(),
                            at: now,
                            outcome: None,
                        },
                        requeue,
                    )
                    .await?;
                requeued |= requeue;
            }
            if requeued {
                self.arrived.notify_waiters();
            }
        }
        super::runs::schedules_due(app, now).await
    }
}
