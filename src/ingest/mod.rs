//! Reading input files into canonical rows: finding the files, telling
//! their format apart, and dispatching to the right reader.
//!
//! Readers never abort a batch for a bad row: each one becomes a reject
//! with its file, line, column and reason. Only problems with a whole file
//! (missing, unreadable, a header no preset or `--map` explains) are errors.

pub mod acn;
pub mod batch;
pub mod csv;
pub mod ocpp;
pub mod presets;
pub mod sessions;
pub mod stations;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use thiserror::Error;

pub use batch::{Batch, RejectRow};
pub use sessions::SessionOptions;

#[derive(Debug, Error)]
pub enum IngestError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{pattern}: the pattern matches no file")]
    NoMatch { pattern: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: the CSV header matches no known export (columns: {columns}); pass --preset NAME (see `evmon ingest --help`) or map columns with --map station_id=COLUMN --map start=COLUMN ...")]
    UnknownHeader { path: String, columns: String },
    #[error("{path}: the header lacks the {missing} column(s) of preset {preset} (columns: {columns}); check --preset or add --map")]
    PresetMismatch {
        path: String,
        preset: &'static str,
        missing: String,
        columns: String,
    },
    #[error(
        "{path}: --map {field}={column}: the header has no column '{column}' (columns: {columns})"
    )]
    MapColumn {
        path: String,
        field: &'static str,
        column: String,
        columns: String,
    },
    #[error(
        "{path}: no column gives {field} (columns: {columns}); map one with --map {field}=COLUMN"
    )]
    MissingField {
        path: String,
        field: &'static str,
        columns: String,
    },
    #[error("{path}:{line}: not valid JSON ({message}); fix the file or export it again")]
    BadJson {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path}:{line}: {message}")]
    Ocpp {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path}: cannot tell what kind of file this is ({detail}); pass --format")]
    UnknownFormat { path: String, detail: String },
    #[error("{path}:{line}: {message}")]
    Stations {
        path: String,
        line: u64,
        message: String,
    },
    /// Handing rows read so far to the store failed (e.g. a full disk):
    /// the whole ingest stops, unlike a single unreadable file.
    #[error("cannot set aside the rows read so far")]
    Spill(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Rows a CSV reader gathers before handing them on to be staged, when not
/// given (`--spill-rows`). Inputs whose bytes fit twice in the staging
/// memory (`stage_memory`) are staged in memory: in batches of 50,000 rows,
/// the rows just mapped are still in the processor's cache when they are
/// turned into columns, and the last batch, built once reading is done,
/// is short (1M-row CSV 1.00-1.08 s with 200,000-row batches, 0.92-1.02 s
/// with 50,000, and about 80 MB less at the peak). Larger inputs, or stdin,
/// whose size is not known, go to staging files: in batches of 200,000
/// rows, the files are four times fewer (10M rows with 256 MiB of staging
/// memory 13.7 s, against 16.3 s with 50,000-row batches).
pub fn spill_rows_for(input_bytes: Option<u64>, stage_memory: usize) -> usize {
    let fits = input_bytes.is_some_and(|b| b.saturating_mul(2) <= stage_memory as u64);
    if fits {
        50_000
    } else {
        200_000
    }
}

/// Takes the rows a reader has gathered when its batch grows past
/// `SessionOptions::spill_rows`, so a file larger than memory streams
/// through; it must leave the batch's row vectors empty.
pub type Spill<'a> = dyn FnMut(&mut Batch) -> Result<(), IngestError> + 'a;

/// Input formats evmon reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Decide from the file name and its first bytes.
    #[default]
    Auto,
    /// A session export in CSV (any delimiter).
    Csv,
    /// Sessions as JSON (ACN-Data download, an array, or JSON Lines).
    Json,
    /// OCPP frames as JSON Lines envelopes.
    OcppJsonl,
    /// OCPP frames in raw log lines.
    OcppLog,
}

/// What came of one input file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileReport {
    /// `csv/palo-alto`, `json/acn`, ...
    pub format: String,
    pub rows_read: u64,
    pub sessions: u64,
    pub rejected: u64,
    /// Things the user should know (assumed zones, DST decisions, ...).
    pub notes: Vec<String>,
}

impl FileReport {
    pub fn new(format: &str) -> FileReport {
        FileReport {
            format: format.to_string(),
            ..FileReport::default()
        }
    }

    pub(crate) fn add_mapper_notes(
        &mut self,
        file: &str,
        m: &sessions::SessionMapper,
        opts: &SessionOptions,
    ) {
        let s = &m.stats;
        if s.zone_default_used > 0 {
            self.notes.push(format!(
                "{file}: naive times read in {} (the {} preset's zone); pass --tz to override",
                m.preset.zone.unwrap_or("?"),
                m.preset.name
            ));
        }
        if s.dst_by_abbreviation > 0 {
            self.notes.push(format!(
                "{file}: {} in a DST fall-back hour, placed by the zone column",
                count(s.dst_by_abbreviation, "time")
            ));
        }
        if s.dst_by_policy > 0 {
            let which = match opts.dst.ambiguous {
                crate::timeutil::Ambiguous::Latest => "later",
                _ => "earlier",
            };
            self.notes.push(format!(
                "{file}: {} in a DST fall-back hour, read as the {which} of the two (--dst-ambiguous)",
                count(s.dst_by_policy, "time")
            ));
        }
        if s.dst_gap_shifted > 0 {
            self.notes.push(format!(
                "{file}: {} in a DST spring-forward gap, moved forward by the gap (--dst-gap)",
                count(s.dst_gap_shifted, "time")
            ));
        }
        if s.utc_by_abbreviation > 0 {
            self.notes.push(format!(
                "{file}: {} marked UTC/GMT in the zone column, read as UTC",
                count(s.utc_by_abbreviation, "time")
            ));
        }
        if s.sentinel_durations > 0 {
            self.notes.push(format!(
                "{file}: {} of 838:59:59 (a sentinel for unknown) ignored",
                count(s.sentinel_durations, "duration")
            ));
        }
        if s.open_sessions > 0 {
            self.notes.push(format!(
                "{file}: {} without an end time kept open (stop empty)",
                count(s.open_sessions, "session")
            ));
        }
    }
}

/// `1 time`, `3 times`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// One input: a file, or data read from stdin.
#[derive(Debug, Clone)]
pub struct Input {
    /// How the input is named in messages and in the store.
    pub name: Arc<str>,
    data: InputData,
    /// Where the fingerprint is left when the input is hashed as it is
    /// read (see [`Input::fingerprinted`]).
    fingerprint: Option<Arc<Mutex<Option<Fingerprint>>>>,
}

/// Content hash (blake3, hex) and size of an input.
pub type Fingerprint = (String, u64);

/// Hashes the bytes passing through; at the end of the input, leaves
/// their fingerprint in `slot`, if it has one.
struct Hashing<R> {
    inner: R,
    hasher: blake3::Hasher,
    size: u64,
    slot: Option<Arc<Mutex<Option<Fingerprint>>>>,
}

impl<R> Hashing<R> {
    fn new(inner: R, slot: Option<Arc<Mutex<Option<Fingerprint>>>>) -> Hashing<R> {
        Hashing {
            inner,
            hasher: blake3::Hasher::new(),
            size: 0,
            slot,
        }
    }

    /// The fingerprint of what was read so far.
    fn fingerprint(&self) -> Fingerprint {
        (self.hasher.finalize().to_hex().to_string(), self.size)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if let Some(slot) = &self.slot {
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.fingerprint());
            }
        } else {
            self.hasher.update(&buf[..n]);
            self.size += n as u64;
        }
        Ok(n)
    }
}

#[derive(Debug, Clone)]
enum InputData {
    File(PathBuf),
    Memory(Arc<Vec<u8>>),
    /// Standard input, read whole on first use.
    Stdin(Arc<std::sync::OnceLock<Vec<u8>>>),
}

impl Input {
    pub fn file(path: PathBuf) -> Input {
        Input {
            name: Arc::from(path.to_string_lossy().as_ref()),
            data: InputData::File(path),
            fingerprint: None,
        }
    }

    pub fn memory(name: &str, bytes: Vec<u8>) -> Input {
        Input {
            name: Arc::from(name),
            data: InputData::Memory(Arc::new(bytes)),
            fingerprint: None,
        }
    }

    fn io(&self) -> impl FnOnce(std::io::Error) -> IngestError + '_ {
        move |source| IngestError::Io {
            path: self.name.to_string(),
            source,
        }
    }

    /// This input, hashed as [`read_input`] reads it through: the
    /// fingerprint is in the returned slot once the whole input was read,
    /// without a pass of its own over the bytes.
    pub fn fingerprinted(&self) -> (Input, Arc<Mutex<Option<Fingerprint>>>) {
        let slot = Arc::new(Mutex::new(None));
        let input = Input {
            fingerprint: Some(slot.clone()),
            ..self.clone()
        };
        (input, slot)
    }

    /// Content hash (blake3, hex) and size, read in one streaming pass.
    pub fn fingerprint(&self) -> Result<Fingerprint, IngestError> {
        let mut reader = Hashing::new(self.open()?, None);
        let mut buf = vec![0u8; 1 << 20];
        while reader.read(&mut buf).map_err(self.io())? > 0 {}
        Ok(reader.fingerprint())
    }

    /// Size in bytes, for progress (0 if not known yet).
    pub fn size(&self) -> u64 {
        match &self.data {
            InputData::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            InputData::Memory(b) => b.len() as u64,
            InputData::Stdin(cell) => cell.get().map_or(0, |b| b.len() as u64),
        }
    }

    /// The whole content of an in-memory input (stdin is read now), or
    /// `None` for a file, which is streamed instead.
    fn bytes(&self) -> Result<Option<&[u8]>, IngestError> {
        match &self.data {
            InputData::Memory(b) => Ok(Some(b)),
            InputData::Stdin(cell) => {
                if cell.get().is_none() {
                    let mut bytes = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut bytes)
                        .map_err(self.io())?;
                    let _ = cell.set(bytes);
                }
                Ok(cell.get().map(Vec::as_slice))
            }
            InputData::File(_) => Ok(None),
        }
    }

    fn open(&self) -> Result<Box<dyn Read + Send + '_>, IngestError> {
        Ok(match &self.data {
            InputData::File(p) => Box::new(File::open(p).map_err(self.io())?),
            InputData::Memory(_) | InputData::Stdin(_) => {
                Box::new(self.bytes()?.unwrap_or_default())
            }
        })
    }

    /// The input to read whole, hashed on the way when asked to be.
    fn open_whole(&self) -> Result<Box<dyn Read + Send + '_>, IngestError> {
        let inner = self.open()?;
        Ok(match &self.fingerprint {
            Some(slot) => Box::new(Hashing::new(inner, Some(slot.clone()))),
            None => inner,
        })
    }

    fn head(&self, n: usize) -> Result<Vec<u8>, IngestError> {
        let mut buf = Vec::with_capacity(n);
        self.open()?
            .take(n as u64)
            .read_to_end(&mut buf)
            .map_err(self.io())?;
        Ok(buf)
    }

    /// Standard input, whose size is not known before it is read.
    pub fn is_stdin(&self) -> bool {
        matches!(self.data, InputData::Stdin(_))
    }

    pub fn path(&self) -> Option<&Path> {
        match &self.data {
            InputData::File(p) => Some(p),
            InputData::Memory(_) | InputData::Stdin(_) => None,
        }
    }
}

/// Expand command-line inputs: files, directories (all files below, in
/// name order, hidden ones skipped), glob patterns, and `-` for stdin.
pub fn discover(inputs: &[String]) -> Result<Vec<Input>, IngestError> {
    let mut out = Vec::new();
    for arg in inputs {
        if arg == "-" {
            // Read later, when the input is processed (under the store lock).
            out.push(Input {
                name: Arc::from("<stdin>"),
                data: InputData::Stdin(Arc::new(std::sync::OnceLock::new())),
                fingerprint: None,
            });
            continue;
        }
        let path = PathBuf::from(arg);
        if path.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut files).map_err(|source| IngestError::Io {
                path: arg.clone(),
                source,
            })?;
            files.sort();
            out.extend(files.into_iter().map(Input::file));
        } else if path.exists() {
            out.push(Input::file(path));
        } else if arg.contains(['*', '?', '[']) {
            let paths = glob::glob(arg).map_err(|e| IngestError::Io {
                path: arg.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let mut files: Vec<PathBuf> = paths
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if files.is_empty() {
                return Err(IngestError::NoMatch {
                    pattern: arg.clone(),
                });
            }
            files.sort();
            out.extend(files.into_iter().map(Input::file));
        } else {
            return Err(IngestError::NotFound { path: arg.clone() });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Decide an input's format from its name and first bytes.
pub fn detect_format(input: &Input) -> Result<Format, IngestError> {
    let ext = input
        .path()
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let head = input.head(8192)?;
    let text = String::from_utf8_lossy(&head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let looks_ocpp = text.contains("\"msg\"") || text.contains("\"message\"");
    let log_frames = text.lines().take(20).any(|l| {
        let l = l.trim_start();
        !l.starts_with('{') && (l.contains("[2,") || l.contains("[3,") || l.contains("[2, \""))
    });
    Ok(match ext.as_str() {
        "log" | "txt" if log_frames => Format::OcppLog,
        "csv" | "tsv" | "txt" if !text.starts_with('{') => Format::Csv,
        "log" => Format::OcppLog,
        "jsonl" | "ndjson" | "json" if looks_ocpp => Format::OcppJsonl,
        "json" | "jsonl" | "ndjson" => Format::Json,
        _ if text.starts_with('{') || text.starts_with('[') => {
            if looks_ocpp {
                Format::OcppJsonl
            } else {
                Format::Json
            }
        }
        _ if head.is_empty() => Format::Csv,
        _ if log_frames => Format::OcppLog,
        _ if head.iter().take(512).filter(|b| **b == 0).count() > 0 && !is_utf16(&head) => {
            return Err(IngestError::UnknownFormat {
                path: input.name.to_string(),
                detail: "it looks binary".into(),
            })
        }
        _ => Format::Csv,
    })
}

fn is_utf16(head: &[u8]) -> bool {
    head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF")
}

/// Everything that shapes how inputs are read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub format: Format,
    pub sessions: SessionOptions,
    pub ocpp: ocpp::OcppOptions,
}

/// Fill in the raw text of rejects found after their file was read (an
/// OCPP answer that pairs with no CALL is only known once every frame is
/// in; frames are not kept as text, to save memory). The lines are read
/// again from `inputs`, so the reject still shows what was sent.
pub fn fill_missing_raw(
    inputs: &[Input],
    rejects: &mut [batch::RejectRow],
) -> Result<(), IngestError> {
    for input in inputs {
        let mut wanted: Vec<(u64, usize)> = rejects
            .iter()
            .enumerate()
            .filter(|(_, r)| r.raw.is_empty() && r.line > 0 && *r.source_file == *input.name)
            .map(|(i, r)| (r.line, i))
            .collect();
        // A UTF-16 file was transcoded before reading: its lines are not
        // the bytes on disk, so leave those rejects as they are.
        if wanted.is_empty() || is_utf16(&input.head(4)?) {
            continue;
        }
        wanted.sort_unstable();
        let mut reader = std::io::BufReader::new(input.open()?);
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        let mut next = 0;
        while next < wanted.len() {
            buf.clear();
            let n = ocpp::read_line_limited(&mut reader, &mut buf, 2048).map_err(input.io())?;
            if n == 0 {
                break;
            }
            line_no += 1;
            while next < wanted.len() && wanted[next].0 == line_no {
                rejects[wanted[next].1].raw = ocpp::raw_line(&buf);
                next += 1;
            }
        }
    }
    Ok(())
}

/// Read one input: session exports into `batch`, OCPP frames into
/// `frames` (reconstructed once every input is read). `progress` receives
/// bytes read so far.
pub fn read_input(
    input: &Input,
    opts: &ReadOptions,
    batch: &mut Batch,
    frames: &mut ocpp::Frames,
    progress: &mut dyn FnMut(u64),
    spill: &mut Spill,
) -> Result<FileReport, IngestError> {
    // UTF-16 files (some Windows tools) are transcoded to UTF-8 first.
    let head = input.head(4)?;
    if is_utf16(&head) {
        let mut bytes = Vec::new();
        input
            .open_whole()?
            .read_to_end(&mut bytes)
            .map_err(input.io())?;
        let (text, _, _) = encoding_rs::UTF_16LE.decode(&bytes);
        let mut utf8 = Vec::with_capacity(text.len());
        utf8.write_all(text.as_bytes()).map_err(input.io())?;
        let decoded = Input {
            name: input.name.clone(),
            data: InputData::Memory(Arc::new(utf8)),
            fingerprint: None,
        };
        let mut report = read_input(&decoded, opts, batch, frames, progress, spill)?;
        report.notes.push(format!("{}: read as UTF-16", input.name));
        return Ok(report);
    }
    let format = match opts.format {
        Format::Auto => detect_format(input)?,
        f => f,
    };
    match format {
        Format::Csv | Format::Auto => csv::read_csv(
            input.open_whole()?,
            &input.name,
            &opts.sessions,
            batch,
            progress,
            spill,
        ),
        Format::Json => {
            let mut bytes = Vec::new();
            input
                .open_whole()?
                .read_to_end(&mut bytes)
                .map_err(input.io())?;
            let text = String::from_utf8_lossy(&bytes);
            acn::read_json(&text, &input.name, &opts.sessions, batch)
        }
        Format::OcppJsonl | Format::OcppLog => {
            let layout = if format == Format::OcppJsonl {
                ocpp::Layout::Envelope
            } else {
                ocpp::Layout::Log
            };
            ocpp::read_frames(
                input.open_whole()?,
                &input.name,
                layout,
                &opts.ocpp,
                frames,
                batch,
                progress,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small batches only when staging surely stays in memory: inputs of
    /// known size that fit twice in its budget.
    #[test]
    fn batches_are_small_only_for_inputs_staged_in_memory() {
        const MIB: usize = 1 << 20;
        assert_eq!(spill_rows_for(Some(110 * MIB as u64), 2048 * MIB), 50_000);
        assert_eq!(spill_rows_for(Some(1024 * MIB as u64), 2048 * MIB), 50_000);
        assert_eq!(spill_rows_for(Some(1107 * MIB as u64), 2048 * MIB), 200_000);
        assert_eq!(spill_rows_for(Some(200 * MIB as u64), 256 * MIB), 200_000);
        assert_eq!(spill_rows_for(Some(0), 0), 50_000);
        // Stdin: its size is not known.
        assert_eq!(spill_rows_for(None, 2048 * MIB), 200_000);
    }

    /// Every reader reads its input to the end, so an input hashed on the
    /// way leaves the fingerprint a pass of its own gives: CSV (with a
    /// line too long to parse, and Latin-1), UTF-16, JSON, OCPP dumps.
    #[test]
    fn inputs_hashed_as_read_have_their_own_fingerprint() {
        for path in [
            "testdata/csv/boulder.csv",
            "testdata/bad/latin1-crlf.csv",
            "testdata/bad/truncated.csv",
            "testdata/bad/utf16.csv",
            "testdata/csv/acn.json",
            "testdata/ocpp16/AMS-CP16-01.jsonl",
            "testdata/ocpp16/AMS-CP16-02.log",
        ] {
            let input = Input::file(Path::new(env!("CARGO_MANIFEST_DIR")).join(path));
            let (hashed, slot) = input.fingerprinted();
            read_input(
                &hashed,
                &ReadOptions::default(),
                &mut Batch::default(),
                &mut ocpp::Frames::default(),
                &mut |_| {},
                &mut |_| Ok(()),
            )
            .expect("read");
            let on_read = slot.lock().expect("slot").take();
            assert_eq!(
                on_read,
                Some(input.fingerprint().expect("hashed")),
                "{path}"
            );
        }
    }
}
