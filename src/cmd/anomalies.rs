//! `evmon anomalies`: load the window (plus the history baselines need),
//! run the rules, print one row per finding, and exit 3 when a finding
//! reaches `--fail-on`.

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;

use anyhow::Context;
use polars::prelude::*;

use super::{is_one_of, lit_time, note, write_output};
use crate::anomaly::{self, Finding, Input, Severity};
use crate::cli::{AnomaliesArgs, GlobalArgs, SeverityArg};
use crate::exit;
use crate::ingest::ocpp::messages::{ENERGY_REGISTER, POWER_IMPORT};
use crate::output::TableStyle;
use crate::schema::{col, Table};
use crate::store::Store;
use crate::timeutil::{self, TimeRange};

/// Days looked at when `--since` is not given.
const DEFAULT_DAYS: i64 = 7;

fn severity(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Info => Severity::Info,
        SeverityArg::Warning => Severity::Warning,
        SeverityArg::Critical => Severity::Critical,
    }
}

pub fn run(args: &AnomaliesArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config::load(global.config.as_deref())?;
    let rules = config.anomalies.clone();
    let store = Store::open(&global.data)?;
    let snapshot = store.snapshot()?;
    let now = timeutil::now();
    let until = args.window.until.unwrap_or(now);
    let since = args
        .window
        .since
        .unwrap_or(until - chrono::Duration::days(DEFAULT_DAYS));
    if since >= until {
        return Err(crate::UsageError(format!(
            "--since {} is not before --until {}",
            timeutil::format_utc(since),
            timeutil::format_utc(until)
        ))
        .into());
    }
    let history = since - chrono::Duration::days(rules.baseline_days);
    let allow_list = match &args.allow_list {
        Some(path) => Some(read_allow_list(path)?),
        None => None,
    };
    let input = load(
        &snapshot,
        &args.window.station,
        history,
        since,
        until,
        now,
        allow_list,
        kinds_need_tags(&args.kinds),
        Before::All,
    )?;
    let min = severity(args.min_severity);
    let findings: Vec<Finding> = anomaly::detect(&input, &rules, &args.kinds)
        .into_iter()
        .filter(|f| f.severity >= min)
        .collect();

    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    note(
        global,
        &format!(
            "{} to {}: {} findings ({} critical, {} warning, {} info) in {} sessions{}",
            timeutil::format_utc(since),
            timeutil::format_utc(until),
            findings.len(),
            count(Severity::Critical),
            count(Severity::Warning),
            count(Severity::Info),
            input.sessions.iter().filter(|s| s.start >= since).count(),
            config
                .source
                .as_ref()
                .map(|p| format!("; thresholds from {}", p.display()))
                .unwrap_or_default()
        ),
    );
    let df = findings_frame(&findings)?;
    write_output(
        &df,
        &args.output,
        |d| Ok(d.clone()),
        TableStyle {
            decimals: vec![("score", 2)],
            ..TableStyle::default()
        },
    )?;
    if let Some(level) = args.fail_on.map(severity) {
        if findings.iter().any(|f| f.severity >= level) {
            return Ok(ExitCode::from(exit::FINDINGS));
        }
    }
    Ok(ExitCode::from(exit::OK))
}

/// A text column, or nulls in its place when the caller does not need it
/// (not read from the files, no string per session).
fn text_or_null(name: &str, wanted: bool) -> Expr {
    if wanted {
        col(name)
    } else {
        lit(NULL).cast(DataType::String).alias(name)
    }
}

/// Whether the kinds asked for read id tags and authorization answers.
fn kinds_need_tags(kinds: &[String]) -> bool {
    kinds.is_empty()
        || kinds
            .iter()
            .any(|k| k == "auth_rejected" || k == "unknown_tag")
}

/// Which sessions that start before the window are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Before {
    /// Every one from the history start (daily baselines need them).
    All,
    /// Only those that end after the window starts: every session the
    /// per-connector pairs of the window's sessions (overlaps, duplicate
    /// transactions) can involve. An earlier one ends before any session
    /// of the window starts, so it never pairs with one.
    Overlapping,
}

/// Read what the rules need from the store: sessions and events from
/// `history` (baselines) to `until`, register and power samples of the
/// window, station ratings and zones.
#[allow(clippy::too_many_arguments)]
pub(crate) fn load(
    snapshot: &crate::store::Snapshot,
    stations_only: &[String],
    history: chrono::DateTime<chrono::Utc>,
    since: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    allow_list: Option<HashSet<String>>,
    tags: bool,
    before: Before,
) -> anyhow::Result<Input> {
    let range = TimeRange {
        since: Some(history),
        until: Some(until),
    };
    let stations_filter = |lf: LazyFrame| {
        if stations_only.is_empty() {
            lf
        } else {
            lf.filter(is_one_of(col::STATION_ID, stations_only))
        }
    };
    // Only the columns the rules read: Parquet projection skips the rest
    // (source file names, stop reasons, ...), and each frame is turned into
    // rows and dropped before the next is read, to bound peak memory.
    // A month partition at a time: the frame of one month and the sessions
    // of all are in memory together, never a frame of the whole window.
    let files = snapshot.files(Table::Sessions, &range);
    let mut sessions = Vec::with_capacity(snapshot.rows(Table::Sessions, &range) as usize);
    for file in files {
        let mut lf = stations_filter(crate::store::scan_files(Table::Sessions, &[file])?)
            .filter(col(col::START).gt_eq(lit_time(history)))
            .filter(col(col::START).lt(lit_time(until)));
        if before == Before::Overlapping {
            // The end the per-connector rules use: stop, else the end of
            // charging, else the start.
            let end = col(col::STOP)
                .fill_null(col(col::CHARGING_END))
                .fill_null(col(col::START));
            // The same rows, loosened to comparisons of stored columns
            // first: those the reader checks against each file's min/max,
            // so a month that ended before `since` is skipped unread.
            let started = col(col::START).gt_eq(lit_time(since));
            let after = |c: &str| col(c).gt(lit_time(since));
            lf = lf
                .filter(
                    started
                        .clone()
                        .or(after(col::STOP))
                        .or(after(col::CHARGING_END)),
                )
                .filter(started.or(end.gt(lit_time(since))));
        }
        let df = lf
            .select([
                col(col::SESSION_UID),
                col(col::STATION_ID),
                col(col::CONNECTOR_ID),
                text_or_null(col::ID_TAG, tags),
                text_or_null(col::AUTH_STATUS, tags),
                col(col::START),
                col(col::STOP),
                col(col::CHARGING_END),
                col(col::METER_START_WH),
                col(col::METER_STOP_WH),
                col(col::ENERGY_WH),
                col(col::MAX_POWER_W),
            ])
            .collect()?;
        anomaly::append_sessions(&df, &mut sessions)?;
    }
    let events = stations_filter(snapshot.scan(Table::Events, &range)?)
        .filter(col(col::TS).gt_eq(lit_time(history)))
        .filter(col(col::TS).lt(lit_time(until)))
        .collect()?;
    let events = anomaly::events_from(&events)?;
    let sample_range = TimeRange {
        since: Some(since - chrono::Duration::days(2)),
        until: Some(until),
    };
    let samples = stations_filter(snapshot.scan(Table::MeterValues, &sample_range)?)
        .filter(col(col::SESSION_UID).is_not_null())
        .filter(col(col::PHASE).is_null())
        .filter(
            col(col::MEASURAND)
                .eq(lit(ENERGY_REGISTER))
                .or(col(col::MEASURAND).eq(lit(POWER_IMPORT))),
        )
        .select([
            col(col::SESSION_UID),
            col(col::TS),
            col(col::MEASURAND),
            col(col::VALUE),
        ])
        .collect()?;
    let samples = anomaly::samples_from(&samples)?;
    let stations = snapshot
        .scan(Table::Stations, &TimeRange::default())?
        .collect()?;
    let mut rated_kw = HashMap::new();
    let mut zones = HashMap::new();
    let ids = stations.column(col::STATION_ID)?.str()?.clone();
    let rated = stations.column(col::RATED_POWER_KW)?.f64()?.clone();
    let tzs = stations.column(col::TIMEZONE)?.str()?.clone();
    for i in 0..stations.height() {
        if let Some(id) = ids.get(i) {
            if let Some(r) = rated.get(i) {
                rated_kw.insert(id.to_string(), r);
            }
            if let Some(z) = tzs.get(i).and_then(|z| z.parse().ok()) {
                zones.insert(id.to_string(), z);
            }
        }
    }
    Ok(Input {
        sessions,
        samples,
        events,
        rated_kw,
        zones,
        since,
        until,
        now,
        allow_list,
    })
}

/// Findings in the documented output columns.
pub fn findings_frame(findings: &[Finding]) -> PolarsResult<DataFrame> {
    let ts = Int64Chunked::from_iter_values(
        "ts".into(),
        findings.iter().map(|f| f.ts.timestamp_micros()),
    )
    .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
    .into_column();
    DataFrame::new(
        findings.len(),
        vec![
            ts,
            Column::new(
                "station_id".into(),
                findings
                    .iter()
                    .map(|f| f.station_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "connector_id".into(),
                findings.iter().map(|f| f.connector_id).collect::<Vec<_>>(),
            ),
            Column::new(
                "session_uid".into(),
                findings
                    .iter()
                    .map(|f| f.session_uid.as_deref())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "kind".into(),
                findings.iter().map(|f| f.kind).collect::<Vec<_>>(),
            ),
            Column::new(
                "severity".into(),
                findings
                    .iter()
                    .map(|f| f.severity.name())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "score".into(),
                findings.iter().map(|f| f.score).collect::<Vec<_>>(),
            ),
            Column::new(
                "detail".into(),
                findings
                    .iter()
                    .map(|f| f.detail.as_str())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// An allow list: a CSV with an `id_tag` column, or one tag per line.
fn read_allow_list(path: &std::path::Path) -> anyhow::Result<HashSet<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text
        .lines()
        .map(|l| l.trim().trim_start_matches('\u{feff}'));
    let first = lines.next().unwrap_or("");
    let header: Vec<&str> = first.split([',', ';']).map(str::trim).collect();
    let mut tags = HashSet::new();
    match header.iter().position(|h| h.eq_ignore_ascii_case("id_tag")) {
        Some(i) => {
            for l in lines {
                if let Some(t) = l
                    .split([',', ';'])
                    .nth(i)
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                {
                    tags.insert(t.to_string());
                }
            }
        }
        None => {
            for l in std::iter::once(first).chain(lines) {
                if !l.is_empty() && !l.starts_with('#') {
                    tags.insert(l.to_string());
                }
            }
        }
    }
    Ok(tags)
}
