//! `assay init`: discover the datasets of data sources and write a starting contract for
//! each, from one profiling query per dataset. A file that exists is never overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{config_path, runtime, AppError};
use crate::cli::InitArgs;
use crate::config::{self, Glob};
use crate::diag::{Diag, Diags};
use crate::engine::{DataSourceConfig, DatasetPathError};
use crate::error::RunError;
use crate::exec::{ExecError, Limits, RunControl, Session};
use crate::exit::Exit;
use crate::init;
use crate::interp::Vars;
use crate::sql::dialect::print_select;

/// A contract file's name part: only characters every file system takes, and never a
/// name that steps out of its folder (`..`, a leading dot).
fn file_part(part: &str) -> String {
    let clean: String = part
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        format!("_{clean}")
    } else {
        clean
    }
}

/// `OUT/data_source/part/.../last.yml`
pub(crate) fn contract_path(out: &Path, data_source: &str, path: &[String]) -> PathBuf {
    let mut p = out.join(file_part(data_source));
    for part in path {
        p.push(file_part(part));
    }
    let mut name = p.into_os_string();
    name.push(".yml");
    PathBuf::from(name)
}

/// The glob of the second argument: on whole paths (`shop/main/*`), or, without a '/',
/// on the last part (`orders*`).
fn glob_of(text: Option<&str>) -> Result<Option<Glob>, Diag> {
    let Some(text) = text else {
        return Ok(None);
    };
    let pattern = if text.contains('/') {
        text.to_string()
    } else {
        format!("**/{text}")
    };
    Glob::parse(&pattern).map(Some).map_err(|e| {
        Diag::plain(format!("the dataset glob '{text}' is not valid: {e}"))
            .with_help("* matches within a path part, ** across parts: 'shop/main/*', 'orders*'")
    })
}

pub fn run(args: &InitArgs) -> Result<Exit, AppError> {
    let glob = glob_of(args.glob.as_deref())?;
    let mut diags = Diags::default();
    let (now, _) = super::run_config::parse_times(args.now.as_ref(), None, &mut diags);
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let config = config::load(
        config_path(args.common.config.as_ref())?.as_deref(),
        &[],
        &Vars::default(),
    )?;
    if config.data_sources.is_empty() {
        diags.push(
            Diag::plain("there is no data source to write contracts for").with_help(
                "configure data_sources in assay.yml (see examples/ for one of each engine)",
            ),
        );
    }
    if let Some(name) = &args.data_source {
        if config.data_source(name).is_none() {
            diags.push(
                Diag::plain(format!("no data source named '{name}'"))
                    .with_help(config.unknown_name_help(name)),
            );
        }
    }
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let sources: Vec<DataSourceConfig> = config
        .data_sources
        .iter()
        .filter(|d| args.data_source.as_ref().is_none_or(|n| &d.name == n))
        .cloned()
        .collect();
    let runtime = runtime()?;
    let control = RunControl::new();
    let mut failed = false;
    let mut matched = 0;
    // every dataset found, for the hint when the glob selects none
    let seen: std::sync::Mutex<Vec<String>> = Default::default();
    for ds in &sources {
        let keep = |path: &str| {
            if let Ok(mut seen) = seen.lock() {
                seen.push(path.to_string());
            }
            glob.as_ref().is_none_or(|g| g.matches(path))
        };
        let outcome = runtime.block_on(init_source(
            ds,
            &control,
            &keep,
            &args.out,
            now,
            args.common.quiet,
        ));
        match outcome {
            Ok(n) => matched += n,
            Err(e) => {
                failed = true;
                eprintln!(
                    "error: {}: {}",
                    ds.name,
                    crate::secrets::for_terminal(&crate::secrets::mask(&e.to_string()))
                );
            }
        }
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    let seen = seen.into_inner().unwrap_or_default();
    if matched == 0 && !failed {
        let pattern = args.glob.as_deref().unwrap_or("*");
        let help = match crate::diag::did_you_mean(pattern, seen.iter().map(String::as_str)) {
            Some(s) => format!("did you mean '{s}'?"),
            None if seen.is_empty() => "the data sources have no tables, views or files".into(),
            None => format!("datasets found: {}", seen.join(", ")),
        };
        return Err(Diag::plain(format!("no dataset matches '{pattern}'"))
            .with_help(help)
            .into());
    }
    Ok(if failed { Exit::Runtime } else { Exit::Ok })
}

/// Profile and write every selected dataset of one data source: how many it selected.
async fn init_source(
    ds: &DataSourceConfig,
    control: &Arc<RunControl>,
    keep: &(dyn Fn(&str) -> bool + Sync),
    out: &Path,
    now: DateTime<Utc>,
    quiet: bool,
) -> Result<usize, InitError> {
    let (found, _exec, mut session) =
        crate::scan::run::discover_and_open(ds, control, keep).await?;
    let mut failed = None;
    for f in &found {
        let file = contract_path(out, &ds.name, &f.path);
        if file.exists() {
            if quiet {
                continue;
            }
            println!(
                "kept {} (it exists: assay init never overwrites a file)",
                file.display()
            );
            continue;
        }
        let dataset = format!("{}/{}", ds.name, f.path.join("/"));
        match profile(ds, &mut *session, &f.path, &dataset).await {
            Ok(p) => {
                let text = init::suggest::contract_text(&p, now);
                let checks = text
                    .lines()
                    .filter(|l| {
                        let t = l.trim_start();
                        t.starts_with("- ") && !t.starts_with("- name:")
                    })
                    .count();
                write_new(&file, &text).map_err(|e| RunError::io("write", &file, e))?;
                if quiet {
                    continue;
                }
                println!(
                    "wrote {}: {} from {}",
                    file.display(),
                    crate::words::count(checks, "check"),
                    crate::words::count(init::suggest::thousands(p.rows), "row")
                );
            }
            Err(e) => {
                eprintln!("error: {dataset}: {}", crate::secrets::mask(&e.to_string()));
                failed = Some(dataset);
            }
        }
    }
    session.finish().await;
    match failed {
        Some(dataset) => Err(InitError::NotProfiled { dataset }),
        None => Ok(found.len()),
    }
}

/// Why a data source's datasets were not all profiled and written.
#[derive(Debug, thiserror::Error)]
enum InitError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Write(#[from] RunError),
    /// the last dataset that failed (each failure was said as it happened)
    #[error("{dataset} could not be profiled")]
    NotProfiled { dataset: String },
}

/// Why one dataset could not be profiled.
#[derive(Debug, thiserror::Error)]
enum ProfileError {
    #[error(transparent)]
    Path(#[from] DatasetPathError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("it disappeared while it was read")]
    Disappeared,
    #[error("the profiling query returned no row")]
    NoRow,
}

/// The dataset's profile: its columns from the catalog, one profiling query, and the
/// values of text columns with few of them.
async fn profile(
    ds: &DataSourceConfig,
    session: &mut dyn Session,
    path: &[String],
    dataset: &str,
) -> Result<init::suggest::DatasetProfile, ProfileError> {
    let d = ds.dialect();
    let table = ds.table_ref(path)?;
    let columns = session
        .columns(&table)
        .await?
        .ok_or(ProfileError::Disappeared)?;
    let plan = init::plan(d, &table, &columns);
    let rows = session
        .rows(&print_select(d, &plan.select), Limits::rows(2))
        .await?;
    let row = rows.rows.first().ok_or(ProfileError::NoRow)?;
    let mut p = plan.profile(d, dataset, &columns, row);
    if let Some(sql) = init::values_sql(d, &table, &p) {
        let limit = (init::suggest::MAX_VALUE_SET as usize) * columns.len() + 1;
        let values = session.rows(&sql, Limits::rows(limit)).await?;
        init::add_values(&mut p, &values.rows);
    }
    Ok(p)
}

/// Write a file that must not exist yet (created whole: a second `init` racing this one
/// cannot interleave).
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_files_stay_in_their_folder() {
        let out = Path::new("contracts");
        let p = |parts: &[&str]| {
            let parts: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            contract_path(out, "db", &parts)
        };
        assert_eq!(
            p(&["main", "orders"]),
            Path::new("contracts/db/main/orders.yml")
        );
        assert_eq!(p(&["events.csv"]), Path::new("contracts/db/events.csv.yml"));
        assert_eq!(p(&["..", ".."]), Path::new("contracts/db/_../_...yml"));
        assert_eq!(p(&["a b", "c\\d"]), Path::new("contracts/db/a_b/c_d.yml"));
        assert_eq!(p(&[""]), Path::new("contracts/db/_.yml"));
    }
}
