//! Rows produced by the readers, gathered per table and turned into
//! DataFrames in the declared schemas.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use polars::prelude::*;

use crate::schema::{col, Table};
use crate::store::partition::{month_groups, month_key};

/// One session in canonical form. Texts are `CompactString`s: ids, tags
/// and reasons are short, and kept inline (up to 24 bytes) they cost no
/// allocation, five of which per row were most of a CSV row's mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub session_uid: CompactString,
    pub transaction_id: Option<CompactString>,
    pub station_id: CompactString,
    pub connector_id: Option<i32>,
    pub id_tag: Option<CompactString>,
    /// What the back-office answered for the id tag (Accepted, Blocked, ...).
    pub auth_status: Option<CompactString>,
    pub start: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
    pub charging_end: Option<DateTime<Utc>>,
    pub meter_start_wh: Option<f64>,
    pub meter_stop_wh: Option<f64>,
    pub energy_wh: Option<f64>,
    pub max_power_w: Option<f64>,
    pub stop_reason: Option<CompactString>,
    pub source: &'static str,
    pub source_file: Arc<str>,
    pub source_line: Option<u64>,
}

/// One sampled value (long format). Text is shared: a dump has millions of
/// values but few distinct stations, sessions and measurands.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterValueRow {
    pub session_uid: Option<Arc<str>>,
    pub station_id: Arc<str>,
    pub connector_id: Option<i32>,
    pub ts: DateTime<Utc>,
    pub measurand: Arc<str>,
    pub phase: Option<Arc<str>>,
    pub context: Option<Arc<str>>,
    pub value: f64,
    pub unit: Arc<str>,
    pub source_file: Arc<str>,
}

/// One event (status change, authorization, boot, ...).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventRow {
    pub station_id: String,
    pub connector_id: Option<i32>,
    pub ts: Option<DateTime<Utc>>,
    pub kind: String,
    pub status: Option<String>,
    pub error_code: Option<String>,
    pub id_tag: Option<String>,
    pub auth_status: Option<String>,
    pub info: Option<String>,
    pub source_file: Option<Arc<str>>,
}

/// Station metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct StationRow {
    pub station_id: String,
    pub site: Option<String>,
    pub timezone: Option<String>,
    pub rated_power_kw: Option<f64>,
    pub connectors: Option<i32>,
    /// `metadata` (given by the user) or `inferred` (read from an export).
    pub origin: &'static str,
    pub source_file: Arc<str>,
}

pub const ORIGIN_METADATA: &str = "metadata";
pub const ORIGIN_INFERRED: &str = "inferred";

/// Input that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectRow {
    pub source_file: Arc<str>,
    pub line: u64,
    pub field: Option<String>,
    pub reason: String,
    pub raw: String,
}

/// Everything read in one ingest run, before it is merged into the store.
#[derive(Debug, Default)]
pub struct Batch {
    pub sessions: Vec<SessionRow>,
    pub meter_values: Vec<MeterValueRow>,
    pub events: Vec<EventRow>,
    pub stations: Vec<StationRow>,
    pub rejects: Vec<RejectRow>,
}

fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn dt_column(name: &str, values: impl Iterator<Item = Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column()
}

fn str_column<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), values).into_column()
}

/// A text column whose rows repeat a few values, each long enough to be
/// stored out of line (a file path, a measurand): every distinct value is
/// kept once and the rows gathered from it as views. Pushed row by row, a
/// 44-byte path was copied ten million times into the column's buffer,
/// and every later pass over the column (the month split, Parquet's
/// dictionary) read all those copies.
fn repeated_str_column<'a>(
    name: &str,
    rows: usize,
    values: impl Iterator<Item = Option<&'a str>>,
) -> Column {
    let mut distinct: Vec<&str> = Vec::new();
    let mut seen: rustc_hash::FxHashMap<&str, IdxSize> = Default::default();
    let mut last: Option<(&str, IdxSize)> = None;
    let mut index = PrimitiveChunkedBuilder::<IdxType>::new(name.into(), rows);
    for value in values {
        let Some(value) = value else {
            index.append_null();
            continue;
        };
        // Rows of one file come together: the previous row's value is
        // checked (by address first) before the map.
        let i = match last {
            Some((text, i)) if std::ptr::eq(text, value) || text == value => i,
            _ => {
                let i = *seen.entry(value).or_insert_with(|| {
                    distinct.push(value);
                    (distinct.len() - 1) as IdxSize
                });
                last = Some((value, i));
                i
            }
        };
        index.append_value(i);
    }
    let values = StringChunked::from_iter_values(name.into(), distinct.into_iter());
    // SAFETY: every index was handed out above, below `distinct.len()`.
    unsafe { values.take_unchecked(&index.finish()) }.into_column()
}

fn f64_column(name: &str, values: impl Iterator<Item = Option<f64>>) -> Column {
    Float64Chunked::from_iter_options(name.into(), values).into_column()
}

fn i32_column(name: &str, values: impl Iterator<Item = Option<i32>>) -> Column {
    Int32Chunked::from_iter_options(name.into(), values).into_column()
}

fn u64_column(name: &str, values: impl Iterator<Item = Option<u64>>) -> Column {
    UInt64Chunked::from_iter_options(name.into(), values).into_column()
}

fn frame(height: usize, columns: Vec<Column>) -> DataFrame {
    DataFrame::new(height, columns).expect("batch columns have equal length")
}

/// The columns of the sessions table, built row by row (one pass over
/// the wide rows into every column's builder: a pass per column read the
/// whole row vector 17 times).
struct SessionColumns<'a> {
    texts: [StringChunkedBuilder; 7],
    connector: PrimitiveChunkedBuilder<Int32Type>,
    times: [PrimitiveChunkedBuilder<Int64Type>; 3],
    numbers: [PrimitiveChunkedBuilder<Float64Type>; 4],
    line: PrimitiveChunkedBuilder<UInt64Type>,
    files: Vec<&'a str>,
}

impl<'a> SessionColumns<'a> {
    fn new(n: usize) -> SessionColumns<'a> {
        use col::*;
        let text = |name: &str| StringChunkedBuilder::new(name.into(), n);
        let time = |name: &str| PrimitiveChunkedBuilder::<Int64Type>::new(name.into(), n);
        let number = |name: &str| PrimitiveChunkedBuilder::<Float64Type>::new(name.into(), n);
        SessionColumns {
            texts: [
                text(SESSION_UID),
                text(TRANSACTION_ID),
                text(STATION_ID),
                text(ID_TAG),
                text(AUTH_STATUS),
                text(STOP_REASON),
                text(SOURCE),
            ],
            connector: PrimitiveChunkedBuilder::new(CONNECTOR_ID.into(), n),
            times: [time(START), time(STOP), time(CHARGING_END)],
            numbers: [
                number(METER_START_WH),
                number(METER_STOP_WH),
                number(ENERGY_WH),
                number(MAX_POWER_W),
            ],
            line: PrimitiveChunkedBuilder::new(SOURCE_LINE.into(), n),
            files: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, s: &'a SessionRow) {
        let [uid, tx, station, tag, auth, reason, source] = &mut self.texts;
        let [start, stop, cend] = &mut self.times;
        let [m0, m1, energy, power] = &mut self.numbers;
        uid.append_value(&s.session_uid);
        tx.append_option(s.transaction_id.as_deref());
        station.append_value(&s.station_id);
        self.connector.append_option(s.connector_id);
        tag.append_option(s.id_tag.as_deref());
        auth.append_option(s.auth_status.as_deref());
        start.append_value(micros(&s.start));
        stop.append_option(s.stop.as_ref().map(micros));
        cend.append_option(s.charging_end.as_ref().map(micros));
        m0.append_option(s.meter_start_wh);
        m1.append_option(s.meter_stop_wh);
        energy.append_option(s.energy_wh);
        power.append_option(s.max_power_w);
        reason.append_option(s.stop_reason.as_deref());
        source.append_value(s.source);
        self.line.append_option(s.source_line);
        self.files.push(&s.source_file);
    }

    fn finish(self) -> DataFrame {
        // One file entry per row pushed.
        let n = self.files.len();
        let [uid, tx, station, tag, auth, reason, source] = self.texts;
        let [start, stop, cend] = self.times;
        let [m0, m1, energy, power] = self.numbers;
        let dt = |b: PrimitiveChunkedBuilder<Int64Type>| {
            b.finish()
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column()
        };
        frame(
            n,
            vec![
                uid.finish().into_column(),
                tx.finish().into_column(),
                station.finish().into_column(),
                self.connector.finish().into_column(),
                tag.finish().into_column(),
                auth.finish().into_column(),
                dt(start),
                dt(stop),
                dt(cend),
                m0.finish().into_column(),
                m1.finish().into_column(),
                energy.finish().into_column(),
                power.finish().into_column(),
                reason.finish().into_column(),
                source.finish().into_column(),
                repeated_str_column(col::SOURCE_FILE, n, self.files.into_iter().map(Some)),
                self.line.finish().into_column(),
            ],
        )
    }
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
            && self.meter_values.is_empty()
            && self.events.is_empty()
            && self.stations.is_empty()
            && self.rejects.is_empty()
    }

    /// Rows of `table` as a DataFrame in its declared schema.
    /// `now` stamps tables that record when a row was ingested.
    pub fn frame(&self, table: Table, now: DateTime<Utc>) -> DataFrame {
        use col::*;
        match table {
            Table::Sessions => {
                // Rows go into the builders of the month partition they are
                // stored in, each month a chunk of the frame: the store cuts
                // the frame at its chunks (`store::partition`) instead of
                // gathering every row into a frame per month (a tenth of
                // the CPU of reading a CSV whose months are interleaved).
                let r = &self.sessions;
                // The month from the date as stored (year and day of the
                // year): no instant is computed for it.
                let (group_of, groups) = month_groups(
                    r.iter()
                        .map(|s| Some(month_key(s.start.naive_utc().date()))),
                );
                let mut months: Vec<SessionColumns> = groups
                    .iter()
                    .map(|&(_, n)| SessionColumns::new(n))
                    .collect();
                if let [only] = months.as_mut_slice() {
                    r.iter().for_each(|s| only.push(s));
                } else {
                    for (s, g) in r.iter().zip(&group_of) {
                        months[*g as usize].push(s);
                    }
                }
                let mut frames = months.into_iter().map(SessionColumns::finish);
                let mut df = frames
                    .next()
                    .unwrap_or_else(|| SessionColumns::new(0).finish());
                for more in frames {
                    df.vstack_mut_owned_unchecked(more);
                }
                df
            }
            Table::MeterValues => {
                // A dump's values share their station, session, measurand
                // and file with many others: each is kept once.
                let r = &self.meter_values;
                let n = r.len();
                let shared = |name: &str, value: fn(&MeterValueRow) -> Option<&str>| {
                    repeated_str_column(name, n, r.iter().map(value))
                };
                frame(
                    n,
                    vec![
                        shared(SESSION_UID, |m| m.session_uid.as_deref()),
                        shared(STATION_ID, |m| Some(&m.station_id)),
                        i32_column(CONNECTOR_ID, r.iter().map(|m| m.connector_id)),
                        dt_column(TS, r.iter().map(|m| Some(micros(&m.ts)))),
                        shared(MEASURAND, |m| Some(&m.measurand)),
                        shared(PHASE, |m| m.phase.as_deref()),
                        shared(CONTEXT, |m| m.context.as_deref()),
                        f64_column(VALUE, r.iter().map(|m| Some(m.value))),
                        shared(UNIT, |m| Some(&m.unit)),
                        shared(SOURCE_FILE, |m| Some(&m.source_file)),
                    ],
                )
            }
            Table::Events => {
                let r = &self.events;
                frame(
                    r.len(),
                    vec![
                        str_column(STATION_ID, r.iter().map(|e| Some(e.station_id.as_str()))),
                        i32_column(CONNECTOR_ID, r.iter().map(|e| e.connector_id)),
                        dt_column(TS, r.iter().map(|e| e.ts.as_ref().map(micros))),
                        str_column(KIND, r.iter().map(|e| Some(e.kind.as_str()))),
                        str_column(STATUS, r.iter().map(|e| e.status.as_deref())),
                        str_column(ERROR_CODE, r.iter().map(|e| e.error_code.as_deref())),
                        str_column(ID_TAG, r.iter().map(|e| e.id_tag.as_deref())),
                        str_column(AUTH_STATUS, r.iter().map(|e| e.auth_status.as_deref())),
                        str_column(INFO, r.iter().map(|e| e.info.as_deref())),
                        repeated_str_column(
                            SOURCE_FILE,
                            r.len(),
                            r.iter().map(|e| e.source_file.as_deref()),
                        ),
                    ],
                )
            }
            Table::Stations => {
                let r = &self.stations;
                frame(
                    r.len(),
                    vec![
                        str_column(STATION_ID, r.iter().map(|s| Some(s.station_id.as_str()))),
                        str_column(SITE, r.iter().map(|s| s.site.as_deref())),
                        str_column(TIMEZONE, r.iter().map(|s| s.timezone.as_deref())),
                        f64_column(RATED_POWER_KW, r.iter().map(|s| s.rated_power_kw)),
                        i32_column(CONNECTORS, r.iter().map(|s| s.connectors)),
                        str_column(ORIGIN, r.iter().map(|s| Some(s.origin))),
                        str_column(SOURCE_FILE, r.iter().map(|s| Some(&*s.source_file))),
                        // Only metadata imports are dated: the latest one wins.
                        dt_column(
                            INGESTED_AT,
                            r.iter()
                                .map(|s| (s.origin == ORIGIN_METADATA).then(|| micros(&now))),
                        ),
                    ],
                )
            }
            Table::Rejects => {
                let r = &self.rejects;
                frame(
                    r.len(),
                    vec![
                        str_column(SOURCE_FILE, r.iter().map(|x| Some(&*x.source_file))),
                        u64_column(LINE, r.iter().map(|x| Some(x.line))),
                        str_column(FIELD, r.iter().map(|x| x.field.as_deref())),
                        str_column(REASON, r.iter().map(|x| Some(x.reason.as_str()))),
                        str_column(RAW, r.iter().map(|x| Some(x.raw.as_str()))),
                        dt_column(INGESTED_AT, r.iter().map(|_| Some(micros(&now)))),
                    ],
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_texts_make_the_same_column_as_pushed_ones() {
        // Equal texts at different addresses, nulls between repeats, and
        // values coming back after others.
        let path = "/data/exports/2026-10/station-export-with-a-long-name.csv".to_string();
        let copy = path.clone();
        let values = [
            Some(path.as_str()),
            Some(path.as_str()),
            None,
            Some(copy.as_str()),
            Some("Energy.Active.Import.Register"),
            Some("short"),
            None,
            Some(path.as_str()),
            Some("Energy.Active.Import.Register"),
        ];
        let repeated = repeated_str_column("x", values.len(), values.iter().copied());
        let pushed = str_column("x", values.iter().copied());
        assert!(repeated.equals_missing(&pushed));
        let empty = repeated_str_column("x", 0, std::iter::empty());
        assert_eq!(empty.len(), 0);
        assert_eq!(empty.dtype(), &DataType::String);
    }

    #[test]
    fn frames_have_the_declared_schema() {
        let now = Utc::now();
        let src: Arc<str> = Arc::from("f.csv");
        let mut batch = Batch::default();
        batch.sessions.push(SessionRow {
            session_uid: "csv:A/1/2026-10-01T08:00:00Z".into(),
            transaction_id: None,
            station_id: "A".into(),
            connector_id: Some(1),
            id_tag: None,
            auth_status: None,
            start: now,
            stop: None,
            charging_end: None,
            meter_start_wh: None,
            meter_stop_wh: None,
            energy_wh: Some(1.0),
            max_power_w: None,
            stop_reason: None,
            source: "csv",
            source_file: src.clone(),
            source_line: Some(2),
        });
        batch.rejects.push(RejectRow {
            source_file: src,
            line: 3,
            field: None,
            reason: "x".into(),
            raw: "y".into(),
        });
        for table in Table::ALL {
            let df = batch.frame(table, now);
            assert_eq!(df.schema().as_ref(), &table.schema(), "{}", table.name());
        }
    }
}
