//! The results endpoint: `POST {endpoint}/api/v1/results` (docs/ingestion-api.md).

use std::io::Write;

use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

use super::retry::{retry_after, transport_error, with_retries, Attempt};
use super::Failure;
use crate::config::CloudConfig;
use crate::results::Results;

/// Bodies above this are sent gzip-compressed.
pub const GZIP_ABOVE: usize = 32 * 1024;

/// `{endpoint}/api/v1/results`, the path appended to the endpoint's own path and its query
/// string (a key, say) kept where it belongs: after the path.
pub fn results_url(endpoint: &str) -> String {
    match reqwest::Url::parse(endpoint) {
        Ok(mut url) => {
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().extend(["api", "v1", "results"]);
            }
            url.to_string()
        }
        Err(_) => format!("{endpoint}/api/v1/results"),
    }
}

pub async fn push(
    client: &reqwest::Client,
    cloud: &CloudConfig,
    endpoint: &str,
    token: &str,
    config_file: &str,
    results: &Results,
) -> Result<String, Failure> {
    let url = results_url(endpoint);
    let json = serde_json::to_vec(results).map_err(|e| Failure {
        message: format!("cannot encode the results: {e}"),
        permanent: true,
        attempts: 0,
    })?;
    let (body, gzip) = if json.len() > GZIP_ABOVE {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let compressed = enc.write_all(&json).and_then(|_| enc.finish());
        match compressed {
            Ok(c) => (c, true),
            Err(_) => (json, false),
        }
    } else {
        (json, false)
    };
    with_retries(cloud, &url, || {
        let mut request = client
            .post(&url)
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header("Idempotency-Key", &results.scan_id)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone());
        if gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let url = url.clone();
        async move {
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => return transport_error(&e),
            };
            let status = response.status();
            let after = retry_after(response.headers().get(RETRY_AFTER));
            let said = response.text().await.unwrap_or_default();
            let said: String = said.trim().chars().take(200).collect();
            let detail = if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            };
            classify(status, after, &detail, &url, config_file)
        }
    })
    .await
}

fn classify(
    status: StatusCode,
    after: Option<std::time::Duration>,
    detail: &str,
    url: &str,
    config_file: &str,
) -> Attempt {
    match status.as_u16() {
        200..=299 => Attempt::Delivered(format!("{url} ({status})")),
        409 => Attempt::Delivered(format!("{url} (409: this scan was already delivered)")),
        429 => Attempt::Retry {
            error: format!("{url} answered {status}{detail}"),
            after,
        },
        500..=599 => Attempt::Retry {
            error: format!("{url} answered {status}{detail}"),
            after,
        },
        401 => Attempt::Permanent(format!(
            "{url} refused the token ({status}{detail}); check the token in cloud.token of {config_file}"
        )),
        403 => Attempt::Permanent(format!(
            "{url} does not let this token push results ({status}{detail}); check the token's permissions"
        )),
        413 => Attempt::Permanent(format!(
            "{url} refused the results as too large ({status}{detail})"
        )),
        _ => Attempt::Permanent(format!("{url} answered {status}{detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_goes_before_the_query_string() {
        assert_eq!(
            results_url("https://dq.example.com/base/?key=k3y-s3cret"),
            "https://dq.example.com/base/api/v1/results?key=k3y-s3cret"
        );
        assert_eq!(
            results_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/api/v1/results"
        );
    }
}
