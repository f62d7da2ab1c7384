//! `schedules:` of assay.yml: contracts that `assay serve` queues for its agents on cron
//! expressions (UTC). Read by the same code in every command, so a schedule written
//! wrong is an error with its position wherever the file is loaded.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cron::Cron;
use crate::decode::Reader;
use crate::yaml::{Node, NodeValue};

/// One schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleConfig {
    /// unique in the file: what the instructions it makes say they came from
    pub name: String,
    pub cron: Cron,
    /// the cron expression as written (shown in the API)
    pub cron_text: String,
    /// contract files, relative to the project folder
    pub contracts: Vec<String>,
    /// `--set` of each run
    pub variables: BTreeMap<String, String>,
    /// each run's wall-clock limit
    pub timeout: Duration,
}

const SCHEDULE_KEYS: &[&str] = &["name", "cron", "contracts", "variables", "timeout"];

/// How long a run may take when its schedule (or request) says nothing.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub(super) fn schedules(r: &mut Reader, node: &Node) -> Option<Vec<ScheduleConfig>> {
    let mut out: Vec<ScheduleConfig> = Vec::new();
    for item in r.list(node, "schedules")? {
        let Some(s) = schedule(r, item) else {
            continue;
        };
        if out.iter().any(|o| o.name == s.name) {
            r.error(
                item.span,
                format!("schedule '{}' is defined twice", s.name),
                Some("give each schedule its own name".into()),
            );
            continue;
        }
        out.push(s);
    }
    Some(out)
}

fn schedule(r: &mut Reader, node: &Node) -> Option<ScheduleConfig> {
    if !r.keys(node, SCHEDULE_KEYS, "a schedule") {
        return None;
    }
    let name_node = r.required(node, "name", "a schedule")?;
    let name = r.string(name_node, "name")?;
    if name.trim().is_empty() || name.chars().any(char::is_control) || name.len() > 100 {
        r.error(
            name_node.span,
            "a schedule's name is a word or a few (at most 100 bytes)",
            Some("like nightly-orders".into()),
        );
        return None;
    }
    let cron_node = r.required(node, "cron", &format!("schedule '{name}'"))?;
    let cron_text = r.string(cron_node, "cron")?;
    let cron = match Cron::parse(&cron_text) {
        Ok(c) => c,
        Err(e) => {
            r.error(
                cron_node.span,
                format!("schedule '{name}': {e}"),
                Some("like \"0 2 * * *\" (02:00 UTC every day) or @hourly".into()),
            );
            return None;
        }
    };
    let contracts_node = r.required(node, "contracts", &format!("schedule '{name}'"))?;
    let contracts = r.string_list(contracts_node, "contracts")?;
    if contracts.is_empty() {
        r.error(
            contracts_node.span,
            format!("schedule '{name}' names no contract"),
            Some("list the contract files it runs, relative to assay.yml".into()),
        );
        return None;
    }
    for c in &contracts {
        if !project_relative(c) {
            r.error(
                contracts_node.span,
                format!("schedule '{name}': '{c}' is not a path inside the project"),
                Some("contracts are named relative to assay.yml's folder, without '..'".into()),
            );
            return None;
        }
    }
    let variables = match node.get("variables").filter(|n| !n.is_null()) {
        None => BTreeMap::new(),
        Some(n) => variables(r, n, &name)?,
    };
    let timeout = match node.get("timeout").filter(|n| !n.is_null()) {
        None => DEFAULT_RUN_TIMEOUT,
        Some(n) => {
            let text = r.string(n, "timeout")?;
            match humantime::parse_duration(&text) {
                Ok(d) if !d.is_zero() => d,
                _ => {
                    r.error(
                        n.span,
                        format!("schedule '{name}': timeout '{text}' is not a duration"),
                        Some("write it like 10m or 1h".into()),
                    );
                    return None;
                }
            }
        }
    };
    Some(ScheduleConfig {
        name,
        cron,
        cron_text,
        contracts,
        variables,
        timeout,
    })
}

/// `variables:` as text, written as they are: a `${env.X}` in them is filled in where the
/// run happens, never where the schedule is read.
fn variables(r: &mut Reader, node: &Node, name: &str) -> Option<BTreeMap<String, String>> {
    let Some(entries) = node.as_map() else {
        r.error(
            node.span,
            format!("schedule '{name}': variables is a mapping of names to values"),
            Some("variables: {region: eu}".into()),
        );
        return None;
    };
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        let text = match &value.value {
            NodeValue::Str(_) | NodeValue::Int(_) | NodeValue::Float(_) | NodeValue::Bool(_) => {
                value.scalar_text()
            }
            _ => None,
        };
        match text {
            Some(t) => {
                out.insert(key.name.clone(), t);
            }
            None => {
                r.error(
                    value.span,
                    format!(
                        "variable '{}' of schedule '{name}' is not a value",
                        key.name
                    ),
                    None,
                );
                return None;
            }
        }
    }
    Some(out)
}

/// A relative path that stays inside the folder it is relative to, written with `/`.
pub fn project_relative(path: &str) -> bool {
    let p = std::path::Path::new(path);
    !path.is_empty()
        && !path.contains('\\')
        && !p.is_absolute()
        && !p.has_root()
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}
