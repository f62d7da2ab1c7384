//! `assay report`: one self-contained HTML page of data quality over time, from the
//! history store: what each scan measured, the monitors' verdicts, schema changes and
//! every check's outcome. The page itself is drawn by `report::html` (pure).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{runtime, AppError};
use crate::cli::ReportArgs;
use crate::config::Glob;
use crate::diag::Diag;
use crate::exit::Exit;
use crate::report::html;
use crate::scan::history::{history_page, CheckRecord, CheckRow, HistoryStore, ReportHistory};
use crate::timestamp::parse_timestamp;

pub fn run(args: &ReportArgs) -> Result<Exit, AppError> {
    let since = humantime::parse_duration(&args.since).map_err(|_| {
        Diag::plain(format!("--since '{}' is not a duration", args.since))
            .with_help("write it like 90d or 12h")
    })?;
    let globs = args
        .datasets
        .iter()
        .map(|g| {
            Glob::parse(g).map_err(|why| {
                Diag::plain(format!("dataset glob '{g}': {why}"))
                    .with_help("like shop/main/* or shop/**")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let history = super::history::project_history(args.common.config.as_ref())?;
    let now = Utc::now();
    let from = super::before(now, since);
    let runtime = runtime()?;
    let read = runtime.block_on(read_history(&history, from, &globs));
    runtime.shutdown_timeout(Duration::from_secs(2));
    let read = read.map_err(AppError::Runtime)?;
    let mut page = history_page(read, from.timestamp(), &globs);
    page.generated_at = now.format("%Y-%m-%d %H:%M UTC").to_string();
    let text = html::render(&page);
    let path = match &args.output {
        Some(p) => p.clone(),
        None => {
            // beside the history, in assay's own folder, which git ignores
            let dir = PathBuf::from(".assay");
            crate::paths::state_dir(&dir).map_err(|e| {
                AppError::Runtime(crate::error::RunError::io("create folder", &dir, e))
            })?;
            dir.join("report.html")
        }
    };
    super::write_file(&path, &text).map_err(AppError::Runtime)?;
    if !args.common.quiet {
        println!(
            "wrote {} ({} datasets, history {}, {} KiB)",
            path.display(),
            page.datasets.len(),
            history.label(),
            text.len().div_ceil(1024)
        );
    }
    Ok(Exit::Ok)
}

/// The page of one run (`-o html=PATH` of verify and scan): the history's page, with this
/// run's checks as the latest when the history does not hold them already. A history
/// that cannot be read leaves the run's own page, with a warning.
pub(super) fn run_page(results: &crate::results::Results, history: &HistoryStore) -> String {
    let now = Utc::now();
    // the 90 days before the run's own now (--now)
    let run_now = parse_timestamp(&results.now).unwrap_or(now);
    let from = super::before(run_now, Duration::from_secs(90 * 86_400));
    let read = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::error::RunError::io("start", std::path::Path::new("a runtime"), e))
        .and_then(|rt| rt.block_on(read_history(history, from, &[])));
    let mut read = match read {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(
                "the html report shows this run only: history {} could not be read: {}",
                history.label(),
                crate::secrets::mask(&e.to_string())
            );
            ReportHistory::default()
        }
    };
    if !read.checks.iter().any(|c| c.scan_id == results.scan_id) {
        for d in &results.datasets {
            let (source, path) = d.dataset.split_once('/').unwrap_or((&d.dataset, ""));
            read.checks.extend(d.checks.iter().map(|c| CheckRow {
                scan_id: results.scan_id.clone(),
                measured_at: results.now.clone(),
                data_source: source.to_string(),
                dataset: path.to_string(),
                check: CheckRecord::of(c),
            }));
        }
    }
    let mut page = history_page(read, from.timestamp(), &[]);
    page.generated_at = now.format("%Y-%m-%d %H:%M UTC").to_string();
    html::render(&page)
}

/// The history since `from` as a page draws it; with globs, of the datasets they select
/// (the other series are never read).
async fn read_history(
    history: &HistoryStore,
    from: DateTime<Utc>,
    globs: &[Glob],
) -> Result<ReportHistory, crate::error::RunError> {
    let select = |name: &str| globs.iter().any(|g| g.matches(name));
    let select: Option<&(dyn Fn(&str) -> bool + Sync)> = (!globs.is_empty()).then_some(&select);
    history.report(from, select, html::STRIP).await
}
