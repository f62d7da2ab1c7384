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
use super::error::ChannelError;
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

fn certificate_error(ca: &Path) -> impl Fn(&dyn std::fmt::Display) -> ChannelError + '_ {
    move |e| ChannelError::TlsFile {
        key: "ca_certificate",
        path: ca.to_path_buf(),
        message: e.to_string(),
    }
}

fn tls_config(ca: Option<&Path>) -> Result<rustls::ClientConfig, ChannelError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = ca {
        use rustls::pki_types::pem::PemObject;
        let bad = certificate_error(ca);
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).map_err(|e| bad(&e))? {
            let cert = cert.map_err(|e| bad(&e))?;
            roots.add(cert).map_err(|e| bad(&e))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ChannelError::Setup(e.to_string()))?
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
    ) -> Result<Client, ChannelError> {
        if !entry.proves(&who.user, who.password()?) {
            return Err(ChannelError::Unproven {
                channel: entry.name.clone(),
                url: entry.url.clone(),
                user: who.user.clone(),
            });
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
    ) -> Result<Client, ChannelError> {
        let base = url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base).map_err(|e| ChannelError::Url {
            url: base.clone(),
            message: e.to_string(),
        })?;
        let http = http_client(who, timeout)?;
        let token = login(&http, &base, who).await?;
        let mut ws = open_stream(&parsed, &base, who, &token, encoding, timeout).await?;
        let hello = hello(&mut ws, &base, encoding, timeout).await?;
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
        take: &mut dyn FnMut(RecordBatch) -> Result<(), ChannelError>,
    ) -> Result<(String, u64), ChannelError> {
        let format = self.hello.format.clone();
        let schema = Arc::new(columnar::schema(&format));
        // the set under way, its records and bytes so far
        let mut current: Option<(String, u64, u64)> = None;
        loop {
            let (payload, size) = next_payload(&mut self.ws).await?;
            let batches = match payload {
                Incoming::Frame(Frame::ResultSetStart { id, .. }) => {
                    current = Some((id, 0, 0));
                    continue;
                }
                Incoming::Frame(Frame::Records {
                    result_set: Some(rs),
                    records,
                }) => {
                    if current.as_ref().is_none_or(|(id, _, _)| *id != rs) {
                        continue;
                    }
                    let mut checked = Vec::with_capacity(records.len());
                    for (i, r) in records.iter().enumerate() {
                        checked.push(format.check(r).map_err(|error| ChannelError::Record {
                            index: i + 1,
                            place: "a frame from the channel".into(),
                            error,
                        })?);
                    }
                    vec![columnar::batch(&format, &checked)?]
                }
                Incoming::Arrow(bytes) => {
                    let (rs, batches) = columnar::decode(&bytes, &schema)?;
                    match (rs, &current) {
                        (Some(rs), Some((id, _, _))) if rs == *id => batches,
                        _ => continue,
                    }
                }
                Incoming::Frame(Frame::ResultSetEnd { id, records }) => match current.take() {
                    Some((cur, got, _)) if cur == id => {
                        if got != records {
                            return Err(ChannelError::Incomplete { id, records, got });
                        }
                        return Ok((id, got));
                    }
                    _ => continue,
                },
                Incoming::Frame(Frame::Dropped { records, .. }) if current.is_some() => {
                    return Err(ChannelError::Dropped { records });
                }
                Incoming::Frame(Frame::Error { message, .. }) if current.is_some() => {
                    return Err(ChannelError::SetFailed { message });
                }
                Incoming::Frame(Frame::Closing { reason }) => {
                    return Err(ChannelError::Closed {
                        reason: Some(reason),
                    })
                }
                Incoming::Frame(_) => continue,
            };
            let (id, got, bytes) = current.as_mut().expect("a set is under way");
            *bytes += size as u64;
            *got += columnar::rows(&batches) as u64;
            if *got > max_records {
                return Err(ChannelError::TooManyRecords {
                    id: id.clone(),
                    max: max_records,
                });
            }
            if *bytes > max_bytes {
                return Err(ChannelError::TooLarge {
                    id: id.clone(),
                    max: max_bytes,
                });
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
    ) -> Result<(u64, u64, Option<String>), ChannelError> {
        let mut first_error = None;
        for chunk in records.chunks(batch.max(1)) {
            let frame = Frame::Records {
                result_set: None,
                records: chunk.to_vec(),
            };
            self.ws
                .send(Message::text(frame.text()))
                .await
                .map_err(|e| ChannelError::Send(e.to_string()))?;
        }
        self.ws
            .send(Message::text(Frame::Flush.text()))
            .await
            .map_err(|e| ChannelError::Send(e.to_string()))?;
        loop {
            match next_frame(&mut self.ws).await? {
                Frame::Error { message, .. } => {
                    first_error.get_or_insert(message);
                }
                Frame::Flushed { stored, discarded } => {
                    return Ok((stored, discarded, first_error))
                }
                Frame::Closing { reason } => {
                    return Err(ChannelError::Closed {
                        reason: Some(reason),
                    })
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

/// The HTTP client of a login: no redirects (one would carry the credentials somewhere
/// not configured), the private CA when the credentials name one.
fn http_client(who: &Credentials, timeout: Duration) -> Result<reqwest::Client, ChannelError> {
    let mut http = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = &who.ca_certificate {
        let bad = certificate_error(ca);
        let pem = std::fs::read(ca).map_err(|e| bad(&e))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| bad(&e))?;
        http = http.add_root_certificate(cert);
    }
    http.build().map_err(|e| ChannelError::Setup(e.to_string()))
}

fn answer(base: &str, message: String) -> ChannelError {
    ChannelError::Answer {
        at: base.to_string(),
        message,
    }
}

fn not_answering(base: &str, message: String) -> ChannelError {
    ChannelError::NotAnswering {
        at: base.to_string(),
        message,
    }
}

/// Log in with the user's password: the session's bearer token (a secret from now on).
async fn login(
    http: &reqwest::Client,
    base: &str,
    who: &Credentials,
) -> Result<String, ChannelError> {
    let reply = http
        .post(format!("{base}/login"))
        .basic_auth(&who.user, Some(who.password()?))
        .send()
        .await
        .map_err(|e| not_answering(base, e.without_url().to_string()))?;
    if reply.status() == reqwest::StatusCode::UNAUTHORIZED {
        return Err(ChannelError::LoginRefused {
            at: base.to_string(),
            user: who.user.clone(),
        });
    }
    if !reply.status().is_success() {
        return Err(answer(base, format!("login answered {}", reply.status())));
    }
    let text = reply
        .text()
        .await
        .map_err(|e| answer(base, format!("the login's answer: {}", e.without_url())))?;
    let body: Json = serde_json::from_str(&text)
        .map_err(|e| answer(base, format!("the login's answer is not JSON: {e}")))?;
    let token = body["token"]
        .as_str()
        .ok_or_else(|| answer(base, "the login's answer has no token".into()))?
        .to_string();
    crate::secrets::register(&token);
    Ok(token)
}

/// Open `/streaming` with the token (over TLS for https), its records in `encoding`.
async fn open_stream(
    parsed: &reqwest::Url,
    base: &str,
    who: &Credentials,
    token: &str,
    encoding: Encoding,
    timeout: Duration,
) -> Result<WebSocketStream<Box<dyn Io>>, ChannelError> {
    let https = parsed.scheme() == "https";
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
        .map_err(|e| answer(base, e.to_string()))?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .map_err(|_| answer(base, "a token that is not a header value".into()))?,
    );
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| answer(base, "connecting timed out".into()))?
        .map_err(|e| not_answering(base, e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if https {
        let config = tls_config(who.ca_certificate.as_deref())?;
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| {
            ChannelError::Url {
                url: host.clone(),
                message: e.to_string(),
            }
        })?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| answer(base, format!("TLS: {e}")))?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (ws, _) = tokio_tungstenite::client_async(request, io)
        .await
        .map_err(|e| answer(base, format!("/streaming: {e}")))?;
    Ok(ws)
}

/// The channel's first frame: what it says of itself, in the encoding asked for.
async fn hello(
    ws: &mut WebSocketStream<Box<dyn Io>>,
    base: &str,
    encoding: Encoding,
    timeout: Duration,
) -> Result<Hello, ChannelError> {
    let said = |said: String| ChannelError::Hello {
        at: base.to_string(),
        said,
    };
    match tokio::time::timeout(timeout, next_frame(ws)).await {
        Ok(Ok(Frame::Hello {
            channel,
            kind,
            format,
            result_sets,
            encoding: sent,
        })) if sent == encoding => Ok(Hello {
            channel,
            kind,
            format,
            result_sets,
            encoding,
        }),
        Ok(Ok(Frame::Hello { encoding: sent, .. })) => Err(said(format!(
            "sends records as {sent:?}, not as {encoding:?}"
        ))),
        Ok(Ok(other)) => Err(said(format!("began with {other:?}"))),
        Ok(Err(e)) => Err(answer(base, e.to_string())),
        Err(_) => Err(said("did not announce itself".into())),
    }
}

/// What one message from the channel holds.
enum Incoming {
    Frame(Frame),
    /// a binary frame: an Arrow IPC stream
    Arrow(bytes::Bytes),
}

async fn next_frame(ws: &mut WebSocketStream<Box<dyn Io>>) -> Result<Frame, ChannelError> {
    loop {
        if let (Incoming::Frame(frame), _) = next_payload(ws).await? {
            return Ok(frame);
        }
    }
}

/// The next frame and the bytes of its message.
async fn next_payload(
    ws: &mut WebSocketStream<Box<dyn Io>>,
) -> Result<(Incoming, usize), ChannelError> {
    loop {
        match ws.next().await {
            None => return Err(ChannelError::Closed { reason: None }),
            Some(Err(e)) => return Err(ChannelError::Broken(e.to_string())),
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str())
                    .map(|frame| (Incoming::Frame(frame), t.len()))
                    .map_err(|e| ChannelError::NotAFrame(e.to_string()))
            }
            Some(Ok(Message::Binary(b))) => {
                let n = b.len();
                return Ok((Incoming::Arrow(b), n));
            }
            Some(Ok(Message::Close(_))) => return Err(ChannelError::Closed { reason: None }),
            Some(Ok(_)) => {}
        }
    }
}
