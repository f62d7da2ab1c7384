//! `assay verify`: arguments -> a validated run -> results -> reports -> exit code.
//!
//! Everything that can be wrong with the input (arguments, config, contracts, SQL) is
//! found before anything connects, and reported together with exit code 2.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::checks::freshness::parse_timestamp;
use crate::cli::{FailOnArg, PushArgs, VerifyArgs};
use crate::config::{self, CloudConfig, Config};
use crate::contract::{self, Contract};
use crate::diag::{unknown_word_help, Diag, Diags};
use crate::diagnostics;
use crate::exec::RunControl;
use crate::exit::Exit;
use crate::interp::Vars;
use crate::plan::{self, Resolved};
use crate::push::{self, outbox};
use crate::report::{self, Format, FORMATS};
use crate::results::{FailOn, Results};
use crate::verify::{self, CaptureOptions, RunOptions};

/// What went wrong before or outside verification.
pub enum AppError {
    /// the user's input is wrong: exit 2
    Input(Diags),
    /// something failed at run time (an output file could not be written): exit 3
    Runtime(String),
}

impl From<Diags> for AppError {
    fn from(d: Diags) -> AppError {
        AppError::Input(d)
    }
}

impl From<Diag> for AppError {
    fn from(d: Diag) -> AppError {
        AppError::Input(d.into())
    }
}

struct Output {
    format: Format,
    path: Option<PathBuf>,
}

/// The run, validated: everything below is known good.
pub struct Run {
    resolved: Vec<Resolved>,
    outputs: Vec<Output>,
    options: RunOptions,
    fail_on: FailOn,
    plan_only: bool,
    /// --push: where to, and where the outbox is
    push: Option<PushPlan>,
    /// where failing rows go
    store: diagnostics::Store,
}

struct PushPlan {
    cloud: CloudConfig,
    project_dir: PathBuf,
    config_file: String,
}

pub fn verify(args: &VerifyArgs) -> Result<Exit, AppError> {
    let run = prepare(args)?;
    if run.plan_only {
        print!("{}", crate::secrets::mask(&plan_text(&run.resolved)));
        return Ok(Exit::Ok);
    }
    let runtime = runtime()?;
    let control = RunControl::new();
    let store = run.options.capture.is_some().then_some(&run.store);
    let mut results = runtime.block_on(verify::run(run.resolved, &run.options, control, store));
    // everything from here on shows or sends the results: no secret may be in them (run
    // masked each dataset already; this is the document as a whole, once more)
    results.mask_secrets();
    let mut stdout = std::io::stdout().lock();
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for out in &run.outputs {
        match &out.path {
            None => {
                let text =
                    report::render(out.format, &results, color && out.format == Format::Table);
                let _ = stdout.write_all(text.as_bytes());
            }
            Some(path) => {
                let text = report::render(out.format, &results, false);
                write_file(path, &text).map_err(AppError::Runtime)?;
            }
        }
    }
    let _ = stdout.flush();
    let code = results.exit_code(run.fail_on);
    let Some(push) = &run.push else {
        runtime.shutdown_timeout(Duration::from_secs(2));
        return Ok(code);
    };
    let delivered = runtime.block_on(push_results(&results, push, args.quiet));
    runtime.shutdown_timeout(Duration::from_secs(2));
    // exit codes: 2, 3, 1, 4 in that order of precedence
    Ok(code.with_push(delivered))
}

/// `--push`: deliver to every configured target; what fails waits in the outbox.
///
/// The entry is written before the first attempt and removed once every target has the
/// results, so a run killed during a slow push (even with SIGKILL) leaves it for `assay
/// push`. Ctrl-C or SIGTERM during the push stop the retries and keep the entry.
async fn push_results(results: &Results, plan: &PushPlan, quiet: bool) -> bool {
    let targets = push::targets(&plan.cloud);
    let outbox = outbox::Outbox::in_project(&plan.project_dir);
    let queued_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let entry = |pending: Vec<push::Target>, last_error: String, attempts: u32| outbox::Entry {
        results: results.clone(),
        outbox: outbox::Waiting {
            pending,
            last_error,
            attempts,
            queued_at: queued_at.clone(),
        },
    };
    let kept = outbox.put(&entry(
        targets.clone(),
        "not delivered yet: assay stopped during the push".into(),
        0,
    ));
    if let Err(e) = &kept {
        tracing::warn!("{e}; pushing without a copy in the outbox");
    }
    let delivery = push::deliver(results, &plan.cloud, &plan.config_file, &targets, |how| {
        if !quiet {
            eprintln!("pushed results {} to {how}", results.scan_id);
        }
    });
    let left = tokio::select! {
        left = delivery => left,
        signal = stop_signal() => {
            match &kept {
                Ok(path) => eprintln!(
                    "error: {signal} during the push of results {}: they wait in {}; `assay push` delivers them later",
                    results.scan_id,
                    path.display()
                ),
                Err(_) => eprintln!(
                    "error: {signal} during the push of results {}, which could not be kept",
                    results.scan_id
                ),
            }
            return false;
        }
    };
    if left.pending.is_empty() {
        if let Ok(path) = &kept {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(
                    "results delivered, but the outbox entry '{}' could not be removed: {e}",
                    path.display()
                );
            }
        }
        return true;
    }
    let waiting = entry(left.pending, left.last_error, left.attempts);
    match outbox.put(&waiting) {
        Ok(path) => eprintln!(
            "error: results {} were not pushed: {}
  they wait in {}; `assay push` delivers them later",
            results.scan_id,
            waiting.outbox.last_error,
            path.display()
        ),
        Err(e) => eprintln!(
            "error: results {} were not pushed ({}) and could not be kept: {e}",
            results.scan_id, waiting.outbox.last_error
        ),
    }
    false
}

/// Ctrl-C or SIGTERM, whichever comes first; its name for messages.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "interrupted (Ctrl-C)",
                _ = term.recv() => "stopped (SIGTERM)",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "interrupted (Ctrl-C)"
}

/// `assay push [FILE...]`: upload result files, or drain the outbox. Exit 0 when
/// everything was delivered, 4 when something still waits.
pub fn push_command(args: &PushArgs) -> Result<Exit, AppError> {
    let config_path = config_path(args.config.as_ref())?;
    let vars = Vars {
        set: HashMap::new(),
        defaults: HashMap::new(),
        now: now_text(Utc::now()),
    };
    let config = config::load(config_path.as_deref(), &[], &vars)?;
    let Some(cloud) = config.cloud.clone() else {
        return Err(Diag::plain("nothing to push to: the config has no `cloud:` section")
            .with_help("cloud: {endpoint: https://dq.example.com, token: ${env.ASSAY_CLOUD_TOKEN}} in assay.yml")
            .into());
    };
    if let Some(diag) = cloud.unresolved.clone() {
        return Err(diag.into());
    }
    for f in &args.files {
        if !f.is_file() {
            return Err(
                Diag::plain(format!("result file '{}' does not exist", f.display())).into(),
            );
        }
    }
    let config_file = config.file_name();
    let outbox = outbox::Outbox::in_project(&config.project_dir);
    let runtime = runtime()?;
    let (delivered, waiting) = runtime.block_on(drain(
        &args.files,
        &outbox,
        &cloud,
        &config_file,
        args.quiet,
    ))?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    if !args.quiet {
        println!(
            "push: {delivered} delivered, {waiting} still waiting{}",
            if waiting > 0 {
                format!(" in {}", outbox.dir.display())
            } else {
                String::new()
            }
        );
    }
    Ok(if waiting == 0 {
        Exit::Ok
    } else {
        Exit::NotPushed
    })
}

/// Deliver the given files (or every outbox entry) under the outbox lock.
async fn drain(
    files: &[PathBuf],
    outbox: &outbox::Outbox,
    cloud: &CloudConfig,
    config_file: &str,
    quiet: bool,
) -> Result<(usize, usize), AppError> {
    // held to the end: a second `assay push` waits, then finds delivered entries gone
    let _lock = outbox.lock().map_err(AppError::Runtime)?;
    let from_outbox = files.is_empty();
    let paths = if from_outbox {
        outbox.list()
    } else {
        files.to_vec()
    };
    let (mut delivered, mut waiting) = (0, 0);
    for path in paths {
        if from_outbox && !path.exists() {
            continue;
        }
        let (results, waiting_for) = match outbox::read(&path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                waiting += 1;
                continue;
            }
        };
        let targets = match &waiting_for {
            Some(w) => w.pending.clone(),
            None => push::targets(cloud),
        };
        let left = push::deliver(&results, cloud, config_file, &targets, |how| {
            if !quiet {
                println!("delivered {} to {how}", results.scan_id);
            }
        })
        .await;
        let pending = left.pending;
        let attempts = waiting_for.as_ref().map_or(0, |w| w.attempts) + left.attempts;
        let in_outbox = waiting_for.is_some() && path.starts_with(&outbox.dir);
        if pending.is_empty() {
            delivered += 1;
            if in_outbox {
                // removed only now that every target has it
                std::fs::remove_file(&path).map_err(|e| {
                    AppError::Runtime(format!(
                        "delivered, but cannot remove '{}': {e}",
                        path.display()
                    ))
                })?;
            }
            continue;
        }
        waiting += 1;
        let last_error = left.last_error;
        println!("waiting {}: {last_error}", results.scan_id);
        if in_outbox {
            let entry = outbox::Entry {
                results,
                outbox: outbox::Waiting {
                    pending,
                    last_error,
                    attempts,
                    queued_at: waiting_for.map(|w| w.queued_at).unwrap_or_default(),
                },
            };
            outbox.put(&entry).map_err(AppError::Runtime)?;
        }
    }
    Ok((delivered, waiting))
}

/// `-c FILE`, which must exist, or ./assay.yml when there is one.
fn config_path(arg: Option<&PathBuf>) -> Result<Option<PathBuf>, AppError> {
    match arg {
        Some(p) if !p.is_file() => {
            Err(Diag::plain(format!("config file '{}' does not exist", p.display())).into())
        }
        Some(p) => Ok(Some(p.clone())),
        None => Ok(Some(PathBuf::from("assay.yml")).filter(|p| p.is_file())),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Runtime(format!("cannot start the runtime: {e}")))
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create folder '{}': {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write '{}': {e}", path.display()))
}

fn prepare(args: &VerifyArgs) -> Result<Run, AppError> {
    let mut diags = Diags::default();
    let set = parse_set(&args.set, &mut diags);
    let outputs = parse_outputs(&args.outputs, args.quiet, &mut diags);
    let now = match &args.now {
        None => Utc::now(),
        Some(text) => parse_timestamp(text).unwrap_or_else(|| {
            diags.push(
                Diag::plain(format!("--now '{text}' is not a timestamp"))
                    .with_help("use RFC 3339, like 2025-06-01T12:00:00Z"),
            );
            Utc::now()
        }),
    };
    let timeout = args
        .timeout
        .as_ref()
        .and_then(|t| match humantime::parse_duration(t) {
            Ok(d) if !d.is_zero() => Some(d),
            _ => {
                diags.push(
                    Diag::plain(format!("--timeout '{t}' is not a duration"))
                        .with_help("write it like 30s, 5m or 1h30m"),
                );
                None
            }
        });
    if args.jobs == 0 {
        diags.push(Diag::plain("--jobs must be at least 1"));
    }
    if !diags.is_empty() {
        return Err(diags.into());
    }

    // -d takes files to add and names to select; a value that is an existing file is a file
    let (files, names): (Vec<&String>, Vec<&String>) = args
        .data_sources
        .iter()
        .partition(|d| Path::new(d.as_str()).is_file());
    let files: Vec<PathBuf> = files.into_iter().map(PathBuf::from).collect();
    let config_path = config_path(args.config.as_ref())?;
    let config_vars = Vars {
        set: set.clone(),
        defaults: HashMap::new(),
        now: now_text(now),
    };
    let config = config::load(config_path.as_deref(), &files, &config_vars)?;
    for name in &names {
        if config.data_source(name).is_none() {
            let help = config.unknown_name_help(name);
            diags.push(
                Diag::plain(format!(
                    "-d {name}: no such data source file or data source name"
                ))
                .with_help(help),
            );
        }
    }

    let push = match (&config.cloud, args.push) {
        (Some(cloud), true) if cloud.unresolved.is_some() => {
            diags.items.extend(cloud.unresolved.clone());
            None
        }
        (Some(cloud), true) => Some(PushPlan {
            cloud: cloud.clone(),
            project_dir: config.project_dir.clone(),
            config_file: config.file_name(),
        }),
        (None, true) => {
            diags.push(
                Diag::plain("--push: the config has no `cloud:` section")
                    .with_help("cloud: {endpoint: https://dq.example.com, token: ${env.ASSAY_CLOUD_TOKEN}} in assay.yml"),
            );
            None
        }
        (_, false) => None,
    };

    let contract_files = find_contracts(&args.paths, &mut diags);
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let mut resolved = Vec::new();
    for path in contract_files {
        match contract::load(&path, &set, &now_text(now)) {
            Ok(c) => {
                if let Some(r) = resolve(c, &config, &names, &mut diags) {
                    resolved.push(r);
                }
            }
            Err(d) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        return Err(diags.into());
    }
    if resolved.is_empty() && !names.is_empty() {
        let list: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        return Err(Diag::plain(format!(
            "no contract targets the data source(s) {}",
            list.join(", ")
        ))
        .into());
    }
    Ok(Run {
        resolved,
        outputs,
        options: RunOptions {
            jobs: args.jobs,
            timeout,
            now,
            capture: (!args.no_failed_rows).then(|| CaptureOptions {
                max_rows: config.diagnostics.max_rows_per_check,
                max_value_bytes: config.diagnostics.max_value_bytes as usize,
                max_bytes: config.diagnostics.max_bytes_per_check as usize,
                exclude: config.diagnostics.exclude_columns.clone(),
            }),
        },
        store: diagnostics::Store::from_config(&config),
        fail_on: match args.fail_on {
            FailOnArg::Fail => FailOn::Fail,
            FailOnArg::Warn => FailOn::Warn,
        },
        plan_only: args.plan,
        push,
    })
}

fn now_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Find the contract's data source and check it against it. None when it was filtered
/// out by `-d NAME` or has errors (pushed to `diags`).
fn resolve(
    c: Contract,
    config: &Config,
    selected: &[&String],
    diags: &mut Diags,
) -> Option<Resolved> {
    let name = &c.dataset.data_source;
    if !selected.is_empty() && !selected.contains(&name) {
        return None;
    }
    let Some(ds) = config.data_source(name) else {
        let help = config.unknown_name_help(name);
        diags.push(
            Diag::at(
                &c.source,
                c.dataset.span,
                format!("unknown data source '{name}'"),
                "data source name",
            )
            .with_help(help),
        );
        return None;
    };
    match plan::resolve(Arc::new(c), ds) {
        Ok(r) => Some(r),
        Err(d) => {
            diags.extend(d);
            None
        }
    }
}

fn parse_set(pairs: &[String], diags: &mut Diags) -> HashMap<String, String> {
    let mut set = HashMap::new();
    for pair in pairs {
        match pair.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                set.insert(name.trim().to_string(), value.to_string());
            }
            _ => diags.push(
                Diag::plain(format!("--set '{pair}' is not NAME=VALUE"))
                    .with_help("for example --set START=2025-01-01"),
            ),
        }
    }
    set
}

fn parse_outputs(specs: &[String], quiet: bool, diags: &mut Diags) -> Vec<Output> {
    let mut outputs = Vec::new();
    for spec in specs {
        let (name, path) = match spec.split_once('=') {
            Some((n, p)) if !p.is_empty() => (n, Some(PathBuf::from(p))),
            Some((n, _)) => {
                diags.push(Diag::plain(format!(
                    "-o {spec}: the path after '=' is empty"
                )));
                (n, None)
            }
            None => (spec.as_str(), None),
        };
        match Format::parse(name) {
            Some(format) => outputs.push(Output { format, path }),
            None => {
                let help = unknown_word_help(name, FORMATS, "formats:");
                diags.push(
                    Diag::plain(format!("-o {spec}: unknown output format '{name}'"))
                        .with_help(help),
                );
            }
        }
    }
    // the table on stdout unless another report already goes there, or --quiet
    if !quiet && !outputs.iter().any(|o| o.path.is_none()) {
        outputs.insert(
            0,
            Output {
                format: Format::Table,
                path: None,
            },
        );
    }
    if quiet {
        outputs.retain(|o| o.path.is_some());
    }
    outputs
}

/// Contract files from the arguments: files as given, folders searched for *.yml/*.yaml.
fn find_contracts(paths: &[PathBuf], diags: &mut Diags) -> Vec<PathBuf> {
    let defaulted = paths.is_empty();
    let roots: Vec<PathBuf> = if defaulted {
        vec![PathBuf::from("contracts")]
    } else {
        paths.to_vec()
    };
    let mut found = Vec::new();
    for root in &roots {
        if root.is_file() {
            found.push(root.clone());
        } else if root.is_dir() {
            let before = found.len();
            collect_yaml(root, &mut found);
            if found.len() == before {
                diags.push(
                    Diag::plain(format!(
                        "no contracts (*.yml, *.yaml) found in '{}'",
                        root.display()
                    ))
                    .with_help("pass contract files or a folder that holds them"),
                );
            }
        } else {
            let help = if defaulted {
                "pass contract files or folders, or create contracts/"
            } else {
                "check the path"
            };
            diags.push(Diag::plain(format!("'{}' does not exist", root.display())).with_help(help));
        }
    }
    found
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect_yaml(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
}

/// `--plan`: the SQL per dataset, in the order it would run.
pub fn plan_text(resolved: &[Resolved]) -> String {
    let mut out = String::new();
    for r in resolved {
        let plan = plan::plan(r, None);
        out.push_str(&format!(
            "-- dataset {} (data source '{}', {}), contract {}\n",
            r.contract.dataset.text,
            r.data_source.name,
            r.data_source.type_name(),
            r.contract.source.name
        ));
        for (view, file) in &r.files {
            out.push_str(&format!(
                "-- view {} reads {}\n",
                r.dialect().quote_ident(view),
                crate::exec::duckdb::reader_sql(file)
            ));
        }
        out.push_str("-- columns (from the catalog)\n");
        out.push_str(&r.dialect().columns_query(&r.table));
        out.push_str(";\n");
        for q in &plan.queries {
            out.push_str(&format!("-- {}\n{};\n", q.label, q.sql));
        }
        out.push('\n');
    }
    out
}
