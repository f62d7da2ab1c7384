//! Pushing results: `verify --push` (the outbox entry first, then the targets) and
//! `assay push` (what waits in the outbox, or the files given).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};

use super::run_config::PushPlan;
use super::{config_path, now_text, runtime, AppError};
use crate::cli::PushArgs;
use crate::config::{self, CloudConfig, NotifyConfig};
use crate::diag::Diag;
use crate::error::RunError;
use crate::exit::Exit;
use crate::interp::Vars;
use crate::push::{self, outbox};
use crate::results::Results;

/// `--push`: deliver to every configured target; what fails waits in the outbox.
///
/// The entry is written before the first attempt and removed once every target has the
/// results, so a run killed during a slow push (even with SIGKILL) leaves it for `assay
/// push`. Ctrl-C or SIGTERM during the push stop the retries and keep the entry.
pub(super) async fn push_results(results: &Results, plan: &PushPlan, quiet: bool) -> bool {
    let targets = push::targets(&plan.cloud);
    let outbox = outbox::Outbox::in_project(&plan.project_dir);
    let queued_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let entry = |pending: Vec<push::Target>, last_error: String, attempts: u32| outbox::Delivery {
        results: results.clone(),
        outbox: outbox::Waiting {
            pending,
            last_error,
            attempts,
            queued_at: queued_at.clone(),
        },
    };
    let kept = outbox.put(&entry(
        targets.clone(),
        "not delivered yet: assay stopped during the push".into(),
        0,
    ));
    if let Err(e) = &kept {
        tracing::warn!("{e}; pushing without a copy in the outbox");
    }
    let delivery = push::deliver(results, &plan.cloud, &plan.config_file, &targets, |how| {
        if !quiet {
            eprintln!("pushed results {} to {how}", results.scan_id);
        }
    });
    let left = tokio::select! {
        left = delivery => left,
        signal = stop_signal() => {
            match &kept {
                Ok(path) => eprintln!(
                    "error: {signal} during the push of results {}: they wait in {}; `assay push` delivers them later",
                    results.scan_id,
                    path.display()
                ),
                Err(_) => eprintln!(
                    "error: {signal} during the push of results {}, which could not be kept",
                    results.scan_id
                ),
            }
            return false;
        }
    };
    if left.pending.is_empty() {
        if let Ok(path) = &kept {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(
                    "results delivered, but the outbox entry '{}' could not be removed: {e}",
                    path.display()
                );
            }
        }
        return true;
    }
    let waiting = entry(left.pending, left.last_error, left.attempts);
    match outbox.put(&waiting) {
        Ok(path) => eprintln!(
            "error: results {} were not pushed: {}
  they wait in {}; `assay push` delivers them later",
            results.scan_id,
            waiting.outbox.last_error,
            path.display()
        ),
        Err(e) => eprintln!(
            "error: results {} were not pushed ({}) and could not be kept: {e}",
            results.scan_id, waiting.outbox.last_error
        ),
    }
    false
}

/// Ctrl-C or SIGTERM, whichever comes first; its name for messages.
pub(super) fn stop_signal() -> impl std::future::Future<Output = &'static str> {
    // the handlers are in place from this call on, not from the first poll: a SIGTERM
    // that comes between (right after a channel says where it listens) is not fatal
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        if let (Some(mut int), Some(mut term)) = handlers {
            return tokio::select! {
                _ = int.recv() => "interrupted (Ctrl-C)",
                _ = term.recv() => "stopped (SIGTERM)",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "interrupted (Ctrl-C)"
    }
}

/// Waiting notifications delivered to their targets as the config names them now.
async fn drain_notifications(
    outbox: &outbox::Outbox,
    config: Option<&NotifyConfig>,
    quiet: bool,
) -> (usize, usize) {
    let (mut delivered, mut waiting) = (0, 0);
    for path in outbox.notifications() {
        let read = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<outbox::Notification>(&t).ok());
        let Some(mut n) = read else {
            tracing::warn!("'{}' is not a waiting notification", path.display());
            waiting += 1;
            continue;
        };
        let target = config.and_then(|c| {
            c.targets
                .iter()
                .find(|t| t.name == n.target)
                .map(|t| (c, t))
        });
        let result = match target {
            Some((c, t)) => push::notify::send(c, t, &n.payload)
                .await
                .map_err(|f| f.message),
            None => Err(format!("the config has no notify.{} any more", n.target)),
        };
        match result {
            Ok(how) => {
                delivered += 1;
                if !quiet {
                    println!("delivered the notification of {} to {how}", n.scan_id);
                }
                let _ = std::fs::remove_file(&path);
            }
            Err(e) => {
                waiting += 1;
                n.last_error = crate::secrets::mask(&e);
                println!(
                    "waiting notification {} ({}): {}",
                    n.scan_id, n.target, n.last_error
                );
                let _ = outbox.put_notification(&n);
            }
        }
    }
    (delivered, waiting)
}

/// `assay push [FILE...]`: upload result files, or drain the outbox. Exit 0 when
/// everything was delivered, 4 when something still waits.
pub fn run(args: &PushArgs) -> Result<Exit, AppError> {
    let config_path = config_path(args.common.config.as_ref())?;
    let vars = Vars {
        set: HashMap::new(),
        defaults: HashMap::new(),
        now: now_text(Utc::now()),
        untrusted: false,
    };
    let config = config::load(config_path.as_deref(), &[], &vars)?;
    let outbox = outbox::Outbox::in_project(&config.project_dir);
    // waiting notifications go first, and need no `cloud:`
    let runtime = runtime()?;
    let (notified, notes_waiting) = match args.files.is_empty() {
        true => runtime.block_on(drain_notifications(
            &outbox,
            config.notify.as_ref(),
            args.common.quiet,
        )),
        false => (0, 0),
    };
    let Some(cloud) = config.cloud.clone() else {
        if notified + notes_waiting > 0 && args.files.is_empty() {
            return Ok(if notes_waiting == 0 {
                Exit::Ok
            } else {
                Exit::NotPushed
            });
        }
        return Err(Diag::plain("nothing to push to: the config has no `cloud:` section")
            .with_help("cloud: {endpoint: https://dq.example.com, token: ${env.ASSAY_CLOUD_TOKEN}} in assay.yml")
            .into());
    };
    if let Some(diag) = cloud.unresolved.clone() {
        return Err(diag.into());
    }
    for f in &args.files {
        if !f.is_file() {
            return Err(
                Diag::plain(format!("result file '{}' does not exist", f.display())).into(),
            );
        }
    }
    let config_file = config.file_name();
    let (delivered, waiting) = runtime.block_on(drain(
        &args.files,
        &outbox,
        &cloud,
        &config_file,
        args.common.quiet,
    ))?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    if !args.common.quiet {
        println!(
            "push: {delivered} delivered, {waiting} still waiting{}",
            if waiting > 0 {
                format!(" in {}", outbox.dir.display())
            } else {
                String::new()
            }
        );
    }
    Ok(if waiting == 0 && notes_waiting == 0 {
        Exit::Ok
    } else {
        Exit::NotPushed
    })
}

/// Deliver the given files (or every outbox entry) under the outbox lock.
async fn drain(
    files: &[PathBuf],
    outbox: &outbox::Outbox,
    cloud: &CloudConfig,
    config_file: &str,
    quiet: bool,
) -> Result<(usize, usize), AppError> {
    // held to the end: a second `assay push` waits, then finds delivered entries gone
    let _lock = outbox.lock().map_err(AppError::Runtime)?;
    let from_outbox = files.is_empty();
    let paths = if from_outbox {
        outbox.list()
    } else {
        files.to_vec()
    };
    let (mut delivered, mut waiting) = (0, 0);
    for path in paths {
        if from_outbox && !path.exists() {
            continue;
        }
        let (results, waiting_for) = match outbox::read(&path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                waiting += 1;
                continue;
            }
        };
        let targets = match &waiting_for {
            Some(w) => w.pending.clone(),
            None => push::targets(cloud),
        };
        let left = push::deliver(&results, cloud, config_file, &targets, |how| {
            if !quiet {
                println!("delivered {} to {how}", results.scan_id);
            }
        })
        .await;
        let pending = left.pending;
        let attempts = waiting_for.as_ref().map_or(0, |w| w.attempts) + left.attempts;
        let in_outbox = waiting_for.is_some() && path.starts_with(&outbox.dir);
        if pending.is_empty() {
            delivered += 1;
            if in_outbox {
                // removed only now that every target has it
                std::fs::remove_file(&path).map_err(|e| {
                    AppError::Runtime(RunError::io("remove the delivered entry", &path, e))
                })?;
            }
            continue;
        }
        waiting += 1;
        let last_error = left.last_error;
        println!("waiting {}: {last_error}", results.scan_id);
        if in_outbox {
            let entry = outbox::Delivery {
                results,
                outbox: outbox::Waiting {
                    pending,
                    last_error,
                    attempts,
                    queued_at: waiting_for.map(|w| w.queued_at).unwrap_or_default(),
                },
            };
            outbox.put(&entry).map_err(AppError::Runtime)?;
        }
    }
    Ok((delivered, waiting))
}
