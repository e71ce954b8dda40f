//! Writing results: tables for people, CSV and JSON Lines for programs.
//!
//! One rendering path serves every command: a DataFrame in, text out.
//! Commands whose rows are their own structs (invoices) hand over the rows
//! and their columns instead: CSV is then written straight from the rows,
//! and the other formats from a frame built of them.
//! Times are RFC 3339 UTC (`2026-10-01T08:00:00Z`); CSV and JSON keep full
//! precision; tables round numbers for reading.

pub mod progress;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::DateTime;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use polars::prelude::*;
use rayon::prelude::*;

use crate::timeutil::format_utc;

/// A concrete output format (after `auto` is resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Resolve `auto`: the `-o` file's extension if it has a known one, a
/// table on a terminal, CSV when piped.
pub fn resolve_format(requested: Option<Format>, output: Option<&Path>) -> Format {
    if let Some(f) = requested {
        return f;
    }
    let to_stdout = output.is_none_or(|p| p == Path::new("-"));
    if !to_stdout {
        let ext = output
            .and_then(|p| p.extension())
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        return match ext.as_deref() {
            Some("json" | "jsonl" | "ndjson") => Format::Json,
            Some("txt") => Format::Table,
            _ => Format::Csv,
        };
    }
    if io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Csv
    }
}

/// Open `-o FILE` (or stdout for `None` / `-`).
pub fn open_output(output: Option<&PathBuf>) -> io::Result<Box<dyn Write>> {
    match output {
        Some(p) if p != Path::new("-") => Ok(Box::new(BufWriter::new(File::create(p)?))),
        _ => Ok(Box::new(BufWriter::new(io::stdout().lock()))),
    }
}

/// How a table shows numbers.
#[derive(Debug, Clone, Default)]
pub struct TableStyle {
    /// Decimals per column name; floats not listed get 2.
    pub decimals: Vec<(&'static str, usize)>,
    /// Show at most this many rows (0 = all), then a note on stderr.
    pub max_rows: usize,
}

/// Write a frame in `format`.
pub fn write_frame(
    out: &mut dyn Write,
    df: &DataFrame,
    format: Format,
    style: &TableStyle,
) -> io::Result<()> {
    match format {
        Format::Csv => write_csv(out, df),
        Format::Json => write_json(out, df),
        Format::Table => write_table(out, df, style),
    }
}

/// How a column of rows of `T` gives a row's value.
pub enum RowCell<'f, T> {
    /// Text, appended to the buffer given.
    Text(&'f (dyn Fn(&mut String, &T) + Sync)),
    /// A count (a number in JSON, unlike text).
    Count(fn(&T) -> u64),
}

/// A named column of rows of `T`.
pub type RowColumn<'f, T> = (&'f str, RowCell<'f, T>);

/// Rows in a chunk of a frame or of CSV text: big enough to keep both
/// cores busy, small enough to bound the memory of text in flight.
const BLOCK: usize = 16 * 1024;

/// Rows as a frame of their columns, built on every core a block at a
/// time, each row read once for all its columns, and each text through
/// one reused buffer instead of a String per value.
pub fn rows_frame<T: Sync>(rows: &[T], columns: &[RowColumn<'_, T>]) -> PolarsResult<DataFrame> {
    let parts: Vec<Vec<Column>> = rows
        .par_chunks(BLOCK)
        .map(|part| {
            // Each column's builder, with its cell's writer.
            enum Built<'c, T> {
                Text(StringChunkedBuilder, &'c (dyn Fn(&mut String, &T) + Sync)),
                Count(Vec<u64>, fn(&T) -> u64),
            }
            let mut built: Vec<Built<'_, T>> = columns
                .iter()
                .map(|(name, cell)| match cell {
                    RowCell::Text(write) => Built::Text(
                        StringChunkedBuilder::new((*name).into(), part.len()),
                        *write,
                    ),
                    RowCell::Count(count) => Built::Count(Vec::with_capacity(part.len()), *count),
                })
                .collect();
            let mut text = String::new();
            for row in part {
                for column in &mut built {
                    match column {
                        Built::Text(b, write) => {
                            text.clear();
                            write(&mut text, row);
                            b.append_value(&text);
                        }
                        Built::Count(v, count) => v.push(count(row)),
                    }
                }
            }
            built
                .into_iter()
                .zip(columns)
                .map(|(b, (name, _))| match b {
                    Built::Text(b, _) => b.finish().into_column(),
                    Built::Count(v, _) => Column::new((*name).into(), v),
                })
                .collect()
        })
        .collect();
    // Each column keeps its blocks as chunks: joining them would copy it
    // into fresh memory for nothing (output reads rows of any chunking).
    let mut frame: Vec<Column> = columns
        .iter()
        .map(|(name, cell)| match cell {
            RowCell::Text(_) => Column::new_empty((*name).into(), &DataType::String),
            RowCell::Count(_) => Column::new_empty((*name).into(), &DataType::UInt64),
        })
        .collect();
    for part in parts {
        for (column, block) in frame.iter_mut().zip(part) {
            column.append_owned(block)?;
        }
    }
    DataFrame::new(rows.len(), frame)
}

/// `rows` rows as CSV, straight from the rows (the same text as a frame
/// of them written as CSV, without building the frame), each block of
/// them made by `make` (given the rows' range) only when it is written:
/// rows computed on the fly are never all in memory at once.
pub fn write_made_rows_csv<T>(
    out: &mut dyn Write,
    rows: usize,
    columns: &[RowColumn<'_, T>],
    make: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync,
) -> io::Result<()> {
    write_csv_header(out, columns.iter().map(|(name, _)| *name))?;
    write_csv_blocks(out, rows, |range| csv_block(&make(range), columns))
}

/// `rows` rows made by `make` a block at a time on every core, in order.
pub fn made_rows<T: Send>(
    rows: usize,
    make: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync,
) -> Vec<T> {
    let made: Vec<Vec<T>> = blocks(rows).into_par_iter().map(&make).collect();
    made.into_iter().flatten().collect()
}

/// `rows` rows cut into blocks of `BLOCK` rows (the last one shorter).
fn blocks(rows: usize) -> Vec<std::ops::Range<usize>> {
    (0..rows)
        .step_by(BLOCK)
        .map(|first| first..(first + BLOCK).min(rows))
        .collect()
}

/// The CSV text of `rows`, without a header.
fn csv_block<T>(rows: &[T], columns: &[RowColumn<'_, T>]) -> io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 64));
    let mut text = String::with_capacity(64);
    for row in rows {
        for (_, cell) in columns {
            text.clear();
            match cell {
                RowCell::Text(write) => write(&mut text, row),
                RowCell::Count(count) => {
                    let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{}", count(row)));
                }
            }
            w.write_field(text.as_bytes()).map_err(csv_io)?;
        }
        // An empty record ends the row of fields written one at a time.
        w.write_record(None::<&[u8]>).map_err(csv_io)?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

/// One cell's value, borrowed from its column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    /// Microseconds since the epoch, UTC.
    Time(i64),
    /// Days since the epoch.
    Date(i32),
}

/// Typed read access to a column.
enum Reader<'a> {
    Str(&'a StringChunked),
    Int(Int64Chunked),
    UInt(UInt64Chunked),
    Float(Float64Chunked),
    Bool(&'a BooleanChunked),
    Time(Int64Chunked, i64),
    Date(Int32Chunked),
    Other(Series),
}

impl<'a> Reader<'a> {
    fn new(col: &'a Column) -> Reader<'a> {
        let s = col.as_materialized_series();
        match s.dtype() {
            DataType::String => Reader::Str(s.str().expect("string column")),
            DataType::Boolean => Reader::Bool(s.bool().expect("bool column")),
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Reader::Int(
                s.cast(&DataType::Int64)
                    .expect("int cast")
                    .i64()
                    .expect("i64")
                    .clone(),
            ),
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                Reader::UInt(
                    s.cast(&DataType::UInt64)
                        .expect("uint cast")
                        .u64()
                        .expect("u64")
                        .clone(),
                )
            }
            DataType::Float32 | DataType::Float64 => Reader::Float(
                s.cast(&DataType::Float64)
                    .expect("float cast")
                    .f64()
                    .expect("f64")
                    .clone(),
            ),
            DataType::Datetime(unit, _) => {
                let per_us = match unit {
                    TimeUnit::Nanoseconds => -1000,
                    TimeUnit::Microseconds => 1,
                    TimeUnit::Milliseconds => 1000,
                };
                let phys = s.cast(&DataType::Int64).expect("datetime physical");
                Reader::Time(phys.i64().expect("i64").clone(), per_us)
            }
            DataType::Date => Reader::Date(
                s.cast(&DataType::Int32)
                    .expect("date physical")
                    .i32()
                    .expect("i32")
                    .clone(),
            ),
            _ => Reader::Other(s.clone()),
        }
    }

    fn get(&self, i: usize) -> Value<'_> {
        let v = match self {
            Reader::Str(c) => c.get(i).map(Value::Str),
            Reader::Int(c) => c.get(i).map(Value::Int),
            Reader::UInt(c) => c.get(i).map(Value::UInt),
            Reader::Float(c) => c.get(i).map(Value::Float),
            Reader::Bool(c) => c.get(i).map(Value::Bool),
            Reader::Time(c, per_us) => c
                .get(i)
                .map(|v| Value::Time(if *per_us < 0 { v / 1000 } else { v * per_us })),
            Reader::Date(c) => c.get(i).map(Value::Date),
            Reader::Other(s) => {
                return match s.get(i) {
                    Ok(AnyValue::Null) | Err(_) => Value::Null,
                    Ok(_) => Value::Null,
                }
            }
        };
        v.unwrap_or(Value::Null)
    }
}

fn date_text(days: i32) -> String {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::Duration::days(days as i64)))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

fn time_text(us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map(format_utc)
        .unwrap_or_default()
}

/// Shortest float text that reads back to the same value.
fn float_text(f: f64) -> String {
    if f.is_finite() {
        format!("{f}")
    } else {
        String::new()
    }
}

fn readers(df: &DataFrame) -> Vec<Reader<'_>> {
    df.columns().iter().map(Reader::new).collect()
}

fn write_csv(out: &mut dyn Write, df: &DataFrame) -> io::Result<()> {
    write_csv_header(out, df.get_column_names().iter().map(|n| n.as_str()))?;
    write_csv_blocks(out, df.height(), |range| {
        // Each block reads its own slice of the frame: a value is then
        // found among the block's one or two chunks, not by walking every
        // chunk of a column before it.
        let block = df.slice(range.start as i64, range.len());
        csv_rows(&readers(&block), 0..block.height())
    })
}

fn write_csv_header<'a>(
    out: &mut dyn Write,
    names: impl Iterator<Item = &'a str>,
) -> io::Result<()> {
    let mut header = csv::Writer::from_writer(Vec::new());
    header.write_record(names).map_err(csv_io)?;
    out.write_all(&header.into_inner().map_err(|e| e.into_error())?)
}

/// `rows` rows formatted on every core, a block at a time, into byte
/// buffers written in order: a month's invoices are hundreds of thousands
/// of rows of a dozen columns. A wave of blocks at a time bounds the text
/// held in memory.
fn write_csv_blocks(
    out: &mut dyn Write,
    rows: usize,
    block: impl Fn(std::ops::Range<usize>) -> io::Result<Vec<u8>> + Sync,
) -> io::Result<()> {
    for wave in blocks(rows).chunks(2 * rayon::current_num_threads().max(1)) {
        let texts: Vec<io::Result<Vec<u8>>> =
            wave.par_iter().map(|range| block(range.clone())).collect();
        for text in texts {
            out.write_all(&text?)?;
        }
    }
    Ok(())
}

/// Rows `rows` as CSV text; each field is written through one reused
/// buffer instead of a String per cell.
fn csv_rows(readers: &[Reader<'_>], rows: std::ops::Range<usize>) -> io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 64));
    let mut cell: Vec<u8> = Vec::with_capacity(64);
    for i in rows {
        for r in readers {
            cell.clear();
            match r.get(i) {
                Value::Null => {}
                Value::Str(s) => cell.extend_from_slice(s.as_bytes()),
                Value::Int(v) => write!(cell, "{v}")?,
                Value::UInt(v) => write!(cell, "{v}")?,
                Value::Float(f) if f.is_finite() => write!(cell, "{f}")?,
                Value::Float(_) => {}
                Value::Bool(b) => write!(cell, "{b}")?,
                Value::Time(us) => cell.extend_from_slice(time_text(us).as_bytes()),
                Value::Date(d) => cell.extend_from_slice(date_text(d).as_bytes()),
            }
            w.write_field(&cell).map_err(csv_io)?;
        }
        // An empty record ends the row of fields written one at a time.
        w.write_record(None::<&[u8]>).map_err(csv_io)?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

/// The I/O error inside a CSV error, so a closed pipe stays recognisable
/// (`evmon sessions --format csv | head` is not an error).
fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

fn write_json(out: &mut dyn Write, df: &DataFrame) -> io::Result<()> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| serde_json::to_string(n.as_str()).expect("string serializes"))
        .collect();
    let readers = readers(df);
    let mut line = String::new();
    for i in 0..df.height() {
        line.clear();
        line.push('{');
        for (k, (name, r)) in names.iter().zip(&readers).enumerate() {
            if k > 0 {
                line.push(',');
            }
            line.push_str(name);
            line.push(':');
            match r.get(i) {
                Value::Null => line.push_str("null"),
                Value::Str(s) => {
                    line.push_str(&serde_json::to_string(s).expect("string serializes"))
                }
                Value::Int(v) => line.push_str(&v.to_string()),
                Value::UInt(v) => line.push_str(&v.to_string()),
                Value::Float(f) if f.is_finite() => line.push_str(&float_text(f)),
                Value::Float(_) => line.push_str("null"),
                Value::Bool(b) => line.push_str(if b { "true" } else { "false" }),
                Value::Time(us) => {
                    line.push('"');
                    line.push_str(&time_text(us));
                    line.push('"');
                }
                Value::Date(d) => {
                    line.push('"');
                    line.push_str(&date_text(d));
                    line.push('"');
                }
            }
        }
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

fn write_table(out: &mut dyn Write, df: &DataFrame, style: &TableStyle) -> io::Result<()> {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if std::env::var_os("NO_COLOR").is_none() && io::stdout().is_terminal() {
        table.enforce_styling();
    }
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    table.set_header(names.iter().map(Cell::new));
    let readers = readers(df);
    let shown = if style.max_rows == 0 {
        df.height()
    } else {
        df.height().min(style.max_rows)
    };
    for i in 0..shown {
        let cells = names.iter().zip(&readers).map(|(name, r)| match r.get(i) {
            Value::Null => Cell::new(""),
            Value::Str(s) => Cell::new(s),
            Value::Int(v) => Cell::new(v).set_alignment(CellAlignment::Right),
            Value::UInt(v) => Cell::new(v).set_alignment(CellAlignment::Right),
            Value::Float(f) => {
                let d = style
                    .decimals
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(2, |(_, d)| *d);
                Cell::new(format!("{f:.d$}")).set_alignment(CellAlignment::Right)
            }
            Value::Bool(b) => Cell::new(b),
            Value::Time(us) => Cell::new(
                DateTime::from_timestamp_micros(us)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
                    .unwrap_or_default(),
            ),
            Value::Date(d) => Cell::new(date_text(d)),
        });
        table.add_row(cells);
    }
    writeln!(out, "{table}")?;
    if shown < df.height() {
        eprintln!(
            "evmon: showing {shown} of {} rows; use --max-rows 0 for all, or --format csv|json",
            df.height()
        );
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DataFrame {
        let t = Int64Chunked::from_iter_options(
            "start".into(),
            [Some(1_790_000_000_000_000i64), None].into_iter(),
        )
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column();
        DataFrame::new(
            2,
            vec![
                Column::new("station_id".into(), ["A,1", "B\"2"]),
                t,
                Column::new("energy_wh".into(), [Some(1234.5f64), None]),
                Column::new("connector_id".into(), [Some(1i32), None]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn csv_quotes_and_formats() {
        let mut buf = Vec::new();
        write_csv(&mut buf, &sample()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            "station_id,start,energy_wh,connector_id\n\"A,1\",2026-09-21T14:13:20Z,1234.5,1\n\"B\"\"2\",,,\n"
        );
    }

    #[test]
    fn json_lines_parse_back() {
        let mut buf = Vec::new();
        write_json(&mut buf, &sample()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows[0]["station_id"], "A,1");
        assert_eq!(rows[0]["start"], "2026-09-21T14:13:20Z");
        assert_eq!(rows[0]["energy_wh"], 1234.5);
        assert_eq!(rows[1]["start"], serde_json::Value::Null);
        assert_eq!(rows[1]["station_id"], "B\"2");
    }

    /// Rows written straight as CSV read the same as the frame of them
    /// written as CSV, across blocks; in JSON a count is a number.
    #[test]
    fn rows_write_as_their_frame_does() {
        let rows: Vec<(String, u64)> = (0..BLOCK as u64 * 2 + 7)
            .map(|i| {
                let text = match i % 4 {
                    0 => String::new(),
                    1 => format!("a,{i}"),
                    2 => format!("q\"{i}\n"),
                    _ => format!("plain {i}"),
                };
                (text, i)
            })
            .collect();
        let columns: [RowColumn<'_, (String, u64)>; 2] = [
            ("text", RowCell::Text(&|out, r| out.push_str(&r.0))),
            ("n", RowCell::Count(|r| r.1)),
        ];
        let make = |range: std::ops::Range<usize>| rows[range].to_vec();
        assert_eq!(made_rows(rows.len(), make), rows);
        let mut direct = Vec::new();
        write_made_rows_csv(&mut direct, rows.len(), &columns, make).unwrap();
        let frame = rows_frame(&rows, &columns).unwrap();
        assert_eq!(frame.height(), rows.len());
        let mut through = Vec::new();
        write_csv(&mut through, &frame).unwrap();
        assert_eq!(
            String::from_utf8(direct).unwrap(),
            String::from_utf8(through).unwrap()
        );
        let mut json = Vec::new();
        write_json(&mut json, &frame.slice(0, 3)).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(String::from_utf8(json).unwrap().lines().nth(1).unwrap()).unwrap();
        assert_eq!(first["text"], "a,1");
        assert_eq!(first["n"], 1);
    }

    #[test]
    fn auto_format_follows_the_output_extension() {
        assert_eq!(
            resolve_format(None, Some(Path::new("x.json"))),
            Format::Json
        );
        assert_eq!(resolve_format(None, Some(Path::new("x.csv"))), Format::Csv);
        assert_eq!(
            resolve_format(Some(Format::Table), Some(Path::new("x.csv"))),
            Format::Table
        );
    }
}
