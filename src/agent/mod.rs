//! `assay agent`: inside the network that holds the data, poll `assay serve` for
//! instructions (docs/agent-api.md), run each as an isolated job (`job.rs`), send its
//! metric summaries through the push path and its completion, both kept in an outbox
//! until the server has them (`outbox.rs`), and renew the leases of running jobs by
//! heartbeats. A job whose lease is lost is stopped; on SIGTERM the agent stops
//! claiming, lets its jobs finish within the grace, then stops them and reports them
//! interrupted (their runs go back to the queue).

pub mod api;
pub mod job;
pub mod outbox;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use api::{ApiError, ServerApi};
use job::{Instruction, JobPolicy, Stop};
use outbox::AgentOutbox;

use crate::serve::queue::Completion;

/// How an agent runs.
pub struct AgentOptions {
    pub api: ServerApi,
    /// jobs at once
    pub jobs: usize,
    pub policy: JobPolicy,
    /// how long running jobs may go on after SIGTERM
    pub grace: Duration,
    /// where completions and results wait until the server has them
    pub outbox: AgentOutbox,
}

/// A job the agent holds: its attempt, whether it runs yet, and how to stop it.
struct JobSlot {
    attempt: i64,
    running: bool,
    stop: tokio::sync::watch::Sender<Option<Stop>>,
}

type JobSlots = Arc<Mutex<HashMap<String, JobSlot>>>;

/// The longest wait between two tries when the server does not answer.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a claim waits on the server for work.
const CLAIM_WAIT: Duration = Duration::from_secs(20);

/// Run until `stop` resolves, then stop as the module says.
pub async fn run(options: AgentOptions, stop: impl std::future::Future<Output = &'static str>) {
    let options = Arc::new(options);
    let held: JobSlots = Arc::default();
    let lease = Arc::new(Mutex::new(Duration::from_secs(60)));
    let beating = tokio::spawn(heartbeats(options.clone(), held.clone(), lease.clone()));
    let flushing = tokio::spawn(flush_outbox(options.clone()));
    let mut jobs = tokio::task::JoinSet::new();
    let mut backoff = Duration::from_secs(1);
    tokio::pin!(stop);
    let why = loop {
        let room = options
            .jobs
            .saturating_sub(held.lock().unwrap_or_else(|e| e.into_inner()).len());
        if room == 0 {
            tokio::select! {
                why = &mut stop => break why,
                _ = jobs.join_next() => continue,
            }
        }
        let claimed = tokio::select! {
            why = &mut stop => break why,
            c = options.api.claim(room, CLAIM_WAIT) => c,
        };
        match claimed {
            Ok(list) => {
                backoff = Duration::from_secs(1);
                for value in list {
                    if let Some(secs) = value["lease_seconds"].as_u64() {
                        *lease.lock().unwrap_or_else(|e| e.into_inner()) =
                            Duration::from_secs(secs.max(3));
                    }
                    start(&options, &held, &mut jobs, value);
                }
            }
            Err(e) => {
                tracing::warn!("{e}; trying again in {} s", backoff.as_secs());
                tokio::select! {
                    why = &mut stop => break why,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        while jobs.try_join_next().is_some() {}
    };
    eprintln!(
        "{why}: no more claims; {} job(s) running get {} s to finish",
        jobs.len(),
        options.grace.as_secs()
    );
    let finished = tokio::time::timeout(options.grace, async {
        while jobs.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        for h in held.lock().unwrap_or_else(|e| e.into_inner()).values() {
            let _ = h.stop.send(Some(Stop::Interrupted));
        }
        while jobs.join_next().await.is_some() {}
    }
    beating.abort();
    flushing.abort();
    options.outbox.flush(&options.api).await;
}

/// Take an instruction on: held (so heartbeats renew it) and run in a task of its own.
fn start(
    options: &Arc<AgentOptions>,
    held: &JobSlots,
    jobs: &mut tokio::task::JoinSet<()>,
    value: Value,
) {
    let instruction: Instruction = match serde_json::from_value(value.clone()) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!("the server sent an instruction this agent cannot read: {e}");
            if let (Some(id), Some(attempt)) = (value["id"].as_str(), value["attempt"].as_i64()) {
                let c = failed(
                    id,
                    attempt,
                    format!("refused: not an instruction of agent API v1: {e}"),
                    String::new(),
                );
                let (options, c) = (options.clone(), c);
                jobs.spawn(async move { options.outbox.deliver(&options.api, None, c).await });
            }
            return;
        }
    };
    let (tx, rx) = tokio::sync::watch::channel(None);
    held.lock().unwrap_or_else(|e| e.into_inner()).insert(
        instruction.id.clone(),
        JobSlot {
            attempt: instruction.attempt,
            running: false,
            stop: tx,
        },
    );
    let (options, held) = (options.clone(), held.clone());
    jobs.spawn(async move {
        let id = instruction.id.clone();
        run_one(&options, &held, instruction, rx).await;
        held.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    });
}

fn failed(id: &str, attempt: i64, error: String, output: String) -> Completion {
    Completion {
        id: id.to_string(),
        attempt,
        state: "failed".into(),
        exit_code: None,
        verdict: None,
        summary: None,
        scan_id: None,
        error: Some(crate::secrets::mask(&error)),
        output: (!output.is_empty()).then_some(output),
    }
}

/// One instruction from check to completion.
async fn run_one(
    options: &AgentOptions,
    held: &JobSlots,
    instruction: Instruction,
    stop: tokio::sync::watch::Receiver<Option<Stop>>,
) {
    let (id, attempt) = (instruction.id.clone(), instruction.attempt);
    let env = match instruction.check(&options.policy) {
        Ok(env) => env,
        Err(refusal) => {
            tracing::warn!("instruction {id}: {refusal}");
            let c = failed(&id, attempt, refusal.to_string(), String::new());
            return options.outbox.deliver(&options.api, None, c).await;
        }
    };
    let dir = match job::prepare(&instruction, &options.policy.work_dir) {
        Ok(d) => d,
        Err(e) => {
            let c = failed(
                &id,
                attempt,
                format!("the job's folder could not be written: {e}"),
                String::new(),
            );
            return options.outbox.deliver(&options.api, None, c).await;
        }
    };
    if let Some(h) = held.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&id) {
        h.running = true;
    }
    tracing::info!("instruction {id} attempt {attempt}: running");
    let lost = stop.clone();
    let end = job::run(&instruction, &dir, &env, &options.policy, stop).await;
    drop(dir);
    let stopped = *lost.borrow();
    if stopped == Some(Stop::Lost) {
        // another agent has it now: this attempt reports nothing
        tracing::warn!("instruction {id} attempt {attempt}: lease lost, stopped");
        return;
    }
    let completion = completion(&id, attempt, stopped, &end);
    tracing::info!(
        "instruction {id} attempt {attempt}: {} (exit code {:?})",
        completion.state,
        end.exit_code
    );
    options
        .outbox
        .deliver(&options.api, end.results, completion)
        .await;
}

/// How a job's end is reported: done when it reached a verdict, interrupted when the
/// agent stopped it, failed otherwise (with why).
fn completion(id: &str, attempt: i64, stopped: Option<Stop>, end: &job::JobEnd) -> Completion {
    let mut c = failed(id, attempt, String::new(), end.output.clone());
    c.exit_code = end.exit_code.map(i64::from);
    c.error = end.reason.clone();
    if stopped == Some(Stop::Interrupted) {
        c.state = "interrupted".into();
    } else if let Some(r) = end.results.as_ref().filter(|_| end.reason.is_none()) {
        c.state = "done".into();
        c.verdict = Some(r.outcome.as_str().to_string());
        c.summary = serde_json::to_value(&r.summary).ok();
        c.scan_id = Some(r.scan_id.clone());
    } else if c.error.is_none() {
        let last = end
            .output
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        c.error = Some(format!(
            "the job exited with {} without results: {last}",
            end.exit_code
                .map_or("a signal".into(), |n| format!("code {n}"))
        ));
    }
    c
}

/// Every third of the lease, the held jobs' leases renewed, and at once when a job
/// starts running (the server shows it so); a job the server says is no longer the
/// agent's is stopped.
async fn heartbeats(options: Arc<AgentOptions>, held: JobSlots, lease: Arc<Mutex<Duration>>) {
    let mut last = tokio::time::Instant::now();
    let mut reported: Vec<(String, i64, &'static str)> = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let jobs: Vec<(String, i64, &'static str)> = held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, h)| {
                (
                    id.clone(),
                    h.attempt,
                    if h.running { "running" } else { "claimed" },
                )
            })
            .collect();
        let every = *lease.lock().unwrap_or_else(|e| e.into_inner()) / 3;
        let started = jobs
            .iter()
            .any(|j| j.2 == "running" && !reported.contains(j));
        if last.elapsed() < every && !started {
            continue;
        }
        last = tokio::time::Instant::now();
        let answered = options.api.heartbeat(&jobs).await;
        // said once, or tried: the next is a third of the lease away (no storm of
        // heartbeats at a server that does not answer)
        reported = jobs;
        match answered {
            Ok(answers) => {
                let held = held.lock().unwrap_or_else(|e| e.into_inner());
                for (id, keep) in answers {
                    if let (false, Some(h)) = (keep, held.get(&id)) {
                        let _ = h.stop.send(Some(Stop::Lost));
                    }
                }
            }
            Err(e) => tracing::warn!("heartbeat: {e}"),
        }
    }
}

/// What waits in the outbox, sent again every few seconds.
async fn flush_outbox(options: Arc<AgentOptions>) {
    loop {
        options.outbox.flush(&options.api).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// This machine's name, for the agents' page.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is as long as the length given
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    if ok && end > 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".into()
    }
}

/// Why the agent cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the agent's folder {0}: {1}")]
    Folder(PathBuf, std::io::Error),
}
