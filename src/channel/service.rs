//! The channel's HTTP side: `POST /login` (HTTP Basic) gives a bearer token, `GET
//! /streaming` with it upgrades to a WebSocket, `POST /logout` ends the session.
//! Plain HTTP on loopback by default; TLS (rustls) with a certificate and key.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpListener;

use super::error::ChannelError;
use super::guard::{Guard, Peer};
use super::hub::Payload;
use super::hub::{same_secret, Hub, Next, SESSION_TTL};
use super::protocol::{Encoding, Frame, Kind};
use super::sink::Sink;
use super::spec::Tls;

/// The largest message a client may send (a sink's batch of records); a source's
/// consumers send nothing, so a small one.
const MAX_MESSAGE: usize = 16 << 20;
const MAX_CONSUMER_MESSAGE: usize = 64 << 10;
/// What a connection may hold of frames written to a client that does not read them: a
/// stalled client costs this much at most, beside its queued frames (shared with every
/// consumer).
const WRITE_BUFFER: usize = 128 << 10;
const MAX_WRITE_BUFFER: usize = MAX_MESSAGE + (1 << 20);
/// A failed login waits this long: guessing passwords is slow.
const FAILED_LOGIN_DELAY: Duration = Duration::from_millis(300);

#[derive(Clone)]
struct App {
    hub: Arc<Hub>,
    sink: Option<Arc<Sink>>,
    guard: Arc<Guard>,
}

/// Bind the channel's address: the address it really listens on (a chosen free port).
pub async fn bind(listen: &str) -> Result<TcpListener, ChannelError> {
    TcpListener::bind(listen)
        .await
        .map_err(|e| ChannelError::Listen {
            listen: listen.to_string(),
            message: e.to_string(),
        })
}

/// Serve until the hub stops; connections are closed with a `closing` frame first.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Tls>,
    hub: Arc<Hub>,
    sink: Option<Arc<Sink>>,
) -> Result<(), ChannelError> {
    let guard = Guard::new();
    let stopped = |e: std::io::Error| ChannelError::Listen {
        listen: "the channel's address".into(),
        message: e.to_string(),
    };
    let app = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/streaming", any(streaming))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn(request_read))
        .with_state(App {
            hub: hub.clone(),
            sink,
            guard: guard.clone(),
        });
    let mut stopping = hub.stopping();
    let stop = async move {
        let _ = stopping.wait_for(|s| *s).await;
        // the sockets' own tasks send `closing` and close; give them a moment
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    super::tls::serve_guarded(listener, tls.as_ref(), guard, app, stop)
        .await?
        .map_err(stopped)
}

/// Every request read whole gives its connection a new deadline for the next one.
async fn request_read(
    ConnectInfo(peer): ConnectInfo<Peer>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    peer.request_read();
    next.run(request).await
}

fn too_many(what: &str) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "60")],
        what.to_string(),
    )
        .into_response()
}

fn unauthorized(scheme: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, scheme)],
    )
        .into_response()
}

/// The user and password of an HTTP Basic `Authorization` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    let given = basic(&headers);
    // names nobody has count as one, so guessing names fills no memory
    let name = match &given {
        Some((user, _)) if app.hub.spec.users.iter().any(|u| &u.name == user) => user.clone(),
        _ => String::new(),
    };
    let ip = peer.addr.ip();
    if !app.guard.login_allowed(ip, &name) {
        return too_many("too many failed logins from here or as this user; try again later");
    }
    let known = given.and_then(|(user, password)| {
        // every user is compared, so the time says nothing about which names exist
        let mut found = None;
        for u in &app.hub.spec.users {
            if same_secret(&u.name, &user) & same_secret(&u.password, &password) {
                found = Some(u.name.clone());
            }
        }
        found
    });
    let Some(user) = known else {
        app.guard.login_failed(ip, &name);
        tokio::time::sleep(FAILED_LOGIN_DELAY).await;
        return unauthorized("Basic realm=\"assay channel\"");
    };
    match app.hub.login(&user) {
        Err(super::hub::Full::User) => {
            too_many("this user has too many sessions; log out the ones no longer used")
        }
        Err(super::hub::Full::Channel) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Ok(token) => (
            StatusCode::OK,
            axum::Json(json!({
                "token": token,
                "token_type": "Bearer",
                "expires_in": SESSION_TTL.as_secs(),
            })),
        )
            .into_response(),
    }
}

async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    match bearer(&headers) {
        Some(token) if app.hub.logout(&token) => StatusCode::NO_CONTENT.into_response(),
        _ => unauthorized("Bearer"),
    }
}

async fn streaming(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized("Bearer");
    };
    let Some((user, ended)) = app.hub.session(&token) else {
        return unauthorized("Bearer");
    };
    let encoding = match Encoding::from_query(uri.query()) {
        Ok(Encoding::Arrow) if app.hub.spec.kind == Kind::Sink => {
            return (
                StatusCode::BAD_REQUEST,
                "a sink takes JSON records: encoding=arrow is for a source's consumers",
            )
                .into_response()
        }
        Ok(e) => e,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let Ok(ws) = ws else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            "GET /streaming upgrades to a WebSocket",
        )
            .into_response();
    };
    peer.upgraded();
    let max_message = match app.hub.spec.kind {
        Kind::Source => MAX_CONSUMER_MESSAGE,
        Kind::Sink => MAX_MESSAGE,
    };
    ws.max_message_size(max_message)
        .max_frame_size(max_message)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| connection(app, socket, user, ended, encoding))
}

async fn connection(
    app: App,
    socket: WebSocket,
    user: String,
    ended: tokio::sync::watch::Receiver<bool>,
    encoding: Encoding,
) {
    let hub = app.hub.clone();
    hub.count(|c| {
        c.connections += 1;
        c.connections_total += 1;
    });
    tracing::info!("channel {}: {user} connected", hub.spec.name);
    match hub.spec.kind {
        Kind::Source => consume(&hub, socket, ended, encoding).await,
        Kind::Sink => {
            let sink = app.sink.expect("a sink channel has a sink");
            produce(&hub, &sink, socket, ended).await
        }
    }
    hub.count(|c| c.connections -= 1);
    tracing::info!("channel {}: {user} disconnected", hub.spec.name);
}

fn hello(hub: &Hub, encoding: Encoding) -> Message {
    Message::Text(
        Frame::Hello {
            channel: hub.spec.name.clone(),
            kind: hub.spec.kind,
            format: hub.spec.format.clone(),
            result_sets: hub.spec.result_sets,
            encoding,
        }
        .text()
        .into(),
    )
}

fn closing(reason: &str) -> Message {
    Message::Text(
        Frame::Closing {
            reason: reason.into(),
        }
        .text()
        .into(),
    )
}

/// Why a connection ends from the channel's side.
async fn end_of(
    mut ended: tokio::sync::watch::Receiver<bool>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> &'static str {
    // a stopping channel ends every session too: that is the reason to give
    tokio::select! {
        biased;
        _ = stopping.wait_for(|s| *s) => "the channel stops",
        _ = ended.wait_for(|e| *e) => "the session ended",
    }
}

/// A consumer of a source: frames from its outbox out, nothing expected in.
async fn consume(
    hub: &Arc<Hub>,
    socket: WebSocket,
    ended: tokio::sync::watch::Receiver<bool>,
    encoding: Encoding,
) {
    let (mut tx, mut rx) = socket.split();
    if tx.send(hello(hub, encoding)).await.is_err() {
        return;
    }
    let (id, outbox) = hub.add_consumer();
    let end = end_of(ended, hub.stopping());
    tokio::pin!(end);
    loop {
        tokio::select! {
            reason = &mut end => {
                let _ = tx.send(closing(reason)).await;
                let _ = tx.send(Message::Close(None)).await;
                break;
            }
            next = outbox.next() => {
                let message = match next {
                    Next::Frame(Payload::Text(t)) => Message::Text(t.to_string().into()),
                    Next::Frame(Payload::Records(b)) => match (encoding, &b.arrow) {
                        (Encoding::Json, _) => Message::Text(b.json.to_string().into()),
                        (Encoding::Arrow, Ok(bytes)) => Message::Binary(bytes.clone()),
                        // the records are lost to this consumer, and it is told why
                        (Encoding::Arrow, Err(why)) => Message::Text(
                            Frame::Error {
                                message: format!("{} records cannot be sent as Arrow: {why}", b.records),
                                discarded: b.records as u64,
                            }
                            .text()
                            .into(),
                        ),
                    },
                    Next::Dropped { records, total } => {
                        Message::Text(Frame::Dropped { records, total }.text().into())
                    }
                };
                if tx.send(message).await.is_err() {
                    break;
                }
            }
            incoming = rx.next() => match incoming {
                Some(Err(e)) => {
                    refuse_and_close(&mut tx, &e, MAX_CONSUMER_MESSAGE).await;
                    break;
                }
                None | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    let e = Frame::Error {
                        message: "this channel is a source: it takes no frames".into(),
                        discarded: 0,
                    };
                    let _ = tx.send(Message::Text(e.text().into())).await;
                }
                Some(Ok(_)) => {}
            }
        }
    }
    hub.remove_consumer(id);
}

/// A producer into a sink: records in, stored or discarded; errors and flush answers out.
async fn produce(
    hub: &Arc<Hub>,
    sink: &Arc<Sink>,
    socket: WebSocket,
    ended: tokio::sync::watch::Receiver<bool>,
) {
    let (mut tx, mut rx) = socket.split();
    if tx.send(hello(hub, Encoding::Json)).await.is_err() {
        return;
    }
    let (mut stored, mut discarded) = (0u64, 0u64);
    let producer = sink.producer();
    let end = end_of(ended, hub.stopping());
    tokio::pin!(end);
    loop {
        let message = tokio::select! {
            reason = &mut end => {
                let _ = tx.send(closing(reason)).await;
                let _ = tx.send(Message::Close(None)).await;
                break;
            }
            m = rx.next() => m,
        };
        let text = match message {
            Some(Err(e)) => {
                // an oversized or broken message ends the connection, with word of why
                refuse_and_close(&mut tx, &e, MAX_MESSAGE).await;
                break;
            }
            None | Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Binary(_))) => {
                let e = Frame::Error {
                    message: "frames are JSON text".into(),
                    discarded: 0,
                };
                let _ = tx.send(Message::Text(e.text().into())).await;
                continue;
            }
            Some(Ok(_)) => continue,
        };
        let reply = match serde_json::from_str::<Frame>(&text) {
            Ok(Frame::Records { records, .. }) => {
                let n = records.len() as u64;
                hub.count(|c| c.received += n);
                let outcome = sink.store(&hub.spec.format, records, producer).await;
                stored += outcome.stored;
                discarded += outcome.discarded;
                hub.count(|c| {
                    c.stored += outcome.stored;
                    c.discarded += outcome.discarded;
                });
                outcome.first_error.map(|message| Frame::Error {
                    message,
                    discarded: outcome.discarded,
                })
            }
            Ok(Frame::Flush) => {
                let flush = sink.flush(producer).await;
                // records counted stored that the store then lost are discarded after all
                stored -= flush.lost_here;
                discarded += flush.lost_here;
                hub.count(|c| {
                    c.stored -= flush.lost_all;
                    c.discarded += flush.lost_all;
                });
                if let Some(e) = flush.error {
                    // the error may quote an engine's message: masked before it leaves
                    let message = crate::secrets::mask(&e.to_string());
                    tracing::warn!("channel {}: {message}", hub.spec.name);
                    let e = Frame::Error {
                        message,
                        discarded: flush.lost_here,
                    };
                    if tx.send(Message::Text(e.text().into())).await.is_err() {
                        break;
                    }
                }
                Some(Frame::Flushed { stored, discarded })
            }
            Ok(_) => Some(Frame::Error {
                message: "a sink takes records and flush frames".into(),
                discarded: 0,
            }),
            Err(e) => Some(Frame::Error {
                message: format!("not a frame: {e}"),
                discarded: 0,
            }),
        };
        if let Some(frame) = reply {
            if tx.send(Message::Text(frame.text().into())).await.is_err() {
                break;
            }
        }
    }
}

/// Tell a client why its connection ends (an error frame, then a close), as far as the
/// socket still takes it.
async fn refuse_and_close(
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    e: &axum::Error,
    limit: usize,
) {
    let frame = Frame::Error {
        message: format!(
            "the connection ends: {e} (a message to this channel is at most {} bytes)",
            limit
        ),
        discarded: 0,
    };
    let _ = tx.send(Message::Text(frame.text().into())).await;
    let _ = tx.send(Message::Close(None)).await;
}

/// The URL clients reach the channel at.
pub fn url_of(addr: SocketAddr, tls: bool) -> String {
    format!("{}://{addr}", if tls { "https" } else { "http" })
}
