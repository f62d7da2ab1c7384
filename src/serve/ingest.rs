//! `POST /api/v1/results`: a results document, as docs/ingestion-api.md describes it.
//! Refused unless every step passes: a token with the push scope, under its rate, a body
//! within the limit (gzip too, counted after it is unpacked), JSON, valid against the
//! published schema, a UUID scan id equal to the Idempotency-Key, a time and place for
//! every dataset. Then written once, in one transaction, and only then acknowledged.

// A refusal is the response itself, returned by the handler at once: boxing it would
// only add an allocation to every refused request.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{json, Value};

use super::tokens::{Denied, StoredToken, TokenScope};
use super::{ServeState, RETRY_AFTER};
use crate::channel::guard::Peer;
use crate::results::Results;
use crate::scan::history::{Recorded, ScanRecord};

/// Requests per token in the last minute, by a window that slides.
pub struct RateLimits {
    per_minute: u32,
    seen: Mutex<HashMap<String, (Instant, f64)>>,
}

impl RateLimits {
    pub fn new(per_minute: u32) -> RateLimits {
        RateLimits {
            per_minute,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// A token bucket per token: `per_minute` in a burst, refilled at that rate. The
    /// seconds to wait when it is empty.
    fn take(&self, token: &str) -> Result<(), u64> {
        let rate = f64::from(self.per_minute.max(1)) / 60.0;
        let capacity = f64::from(self.per_minute.max(1));
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let (at, level) = seen.entry(token.to_string()).or_insert((now, capacity));
        *level = (*level + now.duration_since(*at).as_secs_f64() * rate).min(capacity);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *level) / rate).ceil() as u64)
        }
    }
}

pub(super) fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The client a request comes from, when its token allows `scope` (and its peer has
/// not failed too often): else the response that refuses it.
pub(super) fn authorize(
    app: &ServeState,
    peer: &Peer,
    headers: &HeaderMap,
    scope: TokenScope,
) -> Result<StoredToken, Response> {
    authorize_any(app, peer, headers, &[scope])
}

/// `authorize` for a request that any of `scopes` lets in.
pub(super) fn authorize_any(
    app: &ServeState,
    peer: &Peer,
    headers: &HeaderMap,
    scopes: &[TokenScope],
) -> Result<StoredToken, Response> {
    let ip = peer.addr.ip();
    // failed tokens count per peer, like failed logins of a channel
    if !app.guard.login_allowed(ip, "token") {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "60")],
            "too many failed tokens from this address",
        )
            .into_response());
    }
    match app.tokens.check_any(bearer(headers), scopes) {
        Ok(t) => {
            if let Err(wait) = app.limits.take(&t.id) {
                return Err((
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, wait.to_string())],
                    axum::Json(json!({"error": "over this token's rate; try again later"})),
                )
                    .into_response());
            }
            Ok(t)
        }
        Err(Denied::Unauthorized) => {
            app.guard.login_failed(ip, "token");
            Err((
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(
                    json!({"error": "a valid token is required (Authorization: Bearer ...)"}),
                ),
            )
                .into_response())
        }
        Err(Denied::Forbidden) => {
            let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            Err(problem(
                StatusCode::FORBIDDEN,
                format!("this token lacks the '{}' scope", names.join("' or '")),
            ))
        }
    }
}

/// The body as JSON text: unpacked when gzip (never past `max` bytes: a small body
/// that unpacks to gigabytes is refused at `max`).
fn body_text(headers: &HeaderMap, body: &Bytes, max: usize) -> Result<Vec<u8>, Response> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "identity" | "" => Ok(body.to_vec()),
        "gzip" => {
            let mut out = Vec::new();
            let mut reader = flate2::read::GzDecoder::new(&body[..]).take(max as u64 + 1);
            reader.read_to_end(&mut out).map_err(|e| {
                problem(
                    StatusCode::BAD_REQUEST,
                    format!("the gzip body is broken: {e}"),
                )
            })?;
            if out.len() > max {
                return Err(problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the document unpacks to more than {max} bytes"),
                ));
            }
            Ok(out)
        }
        other => Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Encoding '{}' is not accepted (gzip or none)",
                crate::secrets::for_terminal(&other.chars().take(40).collect::<String>())
            ),
        )),
    }
}

/// The document, checked: valid against the schema, its scan id a UUID and the
/// Idempotency-Key when one is sent.
fn document(app: &ServeState, headers: &HeaderMap, text: &[u8]) -> Result<Results, Response> {
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        )
    })?;
    let problems = app.validator.problems(&value);
    if !problems.is_empty() {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({
                "error": "the document does not match docs/results.schema.json",
                "problems": problems,
            })),
        )
            .into_response());
    }
    let doc: Results = serde_json::from_value(value).map_err(|e| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the document: {e}"),
        )
    })?;
    if uuid::Uuid::parse_str(&doc.scan_id).is_err() {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "scan_id is not a UUID",
        ));
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    if key.is_some_and(|k| k.trim() != doc.scan_id) {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the Idempotency-Key is not the document's scan_id",
        ));
    }
    Ok(doc)
}

pub(super) async fn results(
    State(app): State<Arc<ServeState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = match authorize(&app, &peer, &headers, TokenScope::Push) {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let text = match body_text(&headers, &body, app.max_body) {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    drop(body);
    let doc = match document(&app, &headers, &text) {
        Ok(d) => d,
        Err(refused) => return refused,
    };
    drop(text);
    let mut record = match ScanRecord::of_results(&doc) {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let mut doc = doc;
    if let Err(e) = super::monitors::judge_arrival(&app, &mut doc, &mut record).await {
        return super::read::unavailable(e);
    }
    let turn = app.turn().await;
    let written = app
        .history
        .record_pushed(&record, &client.name, Utc::now())
        .await;
    drop(turn);
    match written {
        Ok(Recorded::New) => {
            if let Some(notify) = app.notify.clone() {
                // after the acknowledgement: a slow webhook never holds a runner up
                let (doc, dir) = (doc.clone(), app.project_dir.clone());
                tokio::spawn(async move {
                    crate::push::notify::deliver(&doc, &notify, &dir, true).await;
                });
            }
            tracing::info!(
                "recorded scan {} from '{}' ({} dataset(s))",
                doc.scan_id,
                client.name,
                record.datasets.len()
            );
            (
                StatusCode::CREATED,
                axum::Json(json!({"scan_id": doc.scan_id, "status": "recorded"})),
            )
                .into_response()
        }
        Ok(Recorded::Already) => (
            StatusCode::CONFLICT,
            axum::Json(json!({"scan_id": doc.scan_id, "status": "already recorded"})),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(
                "scan {} not recorded: {}",
                doc.scan_id,
                crate::secrets::mask(&e.to_string())
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, RETRY_AFTER.as_secs().to_string())],
                axum::Json(
                    json!({"error": "the history store cannot take it now; try again later"}),
                ),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_s_burst_is_its_rate_then_it_waits() {
        let limits = RateLimits::new(60);
        for _ in 0..60 {
            assert!(limits.take("a").is_ok());
        }
        assert_eq!(limits.take("a"), Err(1));
        // another token has its own bucket
        assert!(limits.take("b").is_ok());
    }

    #[test]
    fn a_gzip_bomb_is_refused_at_the_limit() {
        use std::io::Write;
        let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        packed.write_all(&vec![b' '; 1 << 20]).unwrap();
        let body = Bytes::from(packed.finish().unwrap());
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        let refused = body_text(&headers, &body, 1000).unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body_text(&headers, &body, 2 << 20).unwrap().len(), 1 << 20);
    }
}
