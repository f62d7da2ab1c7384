//! The instructions `assay serve` hands to agents, kept in its history store beside the
//! scans they produce, so a server killed at any moment restarts with its queue.
//!
//! `assay_instructions` holds each instruction's current state; every change of hands is
//! also a row of `assay_instruction_events` whose primary key is the instruction, the
//! attempt and the phase (`claim`, `end`), written in the same transaction as the state.
//! So an attempt is claimed once and ends once whatever races: a second claim of the
//! same attempt, or a completion racing the lease's lapse, fails on the key and rolls
//! back whole. The server makes these changes one at a time (`serve::queue`).

use super::read::text;
use super::*;

pub const INSTRUCTIONS: &str = "assay_instructions";
pub const INSTRUCTION_EVENTS: &str = "assay_instruction_events";
pub const AGENTS: &str = "assay_agents";
pub const SCHEDULE_MARKS: &str = "assay_schedule_marks";

/// The states of an instruction.
pub const QUEUED: &str = "queued";
pub const CLAIMED: &str = "claimed";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const EXPIRED: &str = "expired";

/// An instruction to queue.
#[derive(Debug, Clone)]
pub struct NewInstruction {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// `api` or `schedule:NAME`
    pub origin: String,
    /// what an agent gets (docs/agent-api.md), JSON
    pub payload: String,
    /// still queued then: expired
    pub expires_at: DateTime<Utc>,
}

/// An instruction as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstructionRow {
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub origin: String,
    pub state: String,
    /// attempts claimed so far
    pub attempt: i64,
    pub agent_id: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// the completion an agent reported, JSON
    pub outcome: Option<String>,
    pub payload: Option<String>,
}

/// One change of hands of an instruction.
#[derive(Debug, Clone, PartialEq)]
pub struct InstructionEvent {
    pub attempt: i64,
    pub phase: String,
    pub state: String,
    pub at: Option<DateTime<Utc>>,
    pub agent_id: Option<String>,
    pub detail: Option<String>,
}

/// A change of hands of one attempt of an instruction.
#[derive(Debug, Clone, Copy)]
pub struct AttemptChange<'a> {
    pub id: &'a str,
    pub attempt: i64,
    /// what the attempt became: claimed, or how it ended
    pub state: &'a str,
    pub agent: Option<&'a str>,
    pub at: DateTime<Utc>,
    /// the completion an agent reported, JSON
    pub outcome: Option<&'a str>,
}

/// An agent as it last reported itself.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub id: String,
    pub version: String,
    pub host: String,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_heartbeat: Option<DateTime<Utc>>,
}

/// Which instructions to list.
#[derive(Debug, Clone, Default)]
pub struct InstructionQuery<'a> {
    pub id: Option<&'a str>,
    pub states: &'a [&'a str],
    pub agent_id: Option<&'a str>,
    pub limit: Option<u64>,
    /// the payload too (what is handed to an agent)
    pub payload: bool,
    /// oldest first (the queue's order); newest first otherwise
    pub oldest_first: bool,
}

fn time_of(v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v? {
        Value::Timestamp(us) => DateTime::<Utc>::from_timestamp_micros(*us),
        Value::Text(t) => parse_timestamp(t),
        _ => None,
    }
}

fn int_of(v: Option<&Value>) -> i64 {
    v.and_then(|v| v.to_text())
        .and_then(|t| t.parse::<f64>().ok())
        .map_or(0, |n| n as i64)
}

impl HistoryStore {
    fn queue_tables(&self) -> Vec<Statement> {
        let t = self.location.types();
        let key = format!("{} NOT NULL PRIMARY KEY", t.text);
        let key = key.as_str();
        self.location.create_statements(&[
            (
                INSTRUCTIONS,
                vec![
                    ("id", key),
                    ("created_at", t.timestamp),
                    ("origin", t.text),
                    ("payload", t.json),
                    ("state", t.text),
                    ("attempt", t.integer),
                    ("agent_id", t.text),
                    ("lease_until", t.timestamp),
                    ("expires_at", t.timestamp),
                    ("finished_at", t.timestamp),
                    ("outcome", t.json),
                ],
            ),
            (
                INSTRUCTION_EVENTS,
                vec![
                    ("event_key", key),
                    ("instruction_id", t.text),
                    ("attempt", t.integer),
                    ("phase", t.text),
                    ("state", t.text),
                    ("occurred_at", t.timestamp),
                    ("agent_id", t.text),
                    ("detail", t.json),
                ],
            ),
            (
                AGENTS,
                vec![
                    ("id", key),
                    ("version", t.text),
                    ("host", t.text),
                    ("first_seen", t.timestamp),
                    ("last_heartbeat", t.timestamp),
                ],
            ),
            (
                SCHEDULE_MARKS,
                vec![("name", key), ("last_due", t.timestamp)],
            ),
        ])
    }

    /// Make the history's and the queue's tables when missing (the server does it as
    /// it starts, so every read finds them).
    pub async fn ensure_queue(&self) -> Result<(), RunError> {
        let mut statements = self.create();
        statements.extend(self.queue_tables());
        self.location.execute(statements).await
    }

    /// `UPDATE table SET ... WHERE ...`, every value bound; `extra` is a condition of
    /// constants.
    fn update(
        &self,
        table: &str,
        set: Vec<(&str, Param)>,
        conditions: Vec<(&str, Param)>,
        extra: &str,
    ) -> Statement {
        let d = self.location.dialect();
        let mut params = Vec::new();
        let place = |p: Param, params: &mut Vec<Param>| {
            params.push(p);
            d.placeholder(params.len())
        };
        let sets: Vec<String> = set
            .into_iter()
            .map(|(c, p)| format!("{} = {}", d.quote_ident(c), place(p, &mut params)))
            .collect();
        let mut wheres: Vec<String> = conditions
            .into_iter()
            .map(|(c, p)| format!("{} = {}", d.quote_ident(c), place(p, &mut params)))
            .collect();
        if !extra.is_empty() {
            wheres.push(extra.to_string());
        }
        Statement {
            sql: format!(
                "UPDATE {} SET {} WHERE {}",
                self.location.table(table),
                sets.join(", "),
                wheres.join(" AND ")
            ),
            params,
        }
    }

    fn event(&self, phase: &str, c: &AttemptChange) -> Vec<Statement> {
        self.location.inserts(
            INSTRUCTION_EVENTS,
            &[
                "event_key",
                "instruction_id",
                "attempt",
                "phase",
                "state",
                "occurred_at",
                "agent_id",
                "detail",
            ],
            vec![vec![
                Param::Text(format!("{}/{}/{phase}", c.id, c.attempt)),
                Param::text(c.id),
                Param::Int(c.attempt),
                Param::text(phase),
                Param::text(c.state),
                Param::time(c.at),
                Param::opt_text(c.agent),
                Param::opt_text(c.outcome),
            ]],
        )
    }

    /// Queue instructions, and (for a schedule) mark the time they were due in the same
    /// transaction, so a restart neither misses nor repeats one.
    pub async fn enqueue(
        &self,
        list: &[NewInstruction],
        mark: Option<(&str, DateTime<Utc>)>,
    ) -> Result<(), RunError> {
        let mut statements = self.location.inserts(
            INSTRUCTIONS,
            &[
                "id",
                "created_at",
                "origin",
                "payload",
                "state",
                "attempt",
                "expires_at",
            ],
            list.iter()
                .map(|i| {
                    vec![
                        Param::text(&i.id),
                        Param::time(i.created_at),
                        Param::text(&i.origin),
                        Param::text(&i.payload),
                        Param::text(QUEUED),
                        Param::Int(0),
                        Param::time(i.expires_at),
                    ]
                })
                .collect(),
        );
        if let Some((name, due)) = mark {
            let t = self.location.table(SCHEDULE_MARKS);
            let d = self.location.dialect();
            statements.push(Statement {
                sql: format!("DELETE FROM {t} WHERE name = {}", d.placeholder(1)),
                params: vec![Param::text(name)],
            });
            statements.extend(self.location.inserts(
                SCHEDULE_MARKS,
                &["name", "last_due"],
                vec![vec![Param::text(name), Param::time(due)]],
            ));
        }
        self.location.execute(statements).await
    }

    /// When each schedule was last due.
    pub async fn schedule_marks(&self) -> Result<HashMap<String, DateTime<Utc>>, RunError> {
        let sql = format!(
            "SELECT name, last_due FROM {}",
            self.location.table(SCHEDULE_MARKS)
        );
        Ok(self
            .rows(&sql)
            .await?
            .iter()
            .filter_map(|r| Some((text(r.first())?, time_of(r.get(1))?)))
            .collect())
    }

    /// Instructions as `q` asks.
    pub async fn instructions(
        &self,
        q: &InstructionQuery<'_>,
    ) -> Result<Vec<InstructionRow>, RunError> {
        let d = self.location.dialect();
        let mut wheres = Vec::new();
        if let Some(id) = q.id {
            wheres.push(format!("id = {}", d.string_literal(id)));
        }
        if !q.states.is_empty() {
            let list: Vec<String> = q.states.iter().map(|s| d.string_literal(s)).collect();
            wheres.push(format!("state IN ({})", list.join(", ")));
        }
        if let Some(a) = q.agent_id {
            wheres.push(format!("agent_id = {}", d.string_literal(a)));
        }
        let sql =
            format!(
            "SELECT id, created_at, origin, state, attempt, agent_id, lease_until, expires_at, \
             finished_at, {}, {} FROM {}{} ORDER BY created_at {order}, id {order}{}",
            d.cast_text("outcome"),
            if q.payload {
                d.cast_text("payload")
            } else {
                "NULL".into()
            },
            self.location.table(INSTRUCTIONS),
            if wheres.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", wheres.join(" AND "))
            },
            q.limit.map(|n| format!(" {}", d.limit(n))).unwrap_or_default(),
            order = if q.oldest_first { "ASC" } else { "DESC" },
        );
        Ok(self
            .rows(&sql)
            .await?
            .iter()
            .map(|r| InstructionRow {
                id: text(r.first()).unwrap_or_default(),
                created_at: time_of(r.get(1)),
                origin: text(r.get(2)).unwrap_or_default(),
                state: text(r.get(3)).unwrap_or_default(),
                attempt: int_of(r.get(4)),
                agent_id: text(r.get(5)),
                lease_until: time_of(r.get(6)),
                expires_at: time_of(r.get(7)),
                finished_at: time_of(r.get(8)),
                outcome: text(r.get(9)),
                payload: text(r.get(10)),
            })
            .collect())
    }

    /// The changes of hands of one instruction, in order.
    pub async fn instruction_events(&self, id: &str) -> Result<Vec<InstructionEvent>, RunError> {
        let d = self.location.dialect();
        let sql = format!(
            "SELECT attempt, phase, state, occurred_at, agent_id, {} FROM {} WHERE instruction_id = {} \
             ORDER BY attempt, occurred_at",
            d.cast_text("detail"),
            self.location.table(INSTRUCTION_EVENTS),
            d.string_literal(id)
        );
        Ok(self
            .rows(&sql)
            .await?
            .iter()
            .map(|r| InstructionEvent {
                attempt: int_of(r.first()),
                phase: text(r.get(1)).unwrap_or_default(),
                state: text(r.get(2)).unwrap_or_default(),
                at: time_of(r.get(3)),
                agent_id: text(r.get(4)),
                detail: text(r.get(5)),
            })
            .collect())
    }

    /// Give queued instructions to an agent, each as its next attempt, in one
    /// transaction: all of them are its, or (another server claimed one first) none.
    pub async fn claim(
        &self,
        agent: &str,
        picks: &[(String, i64)],
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), RunError> {
        let mut statements = Vec::new();
        for (id, attempt) in picks {
            let next = attempt + 1;
            statements.push(self.update(
                INSTRUCTIONS,
                vec![
                    ("state", Param::text(CLAIMED)),
                    ("attempt", Param::Int(next)),
                    ("agent_id", Param::text(agent)),
                    ("lease_until", Param::time(lease_until)),
                ],
                vec![
                    ("id", Param::text(id)),
                    ("attempt", Param::Int(*attempt)),
                    ("state", Param::text(QUEUED)),
                ],
                "",
            ));
            statements.extend(self.event(
                "claim",
                &AttemptChange {
                    id,
                    attempt: next,
                    state: CLAIMED,
                    agent: Some(agent),
                    at: now,
                    outcome: None,
                },
            ));
        }
        self.location.execute(statements).await
    }

    /// Renew the lease of an attempt its agent still holds (and mark it running).
    pub async fn renew(
        &self,
        agent: &str,
        id: &str,
        attempt: i64,
        state: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<(), RunError> {
        let held = format!("state IN ('{CLAIMED}', '{RUNNING}')");
        self.location
            .execute(vec![self.update(
                INSTRUCTIONS,
                vec![
                    ("state", Param::text(state)),
                    ("lease_until", Param::time(lease_until)),
                ],
                vec![
                    ("id", Param::text(id)),
                    ("attempt", Param::Int(attempt)),
                    ("agent_id", Param::text(agent)),
                ],
                &held,
            )])
            .await
    }

    /// Every held attempt's lease from now: a server that starts gives the agents that
    /// held work while it was down one lease to report back.
    pub async fn extend_held_leases(&self, until: DateTime<Utc>) -> Result<(), RunError> {
        let held = format!("state IN ('{CLAIMED}', '{RUNNING}')");
        self.location
            .execute(vec![self.update(
                INSTRUCTIONS,
                vec![("lease_until", Param::time(until))],
                Vec::new(),
                &held,
            )])
            .await
    }

    /// End an attempt: done or failed as its agent reported (`outcome`), or expired when
    /// its lease lapsed (back to the queue, or expired for good when `requeue` is false).
    /// The end event's key makes it once per attempt.
    pub async fn end_attempt(&self, c: &AttemptChange<'_>, requeue: bool) -> Result<(), RunError> {
        let AttemptChange {
            id,
            attempt,
            state,
            agent,
            at,
            outcome,
        } = *c;
        let held = format!("state IN ('{CLAIMED}', '{RUNNING}')");
        let mut set = vec![
            ("state", Param::text(if requeue { QUEUED } else { state })),
            ("lease_until", Param::Null),
            ("agent_id", Param::Null),
        ];
        if !requeue {
            set.push(("finished_at", Param::time(at)));
            set.push(("outcome", Param::opt_text(outcome)));
            // a finished attempt keeps the agent that ran it
            if let Some(a) = agent {
                set[2] = ("agent_id", Param::text(a));
            }
        }
        let mut statements = vec![self.update(
            INSTRUCTIONS,
            set,
            vec![("id", Param::text(id)), ("attempt", Param::Int(attempt))],
            &held,
        )];
        statements.extend(self.event("end", c));
        self.location.execute(statements).await
    }

    /// A queued instruction nobody claimed in time: expired, as the attempt after its
    /// last.
    pub async fn expire_queued(
        &self,
        id: &str,
        attempt: i64,
        at: DateTime<Utc>,
    ) -> Result<(), RunError> {
        let mut statements = vec![self.update(
            INSTRUCTIONS,
            vec![
                ("state", Param::text(EXPIRED)),
                ("finished_at", Param::time(at)),
            ],
            vec![
                ("id", Param::text(id)),
                ("attempt", Param::Int(attempt)),
                ("state", Param::text(QUEUED)),
            ],
            "",
        )];
        statements.extend(self.event(
            "end",
            &AttemptChange {
                id,
                attempt: attempt + 1,
                state: EXPIRED,
                agent: None,
                at,
                outcome: None,
            },
        ));
        self.location.execute(statements).await
    }

    /// An agent reported itself: kept with when it was first and last heard from.
    pub async fn agent_seen(&self, agent: &AgentRow, at: DateTime<Utc>) -> Result<(), RunError> {
        let d = self.location.dialect();
        let first = agent.first_seen.unwrap_or(at);
        let mut statements = vec![Statement {
            sql: format!(
                "DELETE FROM {} WHERE id = {}",
                self.location.table(AGENTS),
                d.placeholder(1)
            ),
            params: vec![Param::text(&agent.id)],
        }];
        statements.extend(self.location.inserts(
            AGENTS,
            &["id", "version", "host", "first_seen", "last_heartbeat"],
            vec![vec![
                Param::text(&agent.id),
                Param::text(&agent.version),
                Param::text(&agent.host),
                Param::time(first),
                Param::time(at),
            ]],
        ));
        self.location.execute(statements).await
    }

    /// Every agent the server has heard from, most recently heard first.
    pub async fn agents(&self) -> Result<Vec<AgentRow>, RunError> {
        let sql = format!(
            "SELECT id, version, host, first_seen, last_heartbeat FROM {} \
             ORDER BY last_heartbeat DESC, id",
            self.location.table(AGENTS)
        );
        Ok(self
            .rows(&sql)
            .await?
            .iter()
            .map(|r| AgentRow {
                id: text(r.first()).unwrap_or_default(),
                version: text(r.get(1)).unwrap_or_default(),
                host: text(r.get(2)).unwrap_or_default(),
                first_seen: time_of(r.get(3)),
                last_heartbeat: time_of(r.get(4)),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    fn instruction(id: &str, at: DateTime<Utc>) -> NewInstruction {
        NewInstruction {
            id: id.into(),
            created_at: at,
            origin: "api".into(),
            payload: r#"{"contracts":[]}"#.into(),
            expires_at: at + chrono::Duration::hours(1),
        }
    }

    fn change<'a>(
        attempt: i64,
        state: &'a str,
        agent: &'a str,
        at: DateTime<Utc>,
        outcome: Option<&'a str>,
    ) -> AttemptChange<'a> {
        AttemptChange {
            id: "i1",
            attempt,
            state,
            agent: Some(agent),
            at,
            outcome,
        }
    }

    /// Claimed once per attempt; an attempt ends once (the lapse and a late completion
    /// cannot both land); a lapsed attempt goes back to the queue as the next one.
    #[test]
    fn an_attempt_is_claimed_once_and_ends_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(dir.path());
        let at = testing::at(2);
        testing::block_on(async {
            store.ensure_queue().await.unwrap();
            store.enqueue(&[instruction("i1", at)], None).await.unwrap();
            let picks = vec![("i1".to_string(), 0)];
            let lease = at + chrono::Duration::seconds(60);
            store.claim("a", &picks, lease, at).await.unwrap();
            assert!(store.claim("b", &picks, lease, at).await.is_err());
            let q = InstructionQuery {
                id: Some("i1"),
                payload: true,
                ..Default::default()
            };
            let row = &store.instructions(&q).await.unwrap()[0];
            assert_eq!((row.state.as_str(), row.attempt), (CLAIMED, 1));
            assert_eq!(row.agent_id.as_deref(), Some("a"));
            assert_eq!(row.payload.as_deref(), Some(r#"{"contracts":[]}"#));
            // the lease lapses: back to the queue; the late completion of attempt 1 fails
            store
                .end_attempt(&change(1, EXPIRED, "a", lease, None), true)
                .await
                .unwrap();
            assert!(store
                .end_attempt(&change(1, DONE, "a", lease, Some("{}")), false)
                .await
                .is_err());
            let row = &store.instructions(&q).await.unwrap()[0];
            assert_eq!((row.state.as_str(), row.attempt), (QUEUED, 1));
            store
                .claim("b", &[("i1".to_string(), 1)], lease, lease)
                .await
                .unwrap();
            store
                .end_attempt(
                    &change(2, DONE, "b", lease, Some(r#"{"exit_code":0}"#)),
                    false,
                )
                .await
                .unwrap();
            let row = &store.instructions(&q).await.unwrap()[0];
            assert_eq!((row.state.as_str(), row.attempt), (DONE, 2));
            assert_eq!(row.agent_id.as_deref(), Some("b"));
            let events = store.instruction_events("i1").await.unwrap();
            let phases: Vec<(i64, &str, &str)> = events
                .iter()
                .map(|e| (e.attempt, e.phase.as_str(), e.state.as_str()))
                .collect();
            assert_eq!(
                phases,
                [
                    (1, "claim", CLAIMED),
                    (1, "end", EXPIRED),
                    (2, "claim", CLAIMED),
                    (2, "end", DONE)
                ]
            );
        });
    }

    #[test]
    fn a_schedule_mark_is_kept_with_its_instruction() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::store(dir.path());
        let at = testing::at(3);
        testing::block_on(async {
            store.ensure_queue().await.unwrap();
            store
                .enqueue(&[instruction("s1", at)], Some(("nightly", at)))
                .await
                .unwrap();
            store
                .enqueue(&[instruction("s2", at)], Some(("nightly", testing::at(4))))
                .await
                .unwrap();
            let marks = store.schedule_marks().await.unwrap();
            assert_eq!(marks.get("nightly"), Some(&testing::at(4)));
            let agent = AgentRow {
                id: "a1".into(),
                version: "1".into(),
                host: "h".into(),
                first_seen: None,
                last_heartbeat: None,
            };
            store.agent_seen(&agent, at).await.unwrap();
            store.agent_seen(&agent, testing::at(4)).await.unwrap();
            let agents = store.agents().await.unwrap();
            assert_eq!(agents.len(), 1);
            assert_eq!(agents[0].last_heartbeat, Some(testing::at(4)));
        });
    }
}
