//! One self-contained HTML page of data quality over time: no script, font or
//! stylesheet from the network; charts are inline SVG drawn here. Pure: it takes a
//! `Page` (built from the history store and the latest results by the command) and
//! returns the text.

use std::fmt::Write;

use chrono::DateTime;

use crate::model::threshold::fmt_num;
use crate::results::Outcome;

/// What the page shows.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub title: String,
    /// when the page was made (RFC 3339)
    pub generated_at: String,
    /// first and last scan shown (seconds since the epoch)
    pub range: Option<(i64, i64)>,
    pub data_sources: Vec<String>,
    pub datasets: Vec<DatasetPage>,
    /// the page holds one run (verify -o html without a history): worded for it
    pub single_run: bool,
}

#[derive(Debug, Clone, Default)]
pub struct DatasetPage {
    /// `data_source/path`
    pub name: String,
    /// the latest outcome of its checks (worst of them); None: no checks
    pub latest: Option<Outcome>,
    /// the worst check outcome of each recent scan, oldest first
    pub strip: Vec<(i64, Outcome)>,
    pub series: Vec<Series>,
    pub events: Vec<SchemaEvent>,
    /// the latest checks
    pub checks: Vec<CheckLine>,
    /// monitors alerting at the latest scan, in words
    pub alerting: Vec<String>,
    /// seconds since the newest row at the latest scan
    pub freshness: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct Series {
    pub metric: String,
    pub column: Option<String>,
    pub points: Vec<SeriesPoint>,
    /// threshold lines (a check's bounds), with their labels
    pub thresholds: Vec<(f64, String)>,
    /// the values are times (seconds since the epoch: a time column's min and max)
    pub times: bool,
    /// a check's name, for a check's series (its id otherwise names it)
    pub label: Option<String>,
    /// the unit of its values as people read it ("hours", "%"), when it has one
    pub unit: Option<String>,
}

/// A point of a series: what a chart draws (the history's read produces them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesPoint {
    /// seconds since the epoch
    pub at: i64,
    pub value: Option<f64>,
    /// the anomaly monitor's expected value and range, when it judged the point
    pub expected: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// an anomaly: its kind and reason in words
    pub anomaly: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SchemaEvent {
    pub at: i64,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct CheckLine {
    pub name: String,
    pub column: Option<String>,
    pub outcome: Outcome,
    pub value: Option<f64>,
    pub threshold: String,
    /// store, table, scan id, rows captured
    pub failed_rows: Option<(String, String, String, usize)>,
}

/// The page of one run alone: its datasets' checks, no history.
pub fn page_of(results: &crate::results::Results) -> Page {
    let at = DateTime::parse_from_rfc3339(&results.now)
        .map(|t| t.timestamp())
        .unwrap_or_default();
    let mut sources: Vec<String> = results
        .datasets
        .iter()
        .map(|d| d.data_source.clone())
        .collect();
    sources.sort();
    sources.dedup();
    Page {
        title: "Data quality of one run".into(),
        single_run: true,
        generated_at: results.ended_at.clone(),
        range: Some((at, at)),
        data_sources: sources,
        datasets: results
            .datasets
            .iter()
            .map(|d| DatasetPage {
                name: d.dataset.clone(),
                latest: (!d.checks.is_empty()).then_some(d.outcome),
                strip: vec![(at, d.outcome)],
                checks: d
                    .checks
                    .iter()
                    .map(|c| CheckLine {
                        name: c.name.clone(),
                        column: c.column.clone(),
                        outcome: c.outcome,
                        value: c.value,
                        threshold: super::threshold_words(&c.threshold),
                        failed_rows: c.failed_rows.as_ref().map(|f| {
                            (
                                f.store.clone(),
                                f.table.clone(),
                                results.scan_id.clone(),
                                f.captured,
                            )
                        }),
                    })
                    .collect(),
                ..DatasetPage::default()
            })
            .collect(),
    }
}

/// At most this many points are drawn per line; longer series are thinned, keeping each
/// bucket's lowest and highest point and every anomaly.
pub const MAX_DRAWN: usize = 240;

/// Points drawn on the whole page, shared by its lines.
const POINT_BUDGET: usize = 80_000;

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "&#x{:x};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn day(at: i64) -> String {
    DateTime::from_timestamp(at, 0).map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}

fn time(at: i64) -> String {
    DateTime::from_timestamp(at, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// A number for an axis or a tooltip: short, exact for integers.
fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", fmt_num((v / 1e9 * 100.0).round() / 100.0))
    } else if a >= 1e6 {
        format!("{}M", fmt_num((v / 1e6 * 100.0).round() / 100.0))
    } else if a >= 1e4 {
        format!("{}k", fmt_num((v / 1e3 * 10.0).round() / 10.0))
    } else if v.fract() == 0.0 {
        fmt_num(v)
    } else {
        fmt_num((v * 1000.0).round() / 1000.0)
    }
}

/// A duration in seconds as people say it.
fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86400.0)
    }
}

/// The outcome as a shape and a word, so it never rests on colour alone.
/// The class (and shape) of an outcome: pass, warn, fail, or ne (not evaluated).
fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Warn => "warn",
        Outcome::Fail => "fail",
        Outcome::NotEvaluated => "ne",
    }
}

fn outcome_mark(outcome: Outcome, title: &str) -> String {
    let class = outcome_class(outcome);
    // the shapes are drawn once per page (MARKS) and used here
    format!(
        "<svg class='mark {class}' width='12' height='12' role='img'><title>{}</title><use href='#m-{class}'/></svg>",
        esc(title)
    )
}

/// The outcome shapes, once per page: a dot, a triangle, a cross, a ring.
const MARKS: &str =
    "<symbol id='m-pass' viewBox='0 0 12 12'><circle cx='6' cy='6' r='5'/></symbol>\
<symbol id='m-warn' viewBox='0 0 12 12'><path d='M6 1 L11 11 L1 11 Z'/></symbol>\
<symbol id='m-fail' viewBox='0 0 12 12'><path d='M1 1 L11 11 M11 1 L1 11'/></symbol>\
<symbol id='m-ne' viewBox='0 0 12 12'><circle cx='6' cy='6' r='4.5' fill='none'/></symbol>";

/// Rank for sorting: failing first.
fn rank(outcome: Option<Outcome>) -> u8 {
    match outcome {
        Some(Outcome::Fail) => 0,
        Some(Outcome::NotEvaluated) => 1,
        Some(Outcome::Warn) => 2,
        Some(Outcome::Pass) => 3,
        None => 4,
    }
}

/// Thin a long series for drawing: per bucket its lowest and highest point, and every
/// anomaly; a series no longer than `max` is kept whole.
pub fn thin(points: &[SeriesPoint], max: usize) -> Vec<SeriesPoint> {
    if points.len() <= max || max < 4 {
        return points.to_vec();
    }
    let buckets = max / 2;
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(max + 16);
    for chunk in points.chunks(size) {
        let valued = chunk.iter().enumerate().filter(|(_, p)| p.value.is_some());
        let lo = valued
            .clone()
            .min_by(|a, b| {
                a.1.value
                    .partial_cmp(&b.1.value)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .map(|(i, _)| i);
        let hi = valued
            .max_by(|a, b| {
                a.1.value
                    .partial_cmp(&b.1.value)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .map(|(i, _)| i);
        for (i, p) in chunk.iter().enumerate() {
            if Some(i) == lo || Some(i) == hi || p.anomaly.is_some() {
                out.push(p.clone());
            }
        }
    }
    // the line starts and ends where the series does
    if let (Some(first), Some(kept)) = (points.first(), out.first()) {
        if kept.at != first.at {
            out.insert(0, first.clone());
        }
    }
    if let (Some(last), Some(kept)) = (points.last(), out.last()) {
        if kept.at != last.at {
            out.push(last.clone());
        }
    }
    out
}

/// The lowest and highest finite value, if any.
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |r, v| match r {
        None => Some((v, v)),
        Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
    })
}

/// The y range to draw: the data's, widened to round ticks; from zero when zero is near,
/// so a small change does not look like a big one (and said so when it is not from zero).
/// A constant series sits inside the chart: from zero when positive, a time within half
/// a day of it. Times (seconds) tick on whole minutes, hours or days.
fn y_range(values: impl Iterator<Item = f64>, times: bool) -> Option<(f64, f64, bool)> {
    let (lo, hi) = extent(values)?;
    let half = if times { 43_200.0 } else { 0.0 };
    let nice = |v: f64| {
        if times {
            nice_time_step(v)
        } else {
            nice_ceil(v)
        }
    };
    if !times && lo >= 0.0 && (lo <= hi * 0.5 || lo == hi) {
        // a round top, so the ticks read as round numbers
        let top = if hi > 0.0 { hi * 1.02 } else { 1.0 };
        return Some((0.0, nice_ceil(top), true));
    }
    let (lo, hi) = if lo == hi {
        let half = if half > 0.0 { half } else { lo.abs().max(1.0) };
        (lo - half, hi + half)
    } else {
        (lo, hi)
    };
    // three ticks (bottom, middle, top) a round step apart, the data inside
    let mut step = nice((hi - lo) * 1.05 / 2.0);
    for _ in 0..8 {
        let bottom = (lo / step).floor() * step;
        if bottom + 2.0 * step >= hi {
            return Some((bottom, bottom + 2.0 * step, bottom == 0.0));
        }
        step = nice(step * 1.01);
    }
    Some((lo, hi, lo == 0.0))
}

/// The smallest whole minute, hour, day, week or year step at or above `v` seconds.
fn nice_time_step(v: f64) -> f64 {
    const STEPS: [f64; 16] = [
        1.0,
        60.0,
        300.0,
        900.0,
        1800.0,
        3600.0,
        7200.0,
        10_800.0,
        21_600.0,
        43_200.0,
        86_400.0,
        172_800.0,
        604_800.0,
        2_592_000.0,
        7_776_000.0,
        31_536_000.0,
    ];
    STEPS
        .into_iter()
        .find(|s| *s >= v)
        .unwrap_or_else(|| (v / 31_536_000.0).ceil() * 31_536_000.0)
}

/// The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten)
/// at or above `v` (v > 0).
fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|n| *n >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * magnitude)
}

const W: f64 = 640.0;
const H: f64 = 200.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;

/// The overview's strip shows the outcomes of this many last scans of a dataset.
pub const STRIP: usize = 30;
const BOTTOM: f64 = 34.0;

/// Where a chart's values and times go on its drawing.
struct Plot {
    t0: i64,
    t1: i64,
    y0: f64,
    y1: f64,
    /// values are times (seconds): shown as times, not numbers
    times: bool,
}

impl Plot {
    fn x(&self, t: i64) -> f64 {
        let span = (self.t1 - self.t0).max(1) as f64;
        LEFT + (t - self.t0) as f64 / span * (W - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        TOP + (1.0 - (v - self.y0) / (self.y1 - self.y0)) * (H - TOP - BOTTOM)
    }

    fn clamp(&self, v: f64) -> f64 {
        v.clamp(self.y0, self.y1)
    }

    /// A value as a tooltip shows it.
    fn value(&self, v: f64) -> String {
        if self.times {
            time(v as i64)
        } else {
            num(v)
        }
    }

    /// A y tick: its room is eight characters, so a time is its day, or its hour within
    /// a day.
    fn tick(&self, v: f64) -> String {
        if !self.times {
            return num(v);
        }
        let format = if self.y1 - self.y0 >= 2.0 * 86400.0 {
            "%m-%d"
        } else {
            "%H:%M"
        };
        DateTime::from_timestamp(v as i64, 0)
            .map_or_else(String::new, |t| t.format(format).to_string())
    }

    /// A path through `points` at `value` (whole units of a 640-wide drawing: finer is
    /// not seen, and costs bytes).
    fn path<'p>(
        &self,
        points: impl Iterator<Item = &'p SeriesPoint>,
        value: impl Fn(&SeriesPoint) -> Option<f64>,
    ) -> String {
        let mut d = String::new();
        for (i, p) in points.enumerate() {
            let _ = write!(
                d,
                "{}{:.0} {:.0}",
                if i == 0 { "M" } else { "L" },
                self.x(p.at),
                self.y(self.clamp(value(p).unwrap_or_default()))
            );
        }
        d
    }
}

/// The chart's drawing area, or None when nothing can be drawn. The values and thresholds
/// set the range; the band widens it at most by their own span each way, so a wide band
/// never flattens the line (it is cut at the edges).
fn plot_of(series: &Series, points: &[SeriesPoint]) -> Option<(Plot, bool)> {
    let t0 = points.iter().map(|p| p.at).min()?;
    let t1 = points.iter().map(|p| p.at).max()?;
    let core = extent(
        points
            .iter()
            .filter_map(|p| p.value)
            .chain(series.thresholds.iter().map(|(v, _)| *v)),
    );
    let reach = core.map(|(lo, hi)| {
        let span = (hi - lo).max(hi.abs().max(lo.abs()) * 0.1).max(1.0);
        (lo - span, hi + span)
    });
    let band_values = points
        .iter()
        .flat_map(|p| [p.lower, p.upper])
        .flatten()
        .map(|v| reach.map_or(v, |(lo, hi)| v.clamp(lo, hi)));
    let values = core
        .into_iter()
        .flat_map(|(lo, hi)| [lo, hi])
        .chain(band_values);
    let (y0, y1, from_zero) = y_range(values, series.times)?;
    let plot = Plot {
        t0,
        t1,
        y0,
        y1,
        times: series.times,
    };
    Some((plot, from_zero))
}

/// A line chart of one series, with its anomaly band, anomalies, thresholds and schema
/// events, as inline SVG with a title and a text alternative.
pub fn chart(
    id: &str,
    title: &str,
    series: &Series,
    events: &[SchemaEvent],
    max_points: usize,
    shared_dates: Option<(&str, i64, i64)>,
) -> String {
    let points = thin(&series.points, max_points);
    let Some((plot, from_zero)) = plot_of(series, &points) else {
        return String::new();
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class='chart' viewBox='0 0 {W} {H}' role='img' aria-labelledby='{id}-t {id}-d'>\
         <title id='{id}-t'>{}</title><desc id='{id}-d'>{}</desc>",
        esc(title),
        esc(&chart_description(series, &plot))
    );
    axes(&mut svg, &plot, from_zero, shared_dates);
    band(&mut svg, &plot, series, max_points);
    for (v, label) in &series.thresholds {
        let yy = plot.y(*v);
        let _ = write!(
            svg,
            "<line class='threshold' x1='{LEFT}' x2='{}' y1='{yy:.0}' y2='{yy:.0}'><title>{}</title></line>",
            W - RIGHT,
            esc(label)
        );
    }
    for e in events.iter().filter(|e| e.at >= plot.t0 && e.at <= plot.t1) {
        let xx = plot.x(e.at);
        let _ = write!(
            svg,
            "<line class='event' x1='{xx:.0}' x2='{xx:.0}' y1='{TOP}' y2='{}'><title>{}: {}</title></line>",
            H - BOTTOM,
            time(e.at),
            esc(&e.text)
        );
    }
    line(&mut svg, &plot, &points);
    point_marks(&mut svg, &plot, series, &points, max_points);
    svg.push_str("</svg>");
    svg
}

/// The chart's text alternative: how many points, from when to when, their range, and
/// how many were anomalies.
fn chart_description(series: &Series, plot: &Plot) -> String {
    let (lowest, highest) = extent(series.points.iter().filter_map(|p| p.value))
        .unwrap_or((f64::INFINITY, f64::NEG_INFINITY));
    format!(
        "{} points, {} to {}, values {} to {}{}",
        series.points.len(),
        day(plot.t0),
        day(plot.t1),
        num(lowest),
        num(highest),
        match (
            series.points.iter().filter(|p| p.anomaly.is_some()).count(),
            incident_starts(series).len()
        ) {
            (0, _) => String::new(),
            (1, _) => "; 1 anomaly".to_string(),
            (n, 1) => format!("; {n} anomalies in 1 incident"),
            (n, i) => format!("; {n} anomalies in {i} incidents"),
        }
    )
}

/// The times of the anomalies that open an incident: those whose point before (with a
/// value) was no anomaly. The rest of an incident is drawn small: one mark per incident.
fn incident_starts(series: &Series) -> std::collections::HashSet<i64> {
    let mut starts = std::collections::HashSet::new();
    let mut before = false;
    for p in series.points.iter().filter(|p| p.value.is_some()) {
        if p.anomaly.is_some() && !before {
            starts.insert(p.at);
        }
        before = p.anomaly.is_some();
    }
    starts
}

/// The grid (the same for every chart: GRID, once per page), three y ticks, and the
/// first and last day (the dataset's own when they are the same: drawn once).
fn axes(svg: &mut String, plot: &Plot, from_zero: bool, shared_dates: Option<(&str, i64, i64)>) {
    svg.push_str("<use href='#grid'/>");
    for i in [0, 2] {
        let v = plot.y0 + (plot.y1 - plot.y0) * f64::from(i) / 2.0;
        let _ = write!(
            svg,
            "<text class='a e' x='{}' y='{:.0}'>{}</text>",
            LEFT - 6.0,
            plot.y(v) + 4.0,
            esc(&plot.tick(v))
        );
    }
    if !from_zero {
        let _ = write!(
            svg,
            "<text class='a note' x='{LEFT}' y='{}'>y-axis does not start at 0</text>",
            H - 4.0
        );
    }
    match shared_dates {
        Some((id, a, b)) if a == plot.t0 && b == plot.t1 => {
            let _ = write!(svg, "<use href='#{id}'/>");
        }
        _ => svg.push_str(&dates(plot.t0, plot.t1)),
    }
}

/// The anomaly band and its edges (so a band cut at the chart's edges still reads as
/// one). A range is smooth: half the line's points draw it.
fn band(svg: &mut String, plot: &Plot, series: &Series, max_points: usize) {
    let banded: Vec<SeriesPoint> = series
        .points
        .iter()
        .filter(|p| p.lower.is_some() && p.upper.is_some())
        .cloned()
        .collect();
    let band = thin(&banded, (max_points / 2).max(12));
    if band.len() < 2 {
        return;
    }
    let upper = plot.path(band.iter(), |p| p.upper);
    let mut lower = plot.path(band.iter().rev(), |p| p.lower);
    lower.replace_range(..1, "L");
    let _ = write!(
        svg,
        "<path class='band' d='{upper}{lower}Z'><title>expected range</title></path>"
    );
    for edge in [|p: &SeriesPoint| p.upper, |p: &SeriesPoint| p.lower] {
        let _ = write!(
            svg,
            "<path class='band-edge' d='{}'/>",
            plot.path(band.iter(), edge)
        );
    }
    let cut = band
        .iter()
        .any(|p| p.upper.is_some_and(|u| u > plot.y1) || p.lower.is_some_and(|l| l < plot.y0));
    if cut {
        let _ = write!(
            svg,
            "<text class='a note' x='{}' y='{}'>expected range reaches past the chart</text>",
            W - RIGHT - 250.0,
            TOP + 14.0
        );
    }
}

/// The series' line, broken where a value is missing.
fn line(svg: &mut String, plot: &Plot, points: &[SeriesPoint]) {
    let mut d = String::new();
    let mut pen_down = false;
    for p in points {
        match p.value {
            Some(v) => {
                let _ = write!(
                    d,
                    "{}{:.0} {:.0}",
                    if pen_down { "L" } else { "M" },
                    plot.x(p.at),
                    plot.y(v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let _ = write!(svg, "<path class='line' d='{d}'/>");
}

/// A point of its own (with its tooltip) for each point of a short series; for a long
/// one, its anomalies, its lowest, highest and latest points (those only when the page
/// has room).
fn point_marks(
    svg: &mut String,
    plot: &Plot,
    series: &Series,
    points: &[SeriesPoint],
    max_points: usize,
) {
    let valued = || points.iter().filter(|p| p.value.is_some());
    let cmp = |a: &&SeriesPoint, b: &&SeriesPoint| {
        a.value
            .partial_cmp(&b.value)
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    let marked: Vec<i64> = if max_points >= 120 {
        [
            valued().min_by(cmp),
            valued().max_by(cmp),
            valued().next_back(),
        ]
        .into_iter()
        .flatten()
        .map(|p| p.at)
        .collect()
    } else {
        Vec::new()
    };
    let starts = incident_starts(series);
    for p in points {
        let Some(v) = p.value else { continue };
        if series.points.len() > 60 && p.anomaly.is_none() && !marked.contains(&p.at) {
            continue;
        }
        let (class, r) = match &p.anomaly {
            Some(_) if starts.contains(&p.at) => ("pt anomaly", 4.5),
            Some(_) => ("pt anomaly goes-on", 2.5),
            None => ("pt", 2.0),
        };
        let _ = write!(
            svg,
            "<circle class='{class}' cx='{:.0}' cy='{:.0}' r='{r}'><title>{}</title></circle>",
            plot.x(p.at),
            plot.y(v),
            esc(&tooltip(plot, p, v))
        );
    }
}

/// What a point's tooltip says: when, its value, what was expected, and its anomaly.
fn tooltip(plot: &Plot, p: &SeriesPoint, v: f64) -> String {
    let value = |v| plot.value(v);
    let mut tip = format!("{}: {}", time(p.at), value(v));
    match (p.expected, p.lower, p.upper) {
        (Some(e), Some(lo), Some(hi)) => {
            let _ = write!(
                tip,
                " (expected {}, range {} to {})",
                value(e),
                value(lo),
                value(hi)
            );
        }
        (None, Some(lo), Some(hi)) => {
            let _ = write!(tip, " (expected {} to {})", value(lo), value(hi));
        }
        _ => {}
    }
    if let Some(a) = &p.anomaly {
        let _ = write!(tip, " — anomaly: {a}");
    }
    tip
}

/// The first and last day under a chart.
fn dates(t0: i64, t1: i64) -> String {
    format!(
        "<text class='a' x='{LEFT}' y='{}'>{}</text><text class='a e' x='{}' y='{}'>{}</text>",
        H - 14.0,
        day(t0),
        W - RIGHT,
        H - 14.0,
        day(t1)
    )
}

/// The grid every chart shares: three lines at the y ticks.
fn grid() -> String {
    let mut d = String::new();
    for i in 0..=2 {
        let yy = TOP + f64::from(i) / 2.0 * (H - TOP - BOTTOM);
        let _ = write!(d, "M{LEFT} {yy:.0}H{}", W - RIGHT);
    }
    format!("<path id='grid' class='grid' d='{d}'/>")
}

/// A small line of a series' values, for the overview.
pub fn sparkline(points: &[SeriesPoint]) -> String {
    let points = thin(points, 60);
    let values: Vec<(i64, f64)> = points
        .iter()
        .filter_map(|p| p.value.map(|v| (p.at, v)))
        .collect();
    let (Some(first), Some(last)) = (values.first(), values.last()) else {
        return "<span class='muted'>no data</span>".into();
    };
    let Some((y0, y1, _)) = y_range(values.iter().map(|(_, v)| *v), false) else {
        return String::new();
    };
    let span = (last.0 - first.0).max(1) as f64;
    let mut d = String::new();
    for (i, (t, v)) in values.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.0} {:.0}",
            if i == 0 { "M" } else { "L" },
            2.0 + (t - first.0) as f64 / span * 96.0,
            2.0 + (1.0 - (v - y0) / (y1 - y0)) * 20.0
        );
    }
    format!(
        "<svg class='spark' width='100' height='24' viewBox='0 0 100 24' role='img'><title>row count from {} to {}</title><path d='{}'/></svg>",
        num(first.1),
        num(last.1),
        d.trim_end()
    )
}

/// A series' heading: `row count`, `missing count of email`, `check: ` and a check's name; with the
/// unit of its values: `freshness of updated_at (hours)`.
fn series_title(s: &Series) -> String {
    let name = match (&s.label, s.metric.strip_prefix("check:")) {
        // a check may be named like a metric ("row count"): said to be the check
        (Some(label), _) => format!("check: {label}"),
        (None, Some(id)) => format!("check {id}"),
        (None, None) => {
            let metric = s.metric.trim_end_matches("_seconds").replace('_', " ");
            match &s.column {
                Some(c) => format!("{metric} of {c}"),
                None => metric,
            }
        }
    };
    match &s.unit {
        Some(u) => format!("{name} ({u})"),
        None => name,
    }
}

/// A series that shows nothing a chart would: a profile metric (not a check, not
/// judged by a monitor) with one value throughout. Its value, when it is one.
fn flat_value(s: &Series) -> Option<f64> {
    if s.metric.starts_with("check:")
        || s.points.len() < 2
        || s.points
            .iter()
            .any(|p| p.lower.is_some() || p.anomaly.is_some())
    {
        return None;
    }
    let first = s.points[0].value?;
    s.points
        .iter()
        .all(|p| p.value == Some(first))
        .then_some(first)
}

/// The order charts come in: checks, then what monitors judge, then the rest.
fn chart_rank(s: &Series) -> u8 {
    if s.metric.starts_with("check:") {
        0
    } else if s
        .points
        .iter()
        .any(|p| p.lower.is_some() || p.anomaly.is_some())
    {
        1
    } else {
        2
    }
}

const STYLE: &str = "
:root{--bg:#fff;--fg:#1d2330;--muted:#5d6679;--line:#2f6fdb;--grid:#e3e6ec;--band:rgba(47,111,219,.14);
--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--ne:#6e7781;--card:#f6f8fa;--event:#8250df}
@media (prefers-color-scheme:dark){:root{--bg:#0f1319;--fg:#e6e9ef;--muted:#9aa4b5;--line:#6ea3ff;
--grid:#2a313c;--band:rgba(110,163,255,.18);--pass:#3fb950;--warn:#d29922;--fail:#f85149;--ne:#8b949e;
--card:#161b22;--event:#bc8cff}}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;
background:var(--bg);color:var(--fg)}main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.6em 0 .4em}h3{font-size:1em;margin:1em 0 .3em}
.muted,.a{color:var(--muted);fill:var(--muted)}.a{font-size:15px}.e{text-anchor:end}.note{font-style:italic}
.totals{display:flex;flex-wrap:wrap;gap:8px;padding:0;list-style:none}
.totals li{background:var(--card);border-radius:6px;padding:6px 12px}.totals b{font-size:1.2em}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;
border-bottom:1px solid var(--grid);vertical-align:middle}th button{font:inherit;font-weight:600;
background:none;border:0;color:inherit;cursor:pointer;padding:0}th button:focus-visible,a:focus-visible,
summary:focus-visible{outline:2px solid var(--line);outline-offset:2px}a{color:var(--line)}
.mark{vertical-align:-1px;stroke-width:2}.mark.pass{fill:var(--pass);stroke:var(--pass)}
.mark.warn{fill:var(--warn);stroke:var(--warn)}.mark.fail{fill:none;stroke:var(--fail)}
.mark.ne{fill:none;stroke:var(--ne)}.strip{display:inline-flex;gap:2px;flex-wrap:wrap}
.spark path{fill:none;stroke:var(--line);stroke-width:1.5}
.chart{width:100%;height:auto;max-width:640px;background:var(--card);border-radius:6px}
.grid{stroke:var(--grid);fill:none}.chart .line{fill:none;stroke:var(--line);stroke-width:1.8}
.chart .pt{fill:var(--line)}.chart .anomaly{fill:var(--fail);stroke:var(--bg);stroke-width:1.5}
.chart .band{fill:var(--band)}.chart .band-edge{fill:none;stroke:var(--line);stroke-opacity:.45;stroke-dasharray:3 3}.chart .threshold{stroke:var(--warn);stroke-dasharray:6 4;stroke-width:1.5}
.chart .event{stroke:var(--event);stroke-dasharray:2 3;stroke-width:1.5}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}
@media (max-width:480px){.charts{grid-template-columns:1fr}}
figure{margin:0}figcaption{font-size:.9em;margin-bottom:4px}details{margin:.4em 0}
summary{cursor:pointer;font-weight:600}.fail-text{color:var(--fail)}.warn-text{color:var(--warn)}
.legend{font-size:.85em;color:var(--muted)}
";

/// Sorting the overview by a column: a button in each header, keyboard reachable.
const SCRIPT: &str = "
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th button').forEach(function(b,i){
    b.addEventListener('click',function(){
      var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      var asc=b.getAttribute('data-dir')!=='asc';
      t.querySelectorAll('th button').forEach(function(o){o.removeAttribute('data-dir');o.parentNode.removeAttribute('aria-sort');});
      b.setAttribute('data-dir',asc?'asc':'desc');b.parentNode.setAttribute('aria-sort',asc?'ascending':'descending');
      rows.sort(function(x,y){var a=x.cells[i].getAttribute('data-key')||x.cells[i].textContent,
        c=y.cells[i].getAttribute('data-key')||y.cells[i].textContent,na=parseFloat(a),nc=parseFloat(c);
        var r=(!isNaN(na)&&!isNaN(nc))?na-nc:a.localeCompare(c);return asc?r:-r;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
";

fn anchor(name: &str) -> String {
    let mut out = String::from("ds-");
    for c in name.chars() {
        out.push(if c.is_ascii_alphanumeric() { c } else { '-' });
    }
    out
}

/// The whole page.
pub fn render(page: &Page) -> String {
    let mut datasets: Vec<&DatasetPage> = page.datasets.iter().collect();
    datasets.sort_by(|a, b| {
        rank(a.latest)
            .cmp(&rank(b.latest))
            .then(a.name.cmp(&b.name))
    });
    // the page stays a few MB however much history there is: fewer points per line when
    // there are many lines
    let lines: usize = datasets.iter().map(|d| d.series.len()).sum();
    let max_points = (POINT_BUDGET / lines.max(1)).clamp(20, MAX_DRAWN);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>\
         <meta name='viewport' content='width=device-width,initial-scale=1'>\
         <meta name='color-scheme' content='light dark'><title>{}</title><style>{STYLE}</style></head><body>\
         <svg width='0' height='0' style='position:absolute' aria-hidden='true'><defs>{}{MARKS}</defs></svg><main>",
        esc(&page.title),
        grid()
    );
    header(&mut h, page, &datasets);
    overview(&mut h, &datasets);
    let mut chart_id = 0;
    for d in &datasets {
        dataset_section(&mut h, page, d, max_points, &mut chart_id);
    }
    let _ = write!(h, "</main><script>{SCRIPT}</script></body></html>");
    h
}

/// The page's title, the range of scans it covers, and its totals.
fn header(h: &mut String, page: &Page, datasets: &[&DatasetPage]) {
    let checks: usize = datasets.iter().map(|d| d.checks.len()).sum();
    let failing: usize = datasets
        .iter()
        .flat_map(|d| &d.checks)
        .filter(|c| c.outcome == Outcome::Fail)
        .count();
    let alerting: usize = datasets.iter().map(|d| d.alerting.len()).sum();
    let range = page.range.map_or_else(
        || "no scans recorded yet".to_string(),
        |(a, b)| {
            if page.single_run {
                format!("one run, at {}", time(a))
            } else {
                format!("scans from {} to {}", time(a), time(b))
            }
        },
    );
    let now_word = if page.single_run { "" } else { " now" };
    let _ = write!(
        h,
        "<header><h1>{}</h1><p class='muted'>{} · data sources: {} · made {}</p>\
         <ul class='totals'><li><b>{}</b> datasets</li><li><b>{checks}</b> checks</li>\
         <li><b class='{}'>{failing}</b> failing{now_word}</li><li><b class='{}'>{alerting}</b> monitors alerting{now_word}</li></ul></header>",
        esc(&page.title),
        esc(&range),
        esc(&if page.data_sources.is_empty() {
            "none".to_string()
        } else {
            page.data_sources.join(", ")
        }),
        esc(&page.generated_at),
        datasets.len(),
        if failing > 0 { "fail-text" } else { "" },
        if alerting > 0 { "warn-text" } else { "" },
    );
}

/// The overview: a sortable row per dataset with its latest outcome, its last scans,
/// its row count, freshness and alerting monitors.
fn overview(h: &mut String, datasets: &[&DatasetPage]) {
    h.push_str(
        "<section aria-labelledby='overview'><h2 id='overview'>Overview</h2>\
         <p class='legend'>Outcomes: <svg class='mark pass' width='12' height='12' viewBox='0 0 12 12' aria-hidden='true'><circle cx='6' cy='6' r='5'/></svg> pass · \
         <svg class='mark warn' width='12' height='12' viewBox='0 0 12 12' aria-hidden='true'><path d='M6 1 L11 11 L1 11 Z'/></svg> warn · \
         <svg class='mark fail' width='12' height='12' viewBox='0 0 12 12' aria-hidden='true'><path d='M1 1 L11 11 M11 1 L1 11'/></svg> fail · \
         <svg class='mark ne' width='12' height='12' viewBox='0 0 12 12' aria-hidden='true'><circle cx='6' cy='6' r='4.5' fill='none'/></svg> not evaluated. \
         Sort by any column with its header.</p><div class='scroll'><table class='sortable'><thead><tr>\
         <th scope='col'><button type='button'>dataset</button></th><th scope='col'><button type='button'>latest</button></th>\
         <th scope='col'>last scans</th><th scope='col'>row count</th>\
         <th scope='col'><button type='button'>freshness</button></th><th scope='col'><button type='button'>alerting</button></th>\
         </tr></thead><tbody>",
    );
    for d in datasets {
        let latest = d.latest;
        let rows = d
            .series
            .iter()
            .find(|s| s.metric == "row_count" && s.column.is_none());
        let _ = write!(
            h,
            "<tr><td data-key='{0}'><a href='#{1}'>{0}</a></td><td data-key='{2}'>{3}</td><td><span class='strip'>",
            esc(&d.name),
            anchor(&d.name),
            rank(latest),
            latest.map_or_else(
                || "<span class='muted'>no checks</span>".to_string(),
                |o| format!("{} {}", outcome_mark(o, o.word()), o.word())
            ),
        );
        // the last 30 scans in one drawing, a shape with its tooltip each
        let recent: Vec<&(i64, Outcome)> = d.strip.iter().rev().take(STRIP).rev().collect();
        if !recent.is_empty() {
            let _ = write!(
                h,
                "<svg class='strips' width='{0}' height='12' viewBox='0 0 {0} 12' role='img' aria-label='outcomes of the last {1} scans'>",
                recent.len() * 14,
                recent.len()
            );
            for (i, (at, o)) in recent.iter().enumerate() {
                let class = outcome_class(*o);
                let _ = write!(
                    h,
                    "<use class='mark {class}' href='#m-{class}' x='{}' width='12' height='12'><title>{}: {}</title></use>",
                    i * 14,
                    time(*at),
                    o.word()
                );
            }
            h.push_str("</svg>");
        }
        let _ = write!(
            h,
            "</span></td><td>{}</td><td data-key='{}'>{}</td><td data-key='{}'>{}</td></tr>",
            rows.map_or_else(
                || "<span class='muted'>not scanned</span>".into(),
                |s| sparkline(&s.points)
            ),
            d.freshness.unwrap_or(f64::INFINITY),
            d.freshness
                .map_or_else(|| "<span class='muted'>-</span>".into(), |f| esc(&ago(f))),
            d.alerting.len(),
            if d.alerting.is_empty() {
                "<span class='muted'>none</span>".to_string()
            } else {
                esc(&d.alerting.join("; "))
            }
        );
    }
    h.push_str("</tbody></table></div></section>");
}

/// One dataset's section: its latest checks, its schema changes, and its metrics over
/// time (a chart each; a value that never changed is a line of text).
fn dataset_section(
    h: &mut String,
    page: &Page,
    d: &DatasetPage,
    max_points: usize,
    chart_id: &mut usize,
) {
    let id = anchor(&d.name);
    let _ = write!(
        h,
        "<section id='{id}' aria-labelledby='{id}-h'><h2 id='{id}-h'>{}</h2>",
        esc(&d.name)
    );
    if !d.checks.is_empty() {
        let _ = write!(
            h,
            "<h3>{}</h3><div class='scroll'><table><thead><tr><th scope='col'>outcome</th>\
             <th scope='col'>check</th><th scope='col'>value</th><th scope='col'>threshold</th>\
             <th scope='col'>failed rows</th></tr></thead><tbody>",
            if page.single_run {
                "Checks"
            } else {
                "Latest checks"
            }
        );
        for c in &d.checks {
            let _ = write!(
                h,
                "<tr><td>{} {}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                outcome_mark(c.outcome, c.outcome.word()),
                c.outcome.word(),
                esc(&c.name),
                c.column.as_ref().map_or_else(String::new, |col| format!(
                    " <span class='muted'>({})</span>",
                    esc(col)
                )),
                c.value.map_or_else(|| "-".into(), |v| esc(&num(v))),
                esc(&c.threshold),
                c.failed_rows.as_ref().map_or_else(
                    || "<span class='muted'>-</span>".to_string(),
                    |(store, table, scan, n)| esc(&format!(
                        "{} in {store}, table {table}, scan_id {scan}",
                        crate::words::count(n, "row")
                    ))
                )
            );
        }
        h.push_str("</tbody></table></div>");
    }
    if !d.events.is_empty() {
        h.push_str("<details><summary>Schema changes</summary><ul>");
        for e in &d.events {
            let _ = write!(h, "<li>{}: {}</li>", time(e.at), esc(&e.text));
        }
        h.push_str("</ul></details>");
    }
    if !d.series.is_empty() {
        metrics_over_time(h, d, &id, max_points, chart_id);
    }
    h.push_str("</section>");
}

/// A dataset's charts (the dates most of them share drawn once), and its series whose
/// one value throughout says itself in a line of text.
fn metrics_over_time(
    h: &mut String,
    d: &DatasetPage,
    id: &str,
    max_points: usize,
    chart_id: &mut usize,
) {
    // the dates most of its charts share, drawn once
    let span = d
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.at))
        .fold(None, |r: Option<(i64, i64)>, at| {
            Some(r.map_or((at, at), |(a, b)| (a.min(at), b.max(at))))
        });
    let dates_id = format!("{id}-x");
    if let Some((a, b)) = span {
        let _ = write!(
            h,
            "<svg width='0' height='0' style='position:absolute' aria-hidden='true'><defs><g id='{dates_id}'>{}</g></defs></svg>",
            dates(a, b)
        );
    }
    // one value throughout says itself in a line of text, not a chart
    let (flat, charted): (Vec<&Series>, Vec<&Series>) =
        d.series.iter().partition(|s| flat_value(s).is_some());
    let mut charted = charted;
    charted.sort_by_key(|s| chart_rank(s));
    h.push_str("<h3>Metrics over time</h3><div class='charts'>");
    for s in charted {
        let title = series_title(s);
        *chart_id += 1;
        // schema changes on the dataset's own charts (row count, checks); a
        // column's charts stay light
        let events: &[SchemaEvent] = if s.column.is_none() { &d.events } else { &[] };
        let drawn = chart(
            &format!("c{chart_id}"),
            &title,
            s,
            events,
            max_points,
            span.map(|(a, b)| (dates_id.as_str(), a, b)),
        );
        let drawn = if drawn.is_empty() {
            "<p class='muted'>no values in this range</p>".to_string()
        } else {
            drawn
        };
        let _ = write!(
            h,
            "<figure><figcaption>{}</figcaption>{drawn}</figure>",
            esc(&title)
        );
    }
    h.push_str("</div>");
    if !flat.is_empty() {
        let items: Vec<String> = flat
            .iter()
            .map(|s| {
                let v = flat_value(s).unwrap_or_default();
                let shown = if s.times { time(v as i64) } else { num(v) };
                esc(&format!("{}: {shown} throughout", series_title(s)))
            })
            .collect();
        let _ = write!(
            h,
            "<p class='muted flat'>Unchanged: {}.</p>",
            items.join("; ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: i64, v: f64) -> SeriesPoint {
        SeriesPoint {
            at,
            value: Some(v),
            ..SeriesPoint::default()
        }
    }

    /// Issue 25's report: charts titled by the check's name with their unit, checks and
    /// monitored series first, flat profile series as one line of text, a band cut at the
    /// chart's edges said, a single run worded as one.
    #[test]
    fn the_page_leads_with_what_matters_in_words_people_use() {
        let flat = Series {
            metric: "min".into(),
            column: Some("id".into()),
            points: (0..5).map(|i| point(i * 86_400, 0.0)).collect(),
            ..Series::default()
        };
        let rows = Series {
            metric: "row_count".into(),
            points: (0..5).map(|i| point(i * 86_400, 10.0 + i as f64)).collect(),
            ..Series::default()
        };
        let mut banded = Series {
            metric: "avg".into(),
            column: Some("amount".into()),
            points: (0..5).map(|i| point(i * 86_400, 10.0 + i as f64)).collect(),
            ..Series::default()
        };
        for p in &mut banded.points {
            p.lower = Some(-1e6);
            p.upper = Some(1e6);
        }
        let check = Series {
            metric: "check:checks/freshness".into(),
            label: Some("orders arrive daily".into()),
            unit: Some("hours".into()),
            points: (0..5).map(|i| point(i * 86_400, 3.0 + i as f64)).collect(),
            ..Series::default()
        };
        let page = Page {
            title: "Data quality report".into(),
            range: Some((0, 4 * 86_400)),
            datasets: vec![DatasetPage {
                name: "db/main/orders".into(),
                series: vec![flat, rows, banded, check],
                ..DatasetPage::default()
            }],
            ..Page::default()
        };
        let html = render(&page);
        let at = |needle: &str| {
            html.find(needle)
                .unwrap_or_else(|| panic!("no {needle:?} in the page"))
        };
        assert!(
            at("<figcaption>check: orders arrive daily (hours)</figcaption>")
                < at("<figcaption>avg of amount</figcaption>")
        );
        assert!(
            at("<figcaption>avg of amount</figcaption>") < at("<figcaption>row count</figcaption>")
        );
        assert!(
            html.contains("Unchanged: min of id: 0 throughout."),
            "flat series as text"
        );
        assert!(
            !html.contains("<figcaption>min of id"),
            "and not as a chart"
        );
        assert!(html.contains("expected range reaches past the chart"));
        assert!(html.contains("class='band-edge'"));
        assert!(html.contains("scans from") && html.contains("failing now"));

        let one = Page {
            single_run: true,
            range: Some((0, 0)),
            datasets: vec![DatasetPage {
                name: "db/main/orders".into(),
                checks: vec![CheckLine {
                    name: "row count".into(),
                    outcome: Outcome::Pass,
                    ..CheckLine::default()
                }],
                ..DatasetPage::default()
            }],
            ..Page::default()
        };
        let html = render(&one);
        assert!(html.contains("one run, at"), "a run, not scans");
        assert!(!html.contains("failing now") && !html.contains("Latest checks"));
        assert!(html.contains("<h3>Checks</h3>"));
    }

    #[test]
    fn thinning_keeps_extremes_and_anomalies() {
        let mut points: Vec<SeriesPoint> = (0..10_000).map(|i| point(i, (i % 97) as f64)).collect();
        points[5_000].value = Some(1e6);
        points[7_777].anomaly = Some("spike".into());
        let kept = thin(&points, 200);
        assert!(kept.len() <= 220, "{}", kept.len());
        assert!(kept.iter().any(|p| p.value == Some(1e6)));
        assert!(kept.iter().any(|p| p.at == 7_777));
        assert!(kept.iter().any(|p| p.value == Some(0.0)));
        assert!(kept.windows(2).all(|w| w[0].at < w[1].at));
        assert_eq!(thin(&points[..50], 200).len(), 50);
    }

    #[test]
    fn text_is_escaped_everywhere() {
        let page = Page {
            title: "<script>alert(1)</script>".into(),
            datasets: vec![DatasetPage {
                name: "db/main/'x\"<y>".into(),
                latest: Some(Outcome::Fail),
                checks: vec![CheckLine {
                    name: "<img src=x onerror=alert(1)>".into(),
                    outcome: Outcome::Fail,
                    ..CheckLine::default()
                }],
                ..DatasetPage::default()
            }],
            ..Page::default()
        };
        let html = render(&page);
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("db/main/&#39;x&quot;&lt;y&gt;"));
    }

    #[test]
    fn axes_from_zero_end_on_round_numbers() {
        assert_eq!(nice_ceil(136.5), 150.0);
        assert_eq!(nice_ceil(1100.0), 1200.0);
        assert_eq!(nice_ceil(0.7), 0.8);
        assert_eq!(nice_ceil(5.0), 5.0);
        assert_eq!(
            y_range([0.0, 130.0].into_iter(), false),
            Some((0.0, 150.0, true))
        );
    }

    #[test]
    fn axes_not_from_zero_tick_on_round_numbers_and_constants_sit_inside() {
        // 1000..1009: ticks 1000, 1005, 1010 (not 999.55, 1004.5, 1009.45)
        assert_eq!(
            y_range([1000.0, 1009.0].into_iter(), false),
            Some((1000.0, 1010.0, false))
        );
        let (lo, hi, _) = y_range([-948.376, 2794.706].into_iter(), false).unwrap();
        assert_eq!((lo, hi), (-3000.0, 3000.0));
        // a constant positive count from zero; a constant time within half a day
        assert_eq!(
            y_range([150.0].into_iter(), false),
            Some((0.0, 200.0, true))
        );
        // a time: whole days around it (2025-01-01 00:00 between 2024-12-31 and 01-02)
        let t = 1_735_689_600.0;
        assert_eq!(
            y_range([t].into_iter(), true),
            Some((t - 86_400.0, t + 86_400.0, false))
        );
        // times a few hours apart tick on whole hours
        let (lo, hi, _) = y_range([t + 3_000.0, t + 20_000.0].into_iter(), true).unwrap();
        assert_eq!((lo % 3_600.0, hi % 3_600.0), (0.0, 0.0));
    }

    #[test]
    fn a_wide_band_does_not_flatten_the_line() {
        let mut s = Series {
            metric: "row_count".into(),
            points: (0..10)
                .map(|i| point(i * 86400, 100.0 + i as f64))
                .collect(),
            ..Series::default()
        };
        s.points[9].lower = Some(-1e6);
        s.points[9].upper = Some(1e6);
        let svg = chart("c", "t", &s, &[], MAX_DRAWN, None);
        // the axis follows the line (100..109, a span of 9 each way at most), not the band
        let top: f64 = svg
            .split("<text class='a e' x='70' y='")
            .nth(2)
            .and_then(|t| t.split('>').nth(1))
            .and_then(|t| t.split('<').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or(f64::MAX);
        assert!(top <= 150.0, "{svg}");
    }

    #[test]
    fn a_y_axis_not_from_zero_says_so() {
        let s = Series {
            metric: "row_count".into(),
            points: (0..10)
                .map(|i| point(i * 86400, 1000.0 + i as f64))
                .collect(),
            ..Series::default()
        };
        assert!(chart("c", "t", &s, &[], MAX_DRAWN, None).contains("does not start at 0"));
        let s = Series {
            metric: "row_count".into(),
            points: (0..10).map(|i| point(i * 86400, i as f64 * 10.0)).collect(),
            ..Series::default()
        };
        assert!(!chart("c", "t", &s, &[], MAX_DRAWN, None).contains("does not start at 0"));
    }
}
