//! Incidents: consecutive anomalous points of one series are one incident (a spike and
//! the level shift it turns out to be, a day of doubled loads), so that whoever is on
//! call meets one alert, one mark and one line per thing that went wrong, with when it
//! started, when it ended and its worst point.

use serde::Serialize;

use super::{AnomalyKind, Verdict};

/// One incident of a series: its first and last anomalous point, and its worst one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// UTC seconds of the first anomalous point
    pub start: i64,
    /// UTC seconds of the last anomalous point
    pub end: i64,
    /// anomalous points in it
    pub points: usize,
    /// the kind it amounts to: a level shift when it became one, else its worst point's
    pub kind: AnomalyKind,
    /// the point farthest outside its expected range (in widths of the range's half)
    pub worst: Worst,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worst {
    pub at: i64,
    pub value: f64,
    pub expected: Option<f64>,
    pub kind: AnomalyKind,
}

/// How far outside its expected range a value fell, in half-widths of the range beyond
/// its edge (0 at the edge); a hard rule's anomaly without a range counts as infinitely
/// far, so a drop to zero is its incident's worst point.
pub fn severity(value: f64, v: &Verdict) -> f64 {
    match (v.expected, v.lower, v.upper) {
        (Some(e), Some(l), Some(u)) => {
            if value > u {
                (value - u) / (u - e).abs().max(f64::EPSILON)
            } else if value < l {
                (l - value) / (e - l).abs().max(f64::EPSILON)
            } else if v.judgement.kind() == Some(AnomalyKind::Zero) {
                f64::INFINITY
            } else {
                0.0
            }
        }
        _ => f64::INFINITY,
    }
}

/// The incidents of judged points (time, value, verdict), oldest first: anomalies are
/// grouped by the incident their verdict names.
pub fn incidents<'a>(judged: impl IntoIterator<Item = (i64, f64, &'a Verdict)>) -> Vec<Incident> {
    let mut out: Vec<(Incident, f64)> = Vec::new();
    for (at, value, v) in judged {
        let (Some(start), Some(kind)) = (v.incident, v.judgement.kind()) else {
            continue;
        };
        let how_far = severity(value, v);
        let worst = Worst {
            at,
            value,
            expected: v.expected,
            kind,
        };
        match out.last_mut() {
            // a level shift's incident reaches back to where the shift began: the
            // spikes before it, flagged one by one, were its start
            Some((open, worst_so_far)) if start <= open.end => {
                open.start = open.start.min(start);
                open.end = at;
                open.points += 1;
                if kind == AnomalyKind::LevelShift {
                    open.kind = AnomalyKind::LevelShift;
                }
                if how_far > *worst_so_far {
                    *worst_so_far = how_far;
                    open.worst = worst;
                    if open.kind != AnomalyKind::LevelShift {
                        open.kind = kind;
                    }
                }
            }
            _ => out.push((
                Incident {
                    start,
                    end: at,
                    points: 1,
                    kind,
                    worst,
                },
                how_far,
            )),
        }
    }
    out.into_iter().map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::{Detector, DetectorSettings, Judgement};

    fn verdict(kind: Option<AnomalyKind>, incident: Option<i64>, expected: f64) -> Verdict {
        Verdict {
            judgement: kind.map_or(Judgement::Normal, Judgement::Anomaly),
            expected: Some(expected),
            lower: Some(expected - 10.0),
            upper: Some(expected + 10.0),
            reason: String::new(),
            reset_from: None,
            incident,
        }
    }

    #[test]
    fn consecutive_anomalies_are_one_incident_with_its_worst_point() {
        let spike = Some(AnomalyKind::Spike);
        let v = [
            (0, 100.0, verdict(None, None, 100.0)),
            (1, 130.0, verdict(spike, Some(1), 100.0)),
            (2, 190.0, verdict(spike, Some(1), 100.0)),
            (3, 150.0, verdict(spike, Some(1), 100.0)),
            (4, 101.0, verdict(None, None, 100.0)),
            (5, 50.0, verdict(Some(AnomalyKind::Drop), Some(5), 100.0)),
        ];
        let found = incidents(v.iter().map(|(t, x, v)| (*t, *x, v)));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].start, found[0].end, found[0].points), (1, 3, 3));
        assert_eq!((found[0].worst.at, found[0].worst.value), (2, 190.0));
        assert_eq!(found[0].kind, AnomalyKind::Spike);
        assert_eq!(
            (found[1].start, found[1].end, found[1].kind),
            (5, 5, AnomalyKind::Drop)
        );
    }

    #[test]
    fn a_spike_then_its_level_shift_is_one_incident_and_a_shift_is_not_flagged_again() {
        // a daily series at 1000 that doubles from day 30 on
        let day = 86_400;
        let mut d = Detector::new(DetectorSettings::default(), day);
        let wobble = [4.0, -7.0, 9.0, -2.0, 6.0, -9.0, 1.0];
        let judged: Vec<(i64, f64, Verdict)> = (0..60)
            .map(|i| {
                let v = if i < 30 { 1000.0 } else { 2000.0 } + wobble[i as usize % 7];
                (i * day, v, d.observe(i * day, v))
            })
            .collect();
        let found = incidents(judged.iter().map(|(t, x, v)| (*t, *x, v)));
        assert_eq!(found.len(), 1, "one incident: {found:?}");
        assert_eq!(found[0].start, 30 * day);
        assert_eq!(found[0].kind, AnomalyKind::LevelShift);
        // the verdicts name it: the first point opens it, the others continue it
        assert_eq!(judged[30].2.incident, Some(30 * day));
        assert!(judged[31..=found[0].end as usize / day as usize]
            .iter()
            .all(|(_, _, v)| v.incident == Some(30 * day)));
        // after the shift the new level is normal
        assert!(judged[40..].iter().all(|(_, _, v)| !v.is_anomaly()));
    }
}
