//! An ODCS schema object -> the Soda contract tree that checks the same things, each
//! node keeping the span of the ODCS text it came from.
//!
//! Where datacontract-cli (the reference implementation) reads ODCS differently from
//! Soda's checks, the tree says what datacontract-cli does: duplicates are the number
//! of distinct duplicated values with NULL keys left out (a query of their own, as
//! `metric` checks), `invalidValues` never counts NULL, percents are of all rows,
//! `mustBeBetween` is inclusive and `mustNotBeBetween` its complement.

use super::keys::OPERATORS;
use super::logical::LogicalTypes;
use super::not_run::NotRun;
use super::target::Chosen;
use super::version::Version;
use crate::decode::Reader;
use crate::diag::unknown_word_help;
use crate::source::Span;
use crate::sql::dialect::Dialect;
use crate::yaml::{Key, Node, NodeValue};

pub struct Dataset {
    pub tree: Node,
    /// each property's `logicalType`, compared with the catalog by category
    pub logical: Option<LogicalTypes>,
    /// rules reported as not evaluated, by column
    pub not_run: Vec<(Option<String>, NotRun)>,
}

/// The library metrics and where each may be written (datacontract-cli's levels).
const METRICS: &[(&str, bool, bool)] = &[
    // (name, on a schema object, on a property)
    ("nullValues", false, true),
    ("missingValues", false, true),
    ("invalidValues", false, true),
    ("duplicateValues", true, true),
    ("rowCount", true, false),
];

/// datacontract-cli's units of a percent threshold
const PERCENT_UNITS: &[&str] = &["percent", "percentage", "%"];

/// Severities that make a failing rule a warning (datacontract-cli's list); any other
/// fails.
const WARN_SEVERITIES: &[&str] = &["info", "warning", "warn", "low", "minor", "trivial"];

pub fn datasets(r: &mut Reader, root: &Node, version: Version, chosen: &Chosen) -> Vec<Dataset> {
    let Some(objects) = root.get("schema").and_then(|n| r.list(n, "schema")) else {
        r.error(
            root.span,
            "this ODCS contract has no `schema:` objects, so nothing to verify",
            Some("list the tables under `schema:`, each with its `properties:`".into()),
        );
        return Vec::new();
    };
    let sla = freshness_rules(r, root);
    let mut out = Vec::new();
    for object in objects {
        if let Some(d) = dataset(r, object, version, chosen, &sla) {
            out.push(d);
        }
    }
    out
}

/// One object -> its dataset tree.
fn dataset(
    r: &mut Reader,
    object: &Node,
    version: Version,
    chosen: &Chosen,
    sla: &[SlaFreshness],
) -> Option<Dataset> {
    let name_node = r.required(object, "name", "a schema object")?;
    let logical = r.string(name_node, "name")?;
    let table_node = object.get("physicalName").unwrap_or(name_node);
    let table = r.string(table_node, "physicalName")?;
    let ds = chosen.ds;
    let parts = ds.engine.odcs_path(ds, &chosen.place, &table);
    let table_ref = match ds.engine.table_ref(ds, &parts) {
        Ok(t) => t,
        Err(e) => {
            r.error(
                table_node.span,
                format!("table '{table}' on data source '{}': {e}", ds.name),
                Some("set the server entry's `schema`/`database`, or `physicalName`".into()),
            );
            return None;
        }
    };
    let dialect = ds.engine.dialect();
    let mut b = Builder {
        dialect,
        table_sql: dialect.table(&table_ref),
        schema_sql: chosen
            .place
            .schema
            .as_deref()
            .or(parts.first().map(String::as_str))
            .map(|s| dialect.quote_ident(s))
            .unwrap_or_default(),
        version,
        columns: Vec::new(),
        checks: Vec::new(),
        not_run: Vec::new(),
        logical: Vec::new(),
        exprs: std::collections::HashMap::new(),
    };
    let mut primary_key: Vec<(u64, String, Span)> = Vec::new();
    if let Some(props) = object.get("properties").filter(|n| !n.is_null()) {
        for prop in r.list(props, "properties").unwrap_or(&[]) {
            b.property(r, prop, &mut primary_key);
        }
    }
    b.composite_key(&mut primary_key);
    if let Some(rules) = object.get("quality").filter(|n| !n.is_null()) {
        for (i, rule) in r.list(rules, "quality").unwrap_or(&[]).iter().enumerate() {
            b.rule(r, rule, i, None);
        }
    }
    let span = name_node.span;
    for f in sla
        .iter()
        .filter(|f| f.object == logical || f.object == table)
    {
        b.checks.push(f.check());
    }
    if !b.columns.is_empty() {
        // presence and physical types; extra columns and their order are not ODCS's concern
        b.checks.insert(
            0,
            item(
                "schema",
                span,
                vec![
                    ("allow_extra_columns", boolean(true, span)),
                    ("allow_other_column_order", boolean(true, span)),
                ],
            ),
        );
    }
    let dataset_text = format!("{}/{}", ds.name, parts.join("/"));
    let mut entries = vec![("dataset", text(dataset_text, span))];
    if !b.columns.is_empty() {
        entries.push(("columns", seq(span, std::mem::take(&mut b.columns))));
    }
    entries.push(("checks", seq(span, std::mem::take(&mut b.checks))));
    let logical = (!b.logical.is_empty()).then(|| LogicalTypes {
        expected: std::mem::take(&mut b.logical),
        span,
    });
    Some(Dataset {
        tree: map(object.span, entries),
        logical,
        not_run: b.not_run,
    })
}

struct Builder {
    dialect: &'static dyn Dialect,
    /// the table as the engine's SQL names it, for the queries assay writes
    table_sql: String,
    schema_sql: String,
    version: Version,
    columns: Vec<Node>,
    checks: Vec<Node>,
    not_run: Vec<(Option<String>, NotRun)>,
    /// (column, logicalType)
    logical: Vec<(String, String)>,
    /// nested fields (`address.street`) as SQL
    exprs: std::collections::HashMap<String, String>,
}

impl Builder {
    /// A property -> a column with the checks its constraints and rules say.
    fn property(
        &mut self,
        r: &mut Reader,
        prop: &Node,
        primary_key: &mut Vec<(u64, String, Span)>,
    ) {
        let Some((column, span)) = property_name(r, prop) else {
            return;
        };
        if let Some(t) = prop.get("logicalType").filter(|n| !n.is_null()) {
            if let Some(t) = r.string(t, "logicalType") {
                self.logical.push((column.clone(), t));
            }
        }
        let mut checks = self.constraints(r, prop, &column, Some(primary_key));
        checks.extend(self.quality_of(r, prop, &column));
        let expr = self.dialect.quote_ident(&column);
        checks.extend(self.nested(r, prop, (&column, &expr, ""), None));
        let mut entries = vec![("name", text(column.to_string(), span))];
        if let Some(t) = prop.get("physicalType").filter(|n| !n.is_null()) {
            if let Some(t) = r.string(t, "physicalType") {
                entries.push(("data_type", text(t, key_span(prop, "physicalType"))));
            }
        }
        if !checks.is_empty() {
            entries.push(("checks", seq(span, checks)));
        }
        self.columns.push(map(prop.span, entries));
    }

    /// The properties of an object property, on engines with struct columns: each
    /// field's checks, on the column that holds it, reading the field
    /// (`column_expression`), their qualifiers prefixed by the field's path
    /// (`street/required`). Arrays and maps, and objects elsewhere, are left with a
    /// warning.
    fn nested(
        &mut self,
        r: &mut Reader,
        prop: &Node,
        (column, expr, path): (&str, &str, &str),
        outer: Option<&str>,
    ) -> Vec<Node> {
        let shown = if path.is_empty() {
            column.to_string()
        } else {
            format!("{column}.{path}")
        };
        let logical = prop.get("logicalType").and_then(Node::scalar_text);
        let mut out = Vec::new();
        for key in ["properties", "items", "map"] {
            let Some(inner) = prop.get(key).filter(|n| !n.is_null()) else {
                continue;
            };
            let array = key == "items" && logical.as_deref().is_none_or(|t| t == "array");
            if array && self.dialect.any_element(expr, "x", "TRUE").is_some() {
                out.extend(self.items(r, inner, column, expr, path));
                continue;
            }
            let object = key == "properties" && logical.as_deref().is_none_or(|t| t == "object");
            if !object || self.dialect.struct_field(expr, "x").is_none() {
                let why = if object || array {
                    format!("{} has no {key} in its columns", self.dialect.name())
                } else {
                    format!("assay checks the {key} of a column not yet")
                };
                r.warn(
                    key_span(prop, key),
                    format!("the nested {key} of '{shown}' are not checked: {why}; the column '{column}' itself is"),
                    Some("check nested values with a `sql` quality rule on the column".into()),
                );
                continue;
            }
            // a field of a NULL object is absent, not missing (datacontract-cli counts it so)
            let present = match outer {
                Some(o) => format!("{o} AND {expr} IS NOT NULL"),
                None => format!("{expr} IS NOT NULL"),
            };
            let subs = r.list(inner, "properties").unwrap_or(&[]);
            if let Some(t) = subs.iter().find_map(|p| p.get("logicalType")) {
                r.warn(
                    t.span,
                    format!("the logicalTypes of the fields of '{shown}' are not compared with the catalog; their values are checked"),
                    Some("the column's own logicalType is compared".into()),
                );
            }
            for sub in subs {
                let Some((field, _)) = property_name(r, sub) else {
                    continue;
                };
                let sub_path = if path.is_empty() {
                    field.clone()
                } else {
                    format!("{path}.{field}")
                };
                let sub_expr = self.dialect.struct_field(expr, &field).unwrap_or_default();
                let full = format!("{column}.{sub_path}");
                self.exprs.insert(full.clone(), sub_expr.clone());
                let mut checks = self.constraints(r, sub, &full, None);
                checks.extend(self.quality_of(r, sub, &full));
                out.extend(
                    checks
                        .into_iter()
                        .map(|c| on_field(c, &sub_path, &sub_expr, &present)),
                );
                out.extend(self.nested(r, sub, (column, &sub_expr, &sub_path), Some(&present)));
            }
        }
        out
    }

    /// The items of an array column, on engines with arrays: each constraint and rule of
    /// the items (or of their fields, for objects) counts the rows whose array holds an
    /// item that breaks it (an empty array breaks nothing), as datacontract-cli reads
    /// them; a `failed_rows` expression of the column. Qualifiers are led by the items'
    /// path (`tags[]/required`, `lines[].sku/pattern`).
    fn items(
        &mut self,
        r: &mut Reader,
        items: &Node,
        column: &str,
        array: &str,
        path: &str,
    ) -> Vec<Node> {
        const VAR: &str = "item";
        let items_path = format!("{path}[]");
        let shown = format!(
            "{column}{}[]",
            if path.is_empty() {
                String::new()
            } else {
                format!(".{path}")
            }
        );
        let fields: Vec<(Option<String>, Node)> = match items.get("properties") {
            Some(props) if !props.is_null() => r
                .list(props, "properties")
                .unwrap_or(&[])
                .iter()
                .filter_map(|p| property_name(r, p).map(|(f, _)| (Some(f), p.clone())))
                .collect(),
            _ => vec![(None, items.clone())],
        };
        let mut out = Vec::new();
        for (field, node) in fields {
            let (value, present, sub, label) = match &field {
                None => (VAR.to_string(), None, items_path.clone(), shown.clone()),
                Some(f) => {
                    let Some(v) = self.dialect.struct_field(VAR, f) else {
                        continue;
                    };
                    (
                        v,
                        Some(format!("{VAR} IS NOT NULL")),
                        format!("{items_path}.{f}"),
                        format!("{shown}.{f}"),
                    )
                }
            };
            for (qualifier, name, predicate, threshold) in
                self.element_rules(r, &node, &value, &label, column, &sub)
            {
                let expression = match (&predicate, &present) {
                    (Element::Repeats, _) => self.dialect.array_repeats(array),
                    (Element::Any(p), Some(present)) => {
                        self.dialect
                            .any_element(array, VAR, &format!("{present} AND ({p})"))
                    }
                    (Element::Any(p), None) => self.dialect.any_element(array, VAR, p),
                };
                let Some(expression) = expression else {
                    continue;
                };
                let span = threshold.span;
                let check = item(
                    "failed_rows",
                    span,
                    vec![
                        ("expression", text(expression, span)),
                        ("threshold", threshold),
                    ],
                );
                out.push(named(check, &format!("{sub}/{qualifier}"), name));
            }
        }
        out
    }

    /// What the items (or one field of them) must be, each as a predicate over the item
    /// `v` that marks one breaking it: (qualifier, name, predicate, threshold).
    fn element_rules(
        &mut self,
        r: &mut Reader,
        node: &Node,
        v: &str,
        label: &str,
        column: &str,
        sub: &str,
    ) -> Vec<ItemRule> {
        let mut out = Vec::new();
        if let Some(at) = flag(r, node, "required") {
            out.push((
                "required".into(),
                format!("{label} is required"),
                Element::Any(format!("{v} IS NULL")),
                must_be_zero(at),
            ));
        }
        // repeats of values: of items that are values, not of a field of object items
        if let (Some(at), true) = (flag(r, node, "unique"), v == "item") {
            out.push((
                "unique".into(),
                format!("{label} is unique in its array"),
                Element::Repeats,
                must_be_zero(at),
            ));
        }
        if let Some(opts) = node.get("logicalTypeOptions").filter(|n| !n.is_null()) {
            out.extend(self.element_options(r, opts, v, label));
        }
        if let Some((at, list)) = enum_values(r, node) {
            if let Some(lits) = self.literals(&list) {
                out.push((
                    "enum".into(),
                    format!("{label} is one of its enum values"),
                    Element::Any(format!("{v} IS NOT NULL AND {v} NOT IN ({lits})")),
                    must_be_zero(at),
                ));
            }
        }
        if let Some(rules) = node.get("quality").filter(|n| !n.is_null()) {
            for (i, rule) in r.list(rules, "quality").unwrap_or(&[]).iter().enumerate() {
                if let Some(rule) = self.element_rule(r, rule, i, v, (label, column, sub)) {
                    out.push(rule);
                }
            }
        }
        out
    }

    /// `logicalTypeOptions` of array items: bounds, lengths and a pattern, as
    /// predicates over the item `v`.
    fn element_options(&self, r: &mut Reader, opts: &Node, v: &str, label: &str) -> Vec<ItemRule> {
        let d = self.dialect;
        let text_of = |v: &str| d.char_length(&d.cast_text(v));
        let mut out = Vec::new();
        let strict_min = self.strict(r, opts, "exclusiveMinimum");
        let strict_max = self.strict(r, opts, "exclusiveMaximum");
        let mut bounds: Vec<(&str, &str)> = vec![
            ("minLength", "<"),
            ("maxLength", ">"),
            ("minimum", if strict_min { "<=" } else { "<" }),
            ("maximum", if strict_max { ">=" } else { ">" }),
        ];
        if self.version.exclusive_bounds_are_numbers() {
            bounds.extend([("exclusiveMinimum", "<="), ("exclusiveMaximum", ">=")]);
        }
        for (key, op) in bounds {
            let Some(n) = opts.get(key).filter(|n| !n.is_null()) else {
                continue;
            };
            if r.number(n, key).is_none() {
                continue;
            }
            let at = key_span(opts, key);
            let subject = if key.ends_with("Length") {
                text_of(v)
            } else {
                v.to_string()
            };
            out.push((
                key.into(),
                format!("{label} {key} {}", show(n)),
                Element::Any(format!("{v} IS NOT NULL AND {subject} {op} {}", show(n))),
                must_be_zero(at),
            ));
        }
        if let Some(p) = opts
            .get("pattern")
            .filter(|n| !n.is_null())
            .and_then(|n| r.raw_text(n, "pattern"))
        {
            let at = key_span(opts, "pattern");
            let matches = d.regex_match(&d.cast_text(v), &d.string_literal(&p));
            out.push((
                "pattern".into(),
                format!("{label} matches {p}"),
                Element::Any(format!("{v} IS NOT NULL AND NOT {matches}")),
                must_be_zero(at),
            ));
        }
        out
    }

    /// One `quality` rule of array items: a library metric as a predicate over the item;
    /// a `sql` or `custom` rule is reported as not evaluated (an item is not a column).
    fn element_rule(
        &mut self,
        r: &mut Reader,
        rule: &Node,
        i: usize,
        v: &str,
        (label, column, sub): (&str, &str, &str),
    ) -> Option<ItemRule> {
        rule.as_map()?;
        let (qualifier, name) = rule_identity(r, rule, i);
        let kind = rule
            .get("type")
            .and_then(Node::scalar_text)
            .unwrap_or_else(|| "library".into());
        if kind != "library" {
            self.not_run.push((
                Some(column.to_string()),
                NotRun {
                    rule: kind.clone(),
                    reason: format!("a {kind} rule of array items: an item is not a column a query can name; write the rule on the array's column"),
                    name: name.unwrap_or_else(|| format!("{kind} rule of {label}")),
                    qualifier: format!("{sub}/{qualifier}"),
                    span: rule.span,
                },
            ));
            return None;
        }
        let (metric_node, metric_key) = self.metric_of(r, rule)?;
        let metric = r.string(metric_node, metric_key)?;
        let at = key_span(rule, metric_key);
        let percent = self.unit_is_percent(r, rule, &metric);
        let threshold = threshold(r, rule, percent)?;
        let arg = |key: &str| {
            rule.get("arguments")
                .and_then(|a| a.get(key))
                .filter(|n| !n.is_null())
        };
        let values = |key: &str| {
            arg(key).map(|l| {
                seq_items_of(l)
                    .into_iter()
                    .filter(|n| !n.is_null())
                    .collect::<Vec<Node>>()
            })
        };
        let name = name.unwrap_or_else(|| format!("{metric} of {label}"));
        let predicate = match metric.as_str() {
            "nullValues" => Element::Any(format!("{v} IS NULL")),
            "missingValues" => match values("missingValues")
                .filter(|l| !l.is_empty())
                .and_then(|l| self.literals(&l))
            {
                Some(lits) => Element::Any(format!("{v} IS NULL OR {v} IN ({lits})")),
                None => Element::Any(format!("{v} IS NULL")),
            },
            "invalidValues" => {
                let mut valid = Vec::new();
                if let Some(lits) = values("validValues").and_then(|l| self.literals(&l)) {
                    valid.push(format!("{v} IN ({lits})"));
                }
                if let Some(p) = arg("pattern").and_then(Node::scalar_text) {
                    let d = self.dialect;
                    valid.push(d.regex_match(&d.cast_text(v), &d.string_literal(&p)));
                }
                if valid.is_empty() {
                    r.error(
                        at,
                        "invalidValues needs `arguments.validValues` or `arguments.pattern`",
                        None,
                    );
                    return None;
                }
                Element::Any(format!("{v} IS NOT NULL AND NOT ({})", valid.join(" AND ")))
            }
            "duplicateValues" if v == "item" => Element::Repeats,
            other => {
                r.error(at, format!("{other} cannot be written on the items of an array"), Some("nullValues, missingValues, invalidValues, and duplicateValues on items that are values".into()));
                return None;
            }
        };
        Some((qualifier, name, predicate, threshold))
    }

    /// YAML scalars as SQL literals of this engine, comma-separated; None for an empty
    /// list or a value that is no scalar.
    fn literals(&self, values: &[Node]) -> Option<String> {
        let lits: Option<Vec<String>> = values
            .iter()
            .map(|n| match &n.value {
                NodeValue::Str(s) => Some(self.dialect.string_literal(s)),
                NodeValue::Int(_) | NodeValue::Float(_) => n.scalar_text(),
                NodeValue::Bool(b) => Some(if *b { "TRUE".into() } else { "FALSE".into() }),
                _ => None,
            })
            .collect();
        lits.filter(|l| !l.is_empty()).map(|l| l.join(", "))
    }

    /// A property's `quality` rules, as checks of its column.
    fn quality_of(&mut self, r: &mut Reader, prop: &Node, column: &str) -> Vec<Node> {
        let before = self.checks.len();
        if let Some(rules) = prop.get("quality").filter(|n| !n.is_null()) {
            for (i, rule) in r.list(rules, "quality").unwrap_or(&[]).iter().enumerate() {
                self.rule(r, rule, i, Some(column));
            }
        }
        self.checks.drain(before..).collect()
    }

    /// A property's constraints (required, unique, primaryKey, logicalTypeOptions, enum)
    /// as checks. A nested field has no part in the primary key (`primary_key` None).
    fn constraints(
        &mut self,
        r: &mut Reader,
        prop: &Node,
        column: &str,
        primary_key: Option<&mut Vec<(u64, String, Span)>>,
    ) -> Vec<Node> {
        let column = column.to_string();
        let mut checks = Vec::new();
        let required = flag(r, prop, "required");
        if let Some(at) = required {
            checks.push(named(
                item("missing", at, vec![]),
                "required",
                format!("{column} is required"),
            ));
        }
        if let Some(at) = flag(r, prop, "unique") {
            checks.push(self.duplicates(
                std::slice::from_ref(&column),
                at,
                "unique",
                format!("{column} is unique"),
                must_be_zero(at),
            ));
        }
        if let (Some(at), Some(primary_key)) = (flag(r, prop, "primaryKey"), primary_key) {
            let position = prop
                .get("primaryKeyPosition")
                .filter(|n| !n.is_null())
                .and_then(|n| r.count(n, "primaryKeyPosition"))
                .unwrap_or(0);
            primary_key.push((position, column.clone(), at));
            if required.is_none() {
                checks.push(named(
                    item("missing", at, vec![]),
                    "primaryKey",
                    format!("{column} is the primary key: not null"),
                ));
            }
        }
        self.type_options(r, prop, &column, &mut checks);
        // each value is an object with its `value` (and label, description, ...)
        if let Some((at, list)) = enum_values(r, prop) {
            checks.push(named(
                item("invalid", at, vec![("valid_values", seq(at, list))]),
                "enum",
                format!("{column} is one of its enum values"),
            ));
        }
        checks
    }

    /// A column (or a nested field, by its path) as SQL.
    fn col_sql(&self, column: &str) -> String {
        self.exprs
            .get(column)
            .cloned()
            .unwrap_or_else(|| self.dialect.quote_ident(column))
    }

    /// Before v3.1 the exclusive keys were booleans that made `minimum`/`maximum`
    /// strict: is this one (`exclusiveMinimum` or `exclusiveMaximum`) such a true?
    fn strict(&self, r: &mut Reader, opts: &Node, key: &str) -> bool {
        !self.version.exclusive_bounds_are_numbers()
            && opts
                .get(key)
                .filter(|n| !n.is_null())
                .and_then(|n| r.bool(n, key))
                .unwrap_or(false)
    }

    /// `logicalTypeOptions`: bounds, lengths, a pattern, a multiple.
    fn type_options(&mut self, r: &mut Reader, prop: &Node, column: &str, checks: &mut Vec<Node>) {
        let Some(opts) = prop.get("logicalTypeOptions").filter(|n| !n.is_null()) else {
            return;
        };
        let num = |r: &mut Reader, key: &str| -> Option<(Node, Span)> {
            let n = opts.get(key).filter(|n| !n.is_null())?;
            r.number(n, key)?;
            Some((n.clone(), key_span(opts, key)))
        };
        for (key, soda, most) in [
            ("minLength", "valid_min_length", "least"),
            ("maxLength", "valid_max_length", "most"),
        ] {
            if let Some((n, at)) = num(r, key) {
                let label = format!("{column} has at {most} {} characters", show(&n));
                checks.push(named(item("invalid", at, vec![(soda, n)]), key, label));
            }
        }
        let old_exclusive = !self.version.exclusive_bounds_are_numbers();
        let strict_min = self.strict(r, opts, "exclusiveMinimum");
        let strict_max = self.strict(r, opts, "exclusiveMaximum");
        if let Some((n, at)) = num(r, "minimum") {
            checks.push(bound(column, "minimum", "valid_min", n, at, strict_min));
        }
        if let Some((n, at)) = num(r, "maximum") {
            checks.push(bound(column, "maximum", "valid_max", n, at, strict_max));
        }
        if !old_exclusive {
            if let Some((n, at)) = num(r, "exclusiveMinimum") {
                checks.push(bound(column, "exclusiveMinimum", "valid_min", n, at, true));
            }
            if let Some((n, at)) = num(r, "exclusiveMaximum") {
                checks.push(bound(column, "exclusiveMaximum", "valid_max", n, at, true));
            }
        }
        if let Some(p) = opts.get("pattern").filter(|n| !n.is_null()) {
            let at = key_span(opts, "pattern");
            if let Some(pattern) = r.raw_text(p, "pattern") {
                let regex = map(at, vec![("regex", text(pattern.clone(), p.span))]);
                checks.push(named(
                    item("invalid", at, vec![("valid_format", regex)]),
                    "pattern",
                    format!("{column} matches {pattern}"),
                ));
            }
        }
        if let Some((n, at)) = num(r, "multipleOf") {
            let col = self.col_sql(column);
            let expression = format!("{col} IS NOT NULL AND MOD({col}, {}) <> 0", show(&n));
            checks.push(named(
                item(
                    "failed_rows",
                    at,
                    vec![("expression", text(expression, n.span))],
                ),
                "multipleOf",
                format!("{column} is a multiple of {}", show(&n)),
            ));
        }
    }

    /// A composite primary key is unique as a tuple, in `primaryKeyPosition` order; a
    /// single one as its column.
    fn composite_key(&mut self, primary_key: &mut [(u64, String, Span)]) {
        primary_key.sort_by_key(|(position, _, _)| *position);
        let columns: Vec<String> = primary_key.iter().map(|(_, c, _)| c.clone()).collect();
        let Some((_, _, at)) = primary_key.first() else {
            return;
        };
        let at = *at;
        let label = format!("({}) is the primary key: unique", columns.join(", "));
        if columns.len() == 1 {
            // the column's own checks hold it, as datacontract-cli's do
            let check = self.duplicates(&columns, at, "primaryKey", label, must_be_zero(at));
            self.push_to_column(&columns[0], check);
        } else {
            let check = self.duplicates(&columns, at, "primaryKey", label, must_be_zero(at));
            self.checks.push(check);
        }
    }

    fn push_to_column(&mut self, column: &str, check: Node) {
        let Some(col) = self
            .columns
            .iter_mut()
            .find(|c| c.get("name").and_then(Node::scalar_text).as_deref() == Some(column))
        else {
            self.checks.push(check);
            return;
        };
        let NodeValue::Map(entries) = &mut col.value else {
            return;
        };
        match entries.iter_mut().find(|(k, _)| k.name == "checks") {
            Some((
                _,
                Node {
                    value: NodeValue::Seq(items),
                    ..
                },
            )) => items.push(check),
            _ => {
                let span = check.span;
                entries.push((key("checks", span), seq(span, vec![check])));
            }
        }
    }

    /// Distinct values (or tuples) that occur more than once, rows with a NULL in the
    /// key left out: what datacontract-cli counts. Soda's `duplicate` counts the extra
    /// rows instead, so this is a query of its own.
    fn duplicates(
        &self,
        columns: &[String],
        at: Span,
        qualifier: &str,
        name: String,
        threshold: Node,
    ) -> Node {
        let quoted: Vec<String> = columns.iter().map(|c| self.col_sql(c)).collect();
        let not_null: Vec<String> = quoted.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        let query = format!(
            "SELECT COUNT(*) FROM (SELECT {cols} FROM {table} WHERE {nn} GROUP BY {cols} HAVING COUNT(*) > 1) AS duplicated",
            cols = quoted.join(", "),
            table = self.table_sql,
            nn = not_null.join(" AND "),
        );
        named(
            item(
                "metric",
                at,
                vec![("query", text(query, at)), ("threshold", threshold)],
            ),
            qualifier,
            name,
        )
    }

    /// One `quality[]` rule (index `i`) of an object (`column` None) or a property.
    fn rule(&mut self, r: &mut Reader, rule: &Node, i: usize, column: Option<&str>) {
        if rule.as_map().is_none() {
            return; // reported by the key check
        }
        let rule_type = match rule.get("type").filter(|n| !n.is_null()) {
            Some(t) => r.string(t, "type").unwrap_or_default(),
            None => "library".to_string(),
        };
        let (qualifier, label) = rule_identity(r, rule, i);
        let at = rule
            .get("type")
            .map_or(rule.span, |_| key_span(rule, "type"));
        match rule_type.as_str() {
            "library" => self.library(r, rule, column, &qualifier, label),
            "sql" => self.sql(r, rule, column, &qualifier, label),
            "custom" => self.custom(r, rule, column, qualifier, label, at),
            "text" => self.not_run.push((
                column.map(str::to_string),
                NotRun {
                    rule: "text".into(),
                    reason: "a text rule describes quality in words; there is nothing to run"
                        .into(),
                    name: label.unwrap_or_else(|| "text rule".into()),
                    qualifier,
                    span: at,
                },
            )),
            other => {
                let help =
                    unknown_word_help(other, &["library", "sql", "custom", "text"], "rule types:");
                r.error(
                    at,
                    format!("unknown quality rule type '{other}'"),
                    Some(help),
                );
            }
        }
    }

    /// The rule's metric key: `metric`, or `rule` (its name before v3.1.0).
    fn metric_of<'n>(&self, r: &mut Reader, rule: &'n Node) -> Option<(&'n Node, &'static str)> {
        match (rule.get("metric"), rule.get("rule")) {
            (Some(m), None) => Some((m, "metric")),
            (None, Some(m)) => {
                if self.version.rule_deprecated() {
                    r.warn(
                        key_span(rule, "rule"),
                        "`rule:` is deprecated since ODCS v3.1.0",
                        Some("write `metric:`".into()),
                    );
                }
                Some((m, "rule"))
            }
            (Some(_), Some(_)) => {
                r.error(
                    key_span(rule, "rule"),
                    "a quality rule has both `metric` and `rule`",
                    Some("keep `metric:` (`rule` is its deprecated name)".into()),
                );
                None
            }
            (None, None) => {
                r.error(rule.span, "a library quality rule needs `metric:`", Some("metric: nullValues, missingValues, invalidValues, duplicateValues or rowCount; or `type: sql` with a `query`".into()));
                None
            }
        }
    }

    fn library(
        &mut self,
        r: &mut Reader,
        rule: &Node,
        column: Option<&str>,
        qualifier: &str,
        label: Option<String>,
    ) {
        let Some((metric_node, metric_key)) = self.metric_of(r, rule) else {
            return;
        };
        let Some(metric) = r.string(metric_node, metric_key) else {
            return;
        };
        let at = key_span(rule, metric_key);
        let names: Vec<&str> = METRICS.iter().map(|(n, _, _)| *n).collect();
        let Some((_, on_object, on_property)) = METRICS.iter().find(|(n, _, _)| *n == metric)
        else {
            if !self.version.rule_deprecated() && metric_key == "rule" {
                // v3.0 named no library: its examples (nullCheck, between, ...) carry their
                // parameters in customProperties, differently in every tool
                self.not_run.push((
                    column.map(str::to_string),
                    NotRun {
                        rule: format!("library {metric}"),
                        reason: format!(
                            "ODCS v3.0 defines no rule '{metric}': the library of v3.1 ({}) does",
                            names.join(", ")
                        ),
                        name: label.unwrap_or_else(|| metric.clone()),
                        qualifier: qualifier.to_string(),
                        span: at,
                    },
                ));
                return;
            }
            r.error(
                metric_node.span,
                format!("unknown library metric '{metric}'"),
                Some(unknown_word_help(&metric, &names, "metrics:")),
            );
            return;
        };
        if (column.is_some() && !on_property) || (column.is_none() && !on_object) {
            let (here, there) = if column.is_some() {
                ("a property", "the schema object")
            } else {
                ("a schema object", "a property")
            };
            r.error(
                at,
                format!("{metric} cannot be written on {here}"),
                Some(format!("move the rule to {there}'s `quality:`")),
            );
            return;
        }
        let percent = self.unit_is_percent(r, rule, &metric);
        let Some(threshold) = threshold(r, rule, percent) else {
            return;
        };
        let args = rule.get("arguments").filter(|n| !n.is_null());
        let allowed: &[&str] = match (metric.as_str(), column) {
            ("missingValues", _) => &["missingValues"],
            ("invalidValues", _) => &["validValues", "pattern"],
            ("duplicateValues", None) => &["properties"],
            _ => &[],
        };
        if let Some(a) = args {
            if !r.keys(a, allowed, &format!("the arguments of {metric}")) {
                return;
            }
        }
        let label = label.unwrap_or_else(|| match column {
            Some(c) => format!("{metric} of {c}"),
            None => metric.clone(),
        });
        let made = self.library_check(r, &metric, column, args, (at, qualifier, label), threshold);
        if let Some(check) = made {
            self.checks.push(check);
        }
    }

    /// A library rule's check: its metric as the Soda check (or query) that counts the
    /// same rows.
    fn library_check(
        &self,
        r: &mut Reader,
        metric: &str,
        column: Option<&str>,
        args: Option<&Node>,
        (at, qualifier, label): (Span, &str, String),
        threshold: Node,
    ) -> Option<Node> {
        let arg = |key: &str| args.and_then(|a| a.get(key)).filter(|n| !n.is_null());
        let check = match metric {
            "rowCount" => item("row_count", at, vec![("threshold", threshold)]),
            "nullValues" => item("missing", at, vec![("threshold", threshold)]),
            "missingValues" => {
                let values = arg("missingValues").map(|v| without_nulls(r, v, "missingValues"));
                let mut entries = vec![("threshold", threshold)];
                if let Some(v) = values.filter(|v| !is_empty_seq(v)) {
                    entries.insert(0, ("missing_values", v));
                }
                item("missing", at, entries)
            }
            "invalidValues" => {
                let mut entries = Vec::new();
                if let Some(v) = arg("validValues") {
                    entries.push(("valid_values", without_nulls(r, v, "validValues")));
                }
                if let Some(p) = arg("pattern") {
                    entries.push(("valid_format", map(p.span, vec![("regex", p.clone())])));
                }
                if entries.is_empty() {
                    r.error(
                        at,
                        "invalidValues needs `arguments.validValues` or `arguments.pattern`",
                        Some(
                            "arguments: {validValues: [a, b]} or arguments: {pattern: '^[A-Z]+$'}"
                                .into(),
                        ),
                    );
                    return None;
                }
                entries.push(("threshold", threshold));
                item("invalid", at, entries)
            }
            _ => {
                // duplicateValues
                let columns = duplicate_columns(r, column, arg("properties"), at)?;
                return Some(self.duplicates(&columns, at, qualifier, label, threshold));
            }
        };
        Some(named(check, qualifier, label))
    }

    /// `unit`: rows (the default) or a percent of all rows, which only the row-counting
    /// metrics have.
    fn unit_is_percent(&self, r: &mut Reader, rule: &Node, metric: &str) -> bool {
        let Some(u) = rule.get("unit").filter(|n| !n.is_null()) else {
            return false;
        };
        let unit = r.string(u, "unit").unwrap_or_default();
        let lower = unit.trim().to_lowercase();
        if PERCENT_UNITS.contains(&lower.as_str()) {
            if !["nullValues", "missingValues", "invalidValues"].contains(&metric) {
                r.error(u.span, format!("unit {unit} cannot go with {metric}"), Some("a percent is of the rows: nullValues, missingValues and invalidValues have one".into()));
            }
            return true;
        }
        if lower != "rows" {
            r.error(
                u.span,
                format!("unit '{unit}' is not one assay reads"),
                Some("write `unit: rows` (the default) or `unit: percent`".into()),
            );
        }
        false
    }

    /// A `sql` rule: its query, placeholders filled with the engine's quoted names, as
    /// a `metric` check (validated as read-only user SQL like any contract query).
    fn sql(
        &mut self,
        r: &mut Reader,
        rule: &Node,
        column: Option<&str>,
        qualifier: &str,
        label: Option<String>,
    ) {
        let Some(q) = r.required(rule, "query", "a sql quality rule") else {
            return;
        };
        let Some(query) = r.raw_text(q, "query") else {
            return;
        };
        let Some(threshold) = threshold(r, rule, false) else {
            return;
        };
        let filled = match fill_placeholders(&query, &self.names(column)) {
            Ok(f) => f,
            Err(name) => {
                r.error(q.span, format!("the query uses {{{name}}}, but this rule is on the schema object, which has no property"), Some("write the rule under the property, or name the column".into()));
                return;
            }
        };
        let at = key_span(rule, "query");
        let label = label.unwrap_or_else(|| "sql rule".to_string());
        let check = item(
            "metric",
            at,
            vec![("query", text(filled, q.span)), ("threshold", threshold)],
        );
        self.checks.push(named(check, qualifier, label));
    }

    /// The placeholders datacontract-cli fills, with this engine's quoted names.
    fn names(&self, column: Option<&str>) -> Vec<(&'static str, Option<String>)> {
        let mut names: Vec<(&'static str, Option<String>)> = [
            "model", "table", "object", "dataset", "project", "catalog", "database",
        ]
        .into_iter()
        .map(|n| (n, Some(self.table_sql.clone())))
        .collect();
        names.push(("schema", Some(self.schema_sql.clone())));
        for n in ["field", "column", "property"] {
            names.push((n, column.map(|c| self.col_sql(c))));
        }
        names
    }

    /// `custom` rules: `engine: soda` runs the Soda v4 check in `implementation`; other
    /// engines are reported as not evaluated.
    fn custom(
        &mut self,
        r: &mut Reader,
        rule: &Node,
        column: Option<&str>,
        qualifier: String,
        label: Option<String>,
        at: Span,
    ) {
        let engine = r
            .required(rule, "engine", "a custom quality rule")
            .and_then(|n| r.string(n, "engine"));
        let implementation = r.required(rule, "implementation", "a custom quality rule");
        let (Some(engine), Some(implementation)) = (engine, implementation) else {
            return;
        };
        if engine != "soda" {
            self.not_run.push((
                column.map(str::to_string),
                NotRun {
                    rule: format!("custom {engine}"),
                    reason: format!(
                        "a custom rule for {engine}: assay runs custom rules written for soda"
                    ),
                    name: label.unwrap_or_else(|| format!("{engine} rule")),
                    qualifier,
                    span: at,
                },
            ));
            return;
        }
        let check = match &implementation.value {
            NodeValue::Map(_) => implementation.clone(),
            NodeValue::Seq(items) if items.len() == 1 => items[0].clone(),
            NodeValue::Str(text) => match soda_text(r, text, implementation.span) {
                Some(check) => check,
                None => return,
            },
            _ => {
                r.error(
                    implementation.span,
                    "a soda implementation is one Soda v4 check, written as YAML under `implementation:`",
                    Some("implementation: {missing: {threshold: {must_be: 0}}}".into()),
                );
                return;
            }
        };
        // the rule's id and name identify the check unless the implementation says
        let check = with_defaults(check, &qualifier, label);
        self.checks.push(check);
    }
}

/// A boolean key that is true: its key's span.
fn flag(r: &mut Reader, node: &Node, key: &str) -> Option<Span> {
    let n = node.get(key).filter(|n| !n.is_null())?;
    r.bool(n, key)?.then(|| key_span(node, key))
}

/// `enum`: its key's span and each entry's `value`.
fn enum_values(r: &mut Reader, node: &Node) -> Option<(Span, Vec<Node>)> {
    let values = node.get("enum").filter(|n| !n.is_null())?;
    let list = r
        .list(values, "enum")
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| r.required(v, "value", "an enum value").cloned())
        .collect();
    Some((key_span(node, "enum"), list))
}

/// An items rule: (qualifier, name, what marks a row breaking it, threshold).
type ItemRule = (String, String, Element, Node);

/// What marks a row whose array breaks an items rule.
enum Element {
    /// some item for which this predicate holds
    Any(String),
    /// a value the array holds twice
    Repeats,
}

fn seq_items_of(node: &Node) -> Vec<Node> {
    match &node.value {
        NodeValue::Seq(items) => items.clone(),
        _ => Vec::new(),
    }
}

/// A rule's qualifier (its `id`, else its place `quality-N`) and the name reports show:
/// its name (or description) with the id beside it, so a reader finds the rule.
fn rule_identity(r: &mut Reader, rule: &Node, i: usize) -> (String, Option<String>) {
    let id = rule.get("id").and_then(|n| r.string(n, "id"));
    let qualifier = id.clone().unwrap_or_else(|| format!("quality-{i}"));
    let written = rule
        .get("name")
        .or(rule.get("description"))
        .and_then(|n| r.string(n, "name"));
    let label = match (written, &id) {
        (Some(n), Some(id)) if n != *id => Some(format!("{n} ({id})")),
        (n, id) => n.or(id.clone()),
    };
    (qualifier, label)
}

/// A property's column name (`physicalName`, else `name`) and the span of its name.
fn property_name(r: &mut Reader, prop: &Node) -> Option<(String, Span)> {
    let name_node = r.required(prop, "name", "a property")?;
    let column = prop
        .get("physicalName")
        .or(Some(name_node))
        .and_then(|n| r.name(n, "the property's name"))?;
    Some((column, name_node.span))
}

/// A check of a nested field, on the column that holds it: its qualifier prefixed by
/// the field's path, and the field's expression as the column's where the check type
/// reads a column (the SQL of metric and failed_rows checks names the field already).
/// Missing values are counted where the objects around the field are present.
fn on_field(mut check: Node, path: &str, expr: &str, present: &str) -> Node {
    let NodeValue::Map(entries) = &mut check.value else {
        return check;
    };
    let Some((type_key, body)) = entries.first_mut() else {
        return check;
    };
    let reads_column = crate::checks::type_named(&type_key.name).is_some_and(|t| {
        t.keys(crate::checks::Scope::Column)
            .contains(&crate::checks::COLUMN_EXPRESSION)
    });
    let span = body.span;
    if let NodeValue::Map(fields) = &mut body.value {
        for (k, v) in fields.iter_mut() {
            if let (true, NodeValue::Str(q)) = (k.name == "qualifier", &mut v.value) {
                *q = format!("{path}/{q}");
            }
        }
        if reads_column {
            fields.push((key("column_expression", span), text(expr.to_string(), span)));
        }
        if type_key.name == "missing" && !fields.iter().any(|(k, _)| k.name == "filter") {
            fields.push((key("filter", span), text(present.to_string(), span)));
        }
    }
    check
}

/// The columns of a `duplicateValues` rule: its property, or on an object the
/// `arguments.properties` it lists.
fn duplicate_columns(
    r: &mut Reader,
    column: Option<&str>,
    properties: Option<&Node>,
    at: Span,
) -> Option<Vec<String>> {
    if let Some(c) = column {
        return Some(vec![c.to_string()]);
    }
    let Some(list) = properties else {
        r.error(
            at,
            "duplicateValues on a schema object needs `arguments.properties`",
            Some("arguments: {properties: [order_id, line]}".into()),
        );
        return None;
    };
    match r.string_list(list, "properties") {
        Some(c) if !c.is_empty() => Some(c),
        _ => {
            r.error(
                list.span,
                "properties must list at least one property",
                None,
            );
            None
        }
    }
}

/// An implementation written as YAML text: its check, every node at the text's place
/// (positions inside a string are not the file's).
fn soda_text(r: &mut Reader, text: &str, span: Span) -> Option<Node> {
    let inner = crate::source::Source::new(std::path::Path::new(&r.source.name), text.to_string());
    let parsed = match crate::yaml::parse(&inner) {
        Ok(n) => n,
        Err(e) => {
            r.error(
                span,
                format!("the implementation is not YAML: {}", e.message),
                Some(
                    "write the Soda v4 check as YAML, like {missing: {threshold: {must_be: 0}}}"
                        .into(),
                ),
            );
            return None;
        }
    };
    let node = match parsed.value {
        NodeValue::Seq(mut items) if items.len() == 1 => items.remove(0),
        _ => parsed,
    };
    if node.as_map().is_none() {
        r.error(
            span,
            "a soda implementation is one Soda v4 check",
            Some("implementation: {missing: {threshold: {must_be: 0}}}".into()),
        );
        return None;
    }
    Some(at_span(node, span))
}

fn at_span(mut node: Node, span: Span) -> Node {
    node.span = span;
    node.value = match node.value {
        NodeValue::Seq(items) => {
            NodeValue::Seq(items.into_iter().map(|n| at_span(n, span)).collect())
        }
        NodeValue::Map(entries) => NodeValue::Map(
            entries
                .into_iter()
                .map(|(k, v)| (key(&k.name, span), at_span(v, span)))
                .collect(),
        ),
        other => other,
    };
    node
}

/// An SLA `freshness` (or `latency`) on `object.property`.
struct SlaFreshness {
    object: String,
    column: String,
    /// (value, Soda unit)
    limit: (f64, &'static str),
    span: Span,
    id: Option<String>,
}

impl SlaFreshness {
    fn check(&self) -> Node {
        let at = self.span;
        let threshold = map(at, vec![("must_be_less_than", number(self.limit.0, at))]);
        let mut check = item(
            "freshness",
            at,
            vec![
                ("column", text(self.column.clone(), at)),
                ("unit", text(self.limit.1.to_string(), at)),
                ("threshold", threshold),
            ],
        );
        if let Some(id) = &self.id {
            check = named(check, id, format!("freshness of {}", self.column));
        }
        check
    }
}

/// The `slaProperties` that are checks: freshness and latency on an element.
fn freshness_rules(r: &mut Reader, root: &Node) -> Vec<SlaFreshness> {
    let Some(items) = root.get("slaProperties").and_then(|n| match &n.value {
        NodeValue::Seq(items) => Some(items),
        _ => None,
    }) else {
        return Vec::new();
    };
    let default_element = root.get("slaDefaultElement").and_then(Node::scalar_text);
    let mut out = Vec::new();
    for sla in items {
        let Some(property) = sla.get("property").and_then(Node::scalar_text) else {
            r.required(sla, "property", "an SLA property");
            continue;
        };
        if !["freshness", "latency"].contains(&property.as_str()) {
            continue;
        }
        let at = key_span(sla, "property");
        let element = sla
            .get("element")
            .and_then(Node::scalar_text)
            .or(default_element.clone());
        let Some((object, column)) = element
            .as_deref()
            .and_then(|e| e.split_once('.'))
            .filter(|(_, c)| !c.contains('.'))
        else {
            r.error(
                at,
                format!(
                    "{property} needs `element: object.property`, the timestamp it is measured on"
                ),
                Some("element: orders.updated_at".into()),
            );
            continue;
        };
        let Some(value) = r.required(sla, "value", "an SLA property") else {
            continue;
        };
        let unit = sla.get("unit").and_then(Node::scalar_text);
        let Some(limit) = sla_limit(value, unit.as_deref()) else {
            r.error(value.span, format!("{property} {} is not a duration assay reads", value.scalar_text().unwrap_or_default()), Some("a number with unit d, h or m (day, hour, minute), or an ISO 8601 duration like PT6H".into()));
            continue;
        };
        out.push(SlaFreshness {
            object: object.to_string(),
            column: column.to_string(),
            limit,
            span: at,
            id: sla.get("id").and_then(Node::scalar_text),
        });
    }
    out
}

/// A duration as datacontract-cli reads it: a number with a unit (d, h, m and their
/// long forms; days when none), or an ISO 8601 duration.
fn sla_limit(value: &Node, unit: Option<&str>) -> Option<(f64, &'static str)> {
    let number = value.as_f64().or_else(|| {
        value
            .scalar_text()
            .and_then(|t| t.trim().parse::<i64>().ok().map(|n| n as f64))
    });
    if let Some(n) = number {
        let unit = unit.unwrap_or("d").to_lowercase();
        let soda = match unit.as_str() {
            "d" | "day" | "days" => "day",
            "h" | "hr" | "hour" | "hours" => "hour",
            "m" | "min" | "minute" | "minutes" => "minute",
            _ => return None,
        };
        return Some((n.trunc(), soda));
    }
    let seconds = iso_duration_seconds(&value.scalar_text()?)?;
    Some((seconds as f64 / 60.0, "minute"))
}

/// `P1DT12H30M`, `PT6H`, `P2W`: the seconds it spans (no years or months: their length
/// varies).
pub(super) fn iso_duration_seconds(text: &str) -> Option<u64> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0u64;
    let mut any = false;
    for (part, units) in [
        (date, &[('W', 604_800u64), ('D', 86_400)][..]),
        (time, &[('H', 3600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut digits = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() {
                digits.push(ch);
                continue;
            }
            let factor = units.iter().find(|(u, _)| *u == ch)?.1;
            total = total.checked_add(digits.parse::<u64>().ok()?.checked_mul(factor)?)?;
            digits.clear();
            any = true;
        }
        if !digits.is_empty() {
            return None;
        }
    }
    (any && total > 0).then_some(total)
}

/// The rule's comparison as a Soda threshold, `level: warn` for a warning severity and
/// `metric: percent` for a percent unit.
fn threshold(r: &mut Reader, rule: &Node, percent: bool) -> Option<Node> {
    let present: Vec<&(Key, Node)> = rule
        .as_map()
        .unwrap_or(&[])
        .iter()
        .filter(|(k, v)| OPERATORS.contains(&k.name.as_str()) && !v.is_null())
        .collect();
    let [(op, value)] = present.as_slice() else {
        match present.get(1) {
            Some((second, _)) => r.error(
                second.span,
                format!(
                    "a quality rule takes one comparison, and this one has {}",
                    present.len()
                ),
                Some("keep one of mustBe, mustNotBe, mustBeGreaterThan, ...".into()),
            ),
            None => r.error(
                rule.span,
                "this quality rule has no comparison",
                Some(format!("add one of {}", OPERATORS.join(", "))),
            ),
        }
        return None;
    };
    let at = op.span;
    let comparison = match op.name.as_str() {
        "mustBe" => ("must_be", value.clone()),
        "mustNotBe" => ("must_not_be", value.clone()),
        "mustBeGreaterThan" => ("must_be_greater_than", value.clone()),
        "mustBeGreaterOrEqualTo" => ("must_be_greater_than_or_equal", value.clone()),
        "mustBeLessThan" => ("must_be_less_than", value.clone()),
        "mustBeLessOrEqualTo" => ("must_be_less_than_or_equal", value.clone()),
        between => {
            let Some([low, high]) = r
                .list(value, &op.name)
                .and_then(|l| <&[Node; 2]>::try_from(l).ok())
            else {
                r.error(
                    value.span,
                    format!("{between} takes two numbers, like [10, 20]"),
                    None,
                );
                return None;
            };
            let range = if between == "mustBeBetween" {
                vec![
                    ("greater_than_or_equal", low.clone()),
                    ("less_than_or_equal", high.clone()),
                ]
            } else {
                vec![("less_than", low.clone()), ("greater_than", high.clone())]
            };
            let name = if between == "mustBeBetween" {
                "must_be_between"
            } else {
                "must_be_not_between"
            };
            (name, map(value.span, range))
        }
    };
    let mut entries = vec![comparison];
    if percent {
        entries.push(("metric", text("percent".into(), at)));
    }
    if let Some(s) = rule.get("severity").filter(|n| !n.is_null()) {
        let severity = r.string(s, "severity").unwrap_or_default();
        if WARN_SEVERITIES.contains(&severity.trim().to_lowercase().as_str()) {
            entries.push(("level", text("warn".into(), s.span)));
        }
    }
    Some(map(at, entries))
}

/// `{table}`, `${column}`, ... (with any quote right around them, which the quoted name
/// replaces) -> the names; Err(name) for a column placeholder where there is no column.
pub(super) fn fill_placeholders(
    query: &str,
    names: &[(&'static str, Option<String>)],
) -> Result<String, &'static str> {
    let mut out = String::with_capacity(query.len());
    let bytes = query.as_bytes();
    let mut i = 0;
    while i < query.len() {
        let start = i;
        let quote = matches!(bytes[i], b'"' | b'\'' | b'`');
        let open = if quote { i + 1 } else { i };
        let brace = if query[open..].starts_with("${") {
            open + 2
        } else if query[open..].starts_with('{') {
            open + 1
        } else {
            usize::MAX
        };
        if brace != usize::MAX {
            if let Some(len) = query[brace..].find('}') {
                let word = &query[brace..brace + len];
                if let Some((name, value)) = names.iter().find(|(n, _)| *n == word) {
                    let mut end = brace + len + 1;
                    if end < query.len() && matches!(bytes[end], b'"' | b'\'' | b'`') {
                        end += 1;
                    } else if quote {
                        // a quote before but none after belongs to the text around it
                        out.push(bytes[start] as char);
                    }
                    out.push_str(value.as_deref().ok_or(*name)?);
                    i = end;
                    continue;
                }
            }
        }
        let ch = query[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    Ok(out)
}

fn bound(
    column: &str,
    odcs_key: &str,
    soda_key: &'static str,
    n: Node,
    at: Span,
    strict: bool,
) -> Node {
    let op = match (soda_key, strict) {
        ("valid_min", false) => ">=",
        ("valid_min", true) => ">",
        (_, false) => "<=",
        (_, true) => "<",
    };
    let label = format!("{column} {op} {}", show(&n));
    let mut entries = vec![(soda_key, n.clone())];
    if strict {
        // the bound itself is out: datacontract-cli's two checks (minimum, not equal) as one
        entries.push(("invalid_values", seq(at, vec![n])));
    }
    named(item("invalid", at, entries), odcs_key, label)
}

/// A list's scalar values without its NULLs (datacontract-cli drops them).
fn without_nulls(r: &mut Reader, list: &Node, what: &str) -> Node {
    let items = r.list(list, what).unwrap_or(&[]);
    seq(
        list.span,
        items.iter().filter(|n| !n.is_null()).cloned().collect(),
    )
}

fn is_empty_seq(n: &Node) -> bool {
    matches!(&n.value, NodeValue::Seq(items) if items.is_empty())
}

/// A check with `name` and `qualifier` added, unless the implementation gives them.
fn with_defaults(mut check: Node, qualifier: &str, label: Option<String>) -> Node {
    let span = check.span;
    if let NodeValue::Map(entries) = &mut check.value {
        if let [(_, body)] = entries.as_mut_slice() {
            if body.is_null() {
                *body = map(span, vec![]);
            }
            if let NodeValue::Map(fields) = &mut body.value {
                if !fields.iter().any(|(k, _)| k.name == "qualifier") {
                    fields.push((key("qualifier", span), text(qualifier.to_string(), span)));
                }
                if let (Some(label), false) = (label, fields.iter().any(|(k, _)| k.name == "name"))
                {
                    fields.push((key("name", span), text(label, span)));
                }
            }
        }
    }
    check
}

/// `- TYPE: {qualifier, name, ...}`
fn named(mut check: Node, qualifier: &str, name: String) -> Node {
    let span = check.span;
    if let NodeValue::Map(entries) = &mut check.value {
        if let Some((_, body)) = entries.first_mut() {
            if let NodeValue::Map(fields) = &mut body.value {
                fields.push((key("qualifier", span), text(qualifier.to_string(), span)));
                fields.push((key("name", span), text(name, span)));
            }
        }
    }
    check
}

fn must_be_zero(at: Span) -> Node {
    map(at, vec![("must_be", number(0.0, at))])
}

/// A number as the contract wrote it.
fn show(n: &Node) -> String {
    n.scalar_text().unwrap_or_default()
}

fn key_span(node: &Node, name: &str) -> Span {
    node.as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.name == name))
        .map_or(node.span, |(k, _)| k.span)
}

fn key(name: &str, span: Span) -> Key {
    Key {
        name: name.to_string(),
        span,
    }
}

fn item(check_type: &str, span: Span, body: Vec<(&str, Node)>) -> Node {
    map(span, vec![(check_type, map(span, body))])
}

fn map(span: Span, entries: Vec<(&str, Node)>) -> Node {
    Node {
        value: NodeValue::Map(
            entries
                .into_iter()
                .map(|(k, v)| (key(k, v.span), v))
                .collect(),
        ),
        span,
    }
}

fn seq(span: Span, items: Vec<Node>) -> Node {
    Node {
        value: NodeValue::Seq(items),
        span,
    }
}

fn text(s: String, span: Span) -> Node {
    Node {
        value: NodeValue::Str(s),
        span,
    }
}

fn boolean(b: bool, span: Span) -> Node {
    Node {
        value: NodeValue::Bool(b),
        span,
    }
}

fn number(n: f64, span: Span) -> Node {
    let value = if n.fract() == 0.0 && n.abs() < 1e15 {
        NodeValue::Int(n as i64)
    } else {
        NodeValue::Float(n)
    };
    Node { value, span }
}
