//! Station energy profiles: what each station (site, connector, day,
//! hour of the week) delivered in a time window, how busy it was, how its
//! power compares with its rating and its peers, its faults, maintenance
//! hints with their evidence, and the CO2 its energy avoided.
//!
//! Aggregations are polars lazy queries over the store's sessions and
//! events. Spreading a session's energy over the hours it charged (for the
//! hour-of-week profile, daily energy and hourly grid intensity) is done
//! per session in Rust, in each station's own time zone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use polars::prelude::*;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use thiserror::Error;

use crate::schema::{chunk_values, col as c, f64_values, i64_values, utc_datetime};
use crate::timeutil;

#[derive(Debug, Error)]
pub enum ProfileError {
    #[error("cannot compute the profile: {0}")]
    Polars(#[from] PolarsError),
    #[error("{path}:{line}: {message}")]
    Intensity {
        path: String,
        line: u64,
        message: String,
    },
}

/// What a profile row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    #[default]
    Station,
    Site,
    Connector,
    Day,
    HourOfWeek,
}

/// Thresholds of the maintenance hints (see the README for each rule).
#[derive(Debug, Clone, PartialEq)]
pub struct HintRules {
    /// `underpowered`: peak power below this share of the rated power.
    pub low_power_ratio: f64,
    /// `weaker_than_peers`: median session power below this share of the
    /// median of stations with the same rating.
    pub peer_power_ratio: f64,
    /// Sessions a station needs before power or drift hints are judged.
    pub min_sessions: u64,
    /// `recurring_faults`: at least this many faults in the window.
    pub fault_count: u64,
    /// `silent`: no session for this many days while peers had sessions.
    pub silent_days: i64,
    /// `energy_drift`: mean kWh per session in the second half of the
    /// window this much below (or above) the first half.
    pub drift_ratio: f64,
    /// `idle_blocking`: idle time above this share of plugged-in time.
    pub idle_share: f64,
}

impl Default for HintRules {
    fn default() -> Self {
        HintRules {
            low_power_ratio: 0.5,
            peer_power_ratio: 0.5,
            min_sessions: 5,
            fault_count: 3,
            silent_days: 3,
            drift_ratio: 0.3,
            idle_share: 0.6,
        }
    }
}

/// Emission factors. Defaults and their sources are in the README.
#[derive(Debug, Clone, PartialEq)]
pub struct Co2Factors {
    /// Grid emissions, g CO2e per kWh, when no hourly value applies.
    pub grid_g_per_kwh: f64,
    /// Tailpipe emissions of the petrol car the EV replaces, g CO2/km.
    pub petrol_g_per_km: f64,
    /// Energy the EV uses per km, charging losses included.
    pub ev_kwh_per_km: f64,
    /// Hourly grid intensity: hour start (seconds since the epoch, UTC) → g/kWh.
    pub hourly: Option<BTreeMap<i64, f64>>,
}

/// EEA: EU-27 electricity was 510 gCO2e/kWh in 1990 and 58% below that in
/// 2023, i.e. about 214 g/kWh.
pub const DEFAULT_GRID_G_PER_KWH: f64 = 214.0;
/// EEA: average new petrol car sold in the EU in 2017, 121.6 g CO2/km.
pub const DEFAULT_PETROL_G_PER_KM: f64 = 121.6;
/// An assumption (a mid-size EV with charging losses), not a sourced figure.
pub const DEFAULT_EV_KWH_PER_KM: f64 = 0.18;

impl Default for Co2Factors {
    fn default() -> Self {
        Co2Factors {
            grid_g_per_kwh: DEFAULT_GRID_G_PER_KWH,
            petrol_g_per_km: DEFAULT_PETROL_G_PER_KM,
            ev_kwh_per_km: DEFAULT_EV_KWH_PER_KM,
            hourly: None,
        }
    }
}

impl Co2Factors {
    fn grid_at(&self, hour: i64) -> (f64, bool) {
        match self.hourly.as_ref().and_then(|h| h.get(&hour)) {
            Some(g) => (*g, true),
            None => (self.grid_g_per_kwh, self.hourly.is_none()),
        }
    }
}

/// Read an hourly carbon-intensity CSV: `timestamp,g_per_kwh` (a header
/// row is optional; timestamps RFC 3339, or naive UTC). Each value applies
/// to the hour that contains its timestamp.
pub fn read_intensity_csv(path: &str, text: &str) -> Result<BTreeMap<i64, f64>, ProfileError> {
    let mut out = BTreeMap::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 1;
        let err = |message: String| ProfileError::Intensity {
            path: path.to_string(),
            line,
            message,
        };
        let record = record.map_err(|e| err(e.to_string()))?;
        let ts = record.get(0).unwrap_or("").trim();
        let value = record.get(1).unwrap_or("").trim();
        let t = match timeutil::parse_timestamp(ts, timeutil::DateOrder::Ymd) {
            Ok(timeutil::Stamp::Absolute(t)) => t,
            Ok(timeutil::Stamp::Naive(n)) => Utc.from_utc_datetime(&n),
            Err(_) if line == 1 => continue, // the header
            Err(e) => return Err(err(format!("timestamp: {e}"))),
        };
        let g: f64 = value
            .parse()
            .ok()
            .filter(|g: &f64| g.is_finite() && *g >= 0.0)
            .ok_or_else(|| err(format!("g_per_kwh '{value}' is not a non-negative number")))?;
        out.insert(t.timestamp().div_euclid(3600) * 3600, g);
    }
    Ok(out)
}

/// Everything a profile is computed from.
pub struct ProfileInput {
    /// Sessions in the store (any window; filtered here).
    pub sessions: LazyFrame,
    /// Events in the store.
    pub events: LazyFrame,
    /// Station metadata (all stations).
    pub stations: DataFrame,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Only these stations (empty: all).
    pub only: Vec<String>,
    /// Keep the daily energy per station (`Profile::daily`, for plots):
    /// millions of station-days on a large fleet, so only when wanted.
    /// The `day` grouping works it out regardless.
    pub daily: bool,
}

/// A maintenance hint with the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub station_id: String,
    pub hint: &'static str,
    pub evidence: String,
    pub rule: String,
}

/// The computed profile.
pub struct Profile {
    /// Rows for the requested grouping.
    pub table: DataFrame,
    pub hints: Vec<Hint>,
    /// Daily energy per station in its local time: (station, day, kWh).
    pub daily: Vec<(Arc<str>, NaiveDate, f64)>,
    /// Mean power (kW) by local weekday (0 = Monday) and hour, fleet-wide.
    pub heat: [[f64; 24]; 7],
    pub fleet: FleetSummary,
}

/// Fleet totals for the summary line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetSummary {
    pub stations: usize,
    pub sessions: u64,
    pub kwh: f64,
    pub co2_grid_kg: f64,
    pub co2_avoided_kg: f64,
    /// Hours with energy but no value in the hourly intensity file.
    pub hours_without_intensity: u64,
}

fn hours(e: Expr) -> Expr {
    e.dt().total_milliseconds(false).cast(DataType::Float64) / lit(3_600_000.0)
}

fn lit_time(t: DateTime<Utc>) -> Expr {
    lit(t.timestamp_micros()).cast(utc_datetime())
}

/// Sessions starting in the window, with derived per-session columns.
fn session_frame(input: &ProfileInput) -> LazyFrame {
    // Only the columns the profile reads: Parquet projection skips the rest.
    let mut lf = input
        .sessions
        .clone()
        .filter(col(c::START).gt_eq(lit_time(input.since)))
        .filter(col(c::START).lt(lit_time(input.until)))
        .select(
            [
                c::STATION_ID,
                c::CONNECTOR_ID,
                c::START,
                c::STOP,
                c::CHARGING_END,
                c::ENERGY_WH,
                c::MAX_POWER_W,
            ]
            .map(col),
        );
    if !input.only.is_empty() {
        lf = lf.filter(col(c::STATION_ID).is_in(
            lit(Series::new("only".into(), &input.only)).implode(false),
            false,
        ));
    }
    lf
}

/// The per-session columns the grouped tables aggregate: kWh, duration,
/// plugged-in, charging and idle hours, mean and peak kW. The station table
/// works the same values out in Rust as it reads the rows
/// ([`Derived::of`]), so the whole window is never held with eight more
/// columns.
fn with_derived(sessions: &DataFrame, until: DateTime<Utc>) -> LazyFrame {
    // Plugged in until the stop; a session never stopped counts until its
    // last sign of charging (not to the end of the window: such sessions
    // are mostly lost StopTransactions).
    let until = lit_time(until);
    let last_seen = col(c::STOP)
        .fill_null(col(c::CHARGING_END))
        .fill_null(col(c::START));
    let plug_end = when(last_seen.clone().gt(until.clone()))
        .then(until)
        .otherwise(last_seen);
    let charging_h = hours(col(c::CHARGING_END) - col(c::START));
    let duration_h = hours(col(c::STOP) - col(c::START));
    sessions
        .clone()
        .lazy()
        .with_columns([
            (col(c::ENERGY_WH) / lit(1000.0)).alias("kwh"),
            duration_h.clone().alias("duration_h"),
            hours(plug_end - col(c::START)).alias("plugged_h"),
            charging_h.clone().alias("charging_h"),
            hours(col(c::STOP) - col(c::CHARGING_END)).alias("idle_h"),
            // The plugged-in time of sessions whose idle time is known.
            when((col(c::STOP) - col(c::CHARGING_END)).is_not_null())
                .then(hours(col(c::STOP) - col(c::START)))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("idle_base_h"),
            // Mean power while charging, else over the whole session.
            (col(c::ENERGY_WH)
                / lit(1000.0)
                / when(charging_h.clone().gt(lit(0.0)))
                    .then(charging_h)
                    .otherwise(duration_h))
            .alias("mean_kw"),
        ])
        .with_column(
            when(col(c::MAX_POWER_W).is_not_null())
                .then(col(c::MAX_POWER_W) / lit(1000.0))
                .otherwise(col("mean_kw"))
                .alias("peak_kw_session"),
        )
}

/// `x / 1000` as a polars column divided by the literal computes it.
fn per_1000(x: f64) -> f64 {
    x * (1.0 / 1000.0)
}

/// One session's [`with_derived`] values, from its stored columns
/// (microseconds since the epoch), computed to the bit as polars does, so
/// every grouping agrees: whole milliseconds (truncated), and a column
/// divided by a constant is multiplied by the constant's reciprocal
/// (polars-compute's `prim_true_div_scalar`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Derived {
    kwh: Option<f64>,
    duration_h: Option<f64>,
    plugged_h: Option<f64>,
    charging_h: Option<f64>,
    idle_h: Option<f64>,
    idle_base_h: Option<f64>,
    mean_kw: Option<f64>,
    peak_kw: Option<f64>,
}

impl Derived {
    fn of(
        start: Option<i64>,
        stop: Option<i64>,
        charging_end: Option<i64>,
        energy_wh: Option<f64>,
        max_power_w: Option<f64>,
        until: i64,
    ) -> Derived {
        let hours = |a: Option<i64>, b: Option<i64>| -> Option<f64> {
            Some(b?.wrapping_sub(a?).wrapping_div(1000) as f64 * (1.0 / 3_600_000.0))
        };
        let kwh = energy_wh.map(per_1000);
        let duration_h = hours(start, stop);
        let charging_h = hours(start, charging_end);
        let plug_end = stop
            .or(charging_end)
            .or(start)
            .map(|t| if t > until { until } else { t });
        let idle_h = hours(charging_end, stop);
        let mean_kw = match charging_h {
            Some(h) if h > 0.0 => kwh.map(|k| k / h),
            _ => kwh.zip(duration_h).map(|(k, h)| k / h),
        };
        Derived {
            kwh,
            duration_h,
            plugged_h: hours(start, plug_end),
            charging_h,
            idle_h,
            idle_base_h: idle_h.and(duration_h),
            mean_kw,
            peak_kw: match max_power_w {
                Some(p) => Some(per_1000(p)),
                None => mean_kw,
            },
        }
    }
}

/// Aggregations shared by every grouping.
fn common_aggs() -> Vec<Expr> {
    vec![
        len().cast(DataType::UInt64).alias("sessions"),
        col("kwh").sum().alias("kwh"),
        col("kwh").mean().alias("mean_kwh"),
        col("kwh")
            .quantile(lit(0.95), QuantileMethod::Linear)
            .alias("p95_kwh"),
        col("duration_h").mean().alias("mean_duration_h"),
        col("charging_h").sum().alias("charging_h"),
        col("idle_h").sum().alias("idle_h"),
        col("idle_base_h").sum().alias("idle_base_h"),
        col("plugged_h").sum().alias("plugged_h"),
        col("peak_kw_session").max().alias("peak_kw"),
        col("mean_kw").median().alias("median_session_kw"),
    ]
}

/// Station metadata, one row per station with the columns profiles use.
fn station_meta(stations: &DataFrame) -> PolarsResult<LazyFrame> {
    Ok(stations.clone().lazy().select([
        col(c::STATION_ID),
        col(c::SITE),
        col(c::TIMEZONE),
        col(c::RATED_POWER_KW),
        col(c::CONNECTORS),
    ]))
}

/// The zone each station's local days and hours are counted in.
fn zones(stations: &DataFrame) -> PolarsResult<HashMap<String, Tz>> {
    let ids = stations.column(c::STATION_ID)?.str()?.clone();
    let tzs = stations.column(c::TIMEZONE)?.str()?.clone();
    Ok(ids
        .iter()
        .zip(tzs.iter())
        .filter_map(|(id, tz)| Some((id?.to_string(), tz?.parse::<Tz>().ok()?)))
        .collect())
}

/// One session, as the hourly spreading needs it.
#[derive(Clone, Copy)]
struct SessionSpan {
    /// Index into the sorted station names (`Spans::names`).
    station: u32,
    /// Plug-in and end of charging, microseconds since the epoch.
    start: i64,
    end: i64,
    kwh: f64,
}

fn spans(
    df: &DataFrame,
    rows: &StationRows,
    until: DateTime<Utc>,
) -> PolarsResult<Vec<SessionSpan>> {
    let micros = |name: &str| i64_values(df, name);
    let (start, stop, cend) = (
        micros(c::START)?,
        micros(c::STOP)?,
        micros(c::CHARGING_END)?,
    );
    let energy = f64_values(df, c::ENERGY_WH)?;
    let mut out = Vec::with_capacity(df.height());
    let columns = rows
        .of_row
        .iter()
        .zip(start.iter())
        .zip(stop.iter().zip(cend.iter()))
        .zip(energy.iter());
    for (((&station, s), (stop, cend)), e) in columns {
        let (Some(start), Some(kwh)) = (s, e.map(per_1000)) else {
            continue;
        };
        if station == NO_STATION {
            continue;
        }
        // Energy flows from plug-in to the end of charging (or to the stop,
        // or to the end of the window when the session is still open).
        let end = cend.or(stop).unwrap_or_else(|| until.timestamp_micros());
        out.push(SessionSpan {
            station,
            start,
            end: end.max(start),
            kwh,
        });
    }
    Ok(out)
}

/// Order of floats as polars sorts them: NaN after every number.
fn nan_last(a: &f64, b: &f64) -> std::cmp::Ordering {
    a.partial_cmp(b)
        .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
}

/// Linear-interpolated quantile of `v` (nulls already left out), as polars'
/// `QuantileMethod::Linear`; `None` when empty.
fn quantile_linear(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let at = (v.len() - 1) as f64 * q;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    let (_, low, rest) = v.select_nth_unstable_by(lo, nan_last);
    let low = *low;
    if hi == lo {
        return Some(low);
    }
    // The next value up is the smallest of those above.
    let high = rest.iter().copied().min_by(nan_last).unwrap_or(low);
    Some(low + (high - low) * (at - lo as f64))
}

/// The per-station aggregates of the station table (`common_aggs` plus
/// first and last session and connectors seen), computed in one pass over
/// rows bucketed by station: on millions of sessions a polars group-by on
/// the text key spent seconds gathering each column per group.
fn station_aggs(
    sessions: &DataFrame,
    rows: &StationRows,
    until: DateTime<Utc>,
) -> PolarsResult<DataFrame> {
    let n = rows.names.len();
    let micros = |name: &str| i64_values(sessions, name);
    let f = |name: &str| f64_values(sessions, name);
    let (mut start, mut stop, mut charging_end) = (
        micros(c::START)?,
        micros(c::STOP)?,
        micros(c::CHARGING_END)?,
    );
    let (mut energy, mut max_power) = (f(c::ENERGY_WH)?, f(c::MAX_POWER_W)?);
    let connector = sessions.column(c::CONNECTOR_ID)?.cast(&DataType::Int32)?;
    let mut connector = connector.i32()?.clone();
    // Rows are read chunk by chunk, in step across the columns: the
    // columns of one frame are chunked alike (one chunk per partition
    // read); if not, each is made one chunk first. Checked on the columns
    // as read here, not with DataFrame::align_chunks: that skips columns
    // polars keeps unmaterialised (a constant one, for instance), which
    // come out as one chunk when read (the concurrent-snapshot integration
    // test fails with it).
    let lengths: Vec<usize> = start.chunk_lengths().collect();
    let aligned = stop.chunk_lengths().eq(lengths.iter().copied())
        && charging_end.chunk_lengths().eq(lengths.iter().copied())
        && energy.chunk_lengths().eq(lengths.iter().copied())
        && max_power.chunk_lengths().eq(lengths.iter().copied())
        && connector.chunk_lengths().eq(lengths.iter().copied());
    if !aligned {
        start = start.rechunk().into_owned();
        stop = stop.rechunk().into_owned();
        charging_end = charging_end.rechunk().into_owned();
        energy = energy.rechunk().into_owned();
        max_power = max_power.rechunk().into_owned();
        connector = connector.rechunk().into_owned();
    }
    let until = until.timestamp_micros();

    #[derive(Default, Clone)]
    struct Acc {
        rows: u64,
        kwh: (f64, u64),
        duration: (f64, u64),
        charging: f64,
        idle: f64,
        idle_base: f64,
        plugged: f64,
        peak: Option<f64>,
        first: Option<i64>,
        last: Option<i64>,
        kwh_values: Vec<f64>,
        kw_values: Vec<f64>,
        connectors: Vec<Option<i32>>,
    }
    let mut acc = vec![Acc::default(); n];
    // Each station's value lists are sized once from its row count, not
    // grown by doubling (which copies them and touches twice the memory).
    let mut counts = vec![0usize; n];
    for &station in &rows.of_row {
        if station != NO_STATION {
            counts[station as usize] += 1;
        }
    }
    for (a, count) in acc.iter_mut().zip(counts) {
        a.kwh_values.reserve_exact(count);
        a.kw_values.reserve_exact(count);
    }
    let (starts, stops, cends) = (
        chunk_values(&start),
        chunk_values(&stop),
        chunk_values(&charging_end),
    );
    let (energies, powers, connectors) = (
        chunk_values(&energy),
        chunk_values(&max_power),
        chunk_values(&connector),
    );
    let mut first_row = 0;
    for k in 0..starts.len() {
        let (start, stop, cend) = (&starts[k], &stops[k], &cends[k]);
        let (energy, max_power, connector) = (&energies[k], &powers[k], &connectors[k]);
        for j in 0..start.len() {
            let station = rows.of_row[first_row + j];
            if station == NO_STATION {
                continue;
            }
            let a = &mut acc[station as usize];
            let start = start.get(j);
            let Derived {
                kwh,
                duration_h: duration,
                plugged_h: plugged,
                charging_h: charging,
                idle_h: idle,
                idle_base_h: idle_base,
                mean_kw: kw,
                peak_kw: peak,
            } = Derived::of(
                start,
                stop.get(j),
                cend.get(j),
                energy.get(j),
                max_power.get(j),
                until,
            );
            a.rows += 1;
            if let Some(v) = kwh {
                a.kwh.0 += v;
                a.kwh.1 += 1;
                a.kwh_values.push(v);
            }
            if let Some(v) = duration {
                a.duration.0 += v;
                a.duration.1 += 1;
            }
            a.charging += charging.unwrap_or(0.0);
            a.idle += idle.unwrap_or(0.0);
            a.idle_base += idle_base.unwrap_or(0.0);
            a.plugged += plugged.unwrap_or(0.0);
            if let Some(p) = peak {
                // NaN is skipped, as polars' max does.
                a.peak = Some(a.peak.map_or(p, |m| m.max(p)));
            }
            if let Some(v) = kw {
                a.kw_values.push(v);
            }
            if let Some(s) = start {
                a.first = Some(a.first.map_or(s, |m| m.min(s)));
                a.last = Some(a.last.map_or(s, |m| m.max(s)));
            }
            let connector = connector.get(j);
            if !a.connectors.contains(&connector) {
                a.connectors.push(connector);
            }
        }
        first_row += start.len();
    }
    let mean = |(sum, count): (f64, u64)| (count > 0).then(|| sum / count as f64);
    let mut out = StationAggColumns::default();
    for (name, mut a) in rows.names.iter().zip(acc) {
        if a.rows == 0 {
            continue;
        }
        out.station.push(name.as_str());
        out.sessions.push(a.rows);
        out.kwh.push(a.kwh.0);
        out.mean_kwh.push(mean(a.kwh));
        out.p95_kwh.push(quantile_linear(&mut a.kwh_values, 0.95));
        out.mean_duration.push(mean(a.duration));
        out.charging.push(a.charging);
        out.idle.push(a.idle);
        out.idle_base.push(a.idle_base);
        out.plugged.push(a.plugged);
        out.peak.push(a.peak);
        out.median_kw.push(quantile_linear(&mut a.kw_values, 0.5));
        out.first.push(a.first);
        out.last.push(a.last);
        out.connectors.push(a.connectors.len() as i32);
    }
    let time = |name: &str, v: Vec<Option<i64>>| -> PolarsResult<Column> {
        Int64Chunked::from_iter_options(name.into(), v.into_iter())
            .into_column()
            .cast(&utc_datetime())
    };
    DataFrame::new(
        out.station.len(),
        vec![
            Column::new(c::STATION_ID.into(), out.station),
            Column::new("sessions".into(), out.sessions),
            Column::new("kwh".into(), out.kwh),
            Column::new("mean_kwh".into(), out.mean_kwh),
            Column::new("p95_kwh".into(), out.p95_kwh),
            Column::new("mean_duration_h".into(), out.mean_duration),
            Column::new("charging_h".into(), out.charging),
            Column::new("idle_h".into(), out.idle),
            Column::new("idle_base_h".into(), out.idle_base),
            Column::new("plugged_h".into(), out.plugged),
            Column::new("peak_kw".into(), out.peak),
            Column::new("median_session_kw".into(), out.median_kw),
            time("first_session", out.first)?,
            time("last_session", out.last)?,
            Column::new("connectors_seen".into(), out.connectors),
        ],
    )
}

#[derive(Default)]
struct StationAggColumns<'a> {
    station: Vec<&'a str>,
    sessions: Vec<u64>,
    kwh: Vec<f64>,
    mean_kwh: Vec<Option<f64>>,
    p95_kwh: Vec<Option<f64>>,
    mean_duration: Vec<Option<f64>>,
    charging: Vec<f64>,
    idle: Vec<f64>,
    idle_base: Vec<f64>,
    plugged: Vec<f64>,
    peak: Vec<Option<f64>>,
    median_kw: Vec<Option<f64>>,
    first: Vec<Option<i64>>,
    last: Vec<Option<i64>>,
    connectors: Vec<i32>,
}

/// Row index of "no station" in `StationRows::of_row`.
const NO_STATION: u32 = u32::MAX;

/// The station of every session row, interned: names sorted (so index
/// order is name order) and one index per row.
struct StationRows {
    names: Vec<String>,
    of_row: Vec<u32>,
}

impl StationRows {
    fn new(df: &DataFrame) -> PolarsResult<StationRows> {
        let ids = df.column(c::STATION_ID)?.str()?.clone();
        // Both passes hash every row's id: on every core, over slices of
        // the column (zero-copy), the parts kept in row order.
        const PART: usize = 1 << 16;
        let parts: Vec<StringChunked> = (0..ids.len().div_ceil(PART))
            .map(|i| ids.slice((i * PART) as i64, PART))
            .collect();
        let unique: FxHashSet<&str> = parts
            .par_iter()
            .map(|part| part.iter().flatten().collect::<FxHashSet<&str>>())
            .reduce(FxHashSet::default, |mut a, b| {
                a.extend(b);
                a
            });
        let mut names: Vec<String> = unique.into_iter().map(str::to_string).collect();
        names.sort_unstable();
        let index: FxHashMap<&str, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i as u32))
            .collect();
        let of_row = parts
            .par_iter()
            .flat_map_iter(|part| {
                part.iter()
                    .map(|id| id.map_or(NO_STATION, |id| index[id]))
                    .collect::<Vec<u32>>()
            })
            .collect();
        drop(index);
        Ok(StationRows { names, of_row })
    }
}

const HOUR_US: i64 = 3_600_000_000;

/// Sessions bucketed by station: a counting sort, stable, so each hour
/// sums in input order.
struct ByStation {
    /// Where each station's sessions start in `order` (one more entry
    /// than stations).
    first: Vec<usize>,
    /// Span indices, station by station.
    order: Vec<u32>,
    /// Each station's first and last UTC hour (hours since the epoch) that
    /// a session touches, found in the pass in input order: the hourly
    /// pass reads a station's spans scattered over the whole input, once
    /// instead of three times.
    hours: Vec<(i64, i64)>,
}

/// The first and last UTC hour a span touches (its start hour when it has
/// no length).
fn span_hours(s: &SessionSpan) -> (i64, i64) {
    (
        s.start.div_euclid(HOUR_US),
        (s.end - 1).max(s.start).div_euclid(HOUR_US),
    )
}

impl ByStation {
    fn new(spans: &[SessionSpan], stations: usize) -> Self {
        let mut first = vec![0usize; stations + 1];
        let mut hours = vec![(i64::MAX, i64::MIN); stations];
        for s in spans {
            first[s.station as usize + 1] += 1;
            let (lo, hi) = span_hours(s);
            let station = &mut hours[s.station as usize];
            *station = (station.0.min(lo), station.1.max(hi));
        }
        for i in 0..stations {
            first[i + 1] += first[i];
        }
        let mut next = first.clone();
        let mut order = vec![0u32; spans.len()];
        for (i, s) in spans.iter().enumerate() {
            order[next[s.station as usize]] = i as u32;
            next[s.station as usize] += 1;
        }
        ByStation {
            first,
            order,
            hours,
        }
    }

    /// The stations in consecutive ranges of at least `min_sessions`
    /// sessions each (the last may have fewer), at most about `most`
    /// ranges. The ranges depend on the data only, not on the cores.
    fn ranges(&self, min_sessions: usize, most: usize) -> Vec<std::ops::Range<usize>> {
        let stations = self.first.len() - 1;
        let size = min_sessions.max(self.order.len().div_ceil(most.max(1)));
        let mut out = Vec::new();
        let mut lo = 0;
        for station in 0..stations {
            if self.first[station + 1] - self.first[lo] >= size {
                out.push(lo..station + 1);
                lo = station + 1;
            }
        }
        if lo < stations {
            out.push(lo..stations);
        }
        out
    }
}

/// Spread each session's energy evenly over the time it charged, by UTC
/// hour, and hand `f(station, hour start in seconds, kWh)` each station-hour
/// that received energy, for the `stations` in range, in station then hour
/// order.
///
/// Sessions are bucketed by station and each station's hours summed in a
/// dense buffer: with tens of millions of station-hours a hash map keyed by
/// (station, hour) spent most of its time growing and zeroing memory.
fn for_each_station_hour(
    spans: &[SessionSpan],
    by: &ByStation,
    stations: std::ops::Range<usize>,
    mut f: impl FnMut(u32, i64, f64),
) {
    let (first, order) = (&by.first, &by.order);
    // NaN marks an hour no session touched.
    let mut buf: Vec<f64> = Vec::new();
    let mut local: Vec<SessionSpan> = Vec::new();
    for station in stations {
        let members = &order[first[station]..first[station + 1]];
        if members.is_empty() {
            continue;
        }
        // Copied together first: a station's spans lie scattered over the
        // whole input, and a plain copy has many reads in flight where the
        // spread below, waiting on each, had one.
        local.clear();
        local.extend(members.iter().map(|i| spans[*i as usize]));
        let (lo, hi) = by.hours[station];
        buf.clear();
        buf.resize((hi - lo + 1) as usize, f64::NAN);
        let mut add = |hour: i64, kwh: f64| {
            let slot = &mut buf[(hour - lo) as usize];
            *slot = if slot.is_nan() { kwh } else { *slot + kwh };
        };
        for s in &local {
            // Whole milliseconds, as the shares have always been counted.
            let total = ((s.end - s.start) / 1000) as f64;
            let mut hour = s.start.div_euclid(HOUR_US);
            if total <= 0.0 {
                add(hour, s.kwh);
                continue;
            }
            let mut t = s.start;
            while t < s.end {
                let next = ((hour + 1) * HOUR_US).min(s.end);
                add(hour, s.kwh * (((next - t) / 1000) as f64 / total));
                t = next;
                hour += 1;
            }
        }
        for (i, kwh) in buf.iter().enumerate() {
            if !kwh.is_nan() {
                f(station as u32, (lo + i as i64) * 3600, *kwh);
            }
        }
    }
}

/// Local calendar day, weekday (Monday = 0) and hour of every UTC hour the
/// spans touch, per time zone in use: one table lookup per station-hour
/// instead of a time zone conversion.
struct LocalHours {
    first_hour: i64,
    /// Index into `tables` per station.
    station_table: Vec<usize>,
    tables: Vec<Vec<(NaiveDate, u8, u8)>>,
}

impl LocalHours {
    fn new(spans: &[SessionSpan], station_zones: &[Option<Tz>]) -> Self {
        let first_hour = spans.iter().map(|s| span_hours(s).0).min();
        let last_hour = spans.iter().map(|s| span_hours(s).1).max();
        let mut zones: Vec<Option<Tz>> = Vec::new();
        let station_table = station_zones
            .iter()
            .map(|z| match zones.iter().position(|x| x == z) {
                Some(i) => i,
                None => {
                    zones.push(*z);
                    zones.len() - 1
                }
            })
            .collect();
        let (Some(first_hour), Some(last_hour)) = (first_hour, last_hour) else {
            return LocalHours {
                first_hour: 0,
                station_table,
                tables: Vec::new(),
            };
        };
        let tables = zones
            .iter()
            .map(|zone| {
                (first_hour..=last_hour)
                    .map(|h| {
                        let t = DateTime::from_timestamp(h * 3600, 0).unwrap_or_default();
                        let local = match zone {
                            Some(z) => t.with_timezone(z).naive_local(),
                            None => t.naive_utc(),
                        };
                        (
                            local.date(),
                            local.weekday().num_days_from_monday() as u8,
                            local.hour() as u8,
                        )
                    })
                    .collect()
            })
            .collect();
        LocalHours {
            first_hour,
            station_table,
            tables,
        }
    }

    /// The local (day, weekday, hour) of the UTC hour starting at `hour`
    /// seconds, at a station; the hour must be one the spans touch.
    fn at(&self, station: u32, hour: i64) -> (NaiveDate, u8, u8) {
        self.tables[self.station_table[station as usize]][(hour / 3600 - self.first_hour) as usize]
    }
}

/// What one range of stations adds to the hourly pass of `build`.
struct HourlyPart {
    /// kg CO2 from the grid, per station of the range.
    grid: Vec<f64>,
    missing_hours: u64,
    daily: Vec<(Arc<str>, NaiveDate, f64)>,
    heat_kwh: [[f64; 24]; 7],
}

/// Compute the profile.
pub fn build(
    input: &ProfileInput,
    by: GroupBy,
    rules: &HintRules,
    co2: &Co2Factors,
) -> Result<Profile, ProfileError> {
    let window_h = (input.until - input.since).num_milliseconds() as f64 / 3_600_000.0;
    let window_days = (window_h / 24.0).max(1.0 / 24.0);
    let sessions = session_frame(input).collect()?;
    let meta = input.stations.clone();
    let zones = zones(&meta)?;
    let rows = StationRows::new(&sessions)?;
    let names = &rows.names;
    let station_zones: Vec<Option<Tz>> = names.iter().map(|n| zones.get(n).copied()).collect();
    // The station table's per-station aggregates and session days do not
    // depend on the hourly pass: they are worked out beside it, on the
    // other core.
    let keep_daily = input.daily || by == GroupBy::Day;
    let hourly = || -> PolarsResult<_> {
        let spans = spans(&sessions, &rows, input.until)?;
        let local = LocalHours::new(&spans, &station_zones);
        // Millions of station-days: each shares its station's name.
        let shared: Vec<Arc<str>> = names.iter().map(|n| Arc::from(n.as_str())).collect();
        // Per station-hour: CO2 from the hour's grid intensity, and the daily
        // energy and hour-of-week heat map in the station's local time.
        // Ranges of stations are summed on every core and joined in station
        // order. Up to 64k sessions are one range, summed as they always
        // were; beyond, the heat map adds the ranges' sums (the same
        // ranges on any machine).
        let by_station = ByStation::new(&spans, names.len());
        let parts: Vec<HourlyPart> = by_station
            .ranges(1 << 16, 16)
            .into_par_iter()
            .map(|range| {
                let mut part = HourlyPart {
                    grid: vec![0.0f64; range.len()],
                    missing_hours: 0,
                    daily: Vec::new(),
                    heat_kwh: [[0.0f64; 24]; 7],
                };
                let lo = range.start;
                // Hours arrive in station then time order, and local days
                // never go back in time: each day's energy is one run.
                let mut current: Option<(u32, NaiveDate, f64)> = None;
                for_each_station_hour(&spans, &by_station, range, |station, hour, kwh| {
                    let (g, known) = co2.grid_at(hour);
                    if !known {
                        part.missing_hours += 1;
                    }
                    part.grid[station as usize - lo] += kwh * g / 1000.0;
                    let (day, weekday, hod) = local.at(station, hour);
                    part.heat_kwh[weekday as usize][hod as usize] += kwh;
                    match &mut current {
                        Some((s, d, sum)) if *s == station && *d == day => *sum += kwh,
                        _ => {
                            if let Some((s, d, sum)) = current.replace((station, day, kwh)) {
                                if keep_daily {
                                    part.daily.push((shared[s as usize].clone(), d, sum));
                                }
                            }
                        }
                    }
                });
                if let Some((s, d, sum)) = current.filter(|_| keep_daily) {
                    part.daily.push((shared[s as usize].clone(), d, sum));
                }
                part
            })
            .collect();
        let mut grid_by_index = Vec::with_capacity(names.len());
        let mut missing_hours = 0u64;
        let mut daily: Vec<(Arc<str>, NaiveDate, f64)> = Vec::new();
        let mut heat_kwh = [[0.0f64; 24]; 7];
        for part in parts {
            grid_by_index.extend(part.grid);
            missing_hours += part.missing_hours;
            daily.extend(part.daily);
            for (sum, add) in heat_kwh
                .iter_mut()
                .flatten()
                .zip(part.heat_kwh.iter().flatten())
            {
                *sum += add;
            }
        }
        let kwh_total: f64 = spans.iter().map(|s| s.kwh).sum();
        Ok((grid_by_index, missing_hours, daily, heat_kwh, kwh_total))
    };
    let per_station = || -> PolarsResult<Option<(DataFrame, SessionDays)>> {
        if by != GroupBy::Station {
            return Ok(None);
        }
        Ok(Some((
            station_aggs(&sessions, &rows, input.until)?,
            days_with_sessions_counts(&sessions, &rows, &zones)?,
        )))
    };
    let (hourly, per_station) = rayon::join(hourly, per_station);
    let (grid_by_index, missing_hours, daily, heat_kwh, kwh_total) = hourly?;
    let per_station = per_station?;
    let grid_kg: HashMap<&str, f64> = names
        .iter()
        .map(String::as_str)
        .zip(grid_by_index.iter().copied())
        .collect();
    let avoided_per_kwh = co2.petrol_g_per_km / co2.ev_kwh_per_km / 1000.0;

    // Mean kW in each hour of the week: energy in that slot over the number
    // of such slots in the window.
    let mut heat = [[0.0f64; 24]; 7];
    let mut slots = [[0u32; 24]; 7];
    let mut t = DateTime::from_timestamp(input.since.timestamp().div_euclid(3600) * 3600, 0)
        .unwrap_or(input.since);
    let fleet_zone = zones.values().next().copied();
    while t < input.until {
        let local = match fleet_zone {
            Some(z) => t.with_timezone(&z).naive_local(),
            None => t.naive_utc(),
        };
        slots[local.weekday().num_days_from_monday() as usize][local.hour() as usize] += 1;
        t += Duration::hours(1);
    }
    for d in 0..7 {
        for h in 0..24 {
            if slots[d][h] > 0 {
                heat[d][h] = heat_kwh[d][h] / slots[d][h] as f64;
            }
        }
    }

    let (table, hints) = match by {
        GroupBy::Station => station_table(
            input,
            &sessions,
            &rows,
            per_station,
            &meta,
            &zones,
            rules,
            window_h,
            window_days,
            &grid_kg,
            avoided_per_kwh,
        )?,
        GroupBy::Site => (
            site_table(&sessions, &meta, window_h, window_days, input.until)?,
            Vec::new(),
        ),
        GroupBy::Connector => (
            connector_table(&sessions, window_h, input.until)?,
            Vec::new(),
        ),
        GroupBy::Day => (day_table(&daily, &sessions, &rows, &zones)?, Vec::new()),
        GroupBy::HourOfWeek => (hour_of_week_table(&heat, &heat_kwh)?, Vec::new()),
    };
    let grid_total: f64 = grid_kg.values().sum();
    let fleet = FleetSummary {
        // Distinct already in `rows`; a missing id counts once, as
        // polars' n_unique counts null.
        stations: rows.names.len() + usize::from(sessions.column(c::STATION_ID)?.null_count() > 0),
        sessions: sessions.height() as u64,
        kwh: kwh_total,
        co2_grid_kg: grid_total,
        co2_avoided_kg: kwh_total * avoided_per_kwh - grid_total,
        hours_without_intensity: if co2.hourly.is_some() {
            missing_hours
        } else {
            0
        },
    };
    Ok(Profile {
        table,
        hints,
        daily,
        heat,
        fleet,
    })
}

/// First and last local calendar day the window `[since, until)` touches.
fn window_days_of(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    zone: Option<&Tz>,
) -> (NaiveDate, NaiveDate) {
    let day = |t: DateTime<Utc>| match zone {
        Some(z) => t.with_timezone(z).date_naive(),
        None => t.date_naive(),
    };
    (day(since), day(until - Duration::microseconds(1)))
}

#[allow(clippy::too_many_arguments)]
fn station_table(
    input: &ProfileInput,
    sessions: &DataFrame,
    rows: &StationRows,
    // The per-station aggregates and session days, worked out beside the
    // hourly pass (`None`: work them out here).
    per_station: Option<(DataFrame, SessionDays)>,
    meta: &DataFrame,
    zones: &HashMap<String, Tz>,
    rules: &HintRules,
    window_h: f64,
    window_days: f64,
    grid_kg: &HashMap<&str, f64>,
    avoided_per_kwh: f64,
) -> Result<(DataFrame, Vec<Hint>), ProfileError> {
    let (agg, days) = match per_station {
        Some(done) => done,
        None => (
            station_aggs(sessions, rows, input.until)?,
            days_with_sessions_counts(sessions, rows, zones)?,
        ),
    };
    let agg = agg.lazy();
    // Faults: Faulted statuses and NotifyEvent problems in the window.
    let faults = input
        .events
        .clone()
        .filter(col(c::TS).gt_eq(lit_time(input.since)))
        .filter(col(c::TS).lt(lit_time(input.until)))
        .filter(
            (col(c::KIND)
                .eq(lit("status"))
                .and(col(c::STATUS).eq(lit("Faulted"))))
            .or(col(c::KIND).eq(lit("notify_event"))),
        )
        .collect()?;
    // Every station: with sessions, in metadata, or with events.
    let mut ids: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    // The sessions' stations are already distinct in `rows` (the table is
    // sorted by station at the end, so the order here does not matter).
    let with_sessions = rows.names.iter().map(String::as_str);
    let meta_ids = meta.column(c::STATION_ID)?.str()?;
    for id in with_sessions.chain(meta_ids.iter().flatten()) {
        if (input.only.is_empty() || input.only.iter().any(|o| o == id))
            && seen.insert(id.to_string())
        {
            ids.push(id.to_string());
        }
    }
    let all = DataFrame::new(ids.len(), vec![Column::new(c::STATION_ID.into(), &ids)])?;
    let joined = all
        .lazy()
        .join(
            agg,
            [col(c::STATION_ID)],
            [col(c::STATION_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            station_meta(meta)?,
            [col(c::STATION_ID)],
            [col(c::STATION_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            col("sessions").fill_null(lit(0u64)),
            col("kwh").fill_null(lit(0.0)),
            col(c::CONNECTORS)
                .cast(DataType::Int32)
                .fill_null(col("connectors_seen"))
                .fill_null(lit(1i32))
                .alias("connectors"),
        ])
        .with_columns([
            (col("kwh") / lit(window_days)).alias("kwh_per_day"),
            (col("idle_h") / col("idle_base_h")).alias("idle_share"),
            (col("plugged_h").fill_null(lit(0.0))
                / (lit(window_h) * col("connectors").cast(DataType::Float64)))
            .alias("utilization"),
            (col("peak_kw") / col(c::RATED_POWER_KW)).alias("peak_ratio"),
        ])
        .sort([c::STATION_ID], SortMultipleOptions::default())
        .collect()?;

    // Columns filled in Rust: days without sessions, faults, ranks, CO2, hints.
    let n = joined.height();
    let id_col = joined.column(c::STATION_ID)?.str()?.clone();
    let f64_of = |name: &str| -> PolarsResult<Vec<Option<f64>>> {
        Ok(joined
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let kwh = f64_of("kwh")?;
    let sessions_n: Vec<u64> = joined
        .column("sessions")?
        .u64()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let peak = f64_of("peak_kw")?;
    let rated = f64_of(c::RATED_POWER_KW)?;
    let median_kw = f64_of("median_session_kw")?;
    let idle_share = f64_of("idle_share")?;
    let last_session: Vec<Option<i64>> = joined
        .column("last_session")?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .collect();
    let site: Vec<Option<String>> = joined
        .column(c::SITE)?
        .str()?
        .iter()
        .map(|s| s.map(str::to_string))
        .collect();

    let mut days_without = Vec::with_capacity(n);
    let mut fault_counts = Vec::with_capacity(n);
    let mut top_codes = Vec::with_capacity(n);
    let fault_ids = faults.column(c::STATION_ID)?.str()?.clone();
    let fault_codes = faults.column(c::ERROR_CODE)?.str()?.clone();
    let mut by_station: HashMap<&str, BTreeMap<String, u64>> = HashMap::new();
    let mut fault_total: HashMap<&str, u64> = HashMap::new();
    for (id, code) in fault_ids.iter().zip(fault_codes.iter()) {
        let Some(id) = id else { continue };
        *fault_total.entry(id).or_default() += 1;
        if let Some(code) = code.filter(|c| *c != "NoError") {
            *by_station
                .entry(id)
                .or_default()
                .entry(code.to_string())
                .or_default() += 1;
        }
    }
    for i in 0..n {
        let id = id_col.get(i).unwrap_or("");
        let (first, last) = window_days_of(input.since, input.until, zones.get(id));
        let calendar = (last - first).num_days() + 1;
        let with = days.get(id).map_or(0, |w| w.range(first..=last).count());
        days_without.push((calendar.max(0) as u64).saturating_sub(with as u64) as u32);
        fault_counts.push(fault_total.get(id).copied().unwrap_or(0));
        let mut codes: Vec<(String, u64)> = by_station
            .get(id)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        codes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let text: Vec<String> = codes
            .iter()
            .take(3)
            .map(|(k, v)| format!("{k} ({v})"))
            .collect();
        top_codes.push((!text.is_empty()).then(|| text.join(", ")));
    }
    // Ranks against the fleet (1 = best); stations without data rank last.
    let rank = |values: &[Option<f64>]| -> Vec<Option<u32>> {
        let mut order: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
        order.sort_by(|&a, &b| {
            values[b]
                .partial_cmp(&values[a])
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b))
        });
        let mut out = vec![None; values.len()];
        for (r, i) in order.into_iter().enumerate() {
            out[i] = Some(r as u32 + 1);
        }
        out
    };
    let kwh_per_day: Vec<Option<f64>> = kwh.iter().map(|k| k.map(|k| k / window_days)).collect();
    let power_vs_rated: Vec<Option<f64>> = (0..n)
        .map(|i| match (median_kw[i], rated[i]) {
            (Some(m), Some(r)) if r > 0.0 => Some(m / r),
            _ => None,
        })
        .collect();
    let rank_kwh = rank(&kwh_per_day);
    let rank_power = rank(&power_vs_rated);
    let co2_grid: Vec<f64> = (0..n)
        .map(|i| {
            grid_kg
                .get(id_col.get(i).unwrap_or(""))
                .copied()
                .unwrap_or(0.0)
        })
        .collect();
    let co2_avoided: Vec<f64> = (0..n)
        .map(|i| kwh[i].unwrap_or(0.0) * avoided_per_kwh - co2_grid[i])
        .collect();

    // Hints.
    let mut hints = Vec::new();
    // Peers: stations with the same rated power.
    let mut peers: HashMap<u64, Vec<f64>> = HashMap::new();
    for i in 0..n {
        if let (Some(r), Some(m)) = (rated[i], median_kw[i]) {
            if sessions_n[i] >= rules.min_sessions {
                peers.entry(r.to_bits()).or_default().push(m);
            }
        }
    }
    let fleet_last = last_session.iter().flatten().max().copied();
    let fleet_busy_days: HashSet<NaiveDate> =
        days.values().flat_map(|m| m.keys()).copied().collect();
    for i in 0..n {
        let id = id_col.get(i).unwrap_or("").to_string();
        let mut push = |hint: &'static str, evidence: String, rule: String| {
            hints.push(Hint {
                station_id: id.clone(),
                hint,
                evidence,
                rule,
            })
        };
        if let (Some(p), Some(r)) = (peak[i], rated[i]) {
            if sessions_n[i] >= rules.min_sessions && p < rules.low_power_ratio * r {
                push("underpowered",
                    format!("peak {p:.1} kW over {} sessions is {:.0}% of the rated {r:.1} kW", sessions_n[i], 100.0 * p / r),
                    format!("peak power < {:.0}% of rated power, with >= {} sessions (--hint-low-power, --hint-min-sessions)", 100.0 * rules.low_power_ratio, rules.min_sessions));
            }
        }
        if let (Some(r), Some(m)) = (rated[i], median_kw[i]) {
            if let Some(list) = peers.get(&r.to_bits()).filter(|l| l.len() >= 3) {
                let mut sorted = list.clone();
                sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                let median = sorted[sorted.len() / 2];
                if sessions_n[i] >= rules.min_sessions && m < rules.peer_power_ratio * median {
                    push("weaker_than_peers",
                        format!("median session power {m:.1} kW vs {median:.1} kW for the {} stations rated {r:.1} kW", list.len()),
                        format!("median session power < {:.0}% of the median of peers with the same rating (>= 3 peers) (--hint-peer-power)", 100.0 * rules.peer_power_ratio));
                }
            }
        }
        if fault_counts[i] >= rules.fault_count {
            push(
                "recurring_faults",
                format!(
                    "{} faults in the window{}",
                    fault_counts[i],
                    top_codes[i]
                        .as_ref()
                        .map(|t| format!(": {t}"))
                        .unwrap_or_default()
                ),
                format!(
                    ">= {} Faulted statuses or NotifyEvent problems in the window (--hint-faults)",
                    rules.fault_count
                ),
            );
        }
        // Silent while the fleet kept charging.
        let quiet_since = last_session[i]
            .and_then(DateTime::from_timestamp_micros)
            .unwrap_or(input.since);
        let quiet_days = (input.until - quiet_since).num_days();
        if quiet_days >= rules.silent_days
            && fleet_last.is_some_and(|f| f > quiet_since.timestamp_micros())
        {
            let busy = fleet_busy_days
                .iter()
                .filter(|d| **d > quiet_since.date_naive())
                .count();
            if busy as i64 >= rules.silent_days {
                let last = last_session[i]
                    .and_then(DateTime::from_timestamp_micros)
                    .map_or_else(
                        || "no session in the window".to_string(),
                        |t| format!("last session {}", timeutil::format_utc(t)),
                    );
                push("silent",
                    format!("{last}; other stations had sessions on {busy} days since"),
                    format!("no session for >= {} days while other stations had sessions on as many days (--hint-silent-days)", rules.silent_days));
            }
        }
        if let Some(share) = idle_share[i] {
            if sessions_n[i] >= rules.min_sessions && share > rules.idle_share {
                push("idle_blocking",
                    format!("cars stayed plugged in without charging {:.0}% of the plugged-in time", 100.0 * share),
                    format!("idle time > {:.0}% of plugged-in time (--hint-idle-share); consider an idle fee", 100.0 * rules.idle_share));
            }
        }
        let _ = &site;
    }
    hints.extend(drift_hints(sessions, rows, input, rules)?);
    hints.sort_by(|a, b| (a.station_id.as_str(), a.hint).cmp(&(b.station_id.as_str(), b.hint)));

    let hint_text: Vec<Option<String>> = (0..n)
        .map(|i| {
            let id = id_col.get(i).unwrap_or("");
            let names: Vec<&str> = hints
                .iter()
                .filter(|h| h.station_id == id)
                .map(|h| h.hint)
                .collect();
            (!names.is_empty()).then(|| names.join(","))
        })
        .collect();
    let extra = vec![
        Column::new("days_without_session".into(), days_without),
        Column::new("faults".into(), fault_counts),
        Column::new("top_error_codes".into(), top_codes),
        Column::new("rank_kwh_per_day".into(), rank_kwh),
        Column::new("rank_power".into(), rank_power),
        Column::new("co2_grid_kg".into(), co2_grid),
        Column::new("co2_avoided_kg".into(), co2_avoided),
        Column::new("hints".into(), hint_text),
    ];
    let mut table = joined.hstack(&extra)?;
    table = table
        .lazy()
        .select([
            col(c::STATION_ID),
            col(c::SITE),
            col("sessions"),
            col("kwh"),
            col("kwh_per_day"),
            col("mean_kwh"),
            col("p95_kwh"),
            col("mean_duration_h"),
            col("charging_h"),
            col("idle_h"),
            col("idle_share"),
            col("utilization"),
            col("peak_kw"),
            col(c::RATED_POWER_KW).alias("rated_kw"),
            col("peak_ratio"),
            col("median_session_kw"),
            col("connectors"),
            col("first_session"),
            col("last_session"),
            col("days_without_session"),
            col("faults"),
            col("top_error_codes"),
            col("rank_kwh_per_day"),
            col("rank_power"),
            col("co2_grid_kg"),
            col("co2_avoided_kg"),
            col("hints"),
        ])
        .collect()?;
    Ok((table, hints))
}

/// `energy_drift`: mean kWh per session in the second half of the window
/// against the first half.
fn drift_hints(
    sessions: &DataFrame,
    rows: &StationRows,
    input: &ProfileInput,
    rules: &HintRules,
) -> PolarsResult<Vec<Hint>> {
    let mid = (input.since + (input.until - input.since) / 2).timestamp_micros();
    // Per station and half: sessions, and the sum and count of known kWh
    // (the mean is over sessions with an energy reading). One pass over the
    // interned rows: a polars group-by on the station name cost a second
    // and 600 MB on ten million sessions.
    let start = i64_values(sessions, c::START)?;
    let energy = f64_values(sessions, c::ENERGY_WH)?;
    let mut halves = vec![[(0u64, 0.0f64, 0u64); 2]; rows.names.len()];
    for ((&station, start), energy) in rows.of_row.iter().zip(start.iter()).zip(energy.iter()) {
        let Some(start) = start else { continue };
        if station == NO_STATION {
            continue;
        }
        let half = &mut halves[station as usize][usize::from(start >= mid)];
        half.0 += 1;
        if let Some(e) = energy {
            half.1 += per_1000(e);
            half.2 += 1;
        }
    }
    let by = rows.names.iter().zip(&halves).map(|(id, h)| {
        let mean = |(n, sum, known): (u64, f64, u64)| (known > 0).then(|| (n, sum / known as f64));
        (id.clone(), [mean(h[0]), mean(h[1])])
    });
    let mut out = Vec::new();
    for (id, [a, b]) in by {
        let (Some((na, ma)), Some((nb, mb))) = (a, b) else {
            continue;
        };
        if na < rules.min_sessions || nb < rules.min_sessions || ma <= 0.0 {
            continue;
        }
        let change = (mb - ma) / ma;
        if change.abs() > rules.drift_ratio {
            out.push(Hint {
                station_id: id,
                hint: "energy_drift",
                evidence: format!(
                    "mean {ma:.1} kWh per session ({na} sessions) in the first half of the window, {mb:.1} kWh ({nb}) in the second: {:+.0}%",
                    100.0 * change
                ),
                rule: format!(
                    "mean kWh per session changed by more than {:.0}% between the halves of the window, >= {} sessions each (--hint-drift)",
                    100.0 * rules.drift_ratio,
                    rules.min_sessions
                ),
            });
        }
    }
    Ok(out)
}

fn site_table(
    sessions: &DataFrame,
    meta: &DataFrame,
    window_h: f64,
    window_days: f64,
    until: DateTime<Utc>,
) -> PolarsResult<DataFrame> {
    let connectors = meta
        .clone()
        .lazy()
        .group_by([col(c::SITE)])
        .agg([col(c::CONNECTORS)
            .cast(DataType::Int64)
            .sum()
            .alias("site_connectors")]);
    with_derived(sessions, until)
        .join(
            station_meta(meta)?,
            [col(c::STATION_ID)],
            [col(c::STATION_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col(c::SITE).fill_null(lit("(no site)")))
        .group_by([col(c::SITE)])
        .agg({
            let mut a = common_aggs();
            a.push(
                col(c::STATION_ID)
                    .n_unique()
                    .cast(DataType::UInt32)
                    .alias("stations"),
            );
            a
        })
        .join(
            connectors,
            [col(c::SITE)],
            [col(c::SITE)],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            (col("kwh") / lit(window_days)).alias("kwh_per_day"),
            (col("idle_h") / col("idle_base_h")).alias("idle_share"),
            (col("plugged_h") / (lit(window_h) * col("site_connectors").cast(DataType::Float64)))
                .alias("utilization"),
        ])
        .select([
            col(c::SITE),
            col("stations"),
            col("sessions"),
            col("kwh"),
            col("kwh_per_day"),
            col("mean_kwh"),
            col("p95_kwh"),
            col("mean_duration_h"),
            col("charging_h"),
            col("idle_h"),
            col("idle_share"),
            col("utilization"),
            col("peak_kw"),
        ])
        .sort([c::SITE], SortMultipleOptions::default())
        .collect()
}

fn connector_table(
    sessions: &DataFrame,
    window_h: f64,
    until: DateTime<Utc>,
) -> PolarsResult<DataFrame> {
    with_derived(sessions, until)
        .group_by([col(c::STATION_ID), col(c::CONNECTOR_ID)])
        .agg(common_aggs())
        .with_columns([
            (col("idle_h") / col("idle_base_h")).alias("idle_share"),
            (col("plugged_h") / lit(window_h)).alias("utilization"),
        ])
        .select([
            col(c::STATION_ID),
            col(c::CONNECTOR_ID),
            col("sessions"),
            col("kwh"),
            col("mean_kwh"),
            col("p95_kwh"),
            col("mean_duration_h"),
            col("charging_h"),
            col("idle_h"),
            col("idle_share"),
            col("utilization"),
            col("peak_kw"),
        ])
        .sort(
            [c::STATION_ID, c::CONNECTOR_ID],
            SortMultipleOptions::default(),
        )
        .collect()
}

fn day_table(
    daily: &[(Arc<str>, NaiveDate, f64)],
    sessions: &DataFrame,
    rows: &StationRows,
    zones: &HashMap<String, Tz>,
) -> PolarsResult<DataFrame> {
    // Energy by the local day it flowed; sessions by the local day they started.
    let mut kwh: BTreeMap<NaiveDate, (f64, HashSet<&str>)> = BTreeMap::new();
    for (station, day, k) in daily {
        let e = kwh.entry(*day).or_default();
        e.0 += k;
        e.1.insert(&**station);
    }
    let mut started: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    for (station, days) in days_with_sessions_counts(sessions, rows, zones)? {
        let _ = station;
        for (d, n) in days {
            *started.entry(d).or_default() += n;
        }
    }
    let days: Vec<NaiveDate> = kwh
        .keys()
        .chain(started.keys())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let day_col: Vec<i32> = days
        .iter()
        .map(|d| (*d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32)
        .collect();
    let n = days.len();
    DataFrame::new(
        n,
        vec![
            Int32Chunked::from_vec("day".into(), day_col)
                .into_date()
                .into_column(),
            Column::new(
                "sessions".into(),
                days.iter()
                    .map(|d| started.get(d).copied().unwrap_or(0))
                    .collect::<Vec<u64>>(),
            ),
            Column::new(
                "kwh".into(),
                days.iter()
                    .map(|d| kwh.get(d).map_or(0.0, |e| e.0))
                    .collect::<Vec<f64>>(),
            ),
            Column::new(
                "stations_charging".into(),
                days.iter()
                    .map(|d| kwh.get(d).map_or(0, |e| e.1.len() as u32))
                    .collect::<Vec<u32>>(),
            ),
        ],
    )
}

/// Sessions started on each local day, per station.
/// Sessions started per station and local day.
type SessionDays = FxHashMap<String, BTreeMap<NaiveDate, u64>>;

fn days_with_sessions_counts(
    sessions: &DataFrame,
    rows: &StationRows,
    zones: &HashMap<String, Tz>,
) -> PolarsResult<SessionDays> {
    // Up to 64M cells (256 MiB); decades of a huge fleet count in a map.
    session_days(sessions, rows, zones, 1 << 26)
}

fn session_days(
    sessions: &DataFrame,
    rows: &StationRows,
    zones: &HashMap<String, Tz>,
    dense_cells: usize,
) -> PolarsResult<SessionDays> {
    let starts = i64_values(sessions, c::START)?;
    let station_zone: Vec<Option<Tz>> = rows.names.iter().map(|n| zones.get(n).copied()).collect();
    let mut days = LocalDays::default();
    // Counts in a dense station × day table over the days the starts span
    // (a local day is within a day of the UTC one): a hash entry per
    // (station, day) was most of this function on millions of sessions.
    let day_of = |us: i64| us.div_euclid(86_400_000_000);
    let (first, last) = match (starts.min(), starts.max()) {
        (Some(a), Some(b)) => (day_of(a) - 1, day_of(b) + 1),
        _ => (0, -1),
    };
    let width = (last - first + 1).max(0) as usize;
    let dense_fits = rows.names.len().saturating_mul(width) <= dense_cells;
    let mut dense = vec![
        0u32;
        if dense_fits {
            rows.names.len() * width
        } else {
            0
        }
    ];
    let mut sparse: FxHashMap<(u32, i64), u64> = FxHashMap::default();
    for (&station, start) in rows.of_row.iter().zip(starts.iter()) {
        let Some(us) = start else { continue };
        if station == NO_STATION {
            continue;
        }
        let day = days.of(station_zone[station as usize], us.div_euclid(1_000_000));
        if dense_fits && (first..=last).contains(&day) {
            dense[station as usize * width + (day - first) as usize] += 1;
        } else {
            *sparse.entry((station, day)).or_default() += 1;
        }
    }
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut out: FxHashMap<String, BTreeMap<NaiveDate, u64>> = FxHashMap::default();
    for (station, row) in dense.chunks(width.max(1)).enumerate() {
        let counted: BTreeMap<NaiveDate, u64> = row
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .filter_map(|(i, n)| {
                let date = epoch.checked_add_signed(Duration::days(first + i as i64))?;
                Some((date, u64::from(*n)))
            })
            .collect();
        if !counted.is_empty() {
            out.insert(rows.names[station].clone(), counted);
        }
    }
    for ((station, day), n) in sparse {
        let Some(date) = epoch.checked_add_signed(Duration::days(day)) else {
            continue;
        };
        *out.entry(rows.names[station as usize].clone())
            .or_default()
            .entry(date)
            .or_default() += n;
    }
    Ok(out)
}

/// Local calendar days of instants (days since 1970-01-01), with each
/// zone's UTC offset remembered per hour: a conversion per distinct hour,
/// not per session.
#[derive(Default)]
struct LocalDays {
    /// Offset in seconds of (zone, UTC hour); `None` when the offset changes
    /// inside that hour (then each instant is converted).
    offsets: FxHashMap<(Tz, i64), Option<i64>>,
}

impl LocalDays {
    fn of(&mut self, zone: Option<Tz>, secs: i64) -> i64 {
        let Some(z) = zone else {
            return secs.div_euclid(86_400);
        };
        let offset_at = |t: i64| {
            DateTime::from_timestamp(t, 0).map(|t| {
                i64::from(
                    z.offset_from_utc_datetime(&t.naive_utc())
                        .fix()
                        .local_minus_utc(),
                )
            })
        };
        let hour = secs.div_euclid(3600);
        let offset = *self.offsets.entry((z, hour)).or_insert_with(|| {
            let (a, b) = (offset_at(hour * 3600), offset_at(hour * 3600 + 3599));
            if a == b {
                a
            } else {
                None
            }
        });
        match offset.or_else(|| offset_at(secs)) {
            Some(off) => (secs + off).div_euclid(86_400),
            None => secs.div_euclid(86_400),
        }
    }
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn hour_of_week_table(heat: &[[f64; 24]; 7], kwh: &[[f64; 24]; 7]) -> PolarsResult<DataFrame> {
    let mut day = Vec::new();
    let mut hour = Vec::new();
    let mut mean_kw = Vec::new();
    let mut energy = Vec::new();
    for d in 0..7 {
        for h in 0..24 {
            day.push(WEEKDAYS[d]);
            hour.push(h as u32);
            mean_kw.push(heat[d][h]);
            energy.push(kwh[d][h]);
        }
    }
    DataFrame::new(
        7 * 24,
        vec![
            Column::new("weekday".into(), day),
            Column::new("hour".into(), hour),
            Column::new("kwh".into(), energy),
            Column::new("mean_kw".into(), mean_kw),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn energy_spreads_over_the_hours_it_flowed() {
        let us = |s: &str| t(s).timestamp_micros();
        let spans = vec![
            SessionSpan {
                station: 1,
                start: us("2026-10-01T08:30:00Z"),
                end: us("2026-10-01T10:00:00Z"),
                kwh: 15.0,
            },
            SessionSpan {
                station: 0,
                start: us("2026-10-01T09:15:00Z"),
                end: us("2026-10-01T09:15:00Z"),
                kwh: 2.0,
            },
            SessionSpan {
                station: 1,
                start: us("2026-10-01T09:45:00Z"),
                end: us("2026-10-01T11:45:00Z"),
                kwh: 4.0,
            },
        ];
        let mut h = Vec::new();
        for_each_station_hour(&spans, &ByStation::new(&spans, 3), 0..3, |s, hour, kwh| {
            h.push((s, hour, kwh))
        });
        let at = |s: &str| t(s).timestamp();
        let want = [
            (0, at("2026-10-01T09:00:00Z"), 2.0),
            (1, at("2026-10-01T08:00:00Z"), 5.0),
            (1, at("2026-10-01T09:00:00Z"), 10.5),
            (1, at("2026-10-01T10:00:00Z"), 2.0),
            (1, at("2026-10-01T11:00:00Z"), 1.5),
        ];
        assert_eq!(h.len(), want.len(), "{h:?}");
        for (got, want) in h.iter().zip(want) {
            assert_eq!((got.0, got.1), (want.0, want.1));
            assert!((got.2 - want.2).abs() < 1e-9, "{got:?} vs {want:?}");
        }
    }

    /// Station ranges for the parallel hourly pass cover every station
    /// once, in order, each with enough sessions (the last aside), and do
    /// not depend on anything but the sessions.
    #[test]
    fn station_ranges_cover_every_station_in_order() {
        let spans: Vec<SessionSpan> = (0..1000u32)
            .map(|i| SessionSpan {
                // Stations 0..10, unevenly: station 3 has most sessions.
                station: if i % 3 == 0 { 3 } else { i % 10 },
                start: i64::from(i) * HOUR_US,
                end: i64::from(i + 1) * HOUR_US,
                kwh: 1.0,
            })
            .collect();
        let by = ByStation::new(&spans, 12);
        for (min, most) in [(1, 16), (50, 16), (100, 4), (5000, 16), (0, 1)] {
            let ranges = by.ranges(min, most);
            assert_eq!(ranges.first().map(|r| r.start), Some(0), "{min} {most}");
            assert_eq!(ranges.last().map(|r| r.end), Some(12), "{min} {most}");
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
            let size = min.max(1000usize.div_ceil(most));
            for r in &ranges[..ranges.len() - 1] {
                assert!(by.first[r.end] - by.first[r.start] >= size, "{r:?}");
            }
        }
        // Below the minimum: one range, summed as the sequential pass did.
        assert_eq!(by.ranges(1 << 16, 16), vec![0..12]);
        // Each station's first and last hour, from its own sessions.
        for station in 0..12 {
            let members = &by.order[by.first[station]..by.first[station + 1]];
            let hours = members.iter().map(|i| span_hours(&spans[*i as usize]));
            let expected = hours.fold((i64::MAX, i64::MIN), |(lo, hi), (a, b)| {
                (lo.min(a), hi.max(b))
            });
            assert_eq!(by.hours[station], expected, "station {station}");
        }
        assert_eq!(by.hours[3], (0, 999));
        assert_eq!(by.hours[1], (1, 991));
    }

    #[test]
    fn local_days_match_a_conversion_of_each_instant() {
        let mut days = LocalDays::default();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        // Whole-hour and half-hour offsets, and St John's, whose clocks
        // change at 02:00 local, half-way through a UTC hour.
        for zone in [
            "Europe/Amsterdam",
            "Asia/Kolkata",
            "America/St_Johns",
            "Australia/Lord_Howe",
        ] {
            let z: Tz = zone.parse().unwrap();
            for start in [
                "2026-03-08T00:00:00Z",
                "2026-10-24T20:00:00Z",
                "2026-11-01T00:00:00Z",
                "2026-04-04T12:00:00Z",
            ] {
                let t0 = t(start).timestamp();
                for step in 0..(3 * 24 * 12) {
                    let secs = t0 + step * 300 + 17;
                    let want = DateTime::from_timestamp(secs, 0)
                        .unwrap()
                        .with_timezone(&z)
                        .date_naive();
                    let got = epoch + Duration::days(days.of(Some(z), secs));
                    assert_eq!(got, want, "{zone} at {secs}");
                }
            }
        }
        assert_eq!(days.of(None, 86_399), 0);
        assert_eq!(days.of(None, -1), -1);
    }

    #[test]
    fn derived_values_are_what_polars_computes() {
        // start, stop, charging end (us), energy (Wh), peak power (W)
        type Row = (
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<f64>,
            Option<f64>,
        );
        // Edge cases: sub-millisecond and negative spans, missing stops,
        // charging ends and energy, zero charging time, a stop after the
        // window's end, a meter's peak power.
        let h = 3_600_000_000i64;
        let rows: Vec<Row> = vec![
            (
                Some(0),
                Some(2 * h + 1_234_567),
                Some(h + 999),
                Some(29_003.0),
                None,
            ),
            (Some(10), Some(5), Some(7), Some(1.0), Some(11_000.0)),
            (Some(0), None, Some(h / 3), Some(4_321.123), None),
            (Some(0), None, None, Some(0.1), None),
            (Some(0), Some(h), Some(0), Some(7_000.0), Some(49_870.0)),
            (Some(0), Some(900 * h), Some(h), None, None),
            (Some(-h - 1), Some(h + 1), None, Some(123.456), Some(0.0)),
            (Some(0), Some(0), Some(0), Some(0.0), None),
        ];
        let until = 100 * h;
        let col_i = |f: fn(&Row) -> Option<i64>| {
            Int64Chunked::from_iter_options("x".into(), rows.iter().map(f))
                .into_column()
                .cast(&utc_datetime())
                .unwrap()
        };
        let col_f = |f: fn(&Row) -> Option<f64>| {
            Float64Chunked::from_iter_options("x".into(), rows.iter().map(f)).into_column()
        };
        let df = DataFrame::new(
            rows.len(),
            vec![
                col_i(|r| r.0).with_name(c::START.into()),
                col_i(|r| r.1).with_name(c::STOP.into()),
                col_i(|r| r.2).with_name(c::CHARGING_END.into()),
                col_f(|r| r.3).with_name(c::ENERGY_WH.into()),
                col_f(|r| r.4).with_name(c::MAX_POWER_W.into()),
            ],
        )
        .unwrap();
        let polars = with_derived(&df, DateTime::from_timestamp_micros(until).unwrap())
            .collect()
            .unwrap();
        let got = |name: &str| -> Vec<Option<f64>> {
            polars.column(name).unwrap().f64().unwrap().iter().collect()
        };
        let names = [
            "kwh",
            "duration_h",
            "plugged_h",
            "charging_h",
            "idle_h",
            "idle_base_h",
            "mean_kw",
            "peak_kw_session",
        ];
        let columns: Vec<Vec<Option<f64>>> = names.iter().map(|n| got(n)).collect();
        for (i, r) in rows.iter().enumerate() {
            let d = Derived::of(r.0, r.1, r.2, r.3, r.4, until);
            let ours = [
                d.kwh,
                d.duration_h,
                d.plugged_h,
                d.charging_h,
                d.idle_h,
                d.idle_base_h,
                d.mean_kw,
                d.peak_kw,
            ];
            for (k, name) in names.iter().enumerate() {
                // Bits, so NaN and the last digit count.
                assert_eq!(
                    ours[k].map(f64::to_bits),
                    columns[k][i].map(f64::to_bits),
                    "{name} of row {i}: {:?} vs {:?}",
                    ours[k],
                    columns[k][i]
                );
            }
        }
    }

    #[test]
    fn session_days_count_the_same_dense_or_sparse() {
        let us = |s: &str| t(s).timestamp_micros();
        let starts = [
            "2026-03-28T23:30:00Z",
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:30:00Z",
            "2026-10-25T00:59:59Z",
            "2026-10-25T23:59:59Z",
            "2026-10-26T00:00:00Z",
        ];
        let stations = ["A", "B", "A", "B", "A", "C"];
        let df = DataFrame::new(
            starts.len(),
            vec![
                Column::new(c::STATION_ID.into(), stations.to_vec()),
                Int64Chunked::from_vec("s".into(), starts.iter().map(|s| us(s)).collect())
                    .into_column()
                    .cast(&utc_datetime())
                    .unwrap()
                    .with_name(c::START.into()),
            ],
        )
        .unwrap();
        let rows = StationRows::new(&df).unwrap();
        let zones: HashMap<String, Tz> = [
            ("A".to_string(), chrono_tz::Europe::Amsterdam),
            ("B".to_string(), chrono_tz::Pacific::Kiritimati),
        ]
        .into();
        let dense = session_days(&df, &rows, &zones, usize::MAX).unwrap();
        let sparse = session_days(&df, &rows, &zones, 0).unwrap();
        assert_eq!(dense, sparse);
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // Amsterdam: 23:30Z on 28 March is the 29th at 00:30 local.
        assert_eq!(dense["A"].get(&d("2026-03-29")), Some(&2));
        // Kiritimati is UTC+14: both of B's sessions fall on the next day.
        assert_eq!(
            dense["B"].keys().copied().collect::<Vec<_>>(),
            vec![d("2026-03-29"), d("2026-10-25")]
        );
        assert_eq!(dense["C"].get(&d("2026-10-26")), Some(&1));
    }

    #[test]
    fn quantiles_interpolate_like_polars() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile_linear(&mut v, 0.5), Some(2.5));
        assert_eq!(quantile_linear(&mut v, 0.95), Some(3.8499999999999996));
        assert_eq!(quantile_linear(&mut [], 0.5), None);
        // NaN sorts last, as in polars.
        let m = quantile_linear(&mut [f64::NAN, 2.0], 0.5).unwrap();
        assert!(m.is_nan());
        assert_eq!(quantile_linear(&mut [f64::NAN, 2.0, 1.0], 0.0), Some(1.0));
    }

    #[test]
    fn intensity_file() {
        let m = read_intensity_csv(
            "g.csv",
            "timestamp,g_per_kwh\n2026-10-01T08:00:00Z,250\n2026-10-01T09:30:00Z,120.5\n",
        )
        .unwrap();
        assert_eq!(m.get(&t("2026-10-01T09:00:00Z").timestamp()), Some(&120.5));
        let e = read_intensity_csv("g.csv", "2026-10-01T08:00:00Z,-3\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("g.csv:1:"), "{e}");
    }

    #[test]
    fn local_days_follow_the_zone() {
        let ams: Tz = "Europe/Amsterdam".parse().unwrap();
        let (first, last) = window_days_of(
            t("2026-10-24T22:00:00Z"),
            t("2026-10-26T23:00:00Z"),
            Some(&ams),
        );
        // 25 and 26 October, local
        assert_eq!(first, NaiveDate::from_ymd_opt(2026, 10, 25).unwrap());
        assert_eq!(last, NaiveDate::from_ymd_opt(2026, 10, 26).unwrap());
    }
}
