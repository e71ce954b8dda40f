//! Anomaly detection: rules and robust statistics over sessions, meter
//! values and events. Each finding is one row with a kind, a severity, a
//! score (how far past its threshold) and a sentence with the numbers.
//!
//! Every rule is documented in the README with its threshold; thresholds
//! live in [`Rules`] (the `[anomalies]` section of `evmon.toml`). Detection
//! is deterministic: the same store and window give the same findings in
//! the same order. The catalog and its sources: `reference/ocpp-and-datasets.md` §5.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use polars::prelude::*;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use statrs::statistics::{Data, OrderStatistics};

use crate::schema::{col as c, f64_values, i64_values};
use crate::timeutil::format_utc;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every kind evmon reports, with the one-line rule (README has the rest).
pub const KINDS: &[(&str, &str)] = &[
    (
        "power_spike",
        "power above the rated power (or the fleet's robust maximum without a rating)",
    ),
    (
        "energy_inconsistent",
        "energy above what the power limit allows in the session's time",
    ),
    (
        "meter_regression",
        "the energy register went down within a session",
    ),
    (
        "zero_energy",
        "a plugged-in session that delivered (almost) nothing",
    ),
    (
        "short_burst",
        "several ultra-short sessions in a row on one connector",
    ),
    (
        "open_session",
        "a session never stopped, open far longer than normal",
    ),
    ("long_session", "a stopped session far longer than normal"),
    (
        "duplicate_transaction",
        "two sessions with the same station, connector, overlapping times and energy",
    ),
    ("overlap", "two sessions overlapping on one connector"),
    (
        "clock_skew",
        "timestamps in the future, before the clock was set, or samples outside their session",
    ),
    (
        "auth_rejected",
        "energy flowed although the back-office rejected the id tag",
    ),
    ("unknown_tag", "an id tag not on the allow list"),
    (
        "faulted",
        "a connector reported Faulted (with its error code)",
    ),
    (
        "repeated_faults",
        "several faults on one connector within a day",
    ),
    (
        "stuck_status",
        "a connector stuck in one status (not Available) for a long time",
    ),
    (
        "station_silent",
        "a charge point sent nothing for longer than its heartbeat allows",
    ),
    (
        "idle_blocking",
        "the car stayed plugged in long after charging ended",
    ),
    (
        "outlier_energy",
        "session energy far from the station's (or fleet's) usual, robust z-score",
    ),
    (
        "outlier_duration",
        "session duration far from usual, robust z-score",
    ),
    (
        "outlier_power",
        "session mean power far from usual, robust z-score",
    ),
    (
        "daily_drop",
        "a day's station energy far below its own rolling baseline",
    ),
    (
        "daily_rise",
        "a day's station energy far above its own rolling baseline",
    ),
];

/// One finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub ts: DateTime<Utc>,
    pub station_id: String,
    pub connector_id: Option<i32>,
    pub session_uid: Option<String>,
    pub kind: &'static str,
    pub severity: Severity,
    pub score: f64,
    pub detail: String,
}

/// Thresholds of every rule. Defaults are documented in the README.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// power_spike: power above rated × (1 + this).
    pub spike_tolerance: f64,
    /// power_spike is critical at or above rated × this.
    pub spike_critical_ratio: f64,
    /// power_spike without a rating: above the fleet median + this × MAD.
    pub fleet_spike_mad: f64,
    /// meter_regression: a drop larger than this many Wh.
    pub regression_wh: f64,
    /// energy_inconsistent: energy above limit × hours × (1 + this).
    pub energy_tolerance: f64,
    /// zero_energy: less than this many Wh ...
    pub zero_energy_wh: f64,
    /// ... in a session plugged in at least this many minutes.
    pub zero_energy_min_minutes: f64,
    /// short_burst: sessions shorter than this many minutes ...
    pub short_session_minutes: f64,
    /// ... at least this many ...
    pub short_burst_count: usize,
    /// ... within this many minutes, on one connector.
    pub short_burst_window_minutes: f64,
    /// open_session / long_session: longer than this many hours and ...
    pub long_hours: f64,
    /// ... longer than this × the fleet's 99th percentile duration.
    pub long_factor: f64,
    /// clock_skew: timestamps more than this many minutes in the future.
    pub future_minutes: f64,
    /// clock_skew: timestamps before this year (clock never set).
    pub clock_min_year: i32,
    /// clock_skew: samples this many minutes outside their session.
    pub sample_slack_minutes: f64,
    /// repeated_faults: this many faults ...
    pub fault_repeat_count: usize,
    /// ... within this many hours on one connector.
    pub fault_repeat_hours: f64,
    /// stuck_status: one status (not Available) for this many hours.
    pub stuck_hours: f64,
    /// idle_blocking: plugged in this many hours after charging ended ...
    pub idle_hours: f64,
    /// ... and a warning from this many.
    pub idle_warning_hours: f64,
    /// outlier_*: robust |z| above this ...
    pub outlier_z: f64,
    /// ... a warning above this.
    pub outlier_warning_z: f64,
    /// outlier_*: sessions a station needs for its own baseline.
    pub outlier_min_sessions: usize,
    /// daily_*: days of history in the rolling baseline.
    pub baseline_days: i64,
    /// daily_*: days of history needed before judging.
    pub baseline_min_days: usize,
    /// daily_*: robust |z| above this ...
    pub daily_z: f64,
    /// daily_drop: ... and at least this share below the baseline median.
    pub daily_drop_ratio: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            spike_tolerance: 0.10,
            spike_critical_ratio: 1.5,
            fleet_spike_mad: 6.0,
            regression_wh: 1.0,
            energy_tolerance: 0.10,
            zero_energy_wh: 50.0,
            zero_energy_min_minutes: 2.0,
            short_session_minutes: 2.0,
            short_burst_count: 3,
            short_burst_window_minutes: 60.0,
            long_hours: 24.0,
            long_factor: 2.0,
            future_minutes: 5.0,
            clock_min_year: 2000,
            sample_slack_minutes: 5.0,
            fault_repeat_count: 3,
            fault_repeat_hours: 24.0,
            stuck_hours: 24.0,
            idle_hours: 4.0,
            idle_warning_hours: 12.0,
            outlier_z: 3.5,
            outlier_warning_z: 6.0,
            outlier_min_sessions: 10,
            baseline_days: 28,
            baseline_min_days: 7,
            daily_z: 3.5,
            daily_drop_ratio: 0.5,
        }
    }
}

/// Answers that mean "not authorized" (1.6 and 2.0.1 enums).
const REJECTED: &[&str] = &[
    "Invalid",
    "Blocked",
    "Expired",
    "Unknown",
    "NoCredit",
    "NotAllowedTypeEVSE",
    "NotAtThisLocation",
    "NotAtThisTime",
];

/// A session as the rules need it.
#[derive(Debug, Clone)]
pub struct Session {
    /// Inline up to 24 bytes (`csv:ST00519/TX4092`): no allocation per
    /// session on the millions of rows of a large window.
    pub uid: PlSmallStr,
    /// Shared between the sessions of a station (millions of rows, a few
    /// thousand stations).
    pub station: Arc<str>,
    pub connector: Option<i32>,
    /// Inline, as the uid (an OCPP id tag is at most 20 characters): no
    /// allocation per session.
    pub id_tag: Option<PlSmallStr>,
    /// A handful of distinct values (`Accepted`, `Invalid`, ...): shared.
    pub auth_status: Option<Arc<str>>,
    pub start: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
    pub charging_end: Option<DateTime<Utc>>,
    pub meter_start: Reading,
    pub meter_stop: Reading,
    pub energy_wh: Reading,
    pub max_power_w: Reading,
}

/// A reading, energy or power that may be missing, in 8 bytes where an
/// `Option<f64>` takes 16 (millions of sessions, four each): NaN stands
/// for none. A stored value is never NaN (ingest rejects it), and one
/// would be no reading anyway.
#[derive(Debug, Clone, Copy)]
pub struct Reading(f64);

impl Reading {
    pub fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }
}

impl From<Option<f64>> for Reading {
    fn from(v: Option<f64>) -> Reading {
        Reading(v.unwrap_or(f64::NAN))
    }
}

impl Session {
    fn hours(&self) -> Option<f64> {
        self.stop
            .map(|s| (s - self.start).num_milliseconds() as f64 / 3_600_000.0)
    }

    fn charging_hours(&self) -> Option<f64> {
        self.charging_end
            .map(|e| (e - self.start).num_milliseconds() as f64 / 3_600_000.0)
            .filter(|h| *h > 0.0)
            .or_else(|| self.hours().filter(|h| *h > 0.0))
    }

    fn mean_kw(&self) -> Option<f64> {
        Some(self.energy_wh.get()? / 1000.0 / self.charging_hours()?)
    }
}

/// An event as the rules need it.
#[derive(Debug, Clone)]
pub struct Event {
    pub station: String,
    pub connector: Option<i32>,
    pub ts: DateTime<Utc>,
    pub kind: String,
    pub status: Option<String>,
    pub error_code: Option<String>,
    pub id_tag: Option<String>,
    pub auth_status: Option<String>,
    pub info: Option<String>,
}

/// Samples of one session: (time, is the energy register (else power), value).
pub type SessionSamples = Vec<(DateTime<Utc>, bool, f64)>;

/// What detection reads.
pub struct Input {
    /// Sessions of the window plus `baseline_days` of history before it.
    pub sessions: Vec<Session>,
    /// Register and power samples of those sessions: uid → (ts, measurand, value).
    pub samples: HashMap<String, SessionSamples>,
    pub events: Vec<Event>,
    /// station → rated kW.
    pub rated_kw: HashMap<String, f64>,
    pub zones: HashMap<String, Tz>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The real "now", for timestamps in the future.
    pub now: DateTime<Utc>,
    pub allow_list: Option<HashSet<String>>,
}

fn hrs(h: f64) -> String {
    if h >= 48.0 {
        format!("{:.1} days", h / 24.0)
    } else if h >= 1.0 {
        format!("{h:.1} h")
    } else {
        format!("{:.0} min", h * 60.0)
    }
}

/// Robust location and scale: median and MAD scaled to a normal σ.
fn median_mad(values: &[f64]) -> Option<(f64, f64)> {
    median_mad_in_place(&mut values.to_vec())
}

/// [`median_mad`] reordering and overwriting `values` instead of copying
/// them (twice): the fleet's values are tens of millions.
fn median_mad_in_place(values: &mut [f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let median = Data::new(&mut *values).median();
    for v in values.iter_mut() {
        *v = (*v - median).abs();
    }
    let mad = Data::new(values).median() * 1.4826;
    Some((median, mad))
}

fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(Data::new(values.to_vec()).quantile(q))
}

/// Run every rule (or those in `kinds`).
pub fn detect(input: &Input, rules: &Rules, kinds: &[String]) -> Vec<Finding> {
    let wanted = |k: &str| kinds.is_empty() || kinds.iter().any(|x| x == k);
    let in_window = |t: DateTime<Utc>| t >= input.since && t < input.until;
    let mut out: Vec<Finding> = Vec::new();
    let window: Vec<&Session> = input
        .sessions
        .iter()
        .filter(|s| in_window(s.start))
        .collect();

    let push_session = |out: &mut Vec<Finding>,
                        s: &Session,
                        ts: DateTime<Utc>,
                        kind: &'static str,
                        severity: Severity,
                        score: f64,
                        detail: String| {
        out.push(Finding {
            ts,
            station_id: s.station.to_string(),
            connector_id: s.connector,
            session_uid: Some(s.uid.to_string()),
            kind,
            severity,
            score,
            detail,
        })
    };

    // The kinds the per-session rules below check, looked up once rather
    // than by name for each of millions of sessions.
    let wants = [
        "power_spike",
        "energy_inconsistent",
        "meter_regression",
        "zero_energy",
        "idle_blocking",
        "open_session",
        "long_session",
        "clock_skew",
        "auth_rejected",
        "unknown_tag",
    ]
    .map(&wanted);
    let per_session = wants.contains(&true);
    let [want_spike, want_inconsistent, want_regression, want_zero, want_idle, want_open, want_long, want_skew, want_auth, want_unknown] =
        wants;

    // Robust maxima for stations without a rating: the station's own peaks
    // when it has enough sessions (a mixed fleet's 150 kW chargers are not
    // spikes next to its 11 kW ones), else the fleet's. Only worked out
    // when power spikes are asked for: it is a median over every session.
    let limit =
        |peaks: &[f64]| median_mad(peaks).map(|(m, d)| m + rules.fleet_spike_mad * d.max(m * 0.05));
    let mut station_peaks: HashMap<&str, Vec<f64>> = HashMap::new();
    if want_spike {
        for s in &input.sessions {
            if let Some(p) = s
                .max_power_w
                .get()
                .or_else(|| s.mean_kw().map(|k| k * 1000.0))
            {
                station_peaks.entry(&*s.station).or_default().push(p);
            }
        }
    }
    let fleet_peaks: Vec<f64> = station_peaks.values().flatten().copied().collect();
    let fleet_peak_limit = limit(&fleet_peaks);
    let station_peak_limit: HashMap<&str, f64> = station_peaks
        .iter()
        .filter(|(_, v)| v.len() >= rules.outlier_min_sessions)
        .filter_map(|(k, v)| Some((*k, limit(v)?)))
        .collect();
    let long_limit = if want_long || want_open {
        let durations: Vec<f64> = input.sessions.iter().filter_map(Session::hours).collect();
        quantile(&durations, 0.99).map_or(rules.long_hours, |p| {
            (p * rules.long_factor).max(rules.long_hours)
        })
    } else {
        rules.long_hours
    };

    // Each session's own rules, on every core; findings stay in session
    // order.
    let session_findings = |s: &&Session| -> Vec<Finding> {
        let mut out = Vec::new();
        let rated_w = input.rated_kw.get(&*s.station).map(|k| k * 1000.0);
        // power_spike
        if want_spike {
            let peak = s.max_power_w.get().or_else(|| {
                input.samples.get(&*s.uid).and_then(|v| {
                    v.iter()
                        .filter(|x| !x.1)
                        .map(|x| x.2)
                        .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))))
                })
            });
            if let Some(peak) = peak {
                match rated_w {
                    Some(r) if peak > r * (1.0 + rules.spike_tolerance) => {
                        let ratio = peak / r;
                        let unit = if ratio > 500.0 {
                            " (W sent as kW?)"
                        } else {
                            ""
                        };
                        push_session(
                            &mut out,
                            s,
                            s.start,
                            "power_spike",
                            if ratio >= rules.spike_critical_ratio {
                                Severity::Critical
                            } else {
                                Severity::Warning
                            },
                            ratio,
                            format!(
                                "peak {:.1} kW is {:.0}% of the rated {:.1} kW{unit}",
                                peak / 1000.0,
                                100.0 * ratio,
                                r / 1000.0
                            ),
                        );
                    }
                    None => {
                        let (scope, limit) = match station_peak_limit.get(&*s.station) {
                            Some(l) => ("the station's", Some(*l)),
                            None => ("the fleet's", fleet_peak_limit),
                        };
                        if let Some(limit) = limit.filter(|l| peak > *l) {
                            push_session(&mut out, s, s.start, "power_spike", Severity::Warning, peak / limit,
                                format!("peak {:.1} kW is above {scope} robust maximum {:.1} kW (no rating in station metadata)", peak / 1000.0, limit / 1000.0));
                        }
                    }
                    _ => {}
                }
            }
        }
        // energy_inconsistent: more energy than the power limit allows.
        if want_inconsistent {
            if let (Some(e), Some(h)) =
                (s.energy_wh.get(), s.hours().or_else(|| s.charging_hours()))
            {
                let limit_w = rated_w.or(s.max_power_w.get().filter(|p| *p > 0.0));
                if let Some(limit) = limit_w {
                    let possible = limit * h.max(1.0 / 3600.0) * (1.0 + rules.energy_tolerance);
                    if e > possible && e > rules.zero_energy_wh {
                        let ratio = e / possible;
                        let hint = if (e / 1000.0) <= possible {
                            " (fits if the value is Wh reported as kWh)"
                        } else {
                            ""
                        };
                        push_session(
                            &mut out,
                            s,
                            s.start,
                            "energy_inconsistent",
                            if ratio > 2.0 {
                                Severity::Critical
                            } else {
                                Severity::Warning
                            },
                            ratio,
                            format!(
                                "{:.2} kWh in {} is more than {:.1} kW allows ({:.2} kWh){hint}",
                                e / 1000.0,
                                hrs(h),
                                limit / 1000.0,
                                possible / 1000.0
                            ),
                        );
                    }
                }
            }
        }
        // meter_regression: the register went down.
        if want_regression {
            let mut prev: Option<(DateTime<Utc>, f64)> = s.meter_start.get().map(|v| (s.start, v));
            let mut worst: Option<(DateTime<Utc>, f64, f64)> = None;
            if let Some(samples) = input.samples.get(&*s.uid) {
                for &(ts, is_energy, v) in samples {
                    if !is_energy {
                        continue;
                    }
                    if let Some((_, p)) = prev {
                        if v < p - rules.regression_wh && worst.is_none_or(|w| p - v > w.1 - w.2) {
                            worst = Some((ts, p, v));
                        }
                    }
                    prev = Some((ts, v));
                }
            }
            if let (Some(a), Some(b)) = (s.meter_start.get(), s.meter_stop.get()) {
                if b < a - rules.regression_wh && worst.is_none() {
                    worst = Some((s.stop.unwrap_or(s.start), a, b));
                }
            }
            if let Some((ts, from, to)) = worst {
                let reset = to < from * 0.05;
                push_session(
                    &mut out,
                    s,
                    ts,
                    "meter_regression",
                    Severity::Critical,
                    (from - to) / 1000.0,
                    format!(
                        "energy register fell from {from:.0} Wh to {to:.0} Wh at {}{}",
                        format_utc(ts),
                        if reset { " (a reset to near zero)" } else { "" }
                    ),
                );
            }
        }
        // zero_energy
        if want_zero {
            if let (Some(e), Some(h)) = (s.energy_wh.get(), s.hours()) {
                if e < rules.zero_energy_wh && h * 60.0 >= rules.zero_energy_min_minutes {
                    push_session(
                        &mut out,
                        s,
                        s.start,
                        "zero_energy",
                        Severity::Info,
                        h,
                        format!("{e:.0} Wh delivered in {} plugged in", hrs(h)),
                    );
                }
            }
        }
        // idle_blocking
        if want_idle {
            if let (Some(end), Some(stop)) = (s.charging_end, s.stop) {
                let idle = (stop - end).num_milliseconds() as f64 / 3_600_000.0;
                if idle > rules.idle_hours {
                    push_session(
                        &mut out,
                        s,
                        end,
                        "idle_blocking",
                        if idle > rules.idle_warning_hours {
                            Severity::Warning
                        } else {
                            Severity::Info
                        },
                        idle / rules.idle_hours,
                        format!(
                            "plugged in {} after charging ended at {}",
                            hrs(idle),
                            format_utc(end)
                        ),
                    );
                }
            }
        }
        // open_session / long_session
        match s.stop {
            None if want_open => {
                let open =
                    (input.until.min(input.now) - s.start).num_milliseconds() as f64 / 3_600_000.0;
                if open > long_limit {
                    push_session(
                        &mut out,
                        s,
                        s.start,
                        "open_session",
                        Severity::Warning,
                        open / long_limit,
                        format!(
                            "never stopped: open {} (normal sessions end within {})",
                            hrs(open),
                            hrs(long_limit)
                        ),
                    );
                }
            }
            Some(_) if want_long => {
                if let Some(h) = s.hours().filter(|h| *h > long_limit) {
                    push_session(
                        &mut out,
                        s,
                        s.start,
                        "long_session",
                        Severity::Info,
                        h / long_limit,
                        format!(
                            "plugged in {} (normal sessions end within {})",
                            hrs(h),
                            hrs(long_limit)
                        ),
                    );
                }
            }
            _ => {}
        }
        // clock_skew
        if want_skew {
            let future = input.now + Duration::seconds((rules.future_minutes * 60.0) as i64);
            let mut problems = Vec::new();
            for (what, t) in [
                ("start", Some(s.start)),
                ("stop", s.stop),
                ("charging end", s.charging_end),
            ] {
                if let Some(t) = t {
                    if t > future {
                        problems.push(format!("{what} {} is in the future", format_utc(t)));
                    } else if t.year() < rules.clock_min_year {
                        problems.push(format!(
                            "{what} {} is before {} (clock not set)",
                            format_utc(t),
                            rules.clock_min_year
                        ));
                    }
                }
            }
            if let Some(stop) = s.stop {
                if stop < s.start {
                    problems.push(format!(
                        "stop {} is before start {}",
                        format_utc(stop),
                        format_utc(s.start)
                    ));
                }
            }
            if let Some(samples) = input.samples.get(&*s.uid) {
                let slack = Duration::seconds((rules.sample_slack_minutes * 60.0) as i64);
                let end = s.stop.unwrap_or(input.until);
                let outside = samples
                    .iter()
                    .filter(|x| x.0 < s.start - slack || x.0 > end + slack)
                    .count();
                if outside > 0 {
                    problems.push(format!(
                        "{outside} meter values are timestamped outside the session"
                    ));
                }
            }
            if !problems.is_empty() {
                let critical = problems
                    .iter()
                    .any(|p| p.contains("clock not set") || p.contains("before start"));
                push_session(
                    &mut out,
                    s,
                    s.start,
                    "clock_skew",
                    if critical {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    },
                    problems.len() as f64,
                    problems.join("; "),
                );
            }
        }
        // auth_rejected / unknown_tag
        if want_auth {
            if let Some(status) = s.auth_status.as_deref().filter(|a| REJECTED.contains(a)) {
                if s.energy_wh.get().is_some_and(|e| e > rules.zero_energy_wh) {
                    push_session(
                        &mut out,
                        s,
                        s.start,
                        "auth_rejected",
                        Severity::Critical,
                        s.energy_wh.get().unwrap_or(0.0) / 1000.0,
                        format!(
                            "id tag {} was answered {status}, yet {:.2} kWh flowed",
                            s.id_tag.as_deref().unwrap_or("?"),
                            s.energy_wh.get().unwrap_or(0.0) / 1000.0
                        ),
                    );
                }
            }
        }
        if want_unknown {
            if let (Some(list), Some(tag)) = (&input.allow_list, &s.id_tag) {
                if !list.contains(&**tag) {
                    push_session(
                        &mut out,
                        s,
                        s.start,
                        "unknown_tag",
                        Severity::Warning,
                        1.0,
                        format!(
                            "id tag {tag} is not on the allow list ({:.2} kWh)",
                            s.energy_wh.get().unwrap_or(0.0) / 1000.0
                        ),
                    );
                }
            }
        }
        out
    };
    if per_session {
        out.par_extend(window.par_iter().flat_map_iter(session_findings));
    }

    // An Authorize answered with a rejection, then a session with energy for
    // that tag on the same station soon after (when the session itself does
    // not carry the answer).
    if want_auth {
        for e in input
            .events
            .iter()
            .filter(|e| e.kind == "authorize" && in_window(e.ts))
        {
            let (Some(tag), Some(status)) = (
                &e.id_tag,
                e.auth_status.as_deref().filter(|a| REJECTED.contains(a)),
            ) else {
                continue;
            };
            for s in &window {
                if *s.station == *e.station
                    && s.id_tag.as_deref() == Some(tag.as_str())
                    && s.start >= e.ts - Duration::minutes(1)
                    && s.start <= e.ts + Duration::minutes(15)
                    && s.energy_wh.get().is_some_and(|x| x > rules.zero_energy_wh)
                    && !s
                        .auth_status
                        .as_deref()
                        .is_some_and(|a| REJECTED.contains(&a))
                {
                    out.push(Finding {
                        ts: s.start,
                        station_id: s.station.to_string(),
                        connector_id: s.connector,
                        session_uid: Some(s.uid.to_string()),
                        kind: "auth_rejected",
                        severity: Severity::Critical,
                        score: s.energy_wh.get().unwrap_or(0.0) / 1000.0,
                        detail: format!("Authorize for {tag} was answered {status} at {}, then {:.2} kWh flowed", format_utc(e.ts), s.energy_wh.get().unwrap_or(0.0) / 1000.0),
                    });
                }
            }
        }
    }

    // Per connector: overlaps, duplicates, short bursts (sessions grouped
    // and sorted only when one of them is asked for).
    let per_connector =
        wanted("overlap") || wanted("duplicate_transaction") || wanted("short_burst");
    // Hashed: which connector comes first does not matter, as findings are
    // sorted at the end and ties only arise within one connector's list.
    // Grouped on every core, a share of the sessions each, the shares'
    // lists then joined in order: each list keeps the sessions' order.
    type Lists<'a> = FxHashMap<(&'a str, Option<i32>), Vec<&'a Session>>;
    let share = input
        .sessions
        .len()
        .div_ceil(rayon::current_num_threads())
        .max(1);
    let by_connector: Lists = if per_connector {
        input
            .sessions
            .par_chunks(share)
            .map(|sessions| {
                let mut lists = Lists::default();
                for s in sessions {
                    lists.entry((&*s.station, s.connector)).or_default().push(s);
                }
                lists
            })
            .reduce(Lists::default, |mut before, after| {
                for (key, mut list) in after {
                    before.entry(key).or_default().append(&mut list);
                }
                before
            })
    } else {
        Lists::default()
    };
    // Each connector on any core: findings are sorted at the end, and
    // each connector's come out in the same order as before.
    let connector_findings =
        |((_, connector), mut list): ((&str, Option<i32>), Vec<&Session>)| -> Vec<Finding> {
            let mut out = Vec::new();
            list.sort_by(|a, b| (a.start, &a.uid).cmp(&(b.start, &b.uid)));
            if connector.is_some() && (wanted("overlap") || wanted("duplicate_transaction")) {
                for i in 0..list.len() {
                    let a = list[i];
                    let a_end = a.stop.or(a.charging_end).unwrap_or(a.start);
                    for b in list.iter().skip(i + 1) {
                        if b.start >= a_end {
                            break;
                        }
                        if !in_window(b.start) {
                            continue;
                        }
                        let same_energy = matches!((a.energy_wh.get(), b.energy_wh.get()), (Some(x), Some(y)) if (x - y).abs() <= 1.0);
                        let (kind, severity) = if same_energy {
                            ("duplicate_transaction", Severity::Warning)
                        } else {
                            ("overlap", Severity::Warning)
                        };
                        if !wanted(kind) {
                            continue;
                        }
                        let overlap_h = (a_end.min(b.stop.or(b.charging_end).unwrap_or(b.start))
                            - b.start)
                            .num_milliseconds() as f64
                            / 3_600_000.0;
                        out.push(Finding {
                            ts: b.start,
                            station_id: b.station.to_string(),
                            connector_id: b.connector,
                            session_uid: Some(b.uid.to_string()),
                            kind,
                            severity,
                            score: overlap_h.max(0.0),
                            detail: if same_energy {
                                format!(
                                "same connector, overlapping times and the same {:.3} kWh as {}",
                                b.energy_wh.get().unwrap_or(0.0) / 1000.0,
                                a.uid
                            )
                            } else {
                                format!(
                                    "overlaps {} by {} on the same connector",
                                    a.uid,
                                    hrs(overlap_h.max(0.0))
                                )
                            },
                        });
                    }
                }
            }
            if wanted("short_burst") {
                let short: Vec<&Session> = list
                    .iter()
                    .copied()
                    .filter(|s| {
                        s.hours()
                            .is_some_and(|h| h * 60.0 < rules.short_session_minutes)
                    })
                    .collect();
                let window_len =
                    Duration::seconds((rules.short_burst_window_minutes * 60.0) as i64);
                let runs = bursts(
                    short.len(),
                    |i, k| short[k].start - short[i].start <= window_len,
                    rules.short_burst_count,
                    |i, _| in_window(short[i].start),
                );
                for (i, j) in runs {
                    let n = j - i + 1;
                    let s = short[i];
                    out.push(Finding {
                        ts: s.start,
                        station_id: s.station.to_string(),
                        connector_id: s.connector,
                        // The burst is named by its first session.
                        session_uid: Some(s.uid.to_string()),
                        kind: "short_burst",
                        severity: Severity::Warning,
                        score: n as f64 / rules.short_burst_count as f64,
                        detail: format!(
                            "{n} sessions shorter than {:.0} min within {:.0} min, from {}",
                            rules.short_session_minutes,
                            rules.short_burst_window_minutes,
                            format_utc(s.start)
                        ),
                    });
                }
            }
            out
        };
    let by_connector: Vec<_> = by_connector.into_iter().collect();
    out.par_extend(
        by_connector
            .into_par_iter()
            .flat_map_iter(connector_findings),
    );

    events_rules(input, rules, &wanted, &mut out);
    outliers(input, rules, &wanted, &mut out);
    daily(input, rules, &wanted, &mut out);

    out.retain(|f| in_window(f.ts) || f.kind == "open_session" || f.kind == "stuck_status");
    out.sort_by(|a, b| {
        (a.ts, &a.station_id, a.connector_id, a.kind, &a.session_uid).cmp(&(
            b.ts,
            &b.station_id,
            b.connector_id,
            b.kind,
            &b.session_uid,
        ))
    });
    out.dedup();
    out
}

/// Bursts among `len` items in time order: from each item, the run of
/// those `within(first, k)` of it; a run of at least `min` items that
/// `accept(first, last)` takes is one burst, and the search goes on after
/// it, else from the next item. The (first, last) index of each burst.
fn bursts(
    len: usize,
    within: impl Fn(usize, usize) -> bool,
    min: usize,
    accept: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < len {
        let mut j = i;
        while j + 1 < len && within(i, j + 1) {
            j += 1;
        }
        if j - i + 1 >= min && accept(i, j) {
            out.push((i, j));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn events_rules(
    input: &Input,
    rules: &Rules,
    wanted: &dyn Fn(&str) -> bool,
    out: &mut Vec<Finding>,
) {
    let in_window = |t: DateTime<Utc>| t >= input.since && t < input.until;
    let mut statuses: BTreeMap<(&str, Option<i32>), Vec<&Event>> = BTreeMap::new();
    for e in &input.events {
        match e.kind.as_str() {
            "status" => statuses
                .entry((e.station.as_str(), e.connector))
                .or_default()
                .push(e),
            "heartbeat_gap" if wanted("station_silent") && in_window(e.ts) => out.push(Finding {
                ts: e.ts,
                station_id: e.station.clone(),
                connector_id: None,
                session_uid: None,
                kind: "station_silent",
                severity: Severity::Warning,
                score: 1.0,
                detail: e
                    .info
                    .clone()
                    .unwrap_or_else(|| "no frame for longer than the heartbeat interval".into()),
            }),
            "notify_event" if wanted("faulted") && in_window(e.ts) && e.error_code.is_some() => out
                .push(Finding {
                    ts: e.ts,
                    station_id: e.station.clone(),
                    connector_id: e.connector,
                    session_uid: None,
                    kind: "faulted",
                    severity: Severity::Warning,
                    score: 1.0,
                    detail: format!(
                        "NotifyEvent {} ({})",
                        e.error_code.as_deref().unwrap_or("?"),
                        e.info.as_deref().unwrap_or("")
                    ),
                }),
            _ => {}
        }
    }
    for ((station, connector), list) in statuses.iter_mut() {
        list.sort_by_key(|e| e.ts);
        let faults: Vec<&&Event> = list
            .iter()
            .filter(|e| e.status.as_deref() == Some("Faulted"))
            .collect();
        if wanted("faulted") {
            for e in faults.iter().filter(|e| in_window(e.ts)) {
                let code = e
                    .error_code
                    .as_deref()
                    .filter(|c| *c != "NoError")
                    .unwrap_or("no error code");
                out.push(Finding {
                    ts: e.ts,
                    station_id: station.to_string(),
                    connector_id: *connector,
                    session_uid: None,
                    kind: "faulted",
                    severity: Severity::Warning,
                    score: 1.0,
                    detail: format!(
                        "Faulted: {code}{}",
                        e.info
                            .as_deref()
                            .map(|i| format!(" ({i})"))
                            .unwrap_or_default()
                    ),
                });
            }
        }
        if wanted("repeated_faults") {
            let span = Duration::seconds((rules.fault_repeat_hours * 3600.0) as i64);
            let runs = bursts(
                faults.len(),
                |i, k| faults[k].ts - faults[i].ts <= span,
                rules.fault_repeat_count,
                |_, j| in_window(faults[j].ts),
            );
            for (i, j) in runs {
                let n = j - i + 1;
                out.push(Finding {
                    ts: faults[j].ts,
                    station_id: station.to_string(),
                    connector_id: *connector,
                    session_uid: None,
                    kind: "repeated_faults",
                    severity: Severity::Critical,
                    score: n as f64 / rules.fault_repeat_count as f64,
                    detail: format!(
                        "{n} faults within {} (first {}, last {})",
                        hrs((faults[j].ts - faults[i].ts).num_minutes() as f64 / 60.0),
                        format_utc(faults[i].ts),
                        format_utc(faults[j].ts)
                    ),
                });
            }
        }
        if wanted("stuck_status") {
            for (k, e) in list.iter().enumerate() {
                let Some(status) = e.status.as_deref() else {
                    continue;
                };
                if status == "Available" {
                    continue;
                }
                let until = list.get(k + 1).map_or(input.until.min(input.now), |n| n.ts);
                let h = (until - e.ts).num_milliseconds() as f64 / 3_600_000.0;
                if h > rules.stuck_hours && until > input.since && e.ts < input.until {
                    out.push(Finding {
                        ts: e.ts,
                        station_id: station.to_string(),
                        connector_id: *connector,
                        session_uid: None,
                        kind: "stuck_status",
                        severity: if status == "Faulted" {
                            Severity::Critical
                        } else {
                            Severity::Warning
                        },
                        score: h / rules.stuck_hours,
                        detail: format!(
                            "{status} for {} with no status change{}",
                            hrs(h),
                            if list.get(k + 1).is_none() {
                                " (still, at the end of the data)"
                            } else {
                                ""
                            }
                        ),
                    });
                }
            }
        }
    }
}

/// Robust z-scores of energy, duration and mean power, against the
/// station's own sessions (enough of them) or else the fleet's.
fn outliers(input: &Input, rules: &Rules, wanted: &dyn Fn(&str) -> bool, out: &mut Vec<Finding>) {
    type Metric = fn(&Session) -> Option<f64>;
    let metrics: [(&'static str, Metric, &str); 3] = [
        (
            "outlier_energy",
            |s| s.energy_wh.get().map(|e| e / 1000.0),
            "kWh",
        ),
        ("outlier_duration", |s| s.hours(), "h"),
        ("outlier_power", |s| s.mean_kw(), "kW"),
    ];
    let metrics: Vec<_> = metrics.into_iter().filter(|m| wanted(m.0)).collect();
    if metrics.is_empty() {
        return;
    }
    // The station of each session as a dense index, once for every metric.
    let mut index: FxHashMap<&str, u32> = FxHashMap::default();
    let station_of: Vec<u32> = input
        .sessions
        .iter()
        .map(|s| {
            let next = index.len() as u32;
            *index.entry(&*s.station).or_insert(next)
        })
        .collect();
    let stations = index.len();
    let in_window = |t: DateTime<Utc>| t >= input.since && t < input.until;
    // The metrics are independent: each on its own core. Every one is a
    // median and MAD over the whole fleet and over each station.
    let found: Vec<Vec<Finding>> = metrics
        .into_par_iter()
        .map(|(kind, metric, unit)| {
            let mut by_station: Vec<Vec<f64>> = vec![Vec::new(); stations];
            let mut fleet = Vec::new();
            for (s, &i) in input.sessions.iter().zip(&station_of) {
                if let Some(v) = metric(s) {
                    by_station[i as usize].push(v);
                    fleet.push(v);
                }
            }
            let fleet_stats = median_mad_in_place(&mut fleet);
            drop(fleet);
            let station_stats: Vec<Option<(f64, f64)>> = by_station
                .into_iter()
                .map(|mut v| {
                    (v.len() >= rules.outlier_min_sessions)
                        .then(|| median_mad_in_place(&mut v))
                        .flatten()
                })
                .collect();
            let mut out = Vec::new();
            for (s, &i) in input.sessions.iter().zip(&station_of) {
                if !in_window(s.start) {
                    continue;
                }
                let Some(v) = metric(s) else { continue };
                let (scope, (median, mad)) = match station_stats[i as usize] {
                    Some(st) => ("the station's", st),
                    None => match fleet_stats {
                        Some(f) => ("the fleet's", f),
                        None => continue,
                    },
                };
                // A floor on the scale keeps near-constant series from turning
                // tiny differences into huge z-scores.
                let scale = mad.max(median.abs() * 0.05).max(1e-9);
                let z = (v - median) / scale;
                if z.abs() > rules.outlier_z {
                    out.push(Finding {
                        ts: s.start,
                        station_id: s.station.to_string(),
                        connector_id: s.connector,
                        session_uid: Some(s.uid.to_string()),
                        kind,
                        severity: if z.abs() > rules.outlier_warning_z { Severity::Warning } else { Severity::Info },
                        score: z,
                        detail: format!("{v:.2} {unit} against {scope} median {median:.2} {unit} (robust z {z:+.1})"),
                    });
                }
            }
            out
        })
        .collect();
    out.extend(found.into_iter().flatten());
}

/// Daily station energy against its own rolling baseline.
fn daily(input: &Input, rules: &Rules, wanted: &dyn Fn(&str) -> bool, out: &mut Vec<Finding>) {
    if !wanted("daily_drop") && !wanted("daily_rise") {
        return;
    }
    let mut per_day: BTreeMap<&str, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for s in &input.sessions {
        let day = match input.zones.get(&*s.station) {
            Some(z) => s.start.with_timezone(z).date_naive(),
            None => s.start.date_naive(),
        };
        *per_day
            .entry(&s.station)
            .or_default()
            .entry(day)
            .or_default() += s.energy_wh.get().unwrap_or(0.0) / 1000.0;
    }
    // Stations are independent: each on any core, findings kept in
    // station order.
    let want_drop = wanted("daily_drop");
    let want_rise = wanted("daily_rise");
    let per_station: Vec<Vec<Finding>> = per_day
        .into_par_iter()
        .map(|(station, days)| {
            let mut out = Vec::new();
            let Some(first) = days.keys().next().copied() else {
                return out;
            };
            let zone = input.zones.get(station);
            let local =
                |t: DateTime<Utc>| zone.map_or(t.date_naive(), |z| t.with_timezone(z).date_naive());
            let midnight = |d: NaiveDate| {
                let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
                zone.map_or_else(
                    || naive.and_utc(),
                    |z| {
                        crate::timeutil::resolve_local(*z, naive, None, Default::default())
                            .unwrap_or(naive.and_utc())
                    },
                )
            };
            // Only whole local days inside the window (and not in the future)
            // are judged: a partial day always looks like a drop.
            let end = input.until.min(input.now);
            let (from, to) = (local(input.since), local(end));
            // Energy per day from the station's first day on, dense: the
            // baseline of each day is the slice before it.
            let span = (to.max(first) - first).num_days().max(0) as usize + 1;
            let mut energy = vec![0.0f64; span];
            for (d, kwh) in &days {
                if let Some(slot) = energy.get_mut((*d - first).num_days() as usize) {
                    *slot = *kwh;
                }
            }
            let mut history: Vec<f64> = Vec::new();
            let mut day = from.max(first);
            let mut day_start = midnight(day);
            while day <= to {
                let day_end = midnight(day + Duration::days(1));
                let this = (day_start, day);
                day_start = day_end;
                day += Duration::days(1);
                let (day_start, day) = this;
                if day_start < input.since || day_end > end {
                    continue;
                }
                let i = (day - first).num_days() as usize;
                let n = (rules.baseline_days.max(0) as usize).min(i);
                if n < rules.baseline_min_days {
                    continue;
                }
                history.clear();
                history.extend_from_slice(&energy[i - n..i]);
                let Some((median, mad)) = median_mad_in_place(&mut history) else {
                    continue;
                };
                let v = energy[i];
                let scale = mad.max(median.abs() * 0.1).max(1e-9);
                let z = (v - median) / scale;
                let ts = day_start;
                if z < -rules.daily_z && v < median * (1.0 - rules.daily_drop_ratio) && want_drop {
                    out.push(Finding {
                        ts,
                        station_id: station.to_string(),
                        connector_id: None,
                        session_uid: None,
                        kind: "daily_drop",
                        severity: Severity::Warning,
                        score: z,
                        detail: format!("{v:.1} kWh on {day} against a {n}-day median of {median:.1} kWh (robust z {z:+.1}): possible malfunction"),
                    });
                } else if z > rules.daily_z && want_rise {
                    out.push(Finding {
                        ts,
                        station_id: station.to_string(),
                        connector_id: None,
                        session_uid: None,
                        kind: "daily_rise",
                        severity: Severity::Info,
                        score: z,
                        detail: format!("{v:.1} kWh on {day} against a {n}-day median of {median:.1} kWh (robust z {z:+.1}): possible misuse"),
                    });
                }
            }
            out
        })
        .collect();
    out.extend(per_station.into_iter().flatten());
}

/// Read the inputs from collected frames of the store.
pub fn sessions_from(df: &DataFrame) -> PolarsResult<Vec<Session>> {
    let mut out = Vec::with_capacity(df.height());
    append_sessions(df, &mut out)?;
    Ok(out)
}

/// Append the sessions of `df` to `out` (callers read the store a
/// partition at a time, so a frame of the whole window and its sessions are
/// never in memory together).
pub fn append_sessions(df: &DataFrame, out: &mut Vec<Session>) -> PolarsResult<()> {
    // One chunk per column: rows are read by index, and an index into a
    // column of many chunks is a search per value.
    let s = |n: &str| -> PolarsResult<StringChunked> {
        Ok(df.column(n)?.str()?.rechunk().into_owned())
    };
    let f =
        |n: &str| -> PolarsResult<Float64Chunked> { Ok(f64_values(df, n)?.rechunk().into_owned()) };
    let t =
        |n: &str| -> PolarsResult<Int64Chunked> { Ok(i64_values(df, n)?.rechunk().into_owned()) };
    let (uid, station, tag, auth) = (
        s(c::SESSION_UID)?,
        s(c::STATION_ID)?,
        s(c::ID_TAG)?,
        s(c::AUTH_STATUS)?,
    );
    let connector = df
        .column(c::CONNECTOR_ID)?
        .cast(&DataType::Int32)?
        .i32()?
        .rechunk()
        .into_owned();
    let (start, stop, cend) = (t(c::START)?, t(c::STOP)?, t(c::CHARGING_END)?);
    let (ms, mst, e, p) = (
        f(c::METER_START_WH)?,
        f(c::METER_STOP_WH)?,
        f(c::ENERGY_WH)?,
        f(c::MAX_POWER_W)?,
    );
    let time = |v: Option<i64>| v.and_then(DateTime::from_timestamp_micros);
    // Rows are turned into sessions on every core (a large window is
    // millions of rows). Each task makes its own copy of each station id
    // and auth status it meets: one copy shared by both cores had its
    // reference count passed between them for nearly every row (a sixth
    // of this pass at 10M). Tasks of at least 64k rows keep the copies few
    // (1000 stations: a few MB over a 10M-session store).
    fn intern<'a>(seen: &mut FxHashMap<&'a str, Arc<str>>, text: &'a str) -> Arc<str> {
        seen.entry(text).or_insert_with(|| Arc::from(text)).clone()
    }
    // Rows without a uid, station or start are skipped: the others are
    // listed first, so that their sessions are then written in place.
    let rows: Vec<usize> = (0..df.height())
        .into_par_iter()
        .filter(|&i| {
            uid.get(i).is_some() && station.get(i).is_some() && time(start.get(i)).is_some()
        })
        .collect();
    out.par_extend(rows.par_iter().with_min_len(64 * 1024).map_init(
        FxHashMap::default,
        |seen, &i| Session {
            uid: uid.get(i).unwrap_or_default().into(),
            station: intern(seen, station.get(i).unwrap_or_default()),
            connector: connector.get(i),
            id_tag: tag.get(i).map(PlSmallStr::from),
            auth_status: auth.get(i).map(|a| intern(seen, a)),
            start: time(start.get(i)).unwrap_or_default(),
            stop: time(stop.get(i)),
            charging_end: time(cend.get(i)),
            meter_start: ms.get(i).into(),
            meter_stop: mst.get(i).into(),
            energy_wh: e.get(i).into(),
            max_power_w: p.get(i).into(),
        },
    ));
    Ok(())
}

pub fn events_from(df: &DataFrame) -> PolarsResult<Vec<Event>> {
    let s = |n: &str| -> PolarsResult<StringChunked> { Ok(df.column(n)?.str()?.clone()) };
    let (station, kind, status, code, tag, auth, info) = (
        s(c::STATION_ID)?,
        s(c::KIND)?,
        s(c::STATUS)?,
        s(c::ERROR_CODE)?,
        s(c::ID_TAG)?,
        s(c::AUTH_STATUS)?,
        s(c::INFO)?,
    );
    let connector = df
        .column(c::CONNECTOR_ID)?
        .cast(&DataType::Int32)?
        .i32()?
        .rechunk()
        .into_owned();
    let ts = i64_values(df, c::TS)?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let (Some(st), Some(t), Some(k)) = (
            station.get(i),
            ts.get(i).and_then(DateTime::from_timestamp_micros),
            kind.get(i),
        ) else {
            continue;
        };
        out.push(Event {
            station: st.to_string(),
            connector: connector.get(i),
            ts: t,
            kind: k.to_string(),
            status: status.get(i).map(str::to_string),
            error_code: code.get(i).map(str::to_string),
            id_tag: tag.get(i).map(str::to_string),
            auth_status: auth.get(i).map(str::to_string),
            info: info.get(i).map(str::to_string),
        });
    }
    Ok(out)
}

/// Register (phase-less Energy.Active.Import.Register, `true`) and power
/// (phase-less Power.Active.Import, `false`) samples by session, in time order.
pub fn samples_from(df: &DataFrame) -> PolarsResult<HashMap<String, SessionSamples>> {
    let uid = df.column(c::SESSION_UID)?.str()?.clone();
    let measurand = df.column(c::MEASURAND)?.str()?.clone();
    let ts = i64_values(df, c::TS)?;
    let value = df.column(c::VALUE)?.f64()?.clone();
    let mut out: HashMap<String, SessionSamples> = HashMap::new();
    for i in 0..df.height() {
        let (Some(u), Some(m), Some(t), Some(v)) = (
            uid.get(i),
            measurand.get(i),
            ts.get(i).and_then(DateTime::from_timestamp_micros),
            value.get(i),
        ) else {
            continue;
        };
        out.entry(u.to_string()).or_default().push((
            t,
            m == crate::ingest::ocpp::messages::ENERGY_REGISTER,
            v,
        ));
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bursts are maximal runs from their first item, searched again after
    /// each one, and from the next item when a run is too short or refused.
    #[test]
    fn bursts_are_runs_within_the_span() {
        let t = [0, 1, 2, 10, 11, 12, 13, 30];
        let within = |i: usize, k: usize| t[k] - t[i] <= 3;
        assert_eq!(
            bursts(t.len(), within, 3, |_, _| true),
            vec![(0, 2), (3, 6)]
        );
        assert_eq!(bursts(t.len(), within, 4, |_, _| true), vec![(3, 6)]);
        // The first run refused: the search goes on from the next item.
        assert_eq!(
            bursts(t.len(), within, 2, |i, _| i != 0),
            vec![(1, 2), (3, 6)]
        );
        assert_eq!(bursts(0, within, 1, |_, _| true), vec![]);
    }

    #[test]
    fn a_reading_keeps_its_value_or_none() {
        for v in [0.0, -0.0, -12.5, 29_003.0, f64::MAX, f64::INFINITY] {
            assert_eq!(Reading::from(Some(v)).get(), Some(v));
        }
        assert_eq!(Reading::from(None).get(), None);
        assert_eq!(Reading::from(Some(f64::NAN)).get(), None);
        assert_eq!(std::mem::size_of::<Reading>(), 8);
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn session(uid: &str, start: &str, stop: Option<&str>, kwh: f64) -> Session {
        Session {
            uid: uid.into(),
            station: "S".into(),
            connector: Some(1),
            id_tag: Some("T".into()),
            auth_status: None,
            start: t(start),
            stop: stop.map(t),
            charging_end: None,
            meter_start: None.into(),
            meter_stop: None.into(),
            energy_wh: Some(kwh * 1000.0).into(),
            max_power_w: None.into(),
        }
    }

    fn input(sessions: Vec<Session>) -> Input {
        Input {
            sessions,
            samples: HashMap::new(),
            events: Vec::new(),
            rated_kw: [("S".to_string(), 11.0)].into(),
            zones: HashMap::new(),
            since: t("2026-10-01T00:00:00Z"),
            until: t("2026-10-08T00:00:00Z"),
            now: t("2026-10-08T00:00:00Z"),
            allow_list: None,
        }
    }

    #[test]
    fn robust_statistics() {
        let (m, d) = median_mad(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        assert_eq!(m, 3.0);
        assert!((d - 1.4826).abs() < 1e-9);
    }

    #[test]
    fn energy_beyond_power_times_time() {
        // 11 kW for 1 h allows 12.1 kWh with the tolerance: 30 kWh does not fit.
        let found = detect(
            &input(vec![session(
                "a",
                "2026-10-02T08:00:00Z",
                Some("2026-10-02T09:00:00Z"),
                30.0,
            )]),
            &Rules::default(),
            &["energy_inconsistent".into()],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Critical);
        // 12 kWh fits: a near miss.
        let found = detect(
            &input(vec![session(
                "a",
                "2026-10-02T08:00:00Z",
                Some("2026-10-02T09:00:00Z"),
                12.0,
            )]),
            &Rules::default(),
            &["energy_inconsistent".into()],
        );
        assert!(found.is_empty());
    }

    #[test]
    fn findings_are_sorted_and_stable() {
        let sessions = vec![
            session(
                "b",
                "2026-10-03T08:00:00Z",
                Some("2026-10-03T08:01:00Z"),
                0.0,
            ),
            session(
                "a",
                "2026-10-02T08:00:00Z",
                Some("2026-10-02T08:30:00Z"),
                0.0,
            ),
        ];
        let one = detect(&input(sessions.clone()), &Rules::default(), &[]);
        let two = detect(
            &input(sessions.into_iter().rev().collect()),
            &Rules::default(),
            &[],
        );
        assert_eq!(one, two);
        assert!(one.windows(2).all(|w| w[0].ts <= w[1].ts));
    }
}
