//! `assay channel run CHANNEL.yml` runs a channel as a network service until it is
//! stopped (Ctrl-C, SIGTERM, `--for`); `assay channel list` shows the running ones.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::{config_path, now_text, runtime, AppError};
use crate::channel::error::ChannelError;
use crate::channel::hub::Hub;
use crate::channel::protocol::Kind;
use crate::channel::registry::{self, Entry};
use crate::channel::sink::Sink;
use crate::channel::spec::{self, ChannelSpec};
use crate::channel::{service, source};
use crate::cli::{ChannelArgs, ChannelCommand, ChannelListArgs, ChannelRunArgs};
use crate::config::{self, Config};
use crate::diag::{Diag, Diags};
use crate::error::RunError;
use crate::exit::Exit;
use crate::interp::Vars;

pub fn run(args: &ChannelArgs) -> Result<Exit, AppError> {
    match &args.command {
        ChannelCommand::Run(run) => run_channel(args, run),
        ChannelCommand::List(list_args) => list(args, list_args),
    }
}

fn load_config(args: &ChannelArgs) -> Result<Config, AppError> {
    let config = args.common.config.as_ref();
    let vars = Vars {
        set: HashMap::new(),
        defaults: HashMap::new(),
        now: now_text(Utc::now()),
        untrusted: false,
    };
    Ok(config::load(config_path(config)?.as_deref(), &[], &vars)?)
}

/// Deploying in its environment and exposing to others need the approval of each.
pub fn check_approvals(spec: &ChannelSpec, config: &Config) -> Result<(), Diags> {
    let mut diags = Diags::default();
    let what = std::iter::once((&spec.environment, "deploy"))
        .chain(spec.expose_to.iter().map(|e| (e, "expose")));
    for (env, verb) in what {
        if let Some(d) = config.unapproved(env, &spec.name, &format!("it may not {verb} there")) {
            diags.push(d);
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags)
    }
}

fn duration_arg(text: Option<&String>, flag: &str, diags: &mut Diags) -> Option<Duration> {
    let text = text?;
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Some(d),
        _ => {
            diags.push(
                Diag::plain(format!("{flag} '{text}' is not a duration"))
                    .with_help("write it like 30s, 5m or 1h"),
            );
            None
        }
    }
}

fn run_channel(args: &ChannelArgs, run: &ChannelRunArgs) -> Result<Exit, AppError> {
    let mut diags = Diags::default();
    let every = duration_arg(run.every.as_ref(), "--every", &mut diags);
    let for_ = duration_arg(run.for_.as_ref(), "--for", &mut diags);
    let at: Option<DateTime<Utc>> = run.at.as_ref().and_then(|t| {
        let parsed = crate::timestamp::parse_timestamp(t);
        if parsed.is_none() {
            diags.push(
                Diag::plain(format!("--at '{t}' is not a time"))
                    .with_help("write it like 2026-03-01T02:00:00Z"),
            );
        }
        parsed
    });
    if !diags.is_empty() {
        return Err(diags.into());
    }
    let config = load_config(args)?;
    let spec = spec::load(&run.file, &config, &Vars::default())?;
    check_approvals(&spec, &config)?;
    if every.is_some() && spec.kind == Kind::Sink {
        return Err(
            Diag::plain("--every is for a source: a sink stores what it gets as it comes").into(),
        );
    }
    let registry_dir = registry::dir(&config.project_dir);
    let rt = runtime()?;
    let code = rt.block_on(serve(
        spec,
        registry_dir,
        at,
        every,
        for_,
        args.common.quiet,
    ));
    rt.shutdown_timeout(Duration::from_secs(2));
    code
}

async fn serve(
    spec: ChannelSpec,
    registry_dir: std::path::PathBuf,
    at: Option<DateTime<Utc>>,
    every: Option<Duration>,
    for_: Option<Duration>,
    quiet: bool,
) -> Result<Exit, AppError> {
    let runtime_error = |e: ChannelError| AppError::Runtime(RunError::channel(e));
    let stop = super::push::stop_signal();
    tokio::pin!(stop);
    if let Some(at) = at {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        if !quiet {
            println!("channel {} starts at {}", spec.name, now_text(at));
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            reason = &mut stop => {
                if !quiet {
                    println!("channel {}: {reason} before it started", spec.name);
                }
                return Ok(Exit::Ok);
            }
        }
    }
    let sink = match spec.kind {
        Kind::Sink => Some(Arc::new(Sink::open(&spec).map_err(runtime_error)?)),
        Kind::Source => None,
    };
    let listener = service::bind(&spec.listen).await.map_err(runtime_error)?;
    let addr = listener
        .local_addr()
        .map_err(|e| runtime_error(ChannelError::Setup(e.to_string())))?;
    let url = service::url_of(addr, spec.tls.is_some());
    if let Some(tls) = &spec.tls {
        // a bad certificate is found now, not at the first client
        crate::channel::tls::server_config(tls).map_err(runtime_error)?;
    }
    let mut entry = registry_entry(&spec, &url);
    // held until the channel stops; the OS lets go when the process ends, however
    let _registration = registry::register(&registry_dir, &entry).map_err(runtime_error)?;
    let hub = Hub::new(spec.clone());
    if !quiet {
        println!(
            "channel {} ({}, {}, format {}) listening on {url}, environment {}",
            spec.name,
            spec.kind.as_str(),
            spec.store_type,
            spec.format.name,
            spec.environment
        );
    }
    let server = tokio::spawn(service::serve(
        listener,
        spec.tls.clone(),
        hub.clone(),
        sink.clone(),
    ));
    let sending =
        (spec.kind == Kind::Source).then(|| tokio::spawn(send_on_schedule(hub.clone(), every)));
    let heartbeat = heartbeat(hub.clone(), registry_dir.clone(), entry.clone());
    let reason = match for_ {
        Some(d) => tokio::select! {
            r = &mut stop => r,
            _ = tokio::time::sleep(d) => "its --for time elapsed",
        },
        None => (&mut stop).await,
    };
    hub.stop();
    if let Some(s) = sending {
        s.abort();
    }
    heartbeat.abort();
    let failure = stopped(server, &hub, sink.as_deref()).await;
    entry.counters = hub.counters();
    registry::remove(&registry_dir, &entry);
    if !quiet {
        let c = &entry.counters;
        println!(
            "channel {}: {reason}; {} result sets, {} records sent, {} received, {} stored, {} discarded, {} dropped, {} connections",
            spec.name, c.result_sets, c.sent, c.received, c.stored, c.discarded, c.dropped, c.connections_total
        );
    }
    match failure {
        Some(e) => Err(runtime_error(e)),
        None => Ok(Exit::Ok),
    }
}

/// The channel's registry entry: where it listens, what it carries, and a proof per user
/// that it knows the user's password (so a client sends credentials only to it).
fn registry_entry(spec: &ChannelSpec, url: &str) -> Entry {
    let started = Utc::now();
    let mut entry = Entry {
        name: spec.name.clone(),
        kind: spec.kind,
        store_type: spec.store_type.clone(),
        format: spec.format.clone(),
        result_sets: spec.result_sets,
        url: url.to_string(),
        environment: spec.environment.clone(),
        expose_to: spec.expose_to.clone(),
        pid: std::process::id(),
        host: registry::host(),
        started_at: started,
        heartbeat_at: started,
        counters: Default::default(),
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        proofs: Default::default(),
    };
    entry.proofs = spec
        .users
        .iter()
        .map(|u| {
            (
                u.name.clone(),
                registry::proof(&u.password, &entry.nonce, &entry.url),
            )
        })
        .collect();
    entry
}

/// Refresh the entry's heartbeat and counters in the registry, until aborted.
fn heartbeat(hub: Arc<Hub>, dir: std::path::PathBuf, mut entry: Entry) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(registry::HEARTBEAT).await;
            entry.heartbeat_at = Utc::now();
            entry.counters = hub.counters();
            if let Err(e) = registry::write(&dir, &entry) {
                tracing::warn!("{e}");
            }
        }
    })
}

/// Once the hub stops: the service's end (given five seconds) and a sink's last flush;
/// the first failure of either. Records a failed flush lost are counted discarded.
async fn stopped(
    server: JoinHandle<Result<(), ChannelError>>,
    hub: &Hub,
    sink: Option<&Sink>,
) -> Option<ChannelError> {
    let served = tokio::time::timeout(Duration::from_secs(5), server).await;
    let mut failure = None;
    if let Ok(Ok(Err(e))) = served {
        failure = Some(e);
    }
    if let Some(sink) = sink {
        let flush = sink.flush(u64::MAX).await;
        hub.count(|c| {
            c.stored -= flush.lost_all;
            c.discarded += flush.lost_all;
        });
        if let Some(e) = flush.error {
            failure.get_or_insert(e);
        }
    }
    failure
}

/// A source reads its store and sends the result now, then every period.
async fn send_on_schedule(hub: Arc<Hub>, every: Option<Duration>) {
    let mut ticks = every.map(|d| {
        let mut i = tokio::time::interval(d);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    loop {
        if let Some(t) = ticks.as_mut() {
            t.tick().await;
        }
        let id = hub
            .spec
            .result_sets
            .then(|| uuid::Uuid::new_v4().simple().to_string());
        match source::read(&hub.spec, id.clone()).await {
            Ok(frames) => {
                let n: usize = frames.iter().map(|f| f.records).sum();
                hub.send_result_set(id.as_deref(), frames);
                tracing::info!(
                    "channel {}: sent {n} records{}",
                    hub.spec.name,
                    id.map(|i| format!(" as result set {i}"))
                        .unwrap_or_default()
                );
            }
            Err(e) => tracing::error!(
                "channel {}: {}",
                hub.spec.name,
                crate::secrets::mask(&e.to_string())
            ),
        }
        if ticks.is_none() {
            return;
        }
    }
}

fn list(args: &ChannelArgs, list_args: &ChannelListArgs) -> Result<Exit, AppError> {
    let config = load_config(args)?;
    let dir = registry::dir(&config.project_dir);
    let entries: Vec<Entry> = registry::list(&dir)
        .into_iter()
        .filter(|e| {
            list_args
                .environment
                .as_deref()
                .is_none_or(|env| e.visible_in(env))
        })
        .collect();
    let text = match list_args.output.as_deref() {
        Some("json") => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({ "channels": entries }))
                .expect("entries serialize");
            s.push('\n');
            s
        }
        None | Some("table") => table(&entries),
        Some(other) => {
            return Err(
                Diag::plain(format!("-o {other}: channel list writes table or json"))
                    .with_help("-o json")
                    .into(),
            )
        }
    };
    print!("{}", crate::secrets::for_terminal(&text));
    Ok(Exit::Ok)
}

fn table(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "no channel is running\n".into();
    }
    let header = [
        "name",
        "kind",
        "type",
        "format",
        "environment",
        "exposed to",
        "url",
        "pid",
        "sent",
        "received",
        "stored",
        "discarded",
        "dropped",
        "connections",
    ];
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let c = &e.counters;
            vec![
                e.name.clone(),
                e.kind.as_str().into(),
                e.store_type.clone(),
                e.format.name.clone(),
                e.environment.clone(),
                if e.expose_to.is_empty() {
                    "-".into()
                } else {
                    e.expose_to.join(",")
                },
                e.url.clone(),
                e.pid.to_string(),
                c.sent.to_string(),
                c.received.to_string(),
                c.stored.to_string(),
                c.discarded.to_string(),
                c.dropped.to_string(),
                c.connections.to_string(),
            ]
        })
        .collect();
    crate::report::aligned(&header, &rows)
}
