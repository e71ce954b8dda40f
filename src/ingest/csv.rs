//! CSV session exports: delimiter sniffing, BOM and Latin-1 tolerance, and
//! row-by-row mapping with every bad row kept as a reject.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};

use csv::{ByteRecord, StringRecord};

use rayon::prelude::*;

use super::batch::{Batch, RejectRow};
use super::sessions::{Fields, RowError, SessionMapper, SessionOptions};
use super::{FileReport, IngestError, Spill};

/// A CSV line longer than this is refused (it is not a session export),
/// and never held in memory whole.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// A line too long to read: its number and first bytes.
pub type DroppedLine = (u64, Vec<u8>);

/// How much of a dropped line is kept in its reject.
pub const KEPT_PREFIX: usize = 256;

/// Passes lines through unchanged, except that a line longer than `limit`
/// is dropped (its bytes are read and discarded, only its newline is kept,
/// so line numbers stay right) and its number recorded. Memory is bounded
/// by `limit` whatever the input.
pub struct LineLimiter<R> {
    inner: R,
    limit: usize,
    /// The current line, held until its newline (or until it is too long).
    line: Vec<u8>,
    /// Ready to hand out: `ready[pos..]`.
    ready: Vec<u8>,
    pos: usize,
    line_no: u64,
    skipping: bool,
    eof: bool,
    /// The lines that were dropped: number and first [`KEPT_PREFIX`] bytes
    /// (kept so the reject still shows what the line was).
    pub dropped: Arc<Mutex<Vec<DroppedLine>>>,
}

impl<R: Read> LineLimiter<R> {
    pub fn new(inner: R, limit: usize) -> LineLimiter<R> {
        LineLimiter {
            inner,
            limit,
            line: Vec::new(),
            ready: Vec::new(),
            pos: 0,
            line_no: 1,
            skipping: false,
            eof: false,
            dropped: Default::default(),
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 1 << 16];
        self.ready.clear();
        self.pos = 0;
        while self.ready.is_empty() && !self.eof {
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                self.eof = true;
                if !self.skipping {
                    self.ready.append(&mut self.line);
                }
                break;
            }
            // Whole runs between newlines at a time (memchr), not byte by byte.
            let mut rest = &chunk[..n];
            while !rest.is_empty() {
                let (run, newline) = match memchr::memchr(b'\n', rest) {
                    Some(i) => (&rest[..i], true),
                    None => (rest, false),
                };
                rest = &rest[run.len() + usize::from(newline)..];
                if !self.skipping {
                    if self.line.len() + run.len() > self.limit {
                        let mut line = std::mem::take(&mut self.line);
                        let room = KEPT_PREFIX.saturating_sub(line.len());
                        line.extend_from_slice(&run[..run.len().min(room)]);
                        line.truncate(KEPT_PREFIX);
                        self.skipping = true;
                        self.dropped
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((self.line_no, line));
                    } else if newline && self.line.is_empty() {
                        self.ready.extend_from_slice(run);
                    } else {
                        self.line.extend_from_slice(run);
                    }
                }
                if newline {
                    if self.skipping {
                        self.skipping = false;
                    } else {
                        self.ready.append(&mut self.line);
                    }
                    self.ready.push(b'\n');
                    self.line_no += 1;
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for LineLimiter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.ready.len() {
            self.refill()?;
        }
        let n = (self.ready.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.ready[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The delimiter of a CSV file, sniffed from its first line: the most
/// frequent of `,` `;` tab `|` outside quotes (`,` on a tie).
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let mut counts = [0usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(i) = candidates.iter().position(|&c| c == b) {
                counts[i] += 1;
            }
        }
    }
    let best = (0..4)
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        candidates[best]
    }
}

/// Decode a field: UTF-8 when valid, else Windows-1252 (a superset of
/// Latin-1), which is what spreadsheet exports without a BOM usually are.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// A record to map: text, its UTF-8 checked once as a whole when it was
/// read (not field by field), or bytes of a row that is not UTF-8.
type ReadRecord = Result<StringRecord, ByteRecord>;

/// The bytes of a record read.
fn bytes(record: &ReadRecord) -> &ByteRecord {
    match record {
        Ok(text) => text.as_byte_record(),
        Err(bytes) => bytes,
    }
}

struct Record<'a>(&'a ReadRecord);

impl Fields for Record<'_> {
    fn field(&self, index: usize) -> Option<Cow<'_, str>> {
        match self.0 {
            Ok(text) => text.get(index).map(Cow::Borrowed),
            Err(bytes) => bytes.get(index).map(decode),
        }
    }
}

/// The record as text again, for the rejects table.
fn raw_text(record: &ByteRecord, delimiter: u8) -> String {
    let d = delimiter as char;
    let mut out = String::new();
    for (i, f) in record.iter().enumerate() {
        if i > 0 {
            out.push(d);
        }
        let f = decode(f);
        let f = f.strip_suffix('\r').unwrap_or(&f);
        if f.contains(d) || f.contains('"') || f.contains('\n') {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out
}

/// Read a CSV session export into `batch`.
pub fn read_csv(
    input: impl Read + Send,
    file: &Arc<str>,
    opts: &SessionOptions,
    batch: &mut Batch,
    progress: &mut dyn FnMut(u64),
    spill: &mut Spill,
) -> Result<FileReport, IngestError> {
    let io = |source| IngestError::Io {
        path: file.to_string(),
        source,
    };
    let limiter = LineLimiter::new(input, MAX_RECORD_BYTES);
    let dropped = limiter.dropped.clone();
    let mut reader = BufReader::with_capacity(1 << 16, limiter);
    let head = reader.fill_buf().map_err(io)?;
    let mut skip = 0;
    if head.starts_with(b"\xEF\xBB\xBF") {
        skip = 3;
    }
    let delimiter = sniff_delimiter(&head[skip..]);
    reader.consume(skip);

    // Records end at `\n` only: the `\r` of CRLF files is trimmed with the
    // field's spaces, and line numbers stay exact (the CRLF terminator makes
    // the csv crate report every data line one too low).
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .flexible(true)
        .has_headers(false)
        .from_reader(reader);
    let mut record = ByteRecord::new();
    let mut report = FileReport::new("csv");
    let has_header = csv
        .read_byte_record(&mut record)
        .map_err(|e| csv_err(file, e))?;
    if !has_header {
        report
            .notes
            .push(format!("{file} is empty: nothing to ingest"));
        return Ok(report);
    }
    let header: Vec<String> = record
        .iter()
        .map(|f| decode(f).trim().to_string())
        .collect();
    let mut mapper = SessionMapper::new(file, &header, opts)?;
    report.format = format!("csv/{}", mapper.preset.name);

    // Records are read on a thread of their own, a chunk at a time, and
    // mapped to sessions here on every core while the next chunk is read
    // (mapping, not CSV parsing, is most of the work). Chunks are taken in
    // file order, so sessions, rejects and spills keep that order; their
    // buffers go back to the reader to be filled again.
    let chunk = match opts.spill_rows {
        0 => MAP_CHUNK,
        n => n.min(MAP_CHUNK),
    };
    let fields = header.len();
    let mut latin1_rows = 0u64;
    std::thread::scope(|scope| -> Result<(), IngestError> {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Chunk>(1);
        let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Chunk>(2);
        let reader = scope.spawn(move || -> Result<(), IngestError> {
            loop {
                let mut c = empty_rx.try_recv().unwrap_or_default();
                c.fill(&mut csv, chunk, fields, delimiter, file)?;
                let last = c.last;
                // A closed channel: the mapping side stopped on an error.
                if full_tx.send(c).is_err() || last {
                    return Ok(());
                }
            }
        });
        let mut failed = Ok(());
        while let Ok(mut c) = full_rx.recv() {
            if let Some(pos) = c.pos {
                progress(pos);
            }
            report.rows_read += c.rows_read;
            latin1_rows += c.latin1_rows;
            // Room for the chunk's sessions. A batch past its first chunk
            // is sized for a whole spill at once: grown by doubling, its
            // rows were copied at each step, into fresh memory each time.
            let (len, wanted) = (batch.sessions.len(), c.pending.len());
            if batch.sessions.capacity() - len < wanted {
                if opts.spill_rows > 0 && len > 0 {
                    batch.sessions.reserve_exact(opts.spill_rows + chunk - len);
                } else {
                    batch.sessions.reserve(wanted);
                }
            }
            map_pending(
                &mut c.pending,
                &c.records,
                &mut mapper,
                file,
                delimiter,
                batch,
                &mut report,
            );
            let last = c.last;
            let _ = empty_tx.try_send(c);
            if !last
                && opts.spill_rows > 0
                && batch.sessions.len() + batch.rejects.len() >= opts.spill_rows
            {
                failed = spill(batch);
                if failed.is_err() {
                    break;
                }
            }
        }
        // Dropped, so a reader waiting to hand over a chunk stops.
        drop(full_rx);
        // A panic there is a bug: raised here, as if read on this thread.
        let read = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        failed.and(read)
    })?;
    // Lines too long to read were dropped before the parser saw them.
    for (line, prefix) in dropped.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        report.rows_read += 1;
        push_reject(
            batch,
            &mut report,
            file,
            *line,
            None,
            format!(
                "line is longer than {MAX_RECORD_BYTES} bytes; it was skipped unread (raw holds its first {KEPT_PREFIX} bytes)"
            ),
            format!("{}…", decode(prefix)),
        );
    }
    if latin1_rows > 0 {
        report.notes.push(format!(
            "{file}: {} not UTF-8, read as Latin-1 (Windows-1252)",
            super::count(latin1_rows, "row")
        ));
    }
    report.add_mapper_notes(file, &mapper, opts);
    batch.stations.extend(mapper.inferred_stations(file));
    Ok(report)
}

/// A record refused before mapping: too long, or not as many fields as the
/// header.
fn screen(
    record: &ByteRecord,
    fields: usize,
    delimiter: u8,
    file: &Arc<str>,
    line: u64,
) -> Option<RejectRow> {
    let (reason, raw) = if record.as_slice().len() > MAX_RECORD_BYTES {
        (
            format!("record is longer than {MAX_RECORD_BYTES} bytes"),
            String::from_utf8_lossy(&record.as_slice()[..256]).into_owned(),
        )
    } else if record.len() != fields {
        (
            format!("row has {} fields, the header has {fields} (an unquoted delimiter, or a truncated line?)", record.len()),
            raw_text(record, delimiter),
        )
    } else {
        return None;
    };
    Some(RejectRow {
        source_file: file.clone(),
        line,
        field: None,
        reason,
        raw,
    })
}

/// Rows mapped per chunk (fewer when the spill threshold is lower). Each
/// core's share of a chunk of 8k rows (about 1.2 MB of session rows) is
/// still in its cache when it is moved into the batch: 1M rows 0.88-0.94 s
/// against 0.96-0.99 s with 16k, 0.93-0.98 s with 4k (5 runs each).
const MAP_CHUNK: usize = 8 * 1024;

/// A row read and checked, waiting for its chunk to be mapped.
enum Pending {
    /// To map: the index of its record in the chunk's records.
    Map { record: usize, line: u64 },
    /// Refused before mapping.
    Reject(RejectRow),
}

/// Records read by the reading thread, to be mapped.
#[derive(Default)]
struct Chunk {
    /// The records to map.
    records: Vec<ReadRecord>,
    /// Record buffers to read into, reused from chunk to chunk.
    free: Vec<ByteRecord>,
    /// Rows in file order: records to map and rows refused unmapped.
    pending: Vec<Pending>,
    /// Rows read (blank lines are not rows).
    rows_read: u64,
    /// Rows not valid UTF-8 (read as Latin-1).
    latin1_rows: u64,
    /// The byte offset reached, for progress.
    pos: Option<u64>,
    /// The input ended with this chunk.
    last: bool,
}

impl Chunk {
    /// Read up to `limit` rows into the chunk, emptying it first.
    fn fill<R: Read>(
        &mut self,
        csv: &mut csv::Reader<R>,
        limit: usize,
        fields: usize,
        delimiter: u8,
        file: &Arc<str>,
    ) -> Result<(), IngestError> {
        self.pending.clear();
        self.rows_read = 0;
        self.latin1_rows = 0;
        self.pos = None;
        self.last = false;
        self.free.extend(self.records.drain(..).map(|r| match r {
            Ok(text) => text.into_byte_record(),
            Err(bytes) => bytes,
        }));
        while self.pending.len() < limit {
            let mut record = self.free.pop().unwrap_or_default();
            match csv.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => {
                    self.last = true;
                    self.free.push(record);
                    break;
                }
                Err(e) => {
                    self.free.push(record);
                    // A broken record (bad quoting): keep it as a reject and go on.
                    let line = e.position().map_or(0, |p| p.line());
                    self.rows_read += 1;
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        return Err(csv_err(file, e));
                    }
                    self.pending.push(Pending::Reject(RejectRow {
                        source_file: file.clone(),
                        line,
                        field: None,
                        reason: format!("unreadable CSV record: {e}"),
                        raw: String::new(),
                    }));
                    continue;
                }
            }
            let line = record.position().map_or(0, |p| p.line());
            if let Some(pos) = record.position() {
                self.pos = Some(pos.byte());
            }
            let blank = record.len() == 1
                && record
                    .get(0)
                    .is_some_and(|f| f.iter().all(u8::is_ascii_whitespace));
            if blank {
                self.free.push(record);
                continue;
            }
            self.rows_read += 1;
            match screen(&record, fields, delimiter, file, line) {
                Some(reject) => {
                    self.free.push(record);
                    self.pending.push(Pending::Reject(reject));
                }
                None => {
                    self.pending.push(Pending::Map {
                        record: self.records.len(),
                        line,
                    });
                    let record = StringRecord::from_byte_record(record).map_err(|e| {
                        self.latin1_rows += 1;
                        e.into_byte_record()
                    });
                    self.records.push(record);
                }
            }
        }
        Ok(())
    }
}

/// Map the pending rows of a chunk on every core (a fork of the mapper per
/// contiguous part), then hand sessions and rejects to the batch in file
/// order.
#[allow(clippy::too_many_arguments)]
fn map_pending(
    pending: &mut Vec<Pending>,
    records: &[ReadRecord],
    mapper: &mut SessionMapper,
    file: &Arc<str>,
    delimiter: u8,
    batch: &mut Batch,
    report: &mut FileReport,
) {
    let to_map: Vec<(usize, u64)> = pending
        .iter()
        .filter_map(|p| match p {
            Pending::Map { record, line } => Some((*record, *line)),
            Pending::Reject(_) => None,
        })
        .collect();
    let per_part = to_map
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1);
    let shared: &SessionMapper = mapper;
    // Each part maps its rows straight into the batch's free room, from
    // its own offset: moving the 300-byte rows into the batch afterwards
    // was a pass on one core while the other waited (a twentieth of the
    // read phase at 10M). A row that fails to map leaves no row behind;
    // the rows after it are moved down below.
    let start = batch.sessions.len();
    batch.sessions.reserve(to_map.len());
    let room = &mut batch.sessions.spare_capacity_mut()[..to_map.len()];
    // Each part's fork of the mapper, how many rows it wrote, and the rows
    // that failed (by their place in the part).
    type Part = (SessionMapper, usize, Vec<(usize, RowError)>);
    let parts: Vec<Part> = to_map
        .par_chunks(per_part)
        .zip(room.par_chunks_mut(per_part))
        .map(|(part, slots)| {
            let mut fork = shared.fork();
            let mut written = 0;
            let mut failed = Vec::new();
            for (k, &(record, line)) in part.iter().enumerate() {
                match fork.map(&Record(&records[record]), file, line) {
                    Ok(row) => {
                        slots[written].write(row);
                        written += 1;
                    }
                    Err(e) => failed.push((k, e)),
                }
            }
            (fork, written, failed)
        })
        .collect();
    let mut end = start;
    let mut failed = Vec::new();
    for (p, (fork, written, errors)) in parts.into_iter().enumerate() {
        mapper.absorb(fork);
        let from = start + p * per_part;
        if from != end {
            // SAFETY: the part's `written` rows at `from` were written
            // above, within the capacity reserved; `end < from`, and
            // `ptr::copy` allows the ranges to overlap. The slots moved
            // from are beyond the length set below, or written over by
            // the next part's rows: no row is dropped twice.
            unsafe {
                let rows = batch.sessions.as_mut_ptr();
                std::ptr::copy(rows.add(from), rows.add(end), written);
            }
        }
        end += written;
        failed.extend(errors.into_iter().map(|(k, e)| (p * per_part + k, e)));
    }
    // SAFETY: the rows from `start` to `end` were written or moved there
    // above, each once.
    unsafe { batch.sessions.set_len(end) };
    report.sessions += (end - start) as u64;
    // Rejects in file order: those refused before mapping, and the rows
    // that failed to map (by their place among the rows mapped).
    let mut failed = failed.into_iter().peekable();
    let mut at = 0;
    for p in pending.drain(..) {
        match p {
            Pending::Reject(r) => {
                report.rejected += 1;
                batch.rejects.push(r);
            }
            Pending::Map { record, line } => {
                if let Some((_, e)) = failed.next_if(|(i, _)| *i == at) {
                    push_reject(
                        batch,
                        report,
                        file,
                        line,
                        e.column,
                        e.reason,
                        raw_text(bytes(&records[record]), delimiter),
                    );
                }
                at += 1;
            }
        }
    }
}

fn csv_err(file: &Arc<str>, e: csv::Error) -> IngestError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => IngestError::Io {
            path: file.to_string(),
            source,
        },
        other => IngestError::Io {
            path: file.to_string(),
            source: std::io::Error::other(format!("{other:?}")),
        },
    }
}

pub(crate) fn push_reject(
    batch: &mut Batch,
    report: &mut FileReport,
    file: &Arc<str>,
    line: u64,
    field: Option<String>,
    reason: String,
    raw: String,
) {
    report.rejected += 1;
    batch.rejects.push(RejectRow {
        source_file: file.clone(),
        line,
        field,
        reason,
        raw,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2,5;3"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter(b"\"a,x\";b;c"), b';');
        assert_eq!(sniff_delimiter(b"single"), b',');
    }

    #[test]
    fn long_lines_are_dropped_not_buffered() {
        let data = format!("a,b\n{}\n1,2\n", "x".repeat(5000));
        let mut lim = LineLimiter::new(data.as_bytes(), 1000);
        let mut out = String::new();
        lim.read_to_string(&mut out).unwrap();
        assert_eq!(out, "a,b\n\n1,2\n");
        assert_eq!(
            *lim.dropped.lock().unwrap(),
            vec![(2, vec![b'x'; KEPT_PREFIX])]
        );
    }

    #[test]
    fn latin1_fields_decode() {
        assert_eq!(decode(b"caf\xe9"), "café");
        assert_eq!(decode("café".as_bytes()), "café");
    }

    #[test]
    fn rows_in_equal_sessions_plus_rejects() {
        let data = "\u{feff}station_id,start,stop,energy_kwh\n\
                    CP1,2026-10-01T08:00:00Z,2026-10-01T09:00:00Z,10\n\
                    CP1,2026-10-01T10:00:00Z,,x\n\
                    CP1,2026-10-01T11:00:00Z\n\
                    \n\
                    CP2,2026-10-01T12:00:00Z,2026-10-01T13:00:00Z,\"7,5\"\n";
        let mut batch = Batch::default();
        let file: Arc<str> = Arc::from("t.csv");
        let report = read_csv(
            data.as_bytes(),
            &file,
            &SessionOptions::default(),
            &mut batch,
            &mut |_| {},
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!(report.rows_read, 4);
        assert_eq!(report.sessions, 2);
        assert_eq!(report.rejected, 2);
        assert_eq!(batch.rejects[0].line, 3);
        assert_eq!(batch.rejects[0].field.as_deref(), Some("energy_kwh"));
        assert_eq!(batch.rejects[1].line, 4);
        assert_eq!(batch.sessions[1].energy_wh, Some(7500.0));
    }

    #[test]
    fn a_large_file_streams_through_the_spill_in_order() {
        let mut data = String::from("station_id,start,stop,energy_kwh\n");
        for i in 0..25 {
            let energy = if i % 10 == 3 {
                "x".to_string()
            } else {
                i.to_string()
            };
            data += &format!("CP1,2026-10-01T08:{i:02}:00Z,2026-10-01T09:00:00Z,{energy}\n");
        }
        let opts = SessionOptions {
            spill_rows: 4,
            ..SessionOptions::default()
        };
        let mut batch = Batch::default();
        let mut spilled = Batch::default();
        let mut calls = 0;
        let file: Arc<str> = Arc::from("big.csv");
        let report = read_csv(
            data.as_bytes(),
            &file,
            &opts,
            &mut batch,
            &mut |_| {},
            &mut |b: &mut Batch| {
                calls += 1;
                assert!(b.sessions.len() + b.rejects.len() >= 4);
                spilled.sessions.append(&mut b.sessions);
                spilled.rejects.append(&mut b.rejects);
                Ok(())
            },
        )
        .unwrap();
        assert!(calls >= 5, "{calls}");
        assert!(batch.sessions.len() + batch.rejects.len() <= 4);
        spilled.sessions.append(&mut batch.sessions);
        spilled.rejects.append(&mut batch.rejects);
        assert_eq!(report.sessions, 22);
        assert_eq!(spilled.sessions.len(), 22);
        assert_eq!(spilled.rejects.len(), 3);
        // File order is kept across spills.
        let energies: Vec<f64> = spilled
            .sessions
            .iter()
            .filter_map(|s| s.energy_wh)
            .collect();
        assert!(energies.windows(2).all(|w| w[0] < w[1]), "{energies:?}");
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("2026-10-01T08:00:00Z".to_string()),
            Just("2026-10-01 09:30".to_string()),
            Just("01/10/2026 10:00".to_string()),
            Just("-3.5".to_string()),
            Just("12,5".to_string()),
            Just("NaN".to_string()),
            "[A-Z0-9 ]{0,6}",
            "[0-9]{1,4}(\\.[0-9]{1,3})?",
            "\\PC{0,12}",
        ]
    }

    proptest! {
        /// Rows in = sessions + rejected, whatever the rows hold; energy
        /// is never negative.
        #[test]
        fn every_row_is_a_session_or_a_reject(rows in prop::collection::vec(prop::collection::vec(cell(), 3..6), 0..30)) {
            let mut text = String::from("station_id,start,stop,energy_kwh\n");
            for r in &rows {
                let fields: Vec<String> = r.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect();
                text.push_str(&fields.join(","));
                text.push('\n');
            }
            let mut batch = Batch::default();
            let file: Arc<str> = Arc::from("p.csv");
            let opts = SessionOptions { tz: Some(chrono_tz::Europe::Amsterdam), ..SessionOptions::default() };
            let report = read_csv(text.as_bytes(), &file, &opts, &mut batch, &mut |_| {}, &mut |_| Ok(())).unwrap();
            prop_assert_eq!(report.rows_read, report.sessions + report.rejected);
            prop_assert_eq!(batch.sessions.len() as u64, report.sessions);
            prop_assert_eq!(batch.rejects.len() as u64, report.rejected);
            for s in &batch.sessions {
                prop_assert!(s.energy_wh.is_none_or(|e| e >= 0.0));
                prop_assert!(s.stop.is_none_or(|stop| stop >= s.start));
            }
        }

        /// Rows map on every core straight into the batch: whichever rows
        /// fail, the sessions are exactly the other rows, each once, in
        /// file order, and the rejects the failed ones, in file order
        /// (with 1 to 5 mapping threads, so failures fall in any part).
        #[test]
        fn mapped_rows_keep_file_order_around_failures(
            good in prop::collection::vec(any::<bool>(), 0..300),
            threads in 1usize..6,
        ) {
            let mut text = String::from("station_id,start,stop,energy_kwh\n");
            for (i, ok) in good.iter().enumerate() {
                let energy = if *ok { i.to_string() } else { "x".to_string() };
                text += &format!("CP1,2026-10-01T08:00:00Z,2026-10-01T09:00:00Z,{energy}\n");
            }
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut batch = Batch::default();
            let file: Arc<str> = Arc::from("order.csv");
            let report = pool
                .install(|| read_csv(text.as_bytes(), &file, &SessionOptions::default(), &mut batch, &mut |_| {}, &mut |_| Ok(())))
                .unwrap();
            // Line 1 is the header: row i is on line i + 2.
            let lines = |want: bool| -> Vec<u64> {
                good.iter().enumerate().filter(|(_, ok)| **ok == want).map(|(i, _)| i as u64 + 2).collect()
            };
            let stored: Vec<u64> = batch.sessions.iter().filter_map(|s| s.source_line).collect();
            prop_assert_eq!(&stored, &lines(true));
            for s in &batch.sessions {
                let row = s.source_line.unwrap() - 2;
                prop_assert_eq!(s.energy_wh, Some(row as f64 * 1000.0));
            }
            let rejected: Vec<u64> = batch.rejects.iter().map(|r| r.line).collect();
            prop_assert_eq!(&rejected, &lines(false));
            prop_assert_eq!(report.sessions as usize, stored.len());
            prop_assert_eq!(report.rejected as usize, rejected.len());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let mut batch = Batch::default();
            let file: Arc<str> = Arc::from("b.csv");
            let _ = read_csv(bytes.as_slice(), &file, &SessionOptions::default(), &mut batch, &mut |_| {}, &mut |_| Ok(()));
        }
    }
}
