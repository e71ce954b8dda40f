//! From frames to sessions, meter values and events.
//!
//! Frames of all files of a run are sorted per charge point by the time
//! they were logged, so files may come in any order. Then, per charge point:
//! frames sent twice are dropped; each CALLRESULT/CALLERROR is paired with
//! its CALL by message id (ids restart on reboot, so the latest open CALL
//! from the other side wins); and the transaction lifecycle is replayed.
//! Meter values without a transaction id are attributed afterwards to the
//! session active on their connector at that time (SteVe's rule).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use compact_str::CompactString;

use super::frame::{Body, Call, Dir, Frame, Proto};
use super::messages::*;
use crate::ingest::batch::{Batch, EventRow, MeterValueRow, RejectRow, SessionRow};
use crate::timeutil::{self, DateOrder, Stamp};

/// A register step smaller than this is meter noise, not charging.
const RISE_WH: f64 = 0.5;
/// A frame re-sent within this window with the same id and content is a
/// duplicate even when its payload has no timestamp of its own.
const DUPLICATE_WINDOW_S: i64 = 3600;

/// Counts for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OcppReport {
    pub frames: u64,
    pub duplicates: u64,
    pub unpaired: u64,
    pub sessions: u64,
    pub open_sessions: u64,
    pub meter_values: u64,
    pub events: u64,
    pub signed_skipped: u64,
    pub charge_points: u64,
}

impl OcppReport {
    /// Add the counts of another part of the same run.
    pub fn add(&mut self, o: &OcppReport) {
        self.frames += o.frames;
        self.duplicates += o.duplicates;
        self.unpaired += o.unpaired;
        self.sessions += o.sessions;
        self.open_sessions += o.open_sessions;
        self.meter_values += o.meter_values;
        self.events += o.events;
        self.signed_skipped += o.signed_skipped;
        self.charge_points += o.charge_points;
    }
}

/// Event kinds written to the events table.
pub mod kind {
    pub const STATUS: &str = "status";
    pub const AUTHORIZE: &str = "authorize";
    pub const BOOT: &str = "boot";
    pub const HEARTBEAT_GAP: &str = "heartbeat_gap";
    pub const NOTIFY_EVENT: &str = "notify_event";
    pub const CALL_ERROR: &str = "call_error";
}

fn payload_time(text: &str) -> Option<DateTime<Utc>> {
    match timeutil::parse_timestamp(text, DateOrder::Ymd).ok()? {
        Stamp::Absolute(t) => Some(t),
        // OCPP times must carry an offset; a naive one is read as UTC.
        Stamp::Naive(n) => Some(DateTime::from_naive_utc_and_offset(n, Utc)),
    }
}

#[derive(Debug)]
struct Tx {
    uid: String,
    tx_id: String,
    connector: Option<i32>,
    id_tag: Option<String>,
    auth_status: Option<String>,
    start: Option<DateTime<Utc>>,
    first_seen: DateTime<Utc>,
    stop: Option<DateTime<Utc>>,
    /// When the back-office received the stop (its clock, not the charger's).
    stop_recv: Option<DateTime<Utc>>,
    meter_start: Option<f64>,
    meter_stop: Option<f64>,
    stop_reason: Option<String>,
    samples: Vec<Sample>,
    file: u32,
    line: u64,
}

impl Tx {
    fn new(cp: &str, tx_id: String, f: &Frame, seen: DateTime<Utc>) -> Tx {
        Tx {
            uid: format!("ocpp:{cp}/{tx_id}"),
            tx_id,
            connector: None,
            id_tag: None,
            auth_status: None,
            start: None,
            first_seen: seen,
            stop: None,
            stop_recv: None,
            meter_start: None,
            meter_stop: None,
            stop_reason: None,
            samples: Vec::new(),
            file: f.file,
            line: f.line,
        }
    }

    fn begins(&self) -> DateTime<Utc> {
        self.start.unwrap_or(self.first_seen)
    }
}

/// Reconstruct everything from the frames of one run.
pub fn reconstruct(
    mut frames: Vec<Frame>,
    files: &[Arc<str>],
    proto_override: Option<Proto>,
    batch: &mut Batch,
) -> OcppReport {
    let mut report = OcppReport {
        frames: frames.len() as u64,
        ..OcppReport::default()
    };
    // Charge points in descending order, each one's frames in time order:
    // the last charge point's frames can then be split off the end, and each
    // group is freed as soon as it is reconstructed.
    frames.sort_by(|a, b| (&b.cp, a.recv, a.file, a.line).cmp(&(&a.cp, b.recv, b.file, b.line)));
    while let Some(last) = frames.last() {
        let cp = last.cp.clone();
        let n = frames.iter().rev().take_while(|f| f.cp == cp).count();
        let group = frames.split_off(frames.len() - n);
        report.charge_points += 1;
        ChargePoint::new(&group, files, proto_override).run(batch, &mut report);
    }
    report
}

struct ChargePoint<'a> {
    cp: Arc<str>,
    frames: Vec<&'a Frame>,
    files: &'a [Arc<str>],
    proto: Proto,
}

fn type_id(b: &Body) -> u8 {
    match b {
        Body::Call { .. } => 2,
        Body::Result(_) => 3,
        Body::Error { .. } => 4,
    }
}

/// Calls whose payload carries its own timestamp: a copy at any later time
/// is the same message re-sent.
fn self_dated(b: &Body) -> bool {
    match b {
        Body::Call { call, .. } => match call {
            Call::StartTransaction(_)
            | Call::StopTransaction(_)
            | Call::MeterValues(_)
            | Call::TransactionEvent(_)
            | Call::NotifyEvent(_) => true,
            Call::StatusNotification(s) => s.timestamp.is_some(),
            _ => false,
        },
        _ => false,
    }
}

impl<'a> ChargePoint<'a> {
    fn new(
        frames: &'a [Frame],
        files: &'a [Arc<str>],
        proto_override: Option<Proto>,
    ) -> ChargePoint<'a> {
        let cp = frames[0].cp.clone();
        let proto = proto_override
            .or_else(|| frames.iter().find_map(|f| f.proto))
            .unwrap_or_else(|| detect_proto(frames));
        ChargePoint {
            cp,
            frames: frames.iter().collect(),
            files,
            proto,
        }
    }

    fn file(&self, f: &Frame) -> Arc<str> {
        self.files
            .get(f.file as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }

    fn run(mut self, batch: &mut Batch, report: &mut OcppReport) {
        self.drop_duplicates(report);
        let (results, errors) = self.pair(batch, report);
        self.replay(&results, &errors, batch, report);
    }

    fn drop_duplicates(&mut self, report: &mut OcppReport) {
        let mut seen: HashMap<(Option<Dir>, u8, &str, u64), DateTime<Utc>> = HashMap::new();
        let before = self.frames.len();
        self.frames.retain(|f| {
            let key = (f.dir, type_id(&f.body), f.id.as_str(), f.hash);
            match seen.get(&key) {
                Some(first)
                    if self_dated(&f.body)
                        || (f.recv - *first).num_seconds() <= DUPLICATE_WINDOW_S =>
                {
                    false
                }
                _ => {
                    seen.insert(key, f.recv);
                    true
                }
            }
        });
        report.duplicates += (before - self.frames.len()) as u64;
    }

    /// Pair responses with requests. Returns, per frame index, the result
    /// or error that answered it.
    #[allow(clippy::type_complexity)]
    fn pair(
        &mut self,
        batch: &mut Batch,
        report: &mut OcppReport,
    ) -> (Vec<Option<&'a ResultInfo>>, Vec<Option<(&'a str, &'a str)>>) {
        let n = self.frames.len();
        let mut results = vec![None; n];
        let mut errors = vec![None; n];
        let mut pending: HashMap<&str, Vec<usize>> = HashMap::new();
        let frames = &self.frames;
        for (k, &f) in frames.iter().enumerate() {
            match &f.body {
                Body::Call { .. } => pending.entry(f.id.as_str()).or_default().push(k),
                body => {
                    let answered = pending.get_mut(f.id.as_str()).and_then(|cands| {
                        // The latest open CALL travelling the other way.
                        let pos =
                            cands
                                .iter()
                                .rposition(|&c| match (self.frames[c].dir, f.dir) {
                                    (Some(a), Some(b)) => a != b,
                                    _ => true,
                                })?;
                        Some(cands.remove(pos))
                    });
                    match (answered, body) {
                        (Some(c), Body::Result(info)) => results[c] = info.as_deref(),
                        (Some(c), Body::Error { code, description }) => {
                            errors[c] = Some((code.as_str(), description.as_str()))
                        }
                        (None, _) => {
                            report.unpaired += 1;
                            batch.rejects.push(RejectRow {
                                source_file: self.file(f),
                                line: f.line,
                                field: None,
                                reason: format!(
                                    "{} for message id '{}' of {} answers no CALL in the dump",
                                    if type_id(body) == 3 {
                                        "CALLRESULT"
                                    } else {
                                        "CALLERROR"
                                    },
                                    f.id,
                                    self.cp
                                ),
                                raw: String::new(),
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
        (results, errors)
    }

    fn replay(
        &self,
        results: &[Option<&ResultInfo>],
        errors: &[Option<(&str, &str)>],
        batch: &mut Batch,
        report: &mut OcppReport,
    ) {
        let cp = &*self.cp;
        let mut txs: Vec<Tx> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        // Samples without a transaction: (connector, sample, file, line).
        let mut loose: Vec<(Option<i32>, Sample, Arc<str>)> = Vec::new();
        let mut auth_by_tag: HashMap<String, (DateTime<Utc>, Option<String>)> = HashMap::new();
        let mut interval: Option<i64> = None;
        let mut heartbeats: Vec<DateTime<Utc>> = Vec::new();
        let mut alive: Vec<DateTime<Utc>> = Vec::new();

        for (k, f) in self.frames.iter().enumerate() {
            if f.dir == Some(Dir::FromCp) {
                alive.push(f.recv);
            }
            let Body::Call { action, call } = &f.body else {
                continue;
            };
            let file = self.file(f);
            let result = results[k];
            if let Some((code, description)) = errors[k] {
                report.events += 1;
                batch.events.push(EventRow {
                    station_id: cp.to_string(),
                    ts: Some(f.recv),
                    kind: kind::CALL_ERROR.into(),
                    error_code: Some(code.to_string()),
                    info: Some(format!("{action}: {description}")),
                    source_file: Some(file.clone()),
                    ..EventRow::default()
                });
            }
            match call {
                Call::StartTransaction(s) => {
                    let tx_id = result
                        .and_then(|r| r.transaction_id.as_ref())
                        .map(|t| t.0.clone())
                        .unwrap_or_else(|| format!("unconfirmed-{}", f.id));
                    let start = payload_time(&s.timestamp).unwrap_or(f.recv);
                    let idx = match by_id.get(&tx_id) {
                        // The same id started again (a back-office that reuses
                        // ids): a new session, told apart by its start.
                        Some(&i) if txs[i].start.is_some_and(|t| t != start) => {
                            let mut tx = Tx::new(cp, tx_id.clone(), f, start);
                            tx.uid = format!("{}@{}", tx.uid, timeutil::format_utc(start));
                            txs.push(tx);
                            txs.len() - 1
                        }
                        Some(&i) => i,
                        None => {
                            txs.push(Tx::new(cp, tx_id.clone(), f, start));
                            txs.len() - 1
                        }
                    };
                    by_id.insert(tx_id, idx);
                    let tx = &mut txs[idx];
                    tx.start = Some(start);
                    tx.first_seen = tx.first_seen.min(start);
                    tx.file = f.file;
                    tx.line = f.line;
                    tx.connector = Some(s.connector_id);
                    tx.id_tag = Some(s.id_tag.clone());
                    tx.meter_start = s.meter_start.value();
                    tx.auth_status = result
                        .and_then(|r| r.auth_status())
                        .map(str::to_string)
                        .or_else(|| recent_auth(&auth_by_tag, &s.id_tag, start));
                }
                Call::StopTransaction(s) => {
                    let stop = payload_time(&s.timestamp).unwrap_or(f.recv);
                    let idx = tx_index(&mut txs, &mut by_id, cp, &s.transaction_id.0, f, stop);
                    let tx = &mut txs[idx];
                    // Several stops for one transaction: the earliest wins.
                    if tx.stop.is_none_or(|t| stop < t) {
                        tx.stop = Some(stop);
                        tx.stop_recv = Some(f.recv);
                        tx.meter_stop = s.meter_stop.value();
                        tx.stop_reason = Some(s.reason.clone().unwrap_or_else(|| "Local".into()));
                    }
                    if tx.id_tag.is_none() {
                        tx.id_tag = s.id_tag.clone();
                    }
                    report.signed_skipped += s.samples.signed as u64;
                    tx.samples.extend(s.samples.values.iter().cloned());
                }
                Call::MeterValues(m) => {
                    report.signed_skipped += m.samples.signed as u64;
                    let samples = m.samples.values.clone();
                    let connector = m.connector_id.or(m.evse_id);
                    match &m.transaction_id {
                        Some(id) if connector != Some(0) => {
                            let at = samples.first().map_or(f.recv, |s| s.ts);
                            let idx = tx_index(&mut txs, &mut by_id, cp, &id.0, f, at);
                            let tx = &mut txs[idx];
                            tx.connector = tx.connector.or(connector);
                            tx.samples.extend(samples);
                        }
                        _ => {
                            loose.extend(samples.into_iter().map(|s| (connector, s, file.clone())))
                        }
                    }
                }
                Call::TransactionEvent(t) => {
                    let ts = payload_time(&t.timestamp).unwrap_or(f.recv);
                    let idx = tx_index(
                        &mut txs,
                        &mut by_id,
                        cp,
                        &t.transaction_info.transaction_id.0,
                        f,
                        ts,
                    );
                    let tx = &mut txs[idx];
                    tx.first_seen = tx.first_seen.min(ts);
                    if let Some(evse) = &t.evse {
                        tx.connector = tx.connector.or(Some(evse.id));
                    }
                    if let Some(token) = &t.id_token {
                        if tx.id_tag.is_none() {
                            tx.id_tag = Some(token.id_token.clone());
                        }
                        let status = result
                            .and_then(|r| r.auth_status())
                            .map(str::to_string)
                            .or_else(|| recent_auth(&auth_by_tag, &token.id_token, ts));
                        if status.is_some()
                            && tx.auth_status.as_deref().is_none_or(|s| s == "Accepted")
                        {
                            tx.auth_status = status;
                        }
                    }
                    match t.event_type.as_str() {
                        "Started" => {
                            tx.start = Some(tx.start.map_or(ts, |s| s.min(ts)));
                            tx.file = f.file;
                            tx.line = f.line;
                        }
                        // Several Ended events: the earliest wins.
                        "Ended" if tx.stop.is_none_or(|s| ts < s) => {
                            tx.stop = Some(ts);
                            tx.stop_recv = Some(f.recv);
                            tx.stop_reason = Some(
                                t.transaction_info
                                    .stopped_reason
                                    .clone()
                                    .unwrap_or_else(|| "Local".into()),
                            );
                        }
                        _ => {}
                    }
                    report.signed_skipped += t.samples.signed as u64;
                    tx.samples.extend(t.samples.values.iter().cloned());
                }
                Call::StatusNotification(s) => {
                    report.events += 1;
                    let mut info = Vec::new();
                    if let Some(v) = &s.vendor_error_code {
                        info.push(format!("vendorErrorCode={v}"));
                    }
                    if let Some(v) = &s.vendor_id {
                        info.push(format!("vendorId={v}"));
                    }
                    if let Some(v) = &s.info {
                        info.push(format!("info={v}"));
                    }
                    batch.events.push(EventRow {
                        station_id: cp.to_string(),
                        connector_id: s.connector_id.filter(|_| s.evse_id.is_none()).or(s.evse_id),
                        ts: Some(
                            s.timestamp
                                .as_deref()
                                .and_then(payload_time)
                                .unwrap_or(f.recv),
                        ),
                        kind: kind::STATUS.into(),
                        status: s.status.clone().or_else(|| s.connector_status.clone()),
                        error_code: s.error_code.clone(),
                        info: (!info.is_empty()).then(|| info.join("; ")),
                        source_file: Some(file.clone()),
                        ..EventRow::default()
                    });
                }
                Call::Authorize(a) => {
                    let tag = a
                        .id_tag
                        .clone()
                        .or_else(|| a.id_token.as_ref().map(|t| t.id_token.clone()));
                    let status = result.and_then(|r| r.auth_status()).map(str::to_string);
                    if let Some(tag) = &tag {
                        auth_by_tag.insert(tag.clone(), (f.recv, status.clone()));
                    }
                    report.events += 1;
                    batch.events.push(EventRow {
                        station_id: cp.to_string(),
                        ts: Some(f.recv),
                        kind: kind::AUTHORIZE.into(),
                        id_tag: tag,
                        auth_status: status,
                        source_file: Some(file.clone()),
                        ..EventRow::default()
                    });
                }
                Call::BootNotification(b) => {
                    if let Some(i) = result.and_then(|r| r.heartbeat_interval()) {
                        interval = Some(i);
                    }
                    let station = b.charging_station.as_ref();
                    let parts = [
                        b.charge_point_vendor
                            .clone()
                            .or_else(|| station.and_then(|s| s.vendor_name.clone())),
                        b.charge_point_model
                            .clone()
                            .or_else(|| station.and_then(|s| s.model.clone())),
                        b.firmware_version
                            .clone()
                            .or_else(|| station.and_then(|s| s.firmware_version.clone()))
                            .map(|v| format!("firmware {v}")),
                        b.reason.clone().map(|r| format!("reason {r}")),
                    ];
                    let info: Vec<String> = parts.into_iter().flatten().collect();
                    report.events += 1;
                    batch.events.push(EventRow {
                        station_id: cp.to_string(),
                        ts: Some(f.recv),
                        kind: kind::BOOT.into(),
                        status: result.and_then(|r| r.boot_status()).map(str::to_string),
                        info: (!info.is_empty()).then(|| info.join(" ")),
                        source_file: Some(file.clone()),
                        ..EventRow::default()
                    });
                }
                Call::Heartbeat => heartbeats.push(f.recv),
                Call::NotifyEvent(n) => {
                    for e in &n.event_data {
                        report.events += 1;
                        let component = e.component.as_ref();
                        let what = format!(
                            "{}/{}",
                            component.map_or("?", |c| c.name.as_str()),
                            e.variable.as_ref().map_or("?", |v| v.name.as_str())
                        );
                        let info = match (&e.tech_info, e.cleared) {
                            (Some(t), _) => format!("{what}: {t}"),
                            (None, Some(true)) => format!("{what} cleared"),
                            _ => what,
                        };
                        batch.events.push(EventRow {
                            station_id: cp.to_string(),
                            connector_id: component.and_then(|c| c.evse.as_ref()).map(|e| e.id),
                            ts: Some(payload_time(&e.timestamp).unwrap_or(f.recv)),
                            kind: kind::NOTIFY_EVENT.into(),
                            status: e.actual_value.clone(),
                            error_code: e.tech_code.clone(),
                            info: Some(info),
                            source_file: Some(file.clone()),
                            ..EventRow::default()
                        });
                    }
                }
                Call::Other => {}
            }
        }

        self.heartbeat_gaps(&alive, &heartbeats, interval, batch, report);
        attribute(&mut txs, loose, batch, cp, report);
        for tx in txs {
            self.emit(tx, batch, report);
        }
    }

    fn heartbeat_gaps(
        &self,
        alive: &[DateTime<Utc>],
        heartbeats: &[DateTime<Utc>],
        interval: Option<i64>,
        batch: &mut Batch,
        report: &mut OcppReport,
    ) {
        // The interval the back-office set; else what the heartbeats show.
        let interval = interval.filter(|i| *i > 0).or_else(|| {
            let mut gaps: Vec<i64> = heartbeats
                .windows(2)
                .map(|w| (w[1] - w[0]).num_seconds())
                .collect();
            if gaps.len() < 2 {
                return None;
            }
            gaps.sort_unstable();
            Some(gaps[gaps.len() / 2]).filter(|g| *g > 0)
        });
        let Some(interval) = interval else {
            return;
        };
        let limit = (2 * interval).max(600);
        for w in alive.windows(2) {
            let gap = (w[1] - w[0]).num_seconds();
            if gap > limit {
                report.events += 1;
                batch.events.push(EventRow {
                    station_id: self.cp.to_string(),
                    ts: Some(w[0]),
                    kind: kind::HEARTBEAT_GAP.into(),
                    info: Some(format!(
                        "no frame from the charge point for {} (heartbeat interval {}), until {}",
                        human(gap),
                        human(interval),
                        timeutil::format_utc(w[1])
                    )),
                    ..EventRow::default()
                });
            }
        }
    }

    fn emit(&self, mut tx: Tx, batch: &mut Batch, report: &mut OcppReport) {
        tx.samples.sort_by_key(|s| s.ts);
        let registers = series(&tx.samples, ENERGY_REGISTER);
        let power = series(&tx.samples, POWER_IMPORT);
        let start = tx.start.unwrap_or_else(|| {
            tx.samples
                .first()
                .map_or(tx.first_seen, |s| s.ts.min(tx.first_seen))
        });
        // A stop stamped before the start contradicts it (a charger clock
        // that jumped back): trust when the back-office received the stop
        // instead, and never let a session end before it began.
        tx.stop = tx.stop.map(|stop| {
            if stop >= start {
                stop
            } else {
                tx.stop_recv.filter(|r| *r >= start).unwrap_or(start)
            }
        });
        let meter_start = tx.meter_start.or_else(|| registers.first().map(|r| r.1));
        let last_register = registers.last().map(|r| r.1);
        let meter_stop = if tx.stop.is_some() {
            tx.meter_stop.or(last_register)
        } else {
            None
        };
        let end_reading = meter_stop.or(last_register);
        let energy = match (meter_start, end_reading) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            // The register went backwards (reset or glitch): count only what
            // it added, never a negative amount.
            _ if registers.len() > 1 => Some(positive_steps(meter_start, &registers)),
            _ => None,
        }
        .map(|e| (e * 1000.0).round() / 1000.0);
        let max_power = power
            .iter()
            .map(|p| p.1)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
            .or_else(|| implied_max_power(&registers));
        let charging_end = charging_end(meter_start, &registers, &power, max_power)
            .map(|t| t.max(start))
            .map(|t| tx.stop.map_or(t, |s| t.min(s)));
        let uid: Arc<str> = Arc::from(tx.uid.as_str());
        let source_file = self
            .files
            .get(tx.file as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("?"));
        for s in tx.samples {
            report.meter_values += 1;
            batch.meter_values.push(MeterValueRow {
                session_uid: Some(uid.clone()),
                station_id: self.cp.clone(),
                connector_id: tx.connector,
                ts: s.ts,
                measurand: s.measurand,
                phase: s.phase,
                context: s.context,
                value: s.value,
                unit: s.unit,
                source_file: source_file.clone(),
            });
        }
        report.sessions += 1;
        if tx.stop.is_none() {
            report.open_sessions += 1;
        }
        batch.sessions.push(SessionRow {
            session_uid: tx.uid.into(),
            transaction_id: Some(tx.tx_id.into()),
            station_id: CompactString::from(&*self.cp),
            connector_id: tx.connector,
            id_tag: tx.id_tag.map(Into::into),
            auth_status: tx.auth_status.map(Into::into),
            start,
            stop: tx.stop,
            charging_end,
            meter_start_wh: meter_start,
            meter_stop_wh: meter_stop,
            energy_wh: energy,
            max_power_w: max_power,
            stop_reason: tx.stop_reason.map(Into::into),
            source: self.proto.name(),
            source_file,
            source_line: Some(tx.line),
        });
    }
}

fn human(secs: i64) -> String {
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    match (h, m) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m:02}m"),
    }
}

/// The latest authorization answer for `tag` within 15 minutes before `at`.
fn recent_auth(
    auth: &HashMap<String, (DateTime<Utc>, Option<String>)>,
    tag: &str,
    at: DateTime<Utc>,
) -> Option<String> {
    auth.get(tag)
        .filter(|(t, _)| *t <= at + Duration::minutes(1) && at - *t <= Duration::minutes(15))
        .and_then(|(_, s)| s.clone())
}

fn tx_index(
    txs: &mut Vec<Tx>,
    by_id: &mut HashMap<String, usize>,
    cp: &str,
    tx_id: &str,
    f: &Frame,
    seen: DateTime<Utc>,
) -> usize {
    if let Some(&i) = by_id.get(tx_id) {
        txs[i].first_seen = txs[i].first_seen.min(seen);
        return i;
    }
    txs.push(Tx::new(cp, tx_id.to_string(), f, seen));
    by_id.insert(tx_id.to_string(), txs.len() - 1);
    txs.len() - 1
}

/// One value per timestamp of a measurand: the value without a phase, or
/// else the sum of its phases (never both, so nothing is counted twice).
fn series(samples: &[Sample], measurand: &str) -> Vec<(DateTime<Utc>, f64)> {
    let mut out: Vec<(DateTime<Utc>, f64)> = Vec::new();
    let mut i = 0;
    let wanted: Vec<&Sample> = samples
        .iter()
        .filter(|s| &*s.measurand == measurand)
        .collect();
    while i < wanted.len() {
        let ts = wanted[i].ts;
        let mut total = None;
        let mut phases = 0.0;
        let mut any_phase = false;
        while i < wanted.len() && wanted[i].ts == ts {
            let s = wanted[i];
            match s.phase.as_deref() {
                None => total = Some(s.value),
                // Line-to-line and neutral readings are not additive parts.
                Some("L1") | Some("L2") | Some("L3") | Some("L1-N") | Some("L2-N")
                | Some("L3-N") => {
                    phases += s.value;
                    any_phase = true;
                }
                Some(_) => {}
            }
            i += 1;
        }
        let phases = (phases * 1000.0).round() / 1000.0;
        if let Some(v) = total.or(any_phase.then_some(phases)) {
            match out.last_mut() {
                // Transaction.Begin/End samples may repeat a periodic one.
                Some(last) if last.0 == ts => last.1 = v,
                _ => out.push((ts, v)),
            }
        }
    }
    out
}

/// Energy added by a register, counting only its increases.
fn positive_steps(start: Option<f64>, registers: &[(DateTime<Utc>, f64)]) -> f64 {
    let mut prev = start.or_else(|| registers.first().map(|r| r.1));
    let mut total = 0.0;
    for &(_, v) in registers {
        if let Some(p) = prev {
            if v > p {
                total += v - p;
            }
        }
        prev = Some(v);
    }
    total
}

fn implied_max_power(registers: &[(DateTime<Utc>, f64)]) -> Option<f64> {
    registers
        .windows(2)
        .filter_map(|w| {
            let hours = (w[1].0 - w[0].0).num_milliseconds() as f64 / 3_600_000.0;
            (hours > 0.0).then(|| (w[1].1 - w[0].1) / hours)
        })
        .filter(|p| *p >= 0.0)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
}

/// The last instant energy was still flowing: the last register reading
/// above the one before it, or the last power reading above a small floor,
/// whichever is later.
fn charging_end(
    meter_start: Option<f64>,
    registers: &[(DateTime<Utc>, f64)],
    power: &[(DateTime<Utc>, f64)],
    max_power: Option<f64>,
) -> Option<DateTime<Utc>> {
    let mut prev = meter_start;
    let mut rise = None;
    for &(t, v) in registers {
        if prev.is_some_and(|p| v > p + RISE_WH) {
            rise = Some(t);
        }
        prev = Some(prev.map_or(v, |p| p.max(v)));
    }
    let floor = max_power.map_or(50.0, |m| (m * 0.02).max(50.0));
    let powered = power
        .iter()
        .filter(|p| p.1 > floor)
        .map(|p| p.0)
        .next_back();
    match (rise, powered) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Give samples that came without a transaction id to the session active on
/// their connector at that time; the rest stay station-level.
fn attribute(
    txs: &mut [Tx],
    loose: Vec<(Option<i32>, Sample, Arc<str>)>,
    batch: &mut Batch,
    cp: &str,
    report: &mut OcppReport,
) {
    // Per connector, sessions by start; an open session ends at the next start.
    let mut by_connector: HashMap<i32, Vec<usize>> = HashMap::new();
    for (i, tx) in txs.iter().enumerate() {
        if let Some(c) = tx.connector {
            by_connector.entry(c).or_default().push(i);
        }
    }
    for list in by_connector.values_mut() {
        list.sort_by_key(|&i| txs[i].begins());
    }
    for (connector, sample, file) in loose {
        let owner = connector.filter(|c| *c > 0).and_then(|c| {
            let list = by_connector.get(&c)?;
            list.iter().enumerate().rev().find_map(|(pos, &i)| {
                let tx = &txs[i];
                let begins = if tx.start.is_some() {
                    tx.begins()
                } else {
                    DateTime::<Utc>::MIN_UTC
                };
                let ends = tx
                    .stop
                    .or_else(|| list.get(pos + 1).map(|&n| txs[n].begins()));
                (sample.ts >= begins && ends.is_none_or(|e| sample.ts <= e)).then_some(i)
            })
        });
        match owner {
            Some(i) => txs[i].samples.push(sample),
            None => {
                report.meter_values += 1;
                batch.meter_values.push(MeterValueRow {
                    session_uid: None,
                    station_id: intern(cp),
                    connector_id: connector,
                    ts: sample.ts,
                    measurand: sample.measurand,
                    phase: sample.phase,
                    context: sample.context,
                    value: sample.value,
                    unit: sample.unit,
                    source_file: file,
                });
            }
        }
    }
}

/// Guess the version from the actions and fields a charge point used.
fn detect_proto(frames: &[Frame]) -> Proto {
    for f in frames {
        if let Body::Call { call, .. } = &f.body {
            match call {
                Call::TransactionEvent(_) | Call::NotifyEvent(_) => return Proto::V201,
                Call::StartTransaction(_) | Call::StopTransaction(_) => return Proto::V16,
                Call::BootNotification(b) if b.charging_station.is_some() => return Proto::V201,
                Call::BootNotification(b) if b.charge_point_vendor.is_some() => return Proto::V16,
                Call::MeterValues(m) if m.evse_id.is_some() => return Proto::V201,
                Call::StatusNotification(s) if s.connector_status.is_some() => return Proto::V201,
                _ => {}
            }
        }
    }
    Proto::V16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sample(ts: &str, measurand: &str, phase: Option<&str>, value: f64) -> Sample {
        Sample {
            ts: t(ts),
            measurand: intern(measurand),
            phase: phase.map(intern),
            context: None,
            value,
            unit: intern("Wh"),
        }
    }

    #[test]
    fn phases_are_not_counted_twice() {
        let s = vec![
            sample("2026-10-25T00:00:00Z", ENERGY_REGISTER, None, 900.0),
            sample("2026-10-25T00:00:00Z", ENERGY_REGISTER, Some("L1"), 300.0),
            sample("2026-10-25T00:00:00Z", ENERGY_REGISTER, Some("L2"), 300.0),
            sample("2026-10-25T00:00:00Z", ENERGY_REGISTER, Some("L3"), 300.0),
            sample("2026-10-25T00:05:00Z", ENERGY_REGISTER, Some("L1"), 400.0),
            sample("2026-10-25T00:05:00Z", ENERGY_REGISTER, Some("L2"), 400.0),
            sample("2026-10-25T00:05:00Z", ENERGY_REGISTER, Some("L3"), 400.0),
        ];
        assert_eq!(
            series(&s, ENERGY_REGISTER),
            vec![
                (t("2026-10-25T00:00:00Z"), 900.0),
                (t("2026-10-25T00:05:00Z"), 1200.0)
            ]
        );
    }

    #[test]
    fn charging_end_is_the_last_rise() {
        let r = vec![
            (t("2026-10-25T00:05:00Z"), 1100.0),
            (t("2026-10-25T00:10:00Z"), 1200.0),
            (t("2026-10-25T00:15:00Z"), 1200.2),
            (t("2026-10-25T00:20:00Z"), 1200.2),
        ];
        assert_eq!(
            charging_end(Some(1000.0), &r, &[], None),
            Some(t("2026-10-25T00:10:00Z"))
        );
        assert!((positive_steps(Some(1000.0), &r) - 200.2).abs() < 1e-9);
        // A reset: only increases count.
        let reset = vec![
            (t("2026-10-25T00:05:00Z"), 1100.0),
            (t("2026-10-25T00:10:00Z"), 0.0),
            (t("2026-10-25T00:15:00Z"), 50.0),
        ];
        assert_eq!(positive_steps(Some(1000.0), &reset), 150.0);
        assert_eq!(human(3 * 3600 + 18 * 60), "3h18m");
    }
}
