//! `assay agent`: read its settings, then poll the server until SIGTERM or Ctrl-C.

use std::time::Duration;

use super::{config_path, runtime, AppError};
use crate::agent::api::ServerApi;
use crate::agent::job::JobPolicy;
use crate::agent::outbox::AgentOutbox;
use crate::agent::{self, AgentOptions};
use crate::cli::AgentArgs;
use crate::config::Glob;
use crate::diag::{Diag, Diags};
use crate::exit::Exit;
use crate::serve::queue::AgentIdentity;

/// The environment variable that holds the token when no file is given.
pub const TOKEN_ENV: &str = "ASSAY_AGENT_TOKEN";

pub fn run(args: &AgentArgs) -> Result<Exit, AppError> {
    let mut diags = Diags::default();
    let http = super::run::connect(&args.server, TOKEN_ENV, "agent,push", &mut diags);
    let policy = policy(args, &mut diags);
    let grace = humantime::parse_duration(&args.grace).unwrap_or_else(|_| {
        diags.push(
            Diag::plain(format!("--grace '{}' is not a duration", args.grace))
                .with_help("like 30s or 2m"),
        );
        Duration::ZERO
    });
    if args.jobs == 0 || args.jobs > 256 {
        diags.push(Diag::plain("--jobs is 1 to 256"));
    }
    let Some(http) = http.filter(|_| diags.is_empty()) else {
        return Err(diags.into());
    };
    let host = agent::host_name();
    let identity = AgentIdentity {
        id: args
            .id
            .clone()
            .unwrap_or_else(|| format!("{host}-{}", std::process::id())),
        version: env!("CARGO_PKG_VERSION").to_string(),
        host,
    };
    if let Some(p) = identity.problem() {
        return Err(Diag::plain(format!("--id: {p}")).into());
    }
    let api = ServerApi {
        http,
        identity: identity.clone(),
    };
    let project_dir = config_path(args.common.config.as_ref())?
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let options = AgentOptions {
        api,
        jobs: args.jobs,
        policy,
        grace,
        outbox: AgentOutbox::new(project_dir.join(".assay").join("agent").join("outbox")),
    };
    let runtime = runtime()?;
    println!(
        "agent {} polling {} ({} job(s) at once)",
        identity.id, args.server.server, args.jobs
    );
    runtime.block_on(async {
        let stop = super::push::stop_signal();
        options.outbox.flush(&options.api).await;
        agent::run(options, stop).await;
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(Exit::Ok)
}

/// What jobs may do, from the flags; what is written wrong goes to `diags`.
fn policy(args: &AgentArgs, diags: &mut Diags) -> JobPolicy {
    let mut globs = |list: &[String], flag: &str| -> Vec<Glob> {
        list.iter()
            .filter_map(|g| match Glob::parse(g) {
                Ok(glob) => Some(glob),
                Err(e) => {
                    diags.push(Diag::plain(format!("{flag} '{g}': {e}")));
                    None
                }
            })
            .collect()
    };
    let allow_env = globs(&args.allow_env, "--allow-env");
    let allow_data_source = globs(&args.allow_data_source, "--allow-data-source");
    let cpu_limit = args
        .cpu_limit
        .as_deref()
        .and_then(|t| match humantime::parse_duration(t) {
            Ok(d) => Some(d.as_secs().max(1)),
            Err(_) => {
                diags.push(
                    Diag::plain(format!("--cpu-limit '{t}' is not a duration"))
                        .with_help("like 10m"),
                );
                None
            }
        });
    let memory_limit = args.memory_limit.as_deref().and_then(|t| {
        let size = crate::exec::parse_size(t).filter(|n| *n >= 16 * 1024 * 1024);
        if size.is_none() {
            diags.push(
                Diag::plain(format!(
                    "--memory-limit '{t}' is not a size of 16MiB or more"
                ))
                .with_help("like 2GiB"),
            );
        }
        size
    });
    let work_dir = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    if !work_dir.is_dir() {
        diags.push(Diag::plain(format!(
            "--work-dir '{}' is not a folder",
            work_dir.display()
        )));
    }
    JobPolicy {
        allow_env,
        allow_data_source,
        memory_limit,
        cpu_limit,
        work_dir,
    }
}
