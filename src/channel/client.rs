//! assay as a channel's client: log in, stream, log out. `assay verify --channel` takes
//! one result set from a source; failed rows go to a sink.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value as Json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::columnar;
use super::format::Format;
use super::protocol::{Encoding, Frame, Kind};
use duckdb::arrow::record_batch::RecordBatch;

pub use crate::config::channels::Credentials;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub struct Client {
    ws: WebSocketStream<Box<dyn Io>>,
    http: reqwest::Client,
    base: String,
    token: String,
    pub hello: Hello,
}

/// What the channel said of itself when the stream opened.
pub struct Hello {
    pub channel: String,
    pub kind: Kind,
    pub format: Format,
    pub result_sets: bool,
    pub encoding: Encoding,
}

fn tls_config(ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = ca {
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("ca_certificate {}: {e}", ca.display()))?
        {
            let cert = cert.map_err(|e| format!("ca_certificate {}: {e}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca_certificate {}: {e}", ca.display()))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

impl Client {
    /// Log in to a channel found in the registry, once its entry proves it was written by
    /// a channel that knows this user's password: a planted entry gets no credentials.
    pub async fn connect_registered(
        entry: &super::registry::Entry,
        who: &Credentials,
        timeout: Duration,
        encoding: Encoding,
    ) -> Result<Client, String> {
        if !entry.proves(&who.user, who.password()?) {
            return Err(format!(
                "the registry entry of channel '{}' (at {}) does not prove it knows the password \
                 of user '{}', so no credentials were sent: the password in assay.yml is not \
                 the channel's, the channel has no such user, or the entry was planted",
                entry.name, entry.url, who.user
            ));
        }
        Client::connect(&entry.url, who, timeout, encoding).await
    }

    /// Log in at `url` (`http://host:port` or `https://...`) and open `/streaming`, its
    /// records sent in `encoding` (a source's; a sink takes JSON).
    pub async fn connect(
        url: &str,
        who: &Credentials,
        timeout: Duration,
        encoding: Encoding,
    ) -> Result<Client, String> {
        let base = url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base).map_err(|e| format!("channel URL {base}: {e}"))?;
        let https = parsed.scheme() == "https";
        // a redirect would carry the credentials somewhere not configured
        let mut http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &who.ca_certificate {
            let pem =
                std::fs::read(ca).map_err(|e| format!("ca_certificate {}: {e}", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| format!("ca_certificate {}: {e}", ca.display()))?;
            http = http.add_root_certificate(cert);
        }
        let http = http.build().map_err(|e| e.to_string())?;
        let reply = http
            .post(format!("{base}/login"))
            .basic_auth(&who.user, Some(who.password()?))
            .send()
            .await
            .map_err(|e| format!("channel at {base} does not answer: {}", e.without_url()))?;
        if reply.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(format!(
                "channel at {base} refused the login of user '{}': wrong user or password",
                who.user
            ));
        }
        if !reply.status().is_success() {
            return Err(format!(
                "channel at {base}: login answered {}",
                reply.status()
            ));
        }
        let text = reply
            .text()
            .await
            .map_err(|e| format!("channel at {base}: the login's answer: {}", e.without_url()))?;
        let body: Json = serde_json::from_str(&text)
            .map_err(|e| format!("channel at {base}: the login's answer is not JSON: {e}"))?;
        let token = body["token"]
            .as_str()
            .ok_or_else(|| format!("channel at {base}: the login's answer has no token"))?
            .to_string();
        crate::secrets::register(&token);

        let host = parsed.host_str().unwrap_or("127.0.0.1").to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let ws_url = format!(
            "{}://{host}:{port}/streaming{}",
            if https { "wss" } else { "ws" },
            match encoding {
                Encoding::Json => "",
                Encoding::Arrow => "?encoding=arrow",
            }
        );
        let mut request = ws_url
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .map_err(|_| "a token that is not a header value".to_string())?,
        );
        let tcp = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
            .await
            .map_err(|_| format!("channel at {base}: connecting timed out"))?
            .map_err(|e| format!("channel at {base} does not answer: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = if https {
            let config = tls_config(who.ca_certificate.as_deref())?;
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| format!("channel host {host}: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| format!("channel at {base}: TLS: {e}"))?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let (mut ws, _) = tokio_tungstenite::client_async(request, io)
            .await
            .map_err(|e| format!("channel at {base}: /streaming: {e}"))?;
        let hello = match tokio::time::timeout(timeout, next_frame(&mut ws)).await {
            Ok(Ok(Frame::Hello {
                channel,
                kind,
                format,
                result_sets,
                encoding: said,
            })) if said == encoding => Hello {
                channel,
                kind,
                format,
                result_sets,
                encoding,
            },
            Ok(Ok(Frame::Hello { encoding: said, .. })) => {
                return Err(format!(
                    "channel at {base} sends records as {said:?}, not as {encoding:?}"
                ))
            }
            Ok(Ok(other)) => return Err(format!("channel at {base} began with {other:?}")),
            Ok(Err(e)) => return Err(format!("channel at {base}: {e}")),
            Err(_) => return Err(format!("channel at {base} did not announce itself")),
        };
        Ok(Client {
            ws,
            http,
            base,
            token,
            hello,
        })
    }

    /// The next complete result set, each batch handed to `take` as it arrives (records
    /// of one that began before we connected are skipped); its id and record count.
    /// Fails when records of it were dropped for us, or could not be sent, or the channel
    /// closed, or `take` fails. At most `max_records` records and `max_bytes` bytes of
    /// frames are taken: a set that grows past either is refused.
    pub async fn receive_set(
        &mut self,
        max_records: u64,
        max_bytes: u64,
        take: &mut dyn FnMut(RecordBatch) -> Result<(), String>,
    ) -> Result<(String, u64), String> {
        let format = self.hello.format.clone();
        let schema = Arc::new(columnar::schema(&format));
        // the set under way, its records and bytes so far
        let mut current: Option<(String, u64, u64)> = None;
        loop {
            let (payload, size) = next_payload(&mut self.ws).await?;
            let batches = match payload {
                Payload::Frame(Frame::ResultSetStart { id, .. }) => {
                    current = Some((id, 0, 0));
                    continue;
                }
                Payload::Frame(Frame::Records {
                    result_set: Some(rs),
                    records,
                }) => {
                    if current.as_ref().is_none_or(|(id, _, _)| *id != rs) {
                        continue;
                    }
                    let mut checked = Vec::with_capacity(records.len());
                    for (i, r) in records.iter().enumerate() {
                        checked.push(format.check(r).map_err(|e| {
                            format!("record {} of a frame from the channel: {e}", i + 1)
                        })?);
                    }
                    vec![columnar::batch(&format, &checked)?]
                }
                Payload::Arrow(bytes) => {
                    let (rs, batches) = columnar::decode(&bytes, &schema)?;
                    match (rs, &current) {
                        (Some(rs), Some((id, _, _))) if rs == *id => batches,
                        _ => continue,
                    }
                }
                Payload::Frame(Frame::ResultSetEnd { id, records }) => match current.take() {
                    Some((cur, got, _)) if cur == id => {
                        if got != records {
                            return Err(format!(
                                    "result set {id} ended after {records} records, {got} of which arrived"
                                ));
                        }
                        return Ok((id, got));
                    }
                    _ => continue,
                },
                Payload::Frame(Frame::Dropped { records, .. }) if current.is_some() => {
                    return Err(format!(
                        "{records} records of the result set were dropped: this client read too slowly"
                    ));
                }
                Payload::Frame(Frame::Error { message, .. }) if current.is_some() => {
                    return Err(format!(
                        "the channel could not send the result set: {message}"
                    ));
                }
                Payload::Frame(Frame::Closing { reason }) => {
                    return Err(format!("the channel closed the connection: {reason}"))
                }
                Payload::Frame(_) => continue,
            };
            let (id, got, bytes) = current.as_mut().expect("a set is under way");
            *bytes += size as u64;
            *got += columnar::rows(&batches) as u64;
            if *got > max_records {
                return Err(format!(
                    "result set {id} has more than {max_records} records, the most this run \
                     holds (max_records of the channel in assay.yml)"
                ));
            }
            if *bytes > max_bytes {
                return Err(format!(
                    "result set {id} is larger than {max_bytes} bytes, the most this run holds \
                     (max_bytes of the channel in assay.yml)"
                ));
            }
            for b in batches {
                take(b)?;
            }
        }
    }

    /// Send records to a sink; returns what the sink said about them once flushed.
    pub async fn send(
        &mut self,
        records: Vec<Json>,
        batch: usize,
    ) -> Result<(u64, u64, Option<String>), String> {
        let mut first_error = None;
        for chunk in records.chunks(batch.max(1)) {
            let frame = Frame::Records {
                result_set: None,
                records: chunk.to_vec(),
            };
            self.ws
                .send(Message::text(frame.text()))
                .await
                .map_err(|e| format!("sending to the channel: {e}"))?;
        }
        self.ws
            .send(Message::text(Frame::Flush.text()))
            .await
            .map_err(|e| format!("sending to the channel: {e}"))?;
        loop {
            match next_frame(&mut self.ws).await? {
                Frame::Error { message, .. } => {
                    first_error.get_or_insert(message);
                }
                Frame::Flushed { stored, discarded } => {
                    return Ok((stored, discarded, first_error))
                }
                Frame::Closing { reason } => {
                    return Err(format!("the channel closed the connection: {reason}"))
                }
                _ => {}
            }
        }
    }

    /// End the session: the token stops working.
    pub async fn logout(mut self) {
        let _ = self.ws.close(None).await;
        let _ = self
            .http
            .post(format!("{}/logout", self.base))
            .bearer_auth(&self.token)
            .send()
            .await;
    }
}

/// What one message from the channel holds.
enum Payload {
    Frame(Frame),
    /// a binary frame: an Arrow IPC stream
    Arrow(bytes::Bytes),
}

async fn next_frame(ws: &mut WebSocketStream<Box<dyn Io>>) -> Result<Frame, String> {
    loop {
        if let (Payload::Frame(frame), _) = next_payload(ws).await? {
            return Ok(frame);
        }
    }
}

/// The next frame and the bytes of its message.
async fn next_payload(ws: &mut WebSocketStream<Box<dyn Io>>) -> Result<(Payload, usize), String> {
    loop {
        match ws.next().await {
            None => return Err("the channel closed the connection".into()),
            Some(Err(e)) => return Err(format!("the channel's stream broke: {e}")),
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str())
                    .map(|frame| (Payload::Frame(frame), t.len()))
                    .map_err(|e| format!("the channel sent something that is not a frame: {e}"))
            }
            Some(Ok(Message::Binary(b))) => {
                let n = b.len();
                return Ok((Payload::Arrow(b), n));
            }
            Some(Ok(Message::Close(_))) => return Err("the channel closed the connection".into()),
            Some(Ok(_)) => {}
        }
    }
}
