//! Contract files: YAML -> a validated, typed model where every part knows its place in
//! the file. The language is Soda Core v4's, so existing contracts run unchanged.

mod reconciliation;
pub mod threshold;

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

use crate::checks::{
    self, rules, CheckType, ColumnDefaults, DynCheck, ParseCtx, Parsed, Scope, SqlRole,
};
use crate::decode::Reader;
use crate::diag::{unknown_word_help, Diag, Diags};
use crate::interp::Vars;
use crate::source::{Source, Span};
use crate::yaml::{self, Key, Node, NodeValue};

use crate::model::threshold::Threshold;
use crate::model::{ColumnSpec, SqlText};

#[derive(Debug, Clone)]
pub struct DatasetName {
    pub data_source: String,
    /// the parts after the data source: [schema, table], [file path parts], ...
    pub path: Vec<String>,
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Check {
    /// stable identity: `columns/id/missing`, `checks/row_count`, plus `/qualifier`
    pub id: String,
    pub kind: Box<dyn DynCheck>,
    pub column: Option<String>,
    pub name: Option<String>,
    pub qualifier: Option<String>,
    pub filter: Option<SqlText>,
    pub threshold: Threshold,
    pub attributes: Map<String, Json>,
    pub span: Span,
    /// the line of the check's type key in its contract file, for annotations in CI
    pub line: usize,
    /// a reconciliation check's source: which one, and its own filter as the source's
    /// engine runs it
    pub source: Option<CheckSource>,
}

/// The source side of a reconciliation check.
#[derive(Debug, Clone)]
pub struct CheckSource {
    /// index into `Contract::sources`
    pub index: usize,
    /// the check's `filter:`, filled in and validated for the source's dialect (the
    /// check's own `filter` is for the contract's dataset)
    pub filter: Option<SqlText>,
}

/// A dataset a reconciliation compares the contract's dataset against: the one
/// `reconciliation.source`, or an entry of `reconciliation.sources`.
#[derive(Debug, Clone)]
pub struct ReconSource {
    /// the entry's `name` (None for the single `source:` form)
    pub name: Option<String>,
    pub dataset: DatasetName,
    /// applied to the source dataset only
    pub filter: Option<SqlText>,
}

#[derive(Debug, Clone)]
pub struct Contract {
    pub source: Source,
    pub dataset: DatasetName,
    pub filter: Option<SqlText>,
    pub columns: Vec<ColumnSpec>,
    pub checks: Vec<Check>,
    /// `reconciliation:` sources; its checks are among `checks`, each naming its source
    pub sources: Vec<ReconSource>,
    /// `diagnostics: {exclude_columns: [...]}`: kept out of the failed rows store
    pub exclude_columns: Vec<String>,
    /// `--set`, the contract's defaults and the run's now, for placeholders in SQL
    pub vars: Vars,
    /// what was accepted with a warning, as Soda does (shown, the run goes on)
    pub warnings: Vec<Diag>,
}

const CONTRACT_KEYS: &[&str] = &[
    "dataset",
    "check_attributes",
    "filter",
    // Soda's other name for `filter`
    "checks_filter",
    "variables",
    "columns",
    "checks",
    "diagnostics",
    "reconciliation",
];
const COLUMN_KEYS: &[&str] = &[
    "name",
    "column_expression",
    "data_type",
    "character_maximum_length",
    "numeric_precision",
    "numeric_scale",
    "datetime_precision",
    "checks",
];
const COMMON_CHECK_KEYS: &[&str] = &[
    "name",
    "qualifier",
    "filter",
    "threshold",
    "attributes",
    "metric",
];

/// Read and validate one contract file.
pub fn load(
    path: &std::path::Path,
    set: &HashMap<String, String>,
    now: &str,
) -> Result<Contract, Diags> {
    parse(read_source(path)?, set, now)
}

/// A contract file's text, Soda or ODCS.
pub fn read_source(path: &std::path::Path) -> Result<Source, Diag> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diag::plain(format!("cannot read contract '{}': {e}", path.display())))?;
    Ok(Source::new(path, text))
}

pub fn parse(source: Source, set: &HashMap<String, String>, now: &str) -> Result<Contract, Diags> {
    let root = yaml::parse(&source)?;
    parse_root(source, &root, set, now)
}

/// A contract from its YAML tree. The tree's spans point into `source`: an ODCS
/// document's datasets are Soda trees built from the ODCS text, so their errors point
/// at what the ODCS author wrote.
pub fn parse_root(
    source: Source,
    root: &Node,
    set: &HashMap<String, String>,
    now: &str,
) -> Result<Contract, Diags> {
    let vars = variables(&source, root, set, now)?;
    let mut r = Reader::new(&source, Some(&vars));
    if !r.keys(root, CONTRACT_KEYS, "the contract") {
        return Err(r.diags);
    }
    let dataset = r
        .required(root, "dataset", "the contract")
        .and_then(|n| dataset_name(&mut r, n));
    let filter = root
        .get("filter")
        .map(|n| (n, "filter"))
        .or_else(|| root.get("checks_filter").map(|n| (n, "checks_filter")))
        .and_then(|(n, key)| sql_text(&mut r, n, key));
    if ["columns", "checks", "reconciliation"]
        .iter()
        .all(|k| root.get(k).is_none())
    {
        r.error(
            root.span,
            "the contract has neither `columns:` nor `checks:`",
            Some("add dataset-level `checks:`, a `columns:` list or `reconciliation:`".into()),
        );
    }

    let mut exclude_columns = Vec::new();
    if let Some(d) = root.get("diagnostics").filter(|n| !n.is_null()) {
        if r.keys(d, &["exclude_columns"], "diagnostics") {
            if let Some(list) = d.get("exclude_columns") {
                exclude_columns = r.string_list(list, "exclude_columns").unwrap_or_default();
            }
        }
    }
    let mut columns = Vec::new();
    let mut checks_out: Vec<Check> = Vec::new();
    let mut ids: HashMap<String, Span> = HashMap::new();

    if let Some(cols) = root.get("columns").filter(|n| !n.is_null()) {
        if let Some(items) = r.list(cols, "columns") {
            for item in items {
                read_column(&mut r, item, &mut columns, &mut checks_out, &mut ids);
            }
        }
    }
    if let Some(list) = root.get("checks").filter(|n| !n.is_null()) {
        if let Some(items) = r.list(list, "checks") {
            for item in items {
                let place = CheckPlace::Dataset;
                if let Some(check) = read_check(&mut r, item, &place, &columns) {
                    push_check(&mut r, &mut checks_out, &mut ids, check);
                }
            }
        }
    }
    let sources = match root.get("reconciliation").filter(|n| !n.is_null()) {
        Some(n) => crate::contract::reconciliation::read(&mut r, n, &columns, &mut |r, check| {
            push_check(r, &mut checks_out, &mut ids, check)
        }),
        None => Vec::new(),
    };
    // every check gets the contract's check_attributes; its own win on the same key
    let check_attributes = read_attributes(&mut r, root, "check_attributes");
    for check in &mut checks_out {
        let own = std::mem::take(&mut check.attributes);
        check.attributes = check_attributes.clone();
        check.attributes.extend(own);
    }
    let diags = r.diags;
    let warnings = r.warnings.items;
    match dataset {
        Some(dataset) if diags.is_empty() => Ok(Contract {
            source,
            dataset,
            filter,
            columns,
            checks: checks_out,
            sources,
            exclude_columns,
            vars,
            warnings,
        }),
        _ => Err(diags),
    }
}

/// The contract's variables (`--set`, its defaults, the run's now), read first:
/// everything else may use them.
fn variables(
    source: &Source,
    root: &Node,
    set: &HashMap<String, String>,
    now: &str,
) -> Result<Vars, Diags> {
    let mut vars = Vars {
        set: set.clone(),
        defaults: HashMap::new(),
        now: now.to_string(),
        untrusted: true,
    };
    // variables first: everything else may use them
    {
        let mut r = Reader::new(source, None);
        if root.is_null() {
            r.error(
                Span::default(),
                "the contract is empty",
                Some("a contract needs at least `dataset:` and `columns:` or `checks:`".into()),
            );
            return Err(r.diags);
        }
        if let Some(v) = root.get("variables") {
            read_variables(&mut r, v, &mut vars);
        }
        if !r.diags.is_empty() {
            return Err(r.diags);
        }
    }
    Ok(vars)
}

fn read_variables(r: &mut Reader, node: &Node, vars: &mut Vars) {
    let Some(entries) = node.as_map() else {
        r.error(
            node.span,
            format!("variables must be a mapping, found {}", node.kind_name()),
            Some("variables: {START: {default: \"2025-01-01\"}}".into()),
        );
        return;
    };
    // defaults stay as written: one may refer to another, in any order
    let mut written = Vec::new();
    let mut declared = Vec::new();
    for (key, value) in entries {
        if value.is_null() {
            continue; // declared, no default: must come from --set
        }
        if !r.keys(value, VARIABLE_KEYS, &format!("variable '{}'", key.name)) {
            continue;
        }
        if let Some(d) = value.get("default").filter(|d| !d.is_null()) {
            if let Some(text) = r.raw_text(d, "default") {
                vars.defaults.insert(key.name.clone(), text);
                written.push((key.name.clone(), d.span));
            }
        }
        declared.push((key, value));
    }
    // each default must resolve: no unknown names, no cycles; reported where it is written
    for (name, span) in written {
        if vars.set.contains_key(&name) {
            continue;
        }
        if let Err(e) = crate::interp::interpolate(&format!("${{var.{name}}}"), Some(vars)) {
            r.error(
                span,
                format!("the default of '{name}': {}", e.message()),
                Some(e.help()),
            );
        }
    }
    for (key, value) in declared {
        check_variable(r, &key.name, key.span, value, vars);
    }
}

/// What a variable's declaration may say besides its default, as Soda has it.
const VARIABLE_KEYS: &[&str] = &["default", "required", "type"];

/// `required: true` needs a value (from --set or the default); `type: timestamp` needs
/// one that reads as a timestamp. Reported at the declaration.
fn check_variable(r: &mut Reader, name: &str, span: Span, decl: &Node, vars: &Vars) {
    let required = match decl.get("required").filter(|n| !n.is_null()) {
        Some(n) => r.bool(n, "required").unwrap_or(false),
        None => false,
    };
    let value = vars.var(name);
    if required && value.is_none() {
        r.error(
            span,
            format!("variable '{name}' is required and has no value"),
            Some(format!("pass it with `--set {name}=VALUE`")),
        );
    }
    let Some(t) = decl.get("type").filter(|n| !n.is_null()) else {
        return;
    };
    match r.string(t, "type").as_deref() {
        Some("timestamp") => {
            if let Some(v) = value.filter(|v| crate::timestamp::parse_timestamp(v).is_none()) {
                r.error(
                    span,
                    format!("variable '{name}' is a timestamp, but its value '{v}' is not one"),
                    Some("use ISO 8601, like 2025-01-01T00:00:00Z".into()),
                );
            }
        }
        Some(other) => r.warn(
            t.span,
            format!("variable type '{other}' is not checked: only `timestamp` is"),
            None,
        ),
        None => {}
    }
}

pub(crate) fn dataset_name(r: &mut Reader, node: &Node) -> Option<DatasetName> {
    let text = r.string(node, "dataset")?;
    let parts = dataset_parts(&text);
    if parts.len() < 2 || parts.iter().any(String::is_empty) {
        r.error(
            node.span,
            format!("dataset '{text}' must be written data_source/.../table"),
            Some("for example shop/main/orders (duckdb) or files/orders.csv (files)".into()),
        );
        return None;
    }
    Some(DatasetName {
        data_source: parts[0].clone(),
        path: parts[1..].to_vec(),
        text,
        span: node.span,
    })
}

/// A dataset's text split at '/': the data source, then the parts of its path. A path
/// holding a backtick-quoted name (a file a Spark data source reads in place, like
/// ``lake/parquet.`s3a://lake/events/` ``) stays one part after the data source.
pub fn dataset_parts(text: &str) -> Vec<String> {
    match text.split_once('/') {
        Some((source, rest)) if rest.contains('`') => vec![source.to_string(), rest.to_string()],
        _ => text.split('/').map(str::to_string).collect(),
    }
}

pub(crate) fn sql_text(r: &mut Reader, node: &Node, what: &str) -> Option<SqlText> {
    if node.is_null() {
        return None;
    }
    r.sql(node, what)
}

fn read_column(
    r: &mut Reader,
    item: &Node,
    columns: &mut Vec<ColumnSpec>,
    checks_out: &mut Vec<Check>,
    ids: &mut HashMap<String, Span>,
) {
    let mut allowed: Vec<&str> = COLUMN_KEYS.to_vec();
    allowed.extend(rules::MISSING_KEYS);
    allowed.extend(rules::VALIDITY_KEYS);
    if !r.keys(item, &allowed, "a column") {
        return;
    }
    let Some(name) = r
        .required(item, "name", "a column")
        .and_then(|n| r.name(n, "the column's name"))
    else {
        return;
    };
    if let Some(prev) = columns.iter().find(|c| c.name == name) {
        let line = r.source.line_col(prev.span.offset).0;
        r.error(
            item.get("name").map_or(item.span, |n| n.span),
            format!("column '{name}' is listed twice (first on line {line})"),
            Some("put all checks of a column under one entry".into()),
        );
        return;
    }
    let count = |r: &mut Reader, key: &str| item.get(key).and_then(|n| r.count(n, key));
    let spec = ColumnSpec {
        name: name.clone(),
        span: item.get("name").map_or(item.span, |n| n.span),
        data_type: item.get("data_type").and_then(|n| r.string(n, "data_type")),
        character_maximum_length: count(r, "character_maximum_length"),
        numeric_precision: count(r, "numeric_precision"),
        numeric_scale: count(r, "numeric_scale"),
        datetime_precision: count(r, "datetime_precision"),
    };
    let missing = rules::parse_missing(r, item);
    let validity = rules::parse_validity(r, item);
    // SQL used in place of the column's name by every check of the column
    let expression = item
        .get("column_expression")
        .filter(|n| !n.is_null())
        .and_then(|n| r.sql(n, "column_expression"));
    columns.push(spec.clone());
    let defaults = ColumnDefaults {
        spec: &spec,
        missing: missing.as_ref(),
        validity: validity.as_ref(),
        expression: expression.as_ref(),
    };
    if let Some(list) = item.get("checks").filter(|n| !n.is_null()) {
        if let Some(items) = r.list(list, "checks") {
            for c in items {
                if let Some(check) = read_check(r, c, &CheckPlace::Column(&defaults), columns) {
                    push_check(r, checks_out, ids, check);
                }
            }
        }
    }
}

/// Where a check is read: the dataset's `checks:`, a column's, or a reconciliation's
/// (with the source it compares against).
pub(crate) enum CheckPlace<'a> {
    Dataset,
    Column(&'a ColumnDefaults<'a>),
    Reconciliation {
        /// index into the contract's sources, its name, its dataset
        source: usize,
        source_name: Option<&'a str>,
        source_dataset: &'a str,
    },
}

impl CheckPlace<'_> {
    fn scope(&self) -> Scope {
        match self {
            CheckPlace::Dataset => Scope::Dataset,
            CheckPlace::Column(_) => Scope::Column,
            CheckPlace::Reconciliation { .. } => Scope::Reconciliation,
        }
    }

    fn column(&self) -> Option<&ColumnDefaults<'_>> {
        match self {
            CheckPlace::Column(defaults) => Some(*defaults),
            _ => None,
        }
    }

    fn source_dataset(&self) -> Option<&str> {
        match self {
            CheckPlace::Reconciliation { source_dataset, .. } => Some(*source_dataset),
            _ => None,
        }
    }
}

fn push_check(r: &mut Reader, out: &mut Vec<Check>, ids: &mut HashMap<String, Span>, check: Check) {
    if let Some(first) = ids.get(&check.id) {
        let line = r.source.line_col(first.offset).0;
        r.error(
            check.span,
            format!(
                "this check has the same identity '{}' as the check on line {line}",
                check.id
            ),
            Some("add `qualifier: ...` to one of them to tell them apart".into()),
        );
        return;
    }
    ids.insert(check.id.clone(), check.span);
    out.push(check);
}

/// One `- TYPE: {...}` list item -> its type key, body and type, or an error.
fn check_type_of<'n>(
    r: &mut Reader,
    item: &'n Node,
    scope: Scope,
) -> Option<(&'n Key, &'n Node, &'static dyn CheckType)> {
    let Some(entries) = item.as_map() else {
        r.error(
            item.span,
            format!(
                "a check must be a mapping like `- missing:`, found {}",
                item.kind_name()
            ),
            None,
        );
        return None;
    };
    let [(type_key, body)] = entries else {
        let second = entries.get(1).map_or(item.span, |(k, _)| k.span);
        r.error(
            second,
            if entries.is_empty() {
                "a check needs a type, like `- missing:`".to_string()
            } else {
                format!(
                    "one list item holds one check, but this one has {} keys",
                    entries.len()
                )
            },
            Some(
                "start each check with its own `- ` and indent its settings under the type".into(),
            ),
        );
        return None;
    };
    let type_name = type_key.name.as_str();
    let Some(check_type) = checks::type_named(type_name) else {
        let help = unknown_word_help(type_name, &checks::type_names(), "check types:");
        r.diags.push(
            crate::diag::Diag::at(
                r.source,
                type_key.span,
                format!("unknown check type '{type_name}'"),
                "unknown check type",
            )
            .with_help(help),
        );
        return None;
    };
    if !check_type.scopes().contains(&scope) {
        let here = match scope {
            Scope::Dataset => "the dataset's `checks:`",
            Scope::Column => "a column's `checks:`",
            Scope::Reconciliation => "`reconciliation.checks`",
        };
        let there = match check_type.scopes() {
            [Scope::Reconciliation] => "under `reconciliation: {checks: [...]}`",
            [Scope::Column] => "under a column's `checks:`",
            _ => "in the dataset-level `checks:`",
        };
        r.error(
            type_key.span,
            format!(
                "{} {type_name} check cannot go in {here}",
                crate::words::article(type_name)
            ),
            Some(format!("move it {there}")),
        );
        return None;
    }
    Some((type_key, body, check_type))
}

pub(crate) fn read_check(
    r: &mut Reader,
    item: &Node,
    place: &CheckPlace,
    columns: &[ColumnSpec],
) -> Option<Check> {
    let scope = place.scope();
    let column = place.column();
    let (type_key, body, check_type) = check_type_of(r, item, scope)?;
    let type_name = check_type.name();
    // `- missing:` with nothing after it is a check with every default
    let empty = Node {
        value: NodeValue::Map(Vec::new()),
        span: type_key.span,
    };
    let body_map = if body.is_null() { &empty } else { body };
    let mut allowed: Vec<&str> = COMMON_CHECK_KEYS.to_vec();
    if scope == Scope::Reconciliation {
        allowed.push("source");
    }
    allowed.extend(check_type.keys(scope));
    if !r.keys(
        body_map,
        &allowed,
        &format!("{} {type_name} check", crate::words::article(type_name)),
    ) {
        return None;
    }
    let errors_before = r.diags.items.len();
    let ctx = ParseCtx {
        column,
        columns,
        key_span: type_key.span,
        source_dataset: place.source_dataset(),
    };
    let parsed = check_type.parse(r, body_map, &ctx);
    let name = body_map.get("name").and_then(|n| r.string(n, "name"));
    let qualifier = body_map
        .get("qualifier")
        .and_then(|n| r.string(n, "qualifier"));
    let filter = body_map
        .get("filter")
        .and_then(|n| sql_text(r, n, "filter"));
    let attributes = read_attributes(r, body_map, "attributes");
    let Parsed {
        mut kind,
        threshold_rules,
    } = parsed?;
    let threshold_node = body_map.get("threshold");
    let mut threshold = threshold::parse(
        r,
        threshold_node,
        &threshold_rules,
        type_name,
        type_key.span,
    )?;
    // early Soda v4 wrote `metric:` on the check rather than in its threshold
    if let Some(m) = body_map.get("metric").filter(|n| !n.is_null()) {
        let in_threshold = threshold_node.and_then(|t| t.get("metric")).is_some();
        if in_threshold {
            r.error(
                m.span,
                "`metric` is given on the check and in its threshold",
                Some("give it once, in the threshold".into()),
            );
            return None;
        }
        threshold::metric(r, m, &threshold_rules, type_name, &mut threshold);
    }
    let uses_query = kind.user_sql().iter().any(|u| u.role == SqlRole::Query);
    if let (true, Some(f)) = (uses_query, &filter) {
        r.error(
            f.span,
            "a check with `query:` cannot have a `filter`: the query selects its own rows",
            Some("put the condition in the query's WHERE clause".into()),
        );
        return None;
    }
    if r.diags.items.len() > errors_before {
        return None;
    }
    let column_name = column.map(|c| c.spec.name.clone());
    let (id, source) = identity(place, type_name, &column_name, &qualifier, &filter);
    Some(Check {
        id,
        kind,
        column: column_name,
        name,
        qualifier,
        filter,
        threshold,
        attributes,
        span: type_key.span,
        line: r.source.line_col(type_key.span.offset).0,
        source,
    })
}

/// A check's identity (`columns/id/missing`, `checks/row_count`, `reconciliation/
/// row_count_diff/SOURCE`, then `/qualifier`), and a reconciliation check's source with
/// its own copy of the check's filter (filled in for the source's engine).
fn identity(
    place: &CheckPlace,
    type_name: &str,
    column: &Option<String>,
    qualifier: &Option<String>,
    filter: &Option<SqlText>,
) -> (String, Option<CheckSource>) {
    let (base, source) = match (place, column) {
        (
            CheckPlace::Reconciliation {
                source,
                source_name,
                ..
            },
            _,
        ) => (
            match source_name {
                Some(s) => format!("reconciliation/{type_name}/{s}"),
                None => format!("reconciliation/{type_name}"),
            },
            Some(CheckSource {
                index: *source,
                filter: filter.clone(),
            }),
        ),
        (_, Some(c)) => (format!("columns/{c}/{type_name}"), None),
        (_, None) => (format!("checks/{type_name}"), None),
    };
    let id = match qualifier {
        Some(q) => format!("{base}/{q}"),
        None => base,
    };
    (id, source)
}

/// `attributes:` of a check (or `check_attributes:` of the contract): a mapping, copied
/// into results as written, placeholders resolved.
fn read_attributes(r: &mut Reader, body: &Node, key: &str) -> Map<String, Json> {
    match body.get(key).filter(|n| !n.is_null()) {
        Some(n) if n.as_map().is_some() => match to_json(r, n) {
            Json::Object(m) => m,
            _ => Map::new(),
        },
        Some(n) => {
            r.error(
                n.span,
                format!("{key} must be a mapping of names to values"),
                None,
            );
            Map::new()
        }
        None => Map::new(),
    }
}

/// A YAML node as JSON, for `attributes` (copied into results as written).
fn to_json(r: &mut Reader, node: &Node) -> Json {
    match &node.value {
        NodeValue::Null => Json::Null,
        NodeValue::Bool(b) => Json::Bool(*b),
        NodeValue::Int(i) => Json::from(*i),
        NodeValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        NodeValue::Str(s) => Json::String(r.interpolate(s, node.span).unwrap_or_default()),
        NodeValue::Seq(items) => Json::Array(items.iter().map(|i| to_json(r, i)).collect()),
        NodeValue::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), to_json(r, v)))
                .collect(),
        ),
    }
}
