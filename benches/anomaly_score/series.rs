//! A scored series: its points, the incidents labelled on it, and the windows where an
//! alarm is neither right nor wrong (a minor holiday a detector may or may not notice).

pub const DAY: i64 = 86_400;
pub const HOUR: i64 = 3_600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incident {
    Spike,
    Drop,
    Zero,
    DuplicateLoad,
    LevelShift,
    /// a public holiday on a weekday: the day looks like a Sunday
    Holiday,
}

impl Incident {
    /// One point out of line, the kinds a detector must flag at that very point.
    pub fn is_one_point(self) -> bool {
        matches!(
            self,
            Incident::Spike | Incident::Drop | Incident::Zero | Incident::DuplicateLoad
        )
    }
}

/// A labelled incident: points `start..=end` (an alarm touching them hits it).
#[derive(Clone, Debug)]
pub struct Event {
    pub start: usize,
    pub end: usize,
    pub kind: Incident,
}

pub struct Series {
    pub name: String,
    pub step: i64,
    /// UTC seconds of the first point
    pub start: i64,
    pub values: Vec<f64>,
    pub events: Vec<Event>,
    /// points where an alarm counts neither as a hit nor as a false alarm
    pub ignored: Vec<(usize, usize)>,
}

impl Series {
    pub fn at(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// Label the whole UTC days `from..=to` (days since 1970) as an incident, where the
    /// series has them.
    pub fn label_days(&mut self, from: i64, to: i64, kind: Incident) {
        if let Some((start, end)) = self.day_points(from, to) {
            self.events.push(Event { start, end, kind });
        }
    }

    /// Alarms on the days `from..=to` count neither way.
    pub fn ignore_days(&mut self, from: i64, to: i64) {
        if let Some(window) = self.day_points(from, to) {
            self.ignored.push(window);
        }
    }

    fn day_points(&self, from: i64, to: i64) -> Option<(usize, usize)> {
        let first = (0..self.values.len()).find(|&i| self.at(i).div_euclid(DAY) >= from)?;
        let last = (0..self.values.len())
            .rev()
            .find(|&i| self.at(i).div_euclid(DAY) <= to)?;
        (first <= last).then_some((first, last))
    }

    /// Points `from..to` as a series of their own, with the labels inside them.
    pub fn slice(&self, name: String, from: usize, to: usize) -> Series {
        let inside = |a: usize, b: usize| a >= from && b < to;
        Series {
            name,
            step: self.step,
            start: self.at(from),
            values: self.values[from..to].to_vec(),
            events: self
                .events
                .iter()
                .filter(|e| inside(e.start, e.end))
                .map(|e| Event {
                    start: e.start - from,
                    end: e.end - from,
                    kind: e.kind,
                })
                .collect(),
            ignored: self
                .ignored
                .iter()
                .filter(|(a, b)| inside(*a, *b))
                .map(|(a, b)| (a - from, b - from))
                .collect(),
        }
    }
}

/// Days since 1970 of a calendar date.
pub fn day_number(year: i32, month: u32, day: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(year, month, day)
        .expect("a calendar date")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
        .div_euclid(DAY)
}

/// Monday = 0 .. Sunday = 6 (1970-01-01 was a Thursday).
pub fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// The `n`th (1-based) `weekday` of a month, or the last one when `n` is 0.
pub fn nth_weekday(year: i32, month: u32, wd: i64, n: u32) -> i64 {
    let first = day_number(year, month, 1);
    let first_match = first + (wd - weekday(first)).rem_euclid(7);
    if n > 0 {
        return first_match + 7 * (n as i64 - 1);
    }
    let next = if month == 12 {
        day_number(year + 1, 1, 1)
    } else {
        day_number(year, month + 1, 1)
    };
    let last = next - 1;
    last - (weekday(last) - wd).rem_euclid(7)
}

/// The US holidays that move many pipelines (births scheduled around them, offices
/// closed, load like a Sunday's): (first day, last day), days since 1970.
pub fn major_us_holidays(year: i32) -> Vec<(i64, i64)> {
    let thanksgiving = nth_weekday(year, 11, 3, 4);
    vec![
        (nth_weekday(year, 5, 0, 0), nth_weekday(year, 5, 0, 0)), // Memorial Day
        independence_day(year),
        (nth_weekday(year, 9, 0, 1), nth_weekday(year, 9, 0, 1)), // Labor Day
        (thanksgiving, thanksgiving + 1),                         // and the Friday after
        (day_number(year, 12, 24), day_number(year, 12, 26)),
    ]
}

/// Holidays that some pipelines keep and others do not (Martin Luther King Jr. Day,
/// Presidents' Day, Columbus Day, Veterans Day, New Year's Eve): an alarm there is
/// neither a hit nor a false alarm.
/// July 4th, with the day it is observed on when it falls on a weekend (Friday the 3rd,
/// Monday the 5th).
fn independence_day(year: i32) -> (i64, i64) {
    let day = day_number(year, 7, 4);
    match weekday(day) {
        5 => (day - 1, day),
        6 => (day, day + 1),
        _ => (day, day),
    }
}

/// Easter Sunday (the anonymous Gregorian computus).
pub fn easter(year: i32) -> i64 {
    let (a, b, c) = (year % 19, year / 100, year % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    day_number(year, month as u32, day as u32)
}

/// Days on which scheduled births (inductions, caesareans) are known to move, beside the
/// holidays themselves: Valentine's Day, April Fools' Day, Halloween, leap day, Friday
/// the 13th, Good Friday, September 11th (from 2002), dates whose month and day repeat
/// (9/9, 12/12) or run on with the year (11/12/13), and the days around Thanksgiving
/// and between Christmas and New Year that take the births the holidays move. Public
/// knowledge of the births data (Gelman et al., "Bayesian Data Analysis", 3rd ed.,
/// section 21.2, and the analyses that followed it), fixed before assay was scored.
pub fn births_special_days(year: i32) -> Vec<(i64, i64)> {
    let mut days = vec![
        (day_number(year, 2, 14), day_number(year, 2, 14)),
        (day_number(year, 4, 1), day_number(year, 4, 1)),
        (day_number(year, 10, 31), day_number(year, 10, 31)),
        (easter(year) - 2, easter(year) - 2),
    ];
    if chrono::NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        days.push((day_number(year, 2, 29), day_number(year, 2, 29)));
    }
    if year >= 2002 {
        days.push((day_number(year, 9, 11), day_number(year, 9, 11)));
    }
    for month in 1..=12u32 {
        let thirteenth = day_number(year, month, 13);
        if weekday(thirteenth) == 4 {
            days.push((thirteenth, thirteenth));
        }
        days.push((
            day_number(year, month, month),
            day_number(year, month, month),
        ));
        let yy = year.rem_euclid(100) as u32;
        if month <= 11 && yy == month + 2 {
            days.push((
                day_number(year, month, month + 1),
                day_number(year, month, month + 1),
            ));
        }
    }
    let thanksgiving = nth_weekday(year, 11, 3, 4);
    days.push((thanksgiving - 3, thanksgiving - 1));
    days.push((thanksgiving + 2, thanksgiving + 4));
    days.push((day_number(year, 12, 20), day_number(year, 12, 23)));
    days.push((day_number(year, 12, 27), day_number(year, 12, 31)));
    days.push((day_number(year, 1, 1), day_number(year, 1, 3)));
    days
}

pub fn minor_us_holidays(year: i32) -> Vec<(i64, i64)> {
    let veterans = day_number(year, 11, 11);
    let veterans = match weekday(veterans) {
        5 => veterans - 1,
        6 => veterans + 1,
        _ => veterans,
    };
    [
        nth_weekday(year, 1, 0, 3),
        nth_weekday(year, 2, 0, 3),
        nth_weekday(year, 10, 0, 2),
        veterans,
        day_number(year, 12, 31),
    ]
    .into_iter()
    .map(|d| (d, d))
    .collect()
}

/// The calendar above, checked against dates known from elsewhere before anything is
/// scored with it.
pub fn check_calendar() {
    let h = major_us_holidays(2018);
    assert_eq!(h[0].0, day_number(2018, 5, 28), "Memorial Day 2018");
    assert_eq!(h[2].0, day_number(2018, 9, 3), "Labor Day 2018");
    assert_eq!(h[3].0, day_number(2018, 11, 22), "Thanksgiving 2018");
    let m = minor_us_holidays(2018);
    assert_eq!(
        m[0].0,
        day_number(2018, 1, 15),
        "Martin Luther King Jr. Day 2018"
    );
    assert_eq!(
        m[3].0,
        day_number(2018, 11, 12),
        "Veterans Day 2018, observed"
    );
    assert_eq!(
        weekday(day_number(2018, 12, 25)),
        1,
        "2018-12-25 was a Tuesday"
    );
    assert_eq!(easter(2018), day_number(2018, 4, 1), "Easter 2018");
    assert_eq!(easter(2012), day_number(2012, 4, 8), "Easter 2012");
    assert_eq!(
        major_us_holidays(2004)[1],
        (day_number(2004, 7, 4), day_number(2004, 7, 5)),
        "July 4th 2004, a Sunday, observed on Monday"
    );
}
