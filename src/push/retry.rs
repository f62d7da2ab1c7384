//! The delivery rules shared by every target: retry what may succeed later (5xx, 429,
//! timeouts, resets, refused connections) with exponential backoff and jitter, honour
//! `Retry-After`, and give up at once on what cannot (other 4xx).

use std::future::Future;
use std::time::Duration;

use tracing::debug;

use super::Failure;
use crate::config::CloudConfig;

/// The longest wait a `Retry-After` may ask for; longer ones leave the result in the
/// outbox rather than hold a CI job.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub enum Attempt {
    Delivered(String),
    /// may succeed later; `after` is the server's Retry-After
    Retry {
        error: String,
        after: Option<Duration>,
    },
    Permanent(String),
}

/// Run `attempt` until it delivers, fails permanently, or `max_attempts` are used.
pub async fn with_retries<F, Fut>(
    cloud: &CloudConfig,
    what: &str,
    mut attempt: F,
) -> Result<String, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let (error, after) = match attempt().await {
            Attempt::Delivered(how) => return Ok(crate::secrets::mask(&how)),
            Attempt::Permanent(message) => {
                return Err(Failure {
                    message: crate::secrets::mask(&message),
                    permanent: true,
                    attempts: tries,
                })
            }
            Attempt::Retry { error, after } => (crate::secrets::mask(&error), after),
        };
        if tries >= cloud.max_attempts {
            return Err(Failure {
                message: format!("{error} (gave up after {tries} attempts)"),
                permanent: false,
                attempts: tries,
            });
        }
        let wait = match after {
            Some(a) if a > MAX_RETRY_AFTER => {
                return Err(Failure {
                    message: format!(
                        "{error}; the server asked to retry after {}, later than assay waits",
                        humantime::format_duration(a)
                    ),
                    permanent: false,
                    attempts: tries,
                })
            }
            Some(a) => a,
            None => backoff(cloud.backoff, tries),
        };
        debug!("{what}: attempt {tries} failed ({error}); retrying in {wait:?}");
        tokio::time::sleep(wait).await;
    }
}

/// `base` doubled per retry, capped, with "equal jitter": half fixed, half random, so
/// many clients failing together do not retry together.
fn backoff(base: Duration, tries: u32) -> Duration {
    let full = base
        .saturating_mul(1u32 << (tries - 1).min(16))
        .min(MAX_BACKOFF);
    let random = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
    full / 2 + full.mul_f64(random / 2.0)
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// A transport error (no HTTP answer) as a retryable attempt, said plainly.
pub fn transport_error(e: &reqwest::Error) -> Attempt {
    let kind = if e.is_timeout() {
        "no answer within cloud.timeout"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    Attempt::Retry {
        error: format!("{kind}: {}", crate::exec::error_chain(e)),
        after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        for tries in 1..6 {
            let full = Duration::from_millis(100 * (1 << (tries - 1)));
            let b = backoff(base, tries);
            assert!(b >= full / 2 && b <= full, "{tries}: {b:?}");
        }
        assert!(backoff(base, 30) <= MAX_BACKOFF);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let v = reqwest::header::HeaderValue::from_static("7");
        assert_eq!(retry_after(Some(&v)), Some(Duration::from_secs(7)));
        let v = reqwest::header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(Some(&v)), Some(Duration::ZERO));
        assert_eq!(retry_after(None), None);
    }
}
