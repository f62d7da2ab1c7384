//! One instruction as an isolated job: checked first (no literal secret, no path out of
//! its folder, only data sources and environment variables the agent allows), then
//! written into a private folder (0700) and run as a child process of the same binary
//! (`assay verify`) with an environment built from nothing but the placeholders it
//! names, in a session of its own, with resource limits, killed with the agent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncReadExt;

use crate::config::Glob;
use crate::serve::project::{Project, CONFIG_FILE};

/// An instruction as docs/agent-api.md describes it (members the agent does not use are
/// ignored: the server may add some).
#[derive(Debug, Clone, Deserialize)]
pub struct Instruction {
    pub id: String,
    pub attempt: i64,
    #[serde(default)]
    pub timeout_seconds: u64,
    #[serde(default)]
    pub now: Option<String>,
    #[serde(default)]
    pub config: Option<InstructionFile>,
    pub contracts: Vec<InstructionFile>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub placeholders: Vec<String>,
    #[serde(default)]
    pub lease_seconds: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstructionFile {
    pub path: String,
    pub text: String,
}

/// What the agent lets a job do.
#[derive(Debug, Clone, Default)]
pub struct JobPolicy {
    /// environment variables a job may be given (globs)
    pub allow_env: Vec<Glob>,
    /// data sources a job's config may name (globs)
    pub allow_data_source: Vec<Glob>,
    /// the address space of a job, in bytes
    pub memory_limit: Option<u64>,
    /// CPU seconds of a job
    pub cpu_limit: Option<u64>,
    /// where jobs' folders are made
    pub work_dir: PathBuf,
}

/// Why an instruction is not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("refused: {0}")]
    Project(String),
    #[error("refused: the config is named '{0}', not assay.yml")]
    ConfigName(String),
    #[error("refused: data source '{0}' is not allowed on this agent (--allow-data-source)")]
    DataSource(String),
    #[error("refused: the config's data sources could not be read: {0}")]
    Config(String),
    #[error(
        "refused: ${{env.{0}}} is not among the variables this agent may give a job (--allow-env)"
    )]
    EnvNotAllowed(String),
    #[error("refused: ${{env.{0}}} is not set in this agent's environment")]
    EnvMissing(String),
}

impl Instruction {
    /// The instruction's files as a project, checked as the server checks one (a
    /// literal secret, a path out of the folder); then the data sources and placeholders
    /// against the policy. The environment a job gets: the placeholders' values.
    pub fn check(&self, policy: &JobPolicy) -> Result<Vec<(String, String)>, Refusal> {
        let mut files = BTreeMap::new();
        if let Some(c) = &self.config {
            if c.path != CONFIG_FILE {
                return Err(Refusal::ConfigName(c.path.clone()));
            }
            files.insert(c.path.clone(), c.text.clone());
        }
        for c in &self.contracts {
            files.insert(c.path.clone(), c.text.clone());
        }
        let project = Project::from_files(files).map_err(|e| Refusal::Project(e.to_string()))?;
        if self.contracts.is_empty() || project.contracts().count() == 0 {
            return Err(Refusal::Project("the instruction names no contract".into()));
        }
        for name in data_sources(project.files.get(CONFIG_FILE).map(String::as_str))? {
            if !policy.allow_data_source.iter().any(|g| g.matches(&name)) {
                return Err(Refusal::DataSource(name));
            }
        }
        // what the job gets: the config's placeholders, as the agent itself counts them
        let mut env = Vec::new();
        for name in project.placeholders() {
            if !policy.allow_env.iter().any(|g| g.matches(&name)) {
                return Err(Refusal::EnvNotAllowed(name));
            }
            let value = std::env::var(&name).map_err(|_| Refusal::EnvMissing(name.clone()))?;
            crate::secrets::register(&value);
            env.push((name, value));
        }
        Ok(env)
    }
}

/// The names of the config's data sources.
fn data_sources(config: Option<&str>) -> Result<Vec<String>, Refusal> {
    let Some(text) = config else {
        return Ok(Vec::new());
    };
    let source = crate::source::Source::new(Path::new(CONFIG_FILE), text.to_string());
    let node = crate::yaml::parse(&source).map_err(|d| Refusal::Config(d.to_string()))?;
    let Some(list) = node.get("data_sources").and_then(|n| match &n.value {
        crate::yaml::NodeValue::Seq(items) => Some(items),
        _ => None,
    }) else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|item| {
            item.get("name")
                .and_then(|n| n.scalar_text())
                .ok_or_else(|| Refusal::Config("a data source without a name".into()))
        })
        .collect()
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct JobEnd {
    /// the exit code, None when a signal ended it
    pub exit_code: Option<i32>,
    /// the results document it wrote, when it got that far
    pub results: Option<crate::results::Results>,
    /// why it ended other than by itself (a limit, a cancellation)
    pub reason: Option<String>,
    /// stdout and stderr, masked, cut to `MAX_OUTPUT` bytes each
    pub output: String,
}

/// Bytes of stdout and of stderr kept (the first half and the last half of longer ones).
pub const MAX_OUTPUT: usize = 32 * 1024;

/// Why a running job is stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// its attempt is no longer this agent's
    Lost,
    /// the agent is stopping and the grace is over
    Interrupted,
}

/// A private folder for a job, removed when dropped.
pub struct JobDir(pub PathBuf);

impl Drop for JobDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Write the instruction's files into a new folder (0700) under `work_dir`.
pub fn prepare(instruction: &Instruction, work_dir: &Path) -> std::io::Result<JobDir> {
    let dir = work_dir.join(format!(
        "assay-job-{}-{}",
        instruction.attempt,
        uuid::Uuid::new_v4().simple()
    ));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir)?;
    let job = JobDir(dir);
    let files = instruction.config.iter().chain(&instruction.contracts);
    for f in files {
        // checked by `check`: relative, inside, YAML
        let path = job.0.join(&f.path);
        if let Some(parent) = path.parent() {
            builder.recursive(true).create(parent)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        crate::paths::no_follow(&mut options)
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, f.text.as_bytes()))?;
    }
    Ok(job)
}

/// The job's command: `assay verify` of the contracts in its folder, its results as JSON.
fn command(
    instruction: &Instruction,
    dir: &Path,
    env: &[(String, String)],
) -> tokio::process::Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("assay"));
    let mut c = tokio::process::Command::new(exe);
    c.current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("NO_COLOR", "1")
        .env("TMPDIR", dir)
        .arg("verify")
        .args(instruction.contracts.iter().map(|c| c.path.as_str()))
        .args(["-o", "json=results.json"]);
    if instruction.config.is_some() {
        c.args(["--config", CONFIG_FILE]);
    }
    if let Some(now) = &instruction.now {
        c.args(["--now", now]);
    }
    if instruction.timeout_seconds > 0 {
        c.args(["--timeout", &format!("{}s", instruction.timeout_seconds)]);
    }
    for (k, v) in &instruction.variables {
        c.args(["--set", &format!("{k}={v}")]);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

/// Limits and a session of its own for the child, set between fork and exec.
#[cfg(unix)]
fn limit(c: &mut tokio::process::Command, policy: &JobPolicy) {
    let memory = policy.memory_limit;
    let cpu = policy.cpu_limit;
    // SAFETY: only async-signal-safe calls (setsid, prctl, setrlimit) run in the child
    unsafe {
        c.pre_exec(move || {
            libc::setsid();
            // the job dies with the agent: a killed agent leaves no job running
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            let set = |resource, value: u64| {
                let l = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                libc::setrlimit(resource, &l)
            };
            set(libc::RLIMIT_CORE, 0);
            if let Some(m) = memory {
                set(libc::RLIMIT_AS, m);
            }
            if let Some(s) = cpu {
                // SIGXCPU at the soft limit; the hard one a second later kills
                let l = libc::rlimit {
                    rlim_cur: s as libc::rlim_t,
                    rlim_max: (s + 1) as libc::rlim_t,
                };
                libc::setrlimit(libc::RLIMIT_CPU, &l);
            }
            Ok(())
        });
    }
}

/// Read a stream whole, keeping its first and last `MAX_OUTPUT / 2` bytes.
async fn kept(mut r: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut head = Vec::new();
    let mut tail: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
    let mut cut = 0usize;
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            if head.len() < MAX_OUTPUT / 2 {
                head.push(b);
            } else {
                tail.push_back(b);
                if tail.len() > MAX_OUTPUT / 2 {
                    tail.pop_front();
                    cut += 1;
                }
            }
        }
    }
    let mut out = String::from_utf8_lossy(&head).into_owned();
    if cut > 0 {
        out.push_str(&format!("\n[... {cut} bytes left out ...]\n"));
    }
    out.push_str(&String::from_utf8_lossy(
        &tail.into_iter().collect::<Vec<_>>(),
    ));
    out
}

/// Run the job to its end, or until `stop` says (then SIGINT to its session, which
/// cancels its queries on their servers, and SIGKILL if it has not ended 10 s later).
/// The wall clock is its timeout and 15 s.
pub async fn run(
    instruction: &Instruction,
    dir: &JobDir,
    env: &[(String, String)],
    policy: &JobPolicy,
    mut stop: tokio::sync::watch::Receiver<Option<Stop>>,
) -> JobEnd {
    let mut c = command(instruction, &dir.0, env);
    #[cfg(unix)]
    limit(&mut c, policy);
    let mut child = match c.spawn() {
        Ok(child) => child,
        Err(e) => {
            return JobEnd {
                exit_code: None,
                results: None,
                reason: Some(format!("the job could not start: {e}")),
                output: String::new(),
            }
        }
    };
    let pid = child.id().map(|p| p as i32);
    let out = tokio::spawn(kept(child.stdout.take().expect("piped")));
    let err = tokio::spawn(kept(child.stderr.take().expect("piped")));
    let wall = Duration::from_secs(instruction.timeout_seconds.max(1) + 15);
    let deadline = tokio::time::sleep(wall);
    tokio::pin!(deadline);
    let mut reason = None;
    // SIGINT sent (the job cancels its queries and ends); SIGKILL when it has not
    let mut interrupted = false;
    // the agent can still stop it (its sender is alive)
    let mut watched = true;
    let status = loop {
        tokio::select! {
            s = child.wait() => break s.ok(),
            _ = &mut deadline => {
                if interrupted {
                    signal_group(pid, libc::SIGKILL);
                    deadline.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(3600));
                } else {
                    reason.get_or_insert_with(|| format!(
                        "over its time limit ({} s and 15 s of grace): stopped",
                        instruction.timeout_seconds
                    ));
                    signal_group(pid, libc::SIGINT);
                    interrupted = true;
                    deadline.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(10));
                }
            }
            changed = stop.changed(), if !interrupted && watched => {
                watched = changed.is_ok();
                let why = if watched { *stop.borrow() } else { None };
                if let Some(why) = why {
                    reason = Some(match why {
                        Stop::Lost => "its lease lapsed: another agent runs it".to_string(),
                        Stop::Interrupted => "interrupted: the agent is stopping".to_string(),
                    });
                    signal_group(pid, libc::SIGINT);
                    interrupted = true;
                    deadline.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(10));
                }
            }
        }
    };
    // whatever it left running in its session goes too
    signal_group(pid, libc::SIGKILL);
    let stdout = out.await.unwrap_or_default();
    let stderr = err.await.unwrap_or_default();
    let exit_code = status.and_then(|s| s.code());
    let signal = status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
    if reason.is_none() {
        reason = limit_reason(signal, &stderr, policy);
    }
    let results = std::fs::read(dir.0.join("results.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    JobEnd {
        exit_code,
        results,
        reason,
        output: crate::secrets::mask(&format!("{stdout}{stderr}")),
    }
}

/// A job that a resource limit ended: which one.
fn limit_reason(signal: Option<i32>, stderr: &str, policy: &JobPolicy) -> Option<String> {
    if let Some(seconds) = policy.cpu_limit {
        if matches!(signal, Some(libc::SIGXCPU) | Some(libc::SIGKILL)) {
            return Some(format!("over its CPU limit ({seconds} s)"));
        }
    }
    if let Some(bytes) = policy.memory_limit {
        let out_of_memory = [
            "memory allocation of",
            "Out of Memory",
            "out of memory",
            "Cannot allocate memory",
        ]
        .iter()
        .any(|m| stderr.contains(m));
        let crashed = matches!(
            signal,
            Some(libc::SIGABRT) | Some(libc::SIGSEGV) | Some(libc::SIGBUS)
        );
        if out_of_memory || crashed {
            return Some(format!(
                "over its memory limit ({} MiB)",
                bytes / (1024 * 1024)
            ));
        }
    }
    signal.map(|s| format!("ended by signal {s}"))
}

fn signal_group(pid: Option<i32>, signal: i32) {
    if let Some(pid) = pid.filter(|p| *p > 0) {
        // the job is the leader of its own session and process group
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instruction(config: &str, path: &str) -> Instruction {
        serde_json::from_value(serde_json::json!({
            "id": "i", "attempt": 1, "timeout_seconds": 10,
            "config": {"path": "assay.yml", "text": config},
            "contracts": [{"path": path, "text": "dataset: pg/public/t\n"}],
        }))
        .unwrap()
    }

    fn policy(env: &[&str], sources: &[&str]) -> JobPolicy {
        JobPolicy {
            allow_env: env.iter().map(|g| Glob::parse(g).unwrap()).collect(),
            allow_data_source: sources.iter().map(|g| Glob::parse(g).unwrap()).collect(),
            work_dir: std::env::temp_dir(),
            ..JobPolicy::default()
        }
    }

    const CONFIG: &str = "data_sources:\n  - name: pg\n    type: postgres\n    connection:\n      connection_string: ${env.ASSAY_JOB_TEST_URL}\n";

    /// A job gets exactly the placeholders' values, and only when allowed and set.
    #[test]
    fn a_job_gets_only_the_allowed_placeholders() {
        std::env::set_var("ASSAY_JOB_TEST_URL", "postgres://u:job-secret-1@h/d");
        let i = instruction(CONFIG, "contracts/a.yml");
        let env = i.check(&policy(&["ASSAY_JOB_*"], &["pg"])).unwrap();
        assert_eq!(
            env,
            [(
                "ASSAY_JOB_TEST_URL".to_string(),
                "postgres://u:job-secret-1@h/d".to_string()
            )]
        );
        assert_eq!(
            i.check(&policy(&["PG_*"], &["pg"])),
            Err(Refusal::EnvNotAllowed("ASSAY_JOB_TEST_URL".into()))
        );
        assert_eq!(
            i.check(&policy(&["*"], &["other"])),
            Err(Refusal::DataSource("pg".into()))
        );
        let missing = instruction(
            &CONFIG.replace("ASSAY_JOB_TEST_URL", "ASSAY_JOB_UNSET_X"),
            "contracts/a.yml",
        );
        assert_eq!(
            missing.check(&policy(&["*"], &["*"])),
            Err(Refusal::EnvMissing("ASSAY_JOB_UNSET_X".into()))
        );
    }

    #[test]
    fn literal_secrets_and_paths_out_of_the_folder_are_refused() {
        let p = policy(&["*"], &["*"]);
        let literal = instruction(
            &CONFIG.replace("${env.ASSAY_JOB_TEST_URL}", "postgres://u:pw-literal@h/d"),
            "contracts/a.yml",
        );
        assert!(
            matches!(literal.check(&p), Err(Refusal::Project(m)) if m.contains("literal") && !m.contains("pw-literal"))
        );
        for path in ["../a.yml", "/etc/a.yml", "contracts/../../a.yml", "a.sh"] {
            assert!(
                matches!(
                    instruction(CONFIG, path).check(&p),
                    Err(Refusal::Project(_))
                ),
                "{path}"
            );
        }
    }

    /// The folder is the owner's only, and holds the files at their paths.
    #[test]
    fn a_job_s_folder_is_private_and_goes_with_it() {
        let i = instruction(CONFIG, "contracts/deep/a.yml");
        let dir = prepare(&i, &std::env::temp_dir()).unwrap();
        let path = dir.0.clone();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert_eq!(
            std::fs::read_to_string(path.join("contracts/deep/a.yml")).unwrap(),
            "dataset: pg/public/t\n"
        );
        assert_eq!(
            std::fs::read_to_string(path.join("assay.yml")).unwrap(),
            CONFIG
        );
        drop(dir);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn long_output_keeps_its_head_and_tail() {
        let text: Vec<u8> = (0..MAX_OUTPUT * 3).map(|i| b'a' + (i % 26) as u8).collect();
        let kept = kept(&text[..]).await;
        assert!(kept.len() < MAX_OUTPUT + 100);
        assert!(kept.starts_with("abcdef"));
        assert!(kept.contains(&format!("[... {} bytes left out ...]", MAX_OUTPUT * 2)));
        let tail = String::from_utf8_lossy(&text[text.len() - 10..]).into_owned();
        assert!(kept.ends_with(&tail));
    }
}
