//! `assay scan`: the chosen data sources observed, their contracts verified, the
//! history recorded under its lock; reports and the exit code.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::run_config::{
    capture_options, find_contracts, load_contracts, parse_outputs, parse_set, parse_times,
    push_plan,
};
use super::{config_path, now_text, runtime, AppError};
use crate::cli::{FailOnArg, ScanArgs};
use crate::config;
use crate::diag::{Diag, Diags};
use crate::error::RunError;
use crate::exit::Exit;
use crate::failing_rows::FailedRowsStore;
use crate::interp::Vars;
use crate::results::FailOn;
use crate::scan::history::HistoryStore;
use crate::scan::lock::HistoryLock;
use crate::verify::RunOptions;

/// Who a scan is, for one that waits on its lock.
fn lock_holder(holder: &str) -> String {
    format!(
        "{holder} (pid {} on {}, since {})",
        std::process::id(),
        std::env::var("HOSTNAME").unwrap_or_else(|_| "this machine".into()),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// The scan, validated: everything in it is known good before anything connects.
struct ScanPlan {
    config: crate::config::Config,
    sources: Vec<crate::engine::DataSourceConfig>,
    contracts: Vec<crate::plan::Resolved>,
    options: RunOptions,
    outputs: Vec<super::run_config::Output>,
    push: Option<super::run_config::PushPlan>,
    lock_timeout: Duration,
}

/// Arguments, config and contracts -> the plan of a scan; every input error together.
fn prepare(args: &ScanArgs) -> Result<ScanPlan, AppError> {
    let mut diags = Diags::default();
    let set = parse_set(&args.set, &mut diags);
    let outputs = parse_outputs(&args.outputs, args.common.quiet, &mut diags);
    let (now, timeout) = parse_times(args.now.as_ref(), args.timeout.as_ref(), &mut diags);
    if args.fail_on == FailOnArg::New {
        diags.push(
            Diag::plain("--fail-on new compares with a baseline, which only `assay verify` takes")
                .with_help(
                    "use --fail-on fail or warn, or `assay verify --baseline FILE --fail-on new`",
                ),
        );
    }
    let lock_timeout = match humantime::parse_duration(&args.lock_timeout) {
        Ok(d) => d,
        Err(_) => {
            diags.push(
                Diag::plain(format!(
                    "--lock-timeout '{}' is not a duration",
                    args.lock_timeout
                ))
                .with_help("write it like 30s or 10m"),
            );
            Duration::ZERO
        }
    };
    if args.jobs == 0 {
        diags.push(Diag::plain("--jobs must be at least 1"));
    }
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let config_vars = Vars {
        set: set.clone(),
        defaults: HashMap::new(),
        now: now_text(now),
        untrusted: false,
    };
    let config = config::load(
        config_path(args.common.config.as_ref())?.as_deref(),
        &[],
        &config_vars,
    )?;
    for name in &args.data_sources {
        if config.data_source(name).is_none() {
            diags.push(
                Diag::plain(format!("no data source named '{name}'"))
                    .with_help(config.unknown_name_help(name)),
            );
        }
    }
    if config.data_sources.is_empty() {
        diags.push(
            Diag::plain("there is no data source to scan")
                .with_help("configure data_sources in assay.yml"),
        );
    }
    let push = push_plan(&config, args.push, &mut diags);
    // contracts are optional for a scan: contracts/ when it exists, or --contracts
    let contract_files = match &args.contracts {
        Some(dir) => find_contracts(std::slice::from_ref(dir), &mut diags),
        None if PathBuf::from("contracts").is_dir() => find_contracts(&[], &mut diags),
        None => Vec::new(),
    };
    super::run_config::warn_unused_set(&set, &contract_files);
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let names: Vec<&String> = args.data_sources.iter().collect();
    let contracts = load_contracts(
        &contract_files,
        &config,
        &names,
        args.server.as_deref(),
        &set,
        now,
    )?;
    let sources: Vec<_> = config
        .data_sources
        .iter()
        .filter(|d| names.is_empty() || names.contains(&&d.name))
        .cloned()
        .collect();
    let options = RunOptions {
        jobs: args.jobs,
        timeout,
        now,
        capture: capture_options(&config, args.no_failed_rows),
    };
    Ok(ScanPlan {
        config,
        sources,
        contracts,
        options,
        outputs,
        push,
        lock_timeout,
    })
}

pub fn run(args: &ScanArgs) -> Result<Exit, AppError> {
    let ScanPlan {
        config,
        sources,
        contracts,
        options,
        outputs,
        push,
        lock_timeout,
    } = prepare(args)?;
    let store = FailedRowsStore::from_config(&config);
    let history = HistoryStore::from_config(&config);
    // overlapping cron runs take turns on the history
    let sources_text: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    let holder = format!("assay scan of {}", sources_text.join(", "));
    let lock = HistoryLock::acquire(
        &HistoryLock::path(&config.project_dir),
        &holder,
        lock_timeout,
    );
    let _lock = match lock {
        Ok(l) => Some(l),
        // another scan holds it: wait no longer
        Err(e @ RunError::Store(_)) => return Err(AppError::Runtime(e)),
        // the lock file cannot be made (the folder is not writable): scan anyway; the
        // history will fail to be written too, and say why, with the results printed
        Err(e) => {
            tracing::warn!("{e}; scanning without the history lock");
            None
        }
    };
    let runtime = runtime()?;
    // a history on a server: scans from any machine take turns on the server's own lock
    let server_lock = runtime
        .block_on(history.server_lock(&lock_holder(&holder), lock_timeout))
        .map_err(AppError::Runtime)?;
    let results = runtime.block_on(crate::scan::run::run(
        &config,
        &sources,
        contracts,
        &options,
        options.capture.is_some().then_some(&store),
        &history,
    ));
    if let Some(lock) = server_lock {
        runtime.block_on(lock.release());
    }
    super::write_reports(&outputs, &results, Some(&history))?;
    let code = results.exit_code(match args.fail_on {
        FailOnArg::Fail => FailOn::Fail,
        FailOnArg::Warn => FailOn::Warn,
        FailOnArg::New => FailOn::New,
    });
    let delivered = push
        .as_ref()
        .map(|plan| runtime.block_on(super::push::push_results(&results, plan, args.common.quiet)));
    // a notification that cannot be delivered waits in the outbox: a warning, not an exit
    if let Some(notify) = &config.notify {
        runtime.block_on(crate::push::notify::deliver(
            &results,
            notify,
            &config.project_dir,
            args.common.quiet,
        ));
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    // exit codes: 2, 3, 1, 4 in that order of precedence
    Ok(match delivered {
        Some(d) => code.with_push(d),
        None => code,
    })
}
