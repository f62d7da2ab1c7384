//! Seeded series that look like pipelines' row counts: a level with trend, a weekly
//! season whose daily shape differs by day (weekends later and flatter, Mondays busier),
//! Poisson noise on a wobbling rate, weekday holidays that look like a Sunday, and
//! injected incidents (spikes, drops, drops to zero, duplicate loads, level shifts).

use crate::series::{Event, Incident, Series, DAY, HOUR};

/// SplitMix64: small, seeded, the same everywhere.
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    /// A Poisson draw: exact (Knuth) for small means, normal above.
    fn poisson(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            return 0.0;
        }
        if mean > 50.0 {
            return (mean + mean.sqrt() * self.normal()).round().max(0.0);
        }
        let limit = (-mean).exp();
        let mut k = 0.0;
        let mut p = self.unit();
        while p > limit {
            k += 1.0;
            p *= self.unit();
        }
        k
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// The shape of a series: how long, how often, and from when incidents may come.
#[derive(Clone, Copy)]
pub struct Shape {
    pub hourly: bool,
    pub points: usize,
    /// the first point an incident may land on
    pub warmup: usize,
    /// points between incidents, at least
    pub gap: usize,
}

pub const DAILY: Shape = Shape {
    hourly: false,
    points: 200,
    warmup: 35,
    gap: 21,
};
pub const HOURLY: Shape = Shape {
    hourly: true,
    points: 24 * 63,
    warmup: 24 * 21,
    gap: 24 * 7,
};
/// Two weeks of hourly points with one incident from the third day on: a new table.
pub const HOURLY_NEW: Shape = Shape {
    hourly: true,
    points: 24 * 14,
    warmup: 24 * 2,
    gap: 24 * 20,
};

/// The season of an hourly or daily row count at time `t`: weekday shapes, weekend
/// shapes, each day of the week its own level.
struct Season {
    weekly: bool,
    weekend: f64,
    weekday_wobble: Vec<f64>,
    monday_morning: f64,
    night: f64,
    evening: f64,
    /// weekends start later and stay flatter: their day is this share of a weekday's
    weekend_peak: f64,
}

impl Season {
    fn new(rng: &mut Rng) -> Season {
        Season {
            weekly: rng.chance(0.7),
            weekend: rng.range(0.3, 0.8),
            weekday_wobble: (0..7).map(|_| rng.range(0.95, 1.05)).collect(),
            monday_morning: rng.range(1.0, 1.4),
            night: rng.range(0.05, 0.3),
            evening: rng.range(0.4, 0.8),
            weekend_peak: rng.range(0.6, 0.9),
        }
    }

    /// `as_sunday`: a holiday takes a Sunday's shape and level.
    fn at(&self, t: i64, hourly: bool, as_sunday: bool) -> f64 {
        let day = t.div_euclid(DAY);
        let weekday = if as_sunday {
            6
        } else {
            (day + 3).rem_euclid(7) as usize
        };
        let weekend = self.weekly && weekday >= 5;
        let mut f = 1.0;
        if self.weekly {
            f *= self.weekday_wobble[weekday];
            if weekend {
                f *= self.weekend;
            }
        }
        if hourly {
            let hour = t.rem_euclid(DAY) / HOUR;
            f *= if weekend {
                match hour {
                    0..=7 => self.night,
                    8..=10 => (self.night + self.weekend_peak) / 2.0,
                    11..=19 => self.weekend_peak,
                    _ => self.evening,
                }
            } else {
                match hour {
                    0..=5 => self.night,
                    6..=8 if weekday == 0 && self.weekly => self.monday_morning,
                    6..=8 => (self.night + 1.0) / 2.0,
                    9..=17 => 1.0,
                    _ => self.evening,
                }
            };
        }
        f
    }
}

/// A row-count series, clean or with incidents.
pub fn generate(seed: u64, shape: Shape, clean: bool) -> Series {
    let hourly = shape.hourly;
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ if hourly { 7 } else { 3 });
    let step = if hourly { HOUR } else { DAY };
    let len = shape.points;
    // 2025-01-06 was a Monday; start on any weekday
    let start = 1_736_121_600 + rng.below(7) as i64 * DAY;
    let base = rng.range(500f64.ln(), 2e6f64.ln()).exp() / if hourly { 24.0 } else { 1.0 };
    let growth = rng.range(-0.002, 0.004) / if hourly { 24.0 } else { 1.0 };
    let noise = rng.range(0.02, 0.06);
    let season = Season::new(&mut rng);
    // a weekday holiday or two, after the warm-up, on the series with a weekly season
    let days = (len as i64 * step) / DAY;
    let mut holidays: Vec<i64> = Vec::new();
    if !clean && season.weekly && days > 20 {
        for _ in 0..1 + rng.below(2) {
            let d = start.div_euclid(DAY)
                + (shape.warmup as i64 * step) / DAY
                + rng.below((days - (shape.warmup as i64 * step) / DAY - 2) as usize) as i64;
            if (d + 3).rem_euclid(7) < 5 && !holidays.contains(&d) {
                holidays.push(d);
            }
        }
    }
    let mut values: Vec<f64> = (0..len)
        .map(|i| {
            let t = start + i as i64 * step;
            let holiday = holidays.contains(&t.div_euclid(DAY));
            // rows arrive as a Poisson process whose rate itself wobbles from day to day
            let level = base * (1.0 + growth).powi(i as i32) * season.at(t, hourly, holiday);
            let rate = (level * (1.0 + noise * rng.normal())).max(0.0);
            rng.poisson(rate)
        })
        .collect();
    let mut events: Vec<Event> = holidays
        .iter()
        .map(|d| {
            let first = ((d * DAY - start) / step) as usize;
            let last = (((d + 1) * DAY - start) / step) as usize - 1;
            Event {
                start: first,
                end: last.min(len - 1),
                kind: Incident::Holiday,
            }
        })
        .collect();
    if !clean {
        inject(&mut rng, shape, &mut values, &mut events);
    }
    events.sort_by_key(|e| e.start);
    Series {
        name: format!("seed {seed}"),
        step,
        start,
        values,
        events,
        ignored: Vec::new(),
    }
}

/// Incidents, one to three, apart from each other and from holidays; a level shift last.
pub fn inject(rng: &mut Rng, shape: Shape, values: &mut [f64], events: &mut Vec<Event>) {
    let len = values.len();
    let count = 1 + rng.below(3);
    let mut onset = shape.warmup + rng.below(shape.gap.min(len - shape.warmup - 10));
    for _ in 0..count {
        if onset + 10 >= len {
            break;
        }
        if shape.hourly {
            // incidents land in working hours, where a load happens
            onset = onset - onset % 24 + 9 + rng.below(9);
        }
        let kind = [
            Incident::Spike,
            Incident::Drop,
            Incident::Zero,
            Incident::DuplicateLoad,
            Incident::LevelShift,
        ][rng.below(5)];
        let near_holiday = events
            .iter()
            .any(|e| onset + 24 >= e.start && onset <= e.end + 24);
        if near_holiday {
            onset += shape.gap;
            continue;
        }
        match kind {
            Incident::Spike => values[onset] *= rng.range(1.8, 3.0),
            Incident::Drop => values[onset] *= rng.range(0.15, 0.5),
            Incident::Zero => values[onset] = 0.0,
            Incident::DuplicateLoad => values[onset] *= 2.0,
            Incident::LevelShift => {
                let factor = if rng.chance(0.5) {
                    rng.range(0.4, 0.6)
                } else {
                    rng.range(1.6, 2.5)
                };
                for v in values.iter_mut().skip(onset) {
                    *v = (*v * factor).round();
                }
            }
            Incident::Holiday => unreachable!("holidays are placed before incidents"),
        }
        values[onset] = values[onset].round();
        // a level shift is hit when an alarm comes within 3 points of its onset, a point
        // out of line within one
        let end = if kind == Incident::LevelShift {
            onset + 3
        } else {
            onset + 1
        };
        events.push(Event {
            start: onset,
            end,
            kind,
        });
        if kind == Incident::LevelShift {
            break;
        }
        onset += shape.gap + rng.below(shape.gap);
    }
}
