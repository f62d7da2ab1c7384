//! `notify:` in assay.yml: who hears of a scan (a Slack incoming webhook, a generic JSON
//! webhook) and on what (`on: [fail, warn, schema_change]`).

use std::time::Duration;

use crate::decode::Reader;
use crate::diag::unknown_word_help;
use crate::yaml::Node;

/// Where notifications go, and how their delivery is retried.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub targets: Vec<NotifyTarget>,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff: Duration,
}

#[derive(Clone)]
pub struct NotifyTarget {
    /// `slack` or `webhook`, as written
    pub name: &'static str,
    /// a secret: a Slack webhook URL is its own credential
    pub url: String,
    pub on: Vec<NotifyOn>,
}

// by hand, so the URL never reaches a log through `{:?}`
impl std::fmt::Debug for NotifyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyTarget")
            .field("name", &self.name)
            .field("url", &"<hidden>")
            .field("on", &self.on)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOn {
    Fail,
    Warn,
    SchemaChange,
    Anomaly,
}

const ON: &[(&str, NotifyOn)] = &[
    ("fail", NotifyOn::Fail),
    ("warn", NotifyOn::Warn),
    ("schema_change", NotifyOn::SchemaChange),
    ("anomaly", NotifyOn::Anomaly),
];

const NOTIFY_KEYS: &[&str] = &["slack", "webhook", "timeout", "max_attempts", "backoff"];

pub(super) fn notify(r: &mut Reader, node: &Node) -> Option<NotifyConfig> {
    if !r.keys(node, NOTIFY_KEYS, "notify") {
        return None;
    }
    let mut config = NotifyConfig {
        targets: Vec::new(),
        timeout: Duration::from_secs(10),
        max_attempts: 3,
        backoff: Duration::from_secs(1),
    };
    for (name, url_key) in [("slack", "webhook"), ("webhook", "url")] {
        let Some(n) = node.get(name).filter(|n| !n.is_null()) else {
            continue;
        };
        config.targets.push(target(r, n, name, url_key)?);
    }
    for (key, field) in [
        ("timeout", &mut config.timeout),
        ("backoff", &mut config.backoff),
    ] {
        if let Some(n) = node.get(key).filter(|n| !n.is_null()) {
            let text = r.string(n, key)?;
            match humantime::parse_duration(&text) {
                Ok(d) if !d.is_zero() => *field = d,
                _ => {
                    r.error(
                        n.span,
                        format!("notify.{key} '{text}' is not a duration"),
                        Some("write it like 10s or 500ms".into()),
                    );
                    return None;
                }
            }
        }
    }
    if let Some(n) = node.get("max_attempts").filter(|n| !n.is_null()) {
        config.max_attempts = match r.count(n, "notify.max_attempts")? {
            0 => {
                r.error(n.span, "notify.max_attempts must be at least 1", None);
                return None;
            }
            a => a.min(100) as u32,
        };
    }
    if config.targets.is_empty() {
        r.error(
            node.span,
            "notify needs a slack or a webhook target",
            Some(
                "notify: {slack: {webhook: ${env.SLACK_WEBHOOK}, on: [fail, schema_change]}}"
                    .into(),
            ),
        );
        return None;
    }
    Some(config)
}

fn target(r: &mut Reader, node: &Node, name: &'static str, url_key: &str) -> Option<NotifyTarget> {
    if !r.keys(node, &[url_key, "on"], &format!("notify.{name}")) {
        return None;
    }
    let url_node = r.required(node, url_key, &format!("notify.{name}"))?;
    let url = r.string(url_node, url_key)?;
    register_url(&url);
    let ok = reqwest::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !ok {
        r.error(
            url_node.span,
            format!("notify.{name}.{url_key} is not an http(s) URL"),
            Some("give it from the environment, like ${env.SLACK_WEBHOOK}".into()),
        );
        return None;
    }
    let mut on = vec![NotifyOn::Fail, NotifyOn::SchemaChange, NotifyOn::Anomaly];
    if let Some(list) = node.get("on").filter(|n| !n.is_null()) {
        on.clear();
        let names: Vec<&str> = ON.iter().map(|(n, _)| *n).collect();
        for item in r.list(list, "on")? {
            let word = r.string(item, "each entry of on")?;
            match ON.iter().find(|(n, _)| *n == word) {
                Some((_, o)) => on.push(*o),
                None => {
                    let help = unknown_word_help(&word, &names, "one of");
                    r.error(
                        item.span,
                        format!("unknown notification event '{word}'"),
                        Some(help),
                    );
                    return None;
                }
            }
        }
    }
    Some(NotifyTarget { name, url, on })
}

/// A URL that is its own credential (a Slack webhook): as written and as an HTTP client
/// normalises it (scheme and host in lower case, `..` segments resolved, a default port
/// dropped, spaces encoded), the form its error texts carry.
fn register_url(url: &str) {
    crate::secrets::register(url);
    if let Ok(parsed) = reqwest::Url::parse(url.trim()) {
        crate::secrets::register(parsed.as_str());
        crate::secrets::register(parsed.as_str().trim_end_matches('/'));
    }
}
