//! Pushed documents are validated against docs/results.schema.json itself (compiled in),
//! so the server refuses what the published schema refuses: a member it does not
//! define where it lists the members (a row's values smuggled in as `rows`, say), a
//! wrong type, a value outside its enum. The schema uses a small part of JSON Schema
//! 2020-12, and this is that part: `type`, `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `const`, `minimum`, `$ref` within the
//! document. A keyword it does not know makes the schema itself wrong (a unit test
//! holds it to that), never a document.

use serde_json::Value;

pub const RESULTS_SCHEMA: &str = include_str!("../../docs/results.schema.json");

/// The keywords this validator understands; annotations it reads past.
#[cfg(test)]
const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "$ref",
];
#[cfg(test)]
const ANNOTATIONS: &[&str] = &["$schema", "$id", "$defs", "title", "description", "format"];

/// At most this many problems are reported of one document.
const MAX_PROBLEMS: usize = 10;

pub struct Validator {
    root: Value,
}

impl Validator {
    pub fn results() -> Validator {
        Validator {
            root: serde_json::from_str(RESULTS_SCHEMA).expect("the results schema is JSON"),
        }
    }

    /// A validator of another schema document (the server's OpenAPI description, whose
    /// schemas use the same keywords).
    pub fn of(root: Value) -> Validator {
        Validator { root }
    }

    /// The document's problems, each with the JSON pointer of where it is; empty when it
    /// is valid.
    pub fn problems(&self, doc: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.check(&self.root, doc, "", &mut out);
        out.truncate(MAX_PROBLEMS);
        out
    }

    /// The problems of `doc` against the schema at `pointer` of this document (like
    /// `#/components/schemas/Checks`).
    pub fn problems_against(&self, pointer: &str, doc: &Value) -> Vec<String> {
        let mut out = Vec::new();
        match self.resolve(pointer) {
            Some(schema) => self.check(schema, doc, "", &mut out),
            None => out.push(format!("{pointer} is not in the schema")),
        }
        out.truncate(MAX_PROBLEMS);
        out
    }

    fn resolve<'a>(&'a self, reference: &str) -> Option<&'a Value> {
        self.root.pointer(reference.strip_prefix('#')?)
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
        if out.len() >= MAX_PROBLEMS {
            return;
        }
        let Some(schema) = schema.as_object() else {
            return;
        };
        let here = if at.is_empty() { "/" } else { at };
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            match self.resolve(r) {
                Some(target) => self.check(target, value, at, out),
                None => out.push(format!("{here}: the schema's reference {r} is missing")),
            }
        }
        if let Some(t) = schema.get("type") {
            let allowed: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !allowed.iter().any(|t| is_type(value, t)) {
                out.push(format!(
                    "{here}: {} where {} belongs",
                    type_of(value),
                    allowed.join(" or ")
                ));
                return;
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.contains(value) {
                out.push(format!(
                    "{here}: {value} is not one of {}",
                    Value::from(options.clone())
                ));
            }
        }
        if let Some(c) = schema.get("const") {
            if c != value {
                out.push(format!("{here}: must be {c}"));
            }
        }
        if let (Some(min), Some(n)) = (
            schema.get("minimum").and_then(Value::as_f64),
            value.as_f64(),
        ) {
            if n < min {
                out.push(format!("{here}: {n} is below the minimum {min}"));
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, item) in array.iter().enumerate() {
                self.check(items, item, &format!("{at}/{i}"), out);
            }
        }
        if let Some(object) = value.as_object() {
            self.check_object(schema, object, at, out);
        }
    }

    fn check_object(
        &self,
        schema: &serde_json::Map<String, Value>,
        object: &serde_json::Map<String, Value>,
        at: &str,
        out: &mut Vec<String>,
    ) {
        let here = if at.is_empty() { "/" } else { at };
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                out.push(format!("{here}: '{name}' is required"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, member) in object {
            let path = format!("{at}/{}", pointer_escape(name));
            match properties.and_then(|p| p.get(name)) {
                Some(s) => self.check(s, member, &path, out),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!(
                        "{here}: '{}' is not a member the schema defines here",
                        crate::secrets::for_terminal(&name.chars().take(64).collect::<String>())
                    )),
                    Some(s @ Value::Object(_)) => self.check(s, member, &path, out),
                    _ => {}
                },
            }
        }
    }
}

fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|n| n.fract() == 0.0),
        _ => false,
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Every keyword of a schema is one this validator applies or an annotation.
#[cfg(test)]
fn unknown_keywords(schema: &Value, at: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{at}/{k}");
                if k == "properties" || k == "$defs" {
                    for (name, s) in v.as_object().into_iter().flatten() {
                        unknown_keywords(s, &format!("{path}/{name}"), out);
                    }
                    continue;
                }
                if !KEYWORDS.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()) {
                    out.push(path.clone());
                }
                if matches!(k.as_str(), "items" | "additionalProperties") {
                    unknown_keywords(v, &path, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|s| unknown_keywords(s, at, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_results_schema_uses_only_keywords_this_validator_applies() {
        let mut unknown = Vec::new();
        unknown_keywords(&Validator::results().root, "", &mut unknown);
        assert!(unknown.is_empty(), "{unknown:?}");
        // the server's OpenAPI description: its schemas, by the same rule
        let openapi: Value = serde_json::from_str(super::super::read::OPENAPI).unwrap();
        for (name, schema) in openapi["components"]["schemas"].as_object().unwrap() {
            unknown_keywords(schema, name, &mut unknown);
        }
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    fn document() -> Value {
        json!({
            "schema_version": "1.0",
            "scan_id": "0b6f6f3e-8d1c-4c39-9a57-2f1d1f0c2a11",
            "tool": {"name": "assay", "version": "0.1.0"},
            "started_at": "2026-03-01T06:00:00Z",
            "ended_at": "2026-03-01T06:00:02Z",
            "now": "2026-03-01T06:00:00Z",
            "outcome": "pass",
            "summary": {"checks": 1, "pass": 1, "warn": 0, "fail": 0, "not_evaluated": 0},
            "datasets": [{
                "data_source": "shop", "dataset": "shop/main/orders", "contract": "c.yml",
                "dataset_rows_tested": 10, "outcome": "pass", "duration_ms": 3,
                "checks": [{"id": "checks/row_count", "type": "row_count", "name": "Row count",
                            "level": "fail", "threshold": {"must_be_greater_than": 0},
                            "outcome": "pass", "value": 10.0, "diagnostics": {}}]
            }]
        })
    }

    #[test]
    fn a_document_assay_writes_is_valid_and_rows_smuggled_in_are_not() {
        let v = Validator::results();
        assert_eq!(v.problems(&document()), Vec::<String>::new());
        let mut doc = document();
        doc["datasets"][0]["checks"][0]["rows"] = json!([{"email": "a@example.com"}]);
        let problems = v.problems(&doc);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("/datasets/0/checks/0: 'rows'"),
            "{problems:?}"
        );
        let mut doc = document();
        doc["datasets"][0]["checks"][0]["failed_rows"] = json!({"captured": 1, "store": "s", "table": "t", "rows": [{"email": "a@example.com"}]});
        assert_eq!(v.problems(&doc).len(), 1, "{:?}", v.problems(&doc));
        let mut doc = document();
        doc["datasets"][0]["outcome"] = json!("great");
        doc["summary"]["checks"] = json!(-1);
        doc.as_object_mut().unwrap().remove("now");
        let problems = v.problems(&doc);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(v.problems(&json!([1])).len() == 1);
    }
}
