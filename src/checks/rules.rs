//! What counts as missing, and what counts as valid, for one column.
//!
//! Both can be set on the column (defaults for its checks) or on a check; a check that
//! sets any missing key replaces the column's missing rules as a whole, and likewise for
//! validity: no merging, so what a check says is all that applies to it.

use serde_json::{json, Map, Value as Json};

use crate::decode::Reader;
use crate::source::Span;
use crate::sql::ast::{CmpOp, Expr, Literal};
use crate::yaml::Node;

pub const MISSING_KEYS: &[&str] = &["missing_values", "missing_format"];

pub const VALIDITY_KEYS: &[&str] = &[
    "valid_values",
    "invalid_values",
    "valid_format",
    "invalid_format",
    "valid_min",
    "valid_max",
    "valid_length",
    "valid_min_length",
    "valid_max_length",
    "valid_reference_data",
];

#[derive(Debug, Clone, PartialEq)]
pub struct ValueFormat {
    pub regex: String,
    pub name: Option<String>,
}

/// `value IN (list)`, compared exactly when the list holds text: contract values are
/// case-sensitive even where the column's collation is not (MySQL's default).
fn in_list(value: Expr, list: &[Literal]) -> Expr {
    let value = if list.iter().any(|l| matches!(l, Literal::Str(_))) {
        Expr::ExactText(Box::new(value))
    } else {
        value
    };
    Expr::InList(Box::new(value), list.to_vec())
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MissingRules {
    pub values: Option<Vec<Literal>>,
    pub format: Option<ValueFormat>,
}

impl MissingRules {
    /// true for rows whose value (the column, or its column_expression) is missing
    pub fn is_missing(&self, value: &Expr) -> Expr {
        let col = value.clone();
        let mut parts = vec![Expr::IsNull(Box::new(col.clone()))];
        if let Some(values) = &self.values {
            parts.push(in_list(col.clone(), values));
        }
        if let Some(f) = &self.format {
            parts.push(Expr::RegexMatch(Box::new(col), f.regex.clone()));
        }
        Expr::or(parts)
    }

    /// the value where it is not missing, else NULL
    pub fn present_value(&self, value: &Expr) -> Expr {
        if self.values.is_none() && self.format.is_none() {
            // NULL is the only missing value and aggregates skip NULLs already
            value.clone()
        } else {
            Expr::value_where(Expr::negate(self.is_missing(value)), value.clone())
        }
    }

    pub fn describe(&self, out: &mut Map<String, Json>) {
        if let Some(v) = &self.values {
            out.insert("missing_values".into(), literals_json(v));
        }
        if let Some(f) = &self.format {
            out.insert("missing_format".into(), format_json(f));
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceData {
    /// dataset path as written (data source / ... / table)
    pub dataset: String,
    pub column: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidityRules {
    pub valid_values: Option<Vec<Literal>>,
    pub invalid_values: Option<Vec<Literal>>,
    pub valid_format: Option<ValueFormat>,
    pub invalid_format: Option<ValueFormat>,
    pub valid_min: Option<Literal>,
    pub valid_max: Option<Literal>,
    pub valid_length: Option<u64>,
    pub valid_min_length: Option<u64>,
    pub valid_max_length: Option<u64>,
    pub reference: Option<ReferenceData>,
}

impl ValidityRules {
    pub fn is_empty(&self) -> bool {
        *self == ValidityRules::default()
    }

    /// true for non-missing values that satisfy every rule except the reference data
    /// (which needs a query of its own); None when only reference data is set.
    pub fn is_valid(&self, value: &Expr) -> Option<Expr> {
        let col = || Box::new(value.clone());
        let len = || Box::new(Expr::CharLength(col()));
        let mut parts = Vec::new();
        if let Some(v) = &self.valid_values {
            parts.push(match v.is_empty() {
                true => Expr::Lit(Literal::Bool(false)),
                false => in_list(value.clone(), v),
            });
        }
        if let Some(v) = &self.invalid_values {
            parts.push(match v.is_empty() {
                true => Expr::Lit(Literal::Bool(true)),
                false => Expr::negate(in_list(value.clone(), v)),
            });
        }
        if let Some(f) = &self.valid_format {
            parts.push(Expr::RegexMatch(col(), f.regex.clone()));
        }
        if let Some(f) = &self.invalid_format {
            parts.push(Expr::negate(Expr::RegexMatch(col(), f.regex.clone())));
        }
        if let Some(m) = &self.valid_min {
            parts.push(Expr::Cmp(
                col(),
                CmpOp::GtEq,
                Box::new(Expr::Lit(m.clone())),
            ));
        }
        if let Some(m) = &self.valid_max {
            parts.push(Expr::Cmp(
                col(),
                CmpOp::LtEq,
                Box::new(Expr::Lit(m.clone())),
            ));
        }
        let int = |n: u64| Box::new(Expr::Int(n as i64));
        if let Some(n) = self.valid_length {
            parts.push(Expr::Cmp(len(), CmpOp::Eq, int(n)));
        }
        if let Some(n) = self.valid_min_length {
            parts.push(Expr::Cmp(len(), CmpOp::GtEq, int(n)));
        }
        if let Some(n) = self.valid_max_length {
            parts.push(Expr::Cmp(len(), CmpOp::LtEq, int(n)));
        }
        (!parts.is_empty()).then(|| Expr::and(parts))
    }

    pub fn describe(&self, out: &mut Map<String, Json>) {
        let lit = |l: &Literal| literals_json(std::slice::from_ref(l))[0].clone();
        if let Some(v) = &self.valid_values {
            out.insert("valid_values".into(), literals_json(v));
        }
        if let Some(v) = &self.invalid_values {
            out.insert("invalid_values".into(), literals_json(v));
        }
        if let Some(f) = &self.valid_format {
            out.insert("valid_format".into(), format_json(f));
        }
        if let Some(f) = &self.invalid_format {
            out.insert("invalid_format".into(), format_json(f));
        }
        if let Some(m) = &self.valid_min {
            out.insert("valid_min".into(), lit(m));
        }
        if let Some(m) = &self.valid_max {
            out.insert("valid_max".into(), lit(m));
        }
        for (k, v) in [
            ("valid_length", self.valid_length),
            ("valid_min_length", self.valid_min_length),
            ("valid_max_length", self.valid_max_length),
        ] {
            if let Some(n) = v {
                out.insert(k.into(), json!(n));
            }
        }
        if let Some(rd) = &self.reference {
            out.insert(
                "valid_reference_data".into(),
                json!({"dataset": rd.dataset, "column": rd.column}),
            );
        }
    }
}

fn literals_json(values: &[Literal]) -> Json {
    Json::Array(
        values
            .iter()
            .map(|l| match l {
                Literal::Str(s) => json!(s),
                Literal::Number(n) => n
                    .parse::<i64>()
                    .map(|i| json!(i))
                    .or_else(|_| n.parse::<f64>().map(|f| json!(f)))
                    .unwrap_or_else(|_| json!(n)),
                Literal::Bool(b) => json!(b),
            })
            .collect(),
    )
}

fn format_json(f: &ValueFormat) -> Json {
    match &f.name {
        Some(n) => json!({"regex": f.regex, "name": n}),
        None => json!({"regex": f.regex}),
    }
}

/// Missing rules from a mapping (column or check); None when it sets none of them.
pub fn parse_missing(r: &mut Reader, map: &Node) -> Option<MissingRules> {
    if !MISSING_KEYS.iter().any(|k| map.get(k).is_some()) {
        return None;
    }
    let mut rules = MissingRules::default();
    if let Some(n) = map.get("missing_values") {
        // NULL is missing anyway: a `null` entry adds nothing, and no entries leave NULL
        rules.values = r
            .literal_list(n, "missing_values")
            .map(|(values, _)| values)
            .filter(|values| !values.is_empty());
    }
    if let Some(n) = map.get("missing_format") {
        rules.format = parse_format(r, n, "missing_format");
    }
    Some(rules)
}

/// Validity rules from a mapping; None when it sets none of them.
pub fn parse_validity(r: &mut Reader, map: &Node) -> Option<ValidityRules> {
    if !VALIDITY_KEYS.iter().any(|k| map.get(k).is_some()) {
        return None;
    }
    let mut v = ValidityRules::default();
    if let Some(n) = map.get("valid_values") {
        // a `null` entry changes nothing (NULL is missing, never invalid); no entries
        // at all make every value invalid, as in Soda
        v.valid_values = r.literal_list(n, "valid_values").map(|(values, _)| values);
    }
    if let Some(n) = map.get("invalid_values") {
        // as in Soda, a list with a `null` entry (or none at all) marks no value invalid:
        // Soda requires the value to be in the list AND NULL, which no value is
        v.invalid_values =
            r.literal_list(n, "invalid_values")
                .map(|(values, null)| if null { Vec::new() } else { values });
    }
    if let Some(n) = map.get("valid_format") {
        v.valid_format = parse_format(r, n, "valid_format");
    }
    if let Some(n) = map.get("invalid_format") {
        v.invalid_format = parse_format(r, n, "invalid_format");
    }
    if let Some(n) = map.get("valid_min") {
        v.valid_min = r.literal(n, "valid_min");
    }
    if let Some(n) = map.get("valid_max") {
        v.valid_max = r.literal(n, "valid_max");
    }
    if let Some(n) = map.get("valid_length") {
        v.valid_length = r.count(n, "valid_length");
    }
    if let Some(n) = map.get("valid_min_length") {
        v.valid_min_length = r.count(n, "valid_min_length");
    }
    if let Some(n) = map.get("valid_max_length") {
        v.valid_max_length = r.count(n, "valid_max_length");
    }
    if let (Some(lo), Some(hi)) = (v.valid_min_length, v.valid_max_length) {
        if lo > hi {
            let span = map
                .get("valid_min_length")
                .map(|n| n.span)
                .unwrap_or(map.span);
            r.error(
                span,
                format!("valid_min_length {lo} is greater than valid_max_length {hi}: no value could be valid"),
                None,
            );
        }
    }
    if let (Some(Literal::Number(lo)), Some(Literal::Number(hi))) = (&v.valid_min, &v.valid_max) {
        if let (Ok(l), Ok(h)) = (lo.parse::<f64>(), hi.parse::<f64>()) {
            if l > h {
                let span = map.get("valid_min").map(|n| n.span).unwrap_or(map.span);
                r.error(
                    span,
                    format!(
                        "valid_min {lo} is greater than valid_max {hi}: no value could be valid"
                    ),
                    None,
                );
            }
        }
    }
    if let Some(n) = map.get("valid_reference_data") {
        if r.keys(n, &["dataset", "column"], "valid_reference_data") {
            let dataset = r
                .required(n, "dataset", "valid_reference_data")
                .and_then(|d| r.string(d, "dataset"));
            let column = r
                .required(n, "column", "valid_reference_data")
                .and_then(|c| r.name(c, "column"));
            if let (Some(dataset), Some(column)) = (dataset, column) {
                v.reference = Some(ReferenceData {
                    dataset,
                    column,
                    span: n.span,
                });
            }
        }
    }
    Some(v)
}

/// `{regex: ..., name: ...}`, or a bare regex string. The regex is compiled here so a
/// bad pattern is a contract error, not a database error halfway through the run.
fn parse_format(r: &mut Reader, node: &Node, key: &str) -> Option<ValueFormat> {
    let (regex_node, name) = if node.as_map().is_some() {
        if !r.keys(node, &["regex", "name"], &format!("'{key}'")) {
            return None;
        }
        let name = node.get("name").and_then(|n| r.string(n, "name"));
        (r.required(node, "regex", &format!("'{key}'"))?, name)
    } else {
        (node, None)
    };
    let regex = r.string(regex_node, "regex")?;
    if let Err(e) = regex::Regex::new(&regex) {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim().to_string();
        r.error(
            regex_node.span,
            format!("invalid regex in {key}: {last}"),
            Some("only the regex subset common to PostgreSQL, MySQL and DuckDB is supported: no look-around or back-references".into()),
        );
        return None;
    }
    Some(ValueFormat { regex, name })
}
