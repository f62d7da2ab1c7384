//! `assay report`: the page made from a history with a known series and a known schema
//! change holds every dataset, the series' points, the change and the checks, and
//! nothing it would fetch from the network.

use crate::common;

use common::engines::{Engine, Sandbox};

/// Ten daily scans of two tables: `orders` grows by 3 rows a day and drops to 5 rows
/// on day 8; `items` gains a column on day 6.
fn history() -> Sandbox {
    let s = Sandbox::new(Engine::DuckDb);
    let config = std::fs::read_to_string(s.project.path().join("assay.yml")).unwrap();
    s.project.write(
        "assay.yml",
        &format!("{config}scan:\n  include: ['db/main/orders', 'db/main/items']\n"),
    );
    s.project.write(
        "contracts/orders.yml",
        "dataset: db/main/orders\nchecks:\n  - row_count: {threshold: {must_be_greater_than: 50}}\n",
    );
    for day in 1..=10u32 {
        let rows = if day == 8 { 5 } else { 100 + day * 3 };
        let mut sql = vec![
            format!("CREATE OR REPLACE TABLE orders AS SELECT range AS id FROM range({rows})"),
            "CREATE OR REPLACE TABLE items AS SELECT range AS id FROM range(4)".to_string(),
        ];
        if day >= 6 {
            sql.push("ALTER TABLE items ADD COLUMN \"it's <b>\" INTEGER".into());
        }
        s.run(&sql);
        let now = format!("2025-01-{day:02}T06:00:00Z");
        let run = s.project.assay(&["scan", "--now", &now, "-q"]);
        assert!(run.code == 0 || run.code == 1, "day {day}: {}", run.stderr);
    }
    s
}

#[test]
fn the_report_holds_every_dataset_its_series_and_changes_and_nothing_external() {
    let s = history();
    let run = s
        .project
        .assay(&["report", "--since", "100000d", "-o", "out/page.html"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("2 datasets"), "{}", run.stdout);
    let html = std::fs::read_to_string(s.project.path().join("out/page.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for name in ["db/main/orders", "db/main/items"] {
        assert!(
            html.contains(&format!(">{name}</a>")),
            "{name} not in the overview"
        );
        assert!(
            html.contains(&format!(">{name}</h2>")),
            "{name} has no section"
        );
    }
    // the row count chart of orders: one point per scan, with each value in its tooltip
    let orders = &html[html.find(">db/main/orders</h2>").unwrap()..];
    let chart = &orders[orders.find("row count</figcaption>").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    let points = chart.matches("<circle class='pt").count();
    assert_eq!(points, 10, "{chart}");
    for day in 1..=10u32 {
        let rows = if day == 8 { 5 } else { 100 + day * 3 };
        assert!(
            chart.contains(&format!("2025-01-{day:02} 06:00 UTC: {rows}<")),
            "day {day} ({rows} rows) is not in the chart"
        );
    }
    // the check failed on day 8: the strip shows it, the latest outcome is pass
    let row = &html[html.find(">db/main/orders</a>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("2025-01-08 06:00 UTC: fail"),
        "no failing scan in the strip: {row}"
    );
    assert!(row.contains("2025-01-07 06:00 UTC: pass"), "{row}");
    assert!(
        row.contains("</svg> pass</td>"),
        "the latest outcome is not pass: {row}"
    );
    // the schema change, as an event with the column's name escaped
    assert!(
        html.contains("column added it&#39;s &lt;b&gt;"),
        "no schema change"
    );
    assert!(!html.contains("it's <b>"));
    // nothing from the network
    for external in ["http://", "https://", "src=", "@import", "url(", "<link"] {
        assert!(!html.contains(external), "the page refers to {external}");
    }
}

#[test]
fn report_arguments_are_checked() {
    let s = Sandbox::new(Engine::DuckDb);
    let run = s.project.assay(&["report", "--since", "soon"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--since"), "{}", run.stderr);
    let run = s.project.assay(&["report", "db/[x]"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    // no history yet: a page that says so
    let run = s.project.assay(&["report"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(s.project.path().join("report.html")).unwrap();
    assert!(html.contains("no scans recorded yet"));
}
