//! `assay serve`: run the results receiver and the agents' queue on the project's
//! history store, and manage its tokens (`assay serve token create|list|revoke`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use super::{config_path, runtime, AppError};
use crate::channel::spec::Tls;
use crate::cli::{ServeArgs, ServeCommand, TokenCommand, TokenCreateArgs};
use crate::config;
use crate::diag::{Diag, Diags};
use crate::error::RunError;
use crate::exit::Exit;
use crate::interp::Vars;
use crate::scan::history::HistoryStore;
use crate::serve::tokens::{self, TokenScope};
use crate::serve::{self, ServeOptions, Tokens};

pub fn run(args: &ServeArgs) -> Result<Exit, AppError> {
    let config = config::load(
        config_path(args.common.config.as_ref())?.as_deref(),
        &[],
        &Vars::default(),
    )?;
    let token_file = tokens::token_file(&config.project_dir);
    match &args.command {
        Some(ServeCommand::Token(t)) => match &t.command {
            TokenCommand::Create(create) => create_token(&token_file, create),
            TokenCommand::List => list_tokens(&token_file),
            TokenCommand::Revoke { which } => {
                let revoked = tokens::revoke(&token_file, which).map_err(token_error)?;
                for t in revoked {
                    println!("revoked {} ({})", t.id, t.name);
                }
                Ok(Exit::Ok)
            }
        },
        None => run_server(args, &config, token_file),
    }
}

fn token_error(e: tokens::TokenError) -> AppError {
    match e {
        tokens::TokenError::Unknown(_) | tokens::TokenError::Exists(_) => {
            Diag::plain(e.to_string())
                .with_help("`assay serve token list` shows every token")
                .into()
        }
        other => AppError::Runtime(RunError::serve(other)),
    }
}

fn create_token(file: &Path, args: &TokenCreateArgs) -> Result<Exit, AppError> {
    let mut diags = Diags::default();
    let mut scopes = Vec::new();
    for s in &args.scope {
        match TokenScope::named(s.trim()) {
            Some(scope) => scopes.push(scope),
            None => diags.push(
                Diag::plain(format!("--scope '{s}' is not a scope"))
                    .with_help("push, read, run, agent or admin"),
            ),
        }
    }
    let expires = match &args.expires {
        None => None,
        Some(text) => match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => Some(d),
            _ => {
                diags.push(
                    Diag::plain(format!("--expires '{text}' is not a duration"))
                        .with_help("write it like 90d or 12h"),
                );
                None
            }
        },
    };
    if args.name.trim().is_empty() || args.name.chars().any(char::is_control) {
        diags.push(Diag::plain(
            "a token's name is a word or a few, like ci-runner",
        ));
    }
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let (token, stored) =
        tokens::create(file, args.name.trim(), &scopes, expires).map_err(token_error)?;
    eprintln!(
        "token {} for '{}' ({}){}; it is shown this once:",
        stored.id,
        stored.name,
        scope_list(&stored.scopes),
        stored
            .expires_at
            .as_deref()
            .map(|e| format!(", expires {e}"))
            .unwrap_or_default()
    );
    println!("{token}");
    Ok(Exit::Ok)
}

fn scope_list(scopes: &[TokenScope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn list_tokens(file: &Path) -> Result<Exit, AppError> {
    let list = tokens::list(file).map_err(token_error)?;
    let now = Utc::now();
    if list.is_empty() {
        eprintln!("no tokens yet: `assay serve token create NAME --scope push` makes one");
    }
    for t in list {
        println!(
            "{}  {:<20}  {:<24}  {:<8}  created {}{}",
            t.id,
            crate::secrets::for_terminal(&t.name),
            scope_list(&t.scopes),
            t.state(now),
            t.created_at,
            t.expires_at
                .as_deref()
                .map(|e| format!(", expires {e}"))
                .unwrap_or_default()
        );
    }
    Ok(Exit::Ok)
}

fn run_server(
    args: &ServeArgs,
    config: &config::Config,
    token_file: PathBuf,
) -> Result<Exit, AppError> {
    let history = HistoryStore::from_config(config);
    let max_body = crate::exec::parse_size(&args.max_body)
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            Diag::plain(format!("--max-body '{}' is not a size", args.max_body))
                .with_help("write it like 16MiB or 500KB")
        })?;
    let lease = humantime::parse_duration(&args.lease)
        .ok()
        .filter(|d| d.as_secs() >= 5)
        .ok_or_else(|| {
            Diag::plain(format!(
                "--lease '{}' is not a duration of 5s or more",
                args.lease
            ))
            .with_help("like 60s: agents renew it every third of it")
        })?;
    let project =
        match &args.project {
            Some(dir) if dir.is_dir() => serve::project::ProjectSource::Watched(dir.clone()),
            Some(dir) => return Err(Diag::plain(format!(
                "--project '{}' is not a folder",
                dir.display()
            ))
            .with_help("the folder holding the project's assay.yml and contracts (a git checkout)")
            .into()),
            None => serve::project::ProjectSource::Uploaded(serve::project::upload_file(
                &config.project_dir,
            )),
        };
    if args.rate_limit == 0 {
        return Err(Diag::plain("--rate-limit 0 would refuse every request")
            .with_help("requests per minute per token, like 600")
            .into());
    }
    let tls = match (&args.tls_certificate, &args.tls_key) {
        (Some(certificate), Some(key)) => Some(Tls {
            certificate: certificate.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    if !token_file.exists() {
        tracing::warn!(
            "no tokens yet ({}): every request is refused until `assay serve token create` makes one",
            token_file.display()
        );
    }
    let runtime = runtime()?;
    let served = runtime.block_on(async {
        let listener = serve::bind(&args.listen).await?;
        let addr = listener
            .local_addr()
            .map_err(|e| serve::ServeError::Listen {
                listen: args.listen.clone(),
                message: e.to_string(),
            })?;
        let stop = super::push::stop_signal();
        println!(
            "serving on {} (history {})",
            serve::url_of(addr, tls.is_some()),
            history.label()
        );
        let options = ServeOptions {
            history,
            notify: config.notify.clone(),
            project_dir: config.project_dir.clone(),
            tokens: Tokens::new(token_file),
            max_body: max_body as usize,
            rate_per_minute: args.rate_limit,
            project,
            lease,
            anomalies: config.scan.anomalies.clone(),
            keep: config.history.keep,
        };
        serve::serve(listener, tls, options, async move {
            let why = stop.await;
            eprintln!("{why}: finishing the requests in flight");
        })
        .await
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    served.map_err(|e| AppError::Runtime(RunError::serve(e)))?;
    Ok(Exit::Ok)
}
