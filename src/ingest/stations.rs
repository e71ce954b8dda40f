//! Station metadata files (`--stations stations.csv|toml`): the site, time
//! zone, rated power and connector count of each station.
//!
//! Metadata is configuration, so a bad entry is an error naming the file,
//! line and key, not a reject.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::batch::{StationRow, ORIGIN_METADATA};
use super::sessions::parse_number;
use super::IngestError;
use crate::timeutil;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(alias = "stations")]
    station: Vec<toml::Spanned<TomlStation>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlStation {
    #[serde(alias = "id")]
    station_id: String,
    site: Option<String>,
    timezone: Option<String>,
    rated_power_kw: Option<f64>,
    connectors: Option<i32>,
}

/// Read a station metadata file (`.toml`, otherwise CSV).
pub fn load(path: &Path) -> Result<Vec<StationRow>, IngestError> {
    let name = path.to_string_lossy().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => IngestError::NotFound { path: name.clone() },
        _ => IngestError::Io {
            path: name.clone(),
            source,
        },
    })?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if is_toml {
        parse_toml(&name, &text)
    } else {
        parse_csv(&name, &text)
    }
}

fn line_of(text: &str, offset: usize) -> u64 {
    text[..offset.min(text.len())].matches('\n').count() as u64 + 1
}

/// Parse stations from TOML (`[[station]]` tables).
pub fn parse_toml(name: &str, text: &str) -> Result<Vec<StationRow>, IngestError> {
    let file: TomlFile = toml::from_str(text).map_err(|e| IngestError::Stations {
        path: name.to_string(),
        line: e.span().map_or(0, |s| line_of(text, s.start)),
        message: e.message().to_string(),
    })?;
    let source: Arc<str> = Arc::from(name);
    file.station
        .into_iter()
        .map(|spanned| {
            let line = line_of(text, spanned.span().start);
            let s = spanned.into_inner();
            check(
                name,
                line,
                s.station_id,
                s.site,
                s.timezone,
                s.rated_power_kw,
                s.connectors,
                &source,
            )
        })
        .collect()
}

/// Parse stations from CSV with a header naming at least `station_id`.
pub fn parse_csv(name: &str, text: &str) -> Result<Vec<StationRow>, IngestError> {
    let delimiter = super::csv::sniff_delimiter(text.as_bytes());
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let err = |line: u64, message: String| IngestError::Stations {
        path: name.to_string(),
        line,
        message,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| err(1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let idx = |col: &str| header.iter().position(|h| h == col);
    let id_col = idx("station_id").or_else(|| idx("id")).ok_or_else(|| {
        err(
            1,
            format!("no station_id column (columns: {})", header.join(", ")),
        )
    })?;
    let source: Arc<str> = Arc::from(name);
    let mut out = Vec::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| err(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let get = |col: &str| {
            idx(col)
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let rated = match get("rated_power_kw") {
            None => None,
            Some(v) => Some(
                parse_number(v)
                    .ok_or_else(|| err(line, format!("rated_power_kw '{v}' is not a number")))?,
            ),
        };
        let connectors = match get("connectors") {
            None => None,
            Some(v) => Some(
                v.parse::<i32>()
                    .map_err(|_| err(line, format!("connectors '{v}' is not a whole number")))?,
            ),
        };
        let id = record.get(id_col).unwrap_or("").trim().to_string();
        out.push(check(
            name,
            line,
            id,
            get("site").map(str::to_string),
            get("timezone").map(str::to_string),
            rated,
            connectors,
            &source,
        )?);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn check(
    name: &str,
    line: u64,
    station_id: String,
    site: Option<String>,
    timezone: Option<String>,
    rated_power_kw: Option<f64>,
    connectors: Option<i32>,
    source: &Arc<str>,
) -> Result<StationRow, IngestError> {
    let err = |message: String| IngestError::Stations {
        path: name.to_string(),
        line,
        message,
    };
    let station_id = station_id.trim().to_string();
    if station_id.is_empty() {
        return Err(err("station_id is empty".into()));
    }
    if let Some(tz) = &timezone {
        timeutil::parse_zone(tz)
            .map_err(|e| err(format!("station {station_id}: timezone: {e}")))?;
    }
    if let Some(kw) = rated_power_kw {
        if !(kw.is_finite() && kw > 0.0 && kw <= 10_000.0) {
            return Err(err(format!(
                "station {station_id}: rated_power_kw {kw} must be above 0 and at most 10000"
            )));
        }
    }
    if let Some(n) = connectors {
        if !(1..=1000).contains(&n) {
            return Err(err(format!(
                "station {station_id}: connectors {n} must be 1 to 1000"
            )));
        }
    }
    Ok(StationRow {
        station_id,
        site,
        timezone,
        rated_power_kw,
        connectors,
        origin: ORIGIN_METADATA,
        source_file: source.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_stations() {
        let text = r#"
[[station]]
station_id = "CP001"
site = "Depot North"
timezone = "Europe/Amsterdam"
rated_power_kw = 22.0
connectors = 2

[[station]]
station_id = "CP002"
"#;
        let s = parse_toml("s.toml", text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].rated_power_kw, Some(22.0));
        assert_eq!(s[1].timezone, None);
    }

    #[test]
    fn toml_errors_name_the_line() {
        let text = "[[station]]\nstation_id = \"A\"\n\n[[station]]\nstation_id = \"B\"\ntimezone = \"Europe/Amsterdm\"\n";
        let e = parse_toml("s.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("s.toml:4:"), "{e}");
        assert!(e.contains("Europe/Amsterdm"), "{e}");
        let e = parse_toml("s.toml", "[[station]]\nstation_id = \"A\"\nrated = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rated"), "{e}");
    }

    #[test]
    fn csv_stations() {
        let text = "station_id,site,timezone,rated_power_kw,connectors\nCP1,North,Europe/London,\"7,4\",2\nCP2,,,,\n";
        let s = parse_csv("s.csv", text).unwrap();
        assert_eq!(s[0].rated_power_kw, Some(7.4));
        assert_eq!(s[1].site, None);
        let e = parse_csv("s.csv", "station_id,rated_power_kw\nCP1,fast\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.csv:2:"), "{e}");
    }
}
