//! Session exports as JSON: the Caltech ACN-Data download
//! (`{"_meta": {...}, "_items": [...]}`), a bare array of session objects,
//! or JSON Lines of session objects. Items are mapped with the same presets
//! as CSV columns (an item's keys play the header's part).

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::value::RawValue;
use serde_json::Value;

use super::batch::Batch;
use super::csv::push_reject;
use super::sessions::{SessionMapper, SessionOptions};
use super::{FileReport, IngestError};

#[derive(serde::Deserialize)]
struct Download<'a> {
    #[serde(borrow, rename = "_items")]
    items: Vec<&'a RawValue>,
    #[serde(rename = "_meta")]
    meta: Option<&'a RawValue>,
}

/// A JSON item with its line number, or why it is not a session object.
/// (line, the object or (why it is not one, its raw text)).
type Item = (
    u64,
    Result<serde_json::Map<String, Value>, (String, String)>,
);

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Read a JSON session document into `batch`.
pub fn read_json(
    text: &str,
    file: &Arc<str>,
    opts: &SessionOptions,
    batch: &mut Batch,
) -> Result<FileReport, IngestError> {
    let bad = |e: serde_json::Error| IngestError::BadJson {
        path: file.to_string(),
        line: e.line() as u64,
        message: e.to_string(),
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let (items, from_web): (Vec<&RawValue>, bool) = if trimmed.starts_with('[') {
        (serde_json::from_str(trimmed).map_err(bad)?, false)
    } else if trimmed.starts_with('{') && trimmed.contains("\"_items\"") {
        let doc: Download = serde_json::from_str(trimmed).map_err(bad)?;
        let web = doc.meta.is_some();
        (doc.items, web)
    } else {
        // JSON Lines: one object per line; a bad line is a reject.
        return read_json_lines(text, file, opts, batch);
    };
    // Line numbers count from the top of the file, leading blank lines included.
    let skipped = &text[..text.len() - trimmed.len()];
    let mut parsed: Vec<Item> = Vec::new();
    let mut last_offset = 0usize;
    let mut line = 1 + skipped.matches('\n').count() as u64;
    for raw in &items {
        let offset = raw.get().as_ptr() as usize - trimmed.as_ptr() as usize;
        line += trimmed[last_offset..offset].matches('\n').count() as u64;
        last_offset = offset;
        let obj = match serde_json::from_str::<Value>(raw.get()) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err((
                "item is not a JSON object".to_string(),
                raw.get().to_string(),
            )),
            Err(e) => Err((e.to_string(), raw.get().to_string())),
        };
        parsed.push((line, obj));
    }
    map_items(parsed, file, opts, batch, from_web)
}

fn read_json_lines(
    text: &str,
    file: &Arc<str>,
    opts: &SessionOptions,
    batch: &mut Batch,
) -> Result<FileReport, IngestError> {
    let mut parsed = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim().trim_start_matches('\u{feff}');
        if l.is_empty() {
            continue;
        }
        let obj = match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(("line is not a JSON object".to_string(), l.to_string())),
            Err(e) => Err((format!("not JSON: {e}"), l.to_string())),
        };
        parsed.push((i as u64 + 1, obj));
    }
    map_items(parsed, file, opts, batch, false)
}

fn map_items(
    parsed: Vec<Item>,
    file: &Arc<str>,
    opts: &SessionOptions,
    batch: &mut Batch,
    from_web: bool,
) -> Result<FileReport, IngestError> {
    let mut report = FileReport::new("json");
    // The header is every key seen, in first-seen order.
    let mut header: Vec<String> = Vec::new();
    for (_, obj) in &parsed {
        if let Ok(m) = obj {
            for k in m.keys() {
                if !header.iter().any(|h| h == k) {
                    header.push(k.clone());
                }
            }
        }
    }
    if parsed.is_empty() {
        report
            .notes
            .push(format!("{file} holds no sessions: nothing to ingest"));
        return Ok(report);
    }
    if header.is_empty() {
        return Err(IngestError::UnknownFormat {
            path: file.to_string(),
            detail: "JSON without session objects (an ACN-Data download, an array of objects, or JSON Lines of objects)".into(),
        });
    }
    let mut mapper = SessionMapper::new(file, &header, opts)?;
    report.format = format!("json/{}", mapper.preset.name);
    for (index, (line, obj)) in parsed.into_iter().enumerate() {
        report.rows_read += 1;
        let item = index + 1;
        let m = match obj {
            Ok(m) => m,
            Err((e, raw)) => {
                push_reject(
                    batch,
                    &mut report,
                    file,
                    line,
                    None,
                    format!("item {item}: {e}"),
                    raw,
                );
                continue;
            }
        };
        let row: Vec<String> = header
            .iter()
            .map(|h| m.get(h).map(cell).unwrap_or_default())
            .collect();
        match mapper.map(row.as_slice(), file, line) {
            Ok(s) => {
                batch.sessions.push(s);
                report.sessions += 1;
            }
            Err(e) => {
                let raw = Value::Object(m).to_string();
                push_reject(
                    batch,
                    &mut report,
                    file,
                    line,
                    e.column,
                    format!("item {item}: {}", e.reason),
                    raw,
                )
            }
        }
    }
    if from_web && mapper.preset.name == "acn" {
        let fixed = Utc.with_ymd_and_hms(2019, 10, 10, 0, 0, 0).unwrap();
        if mapper.stats.earliest_start.is_some_and(|t| t < fixed) {
            report.notes.push(format!(
                "{file}: ACN-Data web downloads made before 2019-10-10 had timestamps offset by 7-8 hours (ACN notice); \
                 sessions before that date may be shifted"
            ));
        }
    }
    report.add_mapper_notes(file, &mapper, opts);
    batch.stations.extend(mapper.inferred_stations(file));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acn_download_with_line_numbers() {
        let text = r#"{"_meta": {"total": 2},
 "_items": [
  {"_id": "5bc90cb9f9af8b0d7fe77cd2", "clusterID": "39", "connectionTime": "Wed, 25 Apr 2018 11:08:04 GMT",
   "disconnectTime": "Thu, 26 Apr 2018 00:56:16 GMT", "doneChargingTime": "Wed, 25 Apr 2018 16:44:15 GMT",
   "kWhDelivered": 7.932, "sessionID": "2_39_78_362_2018-04-25 11:08:04.400812", "siteID": "2",
   "spaceID": "CA-496", "stationID": "2-39-78-362", "timezone": "America/Los_Angeles", "userID": null, "userInputs": null},
  {"_id": "x", "connectionTime": "not a date", "kWhDelivered": 1, "stationID": "2-39-78-362", "timezone": "America/Los_Angeles"}
 ]}"#;
        let mut batch = Batch::default();
        let file: Arc<str> = Arc::from("acn.json");
        let r = read_json(text, &file, &SessionOptions::default(), &mut batch).unwrap();
        assert_eq!((r.rows_read, r.sessions, r.rejected), (2, 1, 1));
        let s = &batch.sessions[0];
        assert_eq!(s.energy_wh, Some(7932.0));
        assert_eq!(s.id_tag, None);
        assert_eq!(s.source_line, Some(3));
        assert_eq!(batch.rejects[0].line, 7);
        assert!(r.notes.iter().any(|n| n.contains("2019-10-10")));
        assert_eq!(
            batch.stations[0].timezone.as_deref(),
            Some("America/Los_Angeles")
        );
    }
}
