//! Turning one row of a session export (CSV line or JSON item) into a
//! canonical session, whatever the export calls its columns.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use compact_str::{format_compact, CompactString};

use super::batch::{SessionRow, StationRow, ORIGIN_INFERRED};
use super::presets::{self, Field, Preset};
use super::IngestError;
use crate::timeutil::{self, DateOrder, DstPolicy, Resolution, Stamp};

/// Sessions above this energy are refused as implausible: no EV battery,
/// not even a truck's, takes 5 MWh in one session.
pub const MAX_SESSION_KWH: f64 = 5_000.0;

/// Values read as "no value" in any column.
const NULL_TOKENS: &[&str] = &[
    "", "NULL", "null", "NA", "N/A", "n/a", "None", "nan", "NaN", "-",
];

/// Durations at or above MySQL's TIME maximum are a sentinel for "unknown"
/// (seen in the Boulder export), not a real 35-day session.
const SENTINEL_DURATION_SECS: i64 = 838 * 3600 + 59 * 60 + 59;

/// Options that shape how session rows are read.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Use this preset instead of detecting one from the header.
    pub preset: Option<&'static Preset>,
    /// `--map field=column` overrides, applied on top of the preset.
    pub maps: Vec<(Field, String)>,
    /// Zone of naive times (`--tz`).
    pub tz: Option<Tz>,
    pub date_order: Option<DateOrder>,
    pub dst: DstPolicy,
    /// Zones from station metadata, by station id.
    pub station_zones: HashMap<String, Tz>,
    /// Hand rows to the spill once this many are gathered (0: never).
    pub spill_rows: usize,
}

/// A row's fields, by column index.
pub trait Fields {
    fn field(&self, index: usize) -> Option<Cow<'_, str>>;
}

impl Fields for [String] {
    fn field(&self, index: usize) -> Option<Cow<'_, str>> {
        self.get(index).map(|s| Cow::Borrowed(s.as_str()))
    }
}

/// Why a row was refused: the column (as the export names it) and the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub column: Option<String>,
    pub reason: String,
}

/// Counts of decisions worth telling the user about, per file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapStats {
    pub zone_default_used: u64,
    pub dst_by_abbreviation: u64,
    pub dst_by_policy: u64,
    pub dst_gap_shifted: u64,
    pub utc_by_abbreviation: u64,
    pub sentinel_durations: u64,
    pub stop_from_duration: u64,
    pub open_sessions: u64,
    pub earliest_start: Option<DateTime<Utc>>,
}

/// The column of each field, looked up for every field of every row: an
/// array by the field's position rather than a map.
#[derive(Debug, Clone, Default)]
struct Columns([Option<usize>; Field::ALL.len()]);

impl Columns {
    fn insert(&mut self, field: Field, column: usize) {
        self.0[field as usize] = Some(column);
    }

    fn get(&self, field: &Field) -> Option<&usize> {
        self.0[*field as usize].as_ref()
    }

    fn contains_key(&self, field: &Field) -> bool {
        self.get(field).is_some()
    }
}

/// Maps rows of one file, with one header, to sessions.
#[derive(Debug)]
pub struct SessionMapper {
    pub preset: &'static Preset,
    header: Vec<String>,
    cols: Columns,
    date_order: DateOrder,
    tz: Option<Tz>,
    preset_zone: Option<Tz>,
    dst: DstPolicy,
    /// Shared by the forks that map rows in parallel.
    station_zones: Arc<HashMap<String, Tz>>,
    source: &'static str,
    pub stats: MapStats,
    stations: BTreeMap<String, (Option<String>, Option<String>)>,
}

impl SessionMapper {
    /// Build the mapper for a file with this header.
    pub fn new(
        path: &str,
        header: &[String],
        opts: &SessionOptions,
    ) -> Result<SessionMapper, IngestError> {
        let columns = || header.join(", ");
        let preset = match opts.preset {
            Some(p) => {
                let missing: Vec<&str> = p
                    .signature
                    .iter()
                    .filter(|s| presets::find_column(header, s).is_none())
                    .copied()
                    .collect();
                if !missing.is_empty() && opts.maps.is_empty() {
                    return Err(IngestError::PresetMismatch {
                        path: path.to_string(),
                        preset: p.name,
                        missing: missing.join(", "),
                        columns: columns(),
                    });
                }
                p
            }
            None => match presets::detect(header) {
                Some(p) => p,
                None if !opts.maps.is_empty() => {
                    presets::preset("generic").expect("generic preset")
                }
                None => {
                    return Err(IngestError::UnknownHeader {
                        path: path.to_string(),
                        columns: columns(),
                    })
                }
            },
        };
        let mut cols = Columns::default();
        for (field, spec) in preset.columns {
            if let Some(i) = presets::find_column(header, spec) {
                cols.insert(*field, i);
            }
        }
        for (field, column) in &opts.maps {
            let i = presets::find_column(header, column).ok_or_else(|| IngestError::MapColumn {
                path: path.to_string(),
                field: field.name(),
                column: column.clone(),
                columns: columns(),
            })?;
            cols.insert(*field, i);
        }
        if !cols.contains_key(&Field::StationId) {
            return Err(IngestError::MissingField {
                path: path.to_string(),
                field: Field::StationId.name(),
                columns: columns(),
            });
        }
        if !cols.contains_key(&Field::Start) && !cols.contains_key(&Field::StartDate) {
            return Err(IngestError::MissingField {
                path: path.to_string(),
                field: Field::Start.name(),
                columns: columns(),
            });
        }
        Ok(SessionMapper {
            preset,
            header: header.to_vec(),
            cols,
            date_order: opts.date_order.unwrap_or(preset.date_order),
            tz: opts.tz,
            preset_zone: preset.zone.and_then(|z| z.parse().ok()),
            dst: opts.dst,
            station_zones: Arc::new(opts.station_zones.clone()),
            source: "csv",
            stats: MapStats::default(),
            stations: BTreeMap::new(),
        })
    }

    /// A mapper for another thread: the same header and settings, its own
    /// counts and stations (handed back with [`SessionMapper::absorb`]).
    pub fn fork(&self) -> SessionMapper {
        SessionMapper {
            preset: self.preset,
            header: self.header.clone(),
            cols: self.cols.clone(),
            date_order: self.date_order,
            tz: self.tz,
            preset_zone: self.preset_zone,
            dst: self.dst,
            station_zones: Arc::clone(&self.station_zones),
            source: self.source,
            stats: MapStats::default(),
            stations: BTreeMap::new(),
        }
    }

    /// Take back what a fork counted and saw. Forks are absorbed in row
    /// order, so a station keeps the site and zone of its first row.
    pub fn absorb(&mut self, fork: SessionMapper) {
        // Destructured, so a new count cannot be forgotten here.
        let MapStats {
            zone_default_used,
            dst_by_abbreviation,
            dst_by_policy,
            dst_gap_shifted,
            utc_by_abbreviation,
            sentinel_durations,
            stop_from_duration,
            open_sessions,
            earliest_start,
        } = fork.stats;
        let s = &mut self.stats;
        s.zone_default_used += zone_default_used;
        s.dst_by_abbreviation += dst_by_abbreviation;
        s.dst_by_policy += dst_by_policy;
        s.dst_gap_shifted += dst_gap_shifted;
        s.utc_by_abbreviation += utc_by_abbreviation;
        s.sentinel_durations += sentinel_durations;
        s.stop_from_duration += stop_from_duration;
        s.open_sessions += open_sessions;
        s.earliest_start = match (s.earliest_start, earliest_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (station, meta) in fork.stations {
            self.stations.entry(station).or_insert(meta);
        }
    }

    /// The export's name for a field's column.
    fn column_name(&self, field: Field) -> String {
        self.cols
            .get(&field)
            .and_then(|&i| self.header.get(i))
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|| field.name().to_string())
    }

    fn err(&self, field: Field, reason: impl Into<String>) -> RowError {
        RowError {
            column: Some(self.column_name(field)),
            reason: reason.into(),
        }
    }

    /// The field's text, `None` when the column is absent or holds a null token.
    fn get<'r, F: Fields + ?Sized>(&self, row: &'r F, field: Field) -> Option<Cow<'r, str>> {
        let i = *self.cols.get(&field)?;
        // Null tokens are at most 4 bytes: longer text skips the list.
        let is_null = |t: &str| t.len() <= 4 && NULL_TOKENS.contains(&t);
        match row.field(i)? {
            Cow::Borrowed(b) => Some(b.trim()).filter(|t| !is_null(t)).map(Cow::Borrowed),
            Cow::Owned(o) => Some(o.trim())
                .filter(|t| !is_null(t))
                .map(|t| Cow::Owned(t.to_string())),
        }
    }

    fn number<F: Fields + ?Sized>(&self, row: &F, field: Field) -> Result<Option<f64>, RowError> {
        match self.get(row, field) {
            None => Ok(None),
            Some(text) => parse_number(&text)
                .map(Some)
                .ok_or_else(|| self.err(field, format!("'{text}' is not a number"))),
        }
    }

    /// Text of a time given in one column, or in a date and a time column.
    fn time_text<'r, F: Fields + ?Sized>(
        &self,
        row: &'r F,
        whole: Field,
        date: Field,
        time: Field,
    ) -> Option<(Cow<'r, str>, Field)> {
        if let Some(t) = self.get(row, whole) {
            return Some((t, whole));
        }
        let d = self.get(row, date)?;
        Some(match self.get(row, time) {
            Some(t) => (Cow::Owned(timeutil::join_date_time(&d, &t)), date),
            None => (d, date),
        })
    }

    /// The zone for naive times of this row, and whether it is only the
    /// preset's default (counted when a naive time actually uses it).
    fn zone_for(&self, station: &str, row_zone: Option<Tz>) -> Option<(Tz, bool)> {
        row_zone
            .or(self.tz)
            .or_else(|| self.station_zones.get(station).copied())
            .map(|z| (z, false))
            .or_else(|| self.preset_zone.map(|z| (z, true)))
    }

    fn instant(
        &mut self,
        text: &str,
        field: Field,
        zone: Option<(Tz, bool)>,
        abbreviation: Option<&str>,
    ) -> Result<DateTime<Utc>, RowError> {
        let stamp =
            timeutil::parse_timestamp(text, self.date_order).map_err(|e| self.err(field, e))?;
        match stamp {
            Stamp::Absolute(t) => Ok(t),
            Stamp::Naive(naive) => {
                let Some((zone, by_default)) = zone else {
                    return Err(self.err(
                        field,
                        format!("'{text}' has no time zone: pass --tz ZONE or give the station a timezone in --stations"),
                    ));
                };
                if by_default {
                    self.stats.zone_default_used += 1;
                }
                let (t, how) =
                    timeutil::resolve_local_explained(zone, naive, abbreviation, self.dst)
                        .map_err(|e| self.err(field, e.to_string()))?;
                match how {
                    Resolution::Unique => {}
                    Resolution::ByAbbreviation => self.stats.dst_by_abbreviation += 1,
                    Resolution::AmbiguousByPolicy => self.stats.dst_by_policy += 1,
                    Resolution::GapShifted => self.stats.dst_gap_shifted += 1,
                    Resolution::FixedByAbbreviation => self.stats.utc_by_abbreviation += 1,
                }
                Ok(t)
            }
        }
    }

    fn duration<F: Fields + ?Sized>(
        &mut self,
        row: &F,
        field: Field,
    ) -> Result<Option<Duration>, RowError> {
        let Some(text) = self.get(row, field) else {
            return Ok(None);
        };
        match timeutil::parse_hms(&text) {
            Some(d) if d.num_seconds() >= SENTINEL_DURATION_SECS => {
                self.stats.sentinel_durations += 1;
                Ok(None)
            }
            Some(d) => Ok(Some(d)),
            // Durations only fill gaps (a missing stop); a spelling we do
            // not know (Dundee's minutes?) is not a reason to lose the row.
            None if text.parse::<f64>().is_ok() => Ok(None),
            None => Err(self.err(field, format!("'{text}' is not a duration (H:MM:SS)"))),
        }
    }

    /// Map one row; `line` is its line number in `file`.
    pub fn map<F: Fields + ?Sized>(
        &mut self,
        row: &F,
        file: &Arc<str>,
        line: u64,
    ) -> Result<SessionRow, RowError> {
        let station = CompactString::from(
            self.get(row, Field::StationId)
                .ok_or_else(|| self.err(Field::StationId, "station id is empty"))?,
        );
        let row_zone = match self.get(row, Field::Timezone) {
            None => None,
            Some(z) => Some(
                timeutil::parse_zone(&z).map_err(|e| self.err(Field::Timezone, e.to_string()))?,
            ),
        };
        let zone = self.zone_for(&station, row_zone);

        let (start_text, start_field) = self
            .time_text(row, Field::Start, Field::StartDate, Field::StartTime)
            .ok_or_else(|| self.err(Field::Start, "start time is empty"))?;
        let start_abbr = self.get(row, Field::StartZone).map(Cow::into_owned);
        let start = self.instant(&start_text, start_field, zone, start_abbr.as_deref())?;

        let stop_abbr = self.get(row, Field::StopZone).map(Cow::into_owned);
        let mut stop = match self.time_text(row, Field::Stop, Field::StopDate, Field::StopTime) {
            Some((text, field)) => Some(self.instant(&text, field, zone, stop_abbr.as_deref())?),
            None => None,
        };
        let duration = self.duration(row, Field::Duration)?;
        if stop.is_none() {
            if let Some(d) = duration {
                stop = Some(start + d);
                self.stats.stop_from_duration += 1;
            }
        }
        if let Some(stop) = stop {
            if stop < start {
                return Err(self.err(
                    Field::Stop,
                    format!(
                        "stop {} is before start {}",
                        timeutil::format_utc(stop),
                        timeutil::format_utc(start)
                    ),
                ));
            }
        } else {
            self.stats.open_sessions += 1;
        }

        let mut charging_end = match self.get(row, Field::ChargingEnd) {
            Some(text) => Some(self.instant(&text, Field::ChargingEnd, zone, None)?),
            None => self
                .duration(row, Field::ChargingDuration)?
                .map(|d| start + d),
        };
        // Charging cannot end before it starts or after the car leaves.
        if let Some(end) = charging_end {
            let end = end.max(start);
            charging_end = Some(stop.map_or(end, |s| end.min(s)));
        }

        let meter_start = self.number(row, Field::MeterStartWh)?;
        let meter_stop = self.number(row, Field::MeterStopWh)?;
        let (energy_wh, energy_field) = if let Some(wh) = self.number(row, Field::EnergyWh)? {
            (Some(wh), Field::EnergyWh)
        } else if let Some(kwh) = self.number(row, Field::EnergyKwh)? {
            (Some(kwh * 1000.0), Field::EnergyKwh)
        } else if let (Some(a), Some(b)) = (meter_start, meter_stop) {
            if b < a {
                return Err(self.err(
                    Field::MeterStopWh,
                    format!("meter went backwards: stop {b} Wh is below start {a} Wh"),
                ));
            }
            (Some(b - a), Field::MeterStopWh)
        } else {
            (None, Field::EnergyKwh)
        };
        if let Some(wh) = energy_wh {
            if wh < 0.0 {
                return Err(self.err(
                    energy_field,
                    format!("energy {} kWh is negative", wh / 1000.0),
                ));
            }
            if wh > MAX_SESSION_KWH * 1000.0 {
                return Err(self.err(
                    energy_field,
                    format!("energy {} kWh is implausible for one session (limit {MAX_SESSION_KWH} kWh)", wh / 1000.0),
                ));
            }
        }
        let max_power_w = self.number(row, Field::MaxPowerKw)?.map(|kw| kw * 1000.0);
        if max_power_w.is_some_and(|w| w < 0.0) {
            return Err(self.err(Field::MaxPowerKw, "peak power is negative"));
        }
        let connector_id = self
            .get(row, Field::ConnectorId)
            .and_then(|c| parse_connector(&c));
        let transaction_id = self.get(row, Field::SessionId).map(CompactString::from);
        let id_tag = self.get(row, Field::IdTag).map(CompactString::from);
        let stop_reason = self.get(row, Field::StopReason).map(CompactString::from);

        // A station keeps the site and zone of its first row; its id is
        // copied only then, not for every row of an export with sites.
        if !self.stations.contains_key(&*station) {
            let site = self.get(row, Field::Site).map(Cow::into_owned);
            if site.is_some() || row_zone.is_some() {
                self.stations.insert(
                    station.to_string(),
                    (site, row_zone.map(|z| z.name().to_string())),
                );
            }
        }
        self.stats.earliest_start = Some(self.stats.earliest_start.map_or(start, |e| e.min(start)));

        let session_uid = match (&transaction_id, self.preset.stable_ids) {
            // Pushed, not formatted: `format_compact!` went through
            // `fmt::Write` a piece at a time.
            (Some(id), true) => {
                let mut uid =
                    CompactString::with_capacity(self.source.len() + station.len() + id.len() + 2);
                for part in [self.source, ":", &station, "/", id] {
                    uid.push_str(part);
                }
                uid
            }
            _ => format_compact!(
                "{}:{station}/{}/{}",
                self.source,
                connector_id.map_or_else(|| "-".to_string(), |c| c.to_string()),
                timeutil::format_utc(start)
            ),
        };
        Ok(SessionRow {
            session_uid,
            transaction_id,
            station_id: station,
            connector_id,
            id_tag,
            auth_status: None,
            start,
            stop,
            charging_end,
            meter_start_wh: meter_start,
            meter_stop_wh: meter_stop,
            energy_wh,
            max_power_w,
            stop_reason,
            source: self.source,
            source_file: file.clone(),
            source_line: Some(line),
        })
    }

    /// Stations this file told us about (site, zone), as inferred metadata.
    pub fn inferred_stations(&self, file: &Arc<str>) -> Vec<StationRow> {
        self.stations
            .iter()
            .map(|(id, (site, tz))| StationRow {
                station_id: id.clone(),
                site: site.clone(),
                timezone: tz.clone(),
                rated_power_kw: None,
                connectors: None,
                origin: ORIGIN_INFERRED,
                source_file: file.clone(),
            })
            .collect()
    }
}

/// Parse a number as exports write it: `7.932`, `7,84` (decimal comma),
/// `1,234.5` or `1.234,5` (thousands separators). NaN and infinities are
/// refused.
pub fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    // Most exports write plain numbers: parsed as they are, without the
    // copy that drops separators (a tenth of mapping a CSV row).
    let plain = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E');
    if text.bytes().all(plain) {
        return text.parse::<f64>().ok().filter(|v| v.is_finite());
    }
    parse_separated(text)
}

/// `parse_number` for trimmed text with separators (spaces, commas, ...):
/// they are dropped or turned into the decimal point.
fn parse_separated(text: &str) -> Option<f64> {
    let s: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '_' | '\''))
        .collect();
    let normalised = match (s.rfind('.'), s.rfind(',')) {
        (Some(dot), Some(comma)) if comma > dot => s.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => s.replace(',', ""),
        (None, Some(_)) if s.matches(',').count() == 1 => s.replace(',', "."),
        (None, Some(_)) => s.replace(',', ""),
        _ => s,
    };
    let v: f64 = normalised.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Connector ids are integers; labels like `2`, `02`, `Port 2` or `1A`
/// keep their number, anything else is unknown.
fn parse_connector(text: &str) -> Option<i32> {
    if let Ok(n) = text.trim().parse::<i32>() {
        return Some(n);
    }
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() || digits.len() > 6 {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_its_own_column_slot() {
        let mut cols = Columns::default();
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i, "{f:?}");
            cols.insert(*f, 100 + i);
        }
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(cols.get(f), Some(&(100 + i)));
        }
    }

    #[test]
    fn numbers_as_exports_write_them() {
        assert_eq!(parse_number("7.932"), Some(7.932));
        assert_eq!(parse_number("7,84"), Some(7.84));
        assert_eq!(parse_number(" 1,234.5 "), Some(1234.5));
        assert_eq!(parse_number("1.234,5"), Some(1234.5));
        assert_eq!(parse_number("-3.2"), Some(-3.2));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("1e999"), None);
        assert_eq!(parse_number("1 234,5"), Some(1234.5));
        assert_eq!(parse_number("1_000"), Some(1000.0));
    }

    proptest::proptest! {
        /// Plain numbers skip the separator handling: same result.
        #[test]
        fn plain_numbers_parse_as_with_separators(text in "[-+0-9.eE]{0,12}") {
            let bits = |v: Option<f64>| v.map(f64::to_bits);
            proptest::prop_assert_eq!(bits(parse_number(&text)), bits(parse_separated(&text)));
        }
    }

    #[test]
    fn connectors() {
        assert_eq!(parse_connector("2"), Some(2));
        assert_eq!(parse_connector("Port 2"), Some(2));
        assert_eq!(parse_connector("rapid"), None);
        assert_eq!(parse_connector("99999999999"), None);
    }

    fn mapper(header: &str, opts: &SessionOptions) -> SessionMapper {
        let h: Vec<String> = header.split(',').map(str::to_string).collect();
        SessionMapper::new("t.csv", &h, opts).unwrap()
    }

    fn row(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn generic_row_with_offsets() {
        let mut m = mapper(
            "station_id,connector_id,start,stop,energy_kwh",
            &SessionOptions::default(),
        );
        let file: Arc<str> = Arc::from("t.csv");
        let s = m
            .map(
                row("CP1,2,2026-10-01T08:00:00Z,2026-10-01T09:30:00Z,12.5").as_slice(),
                &file,
                2,
            )
            .unwrap();
        assert_eq!(s.energy_wh, Some(12_500.0));
        assert_eq!(s.connector_id, Some(2));
        assert_eq!(s.session_uid, "csv:CP1/2/2026-10-01T08:00:00Z");
        assert_eq!((s.stop.unwrap() - s.start).num_minutes(), 90);
    }

    #[test]
    fn naive_times_need_a_zone() {
        let mut m = mapper("station_id,start,energy_kwh", &SessionOptions::default());
        let file: Arc<str> = Arc::from("t.csv");
        let e = m
            .map(row("CP1,2026-10-01 08:00,1").as_slice(), &file, 2)
            .unwrap_err();
        assert!(e.reason.contains("--tz"), "{e:?}");
        let opts = SessionOptions {
            tz: Some("Europe/Amsterdam".parse().unwrap()),
            ..SessionOptions::default()
        };
        let mut m = mapper("station_id,start,energy_kwh", &opts);
        let s = m
            .map(row("CP1,2026-10-01 08:00,1").as_slice(), &file, 2)
            .unwrap();
        assert_eq!(timeutil::format_utc(s.start), "2026-10-01T06:00:00Z");
        assert!(s.stop.is_none());
    }

    #[test]
    fn bad_values_name_their_column() {
        let mut m = mapper(
            "station_id,start,stop,energy_kwh",
            &SessionOptions::default(),
        );
        let file: Arc<str> = Arc::from("t.csv");
        let cases = [
            ("CP1,2026-10-01T08:00Z,,abc", "energy_kwh", "not a number"),
            ("CP1,2026-10-01T08:00Z,,-3", "energy_kwh", "negative"),
            ("CP1,2026-10-01T08:00Z,,99999", "energy_kwh", "implausible"),
            (
                "CP1,2026-10-01T08:00Z,2026-10-01T07:00Z,1",
                "stop",
                "before start",
            ),
            (",2026-10-01T08:00Z,,1", "station_id", "empty"),
            ("CP1,yesterday,,1", "start", "timestamp"),
        ];
        for (r, column, why) in cases {
            let e = m.map(row(r).as_slice(), &file, 2).unwrap_err();
            assert_eq!(e.column.as_deref(), Some(column), "{r}");
            assert!(e.reason.contains(why), "{r}: {}", e.reason);
        }
    }
}
