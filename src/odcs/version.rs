//! The ODCS versions assay reads, and how a document says which it is.

use crate::decode::Reader;
use crate::yaml::Node;

/// Ordered: a key "came in" a version and is known to every later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V300,
    V301,
    V302,
    V310,
    V320,
}

const ALL: &[(&str, Version)] = &[
    ("v3.0.0", Version::V300),
    ("v3.0.1", Version::V301),
    ("v3.0.2", Version::V302),
    ("v3.1.0", Version::V310),
    ("v3.2.0", Version::V320),
];

impl Version {
    pub fn text(self) -> &'static str {
        ALL.iter()
            .find(|(_, v)| *v == self)
            .map_or("v3.2.0", |(t, _)| t)
    }

    /// v3.1.0 made `exclusiveMinimum`/`exclusiveMaximum` bounds of their own (numbers);
    /// before, they were booleans that made `minimum`/`maximum` exclusive.
    pub fn exclusive_bounds_are_numbers(self) -> bool {
        self >= Version::V310
    }

    /// v3.2.0 made `status` optional.
    pub fn status_required(self) -> bool {
        self < Version::V320
    }

    /// v3.1.0 named library rules `metric` and deprecated `rule`.
    pub fn rule_deprecated(self) -> bool {
        self >= Version::V310
    }
}

/// Whether a document is ODCS: `kind: DataContract` or an `apiVersion` of ODCS's form.
/// A Soda contract has neither key.
pub fn is_odcs(root: &Node) -> bool {
    root.get("kind").is_some() || root.get("apiVersion").is_some()
}

/// The document's version, or an error at its `apiVersion` (or `kind`).
pub fn read(r: &mut Reader, root: &Node) -> Option<Version> {
    let kind = r.required(root, "kind", "an ODCS contract");
    if let Some(kind) = kind {
        let text = r.raw_text(kind, "kind")?;
        if text != "DataContract" {
            r.error(
                kind.span,
                format!("kind '{text}' is not a data contract"),
                Some("an ODCS data contract has `kind: DataContract`".into()),
            );
        }
    }
    let node = r.required(root, "apiVersion", "an ODCS contract")?;
    let text = r.raw_text(node, "apiVersion")?;
    match ALL.iter().find(|(t, _)| *t == text) {
        Some((_, v)) => Some(*v),
        None => {
            let known: Vec<&str> = ALL.iter().map(|(t, _)| *t).collect();
            let hint = if text.starts_with("v2.") {
                "ODCS v2 contracts are not read: upgrade the contract to v3 (datacontract-cli's `import` or the ODCS upgrade notes)".to_string()
            } else {
                format!("assay reads ODCS {}", known.join(", "))
            };
            r.error(
                node.span,
                format!("apiVersion '{text}' is not an ODCS version assay reads"),
                Some(hint),
            );
            None
        }
    }
}
