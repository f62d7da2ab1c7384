//! A scan, end to end: discover and observe every dataset of the chosen data sources
//! (schema snapshot, profile), verify the contracts of the datasets seen, compare each
//! schema with the history's last snapshot, and record it all as one scan.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;

use super::anomalies;
use super::history::{
    Accepted, CheckRecord, DatasetRecord, HistoryStore, MonitorPoint, ScanRecord,
};
use super::profile::{self, Point};
use super::schema_change::SnapshotColumn;
use crate::config::Config;
use crate::engine::DataSourceConfig;
use crate::error::RunError;
use crate::exec::{Limits, RunControl};
use crate::failing_rows::FailedRowsStore;
use crate::plan::Resolved;
use crate::results::{
    MonitorResult, ProfileValue, Results, ScanSection, ScannedDataset, ScannedSource,
    SCAN_SCHEMA_VERSION,
};
use crate::sql::dialect::print_select;
use crate::verify::{self, RunOptions};

/// One dataset as the scan saw it.
struct Observed {
    path: Vec<String>,
    view: bool,
    snapshot: Option<Vec<SnapshotColumn>>,
    points: Vec<Point>,
    skipped: Vec<String>,
    error: Option<String>,
}

/// Scan `sources`, verify `contracts` (those of scanned datasets), record everything in
/// `history`. The results document carries the scan section; a history that cannot be
/// written is an error in it, and the rest stands.
pub async fn run(
    config: &Config,
    sources: &[DataSourceConfig],
    contracts: Vec<Resolved>,
    opts: &RunOptions,
    store: Option<&FailedRowsStore>,
    history: &HistoryStore,
) -> Results {
    let control = RunControl::new();
    // --timeout bounds discovery and profiling too, not only the contracts' queries
    let _watchers = verify::Watchers::start(&control, opts.timeout);
    let mut observed: Vec<(String, Result<Vec<Observed>, RunError>)> = Vec::new();
    for ds in sources {
        let datasets = observe_source(config, ds, &control, opts.now).await;
        observed.push((ds.name.clone(), datasets));
    }
    let seen: Vec<String> = observed
        .iter()
        .flat_map(|(name, d)| {
            d.iter()
                .flatten()
                .map(move |o| format!("{name}/{}", o.path.join("/")))
        })
        .collect();
    let contracts: Vec<Resolved> = contracts
        .into_iter()
        .filter(|r| seen.contains(&r.contract.dataset.text))
        .collect();
    let mut results = verify::run(contracts, opts, control, store).await;
    results.schema_version = SCAN_SCHEMA_VERSION.into();

    let mut judging = Judging {
        config,
        history,
        now: opts.now,
        section: ScanSection {
            data_sources: Vec::new(),
            history: history.label().to_string(),
            history_error: None,
        },
        check_points: check_points(&results),
        check_records: check_records(&results),
        record: ScanRecord {
            scan_id: results.scan_id.clone(),
            measured_at: opts.now,
            ended_at: Utc::now(),
            data_sources: sources.iter().map(|s| s.name.clone()).collect(),
            datasets: Vec::new(),
        },
    };
    for ((name, datasets), ds) in observed.into_iter().zip(sources) {
        match datasets {
            Ok(datasets) => judging.source(name, ds, datasets).await,
            Err(e) => judging.section.data_sources.push(ScannedSource {
                data_source: name,
                error: Some(crate::secrets::mask(&e.to_string())),
                datasets: Vec::new(),
            }),
        }
    }
    let Judging {
        mut section,
        record,
        ..
    } = judging;
    if section.history_error.is_none() {
        if let Err(e) = history.record(&record).await {
            section.history_error = Some(crate::secrets::mask(&e.to_string()));
        }
    }
    results.scan = Some(section);
    results.summarize();
    results
}

/// A scan's judging, source by source: the section the results show, the record the
/// history keeps, and the checks' points and records not yet given to their datasets.
struct Judging<'a> {
    config: &'a Config,
    history: &'a HistoryStore,
    now: chrono::DateTime<Utc>,
    section: ScanSection,
    record: ScanRecord,
    check_points: HashMap<(String, String), Vec<Point>>,
    check_records: HashMap<(String, String), Vec<CheckRecord>>,
}

impl Judging<'_> {
    /// Judge every dataset a source holds now, and those of its last scan that are gone,
    /// against the history; a history that cannot be read is said in the section, and
    /// the datasets are judged without it.
    async fn source(&mut self, name: String, ds: &DataSourceConfig, observed: Vec<Observed>) {
        let (seen_before, mut previous) = match self.history.last_snapshots(&name).await {
            Ok(p) => p,
            Err(e) => {
                self.section.history_error = Some(crate::secrets::mask(&e.to_string()));
                (false, HashMap::new())
            }
        };
        let datasets: Vec<(Observed, Vec<Point>)> = observed
            .into_iter()
            .map(|o| {
                let mut points = o.points.clone();
                let key = (name.clone(), o.path.join("/"));
                points.extend(self.check_points.remove(&key).unwrap_or_default());
                (o, points)
            })
            .collect();
        let past = match past_points(self.config, self.history, &name, &datasets, self.now).await {
            Ok(p) => p,
            Err(e) => {
                self.section.history_error = Some(crate::secrets::mask(&e.to_string()));
                Default::default()
            }
        };
        let mut scanned = Vec::new();
        // what every dataset of the source is judged with; each fills in its own
        let source = super::monitor::Subject {
            config: self.config,
            data_source: &name,
            path: "",
            dialect: ds.dialect(),
            snapshot: None,
            previous: None,
            source_seen_before: seen_before,
            points: &[],
            past_points: &past.0,
            accepted: &past.1,
            now: self.now,
        };
        for (o, points) in datasets {
            let path = o.path.join("/");
            let previous_columns = previous.remove(&path);
            let found = super::monitor::judge_all(&super::monitor::Subject {
                path: &path,
                snapshot: o.snapshot.as_deref(),
                previous: previous_columns.as_deref(),
                points: &points,
                ..source
            });
            scanned.push(dataset_result(&name, &o, found.results));
            let checks = self
                .check_records
                .remove(&(name.clone(), path.clone()))
                .unwrap_or_default();
            self.record.datasets.push(DatasetRecord {
                data_source: name.clone(),
                dataset: path,
                snapshot: o.snapshot,
                points,
                events: found.events,
                verdicts: found.verdicts,
                checks,
            });
        }
        self.gone(&name, previous, &source, &mut scanned);
        self.section.data_sources.push(ScannedSource {
            data_source: name,
            error: None,
            datasets: scanned,
        });
    }

    /// The datasets of the source's last scan that are gone (and still selected), judged
    /// as gone.
    fn gone(
        &mut self,
        name: &str,
        previous: HashMap<String, Vec<SnapshotColumn>>,
        source: &super::monitor::Subject<'_>,
        scanned: &mut Vec<ScannedDataset>,
    ) {
        for (path, cols) in previous {
            if !self.config.scan.selects(&format!("{name}/{path}")) {
                continue;
            }
            let found = super::monitor::judge_all(&super::monitor::Subject {
                path: &path,
                previous: Some(&cols),
                source_seen_before: true,
                ..*source
            });
            let gone = Observed {
                path: path.split('/').map(str::to_string).collect(),
                view: false,
                snapshot: None,
                points: Vec::new(),
                skipped: Vec::new(),
                error: None,
            };
            scanned.push(dataset_result(name, &gone, found.results));
            self.record.datasets.push(DatasetRecord {
                data_source: name.to_string(),
                dataset: path,
                snapshot: None,
                points: Vec::new(),
                events: found.events,
                verdicts: found.verdicts,
                checks: Vec::new(),
            });
        }
    }
}

/// Discover a source's datasets (those the globs select) and observe each in one
/// read-only session. Ages (freshness_seconds) are measured to `now`, the run's (`--now`
/// when given), like the contracts' freshness checks: a backfilled scan records the ages
/// its data had then.
/// The datasets of a data source that `keep` selects (by `data_source/path`), and a
/// session that reads them (a files source's files through views of their own), with
/// its executor, which must outlive it. Shared by scans and `assay init`.
pub(crate) async fn discover_and_open(
    ds: &DataSourceConfig,
    control: &Arc<RunControl>,
    keep: &(dyn Fn(&str) -> bool + Sync),
) -> Result<
    (
        Vec<crate::engine::Discovered>,
        Arc<dyn crate::exec::Executor>,
        Box<dyn crate::exec::Session>,
    ),
    crate::exec::ExecError,
> {
    let found = ds.engine.discover(ds, control).await?;
    let found: Vec<_> = found
        .into_iter()
        .filter(|d| {
            // a '/' inside a name would make two tables one dataset path (a."x/t" and
            // "a/x".t are both a/x/t) and mix their histories: such a table is left out
            let ambiguous = d.path.iter().any(|p| p.contains('/'));
            if ambiguous {
                tracing::warn!(
                    "{}: {} is left out: a '/' in a name makes its dataset path ambiguous \
                     (dataset paths put '/' between schema and table); rename it to use it",
                    ds.name,
                    d.path
                        .iter()
                        .map(|p| format!("\"{p}\""))
                        .collect::<Vec<_>>()
                        .join(".")
                );
            }
            !ambiguous && keep(&format!("{}/{}", ds.name, d.path.join("/")))
        })
        .collect();
    let files = found
        .iter()
        .filter_map(|d| {
            let table = ds.table_ref(&d.path).ok()?;
            Some((table.name().to_string(), ds.file_path(&d.path)?))
        })
        .collect();
    let exec = ds.engine.open(ds, 1, files).await?;
    let session = exec.session(control).await?;
    Ok((found, exec, session))
}

async fn observe_source(
    config: &Config,
    ds: &DataSourceConfig,
    control: &Arc<RunControl>,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<Observed>, RunError> {
    // a query stopped by --timeout or Ctrl-C says why the run stopped, not "interrupted"
    let why = |e: crate::exec::ExecError| control.stop_reason(&e).unwrap_or_else(|| e.to_string());
    let keep = |path: &str| config.scan.selects(path);
    let (found, _exec, mut session) = discover_and_open(ds, control, &keep).await.map_err(|e| {
        let reason = control.stop_reason(&e);
        RunError::from_exec(e, &format!("{}: discovery", ds.name), reason)
    })?;
    let d = ds.dialect();
    let tables: Vec<_> = found.iter().map(|f| ds.table_ref(&f.path)).collect();
    // every dataset's columns at once, one catalog statement
    let named: Vec<_> = tables
        .iter()
        .filter_map(|t| t.as_ref().ok().cloned())
        .collect();
    let mut columns_of = session.columns_of(&named).await.into_iter();
    let mut out = Vec::with_capacity(found.len());
    for (f, table) in found.into_iter().zip(tables) {
        let mut o = Observed {
            path: f.path.clone(),
            view: f.view,
            snapshot: None,
            points: Vec::new(),
            skipped: Vec::new(),
            error: None,
        };
        let table = match table {
            Ok(t) => t,
            Err(e) => {
                o.error = Some(e.to_string());
                out.push(o);
                continue;
            }
        };
        let columns = columns_of
            .next()
            .unwrap_or_else(|| Err(crate::exec::ExecError::Query("no catalog answer".into())));
        match columns {
            Ok(Some(columns)) => {
                o.snapshot = Some(
                    columns
                        .iter()
                        .map(|c| SnapshotColumn {
                            name: c.name.clone(),
                            data_type: d.normalize_type(&c.data_type),
                            nullable: c.nullable,
                        })
                        .collect(),
                );
                let plan = profile::plan(d, &table, &columns, &config.scan.profile);
                o.skipped = plan.skipped.clone();
                match session
                    .rows(&print_select(d, &plan.select), Limits::rows(2))
                    .await
                {
                    Ok(rows) => match rows.rows.first() {
                        Some(row) => o.points = plan.points(row, now),
                        None => o.error = Some("the profile query returned no row".into()),
                    },
                    Err(e) => o.error = Some(why(e)),
                }
            }
            Ok(None) => o.error = Some("the dataset disappeared while it was scanned".into()),
            Err(e) => o.error = Some(why(e)),
        }
        out.push(o);
    }
    session.finish().await;
    Ok(out)
}

/// A dataset as the results document shows it: its profile and what monitors found.
fn dataset_result(source: &str, o: &Observed, monitors: Vec<MonitorResult>) -> ScannedDataset {
    ScannedDataset {
        dataset: format!("{source}/{}", o.path.join("/")),
        view: o.view,
        profile: o
            .points
            .iter()
            .map(|p| ProfileValue {
                column: p.column.clone(),
                metric: p.metric.clone(),
                value: p.value,
            })
            .collect(),
        skipped_columns: o.skipped.clone(),
        monitors,
        error: o.error.as_deref().map(crate::secrets::mask),
    }
}

/// Every check's measured value, as a point of its dataset (`check:<id>`), by data
/// source and dataset path.
fn check_points(results: &Results) -> HashMap<(String, String), Vec<Point>> {
    let mut out: HashMap<(String, String), Vec<Point>> = HashMap::new();
    for d in &results.datasets {
        let Some((source, path)) = d.dataset.split_once('/') else {
            continue;
        };
        out.entry((source.to_string(), path.to_string()))
            .or_default()
            .extend(d.checks.iter().map(|c| Point {
                column: c.column.clone(),
                metric: format!("check:{}", c.id),
                value: c.value,
            }));
    }
    out
}

/// Every check's outcome, as recorded with its dataset, by data source and dataset path.
fn check_records(results: &Results) -> HashMap<(String, String), Vec<CheckRecord>> {
    let mut out: HashMap<(String, String), Vec<CheckRecord>> = HashMap::new();
    for d in &results.datasets {
        let Some((source, path)) = d.dataset.split_once('/') else {
            continue;
        };
        out.entry((source.to_string(), path.to_string()))
            .or_default()
            .extend(d.checks.iter().map(CheckRecord::of));
    }
    out
}

/// The recorded history the anomaly monitors of a data source's datasets need: the
/// monitored metrics' points since the horizon, by series, and accepted changes.
async fn past_points(
    config: &Config,
    history: &HistoryStore,
    source: &str,
    datasets: &[(Observed, Vec<Point>)],
    now: chrono::DateTime<Utc>,
) -> Result<
    (
        HashMap<anomalies::SeriesKey, Vec<MonitorPoint>>,
        Vec<Accepted>,
    ),
    crate::error::RunError,
> {
    let monitors = &config.scan.anomalies;
    let mut metrics: Vec<String> = datasets
        .iter()
        .flat_map(|(o, points)| {
            let dataset = format!("{source}/{}", o.path.join("/"));
            points
                .iter()
                .filter(move |p| {
                    monitors
                        .for_series(&dataset, p.column.as_deref(), &p.metric)
                        .is_some()
                })
                .map(|p| p.metric.clone())
        })
        .collect();
    metrics.sort();
    metrics.dedup();
    if metrics.is_empty() {
        return Ok(Default::default());
    }
    let earliest = crate::scan::history::earliest();
    let since = now
        .checked_sub_signed(anomalies::horizon(monitors, config.history.keep))
        .unwrap_or(earliest)
        .max(earliest);
    let points = history.monitor_points(source, &metrics, since).await?;
    let accepted = history.accepted(Some(source)).await?;
    Ok((points, accepted))
}
