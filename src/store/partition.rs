//! Rows split into the store's monthly partitions (UTC month of the
//! table's partition column), without copying rows that already come
//! grouped by month.
//!
//! Splitting a batch with polars (`partition_by` on a computed month
//! column) gathered every column of every row into a new frame per month:
//! about a tenth of the CPU of reading a CSV. Here the month of each row is
//! found from its day number (one comparison while it stays in the month
//! of the row before), and a batch whose months each come as one run (an
//! export sorted by time) is cut into slices that share its buffers; other
//! batches are grouped by one gather. `ingest::Batch` pushes each session
//! into its month's builders (`month_groups`), so the sessions it stages
//! are never gathered before the merge sorts them.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use polars::prelude::*;
use rustc_hash::FxHashMap;

/// A UTC month as one integer: `year * 12 + month - 1`.
pub type MonthKey = i32;

/// The UTC month of instants (microseconds since the epoch), remembering
/// the days of the last one found.
#[derive(Debug, Default)]
struct UtcMonths {
    /// `[lo, hi)` in days since the epoch, and its key; empty at first.
    lo: i64,
    hi: i64,
    key: MonthKey,
}

/// Microseconds in a day, and days from 0001-01-01 (chrono's day 1) to
/// the epoch.
const DAY_US: i64 = 86_400_000_000;
const EPOCH_FROM_CE: i64 = 719_163;

impl UtcMonths {
    fn of(&mut self, us: i64) -> Option<MonthKey> {
        let day = us.div_euclid(DAY_US);
        if (self.lo..self.hi).contains(&day) {
            return Some(self.key);
        }
        // Months of an export interleave: found from the day number (a
        // division and a table), not by building instants.
        let date = NaiveDate::from_num_days_from_ce_opt(i32::try_from(day + EPOCH_FROM_CE).ok()?)?;
        let (year, month) = (date.year(), date.month());
        let next = match month {
            12 => NaiveDate::from_ymd_opt(year + 1, 1, 1),
            _ => NaiveDate::from_ymd_opt(year, month + 1, 1),
        }?;
        self.lo = day - i64::from(date.day0());
        self.hi = i64::from(next.num_days_from_ce()) - EPOCH_FROM_CE;
        self.key = month_key(date);
        Some(self.key)
    }
}

/// The partition name (`month=2026-03`) of a month key, `month=unknown`
/// for rows without a time.
pub fn partition_name(key: Option<MonthKey>) -> String {
    super::manifest::month_partition(&key.map_or_else(|| "unknown".to_string(), month_text))
}

/// A month key as partitions name it: `2026-03`.
fn month_text(key: MonthKey) -> String {
    format!("{:04}-{:02}", key.div_euclid(12), key.rem_euclid(12) + 1)
}

/// The month (`2026-03`) an instant falls in, in UTC, as its partition
/// names it.
pub fn month_of(t: DateTime<Utc>) -> String {
    month_text(month_key(t.date_naive()))
}

/// Rows grouped by month, in the order each month is first seen; rows
/// keep their order within a month.
#[derive(Debug, PartialEq)]
pub struct PartitionOrder {
    /// The rows to take, in order; `None` when they already come grouped.
    pub order: Option<Vec<IdxSize>>,
    /// Each month, with its first row (in the grouped order) and count.
    pub runs: Vec<(Option<MonthKey>, usize, usize)>,
}

/// The month key of a (UTC) date.
pub fn month_key(date: NaiveDate) -> MonthKey {
    date.year() * 12 + date.month0() as i32
}

/// The month group of each row with these month keys, and each group's
/// month and row count, in the order first seen.
pub fn month_groups(
    keys: impl Iterator<Item = Option<MonthKey>>,
) -> (Vec<u32>, Vec<(Option<MonthKey>, usize)>) {
    let mut groups: Vec<(Option<MonthKey>, usize)> = Vec::new();
    let mut index: FxHashMap<Option<MonthKey>, usize> = FxHashMap::default();
    let mut group_of: Vec<u32> = Vec::with_capacity(keys.size_hint().0);
    let mut last: Option<(Option<MonthKey>, usize)> = None;
    for key in keys {
        let g = match last {
            Some((k, g)) if k == key => g,
            _ => {
                let g = *index.entry(key).or_insert_with(|| {
                    groups.push((key, 0));
                    groups.len() - 1
                });
                last = Some((key, g));
                g
            }
        };
        groups[g].1 += 1;
        group_of.push(g as u32);
    }
    (group_of, groups)
}

/// How to group rows with these timestamps (microseconds) by UTC month.
pub fn partition_order(stamps: impl Iterator<Item = Option<i64>>) -> PartitionOrder {
    let mut months = UtcMonths::default();
    let (group_of, groups) = month_groups(stamps.map(|us| us.and_then(|us| months.of(us))));
    let mut runs = Vec::with_capacity(groups.len());
    let mut offset = 0;
    for (key, count) in &groups {
        runs.push((*key, offset, *count));
        offset += count;
    }
    // Grouped when every row's group is the one before or the next new one.
    let grouped = group_of
        .windows(2)
        .all(|w| w[1] == w[0] || w[1] == w[0] + 1);
    let order = (!grouped).then(|| {
        let mut next: Vec<usize> = runs.iter().map(|r| r.1).collect();
        let mut order = vec![0 as IdxSize; group_of.len()];
        for (row, g) in group_of.iter().enumerate() {
            let slot = &mut next[*g as usize];
            order[*slot] = row as IdxSize;
            *slot += 1;
        }
        order
    });
    PartitionOrder { order, runs }
}

/// `rows` split by the UTC month of their `column` (a datetime in
/// microseconds): slices of `rows` when each month comes as one run, else
/// slices of one gather of them.
pub fn split_by_month(rows: DataFrame, column: &str) -> PolarsResult<Vec<(String, DataFrame)>> {
    let stamps = rows.column(column)?.datetime()?.physical().clone();
    let PartitionOrder { order, runs } = partition_order(stamps.iter());
    let rows = match order {
        Some(order) => rows.take(&IdxCa::from_vec(PlSmallStr::EMPTY, order))?,
        None => rows,
    };
    Ok(runs
        .into_iter()
        .map(|(key, offset, count)| (partition_name(key), rows.slice(offset as i64, count)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(text: &str) -> Option<i64> {
        Some(
            DateTime::parse_from_rfc3339(text)
                .expect("a time")
                .timestamp_micros(),
        )
    }

    #[test]
    fn months_are_utc_and_bounded_exactly() {
        let mut m = UtcMonths::default();
        let key = |m: &mut UtcMonths, t: &str| m.of(us(t).unwrap());
        assert_eq!(
            key(&mut m, "2026-03-31T23:59:59.999999Z"),
            Some(2026 * 12 + 2)
        );
        assert_eq!(key(&mut m, "2026-04-01T00:00:00Z"), Some(2026 * 12 + 3));
        // Remembered bounds are half-open: the last microsecond of March.
        assert_eq!(
            key(&mut m, "2026-03-31T23:59:59.999999Z"),
            Some(2026 * 12 + 2)
        );
        // A local time just after midnight in Amsterdam is still March in UTC.
        assert_eq!(
            key(&mut m, "2026-04-01T00:30:00+02:00"),
            Some(2026 * 12 + 2)
        );
        assert_eq!(key(&mut m, "1969-12-31T23:59:59Z"), Some(1969 * 12 + 11));
        assert_eq!(partition_name(Some(1969 * 12 + 11)), "month=1969-12");
        assert_eq!(partition_name(None), "month=unknown");
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a date");
        assert_eq!(month_key(date(2026, 3, 31)), 2026 * 12 + 2);
        assert_eq!(month_key(date(1969, 12, 1)), 1969 * 12 + 11);
        let at = |t: &str| DateTime::from_timestamp_micros(us(t).unwrap()).unwrap();
        assert_eq!(month_of(at("2026-04-01T00:30:00+02:00")), "2026-03");
        assert_eq!(month_of(at("1969-12-31T23:59:59Z")), "1969-12");
    }

    #[test]
    fn months_agree_with_chrono_across_years_in_any_order() {
        let mut m = UtcMonths::default();
        let step = (7 * 3600 + 13 * 60) * 1_000_000i64 + 17;
        let from = us("1968-02-27T00:00:00Z").unwrap();
        let to = us("2101-03-02T00:00:00Z").unwrap();
        let stamps = (0..)
            .map(|i| from + i * step)
            .take_while(|t| *t < to)
            // Forward, then back and forth between far months.
            .flat_map(|t| [t, from + to - t]);
        for t in stamps {
            let c = DateTime::from_timestamp_micros(t).unwrap();
            let want = c.year() * 12 + c.month0() as i32;
            assert_eq!(m.of(t), Some(want), "{c}");
            assert_eq!(m.of(t - 1), {
                let c = DateTime::from_timestamp_micros(t - 1).unwrap();
                Some(c.year() * 12 + c.month0() as i32)
            });
        }
    }

    #[test]
    fn grouped_rows_are_cut_not_moved() {
        let p = partition_order(
            [
                "2026-01-05T00:00:00Z",
                "2026-01-01T00:00:00Z",
                "2026-02-01T00:00:00Z",
            ]
            .into_iter()
            .map(us),
        );
        assert_eq!(p.order, None);
        assert_eq!(
            p.runs,
            vec![(Some(2026 * 12), 0, 2), (Some(2026 * 12 + 1), 2, 1)]
        );
    }

    #[test]
    fn interleaved_months_are_gathered_stably() {
        let p = partition_order(
            [
                us("2026-02-01T00:00:00Z"),
                us("2026-01-05T00:00:00Z"),
                None,
                us("2026-02-03T00:00:00Z"),
                us("2026-01-01T00:00:00Z"),
            ]
            .into_iter(),
        );
        assert_eq!(p.order, Some(vec![0, 3, 1, 4, 2]));
        assert_eq!(
            p.runs,
            vec![
                (Some(2026 * 12 + 1), 0, 2),
                (Some(2026 * 12), 2, 2),
                (None, 4, 1)
            ]
        );
    }

    #[test]
    fn split_keeps_every_row_once_in_its_month() {
        let stamps = [
            "2026-02-01T00:00:00Z",
            "2026-01-05T00:00:00Z",
            "2026-02-03T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
        ];
        let ts = Int64Chunked::from_iter_options("ts".into(), stamps.iter().map(|t| us(t)))
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            .into_column();
        let n = Column::new("n".into(), [0i32, 1, 2, 3, 4]);
        let df = DataFrame::new(5, vec![ts, n]).expect("frame");
        let parts = split_by_month(df, "ts").expect("split");
        let got: Vec<(String, Vec<i32>)> = parts
            .iter()
            .map(|(name, df)| {
                let n = df.column("n").unwrap().i32().unwrap();
                (name.clone(), n.into_no_null_iter().collect())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("month=2026-02".to_string(), vec![0, 2]),
                ("month=2026-01".to_string(), vec![1, 3]),
                ("month=2026-03".to_string(), vec![4]),
            ]
        );
    }
}
