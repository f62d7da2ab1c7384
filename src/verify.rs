//! Running resolved contracts: open each data source once, verify datasets concurrently
//! (bounded by `--jobs`), turn measured values into outcomes.
//!
//! A failure stays as small as it can: a query that fails marks only the checks that
//! depend on it `not_evaluated`, and a failing shared aggregate query is retried per
//! check so one bad expression does not take its neighbours down with it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::Semaphore;
use tracing::{debug, info};

use crate::capture;
use crate::checks::{Capture, NeedCtx};
use crate::contract::Check;
use crate::error::RunError;
use crate::evaluate::{self, not_evaluated, Measured, SideValues, SourceCatalog};
use crate::exec::{
    ColumnInfo, ExecError, Executor, Limits, Rows, RunControl, Session, TableColumns, Value,
};
use crate::failing_rows::{self, FailedRowsStore};
use crate::plan::{self, CheckPlan, Resolved};
use crate::results::{
    CapturedRows, CheckResult, DatasetResult, Outcome, Results, Summary, Tool, SCHEMA_VERSION,
};
use crate::sql::dialect::Dialect;

pub struct RunOptions {
    pub jobs: usize,
    pub timeout: Option<Duration>,
    pub now: DateTime<Utc>,
    /// failed rows capture; None with --no-failed-rows
    pub capture: Option<CaptureOptions>,
}

#[derive(Debug, Clone)]
pub struct CaptureOptions {
    pub max_rows: u64,
    /// longer text values are cut, with a marker
    pub max_value_bytes: usize,
    /// no more rows are read once a check's kept values hold this many bytes
    pub max_bytes: usize,
    /// columns kept out of the store in every dataset
    pub exclude: Vec<String>,
}

/// Ctrl-C and `--timeout` stop a run the same way: cancel, interrupt running queries.
/// Stopped when dropped. A run whose deadline is set already (a scan's, which started
/// before discovery) keeps it: `--timeout` bounds the whole command.
pub struct Watchers(Vec<tokio::task::JoinHandle<()>>);

impl Watchers {
    pub fn start(control: &Arc<RunControl>, timeout: Option<Duration>) -> Watchers {
        let mut watchers = Vec::new();
        {
            let control = control.clone();
            watchers.push(tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    control.cancel("interrupted (Ctrl-C)");
                }
            }));
        }
        if let Some(t) = timeout.filter(|_| control.remaining().is_none()) {
            let reason = format!(
                "the run exceeded --timeout {}",
                humantime::format_duration(t)
            );
            control.set_deadline(Instant::now() + t, &reason);
            let control = control.clone();
            watchers.push(tokio::spawn(async move {
                tokio::time::sleep(t).await;
                control.cancel(&reason);
            }));
        }
        Watchers(watchers)
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for w in &self.0 {
            w.abort();
        }
    }
}

/// Verify every resolved contract and assemble the results document. Each dataset's
/// failing rows go to `store` as soon as its verification ends.
pub async fn run(
    resolved: Vec<Resolved>,
    opts: &RunOptions,
    control: Arc<RunControl>,
    store: Option<&FailedRowsStore>,
) -> Results {
    let started = Utc::now();
    let scan_id = uuid::Uuid::new_v4().to_string();
    control.set_label(&format!("assay-{scan_id}"));
    let watchers = Watchers::start(&control, opts.timeout);
    let executors = open_executors(&resolved, &control, opts.jobs).await;
    let catalogs = read_catalogs(&resolved, &executors, &control).await;
    let semaphore = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let mut tasks = Vec::with_capacity(resolved.len());
    for r in resolved {
        let executor = executors.get(&r.data_source.name).cloned();
        let columns = catalogs
            .get(&(r.data_source.name.clone(), r.table.parts.clone()))
            .cloned();
        let sources: Vec<SourceInput> = r
            .sources
            .iter()
            .map(|s| SourceInput {
                executor: executors.get(&s.data_source.name).cloned(),
                columns: catalogs
                    .get(&(s.data_source.name.clone(), s.table.parts.clone()))
                    .cloned(),
            })
            .collect();
        let semaphore = semaphore.clone();
        let control = control.clone();
        let now = opts.now;
        let capture = opts.capture.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let started = Instant::now();
            let mut result = match executor {
                Some(Ok(exec)) => {
                    let ctx = DatasetRun {
                        now,
                        capture: capture.as_ref(),
                        control: &control,
                    };
                    verify_dataset(exec.as_ref(), &r, columns, sources, &ctx).await
                }
                Some(Err(e)) => dataset_error(&r, e.to_string()),
                None => dataset_error(&r, "data source was not opened".into()),
            };
            result.duration_ms = started.elapsed().as_millis() as u64;
            result
        }));
    }

    let mut datasets = Vec::with_capacity(tasks.len());
    for task in tasks {
        let mut dataset = match task.await {
            Ok(r) => r,
            Err(e) => panic!("a dataset task panicked: {e}"),
        };
        // nothing that leaves the program, the store included, holds a secret
        dataset.mask_secrets();
        if let Some(store) = store {
            failing_rows::store_captured(store, &scan_id, &mut dataset).await;
        }
        dataset.captured.clear();
        datasets.push(dataset);
    }
    drop(watchers);

    let mut results = Results {
        schema_version: SCHEMA_VERSION.into(),
        scan_id,
        tool: Tool {
            name: "assay".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        started_at: started.to_rfc3339_opts(SecondsFormat::Millis, true),
        ended_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        now: opts.now.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        outcome: Outcome::Pass,
        summary: Summary::default(),
        datasets,
        scan: None,
        baseline: None,
    };
    results.summarize();
    results
}

type SharedExecutor = Result<Arc<dyn Executor>, ExecError>;

/// One executor per data source used, opened on the blocking pool (DuckDB opens files).
async fn open_executors(
    resolved: &[Resolved],
    control: &RunControl,
    jobs: usize,
) -> HashMap<String, SharedExecutor> {
    let mut by_source: HashMap<
        String,
        (
            crate::engine::DataSourceConfig,
            Vec<(String, std::path::PathBuf)>,
        ),
    > = HashMap::new();
    let mut datasets: HashMap<&str, usize> = HashMap::new();
    let every = resolved.iter().map(|r| (&r.data_source, &r.files)).chain(
        resolved
            .iter()
            .flat_map(|r| r.sources.iter().map(|s| (&s.data_source, &s.files))),
    );
    for (ds, files) in every {
        *datasets.entry(ds.name.as_str()).or_default() += 1;
        let entry = by_source
            .entry(ds.name.clone())
            .or_insert_with(|| (ds.clone(), Vec::new()));
        for f in files {
            if !entry.1.contains(f) {
                entry.1.push(f.clone());
            }
        }
    }
    let mut out = HashMap::new();
    for (name, (ds, files)) in by_source {
        if let Err(e) = control.check() {
            out.insert(name, Err(e));
            continue;
        }
        // a small pool: no more connections than datasets that can run at once
        let connections = jobs.min(datasets.get(name.as_str()).copied().unwrap_or(1));
        let opened: SharedExecutor = ds.engine.open(&ds, connections, files).await;
        if let Err(e) = &opened {
            info!("{e}");
        }
        out.insert(name, opened);
    }
    out
}

/// A table's columns, by data source and the table's name parts.
type Catalogs = HashMap<(String, Vec<String>), TableColumns>;

/// Every dataset's columns, read before any dataset runs: one catalog statement per data
/// source (`Session::columns_of`), in a session of its own. A data source whose session
/// cannot open leaves its datasets to read their columns in their own sessions (and to
/// report why they could not).
async fn read_catalogs(
    resolved: &[Resolved],
    executors: &HashMap<String, SharedExecutor>,
    control: &RunControl,
) -> Catalogs {
    let reads = plan::tables_by_source(resolved)
        .into_iter()
        .filter_map(|(ds, tables)| {
            let name = ds.name.as_str();
            let Some(Ok(exec)) = executors.get(name) else {
                return None;
            };
            Some(async move {
                let mut session = exec.session(control).await.ok()?;
                let started = Instant::now();
                let columns = session.columns_of(&tables).await;
                session.finish().await;
                debug!(
                "columns of {} dataset(s) in data source '{name}' ({:.1} ms)\n{}",
                tables.len(),
                started.elapsed().as_secs_f64() * 1000.0,
                exec.dialect()
                    .columns_query(&tables)
                    .unwrap_or_else(|| "(each table's schema, from the engine's client)".into())
            );
                Some(
                    tables
                        .into_iter()
                        .zip(columns)
                        .map(|(t, c)| ((name.to_string(), t.parts), c))
                        .collect::<Vec<_>>(),
                )
            })
        });
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .flatten()
        .collect()
}

fn dataset_error(r: &Resolved, error: String) -> DatasetResult {
    let checks = r
        .contract
        .checks
        .iter()
        .map(|c| not_evaluated(c, error.clone()))
        .collect();
    DatasetResult {
        data_source: r.data_source.name.clone(),
        dataset: r.contract.dataset.text.clone(),
        contract: r.contract.source.name.clone(),
        dataset_rows_tested: None,
        outcome: Outcome::NotEvaluated,
        duration_ms: 0,
        error: Some(error),
        checks,
        captured: Vec::new(),
    }
}

/// Run one statement with `-vv` logging of its SQL and duration.
async fn timed(
    session: &mut dyn Session,
    control: &RunControl,
    label: &str,
    sql: &str,
    user_sql: bool,
) -> Result<Option<Vec<Value>>, RunError> {
    // two rows asked for, to tell "one row" from "more": every planned query returns one
    // (aggregates), and a metric query returning more is wrong, not a first value to take
    let limits = Limits::rows(2);
    let run = match user_sql {
        true => session.rows(sql, limits),
        false => session.rows_without_user_sql(sql, limits),
    };
    let rows = logged(control, label, sql, run, |_| String::new()).await?;
    if rows.rows.len() > 1 {
        return Err(RunError::Query {
            label: label.to_string(),
            message: "the query returned more than one row; it must return one row with one number"
                .into(),
        });
    }
    Ok(rows.rows.into_iter().next())
}

/// Run a statement's future unless the run is cancelled, logging at `-vv` its SQL, its
/// duration and what `summary` says of the result (a row count, never values).
async fn logged<T>(
    control: &RunControl,
    label: &str,
    sql: &str,
    run: impl std::future::Future<Output = Result<T, ExecError>>,
    summary: impl Fn(&T) -> String,
) -> Result<T, RunError> {
    control
        .check()
        .map_err(|e| RunError::from_exec(e, label, None))?;
    let start = Instant::now();
    let result = run.await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    match &result {
        Ok(v) => debug!("{label}{} ({ms:.1} ms)\n{sql}", summary(v)),
        Err(e) => debug!("{label} failed after {ms:.1} ms: {e}\n{sql}"),
    }
    // an interrupted query says why the run was stopped, not just "interrupted"
    result.map_err(|e| {
        let reason = control.stop_reason(&e);
        RunError::from_exec(e, label, reason)
    })
}

/// What every dataset of a run shares.
struct DatasetRun<'a> {
    now: DateTime<Utc>,
    capture: Option<&'a CaptureOptions>,
    control: &'a RunControl,
}

/// A reconciliation source's executor and, when the run's catalog read found them, its
/// columns.
struct SourceInput {
    executor: Option<SharedExecutor>,
    columns: Option<TableColumns>,
}

/// A reconciliation source as a dataset runs it: its session and columns, or why it
/// could not be read.
type SourceSession = Result<(Box<dyn Session>, Vec<ColumnInfo>), SourceError>;

/// Why a reconciliation source cannot be compared; its checks are not evaluated.
#[derive(Debug, Clone, thiserror::Error)]
enum SourceError {
    #[error("source dataset {dataset} (data source '{data_source}'): {error}")]
    Open {
        dataset: String,
        data_source: String,
        error: ExecError,
    },
    #[error(
        "source dataset {dataset} (data source '{data_source}'): its data source was not opened"
    )]
    NotOpened {
        dataset: String,
        data_source: String,
    },
    #[error("source dataset {dataset} not found in data source '{data_source}'")]
    NotFound {
        dataset: String,
        data_source: String,
    },
    #[error("could not read the columns of source dataset {dataset} (data source '{data_source}'): {error}")]
    Columns {
        dataset: String,
        data_source: String,
        error: ExecError,
    },
}

/// Why a check's values on one side could not be read.
#[derive(Debug, Clone, thiserror::Error)]
enum SideError {
    #[error("the aggregate query returned no row")]
    NoRow,
    #[error(transparent)]
    Run(#[from] RunError),
}

/// `columns`: the dataset's columns when the run's catalog read found them (else its
/// session reads them).
async fn verify_dataset(
    exec: &dyn Executor,
    r: &Resolved,
    columns: Option<TableColumns>,
    sources: Vec<SourceInput>,
    run: &DatasetRun<'_>,
) -> DatasetResult {
    let mut session = match exec.session(run.control).await {
        Ok(s) => s,
        Err(e) => return dataset_error(r, e.to_string()),
    };
    let mut source_sessions = Vec::with_capacity(sources.len());
    for (source, input) in r.sources.iter().zip(sources) {
        source_sessions.push(open_source(source, input, run.control).await);
    }
    let result = verify_in_session(session.as_mut(), &mut source_sessions, r, columns, run).await;
    session.finish().await;
    for (s, _) in source_sessions.iter_mut().flatten() {
        s.finish().await;
    }
    result
}

/// A source's session with its columns read, or why the source cannot be compared.
async fn open_source(
    source: &plan::ResolvedSource,
    input: SourceInput,
    control: &RunControl,
) -> SourceSession {
    let (dataset, data_source) = (source.dataset.clone(), source.data_source.name.clone());
    let exec = match input.executor {
        Some(Ok(exec)) => exec,
        Some(Err(error)) => {
            return Err(SourceError::Open {
                dataset,
                data_source,
                error,
            })
        }
        None => {
            return Err(SourceError::NotOpened {
                dataset,
                data_source,
            })
        }
    };
    let mut session = match exec.session(control).await {
        Ok(s) => s,
        Err(error) => {
            return Err(SourceError::Open {
                dataset,
                data_source,
                error,
            })
        }
    };
    let read = match input.columns {
        Some(read) => read,
        None => session.columns(&source.table).await,
    };
    match read {
        Ok(Some(cols)) => Ok((session, cols)),
        Ok(None) => {
            session.finish().await;
            Err(SourceError::NotFound {
                dataset,
                data_source,
            })
        }
        Err(error) => {
            session.finish().await;
            Err(SourceError::Columns {
                dataset,
                data_source,
                error,
            })
        }
    }
}

/// " (did you mean 'shop/main/orders'?)" for a dataset the data source does not have,
/// from what it does have (looked up only then: a catalog listing can be long).
async fn closest_dataset(r: &Resolved, control: &RunControl) -> String {
    let ds = &r.data_source;
    let Ok(found) = ds.engine.discover(ds, control).await else {
        return String::new();
    };
    let names: Vec<String> = found
        .iter()
        .map(|d| format!("{}/{}", ds.name, d.path.join("/")))
        .collect();
    crate::diag::did_you_mean(&r.contract.dataset.text, names.iter().map(String::as_str))
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}

/// The dataset's columns, or the result that says why they could not be read.
async fn dataset_columns(
    session: &mut dyn Session,
    r: &Resolved,
    columns: Option<TableColumns>,
    control: &RunControl,
) -> Result<Vec<ColumnInfo>, DatasetResult> {
    let contract = &r.contract;
    let read = match columns {
        Some(read) => read,
        None => {
            let started = Instant::now();
            let read = session.columns(&r.table).await;
            debug!(
                "columns of {} ({:.1} ms)",
                contract.dataset.text,
                started.elapsed().as_secs_f64() * 1000.0
            );
            read
        }
    };
    match read {
        Ok(Some(cols)) => Ok(cols),
        Ok(None) => {
            let closest = closest_dataset(r, control).await;
            Err(dataset_error(
                r,
                format!(
                    "dataset {} not found in data source '{}'{closest}",
                    contract.dataset.text, r.data_source.name
                ),
            ))
        }
        Err(e) => Err(dataset_error(
            r,
            format!(
                "could not read the columns of {}: {e}",
                contract.dataset.text
            ),
        )),
    }
}

/// One side's planned queries, run in order in its session.
async fn run_queries(
    session: &mut dyn Session,
    control: &RunControl,
    dataset: &str,
    queries: &[plan::PlannedQuery],
) -> Vec<QueryRow> {
    let mut rows = Vec::with_capacity(queries.len());
    for q in queries {
        let label = format!("{dataset}: {}", q.label);
        rows.push(timed(&mut *session, control, &label, &q.sql, q.user_sql).await);
    }
    rows
}

type QueryRow = Result<Option<Vec<Value>>, RunError>;

async fn verify_in_session(
    session: &mut dyn Session,
    sources: &mut [SourceSession],
    r: &Resolved,
    columns: Option<TableColumns>,
    run: &DatasetRun<'_>,
) -> DatasetResult {
    let control = run.control;
    let contract = &r.contract;
    let columns = match dataset_columns(session, r, columns, control).await {
        Ok(c) => c,
        Err(result) => return result,
    };
    let source_columns: Vec<Option<&[ColumnInfo]>> = sources
        .iter()
        .map(|s| s.as_ref().ok().map(|(_, c)| c.as_slice()))
        .collect();
    let plan = plan::plan(r, Some(&columns), &source_columns);
    // the target's queries in its engine while each source's run in its own
    let target_rows = run_queries(
        &mut *session,
        control,
        &contract.dataset.text,
        &plan.queries,
    );
    let source_runs = sources.iter_mut().zip(&r.sources).zip(&plan.sources).map(
        |((s, source), queries)| async move {
            match s {
                Ok((session, _)) => {
                    run_queries(session.as_mut(), control, &source.dataset, queries).await
                }
                Err(_) => Vec::new(),
            }
        },
    );
    let (rows, source_rows) =
        futures_util::future::join(target_rows, futures_util::future::join_all(source_runs)).await;

    // I/O: each check's measured values (a failed shared query is split per check)
    let mut measured = Vec::with_capacity(contract.checks.len());
    for (check, check_plan) in contract.checks.iter().zip(&plan.checks) {
        let mut target = SideRun {
            session: &mut *session,
            dialect: r.dialect(),
            dataset: &contract.dataset.text,
            queries: &plan.queries,
            rows: &rows,
            columns: &columns,
        };
        let samples = run.capture.map_or(0, |c| c.max_rows as usize);
        let sides = SourceRuns {
            sources: &mut *sources,
            source_rows: &source_rows,
            samples,
        };
        measured
            .push(measure_check(&mut target, sides, r, &plan, check, check_plan, control).await);
    }
    let catalogs: Vec<SourceCatalog> = sources
        .iter()
        .zip(&r.sources)
        .map(|(s, source)| SourceCatalog {
            columns: s.as_ref().map(|(_, c)| c.as_slice()).unwrap_or(&[]),
            dialect: source.dialect(),
        })
        .collect();
    // no I/O: values -> outcomes
    let checks = evaluate::evaluate_dataset(
        &contract.checks,
        &measured,
        &columns,
        &catalogs,
        run.now,
        r.dialect(),
    );

    let mut captured = match run.capture {
        Some(opts) => capture_failing(session, r, &columns, &checks, opts, control).await,
        None => Vec::new(),
    };
    if run.capture.is_some() {
        captured.extend(row_diff_samples(&contract.checks, &measured, &checks));
    }
    let dataset_rows_tested = match &rows.first() {
        Some(Ok(Some(row))) => row.first().and_then(Value::as_f64).map(|f| f as u64),
        _ => None,
    };
    DatasetResult {
        data_source: r.data_source.name.clone(),
        dataset: contract.dataset.text.clone(),
        contract: contract.source.name.clone(),
        dataset_rows_tested,
        outcome: crate::results::worst(checks.iter().map(|c| c.outcome)),
        duration_ms: 0,
        error: None,
        checks,
        captured,
    }
}

/// The samples of failing `rows_diff` checks, for the diagnostics store (never the
/// results, push or logs).
fn row_diff_samples(
    checks: &[Check],
    measured: &[Measured],
    results: &[CheckResult],
) -> Vec<CapturedRows> {
    checks
        .iter()
        .zip(measured)
        .zip(results)
        .filter(|(_, result)| matches!(result.outcome, Outcome::Fail | Outcome::Warn))
        .filter_map(|((check, m), _)| match m {
            Measured::Values {
                row_diff: Some(o), ..
            } if !o.samples.is_empty() => Some(CapturedRows {
                check_id: check.id.clone(),
                rows: o.samples.clone(),
                error: None,
            }),
            _ => None,
        })
        .collect()
}

/// One side of a dataset as its checks' values are read: its session (to run a check's
/// part of a failed shared query alone), its queries and what they returned.
struct SideRun<'a> {
    session: &'a mut dyn Session,
    dialect: &'a dyn Dialect,
    dataset: &'a str,
    queries: &'a [plan::PlannedQuery],
    rows: &'a [QueryRow],
    columns: &'a [ColumnInfo],
}

/// A dataset's reconciliation sources as its checks' values are read.
struct SourceRuns<'a> {
    sources: &'a mut [SourceSession],
    source_rows: &'a [Vec<QueryRow>],
    /// samples a row-level comparison keeps for the diagnostics store
    samples: usize,
}

/// What one check's queries gave on both its sides, and its row-level comparison.
async fn measure_check(
    target: &mut SideRun<'_>,
    sides: SourceRuns<'_>,
    r: &Resolved,
    plan: &plan::DatasetPlan,
    check: &Check,
    check_plan: &CheckPlan,
    control: &RunControl,
) -> Measured {
    let (handles, target_plan, source_plan, row_diff) = match check_plan {
        CheckPlan::Skip(reason) => return Measured::Failed(reason.clone()),
        CheckPlan::Run {
            handles,
            target,
            source,
            row_diff,
        } => (handles, target, source, row_diff),
    };
    let target_values = match side_values(target, check, target_plan, control).await {
        Ok(v) => v,
        Err(e) => return Measured::Failed(e.to_string()),
    };
    let Some((i, sp)) = source_plan else {
        return Measured::Values {
            handles: handles.clone(),
            target: target_values,
            source: None,
            row_diff: None,
        };
    };
    let source = &r.sources[*i];
    let (session, columns) = match &mut sides.sources[*i] {
        Ok(s) => s,
        Err(e) => return Measured::Failed(e.to_string()),
    };
    let mut side = SideRun {
        session: session.as_mut(),
        dialect: source.dialect(),
        dataset: &source.dataset,
        queries: &plan.sources[*i],
        rows: &sides.source_rows[*i],
        columns,
    };
    let source_values = match side_values(&mut side, check, sp, control).await {
        Ok(v) => v,
        Err(e) => return Measured::Failed(format!("source {}: {e}", source.dataset)),
    };
    let row_diff = match row_diff {
        Some(spec) => match compare_rows(spec, &mut side, target, sides.samples, control).await {
            Ok(o) => Some(Box::new(o)),
            Err(e) => return Measured::Failed(e.to_string()),
        },
        None => None,
    };
    Measured::Values {
        handles: handles.clone(),
        target: target_values,
        source: Some((*i, source_values)),
        row_diff,
    }
}

/// A `rows_diff`'s comparison, in the two sides' sessions.
async fn compare_rows(
    spec: &crate::checks::RowDiffSpec,
    source: &mut SideRun<'_>,
    target: &mut SideRun<'_>,
    samples: usize,
    control: &RunControl,
) -> Result<crate::checks::RowDiffOutcome, crate::rowdiff::RowDiffError> {
    let s = crate::rowdiff::DiffSide {
        session: &mut *source.session,
        dialect: source.dialect,
        columns: source.columns,
        label: source.dataset,
        which: "source",
    };
    let t = crate::rowdiff::DiffSide {
        session: &mut *target.session,
        dialect: target.dialect,
        columns: target.columns,
        label: target.dataset,
        which: "target",
    };
    crate::rowdiff::run(spec, s, t, samples, control).await
}

/// One side's values of a check: its aggregate values (re-running its part of a shared
/// query on its own if that failed, to pin the failure on the check that caused it) and
/// its own queries' rows.
async fn side_values(
    side: &mut SideRun<'_>,
    check: &Check,
    plan: &plan::SidePlan,
    control: &RunControl,
) -> Result<SideValues, SideError> {
    // values of this check's aggregates (each check asks for COUNT(*) first, so its rows
    // tested come with them)
    let mut aggregates = Vec::new();
    if let Some((q, items)) = &plan.aggregates {
        aggregates = match &side.rows[*q] {
            Ok(Some(row)) => items.iter().map(|i| row[*i].clone()).collect::<Vec<_>>(),
            Ok(None) => return Err(SideError::NoRow),
            Err(failed) => {
                let select = side.queries[*q]
                    .select
                    .as_ref()
                    .expect("aggregate queries keep their tree");
                let (sql, positions) = plan::split_query(side.dialect, select, items);
                let label = format!(
                    "{}: {} (alone, after the shared query failed: {failed})",
                    side.dataset, check.id
                );
                let user_sql = side.queries[*q].user_sql;
                match timed(&mut *side.session, control, &label, &sql, user_sql).await {
                    Ok(Some(row)) => positions.iter().map(|p| row[*p].clone()).collect(),
                    Ok(None) => return Err(SideError::NoRow),
                    Err(e) => return Err(e.clone().into()),
                }
            }
        };
    }
    let mut own_rows = Vec::with_capacity(plan.own_queries.len());
    for q in &plan.own_queries {
        match &side.rows[*q] {
            Ok(row) => own_rows.push(row.clone()),
            Err(e) => return Err(e.clone().into()),
        }
    }
    Ok(SideValues {
        aggregates,
        own_rows,
        schema: plan.schema,
    })
}

/// A capture's expressions, their column names as the catalog spells them.
fn fit_capture(spec: &mut Capture, columns: &[ColumnInfo], d: &dyn Dialect) {
    match spec {
        Capture::Rows {
            condition,
            expression,
            ..
        } => {
            plan::fit_to_catalog(condition, columns, d);
            if let Some(e) = expression {
                plan::fit_to_catalog(e, columns, d);
            }
        }
        Capture::Repeats { keys, only } => {
            keys.iter_mut()
                .chain(only.as_mut())
                .for_each(|e| plan::fit_to_catalog(e, columns, d));
        }
        Capture::Query { .. } => {}
    }
}

/// What a capture kept, for the log: rows, bytes, and what the limits cut.
fn kept_words(rows: &Rows) -> String {
    format!(
        ": {}, {} kept{}{}",
        crate::words::count(rows.rows.len(), "row"),
        crate::words::count(rows.bytes, "byte"),
        if rows.cut_values > 0 {
            format!(", {} values cut", rows.cut_values)
        } else {
            String::new()
        },
        if rows.stopped_at_bytes {
            ", stopped at the byte limit"
        } else {
            ""
        }
    )
}

/// Failing rows of the failing checks that have rows to show, each with its own LIMIT
/// query in the dataset's read-only session. Passing checks run no query.
async fn capture_failing(
    session: &mut dyn Session,
    r: &Resolved,
    columns: &[ColumnInfo],
    results: &[CheckResult],
    opts: &CaptureOptions,
    control: &RunControl,
) -> Vec<CapturedRows> {
    let d = r.dialect();
    let contract = &r.contract;
    let exclude: Vec<String> = opts
        .exclude
        .iter()
        .chain(&contract.exclude_columns)
        .cloned()
        .collect();
    let kept: Vec<String> = columns
        .iter()
        .map(|c| c.name.clone())
        .filter(|c| !exclude.iter().any(|x| d.same_ident(x, c)))
        .collect();
    let mut out = Vec::new();
    for (i, (check, result)) in contract.checks.iter().zip(results).enumerate() {
        if !matches!(result.outcome, Outcome::Fail | Outcome::Warn) {
            continue;
        }
        let filter = plan::and_filters(contract.filter.as_ref(), check.filter.as_ref());
        let ctx = NeedCtx {
            table: &r.table,
            column: check.column.as_deref(),
            filter: filter.as_ref(),
            reference_table: r.reference_tables.get(&i),
            source: None,
        };
        let Some(mut spec) = check.kind.capture(&ctx) else {
            continue;
        };
        fit_capture(&mut spec, columns, d);
        let sql = capture::capture_sql(d, &r.table, &spec, filter.as_ref(), &kept, opts.max_rows);
        let label = format!("{}: capture {}", contract.dataset.text, check.id);
        let fetched = logged(
            control,
            &label,
            &sql,
            session.rows(
                &sql,
                Limits {
                    rows: opts.max_rows as usize,
                    value_bytes: opts.max_value_bytes,
                    total_bytes: opts.max_bytes,
                },
            ),
            kept_words,
        )
        .await;
        let (rows, error) = match fetched {
            Ok(rows) => match &spec {
                Capture::Query { keys, .. } if !keys.is_empty() => {
                    match capture::keys_json(&rows, keys, d) {
                        Ok(keys) => (keys, None),
                        Err(e) => (Vec::new(), Some(e.to_string())),
                    }
                }
                _ => (capture::rows_json(&rows, &exclude, d), None),
            },
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        out.push(CapturedRows {
            check_id: check.id.clone(),
            rows,
            error,
        });
    }
    out
}

/// `--plan`: the SQL in the order it would run: each data source's catalog statement
/// (every dataset's columns at once), then the queries of each dataset and of each of
/// its reconciliation sources (which run in the source's engine, at the same time).
pub fn plan_text(resolved: &[Resolved]) -> String {
    let mut out = String::new();
    for (ds, tables) in &plan::tables_by_source(resolved) {
        out.push_str(&format!(
            "-- columns of {} dataset(s) in data source '{}' ({}), from the catalog\n",
            tables.len(),
            ds.name,
            ds.type_name()
        ));
        match ds.dialect().columns_query(tables) {
            Some(sql) => out.push_str(&format!("{sql};\n\n")),
            None => out.push_str("-- (each table's schema, from the engine's client)\n\n"),
        }
    }
    for r in resolved {
        let plan = plan::plan(r, None, &[]);
        out.push_str(&format!(
            "-- dataset {} (data source '{}', {}), contract {}\n",
            r.contract.dataset.text,
            r.data_source.name,
            r.data_source.type_name(),
            r.contract.source.name
        ));
        plan_queries(&mut out, r.dialect(), &r.files, &plan.queries);
        for (source, queries) in r.sources.iter().zip(&plan.sources) {
            out.push_str(&format!(
                "-- source dataset {} (data source '{}', {}) of {}\n",
                source.dataset,
                source.data_source.name,
                source.data_source.type_name(),
                r.contract.dataset.text,
            ));
            plan_queries(&mut out, source.dialect(), &source.files, queries);
        }
        for (check, check_plan) in r.contract.checks.iter().zip(&plan.checks) {
            let Some((i, spec)) = (match check_plan {
                CheckPlan::Run {
                    source: Some((i, _)),
                    row_diff: Some(spec),
                    ..
                } => Some((*i, spec)),
                _ => None,
            }) else {
                continue;
            };
            let source = &r.sources[i];
            let [s, t] = crate::rowdiff::first_level(spec, source.dialect(), r.dialect());
            out.push_str(&format!(
                "-- {}: segment checksums by key hash in both engines at once, then the \
                 segments that differ split again (each column rendered by its type)\n\
                 -- source {}\n{s};\n-- target {}\n{t};\n\n",
                check.id, source.dataset, r.contract.dataset.text
            ));
        }
    }
    out
}

fn plan_queries(
    out: &mut String,
    d: &dyn Dialect,
    files: &[(String, PathBuf)],
    queries: &[plan::PlannedQuery],
) {
    for (view, file) in files {
        out.push_str(&format!(
            "-- view {} reads {}\n",
            d.quote_ident(view),
            crate::exec::duckdb::reader_sql(file)
        ));
    }
    for q in queries {
        out.push_str(&format!("-- {}\n{};\n", q.label, q.sql));
    }
    out.push('\n');
}
