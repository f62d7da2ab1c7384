//! `assay contract convert`: ODCS v3 documents to the Soda v4 contracts assay runs for
//! them, and Soda v4 contracts to ODCS v3.2.0. What the other language cannot hold is
//! listed on stderr.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{config_path, now_text, write_out, AppError};
use crate::cli::{ContractArgs, ContractCommand, ContractLanguage, ConvertArgs};
use crate::config;
use crate::contract;
use crate::decode::Reader;
use crate::diag::Diag;
use crate::exit::Exit;
use crate::interp::Vars;
use crate::odcs::{self, convert};
use crate::source::Source;

pub fn run(args: &ContractArgs) -> Result<Exit, AppError> {
    match &args.command {
        ContractCommand::Convert(c) => {
            convert_file(c, args.common.config.as_ref(), args.common.quiet)
        }
    }
}

fn convert_file(
    args: &ConvertArgs,
    config: Option<&PathBuf>,
    quiet: bool,
) -> Result<Exit, AppError> {
    let (files, names) = super::run_config::data_source_args(&args.data_sources);
    let config = config::load(config_path(config)?.as_deref(), &files, &Vars::default())?;
    let mut diags = crate::diag::Diags::default();
    super::run_config::check_named_sources(&config, &names, &mut diags);
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let source = contract::read_source(&args.file)?;
    let root = crate::yaml::parse(&source)?;
    let is_odcs = odcs::is_odcs(&root);
    let converted = match (is_odcs, args.to) {
        (true, ContractLanguage::Soda) => {
            let target = odcs::Placement {
                config: &config,
                names: &names,
                server: args.server.as_deref(),
            };
            odcs_to_soda(&source, &root, &target)?
        }
        (false, ContractLanguage::Odcs) => {
            // read as a contract first: only a valid one is converted
            let c = contract::parse_root(
                source.clone(),
                &root,
                &HashMap::new(),
                &now_text(chrono::Utc::now()),
            )?;
            let engine = config
                .data_source(&c.dataset.data_source)
                .map(|d| d.engine.name());
            let mut r = Reader::new(&source, None);
            convert::soda_to_odcs(&mut r, &root, engine)
        }
        (true, ContractLanguage::Odcs) | (false, ContractLanguage::Soda) => {
            let language = if is_odcs {
                "an ODCS document"
            } else {
                "a Soda contract"
            };
            return Err(
                Diag::plain(format!("'{}' is {language} already", args.file.display()))
                    .with_help("--to odcs converts a Soda contract, --to soda an ODCS document")
                    .into(),
            );
        }
    };
    write_converted(&converted, args.output.as_deref())?;
    if !quiet {
        for line in &converted.dropped {
            eprintln!(
                "{}",
                crate::secrets::for_terminal(&format!("not carried: {line}"))
            );
        }
    }
    Ok(Exit::Ok)
}

/// Each schema object's Soda tree, and everything of the document no check carries.
fn odcs_to_soda(
    source: &Source,
    root: &crate::yaml::Node,
    target: &odcs::Placement,
) -> Result<convert::Converted, AppError> {
    let trees = odcs::trees(source, root, target)?;
    // the trees are what verify runs: they must read as contracts
    let now = now_text(chrono::Utc::now());
    for d in &trees.datasets {
        contract::parse_root(source.clone(), &d.tree, &HashMap::new(), &now)?;
    }
    let mut dropped: Vec<String> = trees.warnings.items.iter().map(|w| w.to_string()).collect();
    let mut files = Vec::new();
    for d in &trees.datasets {
        let table = d
            .tree
            .get("dataset")
            .and_then(crate::yaml::Node::scalar_text)
            .unwrap_or_default();
        let name = table.rsplit('/').next().unwrap_or_default().to_string();
        for (column, rule) in &d.not_run {
            let place = column
                .as_deref()
                .map_or(name.clone(), |c| format!("{name}.{c}"));
            dropped.push(format!(
                "{place}: rule {} ({}): {}",
                rule.qualifier, rule.rule, rule.reason
            ));
        }
        files.push((name, convert::print(&convert::to_yaml(&d.tree))));
    }
    dropped.extend(convert::information_keys(root));
    Ok(convert::Converted { files, dropped })
}

/// One file: to PATH or stdout. Several, or a PATH that is a folder (or ends in `/`):
/// into the folder, one `<table>.yml` each; on stdout as YAML documents one after the
/// other.
fn write_converted(c: &convert::Converted, output: Option<&Path>) -> Result<(), AppError> {
    let folder = output.is_some_and(|p| p.is_dir() || p.to_string_lossy().ends_with(['/', '\\']));
    match (c.files.as_slice(), output) {
        ([(_, text)], path) if !folder => write_out(path, text.trim_end()),
        (files, None) => {
            let docs: Vec<&str> = files.iter().map(|(_, t)| t.trim_end()).collect();
            write_out(None, &docs.join("\n---\n"))
        }
        (files, Some(dir)) => {
            for (name, text) in files {
                let file = dir.join(format!("{}.yml", safe_file_name(name)));
                super::write_file(&file, text).map_err(AppError::Runtime)?;
            }
            Ok(())
        }
    }
}

/// A table's name as a file name: path separators and dots at the start replaced.
fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    cleaned.trim_start_matches('.').to_string()
}
