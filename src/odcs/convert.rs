//! `assay contract convert`: ODCS v3 -> Soda v4 contracts, and Soda v4 -> ODCS v3.2.0.
//!
//! ODCS -> Soda prints the very trees `assay verify` runs (`soda.rs`), so a converted
//! contract verifies as its original does. Soda -> ODCS writes each check as the ODCS
//! constraint or rule that means the same (a `sql` rule where no library metric does).
//! Whatever the other language cannot hold is listed for stderr, never dropped in
//! silence.

use yaml_rust2::yaml::{Hash, Yaml};

use crate::decode::Reader;
use crate::yaml::{Node, NodeValue};

/// A converted document and what it could not carry.
pub struct Converted {
    /// (a name for the file: the dataset's table, or the contract's id; its YAML)
    pub files: Vec<(String, String)>,
    /// what the target language has no place for, one line each
    pub dropped: Vec<String>,
}

/// The keys whose meaning is a check, per section; every other key present is
/// information a Soda contract has no place for.
const RUN_ROOT: &[&str] = &[
    "apiVersion",
    "kind",
    "id",
    "version",
    "status",
    "schema",
    "slaProperties",
    "slaDefaultElement",
];
const RUN_OBJECT: &[&str] = &["name", "physicalName", "properties", "quality"];
const RUN_PROPERTY: &[&str] = &[
    "name",
    "physicalName",
    "physicalType",
    "required",
    "unique",
    "primaryKey",
    "primaryKeyPosition",
    "logicalTypeOptions",
    "enum",
    "quality",
];
const RUN_OPTIONS: &[&str] = &[
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "pattern",
    "multipleOf",
];

/// The ODCS keys of a document that no check carries, as `where: key, key`.
pub fn information_keys(root: &Node) -> Vec<String> {
    let mut out = Vec::new();
    let mut types = Vec::new();
    let unrun = |node: &Node, run: &[&str]| -> Vec<String> {
        node.as_map()
            .unwrap_or(&[])
            .iter()
            .filter(|(k, v)| !run.contains(&k.name.as_str()) && !v.is_null())
            .map(|(k, _)| k.name.clone())
            .collect()
    };
    let mut push = |place: String, keys: Vec<String>| {
        if !keys.is_empty() {
            out.push(format!(
                "{place}: {} (information, not checks)",
                keys.join(", ")
            ));
        }
    };
    push("the contract".into(), unrun(root, RUN_ROOT));
    for object in seq_items(root.get("schema")) {
        let name = object
            .get("name")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        push(format!("schema object {name}"), unrun(object, RUN_OBJECT));
        for prop in seq_items(object.get("properties")) {
            let p = prop
                .get("name")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            let mut keys = unrun(prop, RUN_PROPERTY);
            if let Some(opts) = prop.get("logicalTypeOptions") {
                keys.extend(
                    unrun(opts, RUN_OPTIONS)
                        .into_iter()
                        .map(|k| format!("logicalTypeOptions.{k}")),
                );
            }
            if let Some(i) = keys.iter().position(|k| k == "logicalType") {
                keys.remove(i);
                types.push(format!(
                    "property {name}.{p}: logicalType (a Soda contract compares physical types only)"
                ));
            }
            push(format!("property {name}.{p}"), keys);
        }
    }
    out.extend(types);
    out
}

fn seq_items(node: Option<&Node>) -> &[Node] {
    match node.map(|n| &n.value) {
        Some(NodeValue::Seq(items)) => items,
        _ => &[],
    }
}

/// A spanned tree as plain YAML.
pub fn to_yaml(node: &Node) -> Yaml {
    match &node.value {
        NodeValue::Null => Yaml::Null,
        NodeValue::Bool(b) => Yaml::Boolean(*b),
        NodeValue::Int(i) => Yaml::Integer(*i),
        NodeValue::Float(f) => Yaml::Real(f.to_string()),
        NodeValue::Str(s) => Yaml::String(s.clone()),
        NodeValue::Seq(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        NodeValue::Map(entries) => {
            let mut h = Hash::new();
            for (k, v) in entries {
                h.insert(Yaml::String(k.name.clone()), to_yaml(v));
            }
            Yaml::Hash(h)
        }
    }
}

/// YAML text of a document, without the `---` the emitter starts with.
pub fn print(doc: &Yaml) -> String {
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    // a tree of strings, numbers, lists and maps always prints
    let _ = emitter.dump(doc);
    let body = out.strip_prefix("---\n").unwrap_or(&out).to_string();
    body + "\n"
}

/// A Soda v4 contract's tree (already read as a contract, so well formed) -> an ODCS
/// v3.2.0 document. `engine` is the data source's engine name, for the server entry.
pub fn soda_to_odcs(r: &mut Reader, root: &Node, engine: Option<&str>) -> Converted {
    let mut dropped = Vec::new();
    let dataset = root
        .get("dataset")
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    let parts = crate::contract::dataset_parts(&dataset);
    let (source, path) = parts
        .split_first()
        .map_or((String::new(), Vec::new()), |(s, p)| {
            (s.clone(), p.to_vec())
        });
    let table = path.last().cloned().unwrap_or_default();
    let table_name = table
        .rsplit_once('.')
        .filter(|_| engine == Some("files"))
        .map_or(table.clone(), |(stem, _)| stem.to_string());
    for key in ["filter", "checks_filter"] {
        if root.get(key).is_some_and(|n| !n.is_null()) {
            dropped.push(format!(
                "`{key}`: ODCS has no filter for a whole contract; every check now reads every row"
            ));
        }
    }
    if root.get("variables").is_some_and(|n| !n.is_null()) {
        dropped.push("`variables`: ODCS has none; write their values into the queries".into());
    }
    let mut b = OdcsBuilder {
        dropped,
        sla: Vec::new(),
    };
    let mut properties = Vec::new();
    for column in seq_items(root.get("columns")) {
        properties.push(Yaml::Hash(b.property(r, column)));
    }
    let mut quality = Vec::new();
    for check in seq_items(root.get("checks")) {
        b.dataset_check(check, &table_name, &mut quality);
    }
    let mut object = Hash::new();
    object.insert(s("name"), s(&table_name));
    object.insert(s("physicalName"), s(&table));
    if !properties.is_empty() {
        object.insert(s("properties"), Yaml::Array(properties));
    }
    if !quality.is_empty() {
        object.insert(s("quality"), Yaml::Array(quality));
    }
    let mut doc = Hash::new();
    doc.insert(s("apiVersion"), s("v3.2.0"));
    doc.insert(s("kind"), s("DataContract"));
    doc.insert(s("id"), s(&dataset.replace('/', ".")));
    doc.insert(s("version"), s("1.0.0"));
    doc.insert(s("status"), s("active"));
    doc.insert(s("schema"), Yaml::Array(vec![Yaml::Hash(object)]));
    if !b.sla.is_empty() {
        doc.insert(s("slaProperties"), Yaml::Array(std::mem::take(&mut b.sla)));
    }
    let mut server = Hash::new();
    server.insert(s("server"), s(&source));
    server.insert(s("type"), s(engine.unwrap_or("custom")));
    if let [place, _] = path.as_slice() {
        let key = if engine == Some("mysql") {
            "database"
        } else {
            "schema"
        };
        server.insert(s(key), s(place));
    }
    if engine == Some("files") {
        if let Some((_, ext)) = table.rsplit_once('.') {
            server.insert(s("format"), s(ext));
        }
    }
    doc.insert(s("servers"), Yaml::Array(vec![Yaml::Hash(server)]));
    Converted {
        files: vec![(table_name, print(&Yaml::Hash(doc)))],
        dropped: b.dropped,
    }
}

struct OdcsBuilder {
    dropped: Vec<String>,
    sla: Vec<Yaml>,
}

impl OdcsBuilder {
    fn property(&mut self, r: &mut Reader, column: &Node) -> Hash {
        let name = column
            .get("name")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let mut prop = Hash::new();
        prop.insert(s("name"), s(&name));
        if let Some(t) = column.get("data_type").and_then(Node::scalar_text) {
            prop.insert(s("physicalType"), s(&t));
        }
        for key in [
            "character_maximum_length",
            "numeric_precision",
            "numeric_scale",
            "datetime_precision",
            "column_expression",
        ] {
            if column.get(key).is_some_and(|n| !n.is_null()) {
                self.dropped
                    .push(format!("column {name}: `{key}` has no ODCS key"));
            }
        }
        for key in crate::checks::rules::MISSING_KEYS
            .iter()
            .chain(crate::checks::rules::VALIDITY_KEYS)
        {
            if column.get(key).is_some_and(|n| !n.is_null()) {
                self.dropped.push(format!(
                    "column {name}: `{key}` on the column (rather than on a check) has no ODCS key"
                ));
            }
        }
        let mut options = Hash::new();
        let mut quality = Vec::new();
        for check in seq_items(column.get("checks")) {
            self.column_check(r, check, &name, &mut prop, &mut options, &mut quality);
        }
        if !options.is_empty() {
            prop.insert(s("logicalTypeOptions"), Yaml::Hash(options));
        }
        if !quality.is_empty() {
            prop.insert(s("quality"), Yaml::Array(quality));
        }
        prop
    }

    /// A column's check -> a constraint of the property, or a rule of its `quality`.
    fn column_check(
        &mut self,
        _r: &mut Reader,
        check: &Node,
        column: &str,
        prop: &mut Hash,
        options: &mut Hash,
        quality: &mut Vec<Yaml>,
    ) {
        let Some((kind, body)) = check_parts(check) else {
            return;
        };
        let body = &body;
        let place = format!("column {column}: the {kind} check");
        if self.filtered(body, &place) {
            return;
        }
        let keys: Vec<&str> = body
            .as_map()
            .unwrap_or(&[])
            .iter()
            .map(|(k, _)| k.name.as_str())
            .collect();
        let plain = |allowed: &[&str]| {
            keys.iter()
                .all(|k| ["name", "qualifier", "attributes"].contains(k) || allowed.contains(k))
        };
        let threshold = body.get("threshold");
        match kind {
            "missing" if plain(&[]) && threshold.is_none() => {
                prop.insert(s("required"), Yaml::Boolean(true));
            }
            "missing" if plain(&["missing_values", "threshold"]) => {
                if let Some(rule) = self.missing_rule(body, &place) {
                    quality.push(Yaml::Hash(rule));
                }
            }
            // a bound with the bound itself invalid: what ODCS calls exclusive
            "invalid" if threshold.is_none() && exclusive_bound(body).is_some() => {
                if let Some((key, value)) = exclusive_bound(body) {
                    options.insert(s(key), to_yaml(value));
                }
            }
            "invalid"
                if threshold.is_none()
                    && plain(&[
                        "valid_min",
                        "valid_max",
                        "valid_min_length",
                        "valid_max_length",
                        "valid_format",
                        "valid_values",
                    ])
                    && keys.iter().filter(|k| k.starts_with("valid_")).count() == 1 =>
            {
                self.constraint(body, &place, prop, options);
            }
            "invalid" if plain(&["valid_values", "valid_format", "threshold"]) => {
                let Some(mut rule) = self.rule(body, &place, true) else {
                    return;
                };
                rule.insert(s("metric"), s("invalidValues"));
                let mut args = Hash::new();
                if let Some(v) = body.get("valid_values") {
                    args.insert(s("validValues"), to_yaml(v));
                }
                match body.get("valid_format").map(|f| f.get("regex")) {
                    Some(Some(regex)) => {
                        args.insert(s("pattern"), to_yaml(regex));
                    }
                    Some(None) => {
                        self.dropped.push(format!("{place}: a named format"));
                        return;
                    }
                    None => {}
                }
                rule.insert(s("arguments"), Yaml::Hash(args));
                quality.push(Yaml::Hash(rule));
            }
            // Soda counts the extra rows, ODCS the duplicated values: both are 0 together
            "duplicate" if plain(&[]) && threshold.is_none() => {
                prop.insert(s("unique"), Yaml::Boolean(true));
            }
            "metric" if plain(&["query", "threshold"]) && body.get("query").is_some() => {
                let Some(mut rule) = self.rule(body, &place, false) else {
                    return;
                };
                rule.insert(s("type"), s("sql"));
                rule.insert(s("query"), to_yaml(body.get("query").unwrap_or(check)));
                quality.push(Yaml::Hash(rule));
            }
            _ => self.dropped.push(format!(
                "{place}: no ODCS constraint or rule means the same (keys: {})",
                keys.join(", ")
            )),
        }
    }

    /// A `missing` check with a threshold -> a `nullValues` or `missingValues` rule.
    fn missing_rule(&mut self, body: &Node, place: &str) -> Option<Hash> {
        let mut rule = self.rule(body, place, true)?;
        match body.get("missing_values") {
            Some(values) => {
                rule.insert(s("metric"), s("missingValues"));
                let mut args = Hash::new();
                args.insert(s("missingValues"), to_yaml(values));
                rule.insert(s("arguments"), Yaml::Hash(args));
            }
            None => {
                rule.insert(s("metric"), s("nullValues"));
            }
        }
        Some(rule)
    }

    /// A check with a `filter`, which no ODCS rule has: listed, and left out.
    fn filtered(&mut self, body: &Node, place: &str) -> bool {
        let filtered = body.get("filter").is_some();
        if filtered {
            self.dropped
                .push(format!("{place}: its `filter` (ODCS rules have none)"));
        }
        filtered
    }

    /// A plain `invalid` check of one rule -> the property's constraint that says it.
    fn constraint(&mut self, body: &Node, place: &str, prop: &mut Hash, options: &mut Hash) {
        let (key, value) = body
            .as_map()
            .unwrap_or(&[])
            .iter()
            .find(|(k, _)| k.name.starts_with("valid_"))
            .map(|(k, v)| (k.name.as_str(), v))
            .unwrap_or(("", body));
        match key {
            "valid_min" => {
                options.insert(s("minimum"), to_yaml(value));
            }
            "valid_max" => {
                options.insert(s("maximum"), to_yaml(value));
            }
            "valid_min_length" => {
                options.insert(s("minLength"), to_yaml(value));
            }
            "valid_max_length" => {
                options.insert(s("maxLength"), to_yaml(value));
            }
            "valid_format" => match value.get("regex") {
                Some(regex) => {
                    options.insert(s("pattern"), to_yaml(regex));
                }
                None => self.dropped.push(format!("{place}: a named format")),
            },
            _ => {
                let enums = seq_items(Some(value))
                    .iter()
                    .map(|v| {
                        let mut h = Hash::new();
                        h.insert(s("value"), to_yaml(v));
                        Yaml::Hash(h)
                    })
                    .collect();
                prop.insert(s("enum"), Yaml::Array(enums));
            }
        }
    }

    /// A dataset-level check -> a rule of the object's `quality`, or an SLA.
    fn dataset_check(&mut self, check: &Node, table: &str, quality: &mut Vec<Yaml>) {
        let Some((kind, body)) = check_parts(check) else {
            return;
        };
        let body = &body;
        let place = format!("the dataset's {kind} check");
        if self.filtered(body, &place) {
            return;
        }
        match kind {
            "schema" => {
                let strict = ["allow_extra_columns", "allow_other_column_order"]
                    .iter()
                    .any(|k| {
                        body.get(k)
                            .and_then(|n| match n.value {
                                NodeValue::Bool(b) => Some(!b),
                                _ => None,
                            })
                            .unwrap_or(true)
                    });
                if strict {
                    self.dropped.push(format!("{place}: ODCS checks that each property is present, not that no other column is, nor their order"));
                }
            }
            "row_count" => {
                let Some(mut rule) = self.rule(body, &place, false) else {
                    return;
                };
                rule.insert(s("metric"), s("rowCount"));
                quality.push(Yaml::Hash(rule));
            }
            "metric" if body.get("query").is_some() => {
                let Some(mut rule) = self.rule(body, &place, false) else {
                    return;
                };
                rule.insert(s("type"), s("sql"));
                rule.insert(s("query"), to_yaml(body.get("query").unwrap_or(check)));
                quality.push(Yaml::Hash(rule));
            }
            "freshness" => {
                let column = body
                    .get("column")
                    .and_then(Node::scalar_text)
                    .unwrap_or_default();
                let unit = body
                    .get("unit")
                    .or(body.get("threshold").and_then(|t| t.get("unit")))
                    .and_then(Node::scalar_text)
                    .unwrap_or_else(|| "hour".into());
                let limit = body
                    .get("threshold")
                    .and_then(|t| t.get("must_be_less_than"));
                let (Some(limit), Some(u)) = (
                    limit,
                    match unit.as_str() {
                        "day" => Some("d"),
                        "hour" => Some("h"),
                        "minute" => Some("m"),
                        _ => None,
                    },
                ) else {
                    self.dropped.push(format!("{place}: ODCS freshness is a `must_be_less_than` in days, hours or minutes"));
                    return;
                };
                let mut sla = Hash::new();
                if let Some(q) = body.get("qualifier").and_then(Node::scalar_text) {
                    sla.insert(s("id"), s(&q));
                }
                sla.insert(s("property"), s("freshness"));
                sla.insert(s("value"), to_yaml(limit));
                sla.insert(s("unit"), s(u));
                sla.insert(s("element"), s(&format!("{table}.{column}")));
                self.sla.push(Yaml::Hash(sla));
            }
            _ => self
                .dropped
                .push(format!("{place}: no ODCS rule means the same")),
        }
    }

    /// A check's name, qualifier and threshold as an ODCS rule's id, name, comparison,
    /// unit and severity; None (and a line in `dropped`) for a comparison ODCS lacks.
    fn rule(&mut self, body: &Node, place: &str, percent_allowed: bool) -> Option<Hash> {
        let mut rule = Hash::new();
        if let Some(q) = body.get("qualifier").and_then(Node::scalar_text) {
            rule.insert(s("id"), s(&q));
        }
        if let Some(n) = body.get("name").and_then(Node::scalar_text) {
            rule.insert(s("name"), s(&n));
        }
        let threshold = body.get("threshold");
        let comparison = threshold
            .and_then(|t| t.as_map())
            .unwrap_or(&[])
            .iter()
            .find(|(k, _)| k.name.starts_with("must_"));
        let (op, value) = match comparison {
            None => ("mustBe".to_string(), Yaml::Integer(0)),
            Some((k, v)) => match k.name.as_str() {
                "must_be" => ("mustBe".into(), to_yaml(v)),
                "must_not_be" => ("mustNotBe".into(), to_yaml(v)),
                "must_be_greater_than" => ("mustBeGreaterThan".into(), to_yaml(v)),
                "must_be_greater_than_or_equal" => ("mustBeGreaterOrEqualTo".into(), to_yaml(v)),
                "must_be_less_than" => ("mustBeLessThan".into(), to_yaml(v)),
                "must_be_less_than_or_equal" => ("mustBeLessOrEqualTo".into(), to_yaml(v)),
                "must_be_between" => {
                    match (v.get("greater_than_or_equal"), v.get("less_than_or_equal")) {
                        (Some(lo), Some(hi)) => (
                            "mustBeBetween".into(),
                            Yaml::Array(vec![to_yaml(lo), to_yaml(hi)]),
                        ),
                        _ => {
                            self.dropped.push(format!(
                                "{place}: a range with an open end (ODCS ranges include both ends)"
                            ));
                            return None;
                        }
                    }
                }
                _ => match (v.get("less_than"), v.get("greater_than")) {
                    (Some(lo), Some(hi)) => (
                        "mustNotBeBetween".into(),
                        Yaml::Array(vec![to_yaml(lo), to_yaml(hi)]),
                    ),
                    _ => {
                        self.dropped.push(format!(
                            "{place}: a range with a closed end (ODCS excludes both ends)"
                        ));
                        return None;
                    }
                },
            },
        };
        rule.insert(s(&op), value);
        if let Some(t) = threshold {
            if t.get("metric").and_then(Node::scalar_text).as_deref() == Some("percent") {
                if !percent_allowed {
                    self.dropped.push(format!("{place}: a percent (ODCS has one for null, missing and invalid values only)"));
                    return None;
                }
                rule.insert(s("unit"), s("percent"));
            }
            if t.get("level").and_then(Node::scalar_text).as_deref() == Some("warn") {
                rule.insert(s("severity"), s("warning"));
            }
        }
        if body.get("attributes").is_some() {
            self.dropped.push(format!("{place}: its `attributes`"));
        }
        Some(rule)
    }
}

/// `valid_min: x, invalid_values: [x]` (or `valid_max`): ODCS's exclusive bound.
fn exclusive_bound(body: &Node) -> Option<(&'static str, &Node)> {
    let keys: Vec<&str> = body
        .as_map()?
        .iter()
        .map(|(k, _)| k.name.as_str())
        .filter(|k| !["name", "qualifier", "attributes"].contains(k))
        .collect();
    let [bound_item] = seq_items(body.get("invalid_values")) else {
        return None;
    };
    for (soda, odcs) in [
        ("valid_min", "exclusiveMinimum"),
        ("valid_max", "exclusiveMaximum"),
    ] {
        if let Some(bound) = body.get(soda) {
            let same = bound.as_f64().is_some() && bound.as_f64() == bound_item.as_f64();
            if keys.len() == 2 && same {
                return Some((odcs, bound));
            }
        }
    }
    None
}

/// `- TYPE: {...}` -> the type and its body (an empty mapping for `- TYPE:`).
fn check_parts(check: &Node) -> Option<(&str, Node)> {
    let [(type_key, body)] = check.as_map()? else {
        return None;
    };
    let body = match body.is_null() {
        true => Node {
            value: NodeValue::Map(Vec::new()),
            span: check.span,
        },
        false => body.clone(),
    };
    Some((type_key.name.as_str(), body))
}

fn s(text: &str) -> Yaml {
    Yaml::String(text.to_string())
}
