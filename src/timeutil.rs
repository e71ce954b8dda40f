//! Time parsing shared by every command: `--since/--until` values, the many
//! timestamp spellings found in real exports, durations like `3:03:32`, and
//! the resolution of naive local times in a zone, DST gaps and overlaps
//! included.

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc,
};
use chrono_tz::{OffsetName, Tz};
use std::cell::Cell;
use thiserror::Error;

/// A half-open time window `[since, until)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl TimeRange {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum TimeError {
    #[error("'{0}' is not a time: use a duration back from now (30m, 12h, 7d, 2w) or a date/datetime (2026-10-01, 2026-10-01T08:00, 2026-10-01T08:00:00Z)")]
    BadInstant(String),
    #[error("'{0}' is not a time zone: use an IANA name such as Europe/Amsterdam or America/Los_Angeles")]
    BadZone(String),
}

/// The current time; `EVMON_NOW` (RFC 3339) overrides it so that relative
/// windows like `--since 7d` are reproducible in tests and reruns.
pub fn now() -> DateTime<Utc> {
    std::env::var("EVMON_NOW")
        .ok()
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
}

/// Parse an IANA zone name.
pub fn parse_zone(name: &str) -> Result<Tz, TimeError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| TimeError::BadZone(name.to_string()))
}

/// Parse a `--since`/`--until` value: a duration back from `now`
/// (`90s`, `30m`, `12h`, `7d`, `2w`), or an absolute date/datetime. Dates
/// and datetimes without an offset are read in `zone` (UTC if `None`).
pub fn parse_instant(
    text: &str,
    now: DateTime<Utc>,
    zone: Option<Tz>,
) -> Result<DateTime<Utc>, TimeError> {
    let s = text.trim();
    let bad = || TimeError::BadInstant(text.to_string());
    if let Some(d) = parse_relative(s) {
        return Ok(now - d);
    }
    let zone = zone.unwrap_or(chrono_tz::UTC);
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let naive = date.and_time(NaiveTime::MIN);
        return resolve_local(zone, naive, None, DstPolicy::default()).map_err(|_| bad());
    }
    match parse_timestamp(s, DateOrder::Ymd).map_err(|_| bad())? {
        Stamp::Absolute(t) => Ok(t),
        Stamp::Naive(n) => resolve_local(zone, n, None, DstPolicy::default()).map_err(|_| bad()),
    }
}

/// `7d`, `12h`, `30m`, `90s`, `2w` as a duration.
fn parse_relative(s: &str) -> Option<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        _ => return None,
    };
    Duration::try_seconds(n.checked_mul(secs)?)
}

/// Which field comes first in slash/dot dates such as `7/29/2011`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// `7/29/2011` (US exports: Palo Alto, Boulder).
    Mdy,
    /// `29/07/2011`, `29.07.2011` (UK and European exports).
    Dmy,
    /// ISO only; slash dates are refused as ambiguous.
    #[default]
    Ymd,
}

/// A parsed timestamp: an instant if the text carried an offset or zone,
/// otherwise a wall-clock time still to be placed in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    Absolute(DateTime<Utc>),
    Naive(NaiveDateTime),
}

/// Parse the timestamp spellings seen in real exports and OCPP frames:
/// RFC 3339 with `Z`/`+00:00`/`+0000`/`+00` and 0–9 fractional digits (space
/// or `T`), RFC 1123 (`Wed, 25 Apr 2018 11:08:04 GMT`), naive ISO, and slash
/// or dot dates (`7/29/2011 20:17`, `21.12.2018 10:20`) read in `order`.
pub fn parse_timestamp(text: &str, order: DateOrder) -> Result<Stamp, String> {
    match fixed_iso(text.trim()) {
        Some(stamp) => Ok(stamp),
        None => parse_timestamp_general(text, order),
    }
}

/// The two spellings most exports use, `2025-11-01T06:17:28Z` and naive
/// `2025-11-01 06:17:28` (`T` or space, `Z` or nothing), read by position:
/// the general parser tries RFC 3339 and several chrono formats first, on
/// every time of millions of rows. Anything else (fractions, offsets,
/// invalid dates, leap seconds) is left to the general parser.
fn fixed_iso(s: &str) -> Option<Stamp> {
    let b = s.as_bytes();
    let utc = match b.len() {
        19 => false,
        20 if b[19] == b'Z' => true,
        _ => return None,
    };
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date = cached_date(&b[..10], || {
        NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)
    })?;
    let time = NaiveTime::from_hms_opt(digits(11..13)?, digits(14..16)?, digits(17..19)?)?;
    let naive = date.and_time(time);
    Some(if utc {
        Stamp::Absolute(Utc.from_utc_datetime(&naive))
    } else {
        Stamp::Naive(naive)
    })
}

thread_local! {
    /// The last date text read on this thread (`2025-11-01`) and its date:
    /// the times of a row, and of an export's rows in time order, mostly
    /// fall on one day, and chrono's checked construction of a date was a
    /// tenth of mapping a CSV row.
    static LAST_DATE: Cell<([u8; 10], NaiveDate)> = const { Cell::new(([0; 10], NaiveDate::MIN)) };
}

/// The date of `text` (10 bytes), from `read` unless it is the last one
/// read on this thread. No text of digits matches the initial zero bytes.
fn cached_date(text: &[u8], read: impl FnOnce() -> Option<NaiveDate>) -> Option<NaiveDate> {
    let key: [u8; 10] = text.try_into().ok()?;
    LAST_DATE.with(|last| {
        let (seen, date) = last.get();
        if seen == key {
            return Some(date);
        }
        let date = read()?;
        last.set((key, date));
        Some(date)
    })
}

fn parse_timestamp_general(text: &str, order: DateOrder) -> Result<Stamp, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty timestamp".into());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Stamp::Absolute(t.with_timezone(&Utc)));
    }
    if s.contains(',') || s.ends_with("GMT") || s.ends_with("UTC") && s.contains(' ') {
        if let Ok(t) = DateTime::parse_from_rfc2822(s) {
            return Ok(Stamp::Absolute(t.with_timezone(&Utc)));
        }
    }
    let iso = s.replacen(' ', "T", 1);
    // Offsets without a colon (`+0000`) or without minutes (`+00`).
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(&iso, fmt) {
            return Ok(Stamp::Absolute(t.with_timezone(&Utc)));
        }
    }
    if let Some(stripped) = short_offset(&iso) {
        if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(&stripped, "%Y-%m-%dT%H:%M:%S%.f%z")
        {
            return Ok(Stamp::Absolute(t.with_timezone(&Utc)));
        }
    }
    if let Some(rest) = iso.strip_suffix('Z').or_else(|| iso.strip_suffix(" UTC")) {
        if let Ok(n) = parse_naive_iso(rest) {
            return Ok(Stamp::Absolute(Utc.from_utc_datetime(&n)));
        }
    }
    if let Ok(n) = parse_naive_iso(&iso) {
        return Ok(Stamp::Naive(n));
    }
    if s.contains('/') || s.contains('.') {
        return parse_day_month(s, order).map(Stamp::Naive);
    }
    Err(format!("cannot read '{s}' as a timestamp"))
}

/// `2023-06-01T08:00:00+00` → `...+0000`, so chrono's `%z` accepts it.
fn short_offset(s: &str) -> Option<String> {
    let t = s.find('T')?;
    let tail = &s[t..];
    let pos = tail.rfind(['+', '-'])?;
    let offset = &tail[pos + 1..];
    (offset.len() == 2 && offset.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{s}00"))
}

fn parse_naive_iso(s: &str) -> Result<NaiveDateTime, chrono::ParseError> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
}

/// Slash or dot dates with an optional time (`H:MM`, `H:MM:SS`, AM/PM).
fn parse_day_month(s: &str, order: DateOrder) -> Result<NaiveDateTime, String> {
    let (date_part, time_part) = match s.split_once(' ') {
        Some((d, t)) => (d, t.trim()),
        None => (s, ""),
    };
    let sep = if date_part.contains('/') { '/' } else { '.' };
    let fields: Vec<&str> = date_part.split(sep).collect();
    if fields.len() != 3 {
        return Err(format!("cannot read '{s}' as a date"));
    }
    let num = |x: &str| {
        x.trim()
            .parse::<u32>()
            .map_err(|_| format!("cannot read '{s}' as a date"))
    };
    let (y, m, d) = if fields[0].len() == 4 {
        (num(fields[0])?, num(fields[1])?, num(fields[2])?)
    } else {
        match order {
            DateOrder::Mdy => (num(fields[2])?, num(fields[0])?, num(fields[1])?),
            DateOrder::Dmy => (num(fields[2])?, num(fields[1])?, num(fields[0])?),
            DateOrder::Ymd => {
                return Err(format!(
                    "'{s}' is ambiguous (day/month or month/day?): choose a preset or --date-order dmy|mdy"
                ))
            }
        }
    };
    let y = if y < 100 { 2000 + y } else { y };
    let date = NaiveDate::from_ymd_opt(y as i32, m, d)
        .ok_or_else(|| format!("'{s}' is not a valid date"))?;
    let time = if time_part.is_empty() {
        NaiveTime::MIN
    } else {
        parse_clock(time_part).ok_or_else(|| format!("cannot read the time in '{s}'"))?
    };
    Ok(date.and_time(time))
}

fn parse_clock(t: &str) -> Option<NaiveTime> {
    let upper = t.to_ascii_uppercase();
    let (clock, pm) = if let Some(c) = upper.strip_suffix("PM") {
        (c.trim().to_string(), Some(true))
    } else if let Some(c) = upper.strip_suffix("AM") {
        (c.trim().to_string(), Some(false))
    } else {
        (upper.clone(), None)
    };
    let time = NaiveTime::parse_from_str(&clock, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(&clock, "%H:%M"))
        .ok()?;
    match pm {
        None => Some(time),
        Some(pm) => {
            use chrono::Timelike;
            let h = time.hour() % 12 + if pm { 12 } else { 0 };
            time.with_hour(h)
        }
    }
}

/// Parse a separate date column and time column.
pub fn join_date_time(date: &str, time: &str) -> String {
    format!("{} {}", date.trim(), time.trim())
}

/// Parse a duration: `H:MM:SS` (hours may exceed 24, e.g. `838:59:59`),
/// `H:MM`, or `D days HH:MM:SS`. Returns `None` for text that is not one.
pub fn parse_hms(text: &str) -> Option<Duration> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    let (days, rest) = match s.split_once(" day") {
        Some((d, r)) => (
            d.trim().parse::<i64>().ok()?,
            r.trim_start_matches('s').trim(),
        ),
        None => (0, s),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (
            h.parse::<i64>().ok()?,
            m.parse::<i64>().ok()?,
            s.parse::<f64>().ok()?,
        ),
        [h, m] => (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?, 0.0),
        _ => return None,
    };
    if h < 0 || !(0..60).contains(&m) || !(0.0..60.0).contains(&sec) {
        return None;
    }
    Duration::try_milliseconds(
        (((days * 24 + h) * 60 + m) * 60) * 1000 + (sec * 1000.0).round() as i64,
    )
}

/// What to do with wall-clock times that occur twice (fall back) or never
/// (spring forward) in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DstPolicy {
    pub ambiguous: Ambiguous,
    pub gap: Gap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ambiguous {
    /// The first occurrence (still on summer time).
    #[default]
    Earliest,
    /// The second occurrence (already on standard time).
    Latest,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gap {
    /// Move forward by the length of the gap (02:30 becomes 03:30), which
    /// is what a clock that did not change would have meant.
    #[default]
    Shift,
    Reject,
}

/// How a local time was placed, so callers can count DST decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Unique,
    /// Ambiguous, decided by the zone abbreviation given with the time.
    ByAbbreviation,
    /// Ambiguous, decided by the policy.
    AmbiguousByPolicy,
    /// In a gap, shifted forward.
    GapShifted,
    /// An abbreviation such as UTC/GMT said the time was not local at all.
    FixedByAbbreviation,
}

#[derive(Debug, Error, PartialEq)]
pub enum LocalTimeError {
    #[error("{time} happens twice in {zone} (DST fall-back); pass --dst-ambiguous earliest|latest to accept it")]
    Ambiguous { time: NaiveDateTime, zone: Tz },
    #[error("{time} does not exist in {zone} (DST spring-forward gap); pass --dst-gap shift to accept it")]
    Gap { time: NaiveDateTime, zone: Tz },
}

/// Place a wall-clock time in `zone`. `abbreviation` (e.g. `PDT`/`PST` from
/// a separate column) decides ambiguous times when it names one of the two
/// candidates; `UTC`/`GMT`/`Z` mean the time is UTC, not local.
pub fn resolve_local(
    zone: Tz,
    naive: NaiveDateTime,
    abbreviation: Option<&str>,
    policy: DstPolicy,
) -> Result<DateTime<Utc>, LocalTimeError> {
    resolve_local_explained(zone, naive, abbreviation, policy).map(|(t, _)| t)
}

/// [`resolve_local`], also saying how the time was placed.
pub fn resolve_local_explained(
    zone: Tz,
    naive: NaiveDateTime,
    abbreviation: Option<&str>,
    policy: DstPolicy,
) -> Result<(DateTime<Utc>, Resolution), LocalTimeError> {
    let abbr = abbreviation.map(str::trim).filter(|a| !a.is_empty());
    if let Some(a) = abbr {
        if matches!(a.to_ascii_uppercase().as_str(), "UTC" | "GMT" | "Z" | "UCT")
            && zone
                .offset_from_utc_datetime(&naive)
                .fix()
                .local_minus_utc()
                != 0
        {
            return Ok((
                Utc.from_utc_datetime(&naive),
                Resolution::FixedByAbbreviation,
            ));
        }
    }
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok((t.with_timezone(&Utc), Resolution::Unique)),
        LocalResult::Ambiguous(early, late) => {
            if let Some(a) = abbr {
                for cand in [early, late] {
                    if cand
                        .offset()
                        .abbreviation()
                        .is_some_and(|x| x.eq_ignore_ascii_case(a))
                    {
                        return Ok((cand.with_timezone(&Utc), Resolution::ByAbbreviation));
                    }
                }
            }
            match policy.ambiguous {
                Ambiguous::Earliest => {
                    Ok((early.with_timezone(&Utc), Resolution::AmbiguousByPolicy))
                }
                Ambiguous::Latest => Ok((late.with_timezone(&Utc), Resolution::AmbiguousByPolicy)),
                Ambiguous::Reject => Err(LocalTimeError::Ambiguous { time: naive, zone }),
            }
        }
        LocalResult::None => match policy.gap {
            Gap::Reject => Err(LocalTimeError::Gap { time: naive, zone }),
            Gap::Shift => {
                // The offset before the gap, applied to the wall time, gives
                // the instant a clock that had not jumped would mean.
                let before = naive - Duration::hours(3);
                let offset = zone
                    .offset_from_local_datetime(&before)
                    .earliest()
                    .map(|o| o.fix());
                let offset = offset.unwrap_or_else(|| zone.offset_from_utc_datetime(&naive).fix());
                let utc = naive - Duration::seconds(offset.local_minus_utc() as i64);
                Ok((Utc.from_utc_datetime(&utc), Resolution::GapShifted))
            }
        },
    }
}

/// Format an instant as RFC 3339 UTC with `Z`, seconds, and fractional
/// digits only when needed.
pub fn format_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_positions_read_what_the_general_parser_reads() {
        let texts: Vec<String> = [
            "2025-11-01T06:17:28Z",
            "2025-11-01 06:17:28Z",
            "2025-11-01T06:17:28",
            "2025-11-01 06:17:28",
            "2024-02-29T23:59:59Z",
            "2023-02-29T10:00:00Z",
            "2025-13-01T00:00:00",
            "2025-11-01T24:00:00Z",
            "2016-12-31T23:59:60Z",
            "2025-11-01T6:17:28Z ",
            "2025-11-01X06:17:28Z",
            "2025-11-01T06:17:28z",
            "0000-01-01T00:00:00",
            "9999-12-31 23:59:59Z",
            "+025-11-01T06:17:28",
        ]
        .map(String::from)
        .to_vec();
        let mut fast = 0;
        for t in &texts {
            let general = parse_timestamp_general(t, DateOrder::Ymd);
            if let Some(stamp) = fixed_iso(t.trim()) {
                fast += 1;
                assert_eq!(Ok(stamp), general, "{t}");
            }
            assert_eq!(parse_timestamp(t, DateOrder::Ymd), general, "{t}");
        }
        // The seven well-formed texts above take the fast path.
        assert_eq!(fast, 7);
    }

    #[test]
    fn a_date_read_again_is_the_date_read_before() {
        // The last date is kept per thread: times on one day, an invalid
        // date between them (never kept), then the invalid one again.
        for t in [
            "2026-03-29T00:59:59Z",
            "2026-03-29T01:00:00Z",
            "2023-02-29T10:00:00Z",
            "2023-02-29T10:00:00Z",
            "2026-03-29 23:00:00",
            "2026-03-30T00:00:00Z",
            "2026-03-29T12:00:00Z",
        ] {
            let general = parse_timestamp_general(t, DateOrder::Ymd).ok();
            assert_eq!(fixed_iso(t), general, "{t}");
        }
        assert_eq!(fixed_iso("2023-02-29T10:00:00Z"), None);
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn relative_and_absolute_instants() {
        let now = utc("2026-11-25T12:00:00Z");
        assert_eq!(
            parse_instant("7d", now, None).unwrap(),
            utc("2026-11-18T12:00:00Z")
        );
        assert_eq!(
            parse_instant("12h", now, None).unwrap(),
            utc("2026-11-25T00:00:00Z")
        );
        assert_eq!(
            parse_instant("2w", now, None).unwrap(),
            utc("2026-11-11T12:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-10-01", now, None).unwrap(),
            utc("2026-10-01T00:00:00Z")
        );
        let ams = parse_zone("Europe/Amsterdam").unwrap();
        assert_eq!(
            parse_instant("2026-10-01", now, Some(ams)).unwrap(),
            utc("2026-09-30T22:00:00Z")
        );
        assert_eq!(
            parse_instant("2026-10-01T08:00:00+02:00", now, None).unwrap(),
            utc("2026-10-01T06:00:00Z")
        );
        assert!(parse_instant("yesterday", now, None).is_err());
        assert!(parse_instant("7x", now, None).is_err());
        assert!(parse_instant("99999999999999999d", now, None).is_err());
    }

    #[test]
    fn timestamp_spellings_from_real_sources() {
        let abs = |s: &str| match parse_timestamp(s, DateOrder::Ymd).unwrap() {
            Stamp::Absolute(t) => t,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(abs("2023-12-31T11:47:54Z"), utc("2023-12-31T11:47:54Z"));
        assert_eq!(
            abs("2026-06-06T19:15:04.252441+00:00"),
            utc("2026-06-06T19:15:04.252441Z")
        );
        assert_eq!(
            abs("2023-10-02T07:56:00.860Z"),
            utc("2023-10-02T07:56:00.860Z")
        );
        assert_eq!(
            abs("Wed, 25 Apr 2018 11:08:04 GMT"),
            utc("2018-04-25T11:08:04Z")
        );
        assert_eq!(abs("2023-06-01 08:00:00+00"), utc("2023-06-01T08:00:00Z"));
        assert_eq!(abs("2023-06-01 08:00:00+0200"), utc("2023-06-01T06:00:00Z"));
        assert_eq!(
            abs("2018-04-25 11:08:04+00:00"),
            utc("2018-04-25T11:08:04Z")
        );
        let naive = |s: &str, o| match parse_timestamp(s, o).unwrap() {
            Stamp::Naive(n) => n.to_string(),
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(
            naive("7/29/2011 20:17", DateOrder::Mdy),
            "2011-07-29 20:17:00"
        );
        assert_eq!(
            naive("29/07/2011 20:17", DateOrder::Dmy),
            "2011-07-29 20:17:00"
        );
        assert_eq!(
            naive("21.12.2018 10:20", DateOrder::Dmy),
            "2018-12-21 10:20:00"
        );
        assert_eq!(
            naive("2023-06-01 08:00:00", DateOrder::Mdy),
            "2023-06-01 08:00:00"
        );
        assert_eq!(
            naive("1/1/2018 5:49 PM", DateOrder::Mdy),
            "2018-01-01 17:49:00"
        );
        assert!(parse_timestamp("7/29/2011 20:17", DateOrder::Ymd).is_err());
        assert!(parse_timestamp("13/13/2011", DateOrder::Dmy).is_err());
        assert!(parse_timestamp("", DateOrder::Dmy).is_err());
        assert!(parse_timestamp("garbage", DateOrder::Dmy).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_hms("3:03:32"),
            Some(Duration::seconds(3 * 3600 + 3 * 60 + 32))
        );
        assert_eq!(parse_hms("0:00:00"), Some(Duration::zero()));
        assert_eq!(
            parse_hms("838:59:59"),
            Some(Duration::seconds(838 * 3600 + 59 * 60 + 59))
        );
        assert_eq!(parse_hms("1 day 02:00:00"), Some(Duration::hours(26)));
        assert_eq!(
            parse_hms("2 days 00:30:00"),
            Some(Duration::minutes(48 * 60 + 30))
        );
        assert_eq!(parse_hms("1:75:00"), None);
        assert_eq!(parse_hms("abc"), None);
        assert_eq!(parse_hms(""), None);
    }

    #[test]
    fn dst_overlap_and_gap() {
        let la = parse_zone("America/Los_Angeles").unwrap();
        let n = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let p = DstPolicy::default();
        // 2019-11-03 01:30 happens twice in Los Angeles.
        let amb = n("2019-11-03 01:30");
        assert_eq!(
            resolve_local(la, amb, Some("PDT"), p).unwrap(),
            utc("2019-11-03T08:30:00Z")
        );
        assert_eq!(
            resolve_local(la, amb, Some("PST"), p).unwrap(),
            utc("2019-11-03T09:30:00Z")
        );
        assert_eq!(
            resolve_local(la, amb, None, p).unwrap(),
            utc("2019-11-03T08:30:00Z")
        );
        let latest = DstPolicy {
            ambiguous: Ambiguous::Latest,
            ..p
        };
        assert_eq!(
            resolve_local(la, amb, None, latest).unwrap(),
            utc("2019-11-03T09:30:00Z")
        );
        let reject = DstPolicy {
            ambiguous: Ambiguous::Reject,
            ..p
        };
        assert!(resolve_local(la, amb, None, reject).is_err());
        // 2019-03-10 02:30 does not exist in Los Angeles: it means 03:30 PDT.
        let gap = n("2019-03-10 02:30");
        let (t, how) = resolve_local_explained(la, gap, None, p).unwrap();
        assert_eq!(t, utc("2019-03-10T10:30:00Z"));
        assert_eq!(how, Resolution::GapShifted);
        let reject = DstPolicy {
            gap: Gap::Reject,
            ..p
        };
        assert!(resolve_local(la, gap, None, reject).is_err());
        // A UTC abbreviation means the wall time is UTC.
        assert_eq!(
            resolve_local(la, n("2019-07-01 12:00"), Some("UTC"), p).unwrap(),
            utc("2019-07-01T12:00:00Z")
        );
        // London, for the UK datasets.
        let lon = parse_zone("Europe/London").unwrap();
        assert_eq!(
            resolve_local(lon, n("2018-07-01 12:00"), None, p).unwrap(),
            utc("2018-07-01T11:00:00Z")
        );
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(
            format_utc(utc("2026-10-01T08:00:00Z")),
            "2026-10-01T08:00:00Z"
        );
        assert_eq!(
            format_utc(utc("2026-10-01T08:00:00.5Z")),
            "2026-10-01T08:00:00.500Z"
        );
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Texts in the two fixed spellings, valid or not (month 13, day 32,
        /// hour 25, second 61): the fast path reads every valid one, and
        /// reads it as the general parser does.
        #[test]
        fn fixed_positions_agree_with_the_general_parser(
            y in 1990u32..2050, mo in 0u32..14, d in 0u32..33, sep in prop::bool::ANY,
            h in 0u32..26, mi in 0u32..61, se in 0u32..62, z in prop::bool::ANY,
        ) {
            let t = format!(
                "{y:04}-{mo:02}-{d:02}{}{h:02}:{mi:02}:{se:02}{}",
                if sep { 'T' } else { ' ' },
                if z { "Z" } else { "" }
            );
            let general = parse_timestamp_general(&t, DateOrder::Ymd);
            let valid = NaiveDate::from_ymd_opt(y as i32, mo, d).is_some() && h < 24 && mi < 60 && se < 60;
            match fixed_iso(&t) {
                Some(stamp) => prop_assert_eq!(Ok(stamp), general.clone(), "{}", t),
                None => prop_assert!(!valid, "{} is valid but not read by position", t),
            }
            prop_assert_eq!(parse_timestamp(&t, DateOrder::Ymd), general, "{}", t);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let now = Utc::now();
            let _ = parse_instant(&s, now, None);
            let _ = parse_hms(&s);
            for order in [DateOrder::Dmy, DateOrder::Mdy, DateOrder::Ymd] {
                let _ = parse_timestamp(&s, order);
            }
        }

        #[test]
        fn rfc3339_round_trips(secs in 0i64..4_102_444_800, micros in 0u32..1_000_000) {
            let t = DateTime::from_timestamp(secs, micros * 1000).unwrap();
            let text = format_utc(t);
            prop_assert_eq!(parse_timestamp(&text, DateOrder::Ymd), Ok(Stamp::Absolute(t)));
        }

        #[test]
        fn local_times_resolve_to_the_same_wall_clock(secs in 0i64..4_102_444_800) {
            // Any instant, shown in a DST zone and read back, is the same
            // instant unless the wall time is ambiguous (then one of two).
            let zone: Tz = "Europe/Amsterdam".parse().unwrap();
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            let wall = t.with_timezone(&zone).naive_local();
            let back = resolve_local(zone, wall, None, DstPolicy::default()).unwrap();
            let latest = resolve_local(zone, wall, None, DstPolicy { ambiguous: Ambiguous::Latest, ..DstPolicy::default() }).unwrap();
            prop_assert!(back == t || latest == t);
        }
    }
}
