//! Real, public metric series that ship inside registry packages (see
//! `benches/data/README.md` for where each comes from and its licence), with their
//! incidents labelled from the calendar (the days a public holiday moves the series) or
//! injected into them (pipeline incidents on real noise and seasons).

use crate::seeded::{inject, Rng, Shape};
use crate::series::{
    births_special_days, day_number, major_us_holidays, minor_us_holidays, weekday, Event,
    Incident, Series, DAY,
};

fn data(file: &str) -> String {
    let path = format!("{}/benches/data/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn seconds(text: &str) -> i64 {
    assay::timestamp::parse_timestamp(text)
        .unwrap_or_else(|| panic!("not a timestamp: {text}"))
        .timestamp()
}

/// Columns of a CSV with a timestamp first: (times, one vector per other column).
fn columns(file: &str) -> (Vec<String>, Vec<i64>, Vec<Vec<f64>>) {
    let text = data(file);
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("a header")
        .split(',')
        .skip(1)
        .map(str::to_string)
        .collect();
    let mut times = Vec::new();
    let mut values = vec![Vec::new(); header.len()];
    for line in lines.filter(|l| !l.is_empty()) {
        let mut cells = line.split(',');
        times.push(seconds(cells.next().expect("a timestamp")));
        for (column, cell) in values.iter_mut().zip(cells) {
            column.push(cell.parse::<f64>().expect("a number"));
        }
    }
    (header, times, values)
}

fn series(name: String, times: &[i64], values: Vec<f64>) -> Series {
    let step = times[1] - times[0];
    assert!(
        times.windows(2).all(|w| w[1] - w[0] == step),
        "{name}: evenly spaced"
    );
    Series {
        name,
        step,
        start: times[0],
        values,
        events: Vec::new(),
        ignored: Vec::new(),
    }
}

/// Label the major holidays that fall on a weekday as incidents (on a weekend they move
/// a series little), and ignore alarms on the minor ones.
fn label_holidays(s: &mut Series, years: std::ops::RangeInclusive<i32>) {
    for year in years {
        for (from, to) in major_us_holidays(year) {
            if (from..=to).any(|d| weekday(d) < 5) {
                s.label_days(from, to, Incident::Holiday);
            } else {
                s.ignore_days(from, to);
            }
        }
        for (from, to) in minor_us_holidays(year) {
            s.ignore_days(from, to);
        }
    }
    s.events.sort_by_key(|e| e.start);
}

/// Ignore alarms on every holiday, major or minor: a series used for its false alarms.
fn ignore_holidays(s: &mut Series, year: i32) {
    for (from, to) in major_us_holidays(year)
        .into_iter()
        .chain(minor_us_holidays(year))
    {
        s.ignore_days(from, to);
    }
}

/// Daily US births, one series a year (CDC NCHS 1994-2003, SSA 2004-2014): strong
/// day-of-week effects (fewer births at weekends), scheduled births moved away from
/// holidays. Each year starts cold, as a new table would. Weekday holidays are the
/// incidents; the other days known to move births are ignored (`births_special_days`).
pub fn births() -> Vec<Series> {
    let mut out = Vec::new();
    for file in ["us_births_cdc_1994_2003.csv", "us_births_ssa_2004_2014.csv"] {
        let (_, times, mut values) = columns(file);
        let values = values.remove(0);
        let first = chrono::DateTime::from_timestamp(times[0], 0).expect("a time");
        let last = chrono::DateTime::from_timestamp(times[times.len() - 1], 0).expect("a time");
        use chrono::Datelike;
        for year in first.year()..=last.year() {
            let (from, to) = (
                day_number(year, 1, 1) * DAY,
                day_number(year + 1, 1, 1) * DAY,
            );
            let idx: Vec<usize> = (0..times.len())
                .filter(|&i| times[i] >= from && times[i] < to)
                .collect();
            let mut s = series(
                format!("births {year}"),
                &times[idx[0]..=idx[idx.len() - 1]],
                idx.iter().map(|&i| values[i]).collect(),
            );
            label_holidays(&mut s, year..=year);
            for (from, to) in births_special_days(year) {
                s.ignore_days(from, to);
            }
            out.push(s);
        }
    }
    out
}

/// Hourly electricity load of California's grid in 2018 (CAISO: three utilities and the
/// total), a year each, holidays ignored: clean series. A holiday moves the load less
/// than a hot afternoon does, so the holidays are not the incidents here (see
/// `benches/data/README.md`).
pub fn load_2018() -> Vec<Series> {
    let (names, times, values) = columns("caiso_hourly_load_2018.csv");
    names
        .into_iter()
        .zip(values)
        .map(|(name, v)| {
            let mut s = series(format!("caiso {name} 2018"), &times, v);
            ignore_holidays(&mut s, 2018);
            s
        })
        .collect()
}

/// Slices of the real series, `days` long, one starting every `every` days; of each
/// three, two with pipeline incidents injected (seeded, as in `seeded.rs`: spikes,
/// drops, drops to zero, duplicate loads, level shifts; never on an ignored day) and one
/// left clean. Real noise, weather and calendar around incidents whose time is known.
pub fn with_incidents(years: &[Series], shape: Shape, every: usize) -> Vec<Series> {
    let mut out = Vec::new();
    for (n, s) in years.iter().enumerate() {
        let per_day = (DAY / s.step) as usize;
        let len = shape.points;
        let mut from = 0;
        let mut k = 0;
        while from + len <= s.values.len() {
            let mut part = s.slice(format!("{} from point {from}", s.name), from, from + len);
            if k % 3 != 2 {
                let mut rng = Rng(0x5EED_0000 + (n as u64) * 1000 + k as u64);
                let mut avoid: Vec<Event> = part
                    .ignored
                    .iter()
                    .map(|&(start, end)| Event {
                        start,
                        end,
                        kind: Incident::Holiday,
                    })
                    .collect();
                let known = avoid.len();
                inject(&mut rng, shape, &mut part.values, &mut avoid);
                part.events.extend(avoid.drain(known..));
                part.name = format!("{} (incidents)", part.name);
            }
            out.push(part);
            from += every * per_day;
            k += 1;
        }
    }
    out
}

/// Half-hourly electricity demand of England and Wales, 5 June to 27 August 2000 (no
/// bank holiday falls inside): a clean series, whole and in two-week parts.
pub fn demand_clean() -> Vec<Series> {
    let (_, times, mut values) = columns("taylor_halfhourly_demand_2000.csv");
    let whole = series("taylor 2000".into(), &times, values.remove(0));
    let per_day = (DAY / whole.step) as usize;
    let mut out: Vec<Series> = (0..whole.values.len() / (14 * per_day))
        .map(|k| {
            whole.slice(
                format!("taylor 2000, weeks {}-{}", 2 * k + 1, 2 * k + 2),
                k * 14 * per_day,
                (k + 1) * 14 * per_day,
            )
        })
        .collect();
    out.push(whole);
    out
}
