//! A Prometheus Pushgateway: each data source's checks as gauges in the text exposition
//! format, `PUT /metrics/job/<job>/data_source/<name>` (one group per data source, so a
//! scan replaces its own previous values). The last success time goes to a group of its
//! own, written only when the data source's checks all passed, so a failing scan does
//! not erase it.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::retry::{transport_error, with_retries, Attempt};
use super::Failure;
use crate::config::CloudConfig;
use crate::results::{MonitorOutcome, Outcome, Results};

pub async fn push(
    client: &reqwest::Client,
    cloud: &CloudConfig,
    base: &str,
    job: &str,
    results: &Results,
) -> Result<String, Failure> {
    let mut groups: BTreeMap<&str, Vec<&crate::results::DatasetResult>> = BTreeMap::new();
    for d in &results.datasets {
        groups.entry(d.data_source.as_str()).or_default().push(d);
    }
    let ended = chrono::DateTime::parse_from_rfc3339(&results.ended_at)
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .unwrap_or(0.0);
    let mut delivered = Vec::new();
    // a scan's profiles and schema monitors, a group per data source of their own
    let mut bodies = Vec::new();
    for source in results.scan.iter().flat_map(|s| &s.data_sources) {
        bodies.push((
            group_url(base, job, &source.data_source, Some("profile"))?,
            profile_exposition(source),
        ));
    }
    for (url, body) in bodies {
        delivered.push(put(client, cloud, url, body).await?);
    }
    for (data_source, datasets) in groups {
        let mut bodies = vec![(
            group_url(base, job, data_source, None)?,
            exposition(&datasets, ended),
        )];
        let passed = datasets
            .iter()
            .all(|d| matches!(d.outcome, Outcome::Pass | Outcome::Warn));
        if passed {
            bodies.push((
                group_url(base, job, data_source, Some("last_success"))?,
                format!(
                    "# HELP assay_last_success_timestamp_seconds When all checks of the data source last passed.\n\
                     # TYPE assay_last_success_timestamp_seconds gauge\n\
                     assay_last_success_timestamp_seconds {ended}\n"
                ),
            ));
        }
        for (url, body) in bodies {
            delivered.push(put(client, cloud, url, body).await?);
        }
    }
    Ok(delivered.join(", "))
}

/// One group replaced on the gateway, retried by the push rules.
async fn put(
    client: &reqwest::Client,
    cloud: &CloudConfig,
    url: String,
    body: String,
) -> Result<String, Failure> {
    with_retries(cloud, &url, || {
        let request = client
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(body.clone());
        let url = url.clone();
        async move {
            match request.send().await {
                Err(e) => transport_error(&e),
                Ok(r) => {
                    let status = r.status();
                    let said: String = r
                        .text()
                        .await
                        .unwrap_or_default()
                        .trim()
                        .chars()
                        .take(200)
                        .collect();
                    match status.as_u16() {
                        200..=299 => Attempt::Delivered(format!("{url} ({status})")),
                        429 | 500..=599 => Attempt::Retry {
                            error: format!("{url} answered {status}: {said}"),
                            after: None,
                        },
                        _ => Attempt::Permanent(format!("{url} answered {status}: {said}")),
                    }
                }
            }
        }
    })
    .await
}

/// A scan's profile values and schema-change outcomes of one data source, as gauges.
pub fn profile_exposition(source: &crate::results::ScannedSource) -> String {
    let mut values = String::new();
    let mut monitors = String::new();
    let mut bands = String::new();
    for d in &source.datasets {
        let ds = format!("dataset=\"{}\"", label(&d.dataset));
        for p in &d.profile {
            let Some(v) = p.value.filter(|v| v.is_finite()) else {
                continue;
            };
            let column = p.column.as_deref().unwrap_or("");
            let _ = writeln!(
                values,
                "assay_profile_value{{{ds},column=\"{}\",metric=\"{}\"}} {v}",
                label(column),
                label(&p.metric)
            );
        }
        for m in &d.monitors {
            let (metric, column) = m.series();
            let series = format!(
                "{ds},monitor=\"{}\",metric=\"{}\",column=\"{}\"",
                label(m.type_name()),
                label(metric.unwrap_or("")),
                label(column.unwrap_or(""))
            );
            let code = match m.outcome() {
                MonitorOutcome::Learning => 4,
                MonitorOutcome::Excluded => 5,
                o => outcome_code(o.verdict()),
            };
            let _ = writeln!(monitors, "assay_monitor_outcome{{{series}}} {code}");
            let Some(a) = m.anomaly().map(|a| &a.verdict) else {
                continue;
            };
            for (name, v) in [
                ("expected", a.expected),
                ("lower", a.lower),
                ("upper", a.upper),
            ] {
                if let Some(v) = v.filter(|v| v.is_finite()) {
                    let _ = writeln!(bands, "assay_anomaly_{name}{{{series}}} {v}");
                }
            }
        }
    }
    format!(
        "# HELP assay_profile_value A value the scan's profile measured (row_count, missing_count, ...).\n\
         # TYPE assay_profile_value gauge\n{values}\
         # HELP assay_monitor_outcome Outcome of a monitor: 0 pass, 1 warn, 2 fail, 4 learning, 5 excluded.\n\
         # TYPE assay_monitor_outcome gauge\n{monitors}{}",
        band_families(&bands)
    )
}

/// The anomaly monitors' expected values and ranges, a family each (none without any).
fn band_families(bands: &str) -> String {
    let mut out = String::new();
    for name in ["expected", "lower", "upper"] {
        let family = format!("assay_anomaly_{name}{{");
        let lines: String = bands
            .lines()
            .filter(|l| l.starts_with(&family))
            .map(|l| format!("{l}\n"))
            .collect();
        if !lines.is_empty() {
            let _ = write!(
                out,
                "# HELP assay_anomaly_{name} The anomaly monitor's {name} value for this scan.\n\
                 # TYPE assay_anomaly_{name} gauge\n{lines}"
            );
        }
    }
    out
}

/// `<base>/metrics/job/<job>/data_source/<name>[/scope/<scope>]`, each part escaped.
fn group_url(
    base: &str,
    job: &str,
    data_source: &str,
    scope: Option<&str>,
) -> Result<String, Failure> {
    let mut url = reqwest::Url::parse(base).map_err(|e| Failure {
        message: format!("cloud.pushgateway '{base}': {e}"),
        permanent: true,
        attempts: 0,
    })?;
    {
        let mut path = url.path_segments_mut().map_err(|_| Failure {
            message: format!("cloud.pushgateway '{base}' cannot take a path"),
            permanent: true,
            attempts: 0,
        })?;
        path.pop_if_empty()
            .extend(["metrics", "job", job, "data_source", data_source]);
        if let Some(s) = scope {
            path.extend(["scope", s]);
        }
    }
    Ok(url.to_string())
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn outcome_code(o: Outcome) -> u8 {
    match o {
        Outcome::Pass => 0,
        Outcome::Warn => 1,
        Outcome::Fail => 2,
        Outcome::NotEvaluated => 3,
    }
}

/// The text exposition of a data source's datasets: metric families, each once.
pub fn exposition(datasets: &[&crate::results::DatasetResult], ended: f64) -> String {
    let mut outcome = String::new();
    let mut value = String::new();
    let mut rows = String::new();
    let mut duration = String::new();
    for d in datasets {
        let ds = format!("dataset=\"{}\"", label(&d.dataset));
        for c in &d.checks {
            let labels = format!(
                "{ds},check=\"{}\",type=\"{}\",level=\"{}\"",
                label(&c.id),
                label(&c.check_type),
                label(c.level.as_str())
            );
            let _ = writeln!(
                outcome,
                "assay_check_outcome{{{labels}}} {}",
                outcome_code(c.outcome)
            );
            if let Some(v) = c.value.filter(|v| v.is_finite()) {
                let _ = writeln!(value, "assay_check_value{{{labels}}} {v}");
            }
        }
        if let Some(n) = d.dataset_rows_tested {
            let _ = writeln!(rows, "assay_dataset_rows_tested{{{ds}}} {n}");
        }
        let _ = writeln!(
            duration,
            "assay_dataset_duration_seconds{{{ds}}} {}",
            d.duration_ms as f64 / 1000.0
        );
    }
    format!(
        "# HELP assay_check_outcome Outcome of a check: 0 pass, 1 warn, 2 fail, 3 not evaluated.\n\
         # TYPE assay_check_outcome gauge\n{outcome}\
         # HELP assay_check_value The number the check compared with its threshold.\n\
         # TYPE assay_check_value gauge\n{value}\
         # HELP assay_dataset_rows_tested Rows of the dataset after its filter.\n\
         # TYPE assay_dataset_rows_tested gauge\n{rows}\
         # HELP assay_dataset_duration_seconds How long verifying the dataset took.\n\
         # TYPE assay_dataset_duration_seconds gauge\n{duration}\
         # HELP assay_scan_timestamp_seconds When the scan ended.\n\
         # TYPE assay_scan_timestamp_seconds gauge\n\
         assay_scan_timestamp_seconds {ended}\n"
    )
}
