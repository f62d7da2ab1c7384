//! Open Data Contract Standard (ODCS) v3 contracts: one document, one contract per
//! `schema[]` object, run by the same planner and checks as Soda contracts.
//!
//! A document is checked key by key (`keys.rs`, per version), its server entry matched
//! to a configured data source (`target.rs`), and each schema object turned into the
//! Soda contract tree that means the same thing (`soda.rs`), with every node keeping
//! the span of the ODCS text it came from: an error in a threshold, a regex or a query
//! points at the ODCS line. Where ODCS's text and datacontract-cli differ, assay does
//! what datacontract-cli does (the README's ODCS section lists each case).

pub mod convert;
pub mod keys;
pub mod logical;
pub mod not_run;
pub mod soda;
pub mod target;
pub mod version;

use std::collections::HashMap;

use crate::contract::{self, Contract};
use crate::decode::Reader;
use crate::diag::Diags;
use crate::source::Source;
use crate::yaml::Node;

pub use target::Placement;
pub use version::is_odcs;

/// An ODCS document as Soda contract trees, one per schema object, with what was
/// accepted with a warning.
pub struct Trees {
    pub datasets: Vec<soda::Dataset>,
    pub warnings: Diags,
}

/// The contracts of one ODCS document: one per schema object, in order.
pub fn parse(
    source: &Source,
    root: &Node,
    target: &Placement,
    set: &HashMap<String, String>,
    now: &str,
) -> Result<Vec<Contract>, Diags> {
    let trees = trees(source, root, target)?;
    let r = Reader::new(source, None);
    let mut contracts = Vec::new();
    let mut diags = Diags::default();
    for dataset in trees.datasets {
        match contract::parse_root(source.clone(), &dataset.tree, set, now) {
            Ok(mut c) => {
                if let Some(logical) = dataset.logical {
                    c.checks.push(logical.check(&r));
                }
                for (column, not_run) in dataset.not_run {
                    c.checks.push(not_run.check(&r, column.as_deref()));
                }
                contracts.push(c);
            }
            Err(d) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    if let Some(first) = contracts.first_mut() {
        first.warnings.extend(trees.warnings.items);
    }
    Ok(contracts)
}

/// The Soda trees of an ODCS document: checked key by key, matched to a data source,
/// each schema object as the contract that means the same.
pub fn trees(source: &Source, root: &Node, target: &Placement) -> Result<Trees, Diags> {
    let mut r = Reader::new(source, None);
    let Some(version) = version::read(&mut r, root) else {
        return Err(r.diags);
    };
    keys::check(&mut r, root, &keys::ROOT, version);
    for key in ["id", "version"] {
        r.required(root, key, "an ODCS contract");
    }
    if version.status_required() {
        r.required(root, "status", "an ODCS contract");
    }
    if !r.diags.is_empty() {
        return Err(r.diags);
    }
    let Some(chosen) = target::choose(&mut r, root, target) else {
        return Err(r.diags);
    };
    let datasets = soda::datasets(&mut r, root, version, &chosen);
    if !r.diags.is_empty() {
        return Err(r.diags);
    }
    Ok(Trees {
        datasets,
        warnings: r.warnings,
    })
}

#[cfg(test)]
mod tests;
