//! `assay run --server URL CONTRACT...`: ask an `assay serve` for a run of its
//! project's contracts (an agent inside the network does it), and with `--wait` follow
//! it to its end and exit as it did.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{runtime, AppError};
use crate::agent::api::{ApiError, ServerClient};
use crate::cli::{ServerConnection, ServerRunArgs};
use crate::diag::{Diag, Diags};
use crate::error::RunError;
use crate::exit::Exit;

/// The environment variable that holds the token when no file is given.
pub const TOKEN_ENV: &str = "ASSAY_SERVER_TOKEN";

/// A run followed for longer than `--wait-timeout`.
#[derive(Debug, thiserror::Error)]
#[error("run {id} did not end within --wait-timeout; it goes on (follow it at {server}/api/v1/runs/{id})")]
pub struct WaitedTooLong {
    server: String,
    id: String,
}

pub fn run(args: &ServerRunArgs) -> Result<Exit, AppError> {
    let mut diags = Diags::default();
    let client = connect(&args.server, TOKEN_ENV, "run", &mut diags);
    let variables: BTreeMap<String, String> = super::run_config::parse_set(&args.set, &mut diags)
        .into_iter()
        .collect();
    let wait_timeout = humantime::parse_duration(&args.wait_timeout).ok();
    if wait_timeout.is_none() {
        diags.push(
            Diag::plain(format!(
                "--wait-timeout '{}' is not a duration",
                args.wait_timeout
            ))
            .with_help("like 2h or 30m"),
        );
    }
    if let Some(t) = &args.timeout {
        if humantime::parse_duration(t).is_err() {
            diags.push(
                Diag::plain(format!("--timeout '{t}' is not a duration")).with_help("like 10m"),
            );
        }
    }
    let Some(client) = client.filter(|_| diags.is_empty()) else {
        return Err(diags.into());
    };
    let body = json!({
        "contracts": args.contracts,
        "variables": variables,
        "timeout": args.timeout,
    });
    runtime()?.block_on(async {
        let created = match client
            .request(reqwest::Method::POST, "/api/v1/runs", Some(&body))
            .await
        {
            Ok(v) => v,
            // the server says the request is wrong (a contract it does not hold): bad input
            Err(ApiError::Answer {
                status: 422,
                message,
                ..
            }) => {
                return Err(AppError::from(
                    Diag::plain(message)
                        .with_help("GET /api/v1/project lists the project's contracts"),
                ))
            }
            Err(e) => return Err(AppError::Runtime(RunError::serve(e))),
        };
        let id = created["id"].as_str().unwrap_or_default().to_string();
        println!("{id}");
        if !args.wait {
            eprintln!(
                "queued run {id}; follow it with GET {}/api/v1/runs/{id}",
                client.server
            );
            return Ok(Exit::Ok);
        }
        follow(&client, &id, wait_timeout.unwrap_or_default()).await
    })
}

/// A client of the server `--server` names, with the token of `--token-file` or of the
/// environment variable `env`; None (and why, in `diags`) when one cannot be made.
pub(crate) fn connect(
    conn: &ServerConnection,
    env: &str,
    scopes: &str,
    diags: &mut Diags,
) -> Option<ServerClient> {
    let token = match &conn.token_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Diag::plain(format!("cannot read --token-file '{}': {e}", path.display()))
        }),
        None => std::env::var(env).map_err(|_| {
            Diag::plain(format!("no token: ${env} is not set")).with_help(format!(
                "a token with the {scopes} scope (`assay serve token create NAME --scope {scopes}`), in ${env} or --token-file"
            ))
        }),
    };
    let token = match token {
        Ok(t) => t.trim().to_string(),
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    crate::secrets::register(&token);
    let url_ok =
        reqwest::Url::parse(&conn.server).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !url_ok {
        diags.push(
            Diag::plain(format!("--server '{}' is not an http(s) URL", conn.server))
                .with_help("like https://assay.internal:8484"),
        );
        return None;
    }
    let ca = match &conn.ca_certificate {
        None => None,
        Some(p) => match std::fs::read(p) {
            Ok(pem) => Some(pem),
            Err(e) => {
                diags.push(Diag::plain(format!(
                    "--ca-certificate '{}': {e}",
                    p.display()
                )));
                return None;
            }
        },
    };
    match ServerClient::new(&conn.server, &token, ca.as_deref()) {
        Ok(c) => Some(c),
        Err(e) => {
            diags.push(Diag::plain(e.to_string()));
            None
        }
    }
}

/// Follow a run until it ends: its exit code, as the job on the agent exited.
async fn follow(client: &ServerClient, id: &str, wait: Duration) -> Result<Exit, AppError> {
    let started = Instant::now();
    let mut last_state = String::new();
    loop {
        let run = match client
            .request(reqwest::Method::GET, &format!("/api/v1/runs/{id}"), None)
            .await
        {
            Ok(r) => r,
            // a server restarting: keep following
            Err(e) if e.transient() => Value::Null,
            Err(e) => return Err(AppError::Runtime(RunError::serve(e))),
        };
        let state = run["state"].as_str().unwrap_or_default().to_string();
        if !state.is_empty() && state != last_state {
            let agent = run["agent_id"]
                .as_str()
                .map(|a| format!(" on agent {a}"))
                .unwrap_or_default();
            eprintln!("run {id}: {state}{agent}");
            last_state = state.clone();
        }
        if matches!(state.as_str(), "done" | "failed" | "expired") {
            return Ok(ended(&run));
        }
        if started.elapsed() >= wait {
            return Err(AppError::Runtime(RunError::serve(WaitedTooLong {
                server: client.server.clone(),
                id: id.to_string(),
            })));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// How a run that ended exits: as its job did; 3 when it could not run or no agent took
/// it in time.
fn ended(run: &Value) -> Exit {
    let outcome = &run["outcome"];
    if let Some(e) = outcome["error"].as_str() {
        eprintln!("{}", crate::secrets::for_terminal(e));
    }
    if let Some(v) = outcome["verdict"].as_str() {
        eprintln!("verdict: {v}");
    }
    match (run["state"].as_str(), outcome["exit_code"].as_i64()) {
        (Some("done"), Some(0)) => Exit::Ok,
        (Some("done"), Some(1)) => Exit::ChecksFailed,
        (Some("done"), Some(2)) => Exit::BadInput,
        (Some("done"), Some(4)) => Exit::NotPushed,
        _ => Exit::Runtime,
    }
}
