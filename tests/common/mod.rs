//! Shared test fixtures: a temporary project folder with a real DuckDB database, a
//! config naming it, and helpers to run the real `assay` binary against it.
#![allow(dead_code)]

pub mod engines;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

pub struct Project {
    pub dir: TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl Project {
    /// A project whose data source `db` is a DuckDB file built by `setup_sql`.
    pub fn duckdb(setup_sql: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.duckdb");
        {
            let conn = duckdb::Connection::open(&db).unwrap();
            conn.execute_batch(setup_sql).unwrap();
        }
        std::fs::write(
            dir.path().join("assay.yml"),
            "data_sources:\n  - name: db\n    type: duckdb\n    connection: {database: db.duckdb}\n",
        )
        .unwrap();
        Project { dir }
    }

    /// A project whose only data source, `name`, is a `files` source rooted at `data/`.
    pub fn files(name: &str) -> Project {
        let p = Project::empty();
        p.write(
            "assay.yml",
            &format!(
                "data_sources:\n  - {{name: {name}, type: files, connection: {{root: data}}}}\n"
            ),
        );
        p
    }

    /// A project with no config at all.
    pub fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn assay(&self, args: &[&str]) -> Run {
        self.assay_with(&[], args)
    }

    /// `assay` with these environment variables set.
    pub fn assay_with(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let out = Command::cargo_bin("assay")
            .unwrap()
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("ASSAY_LOG")
            .envs(env.iter().copied())
            .args(args)
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Start `assay` in this folder without waiting for it (to interrupt it).
    pub fn spawn_assay(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("assay"))
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Verify one contract (written to contract.yml) and return the results document.
    pub fn verify_json(&self, contract: &str, extra: &[&str]) -> (i32, Value) {
        self.write("contract.yml", contract);
        let mut args = vec!["verify", "contract.yml", "-o", "json"];
        args.extend_from_slice(extra);
        let run = self.assay(&args);
        assert!(
            run.code != 2,
            "contract was rejected:\n{}\ncontract:\n{contract}",
            run.stderr
        );
        (run.code, run.json())
    }
}

/// The check with this id from a results document.
pub fn check<'a>(results: &'a Value, id: &str) -> &'a Value {
    results["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["checks"].as_array().unwrap())
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {results:#}"))
}

pub fn outcome(results: &Value, id: &str) -> String {
    check(results, id)["outcome"].as_str().unwrap().to_string()
}

pub fn diag(results: &Value, id: &str, key: &str) -> Value {
    check(results, id)["diagnostics"][key].clone()
}

/// Ctrl-C, as a terminal sends it.
pub fn interrupt(child: &std::process::Child) {
    // SAFETY: signalling our own child process
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
}

/// SIGTERM, as a service manager stops a process.
pub fn interrupt_term(child: &std::process::Child) {
    // SAFETY: signalling our own child process
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
}
