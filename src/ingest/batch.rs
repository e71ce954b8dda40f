//! Rows produced by the readers, gathered per table and turned into
//! DataFrames in the declared schemas.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use polars::prelude::*;

use crate::memory::prefetch;
use crate::schema::{col, Table};
use crate::store::partition::{month_groups, month_key};
use crate::store::stack_frames;

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

/// A value a column of staged rows holds: told apart from another by
/// its bits, so that -0.0 and 0.0 (or two NaNs) are never merged or split
/// wrongly.
trait Held: Copy {
    fn same(self, other: Self) -> bool;
    fn any_value(self) -> AnyValue<'static>;
}

impl Held for Option<&str> {
    fn same(self, other: Self) -> bool {
        self == other
    }
    fn any_value(self) -> AnyValue<'static> {
        self.map_or(AnyValue::Null, |s| AnyValue::StringOwned(s.into()))
    }
}

impl Held for Option<f64> {
    fn same(self, other: Self) -> bool {
        self.map(f64::to_bits) == other.map(f64::to_bits)
    }
    fn any_value(self) -> AnyValue<'static> {
        self.into()
    }
}

/// Integers are the same when equal.
macro_rules! held_integers {
    ($($t:ty),*) => {$(
        impl Held for Option<$t> {
            fn same(self, other: Self) -> bool {
                self == other
            }
            fn any_value(self) -> AnyValue<'static> {
                self.into()
            }
        }
    )*};
}

held_integers!(i32, i64);

/// A builder of one column of values `V`.
trait Builder<V>: Sized {
    fn begin(name: &str, capacity: usize) -> Self;
    fn put(&mut self, value: V);
    fn end(self) -> Column;
}

impl<'a> Builder<Option<&'a str>> for StringChunkedBuilder {
    fn begin(name: &str, capacity: usize) -> Self {
        StringChunkedBuilder::new(name.into(), capacity)
    }
    fn put(&mut self, value: Option<&'a str>) {
        self.append_option(value);
    }
    fn end(self) -> Column {
        StringChunkedBuilder::finish(self).into_column()
    }
}

impl<T: PolarsNumericType> Builder<Option<T::Native>> for PrimitiveChunkedBuilder<T> {
    fn begin(name: &str, capacity: usize) -> Self {
        PrimitiveChunkedBuilder::new(name.into(), capacity)
    }
    fn put(&mut self, value: Option<T::Native>) {
        self.append_option(value);
    }
    fn end(self) -> Column {
        PrimitiveChunkedBuilder::finish(self).into_column()
    }
}

/// A column pushed row by row, kept as one value and a count for as long
/// as every row holds the same value, and finished as a scalar column
/// then. A CSV export has no meter readings or authorization answers and
/// one source: pushed into builders, those columns were a fifth of the
/// staged rows' memory (48 of about 250 bytes a row at 10M sessions, all
/// of it fresh pages) and of the gathers that sort each month, for a
/// single value. The first other value starts the builder with the rows
/// before it.
struct Uniform<V, B> {
    name: &'static str,
    dtype: DataType,
    capacity: usize,
    state: State<V, B>,
}

enum State<V, B> {
    Empty,
    Same(V, usize),
    Mixed(B),
}

impl<V: Held, B: Builder<V>> Uniform<V, B> {
    fn new(name: &'static str, dtype: DataType, capacity: usize) -> Self {
        Uniform {
            name,
            dtype,
            capacity,
            state: State::Empty,
        }
    }

    #[inline]
    fn push(&mut self, value: V) {
        match &mut self.state {
            State::Mixed(builder) => builder.put(value),
            State::Same(held, rows) if held.same(value) => *rows += 1,
            State::Same(held, rows) => {
                let mut builder = B::begin(self.name, self.capacity);
                for _ in 0..*rows {
                    builder.put(*held);
                }
                builder.put(value);
                self.state = State::Mixed(builder);
            }
            State::Empty => self.state = State::Same(value, 1),
        }
    }

    /// The column, of the physical type of `B`'s values (a scalar of
    /// `dtype` when every row held one value).
    fn finish(self) -> Column {
        match self.state {
            State::Empty => B::begin(self.name, 0).end(),
            State::Same(value, rows) => Column::new_scalar(
                self.name.into(),
                Scalar::new(self.dtype, value.any_value()),
                rows,
            ),
            State::Mixed(builder) => builder.end(),
        }
    }
}

type Texts<'a> = Uniform<Option<&'a str>, StringChunkedBuilder>;
type Times = Uniform<Option<i64>, PrimitiveChunkedBuilder<Int64Type>>;
type Numbers = Uniform<Option<f64>, PrimitiveChunkedBuilder<Float64Type>>;

/// The columns of the sessions table, built row by row (one pass over
/// the wide rows into every column's builder: a pass per column read the
/// whole row vector 17 times). Columns that may hold one value in every
/// row of an export (absent, or the source) are [`Uniform`].
struct SessionColumns<'a> {
    /// Session uid and station id: distinct, or nearly, in every export.
    keys: [StringChunkedBuilder; 2],
    texts: [Texts<'a>; 5],
    connector: Uniform<Option<i32>, PrimitiveChunkedBuilder<Int32Type>>,
    start: PrimitiveChunkedBuilder<Int64Type>,
    times: [Times; 2],
    numbers: [Numbers; 4],
    line: PrimitiveChunkedBuilder<UInt64Type>,
    files: Vec<&'a str>,
}

impl<'a> SessionColumns<'a> {
    fn new(n: usize) -> SessionColumns<'a> {
        use col::*;
        let key = |name: &str| StringChunkedBuilder::new(name.into(), n);
        let text = |name| Texts::new(name, DataType::String, n);
        let time = |name| Times::new(name, DataType::Int64, n);
        let number = |name| Numbers::new(name, DataType::Float64, n);
        SessionColumns {
            keys: [key(SESSION_UID), key(STATION_ID)],
            texts: [
                text(TRANSACTION_ID),
                text(ID_TAG),
                text(AUTH_STATUS),
                text(STOP_REASON),
                text(SOURCE),
            ],
            connector: Uniform::new(CONNECTOR_ID, DataType::Int32, n),
            start: PrimitiveChunkedBuilder::new(START.into(), n),
            times: [time(STOP), time(CHARGING_END)],
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
        let [uid, station] = &mut self.keys;
        let [tx, tag, auth, reason, source] = &mut self.texts;
        let [stop, cend] = &mut self.times;
        let [m0, m1, energy, power] = &mut self.numbers;
        uid.append_value(&s.session_uid);
        tx.push(s.transaction_id.as_deref());
        station.append_value(&s.station_id);
        self.connector.push(s.connector_id);
        tag.push(s.id_tag.as_deref());
        auth.push(s.auth_status.as_deref());
        self.start.append_value(micros(&s.start));
        stop.push(s.stop.as_ref().map(micros));
        cend.push(s.charging_end.as_ref().map(micros));
        m0.push(s.meter_start_wh);
        m1.push(s.meter_stop_wh);
        energy.push(s.energy_wh);
        power.push(s.max_power_w);
        reason.push(s.stop_reason.as_deref());
        source.push(Some(s.source));
        self.line.append_option(s.source_line);
        self.files.push(&s.source_file);
    }

    fn finish(self) -> DataFrame {
        // One file entry per row pushed.
        let n = self.files.len();
        let [uid, station] = self.keys;
        let [tx, tag, auth, reason, source] = self.texts;
        let [stop, cend] = self.times;
        let [m0, m1, energy, power] = self.numbers;
        let dt = |c: Column| {
            c.cast(&DataType::Datetime(
                TimeUnit::Microseconds,
                Some(TimeZone::UTC),
            ))
            .expect("microseconds are a datetime")
        };
        frame(
            n,
            vec![
                uid.finish().into_column(),
                tx.finish(),
                station.finish().into_column(),
                self.connector.finish(),
                tag.finish(),
                auth.finish(),
                dt(self.start.finish().into_column()),
                dt(stop.finish()),
                dt(cend.finish()),
                m0.finish(),
                m1.finish(),
                energy.finish(),
                power.finish(),
                reason.finish(),
                source.finish(),
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
                // Rows are read from memory a few ahead of the one at hand
                // (a spill of them is tens of megabytes, long out of cache
                // when staged), in both passes.
                const AHEAD: usize = 8;
                let (group_of, groups) = month_groups(r.iter().enumerate().map(|(i, s)| {
                    if let Some(next) = r.get(i + AHEAD) {
                        prefetch(&next.start);
                    }
                    Some(month_key(s.start.naive_utc().date()))
                }));
                let mut months: Vec<SessionColumns> = groups
                    .iter()
                    .map(|&(_, n)| SessionColumns::new(n))
                    .collect();
                for (i, (s, g)) in r.iter().zip(&group_of).enumerate() {
                    if let Some(next) = r.get(i + AHEAD) {
                        prefetch(next);
                    }
                    months[*g as usize].push(s);
                }
                if months.is_empty() {
                    return SessionColumns::new(0).finish();
                }
                let frames = months.into_iter().map(SessionColumns::finish).collect();
                stack_frames(frames).expect("month frames have one schema")
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

    fn texts(values: &[Option<&str>]) -> Column {
        let mut column = Texts::new("x", DataType::String, values.len());
        values.iter().for_each(|v| column.push(*v));
        column.finish()
    }

    fn numbers(values: &[Option<f64>]) -> Column {
        let mut column = Numbers::new("x", DataType::Float64, values.len());
        values.iter().for_each(|v| column.push(*v));
        column.finish()
    }

    #[test]
    fn uniform_columns_are_scalars_until_a_second_value() {
        let absent = texts(&[None, None, None]);
        assert!(matches!(absent, Column::Scalar(_)));
        assert_eq!((absent.len(), absent.null_count()), (3, 3));
        assert_eq!(absent.dtype(), &DataType::String);
        let source = texts(&[Some("csv"), Some("csv")]);
        assert!(matches!(source, Column::Scalar(_)));
        assert!(source.equals_missing(&str_column("x", [Some("csv"); 2].into_iter())));
        // A second value starts a builder holding the rows before it.
        let mixed = [None, None, Some("Local"), None, Some("Local")];
        let built = texts(&mixed);
        assert!(matches!(built, Column::Series(_)));
        assert!(built.equals_missing(&str_column("x", mixed.into_iter())));
        let empty = texts(&[]);
        assert_eq!((empty.len(), empty.dtype()), (0, &DataType::String));
        // -0.0 and 0.0 are two values (and keep their signs); NaNs of one
        // bit pattern are one.
        let signed = numbers(&[Some(-0.0), Some(0.0)]);
        let values: Vec<Option<f64>> = signed.f64().unwrap().iter().collect();
        assert_eq!(values[0].map(f64::is_sign_negative), Some(true));
        assert_eq!(values[1].map(f64::is_sign_negative), Some(false));
        assert!(matches!(numbers(&[Some(f64::NAN); 3]), Column::Scalar(_)));
        let readings = numbers(&[Some(1.5), Some(1.5), None]);
        assert!(readings.equals_missing(&f64_column("x", [Some(1.5), Some(1.5), None].into_iter())));
    }

    #[test]
    fn session_frames_keep_uniform_columns_as_scalars_across_months() {
        let row = |start: &str, line: u64| SessionRow {
            session_uid: format!("csv:A/{line}").into(),
            transaction_id: None,
            station_id: "A".into(),
            connector_id: Some(1),
            id_tag: Some(format!("TAG{line}").into()),
            auth_status: None,
            start: start.parse().unwrap(),
            stop: None,
            charging_end: None,
            meter_start_wh: None,
            meter_stop_wh: None,
            energy_wh: Some(line as f64),
            max_power_w: None,
            stop_reason: None,
            source: "csv",
            source_file: Arc::from("f.csv"),
            source_line: Some(line),
        };
        let batch = Batch {
            sessions: vec![
                row("2026-10-31T23:00:00Z", 2),
                row("2026-11-01T01:00:00Z", 3),
                row("2026-10-30T08:00:00Z", 4),
            ],
            ..Batch::default()
        };
        let df = batch.frame(Table::Sessions, Utc::now());
        assert_eq!(df.schema().as_ref(), &Table::Sessions.schema());
        assert_eq!(df.height(), 3);
        for name in [
            col::AUTH_STATUS,
            col::METER_START_WH,
            col::SOURCE,
            col::STOP,
        ] {
            assert!(
                matches!(df.column(name).unwrap(), Column::Scalar(_)),
                "{name}"
            );
        }
        for name in [col::ID_TAG, col::ENERGY_WH] {
            assert!(
                matches!(df.column(name).unwrap(), Column::Series(_)),
                "{name}"
            );
        }
        // Rows come out grouped by month, in first-seen month order.
        let lines: Vec<u64> = df
            .column(col::SOURCE_LINE)
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(lines, [2, 4, 3]);
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
