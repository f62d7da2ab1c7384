//! The commands: arguments become a validated run configuration (`run_config`), then
//! `verify` or `push` does the work and says which exit code it ends with.
//!
//! Everything that can be wrong with the input (arguments, config, contracts, SQL) is
//! found before anything connects, and reported together with exit code 2.

pub mod agent;
mod backtest;
pub mod channel;
pub mod contract;
pub mod history;
pub mod init;
pub mod push;
pub mod report;
pub mod rows;
pub mod run;
mod run_config;
pub mod scan;
pub mod serve;
mod stream;
pub mod verify;

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::diag::{Diag, Diags};
use crate::error::RunError;

/// What went wrong before or outside verification.
pub enum AppError {
    /// the user's input is wrong: exit 2
    Input(Diags),
    /// something failed at run time (an output file could not be written): exit 3
    Runtime(RunError),
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

/// `-c FILE`, which must exist, or ./assay.yml when there is one.
pub(crate) fn config_path(arg: Option<&PathBuf>) -> Result<Option<PathBuf>, AppError> {
    match arg {
        Some(p) if !p.is_file() => {
            Err(Diag::plain(format!("config file '{}' does not exist", p.display())).into())
        }
        Some(p) => Ok(Some(p.clone())),
        None => Ok(Some(PathBuf::from("assay.yml")).filter(|p| p.is_file())),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Runtime(RunError::io("start", Path::new("the async runtime"), e)))
}

/// Every report of a run: to stdout (a table in color on a terminal) or to its file.
fn write_reports(
    outputs: &[run_config::Output],
    results: &crate::results::Results,
    history: Option<&crate::scan::history::HistoryStore>,
) -> Result<(), AppError> {
    use std::io::{IsTerminal, Write};
    let mut stdout = std::io::stdout().lock();
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for out in outputs {
        match &out.path {
            None => {
                let table = out.format == crate::report::OutputFormat::Table;
                let text = crate::report::render(out.format, results, color && table);
                let _ = stdout.write_all(crate::secrets::for_terminal(&text).as_bytes());
            }
            // the page of the run, with the history around it when there is one
            Some(path) if out.format == crate::report::OutputFormat::Html => {
                let page = match history {
                    Some(h) => report::run_page(results, h),
                    None => crate::report::render(out.format, results, false),
                };
                write_file(path, &page).map_err(AppError::Runtime)?;
            }
            Some(path) => {
                let text = crate::report::render(out.format, results, false);
                write_file(path, &text).map_err(AppError::Runtime)?;
            }
        }
    }
    let _ = stdout.flush();
    if outputs
        .iter()
        .any(|o| o.format == crate::report::OutputFormat::Github)
    {
        append_step_summary(results).map_err(AppError::Runtime)?;
    }
    Ok(())
}

/// `-o github` in a GitHub Actions job: the Markdown report goes on the job's summary page
/// (the file `$GITHUB_STEP_SUMMARY` names; appended, as other steps write there too).
fn append_step_summary(results: &crate::results::Results) -> Result<(), RunError> {
    use std::io::Write;
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let path = PathBuf::from(path);
    let text = crate::report::render(crate::report::OutputFormat::Markdown, results, false);
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(format!("{text}\n").as_bytes()))
        .map_err(|e| RunError::io("append to", &path, e))
}

/// A command's text to its file, or to stdout with every line made printable (names and
/// values come from catalogs and data: no escape sequence of theirs reaches a terminal).
pub(crate) fn write_out(path: Option<&Path>, text: &str) -> Result<(), AppError> {
    match path {
        Some(p) => write_file(p, text).map_err(AppError::Runtime),
        None => {
            let shown: Vec<String> = text.lines().map(crate::results::printable_text).collect();
            println!("{}", crate::secrets::for_terminal(&shown.join("\n")));
            Ok(())
        }
    }
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), RunError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| RunError::io("create folder", dir, e))?;
    }
    std::fs::write(path, text).map_err(|e| RunError::io("write", path, e))
}

pub(crate) fn now_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The moment `since` before `now`, or the first day of year 1 when `since` reaches
/// further back (`--since 999999999999d` means "everything", never a crash; year 1 is a
/// date every store's engine reads).
pub(crate) fn before(
    now: chrono::DateTime<chrono::Utc>,
    since: std::time::Duration,
) -> chrono::DateTime<chrono::Utc> {
    let earliest = crate::scan::history::earliest();
    chrono::Duration::from_std(since)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(earliest)
        .max(earliest)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn a_duration_past_any_date_reaches_back_to_year_one_without_a_panic() {
        let now = chrono::Utc::now();
        let earliest = crate::scan::history::earliest();
        assert_eq!(earliest.to_rfc3339(), "0001-01-01T00:00:00+00:00");
        for since in [
            Duration::MAX,
            Duration::from_secs(999_999_999_999 * 86_400),
            Duration::from_secs(u64::MAX / 2),
            Duration::from_secs(2_100 * 365 * 86_400),
        ] {
            assert_eq!(super::before(now, since), earliest, "{since:?}");
        }
        let day = Duration::from_secs(86_400);
        assert_eq!(super::before(now, day), now - chrono::Duration::days(1));
        assert_eq!(super::before(earliest, day), earliest);
    }
}
