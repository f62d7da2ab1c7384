//! Pushing results (SPEC section 5): to the results endpoint and/or a Prometheus
//! Pushgateway, retried by the rules in `retry`, and what is not delivered kept in the
//! outbox until `assay push` delivers it.
//!
//! What is pushed is the results document: metrics and outcomes, never row values.

pub mod endpoint;
pub mod notify;
pub mod outbox;
pub mod pushgateway;
mod retry;

use serde::{Deserialize, Serialize};

use crate::config::CloudConfig;
use crate::results::Results;

/// Where a result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Endpoint,
    Pushgateway,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Endpoint => "endpoint",
            Target::Pushgateway => "pushgateway",
        }
    }
}

/// Why a target did not take the result.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    /// a 4xx other than 409 and 429: retrying the same request cannot help
    pub permanent: bool,
    pub attempts: u32,
}

/// What happened at one target: Ok(how it was delivered) or the failure.
pub type Delivery = (Target, Result<String, Failure>);

/// The targets a cloud config names.
pub fn targets(cloud: &CloudConfig) -> Vec<Target> {
    let mut t = Vec::new();
    if cloud.endpoint.is_some() {
        t.push(Target::Endpoint);
    }
    if cloud.pushgateway.is_some() {
        t.push(Target::Pushgateway);
    }
    t
}

/// Deliver a result to the given targets (each retried on its own); `delivered` hears
/// of each success, what still waits is returned.
pub async fn deliver(
    results: &Results,
    cloud: &CloudConfig,
    config_file: &str,
    targets: &[Target],
    delivered: impl FnMut(&str),
) -> Remaining {
    remaining(
        attempt_all(results, cloud, config_file, targets).await,
        delivered,
    )
}

/// The HTTP client of pushes and notifications. A redirect is not followed: it would
/// re-send the body (and its secrets) somewhere nobody configured.
fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(format!("assay/{}", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Failure {
            message: format!("cannot set up HTTP: {e}"),
            permanent: false,
            attempts: 0,
        })
}

async fn attempt_all(
    results: &Results,
    cloud: &CloudConfig,
    config_file: &str,
    targets: &[Target],
) -> Vec<Delivery> {
    let client = match http_client(cloud.timeout) {
        Ok(c) => c,
        Err(failure) => return targets.iter().map(|t| (*t, Err(failure.clone()))).collect(),
    };
    let mut out = Vec::new();
    for target in targets {
        let result = match (target, &cloud.endpoint, &cloud.pushgateway) {
            (Target::Endpoint, Some((url, token)), _) => {
                endpoint::push(&client, cloud, url, token, config_file, results).await
            }
            (Target::Pushgateway, _, Some((url, job))) => {
                pushgateway::push(&client, cloud, url, job, results).await
            }
            (t, _, _) => Err(Failure {
                message: format!("no {} is configured under cloud:", t.as_str()),
                permanent: true,
                attempts: 0,
            }),
        };
        out.push((*target, result));
    }
    out
}

/// What still waits after a delivery round.
pub struct Remaining {
    pub pending: Vec<Target>,
    /// "target: why" for each, masked of secrets
    pub last_error: String,
    /// attempts this round made on the targets that failed
    pub attempts: u32,
}

/// Sort a round's deliveries: `delivered` hears of each success, the rest is returned.
fn remaining(deliveries: Vec<Delivery>, mut delivered: impl FnMut(&str)) -> Remaining {
    let mut pending = Vec::new();
    let mut errors = Vec::new();
    let mut attempts = 0;
    for (target, outcome) in deliveries {
        match outcome {
            Ok(how) => delivered(&how),
            Err(f) => {
                attempts += f.attempts;
                errors.push(format!("{}: {}", target.as_str(), f.message));
                pending.push(target);
            }
        }
    }
    Remaining {
        pending,
        last_error: crate::secrets::mask(&errors.join("; ")),
        attempts,
    }
}
