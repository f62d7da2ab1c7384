//! `assay history backtest SERIES.csv`: the anomaly monitor replayed over a series, each
//! point judged from the points before it, exactly as scans would have judged it. Users
//! tune their settings with it.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::AppError;
use crate::anomaly::incident::{incidents, Incident};
use crate::anomaly::series::{self, describe_step, timestamp_text};
use crate::anomaly::{
    excluded_range, sensitivity_of, show, Detector, DetectorSettings, Direction, Seasonality,
    Verdict, SENSITIVITIES,
};
use crate::cli::{BacktestArgs, HistoryFormat};
use crate::diag::{unknown_word_help, Diag};
use crate::exit::Exit;

/// The monitor's settings from the command line (the same names as in assay.yml).
pub fn settings_of(args: &BacktestArgs) -> Result<DetectorSettings, Diag> {
    let mut s = DetectorSettings::default();
    if let Some(text) = &args.sensitivity {
        s.sensitivity = sensitivity_of(text).ok_or_else(|| {
            let names: Vec<&str> = SENSITIVITIES.iter().map(|(n, _)| *n).collect();
            Diag::plain(format!("--sensitivity '{text}' is neither a level nor a positive number"))
                .with_help(format!(
                    "{}; or a number: the range's half-width in robust standard deviations (medium is 5)",
                    unknown_word_help(text, &names, "the levels are")
                ))
        })?;
    }
    if let Some(text) = &args.seasonality {
        s.seasonality = Seasonality::named(text).ok_or_else(|| {
            Diag::plain(format!("--seasonality '{text}' is not a seasonality")).with_help(
                unknown_word_help(text, Seasonality::NAMES, "seasonalities are"),
            )
        })?;
    }
    if let Some(text) = &args.direction {
        s.direction = Direction::named(text).ok_or_else(|| {
            Diag::plain(format!("--direction '{text}' is not a direction"))
                .with_help(unknown_word_help(text, Direction::NAMES, "directions are"))
        })?;
    }
    if let Some(n) = args.min_history {
        if n < 3 {
            return Err(
                Diag::plain(format!("--min-history {n} is too little history")).with_help(
                    "a baseline needs at least 3 points; the default is two weeks' worth",
                ),
            );
        }
        s.min_history = Some(n);
    }
    s.month_end = args.month_end;
    for text in &args.exclude {
        s.excluded.push(excluded_range(text).ok_or_else(|| {
            Diag::plain(format!(
                "--exclude '{text}' is not a date or a range of dates"
            ))
            .with_help("write it like 2026-12-25 or 2026-12-24..2026-12-26 (both days excluded)")
        })?);
    }
    Ok(s)
}

/// One input row and its verdict (None: the row has no value).
struct Judged {
    at: i64,
    value: Option<f64>,
    verdict: Option<Verdict>,
}

pub fn run(args: &BacktestArgs, output: Option<&str>) -> Result<Exit, AppError> {
    let file = args.file.to_string_lossy();
    let file: &str = &file;
    let settings = settings_of(args)?;
    let (format, path) = super::history::output_of(output)?;
    if format == HistoryFormat::Csv {
        return Err(Diag::plain("a backtest is written as table or json")
            .with_help("-o json, or -o json=verdicts.json")
            .into());
    }
    let text = std::fs::read_to_string(file).map_err(|e| {
        Diag::plain(format!("the series '{file}' cannot be read: {e}")).with_help(
            "give a CSV file with the header timestamp,value (assay history export writes one)",
        )
    })?;
    let rows = series::read(&text).map_err(|e| {
        Diag::plain(format!("{file}:{}:{}: {}", e.line, e.column, e.message)).with_help(e.help)
    })?;
    let times: Vec<i64> = rows
        .iter()
        .filter(|r| r.value.is_some())
        .map(|r| r.at)
        .collect();
    let step = series::infer_step(&times);
    let judged = backtest(&settings, step, &rows);
    let out = match format {
        HistoryFormat::Json => json_text(file, step, &settings, &judged),
        _ => table_text(file, step, &judged),
    };
    match path {
        Some(p) => super::write_file(&p, &out).map_err(AppError::Runtime)?,
        None => print!("{}", crate::secrets::for_terminal(&out)),
    }
    Ok(Exit::Ok)
}

/// Every row judged in order, as scans would have judged them one after another.
fn backtest(settings: &DetectorSettings, step: i64, rows: &[series::Row]) -> Vec<Judged> {
    let mut detector = Detector::new(settings.clone(), step);
    rows.iter()
        .map(|r| Judged {
            at: r.at,
            value: r.value,
            verdict: r.value.map(|v| detector.observe(r.at, v)),
        })
        .collect()
}

fn json_text(file: &str, step: i64, settings: &DetectorSettings, judged: &[Judged]) -> String {
    let detector = Detector::new(settings.clone(), step);
    let points: Vec<serde_json::Value> = judged
        .iter()
        .map(|j| {
            let v = j.verdict.as_ref();
            json!({
                "timestamp": timestamp_text(j.at),
                "value": j.value,
                "expected": v.and_then(|v| v.expected),
                "lower": v.and_then(|v| v.lower),
                "upper": v.and_then(|v| v.upper),
                "anomaly": v.is_some_and(Verdict::is_anomaly),
                "kind": v.and_then(|v| v.judgement.kind()).map(|k| k.as_str()),
                "outcome": v.map_or("not_measured", |v| v.judgement.as_str()),
                "reason": v.map_or("no value".to_string(), |v| v.reason.clone()),
                "incident": v.and_then(|v| v.incident).map(timestamp_text),
            })
        })
        .collect();
    let incidents: Vec<serde_json::Value> = incidents_of(judged)
        .iter()
        .map(|i| {
            json!({
                "start": timestamp_text(i.start),
                "end": timestamp_text(i.end),
                "points": i.points,
                "kind": i.kind.as_str(),
                "worst": {
                    "timestamp": timestamp_text(i.worst.at),
                    "value": i.worst.value,
                    "expected": i.worst.expected,
                    "kind": i.worst.kind.as_str(),
                },
            })
        })
        .collect();
    let doc = json!({
        "series": {
            "file": file,
            "points": judged.len(),
            "step": describe_step(step),
            "step_seconds": step,
        },
        "settings": {
            "sensitivity": settings.sensitivity,
            "seasonality": format!("{:?}", settings.seasonality).to_lowercase(),
            "direction": settings.direction.as_str(),
            "min_history": detector.min_history(),
            "month_end": settings.month_end,
        },
        "anomalies": judged.iter().filter(|j| j.verdict.as_ref().is_some_and(Verdict::is_anomaly)).count(),
        "incidents": incidents,
        "points": points,
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("a backtest serializes");
    s.push('\n');
    s
}

/// The incidents of a backtest: its anomalies, consecutive ones as one.
fn incidents_of(judged: &[Judged]) -> Vec<Incident> {
    incidents(
        judged
            .iter()
            .filter_map(|j| Some((j.at, j.value?, j.verdict.as_ref()?))),
    )
}

/// A line for the series, then one per anomaly.
fn table_text(file: &str, step: i64, judged: &[Judged]) -> String {
    let learning = judged
        .iter()
        .filter(|j| {
            j.verdict
                .as_ref()
                .is_some_and(|v| v.judgement == crate::anomaly::Judgement::Learning)
        })
        .count();
    let anomalies: Vec<&Judged> = judged
        .iter()
        .filter(|j| j.verdict.as_ref().is_some_and(Verdict::is_anomaly))
        .collect();
    let name = Path::new(file)
        .file_name()
        .map_or(PathBuf::from(file), PathBuf::from);
    let incidents = incidents_of(judged).len();
    let mut out = format!(
        "{}: {} points, {}; {learning} learning; {} anomal{} in {incidents} incident{}\n",
        name.display(),
        judged.len(),
        describe_step(step),
        anomalies.len(),
        if anomalies.len() == 1 { "y" } else { "ies" },
        if incidents == 1 { "" } else { "s" }
    );
    if anomalies.is_empty() {
        return out;
    }
    let rows: Vec<Vec<String>> = anomalies
        .iter()
        .map(|j| {
            let v = j.verdict.as_ref().expect("anomalies have verdicts");
            vec![
                timestamp_text(j.at),
                j.value.map_or("-".into(), show),
                v.judgement.kind().map_or("", |k| k.as_str()).to_string(),
                match (v.lower, v.upper) {
                    (Some(l), Some(u)) => format!("{}..{}", show(l), show(u)),
                    _ => "-".into(),
                },
                v.reason.clone(),
            ]
        })
        .collect();
    let header = ["timestamp", "value", "kind", "expected range", "reason"];
    out.push_str(&crate::report::aligned(&header, &rows));
    out
}
