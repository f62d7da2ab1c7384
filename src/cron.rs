//! Cron expressions (`schedules:` in assay.yml): the five fields of crontab(5), minute
//! hour day-of-month month day-of-week, in UTC, with lists, ranges, steps, month and day
//! names, and the `@hourly`-style shorthands. As in Vixie cron, when both day fields are
//! restricted a day matching either one fires.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

/// A parsed expression: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// both day fields were restricted: a day matching either fires
    either_day: bool,
}

/// Why an expression is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("a cron expression has five fields (minute hour day-of-month month day-of-week), this one has {0}")]
    Fields(usize),
    #[error("'{text}' is not a {field} (it takes {range})")]
    Value {
        field: &'static str,
        text: String,
        range: &'static str,
    },
    #[error("'{0}' is not a shorthand (@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)")]
    Shorthand(String),
    #[error("no date matches it (the days it names never fall in the months it names)")]
    Never,
}

struct CronField {
    name: &'static str,
    min: u32,
    max: u32,
    range: &'static str,
    names: &'static [&'static str],
}

const FIELDS: [CronField; 5] = [
    CronField {
        name: "minute",
        min: 0,
        max: 59,
        range: "0-59",
        names: &[],
    },
    CronField {
        name: "hour",
        min: 0,
        max: 23,
        range: "0-23",
        names: &[],
    },
    CronField {
        name: "day of the month",
        min: 1,
        max: 31,
        range: "1-31",
        names: &[],
    },
    CronField {
        name: "month",
        min: 1,
        max: 12,
        range: "1-12 or jan-dec",
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    CronField {
        name: "day of the week",
        min: 0,
        max: 7,
        range: "0-7 (0 and 7 are Sunday) or sun-sat",
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let text = text.trim();
        let expanded = match text.to_ascii_lowercase().as_str() {
            "@hourly" => "0 * * * *".to_string(),
            "@daily" | "@midnight" => "0 0 * * *".to_string(),
            "@weekly" => "0 0 * * 0".to_string(),
            "@monthly" => "0 0 1 * *".to_string(),
            "@yearly" | "@annually" => "0 0 1 1 *".to_string(),
            s if s.starts_with('@') => return Err(CronError::Shorthand(text.to_string())),
            _ => text.to_string(),
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(CronError::Fields(parts.len()));
        }
        let mut bits = [0u64; 5];
        for (i, (part, field)) in parts.iter().zip(&FIELDS).enumerate() {
            bits[i] = field_bits(part, field)?;
        }
        // 7 is Sunday too
        let weekdays = (bits[4] | (bits[4] >> 7)) as u8 & 0x7f;
        let restricted = |p: &str| !p.starts_with('*');
        let cron = Cron {
            minutes: bits[0],
            hours: bits[1] as u32,
            days: bits[2] as u32,
            months: bits[3] as u16,
            weekdays,
            either_day: restricted(parts[2]) && restricted(parts[4]),
        };
        if !cron.possible() {
            return Err(CronError::Never);
        }
        Ok(cron)
    }

    /// Some month it names has a day it names (30 February never comes). Only the
    /// day of the month can make a date impossible: any weekday comes every week.
    fn possible(&self) -> bool {
        if self.either_day {
            return true;
        }
        const LONGEST: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12).any(|m| {
            self.months & (1 << m) != 0
                && (1..=LONGEST[m as usize - 1]).any(|d| self.days & (1 << d) != 0)
        })
    }

    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let dom = self.days & (1 << t.day()) != 0;
        let dow = self.weekdays & (1 << t.weekday().num_days_from_sunday()) != 0;
        if self.either_day {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The first time after `t` (to the minute) that the expression names.
    pub fn next_after(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let start = t
            .with_second(0)
            .and_then(|x| x.with_nanosecond(0))
            .unwrap_or(t);
        let mut at = start + Duration::minutes(1);
        // `possible` holds, so a match comes within a leap-year cycle; each step below
        // moves to the next month, day, hour or minute that could match
        loop {
            if self.months & (1 << at.month()) == 0 {
                let (y, m) = if at.month() == 12 {
                    (at.year() + 1, 1)
                } else {
                    (at.year(), at.month() + 1)
                };
                at = Utc
                    .with_ymd_and_hms(y, m, 1, 0, 0, 0)
                    .single()
                    .unwrap_or(at);
            } else if !self.day_matches(&at) {
                at = (at + Duration::days(1))
                    .with_hour(0)
                    .and_then(|x| x.with_minute(0))
                    .unwrap_or(at);
            } else if self.hours & (1 << at.hour()) == 0 {
                at = (at + Duration::hours(1)).with_minute(0).unwrap_or(at);
            } else if self.minutes & (1 << at.minute()) == 0 {
                at += Duration::minutes(1);
            } else {
                return at;
            }
        }
    }

    /// The latest time after `since` and no later than `now` that the expression names:
    /// what a scheduler that last looked at `since` owes now (one run for many missed).
    pub fn due(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // a server down for long owes one run, not years of minutes to walk through
        let since = since.max(now - Duration::days(7));
        let mut last = None;
        let mut at = self.next_after(since);
        while at <= now {
            last = Some(at);
            at = self.next_after(at);
        }
        last
    }
}

/// The bits of one field: `*`, `*/n`, `a`, `a-b`, `a-b/n`, lists of them, names.
fn field_bits(text: &str, field: &CronField) -> Result<u64, CronError> {
    let bad = || CronError::Value {
        field: field.name,
        text: text.to_string(),
        range: field.range,
    };
    let value = |s: &str| -> Result<u32, CronError> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = field.names.iter().position(|n| *n == lower) {
            return Ok(i as u32 + if field.min == 1 { 1 } else { 0 });
        }
        match s.parse::<u32>() {
            Ok(n) if (field.min..=field.max).contains(&n) => Ok(n),
            _ => Err(bad()),
        }
    };
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => match s.parse::<u32>() {
                Ok(n) if n > 0 => (r, n),
                _ => return Err(bad()),
            },
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            // `5/15` is 5, 20, 35, 50 as in Vixie cron
            (v, if item.contains('/') { field.max } else { v })
        };
        if lo > hi {
            return Err(bad());
        }
        for v in (lo..=hi).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next(expr: &str, after: &str) -> String {
        Cron::parse(expr)
            .unwrap()
            .next_after(at(after))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    #[test]
    fn the_next_time_is_the_first_minute_the_fields_name() {
        assert_eq!(
            next("*/15 * * * *", "2026-03-01T06:07:30Z"),
            "2026-03-01T06:15:00Z"
        );
        assert_eq!(
            next("0 2 * * *", "2026-03-01T02:00:00Z"),
            "2026-03-02T02:00:00Z"
        );
        assert_eq!(
            next("30 6 1 * *", "2026-01-31T23:59:00Z"),
            "2026-02-01T06:30:00Z"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01T00:00:00Z"),
            "2028-02-29T00:00:00Z"
        );
        // 2026-03-02 is a Monday
        assert_eq!(
            next("0 9 * * mon-fri", "2026-02-28T10:00:00Z"),
            "2026-03-02T09:00:00Z"
        );
        assert_eq!(
            next("0 9 * * 7", "2026-03-02T10:00:00Z"),
            "2026-03-08T09:00:00Z"
        );
        assert_eq!(
            next("@monthly", "2026-12-15T00:00:00Z"),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            next("5/20 * * * *", "2026-03-01T06:06:00Z"),
            "2026-03-01T06:25:00Z"
        );
        assert_eq!(
            next("0 0 * DEC *", "2026-03-01T00:00:00Z"),
            "2026-12-01T00:00:00Z"
        );
    }

    /// Both day fields restricted: either may match (the 13th, or any Friday).
    #[test]
    fn two_restricted_day_fields_fire_on_either() {
        // 2026-03-06 is a Friday, before the 13th
        assert_eq!(
            next("0 0 13 * fri", "2026-03-01T00:00:00Z"),
            "2026-03-06T00:00:00Z"
        );
        assert_eq!(
            next("0 0 13 * *", "2026-03-01T00:00:00Z"),
            "2026-03-13T00:00:00Z"
        );
    }

    #[test]
    fn a_scheduler_owes_the_latest_missed_time_once() {
        let c = Cron::parse("0 * * * *").unwrap();
        let due = c.due(at("2026-03-01T01:30:00Z"), at("2026-03-01T05:10:00Z"));
        assert_eq!(due, Some(at("2026-03-01T05:00:00Z")));
        assert_eq!(
            c.due(at("2026-03-01T05:00:00Z"), at("2026-03-01T05:59:59Z")),
            None
        );
        // long down: still the latest one, found quickly
        let every_minute = Cron::parse("* * * * *").unwrap();
        let due = every_minute.due(at("2016-01-01T00:00:00Z"), at("2026-03-01T05:10:30Z"));
        assert_eq!(due, Some(at("2026-03-01T05:10:00Z")));
    }

    #[test]
    fn what_is_not_an_expression_is_refused_with_its_field() {
        assert_eq!(Cron::parse("* * * *"), Err(CronError::Fields(4)));
        assert!(matches!(
            Cron::parse("60 * * * *"),
            Err(CronError::Value {
                field: "minute",
                ..
            })
        ));
        assert!(matches!(
            Cron::parse("0 0 * foo *"),
            Err(CronError::Value { field: "month", .. })
        ));
        assert!(matches!(
            Cron::parse("*/0 * * * *"),
            Err(CronError::Value { .. })
        ));
        assert!(matches!(
            Cron::parse("5-1 * * * *"),
            Err(CronError::Value { .. })
        ));
        assert_eq!(Cron::parse("0 0 30 2 *"), Err(CronError::Never));
        assert_eq!(Cron::parse("0 0 31 4,6 *"), Err(CronError::Never));
        assert!(matches!(
            Cron::parse("@often"),
            Err(CronError::Shorthand(_))
        ));
    }
}
