//! `evmon check`: is the store what its manifest says? Every listed file
//! present, readable, with the declared schema and the row count the
//! manifest records; rows in the right month partition; no natural key
//! twice; no leftovers of a crashed writer.

use std::collections::BTreeSet;
use std::fs;

use chrono::DateTime;
use polars::prelude::*;

use super::{lock, manifest, scan_files, Store, StoreError};
use crate::schema::Table;

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Worth knowing, nothing wrong with the data.
    Note,
    /// Will be repaired by the next ingest (leftovers), or data is doubtful.
    Warning,
    /// The store does not match its manifest.
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub level: Level,
    pub table: String,
    pub partition: String,
    pub problem: String,
    /// The partition's file cannot be trusted (missing, cut short, not
    /// Parquet, wrong types or row count): `evmon check --repair` drops it.
    pub damaged: bool,
}

/// What was checked, for the summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checked {
    pub files: u64,
    pub rows: u64,
    pub version: u64,
}

fn month_of_micros(us: i64) -> Option<String> {
    DateTime::from_timestamp_micros(us).map(super::partition::month_of)
}

/// Check the store.
pub fn verify(store: &Store, own_lock: bool) -> Result<(Checked, Vec<Problem>), StoreError> {
    let snapshot = store.snapshot()?;
    let manifest = snapshot.manifest().clone();
    let root = store.root().to_path_buf();
    let mut problems = Vec::new();
    let mut checked = Checked {
        version: manifest.version,
        ..Checked::default()
    };
    let mut push = |level, table: &str, partition: &str, problem: String| {
        problems.push(Problem {
            level,
            table: table.to_string(),
            partition: partition.to_string(),
            problem,
            damaged: false,
        })
    };
    let mut damaged: BTreeSet<(&str, String)> = BTreeSet::new();
    for table in Table::ALL {
        let schema = table.schema();
        let mut frames = Vec::new();
        for (partition, entry) in manifest.partitions(table.name()) {
            let path = root.join(&entry.file);
            checked.files += 1;
            let Ok(meta) = fs::metadata(&path) else {
                push(
                    Level::Error,
                    table.name(),
                    partition,
                    format!("{} is listed but missing", entry.file),
                );
                damaged.insert((table.name(), partition.clone()));
                continue;
            };
            if meta.len() != entry.bytes {
                push(
                    Level::Error,
                    table.name(),
                    partition,
                    format!(
                        "{} has {} bytes, the manifest says {}",
                        entry.file,
                        meta.len(),
                        entry.bytes
                    ),
                );
                damaged.insert((table.name(), partition.clone()));
            }
            let file_schema = match ParquetReader::new(match fs::File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    push(
                        Level::Error,
                        table.name(),
                        partition,
                        format!("{} cannot be opened: {e}", entry.file),
                    );
                    damaged.insert((table.name(), partition.clone()));
                    continue;
                }
            })
            .schema()
            {
                Ok(s) => s,
                Err(e) => {
                    push(
                        Level::Error,
                        table.name(),
                        partition,
                        format!("{} is not readable Parquet: {e}", entry.file),
                    );
                    damaged.insert((table.name(), partition.clone()));
                    continue;
                }
            };
            for (name, dtype) in schema.iter() {
                match file_schema.get(name.as_str()) {
                    None => push(
                        Level::Note,
                        table.name(),
                        partition,
                        format!("{} predates column {name} (read as empty)", entry.file),
                    ),
                    Some(f) => {
                        let found = DataType::from_arrow_field(f);
                        if &found != dtype {
                            push(
                                Level::Error,
                                table.name(),
                                partition,
                                format!(
                                    "{}: column {name} is {found}, expected {dtype}",
                                    entry.file
                                ),
                            );
                            damaged.insert((table.name(), partition.clone()));
                        }
                    }
                }
            }
            let df = match scan_files(table, std::slice::from_ref(&path)).and_then(|lf| {
                lf.collect().map_err(|e| StoreError::Polars {
                    context: entry.file.clone(),
                    source: e,
                })
            }) {
                Ok(df) => df,
                Err(e) => {
                    push(
                        Level::Error,
                        table.name(),
                        partition,
                        format!("{} cannot be read: {e}", entry.file),
                    );
                    damaged.insert((table.name(), partition.clone()));
                    continue;
                }
            };
            checked.rows += df.height() as u64;
            if df.height() as u64 != entry.rows {
                push(
                    Level::Error,
                    table.name(),
                    partition,
                    format!(
                        "{} holds {} rows, the manifest says {}",
                        entry.file,
                        df.height(),
                        entry.rows
                    ),
                );
                damaged.insert((table.name(), partition.clone()));
            }
            if let (Some(col), Some(month)) = (
                table.partition_column(),
                manifest::partition_month(partition),
            ) {
                let ts = df
                    .column(col)
                    .ok()
                    .and_then(|c| c.cast(&DataType::Int64).ok());
                if let Some(ts) = ts.as_ref().and_then(|c| c.i64().ok()) {
                    let wrong = ts
                        .iter()
                        .flatten()
                        .filter(|us| month_of_micros(*us).as_deref() != Some(month))
                        .count();
                    if wrong > 0 {
                        push(
                            Level::Error,
                            table.name(),
                            partition,
                            format!("{wrong} rows have a {col} outside {month}"),
                        );
                    }
                }
            }
            frames.push(df);
        }
        // Natural keys are unique across the whole table.
        if let Some(first) = frames.first().cloned() {
            let mut all = first;
            for f in frames.iter().skip(1) {
                let _ = all.vstack_mut(f);
            }
            let keys: Vec<PlSmallStr> = table.key_columns().iter().map(|c| (*c).into()).collect();
            if let Ok(unique) = all
                .clone()
                .lazy()
                .unique(Some(cols(keys)), UniqueKeepStrategy::First)
                .collect()
            {
                let dupes = all.height() - unique.height();
                if dupes > 0 {
                    push(
                        Level::Error,
                        table.name(),
                        "",
                        format!(
                            "{dupes} rows repeat a natural key ({})",
                            table.key_columns().join(", ")
                        ),
                    );
                }
            }
        }
    }
    // Files the manifest does not list: a writer's leftovers.
    let live: BTreeSet<String> = manifest.files().map(str::to_string).collect();
    for table in Table::ALL {
        let Ok(parts) = fs::read_dir(root.join(table.name())) else {
            continue;
        };
        for part in parts.flatten() {
            let Ok(files) = fs::read_dir(part.path()) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().to_string();
                let rel = format!(
                    "{}/{}/{}",
                    table.name(),
                    part.file_name().to_string_lossy(),
                    name
                );
                if (name.ends_with(".parquet") || name.ends_with(".tmp")) && !live.contains(&rel) {
                    push(Level::Warning, table.name(), &part.file_name().to_string_lossy(), format!("{rel} is not in the manifest (left by an interrupted write; the next ingest removes it)"));
                }
            }
        }
    }
    if !own_lock && !lock::is_held(&root) && root.join(".staging").exists() {
        push(Level::Warning, "", "", ".staging/ holds rows staged by an ingest that did not finish (ignored; the next ingest removes it)".into());
    }
    if root.join(".manifest.json.tmp").exists() {
        push(Level::Warning, "", "", ".manifest.json.tmp is left from an interrupted commit (ignored; the next ingest replaces it)".into());
    }
    let holder = lock::describe_holder(&root.join(lock::WRITER_LOCK));
    if own_lock {
        // The caller holds the writer lock (check --repair): the lock
        // describes it, not another process.
    } else if lock::is_held(&root) {
        push(
            Level::Note,
            "",
            "",
            format!("an ingest is running now: {holder}"),
        );
    } else if holder != "another evmon process" {
        push(Level::Note, "", "", format!("the last writer ended without releasing the lock cleanly ({holder}); the kernel released it"));
    }
    for p in &mut problems {
        p.damaged =
            p.level == Level::Error && damaged.contains(&(p.table.as_str(), p.partition.clone()));
    }
    Ok((checked, problems))
}
