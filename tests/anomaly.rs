//! Anomaly monitors: `assay history backtest` over CSV series, and scans on every engine
//! that learn, judge (a drop to zero, a spike), keep anomalies out of the baseline,
//! re-learn after `assay history accept`, and agree with a backtest of their own
//! exported history.

use crate::common;

use common::engines::{Engine, Sandbox, ENGINES};
use common::Project;
use serde_json::Value;

/// A daily series from 2026-01-05 (a Monday): `value(i)` for each day.
fn daily_csv(days: usize, value: impl Fn(usize) -> f64) -> String {
    let mut out = String::from("timestamp,value\n");
    for i in 0..days {
        let day =
            chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + chrono::Days::new(i as u64);
        out.push_str(&format!("{day} 06:00:00,{}\n", value(i)));
    }
    out
}

/// A fixed wobble of about 1%, different each day.
fn wobble(i: usize) -> f64 {
    [
        4.0, -9.0, 11.0, -2.0, 7.0, -13.0, 1.0, 9.0, -6.0, 3.0, -10.0,
    ][i % 11]
}

#[test]
fn backtest_judges_every_row_causally_and_explains_each_verdict() {
    let p = Project::empty();
    // weekdays about 1000 rows, weekends 400; a spike on day 40, a drop to zero on day
    // 50, twice the rows from day 60 on
    let csv = daily_csv(80, |i| {
        let weekend = matches!(i % 7, 5 | 6);
        let base = if weekend { 400.0 } else { 1000.0 } + wobble(i);
        match i {
            40 => base * 3.0,
            50 => 0.0,
            i if i >= 60 => (base * 2.0).round(),
            _ => base,
        }
    });
    p.write("orders.csv", &csv);
    let run = p.assay(&["history", "backtest", "orders.csv", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let points = doc["points"].as_array().unwrap();
    assert_eq!(points.len(), 80, "one entry per input row");
    assert_eq!(points[0]["timestamp"], "2026-01-05T06:00:00Z");
    assert_eq!(points[79]["timestamp"], "2026-03-25T06:00:00Z");
    for (i, pt) in points.iter().enumerate() {
        for key in [
            "timestamp",
            "value",
            "expected",
            "lower",
            "upper",
            "anomaly",
            "kind",
            "reason",
        ] {
            assert!(pt.get(key).is_some(), "point {i} has no {key}: {pt}");
        }
        if i < 7 {
            // learning: no guess
            assert!(
                pt["expected"].is_null() && pt["lower"].is_null() && pt["upper"].is_null(),
                "{pt}"
            );
            assert_eq!(pt["anomaly"], false);
            assert!(
                pt["reason"].as_str().unwrap().starts_with("learning"),
                "{pt}"
            );
        } else {
            let (lo, hi) = (pt["lower"].as_f64().unwrap(), pt["upper"].as_f64().unwrap());
            let e = pt["expected"].as_f64().unwrap();
            assert!(lo <= e && e <= hi, "{pt}");
        }
    }
    let flagged: Vec<(usize, &str)> = points
        .iter()
        .enumerate()
        .filter(|(_, pt)| pt["anomaly"] == true)
        .map(|(i, pt)| (i, pt["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        flagged,
        vec![
            (40, "spike"),
            (50, "zero"),
            (60, "spike"),
            (61, "spike"),
            (62, "level_shift")
        ],
        "{}",
        serde_json::to_string_pretty(&points[58..66]).unwrap()
    );
    // weekends are the season, not anomalies; after the shift the baseline re-learned
    let weekend = &points[75];
    assert!(weekend["expected"].as_f64().unwrap() < 1000.0, "{weekend}");
    assert!(
        points[40]["reason"]
            .as_str()
            .unwrap()
            .contains("day-of-week"),
        "{}",
        points[40]
    );
    assert!(
        doc["series"]["step"] == "daily" && doc["settings"]["min_history"] == 7,
        "{doc}"
    );
    // the spike, the zero, and the spikes that became a level shift: three incidents,
    // each anomaly naming the one it belongs to
    let incidents = doc["incidents"].as_array().unwrap();
    let spans: Vec<(&str, &str, &str)> = incidents
        .iter()
        .map(|i| {
            (
                i["start"].as_str().unwrap(),
                i["end"].as_str().unwrap(),
                i["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            ("2026-02-14T06:00:00Z", "2026-02-14T06:00:00Z", "spike"),
            ("2026-02-24T06:00:00Z", "2026-02-24T06:00:00Z", "zero"),
            (
                "2026-03-06T06:00:00Z",
                "2026-03-08T06:00:00Z",
                "level_shift"
            ),
        ],
        "{}",
        serde_json::to_string_pretty(incidents).unwrap()
    );
    assert_eq!(incidents[2]["points"], 3);
    assert_eq!(incidents[1]["worst"]["value"], 0.0);
    assert_eq!(points[61]["incident"], "2026-03-06T06:00:00Z");
    assert!(points[59]["incident"].is_null());

    // the table shows the anomalies
    let table = p.assay(&["history", "backtest", "orders.csv"]);
    assert_eq!(table.code, 0);
    assert!(
        table
            .stdout
            .contains("80 points, daily; 7 learning; 5 anomalies in 3 incidents"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("2026-02-24T06:00:00Z") && table.stdout.contains("zero"),
        "{}",
        table.stdout
    );

    // settings flags change the verdicts: only drops, and the file form of -o
    let down = p.assay(&[
        "history",
        "backtest",
        "orders.csv",
        "--direction",
        "down",
        "--min-history",
        "7",
        "-o",
        "json=out/verdicts.json",
    ]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(p.path().join("out/verdicts.json")).unwrap())
            .unwrap();
    let pts = doc["points"].as_array().unwrap();
    assert!(pts.iter().all(|pt| pt["kind"] != "spike"), "{doc}");
    assert_eq!(pts[40]["anomaly"], false, "a spike is no anomaly downwards");
    assert_eq!(pts[50]["kind"], "zero");
    assert!(
        pts[6]["expected"].is_null() && pts[7]["expected"].is_number(),
        "judged from 7 points on"
    );
    // an excluded date is neither judged nor learned
    let excluded = p.assay(&[
        "history",
        "backtest",
        "orders.csv",
        "--exclude",
        "2026-02-24",
        "-o",
        "json",
    ]);
    let pts = excluded.json()["points"].as_array().unwrap().clone();
    assert_eq!(pts[50]["anomaly"], false);
    assert_eq!(pts[50]["outcome"], "excluded");
}

#[test]
fn backtest_infers_hourly_steps_and_days_of_week() {
    let p = Project::empty();
    let mut csv = String::from("timestamp,value\n");
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    for i in 0..24 * 28 {
        let t = start + chrono::Duration::hours(i as i64);
        let hour = i % 24;
        let weekend = matches!((i / 24) % 7, 5 | 6);
        let mut v = if (8..20).contains(&hour) { 500.0 } else { 60.0 };
        if weekend {
            v *= 0.5;
        }
        v += wobble(i) / 2.0;
        if i == 24 * 24 + 12 {
            v = 40.0; // a drop at noon on a weekday
        }
        csv.push_str(&format!(
            "{}Z,{}\n",
            t.format("%Y-%m-%dT%H:%M:%S"),
            v.round()
        ));
    }
    p.write("hourly.csv", &csv);
    let doc = p
        .assay(&["history", "backtest", "hourly.csv", "-o", "json"])
        .json();
    assert_eq!(doc["series"]["step"], "hourly");
    // judged from a day and a half of points
    assert_eq!(doc["settings"]["min_history"], 36);
    let points = doc["points"].as_array().unwrap();
    assert!(points[35]["expected"].is_null() && points[36]["expected"].is_number());
    // the first weekend is judged before it was ever seen, without alerting; from the
    // second week on the reason names the hour-of-week season
    assert!(
        points[24 * 20 + 12]["reason"]
            .as_str()
            .unwrap()
            .contains("hour-of-week"),
        "{}",
        points[24 * 20 + 12]
    );
    let flagged: Vec<usize> = (0..points.len())
        .filter(|&i| points[i]["anomaly"] == true)
        .collect();
    assert_eq!(flagged, vec![24 * 24 + 12], "{}", points[flagged[0]]);
    assert_eq!(points[24 * 24 + 12]["kind"], "drop");
}

#[test]
fn bad_series_and_settings_are_exit_2_with_where_and_a_hint() {
    let p = Project::empty();
    p.write("bad.csv", "timestamp,value\n2026-01-01,1\n2026-01-02,x\n");
    let run = p.assay(&["history", "backtest", "bad.csv"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("bad.csv:3:12") && run.stderr.contains("'x' is not a number"),
        "{}",
        run.stderr
    );
    p.write("order.csv", "timestamp,value\n2026-01-02,1\n2026-01-01,2\n");
    let run = p.assay(&["history", "backtest", "order.csv"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("order.csv:3:1") && run.stderr.contains("must increase"),
        "{}",
        run.stderr
    );
    p.write("header.csv", "time,v\n");
    let run = p.assay(&["history", "backtest", "header.csv"]);
    assert!(
        run.code == 2 && run.stderr.contains("timestamp,value"),
        "{}",
        run.stderr
    );
    let run = p.assay(&["history", "backtest", "missing.csv"]);
    assert!(
        run.code == 2 && run.stderr.contains("missing.csv"),
        "{}",
        run.stderr
    );
    p.write("ok.csv", &daily_csv(20, |i| 100.0 + wobble(i)));
    for (flag, value, says) in [
        ("--sensitivity", "hihg", "did you mean 'high'"),
        ("--sensitivity", "0", "positive number"),
        ("--seasonality", "weekley", "did you mean 'weekly'"),
        ("--direction", "upp", "did you mean 'up'"),
        ("--min-history", "1", "at least 3"),
        ("--exclude", "Christmas", "2026-12-24..2026-12-26"),
    ] {
        let run = p.assay(&["history", "backtest", "ok.csv", flag, value]);
        assert_eq!(run.code, 2, "{flag} {value}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{flag} {value}: {}", run.stderr);
    }
    let run = p.assay(&["history", "backtest"]);
    assert!(
        run.code == 2 && run.stderr.contains("SERIES.csv"),
        "{}",
        run.stderr
    );
}

#[test]
fn anomaly_config_errors_name_the_line() {
    let p = Project::duckdb("CREATE TABLE t (id INTEGER)");
    let base = std::fs::read_to_string(p.path().join("assay.yml")).unwrap();
    for (yaml, says) in [
        ("scan:\n  monitors:\n    anomalies:\n      sensitivty: high\n", "sensitivty"),
        ("scan:\n  monitors:\n    anomalies:\n      sensitivity: extreme\n", "neither a level"),
        ("scan:\n  monitors:\n    anomalies:\n      direction: sideways\n", "unknown direction"),
        ("scan:\n  monitors:\n    anomalies:\n      exclude_dates: [soon]\n", "not a date"),
        ("scan:\n  monitors:\n    anomalies:\n      overrides:\n        - metrics: [row_count]\n", "datasets"),
    ] {
        p.write("assay.yml", &format!("{base}{yaml}"));
        let run = p.assay(&["scan"]);
        assert_eq!(run.code, 2, "{yaml}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{yaml}: {}", run.stderr);
        assert!(run.stderr.contains("assay.yml:"), "{yaml}: no position: {}", run.stderr);
    }
}

/// A day's scan of table `t` holding `rows` rows.
fn scan_day(s: &Sandbox, day: u32, rows: usize) -> (i32, Value) {
    let t = s.qualified("t");
    let mut statements = vec![format!("DELETE FROM {t}")];
    if rows > 0 {
        let values: Vec<String> = (1..=rows).map(|i| format!("({i})")).collect();
        statements.push(format!("INSERT INTO {t} VALUES {}", values.join(", ")));
    }
    s.run(&statements);
    let now = format!("2026-01-{day:02}T06:00:00Z");
    let run = s.project.assay(&["scan", "--now", &now, "-o", "json"]);
    assert!(run.code == 0 || run.code == 1, "day {day}: {}", run.stderr);
    (run.code, run.json())
}

fn row_count_monitor(doc: &Value, dataset: &str) -> Value {
    doc["scan"]["data_sources"][0]["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dataset"] == dataset)
        .and_then(|d| {
            d["monitors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["type"] == "anomaly" && m["metric"] == "row_count")
                .cloned()
        })
        .unwrap_or_else(|| panic!("no row_count anomaly monitor for {dataset}: {doc}"))
}

#[test]
fn scans_judge_row_counts_relearn_after_accept_and_agree_with_a_backtest_on_every_engine() {
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let prefix = s.dataset_prefix();
        let dataset = format!("{prefix}/t");
        s.run(&[format!("CREATE TABLE {} (id INTEGER)", s.qualified("t"))]);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        s.project.write(
            "assay.yml",
            &format!(
                "{config}scan:\n  include: ['{dataset}']\n  monitors:\n    anomalies:\n      min_history: 5\n      level: fail\n"
            ),
        );
        let counts = [1000, 1012, 990, 1005, 998, 1010, 1003];
        for (i, rows) in counts.iter().enumerate() {
            let day = i as u32 + 1;
            let (code, doc) = scan_day(&s, day, *rows);
            let m = row_count_monitor(&doc, &dataset);
            assert_eq!(code, 0, "{engine:?} day {day}: {m}");
            if day <= 5 {
                assert_eq!(m["outcome"], "learning", "{engine:?} day {day}: {m}");
                assert!(m["expected"].is_null(), "{m}");
            } else {
                assert_eq!(m["outcome"], "pass", "{engine:?} day {day}: {m}");
                let (lo, hi) = (m["lower"].as_f64().unwrap(), m["upper"].as_f64().unwrap());
                assert!(lo < *rows as f64 && (*rows as f64) < hi, "{m}");
            }
            assert_eq!(m["value"].as_f64(), Some(*rows as f64));
        }
        // a drop to zero: a hard anomaly, at level fail
        let (code, doc) = scan_day(&s, 8, 0);
        let m = row_count_monitor(&doc, &dataset);
        assert_eq!(
            (code, &m["outcome"], &m["kind"]),
            (1, &"fail".into(), &"zero".into()),
            "{engine:?}: {m}"
        );
        assert!(m["reason"].as_str().unwrap().contains("zero"), "{m}");
        // the zero is not learned: the next ordinary day passes against ~1000
        let (code, doc) = scan_day(&s, 9, 1001);
        let m = row_count_monitor(&doc, &dataset);
        assert_eq!(code, 0, "{engine:?}: {m}");
        assert!(
            (m["expected"].as_f64().unwrap() - 1000.0).abs() < 20.0,
            "{m}"
        );
        // twice the rows: a spike, until accepted
        let (code, doc) = scan_day(&s, 10, 2000);
        let m = row_count_monitor(&doc, &dataset);
        assert_eq!(
            (code, m["kind"].as_str()),
            (1, Some("spike")),
            "{engine:?}: {m}"
        );

        let history = s
            .project
            .assay(&["history", &dataset, "--metric", "row_count"]);
        assert_eq!(history.code, 0, "{}", history.stderr);
        assert!(
            history.stdout.contains("⚠ anomaly: zero"),
            "{}",
            history.stdout
        );
        assert!(
            history.stdout.contains("⚠ anomaly: spike"),
            "{}",
            history.stdout
        );

        // a backtest of the exported series says what the scans said, point by point
        let export = s.project.assay(&[
            "history",
            "export",
            &dataset,
            "row_count",
            "-o",
            "csv=rows.csv",
        ]);
        assert_eq!(export.code, 0, "{}", export.stderr);
        let csv = std::fs::read_to_string(s.project.path().join("rows.csv")).unwrap();
        assert!(
            csv.starts_with("timestamp,value\n2026-01-01T06:00:00Z,1000\n"),
            "{csv}"
        );
        let replay = s.project.assay(&[
            "history",
            "backtest",
            "rows.csv",
            "--min-history",
            "5",
            "-o",
            "json",
        ]);
        let outcomes: Vec<String> = replay.json()["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["outcome"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            outcomes,
            [
                "learning", "learning", "learning", "learning", "learning", "pass", "pass",
                "anomaly", "pass", "anomaly"
            ],
            "{engine:?}"
        );

        let accept = s
            .project
            .assay(&["history", "accept", &dataset, "row_count"]);
        assert_eq!(accept.code, 0, "{}", accept.stderr);
        assert!(
            accept.stdout.contains("2026-01-10T06:00:00Z"),
            "{}",
            accept.stdout
        );
        let (code, doc) = scan_day(&s, 11, 2010);
        let m = row_count_monitor(&doc, &dataset);
        assert_eq!(
            (code, m["outcome"].as_str()),
            (0, Some("pass")),
            "{engine:?}: re-learned: {m}"
        );
        assert!(
            (m["expected"].as_f64().unwrap() - 2000.0).abs() < 50.0,
            "{m}"
        );

        // a series never recorded: exit 2 with what was
        let missing = s
            .project
            .assay(&["history", "export", &dataset, "row_cont"]);
        assert_eq!(missing.code, 2);
        assert!(missing.stderr.contains("row_count"), "{}", missing.stderr);
    }
}

/// The history tables as assay wrote them before anomaly verdicts were recorded: no
/// verdict columns on points, no table of accepted changes.
fn older_history_tables(engine: Engine, table: impl Fn(&str) -> String) -> Vec<String> {
    let (text, long_text, timestamp, number, json) = match engine {
        Engine::DuckDb => ("VARCHAR", "VARCHAR", "TIMESTAMP", "DOUBLE", "JSON"),
        Engine::Postgres => ("TEXT", "TEXT", "TIMESTAMP", "DOUBLE PRECISION", "JSONB"),
        Engine::MySql => (
            "VARCHAR(255)",
            "VARCHAR(2048)",
            "DATETIME(6)",
            "DOUBLE",
            "JSON",
        ),
        #[cfg(feature = "spark")]
        Engine::Spark => unreachable!("Spark holds no history"),
    };
    let base =
        format!("scan_id {text}, measured_at {timestamp}, data_source {text}, dataset {long_text}");
    vec![
        format!(
            "CREATE TABLE {} (scan_id {text}, measured_at {timestamp}, ended_at {timestamp}, data_sources {long_text})",
            table("assay_scans")
        ),
        format!(
            "CREATE TABLE {} ({base}, column_name {text}, metric {text}, value {number})",
            table("assay_metric_points")
        ),
        format!(
            "CREATE TABLE {} ({base}, columns {json})",
            table("assay_schema_snapshots")
        ),
        format!(
            "CREATE TABLE {} ({base}, kind {text}, column_name {text}, old_value {long_text}, new_value {long_text}, level {text})",
            table("assay_monitor_events")
        ),
    ]
}

#[test]
fn a_history_an_older_assay_wrote_is_upgraded_in_place_and_odd_names_stay_names_on_every_engine() {
    let (table, column) = ("we'ird \"t\" --", "it's \"x\"; drop");
    for engine in ENGINES {
        let s = Sandbox::new(engine);
        let prefix = s.dataset_prefix();
        let dataset = format!("{prefix}/{table}");
        s.run(&[format!(
            "CREATE TABLE {} ({} INTEGER)",
            s.qualified(table),
            engine.quote(column)
        )]);
        let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
        // on a server the history lives beside the data; the scan leaves its tables out
        let history = if engine == Engine::DuckDb {
            String::new()
        } else {
            format!("history: {{data_source: db, schema: {}}}\n", s.schema)
        };
        s.project.write(
            "assay.yml",
            &format!(
                "{config}{history}scan:\n  include: ['{prefix}/*', '!{prefix}/assay_*']\n  monitors:\n    anomalies:\n      metrics: [row_count, missing_count]\n      min_history: 5\n"
            ),
        );
        // six daily scans, recorded by an older assay
        let q = |t: &str| match engine {
            Engine::DuckDb => engine.quote(t),
            _ => s.qualified(t),
        };
        let mut statements = older_history_tables(engine, q);
        let path = dataset.strip_prefix("db/").unwrap();
        for day in 1..=6 {
            let at = format!("'2026-01-0{day} 06:00:00'");
            let id = format!("'old-{day}'");
            statements.push(format!(
                "INSERT INTO {} VALUES ({id}, {at}, {at}, 'db')",
                q("assay_scans")
            ));
            statements.push(format!(
                "INSERT INTO {} VALUES ({id}, {at}, 'db', {}, NULL, 'row_count', {}), ({id}, {at}, 'db', {}, {}, 'missing_count', 0)",
                q("assay_metric_points"),
                engine.literal(path),
                1000 + day * 3,
                engine.literal(path),
                engine.literal(column),
            ));
        }
        if engine == Engine::DuckDb {
            std::fs::create_dir_all(s.project.path().join(".assay")).unwrap();
            let conn =
                duckdb::Connection::open(s.project.path().join(".assay/history.duckdb")).unwrap();
            for st in &statements {
                conn.execute_batch(st)
                    .unwrap_or_else(|e| panic!("{st}: {e}"));
            }
        } else {
            s.run(&statements);
        }

        let values: Vec<String> = (1..=2008).map(|i| format!("({i})")).collect();
        s.run(&[format!(
            "INSERT INTO {} VALUES {}",
            s.qualified(table),
            values.join(", ")
        )]);
        let run = s
            .project
            .assay(&["scan", "--now", "2026-01-07T06:00:00Z", "-o", "json"]);
        assert!(run.code == 0, "{engine:?}: {}", run.stderr);
        let doc = run.json();
        // judged against the six old points (the upgrade kept them): twice the rows
        let m = row_count_monitor(&doc, &dataset);
        assert_eq!(
            (m["outcome"].as_str(), m["kind"].as_str()),
            (Some("warn"), Some("spike")),
            "{engine:?}: {m}"
        );
        assert!(
            (m["expected"].as_f64().unwrap() - 1010.0).abs() < 15.0,
            "{m}"
        );
        let datasets = doc["scan"]["data_sources"][0]["datasets"]
            .as_array()
            .unwrap();
        let missing = datasets
            .iter()
            .find(|d| d["dataset"] == dataset.as_str())
            .and_then(|d| {
                d["monitors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["type"] == "anomaly" && m["metric"] == "missing_count")
            })
            .unwrap_or_else(|| panic!("{engine:?}: no missing_count monitor: {doc}"));
        assert_eq!(missing["column"], column, "{missing}");
        assert_eq!(missing["outcome"], "pass", "{engine:?}: {missing}");

        // the odd names round-trip as data: the series reads back, is exported, accepted
        let shown = s
            .project
            .assay(&["history", &dataset, "--metric", "row_count", "-o", "json"]);
        assert_eq!(shown.code, 0, "{engine:?}: {}", shown.stderr);
        let text = shown.stdout;
        for v in ["1003", "1006", "1018", "2008"] {
            assert!(text.contains(v), "{engine:?}: {v} lost: {text}");
        }
        let export = s.project.assay(&[
            "history",
            "export",
            &dataset,
            "missing_count",
            "--column",
            column,
        ]);
        assert_eq!(export.code, 0, "{engine:?}: {}", export.stderr);
        assert_eq!(export.stdout.lines().count(), 8, "{}", export.stdout);
        let accept = s.project.assay(&[
            "history",
            "accept",
            &dataset,
            "row_count",
            "--at",
            "2026-01-07T06:00:00Z",
        ]);
        assert_eq!(accept.code, 0, "{engine:?}: {}", accept.stderr);

        // accepted: the baseline's level re-learns from the doubled count
        s.run(&[format!(
            "INSERT INTO {} VALUES (2009), (2010)",
            s.qualified(table)
        )]);
        let run = s
            .project
            .assay(&["scan", "--now", "2026-01-08T06:00:00Z", "-o", "json"]);
        assert_eq!(run.code, 0, "{engine:?}: {}", run.stderr);
        let m = row_count_monitor(&run.json(), &dataset);
        assert_eq!(m["outcome"], "pass", "{engine:?}: {m}");
        assert!(
            (m["expected"].as_f64().unwrap() - 2008.0).abs() < 30.0,
            "{m}"
        );
    }
}

/// The shipped example series finds what docs/anomalies.md says it finds.
#[test]
fn the_example_series_finds_its_zero_spike_and_level_shift() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = assert_cmd::Command::cargo_bin("assay")
        .unwrap()
        .current_dir(root)
        .args([
            "history",
            "backtest",
            "examples/anomalies/orders_daily.csv",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let flagged: Vec<(String, String)> = doc["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["anomaly"] == true)
        .map(|p| {
            (
                p["timestamp"].as_str().unwrap()[..10].to_string(),
                p["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("2025-03-14", "zero"),
        ("2025-04-06", "spike"),
        ("2025-04-16", "spike"),
        ("2025-04-17", "spike"),
        ("2025-04-18", "level_shift"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(d, k)| (d.to_string(), k.to_string()))
        .collect();
    assert_eq!(flagged, expected);
}
