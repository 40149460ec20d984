//! Business calendars and business-time arithmetic.
//!
//! A calendar is an IANA time zone, weekly open hours (several intervals a day, written in
//! local wall-clock time) and holidays (a date, optionally recurring every year).
//!
//! An open interval `[s, e)` on local date D is the span of real time from the first instant
//! the wall clock reads D+s (or later) to the first instant it reads D+e (or later):
//! - business time is the real elapsed time inside those spans, so an interval across a DST
//!   change is as long as the clock really ran (00:00–06:00 is 5 h on the spring-forward
//!   night and 7 h on the fall-back night);
//! - a boundary at a local time that does not exist is skipped forward to the end of the gap;
//! - a boundary at a repeated local time counts once: its first occurrence.
//!
//! Equivalently (this is what the brute-force oracle in the tests checks), an instant is
//! open when the highest wall-clock time reached so far lies inside an open interval.
//! Calendar time (no calendar) is plain elapsed time.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Minutes in a day: the end of an interval that runs until midnight.
pub const DAY_MINUTES: u16 = 1440;
/// How far ahead a deadline is searched before giving up (a calendar that is never open).
const HORIZON_DAYS: i64 = 3700;

/// Open hours on one weekday: `start` and `end` in minutes after local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInterval {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    pub start: u16,
    pub end: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    pub date: NaiveDate,
    /// Recurs on the same month and day every year.
    #[serde(default)]
    pub yearly: bool,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    pub tz: Tz,
    /// Open intervals per weekday (Monday first), sorted and non-overlapping.
    week: [Vec<(u16, u16)>; 7],
    holidays: Vec<Holiday>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown time zone {0:?}; use an IANA name such as Europe/London")]
    UnknownZone(String),
    #[error("weekday must be 0 (Monday) to 6 (Sunday)")]
    Weekday,
    #[error("open hours must start before they end, within 00:00–24:00")]
    Bounds,
    #[error("open hours on one day must not overlap")]
    Overlap,
}

impl BusinessCalendar {
    pub fn new(zone: &str, hours: &[OpenInterval], holidays: Vec<Holiday>) -> Result<Self, CalendarError> {
        let tz: Tz = zone.parse().map_err(|_| CalendarError::UnknownZone(zone.to_string()))?;
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for iv in hours {
            if iv.weekday > 6 {
                return Err(CalendarError::Weekday);
            }
            if iv.start >= iv.end || iv.end > DAY_MINUTES {
                return Err(CalendarError::Bounds);
            }
            week[iv.weekday as usize].push((iv.start, iv.end));
        }
        for day in &mut week {
            day.sort_unstable();
            if day.windows(2).any(|w| w[0].1 > w[1].0) {
                return Err(CalendarError::Overlap);
            }
        }
        Ok(BusinessCalendar { tz, week, holidays })
    }

    /// The same hours on Monday to Friday.
    pub fn weekdays(zone: &str, start: u16, end: u16, holidays: Vec<Holiday>) -> Result<Self, CalendarError> {
        let hours: Vec<OpenInterval> = (0..5).map(|weekday| OpenInterval { weekday, start, end }).collect();
        Self::new(zone, &hours, holidays)
    }

    pub fn is_holiday(&self, d: NaiveDate) -> bool {
        self.holidays
            .iter()
            .any(|h| h.date == d || (h.yearly && h.date.month() == d.month() && h.date.day() == d.day()))
    }

    /// The first instant whose local wall-clock time is `w` or later: the earliest occurrence
    /// of a repeated time, the end of the gap for a time that does not exist.
    pub fn resolve(&self, w: NaiveDateTime) -> DateTime<Utc> {
        if let Some(t) = self.tz.from_local_datetime(&w).earliest() {
            return t.with_timezone(&Utc);
        }
        // In a DST gap: the gap ends at the first wall-clock minute that exists (every
        // transition since 1970 falls on a whole minute).
        let mut c = w;
        for _ in 0..(2 * DAY_MINUTES) {
            c += Duration::minutes(1);
            if let Some(t) = self.tz.from_local_datetime(&c).earliest() {
                return t.with_timezone(&Utc);
            }
        }
        w.and_utc()
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The real spans of the open intervals of local date `d`, in order.
    fn spans(&self, d: NaiveDate) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let open = !self.is_holiday(d);
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        self.week[d.weekday().num_days_from_monday() as usize].iter().filter(move |_| open).map(move |&(s, e)| {
            (
                self.resolve(midnight + Duration::minutes(i64::from(s))),
                self.resolve(midnight + Duration::minutes(i64::from(e))),
            )
        })
    }

    /// Business time in `[a, b)`.
    pub fn between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if b <= a {
            return total;
        }
        let last = self.local_date(b) + Duration::days(1);
        let mut d = self.local_date(a) - Duration::days(1);
        while d <= last {
            for (s, e) in self.spans(d) {
                let (s, e) = (s.max(a), e.min(b));
                if s < e {
                    total += e - s;
                }
            }
            d += Duration::days(1);
        }
        total
    }

    /// The instant at which `amount` of business time has passed since `start`; `None` when
    /// the calendar is not open that long within ten years.
    pub fn add(&self, start: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        if amount <= Duration::zero() {
            return Some(start);
        }
        let mut remaining = amount;
        let first = self.local_date(start) - Duration::days(1);
        for i in 0..HORIZON_DAYS {
            let d = first + Duration::days(i);
            for (s, e) in self.spans(d) {
                let s = s.max(start);
                if s >= e {
                    continue;
                }
                let open = e - s;
                if open >= remaining {
                    return Some(s + remaining);
                }
                remaining -= open;
            }
        }
        None
    }
}

/// Whole business minutes in `[a, b)`; with no calendar, calendar minutes.
pub fn business_minutes_between(cal: Option<&BusinessCalendar>, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    elapsed(cal, a, b).num_seconds().div_euclid(60)
}

/// The instant `minutes` business minutes after `start`.
pub fn deadline(cal: Option<&BusinessCalendar>, start: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
    add(cal, start, Duration::minutes(minutes))
}

/// Business (or calendar) time in `[a, b)`.
pub fn elapsed(cal: Option<&BusinessCalendar>, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
    match cal {
        Some(c) => c.between(a, b),
        None if b > a => b - a,
        None => Duration::zero(),
    }
}

pub fn add(cal: Option<&BusinessCalendar>, start: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
    match cal {
        Some(c) => c.add(start, amount),
        None => Some(start + amount.max(Duration::zero())),
    }
}

/// A stretch of time a clock ran: `end` is `None` while it still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// Business time a clock has run until `now`, over all its segments.
pub fn run_time(cal: Option<&BusinessCalendar>, segments: &[Segment], now: DateTime<Utc>) -> Duration {
    segments.iter().map(|s| elapsed(cal, s.start, s.end.unwrap_or(now).min(now))).fold(Duration::zero(), |a, b| a + b)
}

/// When the clock's run time reaches `amount`: inside a closed segment (in the past), or
/// projected from the running one; `None` if it stopped short of it (paused) or never opens.
pub fn crossing(cal: Option<&BusinessCalendar>, segments: &[Segment], amount: Duration) -> Option<DateTime<Utc>> {
    let mut remaining = amount;
    for s in segments {
        match s.end {
            Some(end) => {
                let ran = elapsed(cal, s.start, end);
                if ran >= remaining {
                    return add(cal, s.start, remaining);
                }
                remaining -= ran;
            }
            None => return add(cal, s.start, remaining),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn nine_to_five(zone: &str) -> BusinessCalendar {
        BusinessCalendar::weekdays(zone, 9 * 60, 17 * 60, vec![]).unwrap()
    }

    fn all_day(zone: &str) -> BusinessCalendar {
        let hours: Vec<OpenInterval> = (0..7).map(|weekday| OpenInterval { weekday, start: 0, end: 1440 }).collect();
        BusinessCalendar::new(zone, &hours, vec![]).unwrap()
    }

    fn night(zone: &str) -> BusinessCalendar {
        // 00:00–06:00 every day: spans the 01:00–03:00 DST changes.
        let hours: Vec<OpenInterval> = (0..7).map(|weekday| OpenInterval { weekday, start: 0, end: 360 }).collect();
        BusinessCalendar::new(zone, &hours, vec![]).unwrap()
    }

    #[test]
    fn friday_afternoon_rolls_over_the_weekend() {
        let cal = nine_to_five("UTC");
        // Friday 2026-11-27 16:00 + 8 business hours = Monday 16:00.
        let due = deadline(Some(&cal), utc("2026-11-27T16:00:00Z"), 8 * 60).unwrap();
        assert_eq!(due, utc("2026-11-30T16:00:00Z"));
        assert_eq!(business_minutes_between(Some(&cal), utc("2026-11-27T16:00:00Z"), due), 480);
    }

    #[test]
    fn nights_do_not_count() {
        let cal = nine_to_five("Europe/Berlin");
        // Tue 16:30 CET + 60 min = Wed 09:30 CET (08:30 UTC).
        let due = deadline(Some(&cal), utc("2026-12-01T15:30:00Z"), 60).unwrap();
        assert_eq!(due, utc("2026-12-02T08:30:00Z"));
        // Started at night: the clock starts at opening time.
        let due = deadline(Some(&cal), utc("2026-12-01T22:00:00Z"), 30).unwrap();
        assert_eq!(due, utc("2026-12-02T08:30:00Z"));
        assert_eq!(business_minutes_between(Some(&cal), utc("2026-12-01T17:00:00Z"), utc("2026-12-02T07:59:00Z")), 0);
    }

    #[test]
    fn multi_interval_days_skip_lunch() {
        let hours = vec![
            OpenInterval { weekday: 0, start: 8 * 60, end: 12 * 60 },
            OpenInterval { weekday: 0, start: 13 * 60, end: 17 * 60 },
            OpenInterval { weekday: 1, start: 8 * 60, end: 12 * 60 },
            OpenInterval { weekday: 1, start: 13 * 60, end: 17 * 60 },
        ];
        let cal = BusinessCalendar::new("UTC", &hours, vec![]).unwrap();
        // Monday 2026-11-30 11:30 + 60 = 13:30 (lunch skipped).
        assert_eq!(deadline(Some(&cal), utc("2026-11-30T11:30:00Z"), 60).unwrap(), utc("2026-11-30T13:30:00Z"));
        // Monday 16:00 + 8 h: 1 h Monday, 7 h Tuesday → Tuesday 16:00; then Wednesday closed → next Monday.
        assert_eq!(deadline(Some(&cal), utc("2026-11-30T16:00:00Z"), 480).unwrap(), utc("2026-12-01T16:00:00Z"));
        assert_eq!(deadline(Some(&cal), utc("2026-11-30T16:00:00Z"), 540).unwrap(), utc("2026-12-01T17:00:00Z"));
        assert_eq!(deadline(Some(&cal), utc("2026-11-30T16:00:00Z"), 541).unwrap(), utc("2026-12-07T08:01:00Z"));
        assert_eq!(business_minutes_between(Some(&cal), utc("2026-11-30T00:00:00Z"), utc("2026-12-01T00:00:00Z")), 480);
    }

    #[test]
    fn holidays_and_yearly_holidays() {
        let holidays = vec![
            Holiday { date: NaiveDate::from_ymd_opt(2020, 12, 25).unwrap(), yearly: true, name: "Christmas".into() },
            Holiday { date: NaiveDate::from_ymd_opt(2020, 12, 26).unwrap(), yearly: true, name: "Boxing Day".into() },
            Holiday { date: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(), yearly: true, name: "New Year".into() },
            Holiday { date: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(), yearly: false, name: "once".into() },
        ];
        let cal = BusinessCalendar::weekdays("Europe/London", 9 * 60, 17 * 60, holidays).unwrap();
        assert!(cal.is_holiday(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()));
        assert!(!cal.is_holiday(NaiveDate::from_ymd_opt(2027, 12, 31).unwrap()), "a one-off holiday does not recur");
        // Target across the year end: Wed 2026-12-23 16:00 + 16 business hours.
        // Wed 1 h, Thu 24th 8 h, Fri 25th holiday, weekend, Mon 28th 7 h → Mon 16:00.
        let due = deadline(Some(&cal), utc("2026-12-23T16:00:00Z"), 16 * 60).unwrap();
        assert_eq!(due, utc("2026-12-28T16:00:00Z"));
        // Mon 1 h, Tue 29th and Wed 30th full, then Thu 31st (one-off holiday), Fri 1st (new
        // year), the weekend: the last minute lands on Mon 4th.
        let due = deadline(Some(&cal), utc("2026-12-28T16:00:00Z"), 2 * 480 + 61).unwrap();
        assert_eq!(due, utc("2027-01-04T09:01:00Z"));
        assert_eq!(
            business_minutes_between(Some(&cal), utc("2026-12-24T00:00:00Z"), utc("2027-01-05T00:00:00Z")),
            5 * 480
        );
    }

    #[test]
    fn london_spring_forward_and_fall_back() {
        let cal = night("Europe/London");
        // 2026-03-29: 01:00 GMT jumps to 02:00 BST; local 00:00–06:00 ran 5 real hours.
        let day = |d: &str| utc(&format!("{d}T00:00:00Z")) - Duration::hours(1);
        assert_eq!(business_minutes_between(Some(&cal), utc("2026-03-29T00:00:00Z"), utc("2026-03-29T12:00:00Z")), 300);
        assert_eq!(business_minutes_between(Some(&cal), utc("2026-03-28T00:00:00Z"), utc("2026-03-28T12:00:00Z")), 360);
        // 2026-10-25: 02:00 BST falls back to 01:00 GMT; local 00:00–06:00 ran 7 real hours.
        assert_eq!(business_minutes_between(Some(&cal), day("2026-10-25"), day("2026-10-26")), 420);
        // A 6-hour target started at local midnight of the fall-back night ends at 05:00 GMT.
        assert_eq!(deadline(Some(&cal), utc("2026-10-24T23:00:00Z"), 360).unwrap(), utc("2026-10-25T05:00:00Z"));
        // …and on the spring-forward night it needs an hour of the next night.
        assert_eq!(deadline(Some(&cal), utc("2026-03-29T00:00:00Z"), 360).unwrap(), utc("2026-03-30T00:00:00Z"));
        // Wall-clock 9–17 never touches the change: 8 hours either side of it.
        let work = nine_to_five("Europe/London");
        assert_eq!(
            business_minutes_between(Some(&work), utc("2026-03-27T00:00:00Z"), utc("2026-03-31T00:00:00Z")),
            2 * 480
        );
        assert_eq!(deadline(Some(&work), utc("2026-03-27T16:00:00Z"), 120).unwrap(), utc("2026-03-30T09:00:00Z"));
    }

    #[test]
    fn a_boundary_inside_the_gap_is_skipped_and_a_repeated_one_counts_once() {
        // Open 01:30–02:30 every day in London.
        let hours: Vec<OpenInterval> = (0..7).map(|weekday| OpenInterval { weekday, start: 90, end: 150 }).collect();
        let cal = BusinessCalendar::new("Europe/London", &hours, vec![]).unwrap();
        // Spring forward: 01:30 GMT → at 01:00 GMT it becomes 02:00 BST; 02:30 BST is 01:30 GMT: 30 min.
        assert_eq!(business_minutes_between(Some(&cal), utc("2026-03-29T00:00:00Z"), utc("2026-03-29T12:00:00Z")), 30);
        // Fall back: first 01:30 BST (00:30 UTC) to 02:30 GMT (02:30 UTC): 2 real hours, opened once.
        assert_eq!(business_minutes_between(Some(&cal), utc("2026-10-25T00:00:00Z"), utc("2026-10-25T12:00:00Z")), 120);
        assert_eq!(deadline(Some(&cal), utc("2026-10-24T20:00:00Z"), 90).unwrap(), utc("2026-10-25T02:00:00Z"));
    }

    #[test]
    fn chicago_dst_changes() {
        let cal = all_day("America/Chicago");
        // 2026-03-08: 02:00 CST → 03:00 CDT. Local day is 23 h long.
        assert_eq!(
            business_minutes_between(Some(&cal), utc("2026-03-08T06:00:00Z"), utc("2026-03-09T05:00:00Z")),
            23 * 60
        );
        // 2026-11-01: 02:00 CDT → 01:00 CST. Local day is 25 h long: all of it counts.
        assert_eq!(
            business_minutes_between(Some(&cal), utc("2026-11-01T05:00:00Z"), utc("2026-11-02T06:00:00Z")),
            25 * 60
        );
        let work = nine_to_five("America/Chicago");
        // Friday 2026-10-30 16:00 CDT (21:00 UTC) + 2 h = Monday 2026-11-02 10:00 CST (16:00 UTC).
        assert_eq!(deadline(Some(&work), utc("2026-10-30T21:00:00Z"), 120).unwrap(), utc("2026-11-02T16:00:00Z"));
        // Friday 2026-03-06 16:00 CST (22:00 UTC) + 2 h = Monday 10:00 CDT (15:00 UTC).
        assert_eq!(deadline(Some(&work), utc("2026-03-06T22:00:00Z"), 120).unwrap(), utc("2026-03-09T15:00:00Z"));
    }

    #[test]
    fn adelaide_half_hour_offset_and_dst() {
        let work = nine_to_five("Australia/Adelaide");
        // 2026-07-06 (winter, UTC+9:30): Monday 09:00 ACST = Sunday 23:30 UTC.
        assert_eq!(deadline(Some(&work), utc("2026-07-05T12:00:00Z"), 1).unwrap(), utc("2026-07-05T23:31:00Z"));
        // Friday 2026-07-10 16:00 ACST (06:30 UTC) + 120 = Monday 10:00 (00:30 UTC).
        assert_eq!(deadline(Some(&work), utc("2026-07-10T06:30:00Z"), 120).unwrap(), utc("2026-07-13T00:30:00Z"));
        // DST starts 2026-10-04 02:00 → 03:00 (UTC+10:30). Friday 2026-10-02 16:00 ACST (06:30 UTC)
        // + 120 = Monday 2026-10-05 10:00 ACDT (23:30 UTC Sunday).
        assert_eq!(deadline(Some(&work), utc("2026-10-02T06:30:00Z"), 120).unwrap(), utc("2026-10-04T23:30:00Z"));
        let cal = night("Australia/Adelaide");
        // DST ends 2026-04-05 03:00 ACDT → 02:00 ACST: 00:00–06:00 ran 7 hours.
        assert_eq!(business_minutes_between(Some(&cal), utc("2026-04-04T12:00:00Z"), utc("2026-04-05T12:00:00Z")), 420);
    }

    #[test]
    fn paused_stretches_outside_business_hours_change_nothing() {
        let cal = nine_to_five("UTC");
        let start = utc("2026-11-27T16:00:00Z"); // Friday 16:00
        let uninterrupted = vec![Segment { start, end: None }];
        // Paused Friday 18:00 (closed) until Monday 08:00 (closed): nothing lost, nothing added.
        let paused = vec![
            Segment { start, end: Some(utc("2026-11-27T18:00:00Z")) },
            Segment { start: utc("2026-11-30T08:00:00Z"), end: None },
        ];
        let target = Duration::hours(4);
        assert_eq!(crossing(Some(&cal), &uninterrupted, target), crossing(Some(&cal), &paused, target));
        assert_eq!(crossing(Some(&cal), &paused, target).unwrap(), utc("2026-11-30T12:00:00Z"));
        // Paused inside business hours Monday 10:00–11:30: the deadline moves by 90 minutes.
        let mid = vec![
            Segment { start, end: Some(utc("2026-11-30T10:00:00Z")) },
            Segment { start: utc("2026-11-30T11:30:00Z"), end: None },
        ];
        assert_eq!(crossing(Some(&cal), &mid, target).unwrap(), utc("2026-11-30T13:30:00Z"));
        // A pause that started Saturday and ended Sunday on a paused clock: run time unchanged.
        let now = utc("2026-11-30T12:00:00Z");
        assert_eq!(run_time(Some(&cal), &paused, now), Duration::hours(4));
        // A crossing inside a closed segment is found in the past.
        let closed = vec![Segment { start, end: Some(utc("2026-11-30T15:00:00Z")) }];
        assert_eq!(crossing(Some(&cal), &closed, target).unwrap(), utc("2026-11-30T12:00:00Z"));
        assert_eq!(crossing(Some(&cal), &closed, Duration::hours(10)), None);
    }

    #[test]
    fn calendar_time_is_plain_elapsed_time() {
        let start = utc("2026-10-24T12:00:00Z");
        assert_eq!(deadline(None, start, 24 * 60).unwrap(), utc("2026-10-25T12:00:00Z"));
        assert_eq!(business_minutes_between(None, start, utc("2026-10-25T12:00:00Z")), 1440);
    }

    #[test]
    fn invalid_calendars_are_refused() {
        assert!(matches!(
            BusinessCalendar::weekdays("Mars/Olympus", 0, 60, vec![]),
            Err(CalendarError::UnknownZone(_))
        ));
        assert_eq!(BusinessCalendar::weekdays("UTC", 60, 60, vec![]).err(), Some(CalendarError::Bounds));
        let overlap =
            [OpenInterval { weekday: 0, start: 0, end: 120 }, OpenInterval { weekday: 0, start: 60, end: 180 }];
        assert_eq!(BusinessCalendar::new("UTC", &overlap, vec![]).err(), Some(CalendarError::Overlap));
        let never = BusinessCalendar::new("UTC", &[], vec![]).unwrap();
        assert_eq!(deadline(Some(&never), utc("2026-01-01T00:00:00Z"), 1), None);
    }

    // ------------------------------------------------------------ brute-force oracle

    /// Minute by minute: a real minute is open when the highest wall-clock minute reached so
    /// far lies in an open interval of its day (and that day is no holiday).
    struct Oracle<'a> {
        cal: &'a BusinessCalendar,
        hours: &'a [OpenInterval],
        t: DateTime<Utc>,
        high: NaiveDateTime,
    }

    impl<'a> Oracle<'a> {
        fn new(cal: &'a BusinessCalendar, hours: &'a [OpenInterval], start: DateTime<Utc>) -> Self {
            // Walk in from two days before so the high-water mark is settled.
            let mut o = Oracle { cal, hours, t: start - Duration::days(2), high: NaiveDateTime::MIN };
            while o.t < start {
                o.step();
            }
            o
        }
        fn wall(&self) -> NaiveDateTime {
            self.t.with_timezone(&self.cal.tz).naive_local()
        }
        /// Is the minute starting at `self.t` open? Then move to the next minute.
        fn step(&mut self) -> bool {
            self.high = self.high.max(self.wall());
            let d = self.high.date();
            let m = (self.high - d.and_hms_opt(0, 0, 0).unwrap()).num_minutes() as u16;
            let wd = d.weekday().num_days_from_monday() as u8;
            let open =
                !self.cal.is_holiday(d) && self.hours.iter().any(|iv| iv.weekday == wd && iv.start <= m && m < iv.end);
            self.t += Duration::minutes(1);
            open
        }
    }

    const ZONES: &[&str] = &[
        "Europe/London",
        "America/Chicago",
        "Australia/Adelaide",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "America/Havana",
        "America/Santiago",
        "UTC",
    ];

    fn calendar_strategy() -> impl Strategy<Value = (String, Vec<OpenInterval>, Vec<Holiday>)> {
        let zone = proptest::sample::select(ZONES).prop_map(str::to_string);
        // Per weekday up to three intervals on a 15-minute grid (boundaries often land in DST gaps).
        let day = proptest::collection::vec((0u16..96, 4u16..40), 0..3);
        let week = proptest::collection::vec(day, 7);
        let holidays = proptest::collection::vec((0i64..120, any::<bool>()), 0..4);
        (zone, week, holidays).prop_map(|(zone, week, hol)| {
            let mut hours = Vec::new();
            for (wd, day) in week.into_iter().enumerate() {
                let mut ivs: Vec<(u16, u16)> =
                    day.into_iter().map(|(s, len)| (s * 15, (s * 15 + len * 15).min(DAY_MINUTES))).collect();
                ivs.sort_unstable();
                let mut last_end = 0;
                for (s, e) in ivs {
                    let s = s.max(last_end);
                    if s < e {
                        hours.push(OpenInterval { weekday: wd as u8, start: s, end: e });
                        last_end = e;
                    }
                }
            }
            if hours.is_empty() {
                hours.push(OpenInterval { weekday: 2, start: 0, end: 600 });
            }
            let base = NaiveDate::from_ymd_opt(2026, 2, 20).unwrap();
            let holidays = hol
                .into_iter()
                .map(|(d, yearly)| Holiday { date: base + Duration::days(d), yearly, name: String::new() })
                .collect();
            (zone, hours, holidays)
        })
    }

    /// Starts around the 2026 DST changes of the zones above (March/April and October/November).
    fn start_strategy() -> impl Strategy<Value = DateTime<Utc>> {
        let anchors = [
            utc("2026-03-06T00:00:00Z"),
            utc("2026-03-26T00:00:00Z"),
            utc("2026-04-02T00:00:00Z"),
            utc("2026-09-03T00:00:00Z"),
            utc("2026-10-01T00:00:00Z"),
            utc("2026-10-22T00:00:00Z"),
            utc("2026-10-29T00:00:00Z"),
        ];
        (proptest::sample::select(anchors.to_vec()), 0i64..(5 * 1440)).prop_map(|(a, m)| a + Duration::minutes(m))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn deadline_matches_minute_by_minute_oracle(
            (zone, hours, holidays) in calendar_strategy(),
            start in start_strategy(),
            target in 1i64..1500,
        ) {
            let cal = BusinessCalendar::new(&zone, &hours, holidays).unwrap();
            let due = deadline(Some(&cal), start, target).unwrap();
            let mut oracle = Oracle::new(&cal, &hours, start);
            let mut counted = 0;
            let expected = loop {
                if oracle.step() {
                    counted += 1;
                    if counted == target {
                        break oracle.t;
                    }
                }
            };
            prop_assert_eq!(due, expected, "zone {} start {} target {}", zone, start, target);
            prop_assert_eq!(business_minutes_between(Some(&cal), start, due), target);
        }

        #[test]
        fn business_minutes_match_the_oracle(
            (zone, hours, holidays) in calendar_strategy(),
            start in start_strategy(),
            len in 0i64..(4 * 1440),
        ) {
            let cal = BusinessCalendar::new(&zone, &hours, holidays).unwrap();
            let mut oracle = Oracle::new(&cal, &hours, start);
            let expected = (0..len).filter(|_| oracle.step()).count() as i64;
            prop_assert_eq!(
                business_minutes_between(Some(&cal), start, start + Duration::minutes(len)),
                expected,
                "zone {} start {}", zone, start
            );
        }
    }
}
