//! The embedded store: Hive-partitioned Parquet files plus a manifest.
//!
//! Layout (plain Parquet, so DuckDB, Spark or Trino can read it directly):
//!
//! ```text
//! evmon-data/
//!   manifest.json                      commit point (see manifest.rs)
//!   .lock  .readers.lock               see lock.rs
//!   sessions/month=2026-10/part-v00000007-<id>.parquet
//!   meter_values/month=2026-10/...
//!   events/month=2026-10/...
//!   rejects/month=2026-11/...          (partitioned by ingest time)
//!   stations/all/...
//! ```
//!
//! Each partition is one file. A write merges new rows into the partitions
//! they touch (dedupe on the table's natural key), writes each touched
//! partition as a new file, then swaps the manifest: a crash at any point
//! leaves every partition in either its old or its new state. Reads go
//! through polars lazy scans of the files the manifest lists, and time
//! ranges prune whole month partitions before any file is opened.

pub mod lock;
pub mod manifest;
mod parquet;
pub mod partition;
pub mod remote;
pub mod verify;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use thiserror::Error;

use crate::schema::Table;
use crate::timeutil::TimeRange;
pub use manifest::{Manifest, PartitionEntry, SourceRecord};

const MANIFEST: &str = "manifest.json";

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("no evmon store at {path}: run `evmon ingest FILE...` first, or point --data (or EVMON_DATA) at an existing store")]
    NotFound { path: PathBuf },
    #[error("{path} is not an evmon store (it has no manifest.json but is not empty): choose another --data directory")]
    NotAStore { path: PathBuf },
    #[error("cannot {action} {path}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("the store is locked by {holder}; gave up after waiting {}s (lock file {path}). Try again later or raise --lock-timeout", waited.as_secs())]
    Locked {
        path: PathBuf,
        holder: String,
        waited: Duration,
    },
    #[error("the store manifest {path} is unreadable ({message}); restore it from a backup or re-ingest into a new --data directory")]
    Manifest { path: PathBuf, message: String },
    #[error("the store manifest {path} has format {found}, this evmon reads format {expected}: upgrade evmon")]
    Format {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("{context}: {source}")]
    Polars {
        context: String,
        source: PolarsError,
    },
}

fn io_err<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

fn pl_err(context: impl Into<String>) -> impl FnOnce(PolarsError) -> StoreError {
    let context = context.into();
    move |source| StoreError::Polars { context, source }
}

/// A store directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open an existing store; error if there is none.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root = root.into();
        if !root.join(MANIFEST).is_file() {
            return Err(StoreError::NotFound { path: root });
        }
        Ok(Store { root })
    }

    /// Open a store, creating the directory if needed. An existing
    /// non-empty directory without a manifest is refused, so a typo in
    /// `--data` never scatters files into an unrelated directory.
    pub fn open_or_create(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root = root.into();
        if !root.join(MANIFEST).is_file() && root.is_dir() {
            let foreign = fs::read_dir(&root)
                .map_err(io_err(&root, "read directory"))?
                .filter_map(|e| e.ok())
                .any(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    !(name.starts_with('.')
                        || Table::ALL.iter().any(|t| t.name() == name)
                        || name == MANIFEST)
                });
            if foreign {
                return Err(StoreError::NotAStore { path: root });
            }
        }
        fs::create_dir_all(&root).map_err(io_err(&root, "create the store directory"))?;
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn manifest_path(&self) -> PathBuf {
        self.root.join(MANIFEST)
    }

    fn read_manifest(&self) -> Result<Manifest, StoreError> {
        let path = self.manifest_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::new()),
            Err(e) => return Err(io_err(&path, "read")(e)),
        };
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| StoreError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if manifest.format != manifest::FORMAT {
            return Err(StoreError::Format {
                path,
                found: manifest.format,
                expected: manifest::FORMAT,
            });
        }
        Ok(manifest)
    }

    /// A consistent read view: the manifest as of now, with the files it
    /// lists protected from deletion until the snapshot is dropped.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        // Lock before reading the manifest: a writer that commits after this
        // point cannot delete the files our manifest lists.
        let lock = lock::lock_reader(&self.root);
        let manifest = self.read_manifest()?;
        Ok(Snapshot {
            root: self.root.clone(),
            manifest,
            _lock: lock,
        })
    }

    /// Begin a write: take the writer lock (waiting up to `timeout`) and
    /// read the current manifest.
    pub fn begin_write(
        &self,
        timeout: Duration,
        on_wait: &mut dyn FnMut(&str),
    ) -> Result<WriteTxn, StoreError> {
        let lock = lock::lock_writer(&self.root, timeout, on_wait)?;
        if !self.manifest_path().is_file() {
            // A new store: an empty manifest makes it a store even if this
            // first write is abandoned.
            write_manifest(&self.root, &Manifest::new())?;
        }
        let base = self.read_manifest()?;
        let txn = WriteTxn {
            store: self.clone(),
            _lock: lock,
            manifest: base.clone(),
            base,
            written: Vec::new(),
            staged: BTreeMap::new(),
            staged_bytes: 0,
            stage_memory: 0,
            now: Utc::now(),
        };
        let _ = fs::remove_dir_all(self.root.join(STAGING_DIR));
        // Files left by a writer that crashed before its commit are not in
        // the manifest; clean them now that we are the only writer.
        txn.collect_garbage();
        Ok(txn)
    }
}

/// The staging budget (`WriteTxn::set_stage_memory`) for a process with
/// `available` bytes of free memory (the system's, or its cgroup's): an eighth of it, from 256 MiB (also
/// when unknown) to 2 GiB. Rows staged on disk are encoded, written,
/// read back and decoded again: at ten million sessions that was 15 % of
/// the ingest (14.2 s against 12.0-12.7 s with every row in memory, for
/// 1.1 against 2.7 GiB at peak). An eighth leaves the merge, which holds
/// a month partition or two besides, ample room.
pub fn stage_memory_for(available: Option<u64>) -> usize {
    const MIB: u64 = 1 << 20;
    let budget = available.map_or(256 * MIB, |bytes| (bytes / 8).clamp(256 * MIB, 2048 * MIB));
    usize::try_from(budget).unwrap_or(usize::MAX)
}

/// A read view of the store at one manifest version.
#[derive(Debug)]
pub struct Snapshot {
    root: PathBuf,
    manifest: Manifest,
    _lock: lock::ReaderLock,
}

impl Snapshot {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Files of `table` whose partition may hold rows in `range`.
    pub fn files(&self, table: Table, range: &TimeRange) -> Vec<PathBuf> {
        self.manifest
            .partitions(table.name())
            .filter(|(partition, _)| partition_overlaps(partition, range))
            .map(|(_, entry)| self.root.join(&entry.file))
            .collect()
    }

    /// Rows in the partitions of `table` overlapping `range` (an upper
    /// bound of the rows a read of the range returns).
    pub fn rows(&self, table: Table, range: &TimeRange) -> u64 {
        self.manifest
            .partitions(table.name())
            .filter(|(partition, _)| partition_overlaps(partition, range))
            .map(|(_, entry)| entry.rows)
            .sum()
    }

    /// Lazy scan of `table`, pruned to the month partitions overlapping
    /// `range` (rows are not filtered: the caller filters on its column).
    pub fn scan(&self, table: Table, range: &TimeRange) -> Result<LazyFrame, StoreError> {
        scan_files(table, &self.files(table, range))
    }

    /// Whether an input file with this content hash was already ingested.
    pub fn has_source(&self, hash: &str) -> bool {
        self.manifest.sources.contains_key(hash)
    }
}

/// Lazy scan of Parquet files holding `table`, with its declared schema.
pub fn scan_files(table: Table, files: &[PathBuf]) -> Result<LazyFrame, StoreError> {
    let schema = table.schema();
    if files.is_empty() {
        return Ok(DataFrame::empty_with_schema(&schema).lazy());
    }
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|p| PlRefPath::new(p.to_string_lossy().as_ref()))
        .collect();
    let args = ScanArgsParquet {
        schema: Some(Arc::new(schema)),
        // Files written before a column was added read it as nulls, so a
        // store keeps working across upgrades (the next write of a
        // partition adds the column).
        allow_missing_columns: true,
        hive_options: HiveOptions {
            enabled: Some(false),
            ..Default::default()
        },
        ..Default::default()
    };
    LazyFrame::scan_parquet_files(paths.into_iter().collect(), args)
        .map_err(pl_err(format!("cannot scan the {} table", table.name())))
}

/// Whether a partition may hold rows inside `range`.
fn partition_overlaps(partition: &str, range: &TimeRange) -> bool {
    let Some(month) = manifest::partition_month(partition) else {
        return true;
    };
    if let Some(since) = range.since {
        if month < partition::month_of(since).as_str() {
            return false;
        }
    }
    if let Some(until) = range.until {
        // `until` is exclusive: a range ending at 2026-11-01T00:00 does not
        // need November.
        let last = until - chrono::Duration::microseconds(1);
        if month > partition::month_of(last).as_str() {
            return false;
        }
    }
    true
}

/// What a merge did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// Rows offered by the batch.
    pub offered: u64,
    /// Rows in the touched partitions before and after the merge.
    pub before: u64,
    pub after: u64,
    pub partitions_written: u64,
}

impl MergeStats {
    /// Net rows added to the table.
    pub fn added(&self) -> u64 {
        self.after.saturating_sub(self.before)
    }
}

/// A write in progress. Nothing is visible to readers until `commit`; a
/// dropped transaction removes the files it wrote.
#[derive(Debug)]
pub struct WriteTxn {
    store: Store,
    _lock: lock::WriterLock,
    base: Manifest,
    manifest: Manifest,
    written: Vec<PathBuf>,
    /// Rows set aside by `stage`, per table and partition, in order.
    staged: BTreeMap<(Table, String), Vec<Staged>>,
    /// Bytes of staged rows held in memory, and the most it may hold.
    staged_bytes: usize,
    stage_memory: usize,
    now: DateTime<Utc>,
}

/// The most bytes of meter values and events `WriteTxn::stage` keeps in
/// memory, whatever the budget.
const STAGE_READINGS_MAX: usize = 256 << 20;

/// Directory of rows staged by the running writer; only the writer lock
/// holder touches it, and a new writer clears what a crashed one left.
const STAGING_DIR: &str = ".staging";

impl WriteTxn {
    /// The description a writer that crashed while holding the lock left.
    pub fn crashed_writer(&self) -> Option<&str> {
        self._lock.previous.as_deref()
    }

    /// The manifest as this transaction will commit it.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Record an ingested input file.
    pub fn record_source(&mut self, hash: String, record: SourceRecord) {
        self.manifest.sources.insert(hash, record);
    }

    /// Remove a partition from the manifest (its file is garbage once the
    /// transaction commits). Returns the entry that was dropped.
    pub fn drop_partition(&mut self, table: &str, partition: &str) -> Option<PartitionEntry> {
        let parts = self.manifest.tables.get_mut(table)?;
        let entry = parts.remove(partition);
        if parts.is_empty() {
            self.manifest.tables.remove(table);
        }
        entry
    }

    /// Set rows aside for `table` without merging them yet: they are kept
    /// in memory while the staged rows fit in the budget
    /// (`set_stage_memory`; at most 256 MiB for meter values and events),
    /// else written to staging files (by partition),
    /// and merged, in order and before the rows given to `merge`, when
    /// `merge` is called for the table. Keeps memory bounded when one input
    /// is larger than memory.
    pub fn stage(&mut self, table: Table, rows: DataFrame) -> Result<(), StoreError> {
        if rows.height() == 0 {
            return Ok(());
        }
        let rows = conform(table, rows)?;
        let budget = match table {
            Table::Sessions | Table::Stations | Table::Rejects => self.stage_memory,
            // A month of meter values or events is merged in memory, and
            // needs the room: a 20M-frame OCPP dump (14M meter values)
            // peaked at 5.2 GiB with 2 GiB of them staged in memory, and at
            // 3.3 GiB with 256 MiB.
            Table::MeterValues | Table::Events => self.stage_memory.min(STAGE_READINGS_MAX),
        };
        for (partition, mut part) in partition_rows(table, rows)? {
            let size = frame_bytes(&part);
            if self.staged_bytes + size <= budget {
                self.staged_bytes += size;
                self.staged
                    .entry((table, partition))
                    .or_default()
                    .push(Staged::Rows(part));
                continue;
            }
            let dir = self
                .store
                .root
                .join(STAGING_DIR)
                .join(table.name())
                .join(&partition);
            fs::create_dir_all(&dir).map_err(io_err(&dir, "create directory"))?;
            let chunks = self.staged.entry((table, partition)).or_default();
            let path = dir.join(format!("chunk-{:06}.parquet", chunks.len()));
            chunks.push(Staged::File(path.clone()));
            self.written.push(path.clone());
            // Staged files live for one ingest and are never pruned: favour
            // speed over size (plain, uncompressed, no statistics).
            create_parquet(&path, table, &mut part, parquet::Kind::Staged)?;
        }
        Ok(())
    }

    /// Scratch space of this writer inside the store (removed when the
    /// transaction ends, and by the next writer after a crash).
    pub fn staging_dir(&self) -> PathBuf {
        self.store.root.join(STAGING_DIR)
    }

    /// How many bytes of staged rows `stage` keeps in memory before it
    /// writes them to staging files (0: always write).
    pub fn set_stage_memory(&mut self, bytes: usize) {
        self.stage_memory = bytes;
    }

    /// Merge `rows` (in `table`'s schema), after any rows staged for the
    /// table, into the table. Partitions are merged in parallel, each
    /// reading its staged rows only when its turn comes, so memory holds a
    /// few partitions, not the whole input.
    pub fn merge(&mut self, table: Table, rows: DataFrame) -> Result<MergeStats, StoreError> {
        let mut stats = MergeStats::default();
        let mut parts: BTreeMap<String, Vec<Staged>> = BTreeMap::new();
        let keys: Vec<(Table, String)> = self
            .staged
            .keys()
            .filter(|(t, _)| *t == table)
            .cloned()
            .collect();
        for key in keys {
            if let Some(chunks) = self.staged.remove(&key) {
                parts.insert(key.1, chunks);
            }
        }
        if rows.height() > 0 {
            let rows = conform(table, rows)?;
            for (partition, part) in partition_rows(table, rows)? {
                parts.entry(partition).or_default().push(Staged::Rows(part));
            }
        }
        let jobs: Vec<MergeJob> = parts
            .into_iter()
            .enumerate()
            .map(|(i, (partition, chunks))| MergeJob {
                existing: self
                    .manifest
                    .tables
                    .get(table.name())
                    .and_then(|p| p.get(&partition))
                    .cloned(),
                name: format!(
                    "part-v{:08}-{:x}{:x}.parquet",
                    self.base.version + 1,
                    std::process::id(),
                    self.now.timestamp_nanos_opt().unwrap_or_default() as u64
                        ^ (self.written.len() + i) as u64
                ),
                partition,
                chunks,
            })
            .collect();
        let root = self.store.root.clone();
        let threads = rayon::current_num_threads();
        // Written files are synced and renamed into place by a thread of
        // their own while the next partitions are merged: a sync waits on
        // the disk (0.5 s over a 10M-session ingest), a merge on the CPU.
        let (settle, pending) = std::sync::mpsc::channel::<Unsynced>();
        let (done, settled) = std::thread::scope(|scope| {
            let syncer = scope.spawn(move || {
                // Every file is settled (or removed), the first error kept.
                let mut first = Ok(());
                for file in pending {
                    let settled = file.settle();
                    if first.is_ok() {
                        first = settled;
                    }
                }
                first
            });
            let done = map_bounded(jobs, threads, |job| {
                merge_partition(&root, table, job, &settle)
            });
            drop(settle);
            let settled = syncer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (done, settled)
        });
        // Record every file written before reporting a failure, so the
        // dropped transaction removes them all.
        let mut first_error = None;
        for result in done {
            match result {
                Ok(d) => {
                    stats.offered += d.offered;
                    stats.before += d.before;
                    stats.after += d.after;
                    if let Some((path, entry)) = d.written {
                        self.written.push(path);
                        stats.partitions_written += 1;
                        self.manifest
                            .tables
                            .entry(table.name().to_string())
                            .or_default()
                            .insert(d.partition, entry);
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error.map_or(settled, Err) {
            Err(e) => Err(e),
            Ok(()) => Ok(stats),
        }
    }

    /// Make the transaction visible: swap in the new manifest atomically.
    pub fn commit(mut self) -> Result<Manifest, StoreError> {
        let root = self.store.root.clone();
        if self.manifest == self.base {
            return Ok(self.manifest.clone());
        }
        self.manifest.version = self.base.version + 1;
        self.manifest.updated_at = Some(self.now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        write_manifest(&root, &self.manifest)?;
        // Committed: the files we wrote now belong to the store.
        self.written.clear();
        let _ = fs::remove_dir_all(root.join(STAGING_DIR));
        self.collect_garbage();
        Ok(self.manifest.clone())
    }

    /// Delete Parquet files the committed manifest does not list, unless a
    /// reader may still be scanning them (then a later writer does it).
    fn collect_garbage(&self) {
        let Some(_no_readers) = lock::try_lock_no_readers(&self.store.root) else {
            return;
        };
        let committed = match self.store.read_manifest() {
            Ok(m) => m,
            Err(_) => return,
        };
        let live: BTreeSet<PathBuf> = committed.files().map(|f| self.store.root.join(f)).collect();
        for table in Table::ALL {
            let table_dir = self.store.root.join(table.name());
            let Ok(partitions) = fs::read_dir(&table_dir) else {
                continue;
            };
            for partition in partitions.filter_map(|e| e.ok()) {
                let Ok(files) = fs::read_dir(partition.path()) else {
                    continue;
                };
                let mut remaining = 0;
                for file in files.filter_map(|e| e.ok()) {
                    let path = file.path();
                    let name = file.file_name();
                    let name = name.to_string_lossy();
                    let ours = name.ends_with(".parquet") || name.ends_with(".parquet.tmp");
                    if ours && !live.contains(&path) && !self.written.contains(&path) {
                        if fs::remove_file(&path).is_err() {
                            remaining += 1;
                        }
                    } else {
                        remaining += 1;
                    }
                }
                if remaining == 0 {
                    let _ = fs::remove_dir(partition.path());
                }
            }
        }
    }
}

impl Drop for WriteTxn {
    fn drop(&mut self) {
        // Not committed (an error on the way): remove what we wrote.
        for path in &self.written {
            let _ = fs::remove_file(path);
        }
        let _ = fs::remove_dir_all(self.store.root.join(STAGING_DIR));
    }
}

/// `f` applied to every job on `threads` threads of our own, each taking
/// the next job when it is done with one; results in the jobs' order.
/// Not rayon's `par_iter`: a rayon worker that waits on polars' own pool
/// runs more of its pool's jobs meanwhile, and merges nested that way up to
/// 36 deep, every partition's frames in memory at once.
fn map_bounded<J: Send, R: Send>(
    jobs: Vec<J>,
    threads: usize,
    f: impl Fn(J) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, jobs.len().max(1));
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate());
    let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).next();
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some((i, job)) = next() {
                        done.push((i, f(job)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Rows set aside by `WriteTxn::stage`: in memory, or in a staging file.
#[derive(Debug)]
enum Staged {
    Rows(DataFrame),
    File(PathBuf),
}

/// One partition to merge: what is stored and what comes in.
struct MergeJob {
    partition: String,
    existing: Option<PartitionEntry>,
    chunks: Vec<Staged>,
    /// File name of the new partition file.
    name: String,
}

/// What merging one partition did.
struct MergeDone {
    partition: String,
    offered: u64,
    before: u64,
    after: u64,
    /// The new file and its manifest entry, unless nothing changed.
    written: Option<(PathBuf, PartitionEntry)>,
}

/// Merge one partition: its stored rows and the new ones, deduplicated,
/// written as a new file (not yet in the manifest).
fn merge_partition(
    root: &Path,
    table: Table,
    job: MergeJob,
    settle: &std::sync::mpsc::Sender<Unsynced>,
) -> Result<MergeDone, StoreError> {
    let MergeJob {
        partition,
        existing,
        chunks,
        name,
    } = job;
    let mut frames = Vec::with_capacity(chunks.len());
    let mut offered = 0u64;
    for chunk in chunks {
        let df = match chunk {
            Staged::Rows(df) => df,
            Staged::File(path) => {
                let df = scan_files(table, std::slice::from_ref(&path))?
                    .collect()
                    .map_err(pl_err(format!(
                        "cannot read rows staged for {}",
                        table.name()
                    )))?;
                // Read: the disk space goes back now, not at commit.
                let _ = fs::remove_file(&path);
                df
            }
        };
        offered += df.height() as u64;
        frames.push(df);
    }
    let rows = stack_frames(frames).map_err(pl_err("cannot combine staged rows"))?;
    let context = || format!("cannot merge into {}/{}", table.name(), partition);
    let old = match &existing {
        Some(entry) => Some(
            scan_files(table, &[root.join(&entry.file)])?
                .collect()
                .map_err(pl_err(context()))?,
        ),
        None => None,
    };
    let before = old.as_ref().map_or(0, |df| df.height() as u64);
    // New rows first: on a full tie `dedupe` keeps the later row, so
    // what is already stored stays and re-ingesting rewrites nothing.
    let combined = match &old {
        Some(old) => rows.vstack(old).map_err(pl_err(context()))?,
        None => rows,
    };
    let merged = dedupe(table, combined).map_err(pl_err(context()))?;
    let after = merged.height() as u64;
    let unchanged = old.as_ref().is_some_and(|old| old.equals_missing(&merged));
    let written = if unchanged {
        None // nothing new: keep the file we have
    } else {
        Some(write_partition(
            root, table, &partition, &name, merged, settle,
        )?)
    };
    Ok(MergeDone {
        partition,
        offered,
        before,
        after,
        written,
    })
}

/// `frames` of one schema, one after the other, each frame's chunks kept.
/// A column that is the same scalar in every frame (absent from every
/// row, or one source) stays a scalar: polars' `vstack` materializes
/// scalar columns, a value for every row of every staged chunk.
pub(crate) fn stack_frames(frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let height = frames.iter().map(DataFrame::height).sum();
    let Some(first) = frames.first() else {
        return Ok(DataFrame::empty());
    };
    let shared: Vec<(usize, Column)> = first
        .columns()
        .iter()
        .enumerate()
        .filter_map(|(i, column)| {
            let Column::Scalar(value) = column else {
                return None;
            };
            let same = |f: &DataFrame| {
                matches!(f.columns().get(i), Some(Column::Scalar(other))
                    if other.name() == value.name() && other.scalar() == value.scalar())
            };
            frames[1..].iter().all(same).then(|| {
                let scalar = value.scalar().clone();
                (i, Column::new_scalar(value.name().clone(), scalar, height))
            })
        })
        .collect();
    let mut stacked: Option<DataFrame> = None;
    for frame in frames {
        let rows = frame.height();
        let mut columns = frame.into_columns();
        // Highest first: the indices of the others stay as they were.
        for (i, _) in shared.iter().rev() {
            columns.remove(*i);
        }
        let part = DataFrame::new(rows, columns)?;
        match &mut stacked {
            None => stacked = Some(part),
            Some(df) => {
                df.vstack_mut_owned(part)?;
            }
        }
    }
    let mut stacked = stacked.unwrap_or_default();
    for (i, column) in shared {
        stacked.insert_column(i, column)?;
    }
    Ok(stacked)
}

/// Bytes that the rows of `df` take in memory: a scalar column takes
/// none (polars' estimate materializes it first).
fn frame_bytes(df: &DataFrame) -> usize {
    df.columns()
        .iter()
        .map(|c| match c {
            Column::Series(s) => s.estimated_size(),
            Column::Scalar(_) => 0,
        })
        .sum()
}

/// A partition file written under its temporary name, not yet synced.
struct Unsynced {
    file: File,
    tmp: PathBuf,
    path: PathBuf,
}

impl Unsynced {
    /// Sync the file, rename it into place and sync its directory. On
    /// failure the temporary file is removed.
    fn settle(self) -> Result<(), StoreError> {
        let Unsynced { file, tmp, path } = self;
        let done = file
            .sync_all()
            .map_err(io_err(&tmp, "sync"))
            .and_then(|()| {
                drop(file);
                fs::rename(&tmp, &path).map_err(io_err(&path, "rename into place"))
            });
        if done.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        done?;
        if let Some(dir) = path.parent() {
            sync_dir(dir);
        }
        Ok(())
    }
}

/// Write a partition file under a temporary name, handed to `settle` to be
/// synced and renamed into place. On failure the temporary file is removed.
fn write_partition(
    root: &Path,
    table: Table,
    partition: &str,
    name: &str,
    mut df: DataFrame,
    settle: &std::sync::mpsc::Sender<Unsynced>,
) -> Result<(PathBuf, PartitionEntry), StoreError> {
    let dir_rel = format!("{}/{}", table.name(), partition);
    let dir = root.join(&dir_rel);
    fs::create_dir_all(&dir).map_err(io_err(&dir, "create directory"))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let rows = df.height() as u64;
    let file =
        create_parquet(&tmp, table, &mut df, parquet::Kind::Partition).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let pending = Unsynced {
        file,
        tmp,
        path: path.clone(),
    };
    // A closed channel: the merge is being abandoned; settle here.
    if let Err(std::sync::mpsc::SendError(pending)) = settle.send(pending) {
        pending.settle()?;
    }
    Ok((
        path,
        PartitionEntry {
            file: format!("{dir_rel}/{name}"),
            rows,
            bytes,
        },
    ))
}

/// Create the file at `path` and write `df`, rows of `table`, to it as
/// Parquet of `kind`.
fn create_parquet(
    path: &Path,
    table: Table,
    df: &mut DataFrame,
    kind: parquet::Kind,
) -> Result<File, StoreError> {
    let file = File::create(path).map_err(io_err(path, "create"))?;
    parquet::write(BufWriter::with_capacity(1 << 20, &file), table, df, kind)
        .map_err(pl_err(format!("cannot write {}", path.display())))?;
    Ok(file)
}

/// Split rows of `table` into its partitions (by UTC month of the
/// partition column, or the single `all` partition).
fn partition_rows(table: Table, rows: DataFrame) -> Result<Vec<(String, DataFrame)>, StoreError> {
    match table.partition_column() {
        Some(ts) => {
            partition::split_by_month(rows, ts).map_err(pl_err("cannot partition rows by month"))
        }
        None => Ok(vec![(manifest::ALL_PARTITION.to_string(), rows)]),
    }
}

/// Make `df` exactly `table`'s schema (column order and types).
fn conform(table: Table, df: DataFrame) -> Result<DataFrame, StoreError> {
    let schema = table.schema();
    let exprs: Vec<Expr> = schema
        .iter()
        .map(|(name, dtype)| col(name.clone()).strict_cast(dtype.clone()))
        .collect();
    df.lazy().select(exprs).collect().map_err(pl_err(format!(
        "rows do not fit the {} schema",
        table.name()
    )))
}

/// Keep one row per natural key: the one sorting last on the table's
/// preference columns, then order rows by the table's sort columns.
/// Sessions reconstructed from OCPP are combined instead (see
/// [`combine_ocpp_sessions`]).
pub fn dedupe(table: Table, df: DataFrame) -> PolarsResult<DataFrame> {
    let df = if table == Table::Sessions {
        combine_ocpp_sessions(df)?
    } else {
        df
    };
    let key: Vec<PlSmallStr> = table.key_columns().iter().map(|c| (*c).into()).collect();
    let order: Vec<PlSmallStr> = table
        .key_columns()
        .iter()
        .chain(table.preference_columns())
        .map(|c| (*c).into())
        .collect();
    let sort_columns: Vec<PlSmallStr> = table
        .sort_columns()
        .iter()
        .map(|c| PlSmallStr::from(*c))
        .collect();
    // Fresh rows rarely repeat a key: when none does, there is nothing to
    // choose between, and when the key is among the sort columns, one sort
    // (no sort by preference, no unique pass) gives the same rows in the
    // same order, as those columns then order distinct keys totally.
    let sorted_by_key = table
        .key_columns()
        .iter()
        .all(|k| table.sort_columns().contains(k));
    if sorted_by_key && all_distinct(&df, &key)? {
        if table == Table::Sessions {
            if let Some(sorted) = sort_sessions(&df)? {
                return Ok(sorted);
            }
        }
        return df
            .lazy()
            .sort(
                sort_columns,
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .collect();
    }
    let n = order.len();
    df.lazy()
        .sort(
            order,
            SortMultipleOptions::default()
                .with_nulls_last(false)
                .with_order_descending_multi(vec![false; n])
                .with_maintain_order(true),
        )
        .unique_stable(Some(cols(key)), UniqueKeepStrategy::Last)
        .sort(
            sort_columns,
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
}

/// Whether no two rows of `df` have the same `columns`. A single text key
/// (the sessions' uid) is first checked by a 64-bit hash of each value in
/// a set sized up front: no two equal hashes means no two equal values,
/// without comparing or re-hashing texts as the set grows (polars' unique
/// took 0.9 s of CPU at 10M). Equal hashes, and other keys, are counted
/// exactly.
fn all_distinct(df: &DataFrame, columns: &[PlSmallStr]) -> PolarsResult<bool> {
    if let [column] = columns {
        if let Ok(texts) = df.column(column)?.str() {
            use std::hash::BuildHasher;
            let hasher = rustc_hash::FxBuildHasher;
            let mut seen: std::collections::HashSet<u64, rustc_hash::FxBuildHasher> =
                std::collections::HashSet::with_capacity_and_hasher(texts.len(), hasher);
            if texts.iter().all(|text| seen.insert(hasher.hash_one(text))) {
                return Ok(true);
            }
        }
    }
    Ok(distinct_rows(df, columns)? == df.height())
}

/// How many distinct values the `columns` of `df` hold together.
fn distinct_rows(df: &DataFrame, columns: &[PlSmallStr]) -> PolarsResult<usize> {
    let n = df
        .clone()
        .lazy()
        .select(columns.iter().map(|k| col(k.clone())).collect::<Vec<_>>())
        .unique(None, UniqueKeepStrategy::Any)
        .select([len()])
        .collect()?
        .column("len")?
        .u32()?
        .get(0)
        .unwrap_or(0);
    Ok(n as usize)
}

/// Session rows in the table's order (start, station, uid; polars' order
/// of texts, byte by byte), each tie kept in arrival order; `None` when
/// one of the three is missing (never in a stored session). Start times
/// are sorted as integers, and only rows starting at the same instant are
/// ordered by their texts: polars' sort by the three columns encodes both
/// texts of every row to compare them (14 % of the merge's CPU at 10M).
fn sort_sessions(df: &DataFrame) -> PolarsResult<Option<DataFrame>> {
    use crate::schema::col as c;
    let start = df.column(c::START)?.cast(&DataType::Int64)?;
    let start = start.i64()?;
    let station = df.column(c::STATION_ID)?.str()?;
    let uid = df.column(c::SESSION_UID)?.str()?;
    if start.null_count() + station.null_count() + uid.null_count() > 0 {
        return Ok(None);
    }
    let starts: Vec<i64> = start.into_no_null_iter().collect();
    if starts.is_sorted() && rows_in_order(&starts, station, uid) {
        return Ok(Some(df.clone())); // exports mostly come in time order
    }
    let mut order: Vec<IdxSize> = (0..starts.len() as IdxSize).collect();
    // Row numbers break ties, so the unstable sort keeps arrival order.
    order.sort_unstable_by_key(|&i| (starts[i as usize], i));
    let (station, uid) = (station.rechunk(), uid.rechunk());
    fn text(ca: &StringChunked, i: IdxSize) -> &str {
        ca.get(i as usize).unwrap_or_default()
    }
    for run in order.chunk_by_mut(|a, b| starts[*a as usize] == starts[*b as usize]) {
        if run.len() > 1 {
            // Stable: rows equal on all three stay in arrival order.
            run.sort_by(|&a, &b| {
                (text(&station, a), text(&uid, a)).cmp(&(text(&station, b), text(&uid, b)))
            });
        }
    }
    // One chunk first: gathering texts across chunks copies their bytes
    // one by one, from one chunk only their views.
    let mut df = df.clone();
    df.rechunk_mut_par();
    df.take(&IdxCa::from_vec(PlSmallStr::EMPTY, order))
        .map(Some)
}

/// Whether rows whose `starts` are in order are also in order on station
/// and uid where they start in the same second.
fn rows_in_order(starts: &[i64], station: &StringChunked, uid: &StringChunked) -> bool {
    let mut previous: Option<(i64, &str, &str)> = None;
    for ((start, station), uid) in starts
        .iter()
        .zip(station.iter().map(Option::unwrap_or_default))
        .zip(uid.iter().map(Option::unwrap_or_default))
    {
        let row = (*start, station, uid);
        if previous.is_some_and(|p| p > row) {
            return false;
        }
        previous = Some(row);
    }
    true
}

/// Replace the manifest atomically: write a temporary file, sync it, rename
/// it over the old one, sync the directory.
fn write_manifest(root: &Path, manifest: &Manifest) -> Result<(), StoreError> {
    let text = serde_json::to_vec_pretty(manifest).expect("manifest serializes");
    let tmp = root.join(format!(".{MANIFEST}.tmp"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err(&tmp, "create"))?;
        f.write_all(&text).map_err(io_err(&tmp, "write"))?;
        f.sync_all().map_err(io_err(&tmp, "sync"))?;
    }
    let path = root.join(MANIFEST);
    fs::rename(&tmp, &path).map_err(io_err(&path, "replace"))?;
    sync_dir(root);
    Ok(())
}

/// OCPP sessions seen in several runs (the start in one log, the stop in the
/// next) are one session: rows with the same `session_uid` are combined
/// field by field, earliest start and its meter reading, earliest stop,
/// latest charging end, highest power, and the energy recomputed from the
/// first and last register readings. Combining is idempotent and does not
/// depend on the order rows arrive in. CSV rows are left to `dedupe`.
pub fn combine_ocpp_sessions(df: DataFrame) -> PolarsResult<DataFrame> {
    use crate::schema::col as c;
    // Exports (CSV, JSON) have nothing to combine: their rows stay as they
    // are, without a filter copying every column.
    let is_ocpp = |s: Option<&str>| s.is_some_and(|s| s.starts_with("ocpp"));
    // One source for every row is checked once, not materialized.
    let any_ocpp = match df.column(c::SOURCE)? {
        Column::Scalar(source) => is_ocpp(source.scalar().value().extract_str()),
        source => source.str()?.iter().any(is_ocpp),
    };
    if !any_ocpp {
        return Ok(df);
    }
    let is_ocpp = col(c::SOURCE).str().starts_with(lit("ocpp"));
    let csv_rows = df.clone().lazy().filter(is_ocpp.clone().not());
    let first = |name: &str| col(name).drop_nulls().first().alias(name);
    // The register reading at the end of what each row saw.
    let end_reading = col(c::METER_STOP_WH).fill_null(col(c::METER_START_WH) + col(c::ENERGY_WH));
    let ocpp_rows = df
        .lazy()
        .filter(is_ocpp)
        .sort(
            [c::START, c::SOURCE_FILE, c::SOURCE_LINE],
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .with_column(end_reading.alias("__end_reading"))
        .group_by_stable([col(c::SESSION_UID)])
        .agg([
            first(c::TRANSACTION_ID),
            first(c::STATION_ID),
            first(c::CONNECTOR_ID),
            first(c::ID_TAG),
            // Any answer other than Accepted outranks Accepted.
            col(c::AUTH_STATUS)
                .drop_nulls()
                .sort(SortOptions::default())
                .last()
                .alias(c::AUTH_STATUS),
            col(c::START).min(),
            col(c::STOP).min(),
            col(c::CHARGING_END).max(),
            first(c::METER_START_WH),
            col(c::METER_STOP_WH)
                .drop_nulls()
                .last()
                .alias(c::METER_STOP_WH),
            col(c::ENERGY_WH).max().alias("__max_energy"),
            col("__end_reading").max(),
            col(c::MAX_POWER_W).max(),
            first(c::STOP_REASON),
            first(c::SOURCE),
            first(c::SOURCE_FILE),
            first(c::SOURCE_LINE),
        ])
        .with_column(
            when(
                (col("__end_reading") - col(c::METER_START_WH))
                    .gt_eq(lit(0.0))
                    .and(col("__max_energy").is_not_null()),
            )
            .then(col("__end_reading") - col(c::METER_START_WH))
            .otherwise(col("__max_energy"))
            .alias(c::ENERGY_WH),
        );
    let schema = Table::Sessions.schema();
    let columns: Vec<Expr> = schema.iter_names().map(|n| col(n.clone())).collect();
    concat(
        [csv_rows.select(columns.clone()), ocpp_rows.select(columns)],
        UnionArgs::default(),
    )?
    .collect()
}

fn sync_dir(dir: &Path) {
    // Make the rename durable; not all filesystems allow it, which is fine.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Row counts of every table, for summaries.
pub fn table_rows(manifest: &Manifest) -> BTreeMap<&'static str, u64> {
    Table::ALL
        .iter()
        .map(|t| (t.name(), manifest.rows(t.name())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A single text key is told distinct by its hashes, and repeated
    /// (or twice missing) by polars' exact count.
    #[test]
    fn distinct_keys_are_told_from_repeated_ones() {
        let key = [PlSmallStr::from("k")];
        let frame = |values: &[Option<&str>]| {
            DataFrame::new(values.len(), vec![Column::new("k".into(), values.to_vec())])
                .expect("a frame")
        };
        let uids: Vec<String> = (0..5000)
            .map(|i| format!("csv:ST{:05}/TX{i}", i % 97))
            .collect();
        let mut values: Vec<Option<&str>> = uids.iter().map(|u| Some(u.as_str())).collect();
        assert!(all_distinct(&frame(&values), &key).unwrap());
        values.push(Some(&uids[4321]));
        assert!(!all_distinct(&frame(&values), &key).unwrap());
        assert!(!all_distinct(&frame(&[None, Some("a"), None]), &key).unwrap());
        assert!(all_distinct(&frame(&[None, Some("a")]), &key).unwrap());
        assert!(all_distinct(&frame(&[]), &key).unwrap());
    }

    #[test]
    fn stacked_frames_keep_scalars_shared_by_every_frame() {
        let frame = |rows: usize, tag: Option<&str>, source: &str| {
            let tag = Column::new_scalar(
                "tag".into(),
                Scalar::new(
                    DataType::String,
                    tag.map_or(AnyValue::Null, |t| AnyValue::from(t).into_static()),
                ),
                rows,
            );
            let source = Column::new_scalar(
                "source".into(),
                Scalar::new(DataType::String, AnyValue::from(source).into_static()),
                rows,
            );
            let line = Column::new("line".into(), (0..rows as u64).collect::<Vec<_>>());
            DataFrame::new(rows, vec![tag, line, source]).unwrap()
        };
        let stacked = stack_frames(vec![frame(2, None, "csv"), frame(3, None, "json")]).unwrap();
        assert_eq!(stacked.shape(), (5, 3));
        let names: Vec<&str> = stacked
            .columns()
            .iter()
            .map(|c| c.name().as_str())
            .collect();
        assert_eq!(names, ["tag", "line", "source"]);
        // The same null in both stays a scalar; two sources are values.
        assert!(matches!(stacked.column("tag").unwrap(), Column::Scalar(_)));
        assert_eq!(stacked.column("tag").unwrap().null_count(), 5);
        let sources: Vec<Option<&str>> = stacked
            .column("source")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(
            sources,
            [
                Some("csv"),
                Some("csv"),
                Some("json"),
                Some("json"),
                Some("json")
            ]
        );
        let lines: Vec<u64> = stacked
            .column("line")
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(lines, [0, 1, 0, 1, 2]);
        // A scalar in one frame and values in another are values.
        let mut values = frame(1, None, "csv");
        values
            .replace("tag", Column::new("tag".into(), [Some("T1")]))
            .unwrap();
        let stacked = stack_frames(vec![frame(2, None, "csv"), values]).unwrap();
        let tags: Vec<Option<&str>> = stacked
            .column("tag")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(tags, [None, None, Some("T1")]);
        assert!(matches!(
            stacked.column("source").unwrap(),
            Column::Scalar(_)
        ));
        assert_eq!(stack_frames(Vec::new()).unwrap().shape(), (0, 0));
        // What staging counts: nothing for a scalar.
        assert_eq!(frame_bytes(&frame(4, None, "csv")), 4 * 8);
    }

    /// A written file is synced and renamed into place; when that fails,
    /// its temporary file is removed and the error names the file.
    #[test]
    fn unsynced_files_settle_into_place_or_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, path: PathBuf| {
            let tmp = dir.path().join(name);
            let mut file = File::create(&tmp).expect("create");
            file.write_all(b"PAR1").expect("write");
            (
                Unsynced {
                    file,
                    tmp: tmp.clone(),
                    path,
                },
                tmp,
            )
        };
        let good = dir.path().join("part.parquet");
        let (pending, tmp) = write(".part.tmp", good.clone());
        pending.settle().expect("settled");
        assert!(good.is_file() && !tmp.exists());

        let nowhere = dir.path().join("missing").join("part.parquet");
        let (pending, tmp) = write(".lost.tmp", nowhere.clone());
        let err = pending.settle().expect_err("no directory to rename into");
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(!tmp.exists() && !nowhere.exists());
    }

    /// Jobs that wait on polars' pool (as merges do) run two at a time,
    /// each once, their results in the jobs' order.
    #[test]
    fn bounded_map_runs_two_jobs_at_a_time() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let (active, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let out = map_bounded((0..64).collect(), 2, |i: i64| {
            most.fetch_max(active.fetch_add(1, SeqCst) + 1, SeqCst);
            let df = df!("x" => (0..2000).map(|x| (x * 7919 + i) % 2000).collect::<Vec<i64>>())
                .expect("frame");
            let sorted = df
                .lazy()
                .sort(["x"], Default::default())
                .collect()
                .expect("sorted");
            active.fetch_sub(1, SeqCst);
            sorted
                .column("x")
                .expect("x")
                .i64()
                .expect("i64")
                .get(0)
                .unwrap_or(-1)
                + i
        });
        assert_eq!(out, (0..64).collect::<Vec<i64>>());
        assert!(most.load(SeqCst) <= 2, "{} jobs at once", most.load(SeqCst));
    }

    /// Sessions sorted on their start as integers, ties broken on the
    /// texts, come out as polars' sort on the three columns puts them.
    #[test]
    fn sessions_sort_as_polars_sorts_them() {
        use crate::schema::col as c;
        let frame = |rows: &[(i64, &str, &str)]| {
            let start = Series::new(
                c::START.into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )
            .cast(
                &Table::Sessions
                    .schema()
                    .get(c::START)
                    .cloned()
                    .expect("declared"),
            )
            .expect("a datetime");
            df!(
                c::STATION_ID => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                c::SESSION_UID => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                "arrival" => (0..rows.len() as u32).collect::<Vec<_>>(),
            )
            .and_then(|mut df| df.with_column(start.into()).map(|df| df.clone()))
            .expect("a frame")
        };
        let by_polars = |df: &DataFrame| {
            df.clone()
                .lazy()
                .sort(
                    [c::START, c::STATION_ID, c::SESSION_UID],
                    SortMultipleOptions::default().with_maintain_order(true),
                )
                .collect()
                .expect("sorted")
        };
        let cases: [&[(i64, &str, &str)]; 4] = [
            // In order already, ties included.
            &[(1, "A", "a"), (1, "A", "b"), (1, "B", "a"), (2, "A", "a")],
            // Out of order, with ties on start and on station; byte order
            // of texts ("B" before "a", "A10" before "A9").
            &[
                (5, "a", "x"),
                (5, "B", "y"),
                (3, "A9", "u"),
                (3, "A10", "v"),
                (5, "B", "b"),
                (-7, "Z", "z"),
                (3, "A10", "a"),
            ],
            &[(2, "S", "2"), (1, "S", "1")],
            &[],
        ];
        for rows in cases {
            let df = frame(rows);
            let mut two = df.slice(0, rows.len() / 2);
            two.vstack_mut(&df.slice((rows.len() / 2) as i64, rows.len()))
                .expect("stacked");
            let ours = sort_sessions(&two).expect("sorted").expect("no nulls");
            assert!(ours.equals(&by_polars(&df)), "{rows:?}: {ours}");
        }
    }

    #[test]
    fn staging_budget_is_an_eighth_of_free_memory_within_bounds() {
        const MIB: u64 = 1 << 20;
        assert_eq!(stage_memory_for(None), 256 << 20);
        assert_eq!(stage_memory_for(Some(512 * MIB)), 256 << 20);
        assert_eq!(stage_memory_for(Some(8 * 1024 * MIB)), 1024 << 20);
        assert_eq!(stage_memory_for(Some(24 * 1024 * MIB)), 2048 << 20);
    }

    #[test]
    fn partitions_are_pruned_by_range() {
        let t = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
        let range = TimeRange {
            since: Some(t(2026, 10, 15)),
            until: Some(t(2026, 12, 1)),
        };
        assert!(!partition_overlaps("month=2026-09", &range));
        assert!(partition_overlaps("month=2026-10", &range));
        assert!(partition_overlaps("month=2026-11", &range));
        assert!(!partition_overlaps("month=2026-12", &range));
        assert!(partition_overlaps("all", &range));
        assert!(partition_overlaps("month=1999-01", &TimeRange::default()));
    }
}
