//! Notifications of a scan: one message per scan saying what failed, warned or changed
//! (dataset, check or monitor, value, threshold), never a row value or a secret, to a
//! Slack incoming webhook or a generic JSON webhook, retried by the push rules.

use serde_json::{json, Value as Json};

use super::retry::{transport_error, with_retries, Attempt};
use super::Failure;
use crate::anomaly::show;
use crate::config::{CloudConfig, NotifyConfig, NotifyOn, NotifyTarget};
use crate::report::{change_text, threshold_text, value_text};
use crate::results::{Outcome, Results};

/// One thing a notification reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub on: &'static str,
    pub dataset: String,
    pub text: String,
}

/// What a target hears of a scan, by its `on:`; empty when nothing it listens for
/// happened.
pub fn notices(results: &Results, on: &[NotifyOn]) -> Vec<Notice> {
    let mut out = Vec::new();
    for d in &results.datasets {
        for c in &d.checks {
            let kind = match c.outcome {
                Outcome::Fail if on.contains(&NotifyOn::Fail) => "fail",
                Outcome::Warn if on.contains(&NotifyOn::Warn) => "warn",
                _ => continue,
            };
            out.push(Notice {
                on: kind,
                dataset: d.dataset.clone(),
                text: format!(
                    "{} {}: {} (threshold {})",
                    kind,
                    c.name,
                    value_text(c),
                    threshold_text(c)
                ),
            });
        }
    }
    if on.contains(&NotifyOn::SchemaChange) {
        for d in results
            .scan
            .iter()
            .flat_map(|s| &s.data_sources)
            .flat_map(|s| &s.datasets)
        {
            for m in &d.monitors {
                for e in m.changes() {
                    out.push(Notice {
                        on: "schema_change",
                        dataset: d.dataset.clone(),
                        text: change_text(
                            &e.kind,
                            e.column.as_deref(),
                            e.old.as_deref(),
                            e.new.as_deref(),
                        ),
                    });
                }
            }
        }
    }
    if on.contains(&NotifyOn::Anomaly) {
        for d in results
            .scan
            .iter()
            .flat_map(|s| &s.data_sources)
            .flat_map(|s| &s.datasets)
        {
            for m in &d.monitors {
                let Some(anomaly) = m.anomaly() else { continue };
                // one alert per incident: a point that continues one was told already
                let goes_on = anomaly.verdict.incident.as_ref().is_some_and(|i| !i.new);
                if !m.alerts() || goes_on {
                    continue;
                }
                let a = &anomaly.verdict;
                let series = crate::report::series_words(m);
                let range = match (a.lower, a.upper) {
                    (Some(l), Some(u)) => format!(", expected {}..{}", show(l), show(u)),
                    _ => String::new(),
                };
                out.push(Notice {
                    on: "anomaly",
                    dataset: d.dataset.clone(),
                    text: format!(
                        "anomaly ({}) {series}: {}{range}: {}",
                        a.kind.as_deref().unwrap_or("anomaly").replace('_', " "),
                        a.value.map_or("-".to_string(), show),
                        a.reason
                    ),
                });
            }
        }
    }
    out
}

/// The body a target takes: Slack's `{"text": ...}`, or the generic JSON document.
pub fn payload(target: &NotifyTarget, results: &Results, items: &[Notice]) -> String {
    let headline = format!(
        "assay scan {}: {} {} ({})",
        results.scan_id,
        items.len(),
        if items.len() == 1 {
            "thing to look at"
        } else {
            "things to look at"
        },
        results.now
    );
    let body = if target.name == "slack" {
        // Slack reads <...> as links and mentions (<!channel>): escaped as it documents
        let slack = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let lines: Vec<String> = items
            .iter()
            .map(|i| format!("• {}: {}", slack(&i.dataset), slack(&i.text)))
            .collect();
        json!({ "text": format!("{}\n{}", slack(&headline), lines.join("\n")) })
    } else {
        json!({
            "scan_id": results.scan_id,
            "now": results.now,
            "outcome": results.outcome,
            "items": items.iter().map(|i| json!({"on": i.on, "dataset": i.dataset, "text": i.text})).collect::<Vec<Json>>(),
        })
    };
    crate::secrets::mask(&body.to_string())
}

/// The push rules (retries, backoff) with the notify settings.
fn rules(n: &NotifyConfig) -> CloudConfig {
    CloudConfig {
        endpoint: None,
        timeout: n.timeout,
        max_attempts: n.max_attempts,
        backoff: n.backoff,
        pushgateway: None,
        unresolved: None,
    }
}

/// POST one payload to one target, retried.
pub async fn send(
    config: &NotifyConfig,
    target: &NotifyTarget,
    payload: &str,
) -> Result<String, Failure> {
    let client = super::http_client(config.timeout)?;
    let rules = rules(config);
    with_retries(&rules, target.name, || {
        let request = client
            .post(&target.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload.to_string());
        let name = target.name;
        async move {
            match request.send().await {
                Err(e) => transport_error(&e),
                Ok(r) => {
                    let status = r.status();
                    match status.as_u16() {
                        200..=299 => Attempt::Delivered(format!("{name} ({status})")),
                        429 | 500..=599 => Attempt::Retry {
                            error: format!("{name} answered {status}"),
                            after: None,
                        },
                        300..=399 => Attempt::Permanent(format!(
                            "{name} answered {status}; redirects are not followed (the body \
                             would go where no one configured it): give the URL it redirects to"
                        )),
                        _ => Attempt::Permanent(format!("{name} answered {status}")),
                    }
                }
            }
        }
    })
    .await
}

/// A scan's notifications, each target with what it listens for; one that cannot be
/// delivered is a warning and waits in the outbox for `assay push`. True when none waits.
pub async fn deliver(
    results: &Results,
    config: &NotifyConfig,
    project_dir: &std::path::Path,
    quiet: bool,
) -> bool {
    let outbox = super::outbox::Outbox::in_project(project_dir);
    let mut all = true;
    for target in &config.targets {
        let items = notices(results, &target.on);
        if items.is_empty() {
            continue;
        }
        let payload = payload(target, results, &items);
        match send(config, target, &payload).await {
            Ok(how) if !quiet => eprintln!("notified {how}"),
            Ok(_) => {}
            Err(f) => {
                all = false;
                let waiting = super::outbox::Notification {
                    target: target.name.to_string(),
                    scan_id: results.scan_id.clone(),
                    payload,
                    last_error: crate::secrets::mask(&f.message),
                };
                match outbox.put_notification(&waiting) {
                    Ok(path) => tracing::warn!(
                        "the {} notification was not delivered ({}); it waits in {} for `assay push`",
                        target.name,
                        waiting.last_error,
                        path.display()
                    ),
                    Err(e) => tracing::warn!(
                        "the {} notification was not delivered ({}) and could not be kept: {e}",
                        target.name,
                        waiting.last_error
                    ),
                }
            }
        }
    }
    all
}
