//! What keeps one client, even one with a valid login, from denying a channel to everyone
//! else:
//! - a cap on open connections, overall and per peer address (a connection past either is
//!   closed at once);
//! - a deadline for every request's headers (a half-sent request is closed, not held);
//!   a connection that became a WebSocket is bounded by its session and frame limits;
//! - failed logins limited per peer and per user name, so guessing in parallel is no
//!   faster than guessing one by one;
//! - sessions capped per user (`Hub::login`), so one user's logins cannot use up the rest.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Connections open at once, overall and from one address.
pub const MAX_CONNECTIONS: usize = 256;
pub const MAX_CONNECTIONS_PER_PEER: usize = 32;
/// Time to send a request's headers (from the connection's start, or the last request).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Failed logins in a window, per peer address and per user name, before logins from
/// there (or as that user) are refused until the window has passed.
pub const FAILED_LOGINS_PER_PEER: usize = 10;
pub const FAILED_LOGINS_PER_USER: usize = 30;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// The channel's shared counts: open connections and recent failed logins.
#[derive(Default)]
pub struct Guard {
    /// connections at once, overall and per address, when not the channel's
    caps: Option<(usize, usize)>,
    open: Mutex<HashMap<IpAddr, usize>>,
    failed_by_peer: Failures<IpAddr>,
    failed_by_user: Failures<String>,
}

/// Failed logins of the last window, by who they came from (or as whom). Only keys with
/// a failure in the window are kept, so the map holds the window's guessers, no more.
struct Failures<K>(Mutex<HashMap<K, Vec<Instant>>>);

impl<K> Default for Failures<K> {
    fn default() -> Self {
        Failures(Mutex::new(HashMap::new()))
    }
}

impl<K: std::hash::Hash + Eq> Failures<K> {
    /// Failures of `key` in the window up to `now`.
    fn recent(&self, key: &K, now: Instant) -> usize {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).map_or(0, |times| {
            times
                .iter()
                .filter(|t| now.duration_since(**t) < LOGIN_WINDOW)
                .count()
        })
    }

    fn add(&self, key: K, now: Instant) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < LOGIN_WINDOW);
            !times.is_empty()
        });
        map.entry(key).or_default().push(now);
    }
}

impl Guard {
    pub fn new() -> Arc<Guard> {
        Arc::new(Guard::default())
    }

    /// Other caps on open connections (a results server takes many runners, some
    /// behind one address).
    pub fn with_caps(total: usize, per_peer: usize) -> Arc<Guard> {
        Arc::new(Guard {
            caps: Some((total, per_peer)),
            ..Guard::default()
        })
    }

    /// Take a connection slot for `ip`, or None when the caps are reached.
    fn open(self: &Arc<Guard>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = open.values().sum();
        let mine = open.get(&ip).copied().unwrap_or(0);
        let (max, per_peer) = self
            .caps
            .unwrap_or((MAX_CONNECTIONS, MAX_CONNECTIONS_PER_PEER));
        if total >= max || mine >= per_peer {
            return None;
        }
        open.insert(ip, mine + 1);
        Some(Slot {
            guard: self.clone(),
            ip,
        })
    }

    /// Whether a login from `ip` as `user` may be tried now (too many recent failures from
    /// either say no).
    pub fn login_allowed(&self, ip: IpAddr, user: &str) -> bool {
        let now = Instant::now();
        self.failed_by_peer.recent(&ip, now) < FAILED_LOGINS_PER_PEER
            && self.failed_by_user.recent(&user.to_string(), now) < FAILED_LOGINS_PER_USER
    }

    /// Count a failed login from `ip` as `user`.
    pub fn login_failed(&self, ip: IpAddr, user: &str) {
        let now = Instant::now();
        self.failed_by_peer.add(ip, now);
        self.failed_by_user.add(user.to_string(), now);
    }
}

/// A connection's place under the caps, given back when the connection ends.
struct Slot {
    guard: Arc<Guard>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.guard.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// When a connection's reading must have produced the next request; None once it is a
/// WebSocket.
struct Deadline(Mutex<Option<Instant>>);

/// Who is at the other end of a connection, as request handlers see it.
#[derive(Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    deadline: Arc<Deadline>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.addr)
    }
}

impl Peer {
    /// A request was read whole: the next one on this connection has its own deadline.
    pub fn request_read(&self) {
        let mut d = self.deadline.0.lock().unwrap_or_else(|e| e.into_inner());
        if d.is_some() {
            *d = Some(Instant::now() + REQUEST_DEADLINE);
        }
    }

    /// The connection becomes a WebSocket: its session and frame limits bound it now.
    pub fn upgraded(&self) {
        *self.deadline.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, Guarded<tokio::net::TcpListener>>,
    > for Peer
{
    fn connect_info(s: axum::serve::IncomingStream<'_, Guarded<tokio::net::TcpListener>>) -> Peer {
        s.remote_addr().clone()
    }
}

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, Guarded<super::tls::TlsListener>>,
    > for Peer
{
    fn connect_info(s: axum::serve::IncomingStream<'_, Guarded<super::tls::TlsListener>>) -> Peer {
        s.remote_addr().clone()
    }
}

/// A listener whose connections are capped and whose reads keep the request deadline.
pub struct Guarded<L> {
    inner: L,
    guard: Arc<Guard>,
}

impl<L> Guarded<L> {
    pub fn new(inner: L, guard: Arc<Guard>) -> Guarded<L> {
        Guarded { inner, guard }
    }
}

impl<L> axum::serve::Listener for Guarded<L>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    type Io = GuardedIo<L::Io>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            let Some(slot) = self.guard.open(addr.ip()) else {
                tracing::debug!("channel: too many connections; {addr} is turned away");
                drop(io);
                continue;
            };
            let at = Instant::now() + REQUEST_DEADLINE;
            let deadline = Arc::new(Deadline(Mutex::new(Some(at))));
            return (
                GuardedIo {
                    inner: io,
                    deadline: deadline.clone(),
                    timer: Box::pin(tokio::time::sleep_until(at)),
                    _slot: slot,
                },
                Peer { addr, deadline },
            );
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Peer {
            addr: self.inner.local_addr()?,
            deadline: Arc::new(Deadline(Mutex::new(None))),
        })
    }
}

/// A connection that fails its reads once the request deadline passes.
pub struct GuardedIo<I> {
    inner: I,
    deadline: Arc<Deadline>,
    timer: Pin<Box<Sleep>>,
    _slot: Slot,
}

impl<I: AsyncRead + Unpin> AsyncRead for GuardedIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let deadline = *self.deadline.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = deadline {
            if self.timer.deadline() != at {
                self.timer.as_mut().reset(at);
            }
            if self.timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request was not sent in time",
                )));
            }
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for GuardedIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_overall_and_per_peer() {
        let guard = Guard::new();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let mine: Vec<Slot> = (0..MAX_CONNECTIONS_PER_PEER)
            .map(|_| guard.open(a).unwrap())
            .collect();
        assert!(guard.open(a).is_none(), "one peer's cap");
        assert!(guard.open(b).is_some(), "others still get in");
        drop(mine);
        assert!(
            guard.open(a).is_some(),
            "closed connections give their slots back"
        );
    }

    #[test]
    fn failed_logins_are_limited_per_peer_and_per_user() {
        let guard = Guard::new();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..FAILED_LOGINS_PER_PEER {
            assert!(guard.login_allowed(a, "pipeline"));
            guard.login_failed(a, "pipeline");
        }
        assert!(!guard.login_allowed(a, "other"), "the peer is limited");
        assert!(guard.login_allowed(b, "other"), "another peer is not");
        // spread over many peers, guesses at one user are limited all the same
        for i in 0..FAILED_LOGINS_PER_USER {
            let ip: IpAddr = format!("10.0.{}.{}", i / 200, i % 200 + 1).parse().unwrap();
            guard.login_failed(ip, "pipeline");
        }
        assert!(!guard.login_allowed(b, "pipeline"));
        assert!(guard.login_allowed(b, "other"));
    }
}
