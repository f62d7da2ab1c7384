//! Reading ODCS documents: what each becomes, and every error at its line and column.

use std::collections::HashMap;
use std::path::Path;

use super::{parse, Placement};
use crate::config::{self, Config};
use crate::contract::Contract;
use crate::diag::Diags;
use crate::interp::Vars;
use crate::source::Source;

/// A config with the data sources `assay.yml` text names, in a folder of its own.
fn config(text: &str) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("assay.yml");
    std::fs::write(&path, text).unwrap();
    let config = config::load(Some(&path), &[], &Vars::default()).unwrap();
    (dir, config)
}

const DUCKDB: &str =
    "data_sources:\n  - {name: shop, type: duckdb, connection: {database: ':memory:'}}\n";

fn read_with(config_text: &str, server: Option<&str>, text: &str) -> Result<Vec<Contract>, Diags> {
    let (_dir, config) = config(config_text);
    let source = Source::new(Path::new("contract.odcs.yaml"), text.to_string());
    let root = crate::yaml::parse(&source).map_err(Diags::from)?;
    let target = Placement {
        config: &config,
        names: &[],
        server,
    };
    parse(
        &source,
        &root,
        &target,
        &HashMap::new(),
        "2026-01-10T00:00:00Z",
    )
}

fn read(text: &str) -> Result<Vec<Contract>, Diags> {
    read_with(DUCKDB, None, text)
}

fn errors(text: &str) -> String {
    match read(text) {
        Ok(_) => panic!("read without errors:\n{text}"),
        Err(d) => shown(&d),
    }
}

/// Each error with its position and hint, one per line.
fn shown(d: &Diags) -> String {
    d.items
        .iter()
        .map(|d| format!("{d} {}", d.help.clone().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

const HEAD: &str = "apiVersion: v3.2.0\nkind: DataContract\nid: c1\nversion: 1.0.0\n";

fn ids(c: &Contract) -> Vec<String> {
    c.checks.iter().map(|c| c.id.clone()).collect()
}

#[test]
fn each_schema_object_is_a_dataset_with_its_constraints_as_checks() {
    let contracts = read(&format!(
        "{HEAD}schema:
  - name: customers
    physicalName: dim_customers
    properties:
      - name: id
        required: true
        unique: true
      - name: email
        physicalName: email_address
        physicalType: VARCHAR
        logicalTypeOptions: {{pattern: '@', minLength: 3, maxLength: 80}}
      - name: age
        logicalTypeOptions: {{minimum: 0, exclusiveMaximum: 150}}
      - name: country
        enum: [{{value: DE}}, {{value: FR, label: France}}]
  - name: orders
    properties:
      - {{name: order_id, primaryKey: true, primaryKeyPosition: 1}}
      - {{name: line, primaryKey: true, primaryKeyPosition: 2}}
"
    ))
    .unwrap();
    assert_eq!(contracts.len(), 2);
    let c = &contracts[0];
    assert_eq!(c.dataset.text, "shop/main/dim_customers");
    assert_eq!(
        ids(c),
        [
            "columns/id/missing/required",
            "columns/id/metric/unique",
            "columns/email_address/invalid/minLength",
            "columns/email_address/invalid/maxLength",
            "columns/email_address/invalid/pattern",
            "columns/age/invalid/minimum",
            "columns/age/invalid/exclusiveMaximum",
            "columns/country/invalid/enum",
            "checks/schema",
        ]
    );
    assert_eq!(c.columns[1].data_type.as_deref(), Some("VARCHAR"));
    let o = &contracts[1];
    assert_eq!(o.dataset.text, "shop/main/orders");
    // a composite key: each column not null, the tuple unique
    assert_eq!(
        ids(o),
        [
            "columns/order_id/missing/primaryKey",
            "columns/line/missing/primaryKey",
            "checks/schema",
            "checks/metric/primaryKey",
        ]
    );
}

#[test]
fn quality_rules_keep_their_ids_names_units_and_severities() {
    let contracts = read(&format!(
        "{HEAD}schema:
  - name: orders
    properties:
      - name: status
        quality:
          - {{id: s1, name: few nulls, metric: nullValues, unit: percent, mustBeLessThan: 5}}
          - {{metric: invalidValues, arguments: {{validValues: [a, b]}}, mustBe: 0, severity: warning}}
          - {{id: s3, type: sql, query: 'SELECT COUNT(*) FROM {{object}} WHERE ${{column}} = ''x''', mustBeBetween: [1, 3]}}
    quality:
      - {{id: rows, metric: rowCount, mustBeGreaterThan: 0}}
      - {{id: keys, metric: duplicateValues, arguments: {{properties: [status]}}, mustNotBeBetween: [1, 9]}}
      - {{id: ge, type: custom, engine: greatExpectations, implementation: 'expect_table_row_count_to_be_between'}}
      - {{id: soda_avg, type: custom, engine: soda, implementation: {{row_count: {{threshold: {{must_be: 3}}}}}}}}
"
    ))
    .unwrap();
    let c = &contracts[0];
    assert_eq!(
        ids(c),
        [
            "columns/status/missing/s1",
            "columns/status/invalid/quality-1",
            "columns/status/metric/s3",
            "checks/schema",
            "checks/row_count/rows",
            "checks/metric/keys",
            "checks/row_count/soda_avg",
            "checks/odcs/ge",
        ]
    );
    let by_id = |id: &str| c.checks.iter().find(|k| k.id == id).unwrap();
    assert_eq!(
        by_id("columns/status/missing/s1").name.as_deref(),
        Some("few nulls (s1)")
    );
    let t = &by_id("columns/status/missing/s1").threshold;
    assert_eq!(t.metric, crate::model::threshold::MetricKind::Percent);
    assert_eq!(
        by_id("columns/status/invalid/quality-1").threshold.level,
        crate::model::threshold::Level::Warn
    );
    let settings = by_id("columns/status/metric/s3").kind.settings();
    let query = settings["query"].as_str().unwrap();
    assert_eq!(
        query, "SELECT COUNT(*) FROM \"main\".\"orders\" WHERE \"status\" = 'x'",
        "placeholders are the quoted names"
    );
}

#[test]
fn a_document_is_checked_key_by_key_with_positions_and_hints() {
    let e = errors(&format!(
        "{HEAD}schema:\n  - name: t\n    properties:\n      - name: a\n        requierd: true\n"
    ));
    assert!(e.contains("unknown key 'requierd' in a property"), "{e}");
    assert!(e.contains("contract.odcs.yaml:9:9"), "{e}");
    assert!(e.contains("did you mean 'required'"), "{e}");
    assert!(e.contains("customProperties"), "{e}");
    // free keys under customProperties
    read(&format!(
        "{HEAD}customProperties:\n  - {{property: anything, value: {{nested: [1, 2]}}}}\nschema:\n  - name: t\n"
    ))
    .unwrap();
}

#[test]
fn keys_newer_than_the_documents_version_are_refused_with_the_version_they_need() {
    let e = errors(
        "apiVersion: v3.1.0\nkind: DataContract\nid: c\nversion: 1.0.0\nstatus: active\nschema:\n  - name: t\n    properties:\n      - name: a\n        enum: [{value: x}]\n",
    );
    assert!(
        e.contains("'enum' in a property came in ODCS v3.2.0, and this contract is v3.1.0"),
        "{e}"
    );
    assert!(e.contains("apiVersion: v3.2.0"), "{e}");
    // status: required before v3.2, optional from it
    let e = errors(
        "apiVersion: v3.1.0\nkind: DataContract\nid: c\nversion: 1.0.0\nschema:\n  - name: t\n",
    );
    assert!(e.contains("missing the required key 'status'"), "{e}");
    read(&format!("{HEAD}schema:\n  - name: t\n")).unwrap();
    let e = errors("apiVersion: v2.2.2\nkind: DataContract\nid: c\nversion: 1\nstatus: x\n");
    assert!(
        e.contains("apiVersion 'v2.2.2' is not an ODCS version assay reads"),
        "{e}"
    );
}

#[test]
fn exclusive_bounds_are_booleans_before_v3_1_and_numbers_after() {
    let old = read_with(
        DUCKDB,
        None,
        "apiVersion: v3.0.2\nkind: DataContract\nid: c\nversion: 1.0.0\nstatus: active\nschema:\n  - name: t\n    properties:\n      - name: a\n        logicalTypeOptions: {minimum: 5, exclusiveMinimum: true}\n",
    )
    .unwrap();
    let check = old[0]
        .checks
        .iter()
        .find(|c| c.id == "columns/a/invalid/minimum")
        .unwrap();
    let settings = check.kind.settings();
    assert_eq!(settings["valid_min"], 5.0, "{settings:?}");
    assert_eq!(
        settings["invalid_values"],
        serde_json::json!([5]),
        "{settings:?}"
    );
    let e = errors(&format!(
        "{HEAD}schema:\n  - name: t\n    properties:\n      - name: a\n        logicalTypeOptions: {{exclusiveMinimum: true}}\n"
    ));
    assert!(e.contains("exclusiveMinimum"), "{e}");
}

#[test]
fn rules_that_cannot_mean_anything_are_refused() {
    for (rule, expected) in [
        (
            "{metric: nullValue, mustBe: 0}",
            "unknown library metric 'nullValue'",
        ),
        ("{metric: nullValues}", "has no comparison"),
        (
            "{metric: nullValues, mustBe: 0, mustBeLessThan: 3}",
            "takes one comparison",
        ),
        (
            "{metric: duplicateValues, unit: percent, mustBe: 0}",
            "unit percent cannot go with duplicateValues",
        ),
        (
            "{metric: rowCount, mustBe: 0}",
            "rowCount cannot be written on a property",
        ),
        (
            "{metric: invalidValues, mustBe: 0}",
            "needs `arguments.validValues` or `arguments.pattern`",
        ),
        (
            "{metric: nullValues, mustBeBetween: [1], mustBe: null}",
            "takes two numbers",
        ),
        ("{type: sql, mustBe: 0}", "missing the required key 'query'"),
        (
            "{type: magic, mustBe: 0}",
            "unknown quality rule type 'magic'",
        ),
        (
            "{metric: missingValues, arguments: {missing: [x]}, mustBe: 0}",
            "unknown key 'missing'",
        ),
    ] {
        let text = format!("{HEAD}schema:\n  - name: t\n    properties:\n      - name: a\n        quality:\n          - {rule}\n");
        let e = match read(&text) {
            Ok(_) => panic!("{rule} was accepted"),
            Err(d) => shown(&d),
        };
        assert!(e.contains(expected), "{rule}: {e}");
        assert!(
            e.contains("contract.odcs.yaml:"),
            "{rule}: no position in {e}"
        );
    }
}

#[test]
fn the_server_entry_names_the_data_source_and_places_the_tables() {
    let two = "data_sources:\n  - {name: lake, type: duckdb, connection: {database: ':memory:'}}\n  - {name: prod, type: duckdb, connection: {database: ':memory:'}}\n";
    let doc = format!(
        "{HEAD}schema:\n  - name: t\nservers:\n  - {{server: dev, type: duckdb, schema: raw}}\n  - {{server: prod, type: duckdb, schema: sales}}\n"
    );
    let c = read_with(two, None, &doc).unwrap();
    assert_eq!(
        c[0].dataset.text, "prod/sales/t",
        "the entry that names a data source"
    );
    let c = read_with(two, Some("lake"), &doc).unwrap();
    assert_eq!(
        c[0].dataset.text, "lake/main/t",
        "--server names the data source"
    );
    let e = match read_with(two, Some("nowhere"), &doc) {
        Err(d) => d.items[0].message.clone(),
        Ok(_) => panic!("an unknown --server was accepted"),
    };
    assert!(e.contains("--server nowhere"), "{e}");
    let none = format!("{HEAD}schema:\n  - name: t\nservers:\n  - {{server: dev, type: duckdb}}\n");
    let e = match read_with(two, None, &none) {
        Err(d) => format!(
            "{}{}",
            d.items[0].message,
            d.items[0].help.clone().unwrap_or_default()
        ),
        Ok(_) => panic!("no data source matched, yet it was read"),
    };
    assert!(e.contains("no configured data source matches"), "{e}");
    assert!(e.contains("--server"), "{e}");
}

#[test]
fn freshness_comes_from_the_sla_on_its_element() {
    let c = read(&format!(
        "{HEAD}schema:\n  - name: orders\n    properties:\n      - name: updated_at\nslaProperties:\n  - {{id: fresh, property: freshness, value: 6, unit: h, element: orders.updated_at}}\n  - {{property: latency, value: PT90M, element: orders.updated_at}}\n  - {{property: availability, value: 99.9}}\n"
    ))
    .unwrap();
    let ids = ids(&c[0]);
    assert!(
        ids.contains(&"checks/freshness/fresh".to_string()),
        "{ids:?}"
    );
    assert_eq!(
        ids.iter()
            .filter(|i| i.starts_with("checks/freshness"))
            .count(),
        2,
        "{ids:?}"
    );
}

#[test]
fn placeholders_are_filled_as_datacontract_cli_fills_them() {
    let names = vec![
        ("table", Some("\"s\".\"t\"".to_string())),
        ("column", Some("\"c\"".to_string())),
        ("property", None),
    ];
    let fill = |q: &str| super::soda::fill_placeholders(q, &names);
    assert_eq!(
        fill("SELECT {column} FROM ${table}").unwrap(),
        "SELECT \"c\" FROM \"s\".\"t\""
    );
    assert_eq!(
        fill("FROM '{table}' x").unwrap(),
        "FROM \"s\".\"t\" x",
        "quotes around it go"
    );
    assert_eq!(
        fill("WHERE x = '{unknown}'").unwrap(),
        "WHERE x = '{unknown}'"
    );
    assert_eq!(fill("{property}").unwrap_err(), "property");
}

#[test]
fn iso_durations_are_read_as_seconds() {
    use super::soda::iso_duration_seconds as secs;
    assert_eq!(secs("PT6H"), Some(6 * 3600));
    assert_eq!(secs("P1DT12H30M"), Some(86_400 + 12 * 3600 + 1800));
    assert_eq!(secs("P2W"), Some(2 * 604_800));
    assert_eq!(secs("P1Y"), None, "a year's length varies");
    assert_eq!(secs("PT"), None);
    assert_eq!(secs("6h"), None);
}

#[test]
fn the_readme_says_what_assay_does_with_every_odcs_key() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("### ODCS v3 contracts")
        .expect("the README's ODCS section");
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n## ").map_or(section.len(), |e| e + 4)];
    use super::keys::*;
    let mut missing = Vec::new();
    for s in [
        &ROOT,
        &SERVER,
        &OBJECT,
        &PROPERTY,
        &TYPE_OPTIONS,
        &QUALITY,
        &SLA,
        &CUSTOM,
        &AUTHORITATIVE,
        &DESCRIPTION,
        &RELATIONSHIP,
        &ENUM_VALUE,
    ] {
        for (key, _) in s.keys {
            let row = section
                .lines()
                .filter(|l| l.starts_with("| ") && l.contains(&format!("`{key}`")))
                .count();
            if row == 0 {
                missing.push(format!("{}: {key}", s.what));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ODCS keys the README's key table does not name: {missing:?}"
    );
}
