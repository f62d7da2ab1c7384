//! Reading what was pushed: `GET /` the HTML report of the store (the page `assay
//! report` writes, cached for a few seconds), and `GET /api/v1/...` its datasets,
//! series, checks, incidents and schema changes as JSON (docs/server-api.md, with the
//! OpenAPI description docs/server-openapi.json, served at `/api/v1/openapi.json`).
//! Every route needs a token with the read scope: a header, or for a browser, the
//! cookie that `GET /?token=...` sets (the token then leaves the address bar).

// A refusal is the response itself, returned by the handler at once: boxing it would
// only add an allocation to every refused request.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ingest::{authorize, problem};
use super::tokens::TokenScope;
use super::ServeState;
use crate::channel::guard::Peer;
use crate::report::html;
use crate::scan::history::{history_page, CheckRow, PointOutcome, PointQuery};

pub const OPENAPI: &str = include_str!("../../docs/server-openapi.json");

/// The page is built again at most this often.
const PAGE_TTL: Duration = Duration::from_secs(5);
const COOKIE: &str = "assay_token";
/// What the API reads when no `since` is given.
const DEFAULT_SINCE: Duration = Duration::from_secs(90 * 86_400);

/// The page last built, and when.
#[derive(Default)]
pub struct PageCache(tokio::sync::Mutex<Option<(Instant, Arc<String>)>>);

/// The token of a request: the Authorization header, else the cookie.
pub(super) fn with_cookie(headers: &HeaderMap) -> HeaderMap {
    if headers.contains_key(header::AUTHORIZATION) {
        return headers.clone();
    }
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_string)
        });
    let mut out = headers.clone();
    if let Some(value) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()) {
        out.insert(header::AUTHORIZATION, value);
    }
    out
}

#[derive(Debug, Deserialize, Default)]
pub struct Filter {
    pub token: Option<String>,
    pub dataset: Option<String>,
    pub metric: Option<String>,
    pub column: Option<String>,
    pub since: Option<String>,
}

impl Filter {
    fn since(&self) -> Result<DateTime<Utc>, Response> {
        let span = match &self.since {
            None => DEFAULT_SINCE,
            Some(text) => humantime::parse_duration(text).map_err(|_| {
                problem(
                    StatusCode::BAD_REQUEST,
                    "since is a duration, like 30d or 12h",
                )
            })?,
        };
        let now = Utc::now();
        Ok(chrono::Duration::from_std(span)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(crate::scan::history::earliest())
            .max(crate::scan::history::earliest()))
    }
}

/// A request with the read scope (the header, or a browser's cookie), let in.
pub(super) fn read_scope(
    app: &ServeState,
    peer: &Peer,
    headers: &HeaderMap,
) -> Result<(), Response> {
    authorize(app, peer, &with_cookie(headers), TokenScope::Read).map(|_| ())
}

/// A request of the read API, let in: the time it reads from.
fn reader(
    app: &ServeState,
    peer: &Peer,
    headers: &HeaderMap,
    filter: &Filter,
) -> Result<DateTime<Utc>, Response> {
    read_scope(app, peer, headers)?;
    filter.since()
}

/// The store could not be read: 503, the reason in the log only.
pub(super) fn unavailable(e: crate::error::RunError) -> Response {
    tracing::error!(
        "the history store could not be read: {}",
        crate::secrets::mask(&e.to_string())
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(
            header::RETRY_AFTER,
            super::RETRY_AFTER.as_secs().to_string(),
        )],
        axum::Json(json!({"error": "the history store cannot be read now; try again later"})),
    )
        .into_response()
}

/// Read the store, taking turns where it is one file.
pub(super) async fn reading<T>(
    app: &ServeState,
    read: impl std::future::Future<Output = Result<T, crate::error::RunError>>,
) -> Result<T, Response> {
    let turn = app.turn().await;
    let out = read.await.map_err(unavailable);
    drop(turn);
    out
}

pub(super) async fn page(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(filter): Query<Filter>,
    headers: HeaderMap,
) -> Response {
    // a browser's first visit: the token from the address, into a cookie, then away
    if let Some(token) = &filter.token {
        let mut presented = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
            presented.insert(header::AUTHORIZATION, v);
        }
        if let Err(refused) = authorize(&app, &peer, &presented, TokenScope::Read) {
            return refused;
        }
        let secure = if app.tls { "; Secure" } else { "" };
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/".to_string()),
                (
                    header::SET_COOKIE,
                    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}"),
                ),
            ],
        )
            .into_response();
    }
    if let Err(refused) = read_scope(&app, &peer, &headers) {
        return refused;
    }
    let mut cached = app.page.0.lock().await;
    let fresh = cached
        .as_ref()
        .filter(|(at, _)| at.elapsed() < PAGE_TTL)
        .map(|(_, page)| page.clone());
    let text = match fresh {
        Some(t) => t,
        None => {
            let now = Utc::now();
            let from = now
                .checked_sub_signed(chrono::Duration::days(90))
                .unwrap_or(now);
            let read = match reading(&app, app.history.report(from, None, html::STRIP)).await {
                Ok(r) => r,
                Err(refused) => return refused,
            };
            let mut page = history_page(read, from.timestamp(), &[]);
            page.generated_at = now.format("%Y-%m-%d %H:%M:%S UTC").to_string();
            let text = Arc::new(html::render(&page));
            *cached = Some((Instant::now(), text.clone()));
            text
        }
    };
    drop(cached);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text.as_str().to_string(),
    )
        .into_response()
}

fn check_json(c: &CheckRow) -> Value {
    let r = &c.check;
    json!({
        "scan_id": c.scan_id,
        "measured_at": c.measured_at,
        "dataset": format!("{}/{}", c.data_source, c.dataset),
        "check_id": r.check_id,
        "type": r.check_type,
        "name": r.name,
        "column": r.column,
        "outcome": r.outcome.as_str(),
        "value": r.value,
        "threshold": serde_json::from_str::<Value>(&r.threshold).unwrap_or(Value::Null),
        "failed_rows": r.failed_rows.as_ref().map(|(store, table, n)| json!({
            "store": store, "table": table, "captured": n
        })),
    })
}

pub(super) async fn checks(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(filter): Query<Filter>,
    headers: HeaderMap,
) -> Response {
    let since = match reader(&app, &peer, &headers, &filter) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    match reading(
        &app,
        app.history.checks(filter.dataset.as_deref(), Some(since)),
    )
    .await
    {
        Ok(rows) => axum::Json(json!({"checks": rows.iter().map(check_json).collect::<Vec<_>>()}))
            .into_response(),
        Err(refused) => refused,
    }
}

pub(super) async fn datasets(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(filter): Query<Filter>,
    headers: HeaderMap,
) -> Response {
    let since = match reader(&app, &peer, &headers, &filter) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let read = async {
        let checks = app.history.checks(None, Some(since)).await?;
        let points = app
            .history
            .points_where(&PointQuery {
                since: Some(since),
                ..Default::default()
            })
            .await?;
        Ok((checks, points))
    };
    let (checks, points) = match reading(&app, read).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    // per dataset: its last scan, that scan's outcomes, and the series it has
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for c in &checks {
        let name = format!("{}/{}", c.data_source, c.dataset);
        let newest = last.entry(name.clone()).or_default();
        if c.measured_at > *newest {
            *newest = c.measured_at.clone();
        }
    }
    for c in &checks {
        let name = format!("{}/{}", c.data_source, c.dataset);
        let entry = out
            .entry(name.clone())
            .or_insert_with(|| dataset_entry(&name));
        entry["last_scan_at"] = json!(last.get(&name));
        if last.get(&name) == Some(&c.measured_at) {
            let n = &mut entry["checks"][c.check.outcome.as_str()];
            *n = json!(n.as_u64().unwrap_or(0) + 1);
        }
    }
    for p in &points {
        let name = format!("{}/{}", p.data_source, p.dataset);
        let entry = out
            .entry(name.clone())
            .or_insert_with(|| dataset_entry(&name));
        if entry["last_scan_at"]
            .as_str()
            .is_none_or(|t| p.measured_at.as_str() > t)
        {
            entry["last_scan_at"] = json!(p.measured_at);
        }
        let series = json!({"metric": p.metric, "column": p.column});
        let list = entry["series"].as_array_mut().expect("series is a list");
        if !list.contains(&series) {
            list.push(series);
        }
    }
    axum::Json(json!({"datasets": out.into_values().collect::<Vec<_>>()})).into_response()
}

/// A dataset of `GET /api/v1/datasets` before its scans are counted.
fn dataset_entry(name: &str) -> Value {
    json!({"dataset": name, "last_scan_at": null,
           "checks": {"pass": 0, "warn": 0, "fail": 0, "not_evaluated": 0},
           "series": []})
}

pub(super) async fn series(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(filter): Query<Filter>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = read_scope(&app, &peer, &headers) {
        return refused;
    }
    let (Some(dataset), Some(metric)) = (&filter.dataset, &filter.metric) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "dataset and metric are required (column for a column's metric)",
        );
    };
    let since = match filter.since() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let metrics = [metric.clone()];
    let query = PointQuery {
        dataset: Some(dataset),
        metrics: Some(&metrics),
        since: Some(since),
        ..Default::default()
    };
    let points = match reading(&app, app.history.points_where(&query)).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let points: Vec<Value> = points
        .iter()
        .filter(|p| p.column.as_deref() == filter.column.as_deref())
        .map(|p| {
            let v = p.verdict.as_ref();
            json!({
                "measured_at": p.measured_at,
                "value": p.value,
                "outcome": v.map(|v| outcome_name(v.outcome)),
                "expected": v.and_then(|v| v.expected),
                "lower": v.and_then(|v| v.lower),
                "upper": v.and_then(|v| v.upper),
                "kind": v.and_then(|v| v.kind).map(|k| k.as_str()),
            })
        })
        .collect();
    axum::Json(json!({
        "dataset": dataset, "metric": metric, "column": filter.column, "points": points
    }))
    .into_response()
}

fn outcome_name(o: PointOutcome) -> &'static str {
    match o {
        PointOutcome::NotMonitored => "not_monitored",
        PointOutcome::Learning => "learning",
        PointOutcome::Pass => "pass",
        PointOutcome::Anomaly => "anomaly",
        PointOutcome::Excluded => "excluded",
    }
}

/// Anomalies the monitors flagged and checks that failed, newest first.
pub(super) async fn incidents(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(filter): Query<Filter>,
    headers: HeaderMap,
) -> Response {
    let since = match reader(&app, &peer, &headers, &filter) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let read = async {
        let points = app
            .history
            .points_where(&PointQuery {
                dataset: filter.dataset.as_deref(),
                since: Some(since),
                ..Default::default()
            })
            .await?;
        let checks = app
            .history
            .checks(filter.dataset.as_deref(), Some(since))
            .await?;
        Ok((points, checks))
    };
    let (points, checks) = match reading(&app, read).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let mut out: Vec<Value> = points
        .iter()
        .filter_map(|p| {
            let v = p.verdict.as_ref()?;
            (v.outcome == PointOutcome::Anomaly).then(|| {
                json!({
                    "kind": "anomaly",
                    "measured_at": p.measured_at,
                    "dataset": format!("{}/{}", p.data_source, p.dataset),
                    "metric": p.metric,
                    "column": p.column,
                    "value": p.value,
                    "expected": v.expected,
                    "lower": v.lower,
                    "upper": v.upper,
                    "reason": v.reason,
                })
            })
        })
        .collect();
    out.extend(
        checks
            .iter()
            .filter(|c| c.check.outcome == crate::results::Outcome::Fail)
            .map(|c| {
                let mut v = check_json(c);
                v["kind"] = json!("check_failed");
                v
            }),
    );
    out.sort_by(|a, b| b["measured_at"].as_str().cmp(&a["measured_at"].as_str()));
    axum::Json(json!({"incidents": out})).into_response()
}

pub(super) async fn schema_changes(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(filter): Query<Filter>,
    headers: HeaderMap,
) -> Response {
    let since = match reader(&app, &peer, &headers, &filter) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let events = match reading(
        &app,
        app.history.events(filter.dataset.as_deref(), Some(since)),
    )
    .await
    {
        Ok(e) => e,
        Err(refused) => return refused,
    };
    let out: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "measured_at": e.measured_at,
                "dataset": e.dataset,
                "kind": e.event.kind,
                "column": e.event.column,
                "old": e.event.old,
                "new": e.event.new,
                "level": e.level,
            })
        })
        .collect();
    axum::Json(json!({"schema_changes": out})).into_response()
}

pub(super) async fn openapi(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = read_scope(&app, &peer, &headers) {
        return refused;
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}
