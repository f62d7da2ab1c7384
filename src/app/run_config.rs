//! Arguments, config and contracts -> one validated run configuration: everything in a
//! `Run` is known good before anything connects.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::{config_path, now_text, AppError};
use crate::cli::{FailOnArg, VerifyArgs};
use crate::config::{self, CloudConfig, Config};
use crate::contract::{self, Contract};
use crate::diag::{unknown_word_help, Diag, Diags};
use crate::failing_rows;
use crate::interp::Vars;
use crate::odcs;
use crate::plan::{self, Resolved};
use crate::report::{OutputFormat, FORMATS};
use crate::results::FailOn;
use crate::timestamp::parse_timestamp;
use crate::verify::{CaptureOptions, RunOptions};

pub(super) struct Output {
    pub(super) format: OutputFormat,
    pub(super) path: Option<PathBuf>,
}

/// The run, validated: everything below is known good.
pub(super) struct Run {
    pub(super) resolved: Vec<Resolved>,
    pub(super) outputs: Vec<Output>,
    pub(super) options: RunOptions,
    pub(super) fail_on: FailOn,
    pub(super) plan_only: bool,
    /// --push: where to, and where the outbox is
    pub(super) push: Option<PushPlan>,
    /// where failing rows go
    pub(super) store: failing_rows::FailedRowsStore,
    /// the history store, for the page of `-o html=PATH` (only then: a verify without it
    /// opens no history)
    pub(super) history: Option<crate::scan::history::HistoryStore>,
    /// verify --channel: the result set received, kept until the run is over
    pub(super) _received: Option<super::stream::Received>,
    /// --baseline: the earlier results each check is compared with
    pub(super) baseline: Option<crate::results::Results>,
}

pub(super) struct PushPlan {
    pub(super) cloud: CloudConfig,
    pub(super) project_dir: PathBuf,
    pub(super) config_file: String,
}

pub(super) fn prepare(args: &VerifyArgs) -> Result<Run, AppError> {
    let mut diags = Diags::default();
    let set = parse_set(&args.set, &mut diags);
    let outputs = parse_outputs(&args.outputs, args.common.quiet, &mut diags);
    let (now, timeout) = parse_times(args.now.as_ref(), args.timeout.as_ref(), &mut diags);
    if args.jobs == 0 {
        diags.push(Diag::plain("--jobs must be at least 1"));
    }
    let baseline = match &args.baseline {
        Some(path) => crate::baseline::load(path).map_err(|d| diags.push(d)).ok(),
        None => None,
    };
    if args.fail_on == FailOnArg::New && args.baseline.is_none() {
        diags.push(
            Diag::plain("--fail-on new needs --baseline: new failures are failures the baseline did not have")
                .with_help("for example --baseline main-results.json, written by `assay verify -o json=main-results.json` on the main branch"),
        );
    }
    if !diags.is_empty() {
        return Err(diags.into());
    }

    // -d takes files to add and names to select; a value that is an existing file is a file
    let (files, names) = data_source_args(&args.data_sources);
    let config_path = config_path(args.common.config.as_ref())?;
    let config_vars = Vars {
        set: set.clone(),
        defaults: HashMap::new(),
        now: now_text(now),
        untrusted: false,
    };
    let mut config = config::load(config_path.as_deref(), &files, &config_vars)?;
    check_named_sources(&config, &names, &mut diags);
    let push = push_plan(&config, args.push, &mut diags);
    check_failed_rows_channel(&config, args.no_failed_rows, &mut diags);
    let contract_files = find_contracts(&args.paths, &mut diags);
    warn_unused_set(&set, &contract_files);
    check_channel_args(args, contract_files.len(), &mut diags);
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let (received, timeout) = match &args.channel {
        Some(name) => {
            let (received, timeout) = receive_channel(
                &mut config,
                args,
                name,
                &contract_files[0],
                &set,
                now,
                timeout,
            )?;
            (Some(received), timeout)
        }
        None => (None, timeout),
    };
    let resolved = load_contracts(
        &contract_files,
        &config,
        &names,
        args.server.as_deref(),
        &set,
        now,
    )?;
    let page = outputs
        .iter()
        .any(|o| o.format == OutputFormat::Html && o.path.is_some());
    Ok(Run {
        resolved,
        outputs,
        options: RunOptions {
            jobs: args.jobs,
            timeout,
            now,
            capture: capture_options(&config, args.no_failed_rows),
        },
        store: failing_rows::FailedRowsStore::from_config(&config)
            .in_environment(&args.environment),
        history: page.then(|| crate::scan::history::HistoryStore::from_config(&config)),
        _received: received,
        baseline,
        fail_on: match args.fail_on {
            FailOnArg::Fail => FailOn::Fail,
            FailOnArg::Warn => FailOn::Warn,
            FailOnArg::New => FailOn::New,
        },
        plan_only: args.plan,
        push,
    })
}

/// `-d` takes files to add and names to select: a value that is an existing file is a
/// file.
pub(super) fn data_source_args(values: &[String]) -> (Vec<PathBuf>, Vec<&String>) {
    let (files, names): (Vec<&String>, Vec<&String>) =
        values.iter().partition(|d| Path::new(d.as_str()).is_file());
    (files.into_iter().map(PathBuf::from).collect(), names)
}

/// `--channel` verifies one contract, and connects (so never with `--plan`).
fn check_channel_args(args: &VerifyArgs, contracts: usize, diags: &mut Diags) {
    if args.channel.is_some() && contracts != 1 && diags.is_empty() {
        diags.push(
            Diag::plain(format!(
                "--channel verifies one contract, and {} were given",
                contracts
            ))
            .with_help("assay verify contracts/orders.yml --channel orders"),
        );
    }
    if args.channel.is_some() && args.plan {
        diags.push(Diag::plain(
            "--plan connects to nothing, and --channel has to",
        ));
    }
}

/// Each name `-d` selects must be a data source of the config.
pub(super) fn check_named_sources(config: &Config, names: &[&String], diags: &mut Diags) {
    for name in names {
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
}

/// Failed rows sent to a sink channel need its credentials, with a password that can be
/// read (unless --no-failed-rows).
fn check_failed_rows_channel(config: &Config, no_failed_rows: bool, diags: &mut Diags) {
    if let Some(name) = &config.diagnostics.channel {
        if let Some(Err(e)) = config
            .channels
            .get(name)
            .filter(|_| !no_failed_rows)
            .map(|who| who.password())
        {
            diags.push(Diag::plain(e.to_string()).with_help(
                "export the variable, or pass --no-failed-rows to verify without the sink",
            ));
        }
        if !config.channels.contains_key(name) && !no_failed_rows {
            diags.push(
                Diag::plain(format!(
                    "failed rows go to channel '{name}', and assay.yml has no credentials for it"
                ))
                .with_help(format!(
                    "channels:\n  {name}: {{user: pipeline, password: \"${{env.CHANNEL_PASSWORD}}\"}}"
                )),
            );
        }
    }
}

/// verify --channel: the result set received (the contract is read twice: here for its
/// dataset and columns, and later as always), and what is left of --timeout, which bounds
/// the whole run: the wait for the set, then the verification.
fn receive_channel(
    config: &mut Config,
    args: &VerifyArgs,
    name: &str,
    contract_file: &Path,
    set: &HashMap<String, String>,
    now: DateTime<Utc>,
    timeout: Option<std::time::Duration>,
) -> Result<(super::stream::Received, Option<std::time::Duration>), AppError> {
    let target = odcs::Placement {
        config,
        names: &[],
        server: args.server.as_deref(),
    };
    let mut contracts = read_contract_file(contract_file, &target, set, now)?;
    if contracts.len() != 1 {
        return Err(Diag::plain(format!(
            "--channel verifies one dataset, and '{}' holds {}",
            contract_file.display(),
            contracts.len()
        ))
        .with_help("write the channel's dataset as its own contract")
        .into());
    }
    let contract = contracts.remove(0);
    let waited = std::time::Instant::now();
    let received = super::stream::substitute(config, &contract, name, &args.environment, timeout)?;
    let timeout = timeout.map(|t| {
        t.saturating_sub(waited.elapsed())
            .max(std::time::Duration::from_millis(1))
    });
    Ok((received, timeout))
}

/// Failed rows capture as the config sets it; None with --no-failed-rows.
pub(super) fn capture_options(config: &Config, no_failed_rows: bool) -> Option<CaptureOptions> {
    (!no_failed_rows).then(|| CaptureOptions {
        max_rows: config.diagnostics.max_rows_per_check,
        max_value_bytes: config.diagnostics.max_value_bytes as usize,
        max_bytes: config.diagnostics.max_bytes_per_check as usize,
        exclude: config.diagnostics.exclude_columns.clone(),
    })
}

/// `--now` (default: the wall clock) and `--timeout`.
pub(super) fn parse_times(
    now: Option<&String>,
    timeout: Option<&String>,
    diags: &mut Diags,
) -> (DateTime<Utc>, Option<Duration>) {
    let now = match now {
        None => Utc::now(),
        Some(text) => parse_timestamp(text).unwrap_or_else(|| {
            diags.push(
                Diag::plain(format!("--now '{text}' is not a timestamp"))
                    .with_help("use RFC 3339, like 2025-06-01T12:00:00Z"),
            );
            Utc::now()
        }),
    };
    let timeout = timeout.and_then(|t| match humantime::parse_duration(t) {
        Ok(d) if !d.is_zero() => Some(d),
        _ => {
            diags.push(
                Diag::plain(format!("--timeout '{t}' is not a duration"))
                    .with_help("write it like 30s, 5m or 1h30m"),
            );
            None
        }
    });
    (now, timeout)
}

/// `--push`: where to, when the config can say.
pub(super) fn push_plan(config: &Config, push: bool, diags: &mut Diags) -> Option<PushPlan> {
    match (&config.cloud, push) {
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
    }
}

/// Every contract read and resolved against its data source, or every error at once.
pub(super) fn load_contracts(
    files: &[PathBuf],
    config: &Config,
    names: &[&String],
    server: Option<&str>,
    set: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Vec<Resolved>, AppError> {
    let mut diags = Diags::default();
    let mut resolved = Vec::new();
    let target = odcs::Placement {
        config,
        names,
        server,
    };
    for path in files {
        match read_contract_file(path, &target, set, now) {
            Ok(contracts) => {
                for c in contracts {
                    for w in &c.warnings {
                        tracing::warn!(
                            "{w}{}",
                            w.help.as_ref().map_or(String::new(), |h| format!(" ({h})"))
                        );
                    }
                    if let Some(r) = resolve(c, config, names, &mut diags) {
                        resolved.push(r);
                    }
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
    Ok(resolved)
}

/// A contract file's contracts: a Soda contract is one, an ODCS document (`kind:
/// DataContract`, `apiVersion: v3.x`) one per schema object.
pub(super) fn read_contract_file(
    path: &Path,
    target: &odcs::Placement,
    set: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Vec<Contract>, Diags> {
    let source = contract::read_source(path)?;
    let root = crate::yaml::parse(&source)?;
    if odcs::is_odcs(&root) {
        odcs::parse(&source, &root, target, set, &now_text(now))
    } else {
        contract::parse_root(source, &root, set, &now_text(now)).map(|c| vec![c])
    }
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
    // each reconciliation source's data source, any engine of assay.yml
    let mut sources = Vec::new();
    for source in &c.sources {
        let name = &source.dataset.data_source;
        match config.data_source(name) {
            Some(ds) => sources.push(ds.clone()),
            None => diags.push(
                Diag::at(
                    &c.source,
                    source.dataset.span,
                    format!("unknown data source '{name}' in the reconciliation's source"),
                    "data source name",
                )
                .with_help(config.unknown_name_help(name)),
            ),
        }
    }
    if sources.len() < c.sources.len() {
        return None;
    }
    match plan::resolve(Arc::new(c), ds, &sources) {
        Ok(r) => Some(r),
        Err(d) => {
            diags.extend(d);
            None
        }
    }
}

/// A `--set` variable no contract of the run uses is most likely a typo: it would be
/// ignored in silence. Warn, with the closest name the contracts do use.
pub(super) fn warn_unused_set(set: &HashMap<String, String>, contract_files: &[PathBuf]) {
    if set.is_empty() {
        return;
    }
    let placeholder =
        regex::Regex::new(r"\$\{\s*var\.([A-Za-z0-9_]+)\s*\}").expect("a valid pattern");
    let named =
        regex::Regex::new(r#"now_variable:\s*["']?([A-Za-z0-9_]+)"#).expect("a valid pattern");
    let mut used = std::collections::BTreeSet::new();
    for file in contract_files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for re in [&placeholder, &named] {
            used.extend(re.captures_iter(&text).map(|c| c[1].to_string()));
        }
    }
    let mut unused: Vec<&String> = set.keys().filter(|k| !used.contains(*k)).collect();
    unused.sort();
    for name in unused {
        let hint = crate::diag::did_you_mean(name, used.iter().map(String::as_str))
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        tracing::warn!("--set {name}: no contract of this run uses ${{var.{name}}}{hint}");
    }
}

pub(super) fn parse_set(pairs: &[String], diags: &mut Diags) -> HashMap<String, String> {
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

pub(super) fn parse_outputs(specs: &[String], quiet: bool, diags: &mut Diags) -> Vec<Output> {
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
        match OutputFormat::parse(name) {
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
    // the table on stdout unless another report already goes there, or --quiet; a
    // report asked for on stdout (-q -o json) is printed all the same: -q quiets what
    // was not asked for
    if !quiet && !outputs.iter().any(|o| o.path.is_none()) {
        outputs.insert(
            0,
            Output {
                format: OutputFormat::Table,
                path: None,
            },
        );
    }
    outputs
}

/// Contract files from the arguments: files as given, folders searched for *.yml/*.yaml.
pub(super) fn find_contracts(paths: &[PathBuf], diags: &mut Diags) -> Vec<PathBuf> {
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
