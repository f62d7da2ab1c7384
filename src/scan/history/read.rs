//! Reading the history back: series of points, monitor points, snapshots, events,
//! checks, accepted changes, and the report's read in one session.

use super::*;

/// Points as `series` reads them: by the series' number (1, 2, ... as ROW_NUMBER gives
/// them), in any order. Columns: number, time, value, expected, lower, upper. Values are
/// read where they lie, never moved or copied.
#[derive(Default)]
pub(super) struct SeriesSink {
    points: Vec<Vec<SeriesValue>>,
}

pub(super) static NULL: Value = Value::Null;

/// The points of a series' number, made when it is first seen.
pub(super) fn slot(points: &mut Vec<Vec<SeriesValue>>, id: usize) -> &mut Vec<SeriesValue> {
    if id >= points.len() {
        points.resize_with(id + 1, Vec::new);
    }
    &mut points[id]
}

impl SeriesSink {
    /// One point, its values by column.
    pub(super) fn point<'a>(&mut self, get: impl Fn(usize) -> &'a Value) {
        let id = match get(0) {
            Value::Int(n) => usize::try_from(*n).ok(),
            other => other.as_f64().filter(|n| *n >= 0.0).map(|n| n as usize),
        };
        let Some(id) = id else {
            return;
        };
        let Some(at) = seconds_of(Some(get(1))) else {
            return;
        };
        slot(&mut self.points, id).push(SeriesValue {
            at,
            value: get(2).as_f64(),
            expected: get(3).as_f64(),
            lower: get(4).as_f64(),
            upper: get(5).as_f64(),
            anomaly: None,
        });
    }
}

impl crate::exec::RowSink for SeriesSink {
    fn columns(&mut self, _names: Vec<String>) {}

    fn wants_more(&self) -> bool {
        true
    }

    fn row(&mut self, r: &mut Vec<Value>) {
        self.point(|c| r.get(c).unwrap_or(&NULL));
    }

    fn chunk(&mut self, columns: &mut [Vec<Value>]) {
        for i in 0..columns.first().map_or(0, Vec::len) {
            self.point(|c| columns.get(c).and_then(|c| c.get(i)).unwrap_or(&NULL));
        }
    }
}

/// Series by dataset (`source/path`), datasets in order, a dataset's series by column
/// and metric, points oldest first, from the series' names and points by number and the
/// anomalies (names, time, kind, reason); series with no point of a complete scan are
/// left out.
pub(super) fn series_by_dataset(
    names: Vec<Vec<Value>>,
    mut points: Vec<Vec<SeriesValue>>,
    anomalies: Vec<Vec<Value>>,
) -> Vec<(String, Vec<SeriesRows>)> {
    for series in points.iter_mut() {
        series.sort_by_key(|p| p.at);
    }
    let name = |r: &[Value]| {
        (
            text(r.get(1)),
            text(r.get(2)),
            text(r.get(3)),
            text(r.get(4)),
        )
    };
    let number: HashMap<_, usize> = names
        .iter()
        .filter_map(|r| Some((name(&r[..]), r.first()?.as_f64()? as usize)))
        .collect();
    for r in anomalies {
        let key = (
            text(r.first()),
            text(r.get(1)),
            text(r.get(2)),
            text(r.get(3)),
        );
        let id = number.get(&key).copied();
        let (Some(series), Some(at)) = (id.and_then(|id| points.get_mut(id)), seconds_of(r.get(4)))
        else {
            continue;
        };
        // the first point of that time not marked yet (two scans may share a time)
        let first = series.partition_point(|p| p.at < at);
        if let Some(p) = series[first..]
            .iter_mut()
            .take_while(|p| p.at == at)
            .find(|p| p.anomaly.is_none())
        {
            let kind = text(r.get(5)).unwrap_or_else(|| "anomaly".into());
            p.anomaly = Some(match text(r.get(6)) {
                Some(reason) => format!("{kind}: {reason}"),
                None => kind,
            });
        }
    }
    let mut by_dataset: std::collections::BTreeMap<String, Vec<SeriesRows>> = Default::default();
    for r in names {
        let Some(id) = r.first().and_then(Value::as_f64).map(|n| n as usize) else {
            continue;
        };
        let Some(points) = points.get_mut(id).map(std::mem::take) else {
            continue;
        };
        if points.is_empty() {
            continue;
        }
        by_dataset
            .entry(format!(
                "{}/{}",
                text(r.get(1)).unwrap_or_default(),
                text(r.get(2)).unwrap_or_default()
            ))
            .or_default()
            .push(SeriesRows {
                column: text(r.get(3)),
                metric: text(r.get(4)).unwrap_or_default(),
                points,
            });
    }
    by_dataset
        .into_iter()
        .map(|(name, mut series)| {
            series.sort_by(|a, b| (&a.column, &a.metric).cmp(&(&b.column, &b.metric)));
            (name, series)
        })
        .collect()
}

/// A time as the store's engine hands it back (a timestamp; text from some engines).
pub(super) fn seconds_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Timestamp(us) => Some(us.div_euclid(1_000_000)),
        Value::Text(t) => parse_timestamp(t).map(|t| t.timestamp()),
        _ => None,
    }
}

pub(super) fn text_is(v: Option<&Value>, expected: Option<&str>) -> bool {
    match (v, expected) {
        (Some(Value::Text(t)), Some(e)) => t == e,
        (None | Some(Value::Null), None) => true,
        _ => false,
    }
}

/// Which recorded points to read.
#[derive(Debug, Default)]
pub struct PointQuery<'a> {
    pub data_source: Option<&'a str>,
    /// data source and path
    pub dataset: Option<&'a str>,
    pub metrics: Option<&'a [String]>,
    pub since: Option<DateTime<Utc>>,
}

/// A recorded monitor event, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub measured_at: String,
    /// data source and path
    pub dataset: String,
    pub event: Event,
    pub level: String,
}

pub(super) fn event_row(r: &[Value]) -> EventRow {
    EventRow {
        measured_at: text(r.first()).unwrap_or_default(),
        dataset: format!(
            "{}/{}",
            text(r.get(1)).unwrap_or_default(),
            text(r.get(2)).unwrap_or_default()
        ),
        event: Event {
            kind: text(r.get(3)).unwrap_or_default(),
            column: text(r.get(4)),
            old: text(r.get(5)),
            new: text(r.get(6)),
        },
        level: text(r.get(7)).unwrap_or_default(),
    }
}

pub(super) fn check_row(r: &[Value]) -> CheckRow {
    CheckRow {
        scan_id: text(r.first()).unwrap_or_default(),
        measured_at: text(r.get(1)).unwrap_or_default(),
        data_source: text(r.get(2)).unwrap_or_default(),
        dataset: text(r.get(3)).unwrap_or_default(),
        check: CheckRecord {
            check_id: text(r.get(4)).unwrap_or_default(),
            check_type: text(r.get(5)).unwrap_or_default(),
            name: text(r.get(6)).unwrap_or_default(),
            column: text(r.get(7)),
            outcome: crate::results::Outcome::named(&text(r.get(8)).unwrap_or_default()),
            value: r.get(9).and_then(Value::as_f64),
            threshold: text(r.get(10)).unwrap_or_default(),
            failed_rows: match (text(r.get(11)), text(r.get(12))) {
                (Some(store), Some(table)) => Some((
                    store,
                    table,
                    r.get(13).and_then(Value::as_f64).unwrap_or(0.0) as usize,
                )),
                _ => None,
            },
        },
    }
}

/// What a report draws, as `HistoryStore::report` reads it.
#[derive(Debug, Default)]
pub struct ReportHistory {
    /// series by dataset (`source/path`), in order
    pub series: Vec<(String, Vec<SeriesRows>)>,
    pub events: Vec<EventRow>,
    pub checks: Vec<CheckRow>,
}

/// A value read back as text (NULL as None).
pub(super) fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::to_text)
}

impl HistoryStore {
    /// Rows of a query on the store, through its engine's read-only session; no rows when
    /// the store has never been written (no file, or no tables yet).
    pub(super) async fn rows(&self, sql: &str) -> Result<Vec<Vec<Value>>, RunError> {
        let Some((_exec, mut session)) = self.read_session().await? else {
            return Ok(Vec::new());
        };
        let rows = session.rows(sql, Limits::rows(usize::MAX)).await;
        session.finish().await;
        rows.map(|r| r.rows).map_err(|e| RunError::Store(e.into()))
    }

    /// A read-only session on the store (with its executor, which must outlive it), or
    /// None when the store has never been written (no file, or no tables yet). The store
    /// is made whole first (`upgrade`), through the same session when nothing lacks.
    pub(super) async fn read_session(
        &self,
    ) -> Result<
        Option<(
            std::sync::Arc<dyn crate::exec::Executor>,
            Box<dyn crate::exec::Session>,
        )>,
        RunError,
    > {
        let Some(ds) = self.location.reader() else {
            return Ok(None);
        };
        let (mut exec, mut session) = crate::store::open_session(&ds).await?;
        if self.whole(&mut *session).await {
            self.upgraded
                .store(true, std::sync::atomic::Ordering::Release);
            return Ok(Some((exec, session)));
        }
        if !self.upgraded.load(std::sync::atomic::Ordering::Acquire) {
            let lacking = self.lacking(&mut *session).await;
            match lacking {
                Ok(l) if l.columns.is_empty() && !l.tables => self.make_whole(l).await?,
                lacking => {
                    // the store is written on a connection of its own: this one goes first
                    session.finish().await;
                    drop(session);
                    drop(exec);
                    self.make_whole(lacking?).await?;
                    (exec, session) = crate::store::open_session(&ds).await?;
                }
            }
        }
        match session.columns(&self.location.table_ref(SCANS)).await {
            Ok(Some(_)) => Ok(Some((exec, session))),
            Ok(None) => {
                session.finish().await;
                Ok(None)
            }
            Err(e) => {
                session.finish().await;
                Err(RunError::Store(e.into()))
            }
        }
    }

    /// A time as a string literal of the store's SQL.
    pub(super) fn time_literal(&self, t: DateTime<Utc>) -> String {
        self.location
            .dialect()
            .string_literal(&t.format(crate::sql::ast::STORE_TIME).to_string())
    }

    /// The latest snapshot of each dataset of a data source (complete scans only), and
    /// whether the source was scanned before at all.
    pub async fn last_snapshots(
        &self,
        data_source: &str,
    ) -> Result<(bool, HashMap<String, Vec<SnapshotColumn>>), RunError> {
        let d = self.location.dialect();
        let ds = d.string_literal(data_source);
        let (snapshots, scans) = (self.location.table(SNAPSHOTS), self.location.table(SCANS));
        let last = format!(
            "SELECT MAX(s.measured_at) FROM {snapshots} s JOIN {scans} c ON c.scan_id = s.scan_id WHERE s.data_source = {ds}"
        );
        let sql = format!(
            "SELECT s.dataset, {} FROM {snapshots} s JOIN {scans} c ON c.scan_id = s.scan_id \
             WHERE s.data_source = {ds} AND s.measured_at = ({last})",
            d.cast_text("s.columns")
        );
        let rows = self.rows(&sql).await?;
        let seen = !rows.is_empty();
        let mut out = HashMap::new();
        for r in rows {
            if let (Some(Value::Text(dataset)), Some(Value::Text(cols))) = (r.first(), r.get(1)) {
                let cols: Vec<SnapshotColumn> = serde_json::from_str(cols)
                    .map_err(|e| RunError::Store(StoreError::unreadable("a schema snapshot", e)))?;
                out.insert(dataset.clone(), cols);
            }
        }
        Ok((seen, out))
    }

    /// `AND` clauses selecting one dataset (`source/path`) of table alias `a`.
    pub(super) fn dataset_filter(&self, a: &str, dataset: Option<&str>) -> String {
        let d = self.location.dialect();
        match dataset.and_then(|ds| ds.split_once('/')) {
            Some((source, path)) => format!(
                " AND {a}.data_source = {} AND {a}.dataset = {}",
                d.string_literal(source),
                d.string_literal(path)
            ),
            None => String::new(),
        }
    }

    /// An `AND` clause keeping rows of table alias `a` measured since a time, if any.
    pub(super) fn since_filter(&self, a: &str, since: Option<DateTime<Utc>>) -> String {
        since.map_or_else(String::new, |t| {
            format!(" AND {a}.measured_at >= {}", self.time_literal(t))
        })
    }

    /// Recorded points of complete scans, oldest first.
    pub async fn points(
        &self,
        dataset: Option<&str>,
        metric: Option<&str>,
    ) -> Result<Vec<PointRow>, RunError> {
        let metrics: Vec<String> = metric.into_iter().map(str::to_string).collect();
        self.points_where(&PointQuery {
            dataset,
            metrics: metric.map(|_| metrics.as_slice()),
            ..PointQuery::default()
        })
        .await
    }

    /// The recorded points of a data source's `metrics` since `since`, as the anomaly
    /// monitor rebuilds its detectors from them: by series, oldest first. Only what the
    /// detector needs is read, times as numbers, so a scan's monitoring stays cheap.
    pub async fn monitor_points(
        &self,
        source: &str,
        metrics: &[String],
        since: DateTime<Utc>,
    ) -> Result<HashMap<crate::scan::anomalies::SeriesKey, Vec<MonitorPoint>>, RunError> {
        let mut out: HashMap<crate::scan::anomalies::SeriesKey, Vec<MonitorPoint>> = HashMap::new();
        if metrics.is_empty() {
            return Ok(out);
        }
        let d = self.location.dialect();
        let (points, scans) = (self.location.table(POINTS), self.location.table(SCANS));
        let list: Vec<String> = metrics.iter().map(|m| d.string_literal(m)).collect();
        let sql = format!(
            "SELECT p.dataset, p.column_name, p.metric, p.measured_at, p.value, p.outcome, \
             p.anomaly_kind, p.reset_from \
             FROM {points} p JOIN {scans} c ON c.scan_id = p.scan_id \
             WHERE p.data_source = {} AND p.metric IN ({}) AND p.measured_at >= {} \
             ORDER BY p.dataset, p.column_name, p.metric, p.measured_at",
            d.string_literal(source),
            list.join(", "),
            self.time_literal(since)
        );
        let rows = self.rows(&sql).await?;
        // rows come series by series: a new key only where the series changes
        let mut current: Option<(crate::scan::anomalies::SeriesKey, Vec<MonitorPoint>)> = None;
        for r in &rows {
            let same = current.as_ref().is_some_and(|((ds, col, m), _)| {
                text_is(r.first(), Some(ds))
                    && text_is(r.get(1), col.as_deref())
                    && text_is(r.get(2), Some(m))
            });
            if !same {
                if let Some((k, v)) = current.take() {
                    out.insert(k, v);
                }
                let key = (
                    text(r.first()).unwrap_or_default(),
                    text(r.get(1)),
                    text(r.get(2)).unwrap_or_default(),
                );
                current = Some((key, Vec::new()));
            }
            let Some(at) = seconds_of(r.get(3)) else {
                continue;
            };
            let outcome = match r.get(5) {
                Some(Value::Text(t)) => PointOutcome::named(t),
                _ => PointOutcome::NotMonitored,
            };
            let kind = match r.get(6) {
                Some(Value::Text(t)) => AnomalyKind::named(t),
                _ => None,
            };
            if let Some((_, v)) = current.as_mut() {
                v.push(MonitorPoint {
                    at,
                    value: r.get(4).and_then(Value::as_f64),
                    outcome,
                    kind,
                    reset_from: seconds_of(r.get(7)),
                });
            }
        }
        if let Some((k, v)) = current.take() {
            out.insert(k, v);
        }
        Ok(out)
    }

    pub(super) fn datasets_sql(&self, since: DateTime<Utc>) -> String {
        format!(
            "SELECT DISTINCT p.data_source, p.dataset FROM {} p \
             WHERE p.measured_at >= {} ORDER BY p.data_source, p.dataset",
            self.location.table(POINTS),
            self.time_literal(since)
        )
    }

    /// Every series recorded by complete scans since `since` (of the datasets `only`
    /// names, or all), oldest point first: what a report draws. The points' rows carry
    /// numbers only: each series is numbered in SQL, its names come once in a statement
    /// of their own, as do the few anomalies' texts, and each point is its series'
    /// number, time and values, read as they arrive (column by column where the engine
    /// reads columns), so memory holds the points, never the result's rows.
    pub(super) async fn series_in(
        &self,
        session: &mut dyn crate::exec::Session,
        since: DateTime<Utc>,
        only: Option<&[(String, String)]>,
    ) -> Result<Vec<(String, Vec<SeriesRows>)>, crate::exec::ExecError> {
        let d = self.location.dialect();
        let (points, scans) = (self.location.table(POINTS), self.location.table(SCANS));
        let since = self.time_literal(since);
        let wanted = match only {
            Some([]) => return Ok(Vec::new()),
            Some(datasets) => {
                let each: Vec<String> = datasets
                    .iter()
                    .map(|(s, p)| {
                        format!(
                            "(p.data_source = {} AND p.dataset = {})",
                            d.string_literal(s),
                            d.string_literal(p)
                        )
                    })
                    .collect();
                format!(" AND ({})", each.join(" OR "))
            }
            None => String::new(),
        };
        // each series numbered: the same numbers in both statements, as the session reads
        // one snapshot and the numbering orders by the series' whole name. A dataset's own
        // metrics have no column: '' stands for none in the join (no engine takes an
        // empty column name)
        let numbered = format!(
            "WITH s AS (SELECT p.data_source, p.dataset, p.column_name, p.metric, \
             COALESCE(p.column_name, '') AS column_key, \
             ROW_NUMBER() OVER (ORDER BY p.data_source, p.dataset, p.column_name, p.metric) AS id, \
             COUNT(*) AS n FROM {points} p WHERE p.measured_at >= {since}{wanted} \
             GROUP BY p.data_source, p.dataset, p.column_name, p.metric)"
        );
        let names = format!(
            "{numbered} SELECT s.id, s.data_source, s.dataset, s.column_name, s.metric, s.n FROM s"
        );
        let joined = format!(
            "FROM {points} p JOIN {scans} c ON c.scan_id = p.scan_id \
             JOIN s ON s.data_source = p.data_source AND s.dataset = p.dataset \
             AND s.metric = p.metric AND s.column_key = COALESCE(p.column_name, '') \
             WHERE p.measured_at >= {since}"
        );
        let values = format!(
            "{numbered} SELECT s.id, p.measured_at, p.value, p.expected, p.lower_bound, \
             p.upper_bound {joined}"
        );
        // anomalies are few: their texts come on their own, not as a column of every
        // point, by the series' names (the numbering is not worth computing for them)
        let anomalies = format!(
            "SELECT p.data_source, p.dataset, p.column_name, p.metric, p.measured_at, \
             p.anomaly_kind, p.reason FROM {points} p JOIN {scans} c ON c.scan_id = p.scan_id \
             WHERE p.measured_at >= {since} AND p.outcome = {}",
            d.string_literal("anomaly")
        );
        let mut sink = SeriesSink::default();
        let all = Limits::rows(usize::MAX);
        let names = session.rows(&names, all).await?.rows;
        // each series' room made at once, from its count: no growing and copying
        for r in &names {
            let number = |i: usize| r.get(i).and_then(Value::as_f64).map(|n| n as usize);
            if let (Some(id), Some(n)) = (number(0), number(5)) {
                slot(&mut sink.points, id).reserve_exact(n);
            }
        }
        session.each_row(&values, &mut sink).await?;
        let anomalies = session.rows(&anomalies, all).await?.rows;
        Ok(series_by_dataset(names, sink.points, anomalies))
    }

    /// Recorded points of complete scans that `q` selects, oldest first.
    pub async fn points_where(&self, q: &PointQuery<'_>) -> Result<Vec<PointRow>, RunError> {
        let d = self.location.dialect();
        let (points, scans) = (self.location.table(POINTS), self.location.table(SCANS));
        let mut filter = self.dataset_filter("p", q.dataset);
        if let Some(source) = q.data_source {
            filter.push_str(&format!(
                " AND p.data_source = {}",
                d.string_literal(source)
            ));
        }
        if let Some(metrics) = q.metrics {
            if metrics.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = metrics.iter().map(|m| d.string_literal(m)).collect();
            filter.push_str(&format!(" AND p.metric IN ({})", list.join(", ")));
        }
        if let Some(since) = q.since {
            filter.push_str(&format!(
                " AND p.measured_at >= {}",
                self.time_literal(since)
            ));
        }
        let sql = format!(
            "SELECT {}, p.data_source, p.dataset, p.column_name, p.metric, p.value, \
             p.outcome, p.expected, p.lower_bound, p.upper_bound, p.anomaly_kind, p.reason, {} \
             FROM {points} p JOIN {scans} c ON c.scan_id = p.scan_id WHERE 1 = 1{filter} \
             ORDER BY p.measured_at, p.data_source, p.dataset, p.column_name, p.metric",
            d.cast_text("p.measured_at"),
            d.cast_text("p.reset_from")
        );
        Ok(self
            .rows(&sql)
            .await?
            .iter()
            .map(|r| PointRow {
                measured_at: text(r.first()).unwrap_or_default(),
                data_source: text(r.get(1)).unwrap_or_default(),
                dataset: text(r.get(2)).unwrap_or_default(),
                column: text(r.get(3)),
                metric: text(r.get(4)).unwrap_or_default(),
                value: r.get(5).and_then(Value::as_f64),
                verdict: text(r.get(6)).map(|outcome| RecordedVerdict {
                    outcome: PointOutcome::named(&outcome),
                    expected: r.get(7).and_then(Value::as_f64),
                    lower: r.get(8).and_then(Value::as_f64),
                    upper: r.get(9).and_then(Value::as_f64),
                    kind: text(r.get(10)).as_deref().and_then(AnomalyKind::named),
                    reason: text(r.get(11)),
                    reset_from: text(r.get(12)),
                }),
            })
            .collect())
    }

    /// Changes accepted for series of a data source (or every one), oldest first.
    pub async fn accepted(&self, data_source: Option<&str>) -> Result<Vec<Accepted>, RunError> {
        let d = self.location.dialect();
        let filter = data_source.map_or(String::new(), |s| {
            format!(" WHERE data_source = {}", d.string_literal(s))
        });
        let sql = format!(
            "SELECT {}, data_source, dataset, column_name, metric, {} FROM {}{filter} ORDER BY measured_at",
            d.cast_text("measured_at"),
            d.cast_text("from_at"),
            self.location.table(ACCEPTED)
        );
        Ok(self
            .rows(&sql)
            .await?
            .iter()
            .map(|r| Accepted {
                measured_at: text(r.first()).unwrap_or_default(),
                dataset: format!(
                    "{}/{}",
                    text(r.get(1)).unwrap_or_default(),
                    text(r.get(2)).unwrap_or_default()
                ),
                column: text(r.get(3)),
                metric: text(r.get(4)).unwrap_or_default(),
                from: text(r.get(5)).unwrap_or_default(),
            })
            .collect())
    }

    /// Monitor events of complete scans, oldest first.
    pub async fn events(
        &self,
        dataset: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<EventRow>, RunError> {
        let sql = self.events_sql(dataset, since);
        Ok(self
            .rows(&sql)
            .await?
            .iter()
            .map(|r| event_row(r))
            .collect())
    }

    pub(super) fn events_sql(&self, dataset: Option<&str>, since: Option<DateTime<Utc>>) -> String {
        let d = self.location.dialect();
        let (events, scans) = (self.location.table(EVENTS), self.location.table(SCANS));
        format!(
            "SELECT {}, e.data_source, e.dataset, e.kind, e.column_name, e.old_value, e.new_value, e.level \
             FROM {events} e JOIN {scans} c ON c.scan_id = e.scan_id WHERE 1 = 1{}{} \
             ORDER BY e.measured_at, e.data_source, e.dataset",
            d.cast_text("e.measured_at"),
            self.dataset_filter("e", dataset),
            self.since_filter("e", since)
        )
    }

    /// Check outcomes of complete scans (of one dataset, or every one; since a time, or
    /// ever), oldest first.
    pub async fn checks(
        &self,
        dataset: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<CheckRow>, RunError> {
        let sql = self.checks_sql(dataset, since, None);
        Ok(self
            .rows(&sql)
            .await?
            .iter()
            .map(|r| check_row(r))
            .collect())
    }

    /// The checks SQL; with `recent`, of each dataset's last that many scan times only.
    pub(super) fn checks_sql(
        &self,
        dataset: Option<&str>,
        since: Option<DateTime<Utc>>,
        recent: Option<usize>,
    ) -> String {
        let d = self.location.dialect();
        let (checks, scans) = (self.location.table(CHECKS), self.location.table(SCANS));
        let filter = format!(
            "{}{}",
            self.dataset_filter("k", dataset),
            self.since_filter("k", since)
        );
        let (with, join) = match recent {
            None => (String::new(), String::new()),
            Some(n) => (
                format!(
                    "WITH recent AS (SELECT x.data_source, x.dataset, x.measured_at, \
                     DENSE_RANK() OVER (PARTITION BY x.data_source, x.dataset \
                     ORDER BY x.measured_at DESC) AS r \
                     FROM (SELECT DISTINCT k.data_source, k.dataset, k.measured_at \
                     FROM {checks} k JOIN {scans} c ON c.scan_id = k.scan_id \
                     WHERE 1 = 1{filter}) x) "
                ),
                format!(
                    " JOIN recent ON recent.data_source = k.data_source \
                     AND recent.dataset = k.dataset AND recent.measured_at = k.measured_at \
                     AND recent.r <= {n}"
                ),
            ),
        };
        format!(
            "{with}SELECT k.scan_id, {}, k.data_source, k.dataset, k.check_id, k.check_type, \
             k.check_name, k.column_name, k.outcome, k.value, k.threshold, \
             k.failed_rows_store, k.failed_rows_table, k.failed_rows_captured \
             FROM {checks} k JOIN {scans} c ON c.scan_id = k.scan_id{join} WHERE 1 = 1{filter} \
             ORDER BY k.measured_at, k.data_source, k.dataset",
            d.cast_text("k.measured_at"),
        )
    }

    /// What a report draws since `since`, read in one session (one snapshot of the
    /// store): the series of the datasets `select` takes (all without it; the rest are
    /// never read), schema changes, and the checks of each dataset's last `scans` scans.
    pub async fn report(
        &self,
        since: DateTime<Utc>,
        select: Option<&(dyn Fn(&str) -> bool + Sync)>,
        scans: usize,
    ) -> Result<ReportHistory, RunError> {
        let Some((_exec, mut session)) = self.read_session().await? else {
            return Ok(ReportHistory::default());
        };
        let read = async {
            let all = Limits::rows(usize::MAX);
            let mut selected = None;
            if let Some(select) = select {
                let datasets = session.rows(&self.datasets_sql(since), all).await?.rows;
                let taken: Vec<(String, String)> = datasets
                    .iter()
                    .filter_map(|r| Some((text(r.first())?, text(r.get(1))?)))
                    .filter(|(source, path)| select(&format!("{source}/{path}")))
                    .collect();
                selected = Some(taken);
            }
            let series = self
                .series_in(&mut *session, since, selected.as_deref())
                .await?;
            let events = session
                .rows(&self.events_sql(None, Some(since)), all)
                .await?
                .rows;
            let checks = session
                .rows(&self.checks_sql(None, Some(since), Some(scans)), all)
                .await?
                .rows;
            Ok::<_, crate::exec::ExecError>(ReportHistory {
                series,
                events: events.iter().map(|r| event_row(r)).collect(),
                checks: checks.iter().map(|r| check_row(r)).collect(),
            })
        }
        .await;
        session.finish().await;
        read.map_err(|e| RunError::Store(e.into()))
    }

    /// A dataset's schema snapshots, oldest first.
    pub async fn snapshots(
        &self,
        dataset: &str,
    ) -> Result<Vec<(String, Vec<SnapshotColumn>)>, RunError> {
        let d = self.location.dialect();
        let (snapshots, scans) = (self.location.table(SNAPSHOTS), self.location.table(SCANS));
        let sql = format!(
            "SELECT {}, {} FROM {snapshots} s JOIN {scans} c ON c.scan_id = s.scan_id \
             WHERE 1 = 1{} ORDER BY s.measured_at",
            d.cast_text("s.measured_at"),
            d.cast_text("s.columns"),
            self.dataset_filter("s", Some(dataset))
        );
        self.rows(&sql)
            .await?
            .iter()
            .map(|r| {
                let cols = serde_json::from_str(&text(r.get(1)).unwrap_or_default())
                    .map_err(|e| RunError::Store(StoreError::unreadable("a schema snapshot", e)))?;
                Ok((text(r.first()).unwrap_or_default(), cols))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{self, at, scan};
    use super::*;

    /// Reads filter by dataset and time, and the report's read holds the series, the
    /// events and nothing of other datasets; a store never written reads as empty.
    #[test]
    fn reads_filter_by_dataset_and_time_and_an_unwritten_store_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(dir.path());
        testing::block_on(async {
            assert!(store.points(None, None).await.unwrap().is_empty());
            assert!(store.events(None, None).await.unwrap().is_empty());
            for day in 1..=3 {
                let s = scan(&format!("s{day}"), at(day), 100.0 + f64::from(day));
                store.record(&s).await.unwrap();
            }
            let recent = store
                .points_where(&PointQuery {
                    dataset: Some("shop/main/orders"),
                    since: Some(at(2)),
                    ..PointQuery::default()
                })
                .await
                .unwrap();
            assert_eq!(recent.len(), 2, "{recent:?}");
            assert!(store
                .points(Some("shop/main/other"), None)
                .await
                .unwrap()
                .is_empty());
            let events = store.events(Some("shop/main/orders"), None).await.unwrap();
            assert_eq!(events.len(), 3, "{events:?}");
            let report = store.report(at(1), None, 10).await.unwrap();
            assert_eq!(report.series.len(), 1);
            assert_eq!(report.series[0].0, "shop/main/orders");
            let rows = &report.series[0].1;
            let counts = rows.iter().find(|s| s.metric == "row_count").unwrap();
            assert_eq!(counts.points.len(), 3);
            assert_eq!(counts.points[2].value, Some(103.0));
        });
    }
}
