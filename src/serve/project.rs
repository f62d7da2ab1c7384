//! The project a server hands its agents: `assay.yml` and contract files, from a folder
//! it watches (a git checkout kept current by `git pull`) or uploaded through the API
//! (`PUT /api/v1/project`, kept whole in `.assay/server/project.json`). The server never
//! holds a credential: every secret of its assay.yml is a `${env.X}` placeholder, filled
//! in from the agent's environment where the job runs; a config with a literal secret is
//! refused when loaded, and the project it would have replaced stays.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::config::{project_relative, ScheduleConfig};
use crate::source::Source;
use crate::yaml::{Node, NodeValue};

/// The config file of a project, at its root.
pub const CONFIG_FILE: &str = "assay.yml";

/// Limits of what a project may hold: the server keeps it in memory and copies contracts
/// into every instruction.
pub const MAX_FILES: usize = 2_000;
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
pub const MAX_PROJECT_BYTES: usize = 16 * 1024 * 1024;

/// A project as loaded: every file by its path relative to the root, with `/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub files: BTreeMap<String, String>,
    pub schedules: Vec<ScheduleConfig>,
    /// a hash of every path and text: which version an instruction was made from
    pub revision: String,
}

/// Why a project was not loaded: each problem with its file, line and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", problems.join("; "))]
pub struct ProjectRefused {
    pub problems: Vec<String>,
}

impl ProjectRefused {
    fn one(problem: impl Into<String>) -> ProjectRefused {
        ProjectRefused {
            problems: vec![problem.into()],
        }
    }
}

impl Project {
    /// Check a project's files and read its schedules; what is wrong is every problem
    /// at once.
    pub fn from_files(files: BTreeMap<String, String>) -> Result<Project, ProjectRefused> {
        let mut problems = Vec::new();
        let mut total = 0usize;
        if files.len() > MAX_FILES {
            problems.push(format!(
                "{} files, more than the {MAX_FILES} a project may hold",
                files.len()
            ));
        }
        for (path, text) in &files {
            total += text.len();
            if !project_relative(path) || !(path.ends_with(".yml") || path.ends_with(".yaml")) {
                problems.push(format!(
                    "'{path}' is not a YAML file's path inside the project (relative, with /, ending .yml or .yaml)"
                ));
            }
            if text.len() > MAX_FILE_BYTES {
                problems.push(format!("{path} is over {MAX_FILE_BYTES} bytes"));
            }
        }
        if total > MAX_PROJECT_BYTES {
            problems.push(format!(
                "the project's files hold {total} bytes, more than {MAX_PROJECT_BYTES}"
            ));
        }
        if !problems.is_empty() {
            return Err(ProjectRefused { problems });
        }
        let schedules = match files.get(CONFIG_FILE) {
            None => Vec::new(),
            Some(text) => {
                let source = Source::new(Path::new(CONFIG_FILE), text.clone());
                match crate::yaml::parse(&source) {
                    Err(d) => return Err(ProjectRefused::one(d.to_string())),
                    Ok(node) => literal_secrets(&source, &node, &mut Vec::new(), &mut problems),
                }
                match crate::config::read_schedules(&source) {
                    Ok(s) => s,
                    Err(diags) => {
                        problems.extend(diags.items.iter().map(|d| match &d.help {
                            Some(h) => format!("{d} ({h})"),
                            None => d.to_string(),
                        }));
                        Vec::new()
                    }
                }
            }
        };
        for s in &schedules {
            for c in s
                .contracts
                .iter()
                .filter(|c| !files.contains_key(c.as_str()))
            {
                problems.push(format!(
                    "{CONFIG_FILE}: schedule '{}' runs '{c}', which the project does not hold",
                    s.name
                ));
            }
        }
        if !problems.is_empty() {
            return Err(ProjectRefused { problems });
        }
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        for (path, text) in &files {
            for part in [path.as_bytes(), &[0], text.as_bytes(), &[0]] {
                hash.update(part);
            }
        }
        let revision = hash.finish().as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Project {
            files,
            schedules,
            revision,
        })
    }

    /// The contract files: every YAML file but the config.
    pub fn contracts(&self) -> impl Iterator<Item = &str> {
        self.files
            .keys()
            .map(String::as_str)
            .filter(|p| *p != CONFIG_FILE)
    }

    /// The environment variables the config's placeholders name: what an agent must
    /// give a job.
    pub fn placeholders(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(text) = self.files.get(CONFIG_FILE) {
            let mut rest = text.as_str();
            while let Some(at) = rest.find("${") {
                rest = &rest[at + 2..];
                let Some(end) = rest.find('}') else { break };
                if let Some(name) = rest[..end].trim().strip_prefix("env.") {
                    if !out.iter().any(|n| n == name) {
                        out.push(name.to_string());
                    }
                }
                rest = &rest[end..];
            }
        }
        out.sort();
        out
    }
}

/// Keys whose whole value is a secret.
const SECRET_KEYS: &[&str] = &[
    "password",
    "token",
    "webhook",
    "secret",
    "api_key",
    "access_key",
    "secret_key",
    "private_key",
];

/// Keys whose value is a URL that may hold a secret (a password in it, a token among
/// its parameters).
const URL_KEYS: &[&str] = &["url", "connection_string", "endpoint"];

/// Every literal secret of the config, by its place: a secret is written as one
/// `${env.NAME}` placeholder (a URL's password or token part as one).
fn literal_secrets(source: &Source, node: &Node, path: &mut Vec<String>, out: &mut Vec<String>) {
    match &node.value {
        NodeValue::Map(entries) => {
            for (key, value) in entries {
                path.push(key.name.clone());
                let refusal = refusal(path, value);
                if let Some(why) = refusal {
                    let (line, col) = source.line_col(value.span.offset);
                    out.push(format!(
                        "{CONFIG_FILE}:{line}:{col}: {} {why}",
                        path.join(".")
                    ));
                } else {
                    literal_secrets(source, value, path, out);
                }
                path.pop();
            }
        }
        NodeValue::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                literal_secrets(source, item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Why the value at `path` may not be served (None: it may).
fn refusal(path: &[String], value: &Node) -> Option<String> {
    let key = path.last()?.to_ascii_lowercase();
    let hint = "the server holds no credential: write it as ${env.NAME}, which the agent fills in from its environment";
    if key == "password_file" {
        return Some(format!("names a file on one machine's disk; {hint}"));
    }
    let text = match &value.value {
        NodeValue::Str(s) => s.trim().to_string(),
        NodeValue::Null => return None,
        NodeValue::Map(_) | NodeValue::Seq(_) => return None,
        _ => value.scalar_text().unwrap_or_default(),
    };
    let in_notify = path.first().is_some_and(|p| p == "notify");
    if SECRET_KEYS.contains(&key.as_str()) || (in_notify && key == "url") {
        return (!one_env_placeholder(&text)).then(|| format!("holds a literal secret; {hint}"));
    }
    let url_secret = URL_KEYS.contains(&key.as_str())
        && url_secret(&text).is_some_and(|p| !one_env_placeholder(p));
    if url_secret {
        return Some(format!(
            "holds a literal password or token in its URL; {hint}"
        ));
    }
    None
}

/// Exactly one `${env.NAME}` placeholder.
fn one_env_placeholder(text: &str) -> bool {
    text.strip_prefix("${")
        .and_then(|t| t.strip_suffix('}'))
        .and_then(|t| t.trim().strip_prefix("env."))
        .is_some_and(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The secret part of a URL, if it has one: the password of `scheme://user:PASSWORD@`,
/// or a `token=`, `password=`, `secret=` or `key=` parameter's value.
fn url_secret(url: &str) -> Option<&str> {
    if let Some((_, rest)) = url.split_once("://") {
        // the authority ends at the first '/' after which no '@' comes (placeholders
        // hold no '/')
        let authority_end = rest.rfind('@').map(|at| at + 1).unwrap_or(0);
        if let Some(userinfo) = rest.get(..authority_end.saturating_sub(1)) {
            if let Some((_, password)) = userinfo.split_once(':') {
                return Some(password);
            }
        }
    }
    for part in url.split(['?', '&', ';']) {
        if let Some((name, value)) = part.split_once('=') {
            let name = name.trim().to_ascii_lowercase();
            if [
                "token",
                "password",
                "secret",
                "key",
                "api_key",
                "access_token",
            ]
            .contains(&name.as_str())
            {
                return Some(value.trim());
            }
        }
    }
    None
}

/// Where a server's project comes from.
#[derive(Debug, Clone)]
pub enum ProjectSource {
    /// a folder read again whenever a file in it changes
    Watched(PathBuf),
    /// the last project uploaded through the API, kept in this file
    Uploaded(PathBuf),
}

/// The uploaded project's file in a server's folder.
pub fn upload_file(project_dir: &Path) -> PathBuf {
    project_dir
        .join(".assay")
        .join("server")
        .join("project.json")
}

/// The body of `PUT /api/v1/project` and the uploaded project's file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    pub files: BTreeMap<String, String>,
}

/// The project as last loaded, and why the files now there were refused (if they were).
#[derive(Default)]
struct LoadedProject {
    fingerprint: Vec<(String, u64, Option<SystemTime>)>,
    project: Option<Arc<Project>>,
    refused: Option<ProjectRefused>,
}

/// A project's current version, read again when its files change.
pub struct ProjectWatch {
    pub source: ProjectSource,
    loaded: Mutex<LoadedProject>,
}

impl ProjectWatch {
    pub fn new(source: ProjectSource) -> ProjectWatch {
        ProjectWatch {
            source,
            loaded: Mutex::new(LoadedProject::default()),
        }
    }

    /// The project as its files are now (read again if they changed; when the new files
    /// are refused, the last good project stays), and why the files now there were
    /// refused, if they were.
    pub fn current(&self) -> (Option<Arc<Project>>, Option<ProjectRefused>) {
        let fingerprint = self.fingerprint();
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if loaded.fingerprint != fingerprint
            || (loaded.project.is_none() && loaded.refused.is_none())
        {
            loaded.fingerprint = fingerprint;
            match self.read().and_then(|files| {
                // nothing uploaded yet, or an empty folder: no project
                if files.is_empty() {
                    Ok(None)
                } else {
                    Project::from_files(files).map(Some)
                }
            }) {
                Ok(None) => {
                    loaded.project = None;
                    loaded.refused = None;
                }
                Ok(Some(p)) => {
                    if loaded
                        .project
                        .as_ref()
                        .is_none_or(|old| old.revision != p.revision)
                    {
                        tracing::info!("project revision {} ({} files)", p.revision, p.files.len());
                    }
                    loaded.project = Some(Arc::new(p));
                    loaded.refused = None;
                }
                Err(refused) => {
                    tracing::error!("the project's files were refused: {refused}");
                    loaded.refused = Some(refused);
                }
            }
        }
        (loaded.project.clone(), loaded.refused.clone())
    }

    /// Sizes and times of what the project is read from: cheap, to notice a change.
    fn fingerprint(&self) -> Vec<(String, u64, Option<SystemTime>)> {
        let mut out = Vec::new();
        match &self.source {
            ProjectSource::Uploaded(file) => {
                if let Ok(m) = std::fs::metadata(file) {
                    out.push((String::new(), m.len(), m.modified().ok()));
                }
            }
            ProjectSource::Watched(dir) => walk(dir, "", &mut |rel, m| {
                out.push((rel.to_string(), m.len(), m.modified().ok()))
            }),
        }
        out
    }

    fn read(&self) -> Result<BTreeMap<String, String>, ProjectRefused> {
        match &self.source {
            ProjectSource::Uploaded(file) => match std::fs::read(file) {
                Ok(bytes) => serde_json::from_slice::<Upload>(&bytes)
                    .map(|u| u.files)
                    .map_err(|e| ProjectRefused::one(format!("{}: {e}", file.display()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
                Err(e) => Err(ProjectRefused::one(format!("{}: {e}", file.display()))),
            },
            ProjectSource::Watched(dir) => {
                let mut files = BTreeMap::new();
                let mut problems = Vec::new();
                let mut total = 0u64;
                walk(dir, "", &mut |rel, m| {
                    total += m.len();
                    if files.len() > MAX_FILES || total > MAX_PROJECT_BYTES as u64 {
                        return;
                    }
                    match std::fs::read_to_string(dir.join(rel)) {
                        Ok(text) => {
                            files.insert(rel.to_string(), text);
                        }
                        Err(e) => problems.push(format!("{rel}: {e}")),
                    }
                });
                if total > MAX_PROJECT_BYTES as u64 {
                    problems.push(format!(
                        "the project's YAML files hold {total} bytes, more than {MAX_PROJECT_BYTES}"
                    ));
                }
                if problems.is_empty() {
                    Ok(files)
                } else {
                    Err(ProjectRefused { problems })
                }
            }
        }
    }
}

/// Every YAML file under `dir` (not in hidden folders such as `.git` and `.assay`; no
/// symbolic link is followed: a link in a checkout must not hand agents a file from
/// elsewhere on the server's disk).
fn walk(dir: &Path, prefix: &str, found: &mut dyn FnMut(&str, &std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if name.starts_with('.') || meta.file_type().is_symlink() {
            continue;
        }
        let rel = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if meta.is_dir() && prefix.matches('/').count() < 16 {
            walk(&entry.path(), &rel, found);
        } else if meta.is_file() && (name.ends_with(".yml") || name.ends_with(".yaml")) {
            found(&rel, &meta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(config: &str) -> Result<Project, ProjectRefused> {
        let mut files = BTreeMap::new();
        files.insert(CONFIG_FILE.to_string(), config.to_string());
        files.insert(
            "contracts/orders.yml".to_string(),
            "dataset: a/b\n".to_string(),
        );
        Project::from_files(files)
    }

    #[test]
    fn placeholders_only_are_served() {
        let p = project(
            "data_sources:\n  - name: pg\n    type: postgres\n    connection:\n      host: db\n      user: ${env.PG_USER}\n      password: ${env.PG_PASSWORD}\n      url: postgres://u:${env.PG_PASSWORD}@db/x\n\
             notify:\n  webhook:\n    url: ${env.HOOK}\n\
             schedules:\n  - name: nightly\n    cron: 0 2 * * *\n    contracts: [contracts/orders.yml]\n",
        )
        .unwrap();
        assert_eq!(p.placeholders(), ["HOOK", "PG_PASSWORD", "PG_USER"]);
        assert_eq!(p.schedules.len(), 1);
        assert_eq!(p.contracts().collect::<Vec<_>>(), ["contracts/orders.yml"]);
    }

    /// Each way a secret can be written literally is refused, with its place, and the
    /// message never repeats the secret.
    #[test]
    fn a_literal_secret_is_refused_wherever_it_is_written() {
        let cases = [
            ("data_sources:\n  - name: pg\n    connection:\n      password: hunter22\n", "data_sources.0.connection.password", "4:17"),
            ("data_sources:\n  - name: pg\n    connection:\n      url: postgres://u:hunter22@db/x\n", "connection.url", "4:12"),
            ("data_sources:\n  - name: s\n    connection:\n      url: sc://h:15002/;token=hunter22\n", "connection.url", "4:12"),
            ("data_sources:\n  - name: pg\n    connection:\n      password: x${env.P}\n", "password", "4:17"),
            ("data_sources:\n  - name: pg\n    connection:\n      password_file: /etc/pg\n", "password_file", "4:22"),
            ("cloud:\n  token: hunter22\n", "cloud.token", "2:10"),
            ("notify:\n  slack:\n    webhook: https://hooks.example/hunter22\n", "notify.slack.webhook", "3:14"),
            ("notify:\n  webhook:\n    url: https://hooks.example/hunter22\n", "notify.webhook.url", "3:10"),
            ("channels:\n  c:\n    user: u\n    password: hunter22\n", "channels.c.password", "4:15"),
        ];
        for (config, place, at) in cases {
            let refused = project(config).unwrap_err();
            let text = refused.to_string();
            assert!(text.contains(place), "{config}: {text}");
            assert!(
                text.contains(&format!("assay.yml:{at}:")),
                "{config}: {text}"
            );
            assert!(!text.contains("hunter22"), "{text}");
        }
    }

    #[test]
    fn a_schedule_of_a_contract_the_project_lacks_or_a_path_outside_it_is_refused() {
        let refused = project(
            "schedules:\n  - name: n\n    cron: '@daily'\n    contracts: [contracts/missing.yml]\n",
        )
        .unwrap_err();
        assert!(
            refused.to_string().contains("contracts/missing.yml"),
            "{refused}"
        );
        let refused = project(
            "schedules:\n  - name: n\n    cron: '0 0 30 2 *'\n    contracts: [contracts/orders.yml]\n",
        )
        .unwrap_err();
        assert!(refused.to_string().contains("no date matches"), "{refused}");
        let mut files = BTreeMap::new();
        files.insert("../etc/x.yml".to_string(), String::new());
        assert!(Project::from_files(files).is_err());
        let mut files = BTreeMap::new();
        files.insert("/etc/x.yml".to_string(), String::new());
        assert!(Project::from_files(files).is_err());
    }

    /// A watched folder is read again when a file changes; refused files keep the last
    /// good project; links and hidden folders are not read.
    #[test]
    fn a_watched_folder_is_read_again_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("contracts")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/x.yml"), "a: 1").unwrap();
        std::fs::write(dir.path().join("contracts/a.yml"), "dataset: a/b\n").unwrap();
        let secret = dir.path().join("outside.txt");
        std::fs::write(&secret, "hunter22").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&secret, dir.path().join("contracts/link.yml")).unwrap();
        let watch = ProjectWatch::new(ProjectSource::Watched(dir.path().to_path_buf()));
        let (p, refused) = watch.current();
        let p = p.unwrap();
        assert!(refused.is_none());
        assert_eq!(p.files.keys().collect::<Vec<_>>(), ["contracts/a.yml"]);
        std::fs::write(dir.path().join("assay.yml"), "cloud:\n  token: hunter22\n").unwrap();
        let (kept, refused) = watch.current();
        assert_eq!(kept.unwrap().revision, p.revision);
        assert!(refused.is_some());
        std::fs::write(dir.path().join("assay.yml"), "cloud:\n  token: ${env.T}\n").unwrap();
        let (now, refused) = watch.current();
        assert!(refused.is_none());
        assert_ne!(now.unwrap().revision, p.revision);
    }
}
