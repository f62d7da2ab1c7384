//! The agent's side of docs/agent-api.md: claim, heartbeat, complete, and results
//! through `POST /api/v1/results` (the push path, with its retries), over one client of
//! the server's API (`ServerClient`, which `assay run --server` uses too).

use std::time::Duration;

use serde_json::{json, Value};

use crate::results::Results;
use crate::serve::queue::{AgentIdentity, Completion};

/// What went wrong talking to the server.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("the server at {server} does not answer: {message}")]
    NotAnswering { server: String, message: String },
    /// 401/403: retrying cannot help until the token changes
    #[error("the server at {server} refused the agent's token ({status}): {message}")]
    Token {
        server: String,
        status: u16,
        message: String,
    },
    #[error("the server at {server} answered {status}: {message}")]
    Answer {
        server: String,
        status: u16,
        message: String,
    },
}

impl ApiError {
    /// Whether trying the same request later may work (no answer, 5xx, 429).
    pub fn transient(&self) -> bool {
        match self {
            ApiError::NotAnswering { .. } => true,
            ApiError::Answer { status, .. } => *status >= 500 || *status == 429,
            ApiError::Token { .. } => false,
        }
    }
}

/// A client of the server's JSON API with a token: TLS verified (a private CA when
/// given), no redirect (it would carry the token away). `assay run --server` and the
/// agent both speak through it.
#[derive(Clone)]
pub struct ServerClient {
    pub server: String,
    token: String,
    client: reqwest::Client,
}

impl ServerClient {
    pub fn new(
        server: &str,
        token: &str,
        ca_certificate: Option<&[u8]>,
    ) -> Result<ServerClient, ApiError> {
        let setup = |message: String| ApiError::NotAnswering {
            server: server.to_string(),
            message,
        };
        let mut http = reqwest::Client::builder()
            // a claim waits up to 30 s on the server
            .timeout(Duration::from_secs(60))
            .user_agent(format!("assay/{}", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = ca_certificate {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| setup(format!("the CA certificate: {e}")))?;
            http = http.add_root_certificate(cert);
        }
        Ok(ServerClient {
            server: server.trim_end_matches('/').to_string(),
            token: token.to_string(),
            client: http.build().map_err(|e| setup(e.to_string()))?,
        })
    }

    /// A request with a JSON body (or none): the answer's JSON, or why not.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let not_answering = |e: reqwest::Error| ApiError::NotAnswering {
            server: self.server.clone(),
            message: crate::secrets::mask(&e.without_url().to_string()),
        };
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.server))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let response = request.send().await.map_err(not_answering)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(not_answering)?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = crate::secrets::mask(
            value["error"]
                .as_str()
                .unwrap_or(&text.chars().take(300).collect::<String>()),
        );
        let server = self.server.clone();
        Err(match status {
            401 | 403 => ApiError::Token {
                server,
                status,
                message,
            },
            _ => ApiError::Answer {
                server,
                status,
                message,
            },
        })
    }
}

/// The server as the agent talks to it: every request names the agent.
#[derive(Clone)]
pub struct ServerApi {
    pub http: ServerClient,
    pub identity: AgentIdentity,
}

impl ServerApi {
    async fn post(&self, path: &str, body: Value) -> Result<Value, ApiError> {
        self.http
            .request(reqwest::Method::POST, path, Some(&body))
            .await
    }

    /// Up to `max` instructions, waiting up to `wait` for work.
    pub async fn claim(&self, max: usize, wait: Duration) -> Result<Vec<Value>, ApiError> {
        let answer = self
            .post(
                "/api/v1/agent/claim",
                json!({"agent": self.identity, "max": max, "wait_seconds": wait.as_secs()}),
            )
            .await?;
        Ok(answer["instructions"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Renew the leases of the jobs held: (id, attempt, state) each; answers which to
    /// keep, by id.
    pub async fn heartbeat(
        &self,
        jobs: &[(String, i64, &'static str)],
    ) -> Result<Vec<(String, bool)>, ApiError> {
        let jobs: Vec<Value> = jobs
            .iter()
            .map(|(id, attempt, state)| json!({"id": id, "attempt": attempt, "state": state}))
            .collect();
        let answer = self
            .post(
                "/api/v1/agent/heartbeat",
                json!({"agent": self.identity, "jobs": jobs}),
            )
            .await?;
        Ok(answer["jobs"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|j| Some((j["id"].as_str()?.to_string(), j["keep"].as_bool()?)))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Report a job's end: Ok(true) recorded (now or before), Ok(false) the attempt is
    /// no longer this agent's (409: nothing to retry).
    pub async fn complete(&self, c: &Completion) -> Result<bool, ApiError> {
        let mut body = serde_json::to_value(c).unwrap_or_else(|_| json!({}));
        body["agent"] = json!(self.identity);
        match self.post("/api/v1/agent/complete", body).await {
            Ok(_) => Ok(true),
            Err(ApiError::Answer { status: 409, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Results to the server, as `assay push` sends them (gzip, Idempotency-Key,
    /// retries): delivered, or why not.
    pub async fn push_results(&self, results: &Results) -> Result<(), ApiError> {
        let cloud = crate::config::CloudConfig {
            endpoint: Some((self.http.server.clone(), self.http.token.clone())),
            timeout: Duration::from_secs(30),
            max_attempts: 3,
            backoff: Duration::from_millis(500),
            pushgateway: None,
            unresolved: None,
        };
        crate::push::endpoint::push(
            &self.http.client,
            &cloud,
            &self.http.server,
            &self.http.token,
            "the agent's token",
            results,
        )
        .await
        .map(|_| ())
        .map_err(|f| ApiError::Answer {
            server: self.http.server.clone(),
            status: if f.permanent { 400 } else { 503 },
            message: crate::secrets::mask(&f.message),
        })
    }
}
