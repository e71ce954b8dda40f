//! `evmon watch`: follow OCPP logs, store new frames as they arrive (the
//! ingest path: same pairing, dedupe and rejects), evaluate the live rules on
//! the store, and print each finding once, debounced.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};

use super::anomalies::{findings_frame, load};
use super::note;
use crate::anomaly::{self, Finding, Rules, Severity};
use crate::cli::{GlobalArgs, ProtoArg, WatchArgs, LIVE_KINDS};
use crate::exit;
use crate::ingest::ocpp::{Frames, OcppOptions, Proto};
use crate::ingest::{self, Batch, Input, ReadOptions};
use crate::output::{write_frame, Format, TableStyle};
use crate::schema::Table;
use crate::store::Store;
use crate::timeutil;
use crate::watch::{self, Chunk, Condition, State};

/// Most bytes read from one file per look (a backlog is read in pieces).
const MAX_CHUNK: usize = 64 << 20;

/// Kinds that describe a state which can end (and so must last before
/// alerting); the others are events that happened and alert at once.
const STATE_KINDS: &[&str] = &["faulted", "open_session", "station_silent", "stuck_status"];

pub fn run(args: &WatchArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open_or_create(&global.data)?;
    let state_path = global.data.join("watch").join("state.json");
    let mut state = State::load(&state_path)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .context("cannot install the SIGINT/SIGTERM handler")?;
    }
    let rules = crate::config::load(global.config.as_deref())?.anomalies;
    let kinds: Vec<String> = if args.kinds.is_empty() {
        LIVE_KINDS.iter().map(|k| k.to_string()).collect()
    } else {
        args.kinds.clone()
    };
    let opts = ReadOptions {
        format: ingest::Format::Auto,
        sessions: Default::default(),
        ocpp: OcppOptions {
            cp: args.cp.clone(),
            proto: args.proto.map(|p| match p {
                ProtoArg::Ocpp16 => Proto::V16,
                ProtoArg::Ocpp201 => Proto::V201,
            }),
            tz: None,
            line_offset: 0,
        },
    };
    let mut held: HashMap<String, (u64, Instant)> = HashMap::new();
    note(
        global,
        &format!(
            "watching {} (rules: {}; debounce {} s); stop with Ctrl-C or SIGTERM",
            args.paths.join(", "),
            kinds.join(", "),
            args.debounce
        ),
    );
    loop {
        let started = Instant::now();
        // A backlog comes in pieces of MAX_CHUNK per file; --once reads it
        // all before judging.
        loop {
            let chunks = gather(args, &mut state, &mut held)?;
            if chunks.is_empty() {
                break;
            }
            store_chunks(&store, &chunks, &opts, args.lock_timeout, global)?;
            // Offsets move only once the frames are committed: a crash
            // before this point reads them again, and the store's dedupe
            // keeps them once.
            for c in &chunks {
                observe(&mut state, c, args.cp.as_deref());
                state.files.insert(c.path.clone(), c.next.clone());
            }
            state.save(&state_path)?;
            if !args.once || stop.load(Ordering::Relaxed) {
                break;
            }
        }
        let before = state.alerted.clone();
        let alerts = evaluate(&store, args, &rules, &kinds, &mut state)?;
        for f in &alerts {
            report(f, args.exec.as_deref())?;
        }
        if state.alerted != before {
            state.save(&state_path)?;
        }
        if args.once || stop.load(Ordering::Relaxed) {
            break;
        }
        let pause = StdDuration::from_secs_f64(args.interval.max(0.05));
        while started.elapsed() < pause && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(StdDuration::from_millis(50).min(pause));
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    state.save(&state_path)?;
    note(global, "watch stopped; offsets and alerts saved");
    Ok(ExitCode::from(exit::OK))
}

/// New complete lines of every followed file, held back before a CALL
/// whose answer is not written yet (for at most `--pair-wait`).
fn gather(
    args: &WatchArgs,
    state: &mut State,
    held: &mut HashMap<String, (u64, Instant)>,
) -> anyhow::Result<Vec<Chunk>> {
    let mut out = Vec::new();
    for arg in &args.paths {
        // A path that does not exist yet (a log not created so far) is
        // looked for again on the next pass.
        let Ok(inputs) = ingest::discover(std::slice::from_ref(arg)) else {
            continue;
        };
        for input in inputs {
            let Some(path) = input.path().map(Path::to_path_buf) else {
                continue;
            };
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let name = path.to_string_lossy().into_owned();
            state.adopt_renamed(&name, meta.ino(), &|p| {
                std::fs::metadata(p).ok().map(|m| m.ino())
            });
            let chunk = watch::read_new(&path, meta.ino(), state.files.get(&name), MAX_CHUNK)
                .with_context(|| format!("cannot read {name}"))?;
            let Some(mut chunk) = chunk else { continue };
            let cut = watch::pairable_prefix(&chunk.bytes);
            if cut < chunk.bytes.len() && !args.once {
                let at = chunk.next.offset - (chunk.bytes.len() - cut) as u64;
                let since = match held.get(&name) {
                    Some((pos, since)) if *pos == at => *since,
                    _ => Instant::now(),
                };
                held.insert(name.clone(), (at, since));
                if since.elapsed() < StdDuration::from_secs(args.pair_wait) {
                    chunk.truncate(cut);
                }
            } else {
                held.remove(&name);
            }
            if !chunk.bytes.is_empty() {
                out.push(chunk);
            }
        }
    }
    Ok(out)
}

/// Store the chunks in one commit, through the ingest path.
fn store_chunks(
    store: &Store,
    chunks: &[Chunk],
    opts: &ReadOptions,
    lock_timeout: u64,
    global: &GlobalArgs,
) -> anyhow::Result<()> {
    let mut txn = store.begin_write(StdDuration::from_secs(lock_timeout), &mut |holder| {
        note(
            global,
            &format!("waiting for the store lock held by {holder}"),
        )
    })?;
    let now = Utc::now();
    let mut batch = Batch::default();
    let mut frames = Frames::default();
    let mut inputs = Vec::new();
    for c in chunks {
        let input = Input::memory(&c.path, c.bytes.clone());
        let mut o = opts.clone();
        o.ocpp.line_offset = c.first_line;
        if let Err(e) = ingest::read_input(
            &input,
            &o,
            &mut batch,
            &mut frames,
            &mut |_| {},
            &mut |_| Ok(()),
        ) {
            // Not OCPP, unreadable: say so; the offset still moves on, so
            // one bad piece does not stop the watch.
            eprintln!("evmon: {}", crate::error_message(&anyhow::Error::new(e)));
        }
        inputs.push(input);
    }
    if !frames.is_empty() {
        // Never set aside on disk here: a pass holds only the new frames.
        let report = frames.reconstruct(opts.ocpp.proto, &mut batch, &mut |_| Ok(()))?;
        if report.unpaired > 0 {
            ingest::fill_missing_raw(&inputs, &mut batch.rejects)?;
        }
    }
    for table in Table::ALL {
        txn.merge(table, batch.frame(table, now)).with_context(|| {
            format!(
                "cannot store the {} table (nothing was committed; the frames are read again on the next pass)",
                table.name()
            )
        })?;
    }
    txn.commit().context("cannot commit new frames")?;
    Ok(())
}

/// Remember when each charge point was last heard and its heartbeat.
fn observe(state: &mut State, chunk: &Chunk, cp: Option<&str>) {
    let file_cp = Path::new(&chunk.path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    for line in chunk.bytes.split(|b| *b == b'\n') {
        let Some(g) = watch::glance(line) else {
            continue;
        };
        let Some(id) =
            g.cp.or_else(|| cp.map(str::to_string))
                .or_else(|| file_cp.clone())
        else {
            continue;
        };
        let ts = g.ts.unwrap_or_else(Utc::now);
        let later = state
            .last_seen
            .get(&id)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .is_none_or(|t| ts > t);
        if later {
            state.last_seen.insert(id.clone(), timeutil::format_utc(ts));
        }
        if let Some(i) = g.interval.filter(|i| *i > 0) {
            state.heartbeat_s.insert(id, i);
        }
    }
}

/// Run the live rules on the store and return the findings to alert now.
fn evaluate(
    store: &Store,
    args: &WatchArgs,
    rules: &Rules,
    kinds: &[String],
    state: &mut State,
) -> anyhow::Result<Vec<Finding>> {
    let now = timeutil::now();
    let since = now - Duration::hours(args.lookback_hours as i64);
    let history = since - Duration::days(rules.baseline_days);
    let snapshot = store.snapshot()?;
    let input = load(
        &snapshot,
        &[],
        history,
        since,
        now + Duration::seconds(1),
        now,
        None,
        // auth_rejected is a live kind.
        true,
        super::anomalies::Before::All,
    )?;
    let mut findings = anomaly::detect(&input, rules, kinds);
    // A fault is live while it is its connector's latest status.
    let mut latest: BTreeMap<(&str, Option<i32>), DateTime<Utc>> = BTreeMap::new();
    for e in input.events.iter().filter(|e| e.kind == "status") {
        let t = latest
            .entry((e.station.as_str(), e.connector))
            .or_insert(e.ts);
        *t = (*t).max(e.ts);
    }
    findings.retain(|f| {
        f.kind != "faulted"
            || latest
                .get(&(f.station_id.as_str(), f.connector_id))
                .is_none_or(|t| *t <= f.ts)
    });
    // Gaps that already ended are history; silence is judged from now.
    findings.retain(|f| f.kind != "station_silent");
    if kinds.iter().any(|k| k == "station_silent") {
        for (cp, last) in &state.last_seen {
            let Ok(last) = DateTime::parse_from_rfc3339(last).map(|t| t.with_timezone(&Utc)) else {
                continue;
            };
            let limit = match args.silent_after {
                Some(s) => s as i64,
                None => (2 * state.heartbeat_s.get(cp).copied().unwrap_or(300)).max(600),
            };
            let quiet = (now - last).num_seconds();
            if quiet > limit {
                findings.push(Finding {
                    ts: last + Duration::seconds(limit),
                    station_id: cp.clone(),
                    connector_id: None,
                    session_uid: None,
                    kind: "station_silent",
                    severity: Severity::Warning,
                    score: quiet as f64 / limit as f64,
                    detail: format!(
                        "no frame from the charge point since {} ({} s; limit {} s)",
                        timeutil::format_utc(last),
                        quiet,
                        limit
                    ),
                });
            }
        }
    }
    let key = |f: &Finding| {
        format!(
            "{}|{}|{}|{}|{}",
            f.kind,
            f.station_id,
            f.connector_id.map(|c| c.to_string()).unwrap_or_default(),
            f.session_uid.as_deref().unwrap_or(""),
            // A silence is the same condition until a frame arrives.
            timeutil::format_utc(f.ts)
        )
    };
    let conditions: Vec<Condition> = findings
        .iter()
        .map(|f| Condition {
            key: key(f),
            since: f.ts,
            immediate: !STATE_KINDS.contains(&f.kind),
        })
        .collect();
    let alert = watch::debounce(
        &mut state.alerted,
        now,
        Duration::seconds(args.debounce as i64),
        &conditions,
    );
    Ok(findings
        .into_iter()
        .filter(|f| alert.contains(&key(f)))
        .collect())
}

/// Print one finding as a JSON line and hand it to `--exec`.
fn report(f: &Finding, exec: Option<&str>) -> anyhow::Result<()> {
    let df = findings_frame(std::slice::from_ref(f))?;
    let mut line = Vec::new();
    write_frame(&mut line, &df, Format::Json, &TableStyle::default())?;
    let mut out = std::io::stdout().lock();
    out.write_all(&line)?;
    out.flush()?;
    if let Some(cmd) = exec {
        let run = || -> std::io::Result<std::process::ExitStatus> {
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stdin(Stdio::piped())
                .spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(&line)?;
            }
            child.wait()
        };
        match run() {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("evmon: --exec '{cmd}' exited with {status}"),
            Err(e) => eprintln!("evmon: cannot run --exec '{cmd}': {e}"),
        }
    }
    Ok(())
}
