//! The schema-change monitor: a dataset's columns against its previous snapshot. Pure,
//! so every kind of change is tested without a database.

use serde::{Deserialize, Serialize};

use crate::config::ChangeKind;
use crate::sql::dialect::Dialect;

/// One column of a schema snapshot, its type normalised as the schema check does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotColumn {
    pub name: String,
    pub data_type: String,
    /// may it hold NULL, where the catalog says
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
}

/// One change between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

impl Event {
    fn new(
        kind: ChangeKind,
        column: Option<&str>,
        old: Option<String>,
        new: Option<String>,
    ) -> Event {
        Event {
            kind: kind.as_str().to_string(),
            column: column.map(str::to_string),
            old,
            new,
        }
    }
}

/// The changes from `previous` to `current`. `None` is a dataset absent from that scan;
/// `source_seen_before` says whether its data source was scanned before at all (the
/// first scan of a source reports no dataset as appeared).
pub fn changes(
    previous: Option<&[SnapshotColumn]>,
    current: Option<&[SnapshotColumn]>,
    source_seen_before: bool,
    d: &dyn Dialect,
) -> Vec<Event> {
    match (previous, current) {
        (None, None) => Vec::new(),
        (None, Some(_)) if source_seen_before => {
            vec![Event::new(ChangeKind::DatasetAdded, None, None, None)]
        }
        (None, Some(_)) => Vec::new(),
        (Some(_), None) => vec![Event::new(ChangeKind::DatasetRemoved, None, None, None)],
        (Some(prev), Some(cur)) => column_changes(prev, cur, d),
    }
}

fn column_changes(prev: &[SnapshotColumn], cur: &[SnapshotColumn], d: &dyn Dialect) -> Vec<Event> {
    let find = |cols: &[SnapshotColumn], name: &str| -> Option<usize> {
        cols.iter().position(|c| d.same_ident(&c.name, name))
    };
    let mut events = Vec::new();
    for c in cur {
        match find(prev, &c.name) {
            None => events.push(Event::new(
                ChangeKind::ColumnAdded,
                Some(&c.name),
                None,
                Some(c.data_type.clone()),
            )),
            Some(i) if prev[i].data_type != c.data_type => events.push(Event::new(
                ChangeKind::TypeChanged,
                Some(&c.name),
                Some(prev[i].data_type.clone()),
                Some(c.data_type.clone()),
            )),
            Some(_) => {}
        }
    }
    for p in prev {
        if find(cur, &p.name).is_none() {
            events.push(Event::new(
                ChangeKind::ColumnRemoved,
                Some(&p.name),
                Some(p.data_type.clone()),
                None,
            ));
        }
    }
    // the order of the columns both snapshots have
    let common_prev: Vec<&str> = prev
        .iter()
        .filter(|p| find(cur, &p.name).is_some())
        .map(|p| p.name.as_str())
        .collect();
    let common_cur: Vec<&str> = cur
        .iter()
        .filter(|c| find(prev, &c.name).is_some())
        .map(|c| c.name.as_str())
        .collect();
    let same_order = common_prev
        .iter()
        .zip(&common_cur)
        .all(|(a, b)| d.same_ident(a, b));
    if !same_order {
        events.push(Event::new(
            ChangeKind::OrderChanged,
            None,
            Some(common_prev.join(", ")),
            Some(common_cur.join(", ")),
        ));
    }
    events
}

/// The schema change monitor: a dataset's columns against the last scan's snapshot, each
/// change at the level `scan.schema_changes` gives its kind.
pub struct SchemaChangeMonitor;
pub static MONITOR: SchemaChangeMonitor = SchemaChangeMonitor;

impl super::monitor::Monitor for SchemaChangeMonitor {
    fn name(&self) -> &'static str {
        "schema_change"
    }

    fn judge(&self, s: &super::monitor::Subject) -> super::monitor::Finding {
        use crate::model::threshold::Level;
        use crate::results::{MonitorEvent, MonitorOutcome, MonitorResult, SchemaChangeResult};
        let events = changes(s.previous, s.snapshot, s.source_seen_before, s.dialect);
        let leveled: Vec<(Event, Level)> = events
            .into_iter()
            .map(|e| {
                let level = crate::config::ChangeKind::named(&e.kind)
                    .map_or(Level::Warn, |k| s.config.scan.level(k));
                (e, level)
            })
            .collect();
        let outcome = if leveled.iter().any(|(_, l)| *l == Level::Fail) {
            MonitorOutcome::Fail
        } else if leveled.is_empty() {
            MonitorOutcome::Pass
        } else {
            MonitorOutcome::Warn
        };
        let result = MonitorResult::SchemaChange(SchemaChangeResult {
            outcome,
            events: leveled
                .iter()
                .map(|(e, _)| MonitorEvent {
                    kind: e.kind.clone(),
                    column: e.column.clone(),
                    old: e.old.clone(),
                    new: e.new.clone(),
                })
                .collect(),
        });
        super::monitor::Finding {
            results: vec![result],
            events: leveled,
            verdicts: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::postgres::PostgresDialect;

    fn cols(spec: &[(&str, &str)]) -> Vec<SnapshotColumn> {
        spec.iter()
            .map(|(n, t)| SnapshotColumn {
                name: n.to_string(),
                data_type: t.to_string(),
                nullable: None,
            })
            .collect()
    }

    fn kinds(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn each_kind_of_change_is_one_event_with_its_columns_and_types() {
        let d = &PostgresDialect;
        let prev = cols(&[("id", "integer"), ("name", "varchar"), ("age", "integer")]);
        let cur = cols(&[("name", "text"), ("id", "integer"), ("email", "varchar")]);
        let events = changes(Some(&prev), Some(&cur), true, d);
        assert_eq!(
            kinds(&events),
            [
                "type_changed",
                "column_added",
                "column_removed",
                "order_changed"
            ]
        );
        assert_eq!(events[0].column.as_deref(), Some("name"));
        assert_eq!(events[0].old.as_deref(), Some("varchar"));
        assert_eq!(events[0].new.as_deref(), Some("text"));
        assert_eq!(events[1].new.as_deref(), Some("varchar"));
        assert_eq!(events[2].old.as_deref(), Some("integer"));
        assert_eq!(events[3].old.as_deref(), Some("id, name"));
        assert_eq!(events[3].new.as_deref(), Some("name, id"));
    }

    #[test]
    fn no_change_no_event_and_the_first_scan_reports_nothing() {
        let d = &PostgresDialect;
        let c = cols(&[("id", "integer")]);
        assert!(changes(Some(&c), Some(&c), true, d).is_empty());
        assert!(changes(None, Some(&c), false, d).is_empty());
        assert_eq!(kinds(&changes(None, Some(&c), true, d)), ["dataset_added"]);
        assert_eq!(
            kinds(&changes(Some(&c), None, true, d)),
            ["dataset_removed"]
        );
        // a column dropped and added again elsewhere is not an order change of the rest
        let prev = cols(&[("a", "integer"), ("b", "integer"), ("c", "integer")]);
        let cur = cols(&[("a", "integer"), ("c", "integer"), ("b2", "integer")]);
        assert_eq!(
            kinds(&changes(Some(&prev), Some(&cur), true, d)),
            ["column_added", "column_removed"]
        );
    }
}
