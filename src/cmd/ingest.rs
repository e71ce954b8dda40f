//! `evmon ingest`: read files into the store under the writer lock, then
//! merge all new rows in one atomic commit and summarise on stderr.

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use polars::prelude::*;

use crate::cli::{
    AmbiguousArg, DateOrderArg, GapArg, GlobalArgs, IngestArgs, InputFormat, ProgressArg, ProtoArg,
};
use crate::ingest::ocpp::{Frames, OcppOptions, OcppReport, Proto};
use crate::ingest::{self, presets, stations, Batch, ReadOptions, SessionOptions};
use crate::output::progress;
use crate::schema::{col, Table};
use crate::store::{self, MergeStats, SourceRecord, Store, StoreError, WriteTxn};
use crate::timeutil::{self, Ambiguous, DateOrder, DstPolicy, Gap};
use crate::{exit, UsageError};

pub fn run(args: &IngestArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    if args.paths.is_empty() && args.stations.is_none() {
        return Err(UsageError(
            "nothing to ingest: give files, directories or globs (or - for stdin), or --stations FILE".into(),
        )
        .into());
    }
    let inputs = ingest::discover(&args.paths)?;
    let station_meta = match &args.stations {
        Some(path) => stations::load(path)?,
        None => Vec::new(),
    };
    let store = Store::open_or_create(&global.data)?;

    let mut txn = store.begin_write(Duration::from_secs(args.lock_timeout), &mut |holder| {
        note(
            global,
            &format!("waiting for the store lock held by {holder}"),
        )
    })?;

    let stage_memory = match args.stage_memory {
        Some(mib) => mib.saturating_mul(1 << 20),
        None => store::stage_memory_for(crate::memory::available()),
    };
    txn.set_stage_memory(stage_memory);
    let input_bytes: u64 = inputs.iter().map(ingest::Input::size).sum();
    let spill_rows = args.spill_rows.unwrap_or_else(|| {
        let known = !inputs.iter().any(ingest::Input::is_stdin);
        ingest::spill_rows_for(known.then_some(input_bytes), stage_memory)
    });
    if let Some(previous) = txn.crashed_writer() {
        note(
            global,
            &format!("an earlier ingest ({previous}) ended without finishing; the store kept its last complete state and that ingest's partial files were removed"),
        );
    }

    let mut sessions = SessionOptions {
        preset: args.preset.as_deref().and_then(presets::preset),
        maps: args.maps.clone(),
        tz: args.tz,
        date_order: args.date_order.map(|o| match o {
            DateOrderArg::Dmy => DateOrder::Dmy,
            DateOrderArg::Mdy => DateOrder::Mdy,
            DateOrderArg::Ymd => DateOrder::Ymd,
        }),
        dst: DstPolicy {
            ambiguous: match args.dst_ambiguous {
                AmbiguousArg::Earliest => Ambiguous::Earliest,
                AmbiguousArg::Latest => Ambiguous::Latest,
                AmbiguousArg::Reject => Ambiguous::Reject,
            },
            gap: match args.dst_gap {
                GapArg::Shift => Gap::Shift,
                GapArg::Reject => Gap::Reject,
            },
        },
        station_zones: HashMap::new(),
        spill_rows,
    };
    sessions.station_zones = station_zones(&store, &station_meta)?;
    let opts = ReadOptions {
        format: match args.format {
            InputFormat::Auto => ingest::Format::Auto,
            InputFormat::Csv => ingest::Format::Csv,
            InputFormat::Json => ingest::Format::Json,
            InputFormat::OcppJsonl => ingest::Format::OcppJsonl,
            InputFormat::OcppLog => ingest::Format::OcppLog,
        },
        sessions,
        ocpp: OcppOptions {
            cp: args.cp.clone(),
            proto: args.proto.map(|p| match p {
                ProtoArg::Ocpp16 => Proto::V16,
                ProtoArg::Ocpp201 => Proto::V201,
            }),
            tz: args.tz,
            line_offset: 0,
        },
    };
    let mut frames = Frames::default();
    if input_bytes > (args.ocpp_memory as u64).saturating_mul(1 << 20) {
        // Frames of large dumps wait on disk, in buckets of charge points
        // (about 128 MiB of input each), not in memory.
        let buckets = (input_bytes >> 27).clamp(16, 256) as usize;
        frames
            .spill_to(&txn.staging_dir().join("ocpp"), buckets)
            .context("cannot prepare the staging area of the store")?;
    }

    let mut batch = Batch::default();
    batch.stations.extend(station_meta.iter().cloned());
    let mut totals = Totals::default();
    let mut failed = 0usize;
    let mut seen: HashSet<String> = HashSet::new();
    let mut records = Vec::new();

    let sizes: Vec<u64> = inputs.iter().map(ingest::Input::size).collect();
    let bar = progress::bytes_bar(
        progress_mode(global.progress),
        global.quiet,
        sizes.iter().sum(),
        "ingest",
    );
    let mut done = 0u64;
    let now = Utc::now();
    // Rejects shown by --strict; the batch may have handed them on.
    let mut first_rejects: Vec<ingest::RejectRow> = Vec::new();
    // Sizes of the sources an input could repeat: what is stored (unless
    // --force) and what was read before it in this run.
    let mut known_sizes: HashSet<u64> = if args.force {
        HashSet::new()
    } else {
        txn.manifest().sources.values().map(|s| s.bytes).collect()
    };
    for (input, size) in inputs.iter().zip(&sizes) {
        // A file of a size no known source has cannot repeat one: it is
        // hashed as it is read, not in a pass of its own before (0.4 s on
        // one core for 1 GB, the other idle).
        let (input, hashed_before, hashed_on_read) = if input.path().is_some()
            && !known_sizes.contains(size)
        {
            let (input, slot) = input.fingerprinted();
            (input, None, Some(slot))
        } else {
            let (hash, bytes) = input.fingerprint()?;
            if (!args.force && txn.manifest().sources.contains_key(&hash)) || seen.contains(&hash) {
                totals.skipped += 1;
                done += size;
                bar.set_position(done);
                continue;
            }
            (input.clone(), Some((hash, bytes)), None)
        };
        let input = &input;
        let start = done;
        // Rows gathered past --spill-rows are turned into frames and staged
        // by a second thread while this one goes on parsing.
        let result = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(1);
            // Staged batches come back emptied, their vectors' capacity
            // kept: the parser fills them again instead of growing new
            // ones (copying rows at each doubling, into fresh memory).
            let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Batch>(2);
            let txn = &mut txn;
            let stager = scope.spawn(move || -> Result<(), StoreError> {
                for mut b in rx {
                    stage_rows(txn, &b, now)?;
                    clear_rows(&mut b);
                    let _ = back_tx.try_send(b);
                }
                Ok(())
            });
            let mut spill = |b: &mut Batch| -> Result<(), ingest::IngestError> {
                keep_first_rejects(&mut first_rejects, b);
                let spare = back_rx.try_recv().unwrap_or_default();
                // A closed channel means the stager failed: its error is
                // reported below.
                tx.send(take_rows(b, spare))
                    .map_err(|_| ingest::IngestError::Spill("the staging thread stopped".into()))
            };
            let result = ingest::read_input(
                input,
                &opts,
                &mut batch,
                &mut frames,
                &mut |pos| bar.set_position(start + pos),
                &mut spill,
            );
            drop(tx);
            match stager.join() {
                Ok(Ok(())) => result,
                Ok(Err(e)) => Err(ingest::IngestError::Spill(Box::new(e))),
                Err(_) => Err(ingest::IngestError::Spill(
                    "the staging thread panicked".into(),
                )),
            }
        });
        done += size;
        bar.set_position(done);
        match result {
            Ok(report) => {
                // A file read to its end left its fingerprint; one that
                // was not is hashed now.
                let on_read = hashed_on_read.and_then(|slot| slot.lock().ok()?.take());
                let (hash, bytes) = match hashed_before.or(on_read) {
                    Some(fingerprint) => fingerprint,
                    None => input.fingerprint()?,
                };
                seen.insert(hash.clone());
                known_sizes.insert(bytes);
                for n in &report.notes {
                    bar.suspend(|| note(global, n));
                }
                totals.files += 1;
                if report.format.starts_with("ocpp") {
                    totals.frames += report.rows_read;
                    totals.frames_rejected += report.rejected;
                } else {
                    totals.rows += report.rows_read;
                    totals.sessions += report.sessions;
                    totals.rejected += report.rejected;
                }
                records.push((
                    hash,
                    SourceRecord {
                        path: input.name.to_string(),
                        bytes,
                        format: report.format,
                        rows_read: report.rows_read,
                        rejected: report.rejected,
                        ingested_at: timeutil::format_utc(Utc::now()),
                    },
                ));
            }
            Err(e @ ingest::IngestError::Spill(_)) => {
                bar.finish_and_clear();
                return Err(anyhow::Error::new(e).context(
                    "cannot store the rows read (nothing was committed, the store is unchanged; fix the cause, e.g. free disk space, and rerun)",
                ));
            }
            Err(e) => {
                // One unreadable file does not stop the others; it is not
                // recorded, so the next run tries it again.
                bar.suspend(|| eprintln!("evmon: {e}"));
                failed += 1;
            }
        }
    }
    bar.finish_and_clear();
    let ocpp = if frames.is_empty() {
        None
    } else {
        // Spilled frames come back a bucket of charge points at a time;
        // each bucket's rows are staged before the next is read.
        let mut stage = |b: &mut Batch| -> Result<(), ingest::IngestError> {
            keep_first_rejects(&mut first_rejects, b);
            stage_rows(&mut txn, b, now).map_err(|e| ingest::IngestError::Spill(Box::new(e)))?;
            // Emptied in place: the next bucket's rows reuse the vectors.
            clear_rows(b);
            Ok(())
        };
        Some(
            frames
                .reconstruct(opts.ocpp.proto, &mut batch, &mut stage)
                .context("cannot rebuild sessions from the OCPP frames (nothing was committed, the store is unchanged; fix the cause, e.g. free disk space, and rerun)")?,
        )
    };
    if let Some(o) = &ocpp {
        totals.frames_rejected += o.unpaired;
        if o.unpaired > 0 {
            ingest::fill_missing_raw(&inputs, &mut batch.rejects)?;
        }
    }
    let rejected = totals.rejected + totals.frames_rejected;

    if args.strict && rejected > 0 {
        keep_first_rejects(&mut first_rejects, &batch);
        show_first_rejects(&first_rejects, rejected);
        anyhow::bail!("{rejected} rows rejected and --strict is set: nothing was stored");
    }

    let mut added = HashMap::new();
    for table in Table::ALL {
        let df = batch.frame(table, now);
        let stats = txn
            .merge(table, df)
            .with_context(|| {
                format!(
                    "cannot store the {} table (nothing was committed, the store is unchanged; fix the cause, e.g. free disk space, and rerun)",
                    table.name()
                )
            })?;
        added.insert(table, stats);
    }
    for (hash, record) in records {
        txn.record_source(hash, record);
    }
    txn.commit()
        .context("cannot commit the ingest (the store is unchanged; fix the cause and rerun)")?;

    if !global.quiet {
        note(
            global,
            &summary(&totals, ocpp.as_ref(), &added, station_meta.len()),
        );
    }
    if failed > 0 {
        anyhow::bail!(
            "{} could not be read (see above); the others were stored",
            ingest::count(failed as u64, "file")
        );
    }
    Ok(ExitCode::from(exit::OK))
}

#[derive(Debug, Default)]
struct Totals {
    files: u64,
    skipped: u64,
    /// CSV/JSON session rows.
    rows: u64,
    sessions: u64,
    rejected: u64,
    /// OCPP frames.
    frames: u64,
    frames_rejected: u64,
}

/// The rows of a batch set aside so far, leaving in their place the
/// empty row vectors of `spare` (station metadata stays: it is merged
/// once, at the end).
fn take_rows(b: &mut Batch, spare: Batch) -> Batch {
    Batch {
        sessions: std::mem::replace(&mut b.sessions, spare.sessions),
        meter_values: std::mem::replace(&mut b.meter_values, spare.meter_values),
        events: std::mem::replace(&mut b.events, spare.events),
        rejects: std::mem::replace(&mut b.rejects, spare.rejects),
        stations: Vec::new(),
    }
}

/// Empty a batch's row vectors, keeping their capacity (and the station
/// metadata, merged once at the end).
fn clear_rows(b: &mut Batch) {
    b.sessions.clear();
    b.meter_values.clear();
    b.events.clear();
    b.rejects.clear();
}

/// Stage a batch's rows in the transaction, table by table.
fn stage_rows(txn: &mut WriteTxn, b: &Batch, now: DateTime<Utc>) -> Result<(), StoreError> {
    for table in [
        Table::Sessions,
        Table::MeterValues,
        Table::Events,
        Table::Rejects,
    ] {
        txn.stage(table, b.frame(table, now))?;
    }
    Ok(())
}

/// Keep the first rejects (up to 10) for `--strict` to show, before the
/// rows are handed on.
fn keep_first_rejects(first: &mut Vec<ingest::RejectRow>, b: &Batch) {
    let keep = 10usize.saturating_sub(first.len());
    first.extend(b.rejects.iter().take(keep).cloned());
}

/// The one-line summary: what was read, what came of it, what was new.
fn summary(
    t: &Totals,
    ocpp: Option<&OcppReport>,
    added: &HashMap<Table, MergeStats>,
    metadata: usize,
) -> String {
    let mut out = format!("read {}", ingest::count(t.files, "file"));
    if t.skipped > 0 {
        out += &format!(
            " ({} skipped: already ingested; --force reads them again)",
            t.skipped
        );
    }
    let mut parts = Vec::new();
    if t.rows > 0 || ocpp.is_none() {
        parts.push(format!(
            "{} rows, {} sessions, {} rejected",
            t.rows, t.sessions, t.rejected
        ));
    }
    if let Some(o) = ocpp {
        parts.push(format!(
            "{} OCPP frames ({} duplicates, {} rejected): {} sessions ({} open), {} meter values, {} events",
            t.frames,
            o.duplicates,
            t.frames_rejected,
            o.sessions,
            o.open_sessions,
            o.meter_values,
            o.events
        ));
    }
    out += ": ";
    out += &parts.join("; ");
    let s = &added[&Table::Sessions];
    out += &format!(
        "; stored {} new sessions ({} already stored)",
        s.added(),
        s.offered - s.added()
    );
    if t.rejected + t.frames_rejected > 0 {
        out += " (rejects: `evmon rejects`)";
    }
    let st = &added[&Table::Stations];
    if metadata > 0 {
        out += &format!("; {metadata} stations in metadata");
    } else if st.added() > 0 {
        out += &format!("; {} stations seen", st.added());
    }
    out
}

fn note(global: &GlobalArgs, message: &str) {
    super::note(global, message)
}

fn progress_mode(p: ProgressArg) -> progress::Mode {
    match p {
        ProgressArg::Auto => progress::Mode::Auto,
        ProgressArg::On => progress::Mode::On,
        ProgressArg::Off => progress::Mode::Off,
    }
}

/// Station zones known to the store, overridden by the metadata being
/// imported now.
fn station_zones(
    store: &Store,
    new: &[ingest::batch::StationRow],
) -> anyhow::Result<HashMap<String, Tz>> {
    let mut zones = HashMap::new();
    let snapshot = store.snapshot()?;
    let df = snapshot
        .scan(Table::Stations, &Default::default())?
        .filter(col(col::TIMEZONE).is_not_null())
        .select([col(col::STATION_ID), col(col::TIMEZONE), col(col::ORIGIN)])
        // Inferred zones first, so metadata overrides them below.
        .sort([col::ORIGIN], SortMultipleOptions::default())
        .collect()
        .map_err(anyhow::Error::from)
        .map_err(|e| e.context("cannot read station metadata"))?;
    let ids = df.column(col::STATION_ID)?.str()?.clone();
    let tzs = df.column(col::TIMEZONE)?.str()?.clone();
    for (id, tz) in ids.iter().zip(tzs.iter()) {
        if let (Some(id), Some(Ok(tz))) = (id, tz.map(timeutil::parse_zone)) {
            zones.insert(id.to_string(), tz);
        }
    }
    for s in new {
        if let Some(tz) = s
            .timezone
            .as_deref()
            .and_then(|t| timeutil::parse_zone(t).ok())
        {
            zones.insert(s.station_id.clone(), tz);
        }
    }
    Ok(zones)
}

fn show_first_rejects(first: &[ingest::RejectRow], total: u64) {
    for r in first.iter().take(10) {
        let field = r
            .field
            .as_deref()
            .map(|f| format!(" `{f}`"))
            .unwrap_or_default();
        eprintln!("evmon: {}:{}:{field} {}", r.source_file, r.line, r.reason);
    }
    if total > first.len() as u64 {
        eprintln!("evmon: ... and {} more", total - first.len() as u64);
    }
}
