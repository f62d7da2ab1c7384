//! A running channel's shared state: its login sessions, its connected consumers (each
//! with a bounded buffer of its own) and its counters.
//!
//! A source sends every record to every consumer connected at that moment and never
//! waits for one: a consumer whose buffer is full misses the records that do not fit,
//! and is told how many when it catches up. Frames that delimit result sets are always
//! queued, so a slow consumer still learns where a result set ended.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use super::protocol::Frame;
use super::registry::Counters;
use super::spec::ChannelSpec;

/// How long a login's token works.
pub const SESSION_TTL: Duration = Duration::from_secs(3600);
/// Logins open at once, at most: a flood of logins cannot exhaust memory.
const MAX_SESSIONS: usize = 10_000;
/// Sessions one user may hold: one user's logins cannot use up everyone's.
pub const MAX_SESSIONS_PER_USER: usize = 100;

/// Why a login gets no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    User,
    Channel,
}

pub struct LoginSession {
    pub user: String,
    expires: Instant,
    /// set when the session ends (logout): its connections close
    ended: watch::Sender<bool>,
}

/// What waits to be written to one consumer.
pub struct ConsumerQueue {
    state: Mutex<OutState>,
    notify: Notify,
    buffer: usize,
}

#[derive(Default)]
struct OutState {
    /// frames with their record counts; a drop notice where the records went missing
    items: VecDeque<Item>,
    queued_records: usize,
    dropped_total: u64,
}

/// A frame as queued for consumers. Control frames are JSON text; a batch of records is
/// held in both encodings, made once and shared, and each consumer is sent the one it
/// asked for when it connected.
#[derive(Clone)]
pub enum Payload {
    Text(Arc<str>),
    Records(Arc<Batch>),
}

pub struct Batch {
    pub json: Arc<str>,
    /// an Arrow IPC stream, or why this batch has none (a decimal Arrow cannot hold)
    pub arrow: Result<bytes::Bytes, super::error::ChannelError>,
    pub records: usize,
}

enum Item {
    Frame(Payload, usize),
    /// records missed here, and the running total up to and with them
    Dropped(u64, u64),
}

pub enum Next {
    Frame(Payload),
    /// records missed since the last frame, and in all
    Dropped {
        records: u64,
        total: u64,
    },
}

impl ConsumerQueue {
    fn new(buffer: usize) -> ConsumerQueue {
        ConsumerQueue {
            state: Mutex::new(OutState::default()),
            notify: Notify::new(),
            buffer,
        }
    }

    /// Queue a frame carrying `records` records; false when it did not fit and was
    /// dropped for this consumer.
    fn push(&self, payload: Payload, records: usize) -> bool {
        let mut s = self.state.lock().expect("outbox lock");
        let fits = records == 0 || s.queued_records + records <= self.buffer;
        if fits {
            s.queued_records += records;
            s.items.push_back(Item::Frame(payload, records));
        } else {
            s.dropped_total += records as u64;
            let total = s.dropped_total;
            // consecutive drops are one notice, in the place the records went missing,
            // with the total as it stood there (not as it stands when it is sent)
            match s.items.back_mut() {
                Some(Item::Dropped(n, t)) => {
                    *n += records as u64;
                    *t = total;
                }
                _ => s.items.push_back(Item::Dropped(records as u64, total)),
            }
        }
        drop(s);
        self.notify.notify_one();
        fits
    }

    /// The next thing to write, in order: frames, and notices of records missed.
    pub async fn next(&self) -> Next {
        loop {
            {
                let mut s = self.state.lock().expect("outbox lock");
                match s.items.pop_front() {
                    Some(Item::Frame(payload, records)) => {
                        s.queued_records -= records;
                        return Next::Frame(payload);
                    }
                    Some(Item::Dropped(records, total)) => return Next::Dropped { records, total },
                    None => {}
                }
            }
            self.notify.notified().await;
        }
    }
}

pub struct Hub {
    pub spec: ChannelSpec,
    sessions: Mutex<HashMap<String, LoginSession>>,
    consumers: Mutex<Vec<(u64, Arc<ConsumerQueue>)>>,
    next_consumer: Mutex<u64>,
    pub counters: Mutex<Counters>,
    /// true once the channel stops
    stopping: watch::Sender<bool>,
}

impl Hub {
    pub fn new(spec: ChannelSpec) -> Arc<Hub> {
        Arc::new(Hub {
            spec,
            sessions: Mutex::new(HashMap::new()),
            consumers: Mutex::new(Vec::new()),
            next_consumer: Mutex::new(0),
            counters: Mutex::new(Counters::default()),
            stopping: watch::channel(false).0,
        })
    }

    pub fn counters(&self) -> Counters {
        self.counters.lock().expect("counters lock").clone()
    }

    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.counters.lock().expect("counters lock"));
    }

    /// A new session for `user`: its bearer token (random, 256 bits).
    pub fn login(&self, user: &str) -> Result<String, Full> {
        let token = new_token();
        let mut sessions = self.sessions.lock().expect("sessions lock");
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        if sessions.values().filter(|s| s.user == user).count() >= MAX_SESSIONS_PER_USER {
            return Err(Full::User);
        }
        if sessions.len() >= MAX_SESSIONS {
            return Err(Full::Channel);
        }
        sessions.insert(
            token.clone(),
            LoginSession {
                user: user.to_string(),
                expires: now + SESSION_TTL,
                ended: watch::channel(false).0,
            },
        );
        Ok(token)
    }

    /// The session's user and a receiver that turns true when it ends; None for a
    /// token that is unknown, expired or logged out.
    pub fn session(&self, token: &str) -> Option<(String, watch::Receiver<bool>)> {
        let sessions = self.sessions.lock().expect("sessions lock");
        let s = sessions.get(token)?;
        (s.expires > Instant::now()).then(|| (s.user.clone(), s.ended.subscribe()))
    }

    /// End a session: its token stops working and its connections close.
    pub fn logout(&self, token: &str) -> bool {
        match self.sessions.lock().expect("sessions lock").remove(token) {
            Some(s) => {
                let _ = s.ended.send(true);
                true
            }
            None => false,
        }
    }

    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    pub fn stop(&self) {
        let _ = self.stopping.send(true);
        for s in self.sessions.lock().expect("sessions lock").values() {
            let _ = s.ended.send(true);
        }
    }

    pub fn add_consumer(&self) -> (u64, Arc<ConsumerQueue>) {
        let id = {
            let mut n = self.next_consumer.lock().expect("consumer lock");
            *n += 1;
            *n
        };
        let outbox = Arc::new(ConsumerQueue::new(self.spec.buffer));
        self.consumers
            .lock()
            .expect("consumers lock")
            .push((id, outbox.clone()));
        (id, outbox)
    }

    pub fn remove_consumer(&self, id: u64) {
        self.consumers
            .lock()
            .expect("consumers lock")
            .retain(|(i, _)| *i != id);
    }

    /// Send a frame to every consumer connected now, never waiting for any.
    fn broadcast(&self, frame: &Frame, records: usize) {
        self.broadcast_payload(Payload::Text(frame.text().into()), records)
    }

    fn broadcast_payload(&self, payload: Payload, records: usize) {
        let consumers: Vec<Arc<ConsumerQueue>> = self
            .consumers
            .lock()
            .expect("consumers lock")
            .iter()
            .map(|(_, o)| o.clone())
            .collect();
        let (mut sent, mut dropped) = (0u64, 0u64);
        for o in consumers {
            if o.push(payload.clone(), records) {
                sent += records as u64;
            } else {
                dropped += records as u64;
            }
        }
        self.count(|c| {
            c.sent += sent;
            c.dropped += dropped;
        });
    }

    /// One read of the source, sent: its batches of records (already encoded), framed as
    /// the result set `id` when the source frames them.
    pub fn send_result_set(&self, id: Option<&str>, batches: Vec<Arc<Batch>>) {
        if let Some(id) = id {
            self.broadcast(
                &Frame::ResultSetStart {
                    id: id.to_string(),
                    format: self.spec.format.clone(),
                },
                0,
            );
        }
        let mut total = 0u64;
        for batch in batches {
            let n = batch.records;
            total += n as u64;
            self.broadcast_payload(Payload::Records(batch), n);
        }
        if let Some(id) = id {
            self.broadcast(
                &Frame::ResultSetEnd {
                    id: id.to_string(),
                    records: total,
                },
                0,
            );
            self.count(|c| c.result_sets += 1);
        }
    }
}

/// Compare secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0
}

/// A bearer token: 256 bits from the system's secure random source, as hex. (Two UUIDs
/// would give 244: six bits of each are fixed.)
fn new_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source answers");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_hold_256_random_bits() {
        let tokens: Vec<String> = (0..64).map(|_| new_token()).collect();
        assert!(tokens
            .iter()
            .all(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())));
        let distinct: std::collections::BTreeSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), tokens.len());
        // no fixed nibble: every position takes more than one value across the tokens
        for i in 0..64 {
            let seen: std::collections::BTreeSet<u8> =
                tokens.iter().map(|t| t.as_bytes()[i]).collect();
            assert!(seen.len() > 1, "position {i} is fixed");
        }
    }

    #[tokio::test]
    async fn a_full_buffer_drops_records_for_that_consumer_only_and_says_how_many() {
        let slow = ConsumerQueue::new(3);
        let frame = |n: usize| Payload::Text(format!("records {n}").into());
        let text = |p: &Payload| match p {
            Payload::Text(t) => t.to_string(),
            Payload::Records(b) => b.json.to_string(),
        };
        assert!(slow.push(frame(1), 2));
        assert!(!slow.push(frame(2), 2), "2 + 2 > 3");
        assert!(!slow.push(frame(3), 3), "2 + 3 > 3");
        assert!(
            slow.push(Payload::Text("end".into()), 0),
            "frames without records always queue"
        );
        // in order: what fitted, one notice of what was missed there, what came after
        assert!(matches!(slow.next().await, Next::Frame(t) if text(&t) == "records 1"));
        match slow.next().await {
            Next::Dropped { records, total } => assert_eq!((records, total), (5, 5)),
            Next::Frame(t) => panic!("{}", text(&t)),
        }
        assert!(matches!(slow.next().await, Next::Frame(t) if text(&t) == "end"));
        // room again: records fit once more
        assert!(slow.push(frame(4), 3));
    }

    #[tokio::test]
    async fn each_drop_notice_carries_the_total_as_it_stood_there() {
        let slow = ConsumerQueue::new(2);
        let frame = |n: usize| Payload::Text(format!("records {n}").into());
        // drops between frames the consumer has not read yet
        for round in 0..4 {
            assert!(!slow.push(frame(round), 3));
            assert!(slow.push(Payload::Text("marker".into()), 0));
        }
        let mut totals = Vec::new();
        for _ in 0..8 {
            if let Next::Dropped { records, total } = slow.next().await {
                assert_eq!(records, 3);
                totals.push(total);
            }
        }
        assert_eq!(totals, [3, 6, 9, 12]);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("s3cret-pass", "s3cret-pass"));
        assert!(!same_secret("s3cret-pass", "s3cret-pas"));
        assert!(!same_secret("s3cret-pass", "s3cret-pasS"));
        assert!(!same_secret("", "x"));
    }
}
