//! `assay run --server URL CONTRACT...`: ask an `assay serve` for a run of its
//! project's contracts (an agent inside the network does it), and with `--wait` follow
//! it to its end and exit as it did.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{runtime, AppError};
use crate::cli::ServerRunArgs;
use crate::diag::{Diag, Diags};
use crate::error::RunError;
use crate::exit::Exit;

/// The environment variable that holds the token when no file is given.
pub const TOKEN_ENV: &str = "ASSAY_SERVER_TOKEN";

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerRunError {
    #[error("the server at {server} does not answer: {message}")]
    NotAnswering { server: String, message: String },
    #[error("the server at {server} refused the token ({status}): {message}")]
    Token {
        server: String,
        status: u16,
        message: String,
    },
    #[error("the server at {server} answered {status}: {message}")]
    Answer {
        server: String,
        status: u16,
        message: String,
    },
    #[error("run {id} did not end within --wait-timeout; it goes on (follow it at {server}/api/v1/runs/{id})")]
    Waited { server: String, id: String },
}

pub fn run(args: &ServerRunArgs) -> Result<Exit, AppError> {
    let mut diags = Diags::default();
    let token = token(args).map_err(|d| {
        let mut all = Diags::default();
        all.push(d);
        all
    })?;
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
    let server = args.server.trim_end_matches('/').to_string();
    if reqwest::Url::parse(&server).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
        diags.push(
            Diag::plain(format!("--server '{server}' is not an http(s) URL"))
                .with_help("like https://assay.internal:8484"),
        );
    }
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let client = http_client(args)?;
    let runtime = runtime()?;
    let body = json!({
        "contracts": args.contracts,
        "variables": variables,
        "timeout": args.timeout,
    });
    runtime.block_on(async {
        let created = send(
            &client,
            &server,
            &token,
            reqwest::Method::POST,
            "/api/v1/runs",
            Some(&body),
        )
        .await;
        let created = match created {
            Ok(v) => v,
            // the server says the request is wrong (a contract it does not hold): bad input
            Err(ServerRunError::Answer {
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
            eprintln!("queued run {id}; follow it with GET {server}/api/v1/runs/{id}");
            return Ok(Exit::Ok);
        }
        follow(
            &client,
            &server,
            &token,
            &id,
            wait_timeout.unwrap_or_default(),
        )
        .await
        .map_err(|e| AppError::Runtime(RunError::serve(e)))
    })
}

fn token(args: &ServerRunArgs) -> Result<String, Diag> {
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Diag::plain(format!("cannot read --token-file '{}': {e}", path.display()))
        })?,
        None => std::env::var(TOKEN_ENV).map_err(|_| {
            Diag::plain(format!("no token: ${TOKEN_ENV} is not set"))
                .with_help("a token with the run scope (`assay serve token create ci --scope run`), in $ASSAY_SERVER_TOKEN or --token-file")
        })?,
    };
    let token = token.trim().to_string();
    crate::secrets::register(&token);
    Ok(token)
}

fn http_client(args: &ServerRunArgs) -> Result<reqwest::Client, AppError> {
    let mut http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        // a redirect would carry the token somewhere not asked for
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = &args.ca_certificate {
        let cert = std::fs::read(ca)
            .ok()
            .and_then(|pem| reqwest::Certificate::from_pem(&pem).ok())
            .ok_or_else(|| {
                Diag::plain(format!(
                    "--ca-certificate '{}' is not a PEM certificate",
                    ca.display()
                ))
            })?;
        http = http.add_root_certificate(cert);
    }
    http.build().map_err(|e| {
        AppError::Runtime(RunError::serve(ServerRunError::NotAnswering {
            server: args.server.clone(),
            message: e.to_string(),
        }))
    })
}

async fn send(
    client: &reqwest::Client,
    server: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, ServerRunError> {
    let mut request = client
        .request(method, format!("{server}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(b.to_string());
    }
    let not_answering = |e: reqwest::Error| ServerRunError::NotAnswering {
        server: server.to_string(),
        message: crate::secrets::mask(&e.without_url().to_string()),
    };
    let response = request.send().await.map_err(not_answering)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(not_answering)?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(value);
    }
    let message = value["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(300).collect());
    let message = crate::secrets::mask(&message);
    Err(match status {
        401 | 403 => ServerRunError::Token {
            server: server.to_string(),
            status,
            message,
        },
        _ => ServerRunError::Answer {
            server: server.to_string(),
            status,
            message,
        },
    })
}

/// Follow a run until it ends: its exit code, as the job on the agent exited.
async fn follow(
    client: &reqwest::Client,
    server: &str,
    token: &str,
    id: &str,
    wait: Duration,
) -> Result<Exit, ServerRunError> {
    let started = Instant::now();
    let mut last_state = String::new();
    loop {
        let run = match send(
            client,
            server,
            token,
            reqwest::Method::GET,
            &format!("/api/v1/runs/{id}"),
            None,
        )
        .await
        {
            Ok(r) => r,
            // a server restarting: keep following
            Err(ServerRunError::NotAnswering { .. })
            | Err(ServerRunError::Answer { status: 503, .. }) => Value::Null,
            Err(e) => return Err(e),
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
        match state.as_str() {
            "done" | "failed" | "expired" => return Ok(ended(&run)),
            _ => {}
        }
        if started.elapsed() >= wait {
            return Err(ServerRunError::Waited {
                server: server.to_string(),
                id: id.to_string(),
            });
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
