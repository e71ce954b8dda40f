//! OCPP 1.6J and 2.0.1 message dumps: frames are read file by file, then
//! reconstructed together (sessions span files, and files may come in any
//! order).
//!
//! Facts, enums and pitfalls: `reference/ocpp-and-datasets.md` §1–3, §5.10.

pub mod frame;
pub mod messages;
pub mod reconstruct;

use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono_tz::Tz;

use super::batch::{Batch, RejectRow};
use super::{FileReport, IngestError};
pub use frame::{Frame, Proto};
pub use reconstruct::OcppReport;

/// A line longer than this is refused without being parsed.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// Options for OCPP dumps.
#[derive(Debug, Clone, Default)]
pub struct OcppOptions {
    /// Charge point id for files that do not name it (`--cp`).
    pub cp: Option<String>,
    /// Protocol version when the dump does not say (`--proto`).
    pub proto: Option<Proto>,
    /// Zone of log timestamps without an offset (`--tz`).
    pub tz: Option<Tz>,
    /// Lines of the file before this input (`evmon watch` reads a growing
    /// file in pieces; rejects keep the file's own line numbers).
    pub line_offset: u64,
}

/// Frames gathered from every OCPP file of a run.
#[derive(Debug, Default)]
pub struct Frames {
    pub frames: Vec<Frame>,
    pub files: Vec<Arc<str>>,
    interner: frame::Interner,
    /// How each file's lines are read again from a spill.
    contexts: Vec<FileContext>,
    spill: Option<FrameSpill>,
}

/// What parsing a line of a file needs besides the line.
#[derive(Debug, Clone)]
struct FileContext {
    layout: Layout,
    cp: Option<Arc<str>>,
    proto: Option<Proto>,
    tz: Option<Tz>,
}

/// Lines of frames set aside on disk, one bucket file per group of charge
/// points: reconstruction needs all of a charge point's frames at once, and
/// a bucket at a time bounds memory whatever the size of the dumps.
#[derive(Debug)]
struct FrameSpill {
    dir: PathBuf,
    buckets: Vec<BufWriter<File>>,
    lines: u64,
}

impl FrameSpill {
    fn path(&self, bucket: usize) -> PathBuf {
        self.dir.join(format!("bucket-{bucket:04}.bin"))
    }
}

/// One spilled line: file index, line number, text.
fn write_record(w: &mut impl Write, file: u32, line: u64, text: &[u8]) -> std::io::Result<()> {
    w.write_all(&file.to_le_bytes())?;
    w.write_all(&line.to_le_bytes())?;
    w.write_all(&(text.len() as u32).to_le_bytes())?;
    w.write_all(text)
}

fn read_record(r: &mut impl Read) -> std::io::Result<Option<(u32, u64, Vec<u8>)>> {
    let mut head = [0u8; 16];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let file = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes"));
    let line = u64::from_le_bytes(head[4..12].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(head[12..16].try_into().expect("4 bytes")) as usize;
    let mut text = vec![0u8; len];
    r.read_exact(&mut text)?;
    Ok(Some((file, line, text)))
}

impl Frames {
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.spill.as_ref().is_none_or(|s| s.lines == 0)
    }

    /// From now on, set frames aside in `buckets` files under `dir` (which
    /// the caller removes afterwards) instead of keeping them in memory.
    pub fn spill_to(&mut self, dir: &Path, buckets: usize) -> Result<(), IngestError> {
        let io = |source| IngestError::Io {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut spill = FrameSpill {
            dir: dir.to_path_buf(),
            buckets: Vec::new(),
            lines: 0,
        };
        for b in 0..buckets.max(1) {
            let file = File::create(spill.path(b)).map_err(io)?;
            spill.buckets.push(BufWriter::with_capacity(1 << 16, file));
        }
        self.spill = Some(spill);
        Ok(())
    }

    /// Keep a parsed frame: in memory, or its line in its charge point's
    /// bucket.
    fn keep(&mut self, f: Frame, text: &[u8]) -> std::io::Result<()> {
        match &mut self.spill {
            None => self.frames.push(f),
            Some(spill) => {
                let mut h = rustc_hash::FxHasher::default();
                f.cp.hash(&mut h);
                let b = (h.finish() % spill.buckets.len() as u64) as usize;
                write_record(&mut spill.buckets[b], f.file, f.line, text)?;
                spill.lines += 1;
            }
        }
        Ok(())
    }

    /// Reconstruct sessions, meter values and events into `batch`. Frames
    /// set aside on disk are read back a bucket at a time, and `spill`
    /// takes the rows of each bucket.
    pub fn reconstruct(
        mut self,
        proto: Option<Proto>,
        batch: &mut Batch,
        spill: &mut super::Spill,
    ) -> Result<OcppReport, IngestError> {
        let Some(mut disk) = self.spill.take() else {
            return Ok(reconstruct::reconstruct(
                self.frames,
                &self.files,
                proto,
                batch,
            ));
        };
        let mut total =
            reconstruct::reconstruct(std::mem::take(&mut self.frames), &self.files, proto, batch);
        let buckets = std::mem::take(&mut disk.buckets);
        for (b, writer) in buckets.into_iter().enumerate() {
            let path = disk.path(b);
            let io = |source| IngestError::Io {
                path: path.display().to_string(),
                source,
            };
            writer.into_inner().map_err(|e| io(e.into_error()))?;
            let records = |path: &Path| -> Result<_, IngestError> {
                let mut reader = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
                Ok(std::iter::from_fn(move || {
                    read_record(&mut reader).transpose()
                }))
            };
            let mut frames = Vec::new();
            for record in records(&path)? {
                let (file, line, text) = record.map_err(io)?;
                let Some(fc) = self.contexts.get(file as usize) else {
                    continue;
                };
                let ctx = frame::LineContext {
                    file,
                    line,
                    cp: fc.cp.as_ref(),
                    proto: fc.proto,
                    tz: fc.tz,
                };
                let text = String::from_utf8_lossy(&text);
                // It parsed when it was read: the same line parses again.
                if let Ok(f) = parse_line(fc.layout, &text, &ctx, &mut self.interner) {
                    frames.push(f);
                }
            }
            let first_reject = batch.rejects.len();
            let report = reconstruct::reconstruct(frames, &self.files, proto, batch);
            // Answers without a call are rejected without their line: read
            // the bucket once more for those lines (rarely any).
            let mut wanted: HashMap<(u32, u64), usize> = HashMap::new();
            for (i, r) in batch.rejects.iter().enumerate().skip(first_reject) {
                if let Some(file) = self.files.iter().position(|f| *f == r.source_file) {
                    if r.raw.is_empty() {
                        wanted.insert((file as u32, r.line), i);
                    }
                }
            }
            if !wanted.is_empty() {
                for record in records(&path)? {
                    let (file, line, text) = record.map_err(io)?;
                    if let Some(&i) = wanted.get(&(file, line)) {
                        batch.rejects[i].raw = raw_line(&text);
                    }
                }
            }
            let _ = std::fs::remove_file(&path);
            total.add(&report);
            spill(batch)?;
        }
        let _ = std::fs::remove_dir(&disk.dir);
        Ok(total)
    }
}

/// Parse one line of a dump laid out as `layout`.
fn parse_line(
    layout: Layout,
    text: &str,
    ctx: &frame::LineContext,
    interner: &mut frame::Interner,
) -> Result<Frame, frame::LineError> {
    match layout {
        Layout::Envelope => frame::parse_envelope_line(text, ctx, interner),
        Layout::Log => frame::parse_log_line(text, ctx, interner),
    }
}

/// A line as a reject keeps it: its first 2 KiB, as text, without the
/// line end.
pub(crate) fn raw_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(2048)])
        .trim_end()
        .to_string()
}

/// How the lines of a dump are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `{"ts","cp","dir","proto","msg"}` per line.
    Envelope,
    /// timestamp, direction, frame per line.
    Log,
}

/// The charge point id a file name implies: `AMS-CP16-02.log` -> `AMS-CP16-02`.
fn cp_from_name(name: &str) -> Option<String> {
    let stem = Path::new(name).file_stem()?.to_string_lossy().to_string();
    (!stem.is_empty() && stem != "<stdin>").then_some(stem)
}

/// Read one dump's frames. Bad lines go to `batch.rejects`.
pub fn read_frames(
    input: impl Read,
    file: &Arc<str>,
    layout: Layout,
    opts: &OcppOptions,
    acc: &mut Frames,
    batch: &mut Batch,
    progress: &mut dyn FnMut(u64),
) -> Result<FileReport, IngestError> {
    let file_index = acc.files.len() as u32;
    acc.files.push(file.clone());
    let cp: Option<Arc<str>> = opts
        .cp
        .clone()
        .or_else(|| {
            if layout == Layout::Log {
                cp_from_name(file)
            } else {
                None
            }
        })
        .map(|c| acc.interner.get(&c));
    acc.contexts.push(FileContext {
        layout,
        cp: cp.clone(),
        proto: opts.proto,
        tz: opts.tz,
    });
    let mut report = FileReport::new(match layout {
        Layout::Envelope => "ocpp/jsonl",
        Layout::Log => "ocpp/log",
    });
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let mut buf = Vec::new();
    let mut line_no = opts.line_offset;
    let mut bytes = 0u64;
    let mut not_frames = 0u64;
    loop {
        buf.clear();
        let n = read_line_limited(&mut reader, &mut buf, MAX_LINE_BYTES).map_err(|source| {
            IngestError::Io {
                path: file.to_string(),
                source,
            }
        })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        bytes += n as u64;
        if line_no.is_multiple_of(4096) {
            progress(bytes);
        }
        let reject = |batch: &mut Batch, report: &mut FileReport, reason: String, raw: &[u8]| {
            report.rows_read += 1;
            report.rejected += 1;
            let raw = String::from_utf8_lossy(&raw[..raw.len().min(2048)]).into_owned();
            batch.rejects.push(RejectRow {
                source_file: file.clone(),
                line: line_no,
                field: None,
                reason,
                raw,
            });
        };
        if buf.len() > MAX_LINE_BYTES {
            reject(
                batch,
                &mut report,
                format!("line is longer than {MAX_LINE_BYTES} bytes"),
                &buf,
            );
            continue;
        }
        let text = String::from_utf8_lossy(&buf);
        let ctx = frame::LineContext {
            file: file_index,
            line: line_no,
            cp: cp.as_ref(),
            proto: opts.proto,
            tz: opts.tz,
        };
        match parse_line(layout, &text, &ctx, &mut acc.interner) {
            Ok(f) => {
                report.rows_read += 1;
                acc.keep(f, text.as_bytes())
                    .map_err(|source| IngestError::Io {
                        path: "the frames set aside on disk".to_string(),
                        source,
                    })?;
            }
            Err(frame::LineError::Skip) => {}
            Err(frame::LineError::NotAFrame) => not_frames += 1,
            Err(frame::LineError::Bad(reason)) => {
                reject(batch, &mut report, reason, text.trim_end().as_bytes())
            }
            Err(frame::LineError::Fatal(message)) => {
                return Err(IngestError::Ocpp {
                    path: file.to_string(),
                    line: line_no,
                    message,
                })
            }
        }
    }
    progress(bytes);
    if not_frames > 0 {
        report.notes.push(format!(
            "{file}: {} without an OCPP frame skipped (other log output)",
            super::count(not_frames, "line")
        ));
    }
    if line_no == 0 {
        report
            .notes
            .push(format!("{file} is empty: nothing to ingest"));
    }
    Ok(report)
}

/// Read up to and including `\n`, but keep at most `limit + 1` bytes: an
/// absurdly long line is consumed without being held in memory.
pub(crate) fn read_line_limited(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(total);
        }
        let (used, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = (limit + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..used.min(room)]);
        r.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_not_buffered() {
        let data = format!("{}\nshort\n", "x".repeat(100));
        let mut r = BufReader::with_capacity(8, data.as_bytes());
        let mut buf = Vec::new();
        assert_eq!(read_line_limited(&mut r, &mut buf, 10).unwrap(), 101);
        assert_eq!(buf.len(), 11);
        buf.clear();
        assert_eq!(read_line_limited(&mut r, &mut buf, 10).unwrap(), 6);
        assert_eq!(buf, b"short\n");
    }

    #[test]
    fn cp_from_file_names() {
        assert_eq!(
            cp_from_name("logs/AMS-CP16-02.log").as_deref(),
            Some("AMS-CP16-02")
        );
        assert_eq!(cp_from_name("<stdin>"), None);
    }

    mod fuzz {
        use super::*;
        use crate::schema::Table;
        use proptest::prelude::*;

        /// Real frames: both fixture dumps, 1.6J and 2.0.1.
        const DUMPS: [&str; 2] = [
            include_str!("../../../testdata/ocpp16/AMS-CP16-01.jsonl"),
            include_str!("../../../testdata/ocpp201/AMS-CP201-01.jsonl"),
        ];

        /// What a broken charger or a bad export puts where a value was.
        const POISON: &[&str] = &[
            "1e308",
            "-1e308",
            "\"1e400\"",
            "\"NaN\"",
            "\"-inf\"",
            "\"-0\"",
            "null",
            "\"\"",
            "18446744073709551616",
            "-5",
            "0",
            "\"-12.5\"",
            "{}",
            "[]",
            "true",
            "\"2026-13-45T99:99:99Z\"",
            "\"9999-12-31T23:59:59Z\"",
            "\"0000-01-01T00:00:00Z\"",
            "\"1970-01-01T00:00:00Z\"",
            "\"kWh\"",
            "\"Wh\"",
            "\"3\"",
            "\"-9\"",
            "\"L1-N\"",
            "\"Energy.Active.Import.Register\"",
            "\"Power.Active.Import\"",
            "\"Ended\"",
            "\"Started\"",
            "\"Faulted\"",
            "\"Invalid\"",
            "\"999999999999999999999\"",
        ];

        /// Replace the `k`-th JSON scalar of `line` (a quoted string or a
        /// number, keys included) with `with`.
        fn replace_scalar(line: &str, k: usize, with: &str) -> String {
            let b = line.as_bytes();
            let mut spans = Vec::new();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        let start = i;
                        i += 1;
                        while i < b.len() && b[i] != b'"' {
                            i += if b[i] == b'\\' { 2 } else { 1 };
                        }
                        spans.push((start, (i + 1).min(b.len())));
                    }
                    b'-' | b'0'..=b'9' => {
                        let start = i;
                        while i + 1 < b.len()
                            && matches!(b[i + 1], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                        {
                            i += 1;
                        }
                        spans.push((start, i + 1));
                    }
                    _ => {}
                }
                i += 1;
            }
            if spans.is_empty() {
                return line.to_string();
            }
            let (a, z) = spans[k % spans.len()];
            format!("{}{}{}", &line[..a], with, &line[z..])
        }

        #[derive(Debug, Clone)]
        enum Edit {
            Poison {
                line: usize,
                scalar: usize,
                with: usize,
            },
            Truncate {
                line: usize,
                at: usize,
            },
            Duplicate {
                line: usize,
            },
            Swap {
                a: usize,
                b: usize,
            },
            Drop {
                line: usize,
            },
        }

        fn edit() -> impl Strategy<Value = Edit> {
            prop_oneof![
                6 => (any::<usize>(), any::<usize>(), 0..POISON.len())
                    .prop_map(|(line, scalar, with)| Edit::Poison { line, scalar, with }),
                1 => (any::<usize>(), any::<usize>()).prop_map(|(line, at)| Edit::Truncate { line, at }),
                1 => any::<usize>().prop_map(|line| Edit::Duplicate { line }),
                1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap { a, b }),
                1 => any::<usize>().prop_map(|line| Edit::Drop { line }),
            ]
        }

        proptest! {
            /// A dump damaged anywhere (values poisoned, lines cut, repeated,
            /// reordered or lost) is read, reconstructed and turned into
            /// tables without a panic, and what comes out stays physical.
            #[test]
            fn damaged_dumps_never_panic(dump in 0..DUMPS.len(), edits in proptest::collection::vec(edit(), 1..12)) {
                let mut lines: Vec<String> = DUMPS[dump].lines().map(str::to_string).collect();
                for e in edits {
                    let n = lines.len();
                    if n == 0 {
                        break;
                    }
                    match e {
                        Edit::Poison { line, scalar, with } => {
                            lines[line % n] = replace_scalar(&lines[line % n], scalar, POISON[with]);
                        }
                        Edit::Truncate { line, at } => {
                            let l = &lines[line % n];
                            let mut cut = at % (l.len() + 1);
                            while !l.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            lines[line % n] = l[..cut].to_string();
                        }
                        Edit::Duplicate { line } => {
                            let l = lines[line % n].clone();
                            lines.insert(line % n, l);
                        }
                        Edit::Swap { a, b } => lines.swap(a % n, b % n),
                        Edit::Drop { line } => {
                            lines.remove(line % n);
                        }
                    }
                }
                let text = lines.join("\n");
                let mut frames = Frames::default();
                let mut batch = Batch::default();
                let file: Arc<str> = Arc::from("fuzz.jsonl");
                read_frames(text.as_bytes(), &file, Layout::Envelope, &OcppOptions::default(), &mut frames, &mut batch, &mut |_| {}).unwrap();
                frames.reconstruct(None, &mut batch, &mut |_| Ok(())).unwrap();
                for s in &batch.sessions {
                    if let Some(e) = s.energy_wh {
                        prop_assert!(e.is_finite() && e >= 0.0, "session {} energy {e}", s.session_uid);
                    }
                    if let Some(stop) = s.stop {
                        prop_assert!(stop >= s.start, "session {} stops before it starts", s.session_uid);
                    }
                }
                for m in &batch.meter_values {
                    prop_assert!(m.value.is_finite(), "meter value {}", m.value);
                }
                for t in Table::ALL {
                    batch.frame(t, chrono::Utc::now());
                }
            }
        }
    }
}
