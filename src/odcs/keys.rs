//! Every key an ODCS v3 document may hold, by section, with the version that brought
//! it. Reading checks a document against these tables before anything is built from
//! it: an unknown key is an error with a did-you-mean (except under `customProperties`,
//! whose values are free), and a key newer than the document's `apiVersion` is an error
//! that names the version it needs. The README's ODCS key table lists the same keys.

use super::version::Version;
use crate::decode::Reader;
use crate::diag::{unknown_word_help, Diag};
use crate::yaml::{Node, NodeValue};

use Version::{V300 as A, V310 as B, V320 as C};

/// A section of the document: its keys with the version each came in, and the sections
/// its keys hold.
pub struct Section {
    pub what: &'static str,
    pub keys: &'static [(&'static str, Version)],
    pub children: &'static [(&'static str, Child)],
}

#[derive(Clone, Copy)]
pub enum Child {
    /// a mapping of this section
    One(&'static Section),
    /// a list of mappings of this section
    Many(&'static Section),
    /// a list of these, or (before v3.1 or deprecated) a mapping of the other
    OneOrMany(&'static Section, &'static Section),
    /// a list whose items are scalars or mappings of this section
    ScalarsOr(&'static Section),
    /// a mapping of this section, or plain text
    TextOr(&'static Section),
}

pub static ROOT: Section = Section {
    what: "the contract",
    keys: &[
        ("apiVersion", A),
        ("kind", A),
        ("id", A),
        ("version", A),
        ("name", A),
        ("status", A),
        ("tenant", A),
        ("tags", A),
        ("servers", A),
        ("dataProduct", A),
        ("description", A),
        ("domain", A),
        ("schema", A),
        ("support", A),
        ("price", A),
        ("team", A),
        ("roles", A),
        ("slaDefaultElement", A),
        ("slaProperties", A),
        ("authoritativeDefinitions", A),
        ("customProperties", A),
        ("contractCreatedTs", A),
        ("context", C),
    ],
    children: &[
        ("servers", Child::Many(&SERVER)),
        ("description", Child::One(&DESCRIPTION)),
        ("schema", Child::Many(&OBJECT)),
        ("support", Child::Many(&SUPPORT)),
        ("price", Child::One(&PRICE)),
        ("team", Child::OneOrMany(&TEAM_MEMBER, &TEAM)),
        ("roles", Child::Many(&ROLE)),
        ("slaProperties", Child::Many(&SLA)),
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
        ("customProperties", Child::Many(&CUSTOM)),
        ("context", Child::TextOr(&CONTEXT)),
    ],
};

pub static SERVER: Section = Section {
    what: "a server",
    keys: &[
        ("server", A),
        ("type", A),
        ("description", A),
        ("environment", A),
        ("roles", A),
        ("customProperties", A),
        ("id", B),
        // the connection keys of the server types, all optional
        ("account", A),
        ("catalog", A),
        ("database", A),
        ("dataset", A),
        ("delimiter", A),
        ("endpointUrl", A),
        ("format", A),
        ("host", A),
        ("location", A),
        ("path", A),
        ("port", A),
        ("project", A),
        ("region", A),
        ("regionName", A),
        ("schema", A),
        ("serviceName", A),
        ("stagingDir", A),
        ("stream", B),
        ("warehouse", A),
        ("catalogUrl", C),
        ("namespace", C),
        ("encoding", C),
        ("workgroup", C),
    ],
    children: &[
        ("roles", Child::Many(&ROLE)),
        ("customProperties", Child::Many(&CUSTOM)),
    ],
};

pub static OBJECT: Section = Section {
    what: "a schema object",
    keys: &[
        ("name", A),
        ("physicalName", A),
        ("physicalType", A),
        ("logicalType", A),
        ("description", A),
        ("businessName", A),
        ("dataGranularityDescription", A),
        ("tags", A),
        ("authoritativeDefinitions", A),
        ("customProperties", A),
        ("properties", A),
        ("quality", A),
        ("id", B),
        ("relationships", B),
        ("deprecated", C),
        ("synonyms", C),
        ("context", C),
    ],
    children: &[
        ("properties", Child::Many(&PROPERTY)),
        ("quality", Child::Many(&QUALITY)),
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
        ("customProperties", Child::Many(&CUSTOM)),
        ("relationships", Child::Many(&RELATIONSHIP)),
        ("synonyms", Child::ScalarsOr(&SYNONYM)),
        ("context", Child::TextOr(&CONTEXT)),
    ],
};

pub static PROPERTY: Section = Section {
    what: "a property",
    keys: &[
        ("name", A),
        ("physicalName", A),
        ("physicalType", A),
        ("logicalType", A),
        ("logicalTypeOptions", A),
        ("description", A),
        ("businessName", A),
        ("primaryKey", A),
        ("primaryKeyPosition", A),
        ("required", A),
        ("unique", A),
        ("partitioned", A),
        ("partitionKeyPosition", A),
        ("classification", A),
        ("encryptedName", A),
        ("transformSourceObjects", A),
        ("transformLogic", A),
        ("transformDescription", A),
        ("examples", A),
        ("criticalDataElement", A),
        ("tags", A),
        ("authoritativeDefinitions", A),
        ("customProperties", A),
        ("quality", A),
        ("properties", A),
        ("items", A),
        ("id", B),
        ("relationships", B),
        ("enum", C),
        ("map", C),
        ("semanticType", C),
        ("synonyms", C),
        ("deprecated", C),
    ],
    children: &[
        ("logicalTypeOptions", Child::One(&TYPE_OPTIONS)),
        ("quality", Child::Many(&QUALITY)),
        ("properties", Child::Many(&PROPERTY)),
        ("items", Child::One(&PROPERTY)),
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
        ("customProperties", Child::Many(&CUSTOM)),
        ("relationships", Child::Many(&RELATIONSHIP)),
        ("enum", Child::Many(&ENUM_VALUE)),
        ("map", Child::One(&MAP)),
        ("synonyms", Child::ScalarsOr(&SYNONYM)),
    ],
};

pub static TYPE_OPTIONS: Section = Section {
    what: "logicalTypeOptions",
    keys: &[
        ("format", A),
        ("pattern", A),
        ("minLength", A),
        ("maxLength", A),
        ("minimum", A),
        ("maximum", A),
        ("exclusiveMinimum", A),
        ("exclusiveMaximum", A),
        ("multipleOf", A),
        ("minItems", A),
        ("maxItems", A),
        ("uniqueItems", A),
        ("minProperties", A),
        ("maxProperties", A),
        ("required", A),
        ("timezone", B),
        ("defaultTimezone", B),
        ("dimensions", C),
        ("distanceMetric", C),
        ("elementType", C),
        ("embeddingModel", C),
        ("embeddingModelVersion", C),
        ("normalized", C),
    ],
    children: &[],
};

/// The comparison keys of a quality rule, as datacontract-cli compares them.
pub const OPERATORS: &[&str] = &[
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
];

pub static QUALITY: Section = Section {
    what: "a quality rule",
    keys: &[
        ("type", A),
        ("name", A),
        ("description", A),
        ("dimension", A),
        ("method", A),
        ("severity", A),
        ("businessImpact", A),
        ("schedule", A),
        ("scheduler", A),
        ("unit", A),
        ("tags", A),
        ("customProperties", A),
        ("authoritativeDefinitions", A),
        ("rule", A),
        ("query", A),
        ("engine", A),
        ("implementation", A),
        ("mustBe", A),
        ("mustNotBe", A),
        ("mustBeGreaterThan", A),
        ("mustBeGreaterOrEqualTo", A),
        ("mustBeLessThan", A),
        ("mustBeLessOrEqualTo", A),
        ("mustBeBetween", A),
        ("mustNotBeBetween", A),
        ("validValues", A),
        ("id", B),
        ("metric", B),
        ("arguments", B),
    ],
    children: &[
        ("customProperties", Child::Many(&CUSTOM)),
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
    ],
};

pub static SLA: Section = Section {
    what: "an SLA property",
    keys: &[
        ("property", A),
        ("value", A),
        ("valueExt", A),
        ("unit", A),
        ("element", A),
        ("driver", A),
        ("scheduler", A),
        ("schedule", A),
        ("id", B),
        ("description", B),
        ("customProperties", C),
        ("authoritativeDefinitions", C),
    ],
    children: &[
        ("customProperties", Child::Many(&CUSTOM)),
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
    ],
};

/// `customProperties` entries: their `value` may be anything, and is not looked into.
pub static CUSTOM: Section = Section {
    what: "a custom property",
    keys: &[
        ("property", A),
        ("value", A),
        ("id", B),
        ("description", B),
        ("vendor", C),
    ],
    children: &[],
};

pub static AUTHORITATIVE: Section = Section {
    what: "an authoritative definition",
    keys: &[("url", A), ("type", A), ("id", B), ("description", B)],
    children: &[],
};

pub static DESCRIPTION: Section = Section {
    what: "description",
    keys: &[
        ("usage", A),
        ("purpose", A),
        ("limitations", A),
        ("authoritativeDefinitions", A),
        ("customProperties", A),
        ("id", B),
    ],
    children: &[
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
        ("customProperties", Child::Many(&CUSTOM)),
    ],
};

pub static SUPPORT: Section = Section {
    what: "a support channel",
    keys: &[
        ("channel", A),
        ("url", A),
        ("description", A),
        ("tool", A),
        ("scope", A),
        ("invitationUrl", A),
        ("id", B),
        ("customProperties", B),
    ],
    children: &[("customProperties", Child::Many(&CUSTOM))],
};

pub static PRICE: Section = Section {
    what: "price",
    keys: &[
        ("priceAmount", A),
        ("priceCurrency", A),
        ("priceUnit", A),
        ("id", B),
    ],
    children: &[],
};

pub static TEAM: Section = Section {
    what: "team",
    keys: &[
        ("id", B),
        ("name", B),
        ("description", B),
        ("members", B),
        ("tags", B),
        ("customProperties", B),
        ("authoritativeDefinitions", B),
    ],
    children: &[
        ("members", Child::Many(&TEAM_MEMBER)),
        ("customProperties", Child::Many(&CUSTOM)),
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
    ],
};

pub static TEAM_MEMBER: Section = Section {
    what: "a team member",
    keys: &[
        ("username", A),
        ("name", A),
        ("description", A),
        ("role", A),
        ("dateIn", A),
        ("dateOut", A),
        ("replacedByUsername", A),
        ("id", B),
        ("tags", B),
        ("customProperties", B),
        ("authoritativeDefinitions", B),
    ],
    children: &[
        ("customProperties", Child::Many(&CUSTOM)),
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
    ],
};

pub static ROLE: Section = Section {
    what: "a role",
    keys: &[
        ("role", A),
        ("description", A),
        ("access", A),
        ("firstLevelApprovers", A),
        ("secondLevelApprovers", A),
        ("customProperties", A),
        ("id", B),
    ],
    children: &[("customProperties", Child::Many(&CUSTOM))],
};

pub static RELATIONSHIP: Section = Section {
    what: "a relationship",
    keys: &[
        ("type", B),
        ("from", B),
        ("to", B),
        ("customProperties", B),
        ("id", C),
    ],
    children: &[("customProperties", Child::Many(&CUSTOM))],
};

pub static ENUM_VALUE: Section = Section {
    what: "an enum value",
    keys: &[
        ("value", C),
        ("label", C),
        ("description", C),
        ("id", C),
        ("tags", C),
        ("customProperties", C),
        ("authoritativeDefinitions", C),
    ],
    children: &[
        ("customProperties", Child::Many(&CUSTOM)),
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
    ],
};

pub static MAP: Section = Section {
    what: "map",
    keys: &[("keys", C), ("values", C)],
    children: &[
        ("keys", Child::One(&PROPERTY)),
        ("values", Child::One(&PROPERTY)),
    ],
};

pub static SYNONYM: Section = Section {
    what: "a synonym",
    keys: &[
        ("synonym", C),
        ("locale", C),
        ("source", C),
        ("status", C),
        ("description", C),
        ("id", C),
        ("customProperties", C),
    ],
    children: &[("customProperties", Child::Many(&CUSTOM))],
};

pub static CONTEXT: Section = Section {
    what: "context",
    keys: &[
        ("description", C),
        ("purpose", C),
        ("usage", C),
        ("limitations", C),
        ("id", C),
        ("customProperties", C),
        ("authoritativeDefinitions", C),
    ],
    children: &[
        ("customProperties", Child::Many(&CUSTOM)),
        ("authoritativeDefinitions", Child::Many(&AUTHORITATIVE)),
    ],
};

/// Check `node` and everything under it against `section`. Errors go to the reader;
/// nothing is built here.
pub fn check(r: &mut Reader, node: &Node, section: &Section, version: Version) {
    let Some(entries) = node.as_map() else {
        r.error(
            node.span,
            format!(
                "{} must be a mapping, found {}",
                section.what,
                node.kind_name()
            ),
            None,
        );
        return;
    };
    let names: Vec<&str> = section.keys.iter().map(|(k, _)| *k).collect();
    for (key, value) in entries {
        match section.keys.iter().find(|(k, _)| *k == key.name) {
            None => {
                let help = unknown_word_help(&key.name, &names, "allowed keys:");
                r.diags.push(
                    Diag::at(
                        r.source,
                        key.span,
                        format!("unknown key '{}' in {}", key.name, section.what),
                        "unknown key",
                    )
                    .with_help(format!(
                        "{help}; keys of your own go under `customProperties`"
                    )),
                );
            }
            Some((_, since)) if *since > version => r.error(
                key.span,
                format!(
                    "'{}' in {} came in ODCS {}, and this contract is {}",
                    key.name,
                    section.what,
                    since.text(),
                    version.text()
                ),
                Some(format!("write `apiVersion: {}`", since.text())),
            ),
            Some(_) if value.is_null() => {}
            Some(_) => {
                if let Some((_, child)) = section.children.iter().find(|(k, _)| *k == key.name) {
                    check_child(r, value, *child, version);
                }
            }
        }
    }
}

fn check_child(r: &mut Reader, value: &Node, child: Child, version: Version) {
    match (child, &value.value) {
        (Child::One(s), _) => check(r, value, s, version),
        (Child::Many(s) | Child::OneOrMany(s, _), NodeValue::Seq(items)) => {
            for item in items {
                check(r, item, s, version);
            }
        }
        (Child::OneOrMany(_, s), NodeValue::Map(_)) => check(r, value, s, version),
        (Child::ScalarsOr(s), NodeValue::Seq(items)) => {
            for item in items.iter().filter(|i| i.as_map().is_some()) {
                check(r, item, s, version);
            }
        }
        (Child::TextOr(_), NodeValue::Str(_)) => {}
        (Child::TextOr(s), _) => check(r, value, s, version),
        (Child::Many(s) | Child::ScalarsOr(s), _) => r.error(
            value.span,
            format!(
                "this must be a list of {}s, found {}",
                strip_article(s.what),
                value.kind_name()
            ),
            None,
        ),
        (Child::OneOrMany(s, _), _) => r.error(
            value.span,
            format!(
                "this must be a list of {}s, found {}",
                strip_article(s.what),
                value.kind_name()
            ),
            None,
        ),
    }
}

fn strip_article(what: &str) -> &str {
    what.strip_prefix("a ")
        .or_else(|| what.strip_prefix("an "))
        .unwrap_or(what)
}
