//! Reading OCPP-J frames out of dumps: evmon's JSON Lines envelope, raw log
//! lines (timestamp, direction, frame), and CSMS log formats (SteVe,
//! python-ocpp) that share that shape.
//!
//! Each frame becomes a compact [`Frame`]: the CALL payload is parsed at
//! once into the typed struct of its action (or dropped when evmon has no
//! use for the action), a CALLRESULT into the few fields evmon needs. The
//! raw JSON is not kept, which keeps millions of frames in memory cheaply.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::messages::*;
use crate::timeutil::{self, DateOrder, DstPolicy, Stamp};

/// Which way a frame travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Charge point → back-office.
    FromCp,
    /// Back-office → charge point.
    ToCp,
}

/// OCPP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    V16,
    V201,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::V16 => "ocpp1.6",
            Proto::V201 => "ocpp2.0.1",
        }
    }

    pub fn parse(s: &str) -> Option<Proto> {
        let s = s.trim().to_ascii_lowercase();
        let s = s
            .strip_prefix("ocpp")
            .unwrap_or(&s)
            .trim_start_matches(['-', '_', ' ']);
        match s {
            "1.6" | "16" | "1.6j" | "1.6-j" => Some(Proto::V16),
            // 2.1 frames are read with the 2.0.1 rules (same transaction model).
            "2.0.1" | "201" | "2.0" | "2.1" | "21" => Some(Proto::V201),
            _ => None,
        }
    }
}

/// A CALL, typed by action. Payloads are boxed so that the many small
/// frames (heartbeats, empty results) stay small.
#[derive(Debug, Clone)]
pub enum Call {
    StartTransaction(Box<StartTransaction>),
    StopTransaction(Box<StopTransaction>),
    MeterValues(Box<MeterValues>),
    TransactionEvent(Box<TransactionEvent>),
    StatusNotification(Box<StatusNotification>),
    Authorize(Box<Authorize>),
    BootNotification(Box<BootNotification>),
    Heartbeat,
    NotifyEvent(Box<NotifyEvent>),
    /// A known action evmon does not use (ChangeConfiguration, ...).
    Other,
}

#[derive(Debug, Clone)]
pub enum Body {
    Call {
        action: Arc<str>,
        call: Call,
    },
    /// `None` when the result carries nothing evmon uses (most are `{}`).
    Result(Option<Box<ResultInfo>>),
    Error {
        code: String,
        description: String,
    },
}

/// One frame of a dump.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Index of the input file in this run, and the line in it.
    pub file: u32,
    pub line: u64,
    /// When the frame was logged (the envelope's or the log line's time).
    pub recv: DateTime<Utc>,
    pub cp: Arc<str>,
    pub dir: Option<Dir>,
    pub proto: Option<Proto>,
    pub id: String,
    pub body: Body,
    /// Hash of the frame text, to recognise a frame sent twice.
    pub hash: u64,
}

/// Actions initiated by the charge point (so a CALL of one travels to the
/// back-office), OCPP 1.6 (with the security extension), 2.0.1 and 2.1.
pub const CP_ACTIONS: &[&str] = &[
    "Authorize",
    "BootNotification",
    "ClearedChargingLimit",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Get15118EVCertificate",
    "GetCertificateStatus",
    "GetCertificateChainStatus",
    "Heartbeat",
    "LogStatusNotification",
    "MeterValues",
    "NotifyChargingLimit",
    "NotifyCustomerInformation",
    "NotifyDERAlarm",
    "NotifyDERStartStop",
    "NotifyDisplayMessages",
    "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule",
    "NotifyEvent",
    "NotifyMonitoringReport",
    "NotifyPeriodicEventStream",
    "NotifyPriorityCharging",
    "NotifyReport",
    "NotifySettlement",
    "NotifyWebPaymentStarted",
    "OpenPeriodicEventStream",
    "ClosePeriodicEventStream",
    "PublishFirmwareStatusNotification",
    "PullDynamicScheduleUpdate",
    "ReportChargingProfiles",
    "ReportDERControl",
    "ReservationStatusUpdate",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "TransactionEvent",
    "BatterySwap",
    "VatNumberValidation",
];

/// Actions initiated by the back-office.
pub const CSMS_ACTIONS: &[&str] = &[
    "AFRRSignal",
    "AdjustPeriodicEventStream",
    "CancelReservation",
    "CertificateSigned",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ChangeTransactionTariff",
    "ClearCache",
    "ClearChargingProfile",
    "ClearDERControl",
    "ClearDisplayMessage",
    "ClearTariffs",
    "ClearVariableMonitoring",
    "CostUpdated",
    "CustomerInformation",
    "DeleteCertificate",
    "ExtendedTriggerMessage",
    "GetBaseReport",
    "GetChargingProfiles",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDERControl",
    "GetDiagnostics",
    "GetDisplayMessages",
    "GetInstalledCertificateIds",
    "GetLocalListVersion",
    "GetLog",
    "GetMonitoringReport",
    "GetPeriodicEventStream",
    "GetReport",
    "GetTariffs",
    "GetTransactionStatus",
    "GetVariables",
    "InstallCertificate",
    "NotifyAllowedEnergyTransfer",
    "PublishFirmware",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "RequestBatterySwap",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "SetDERControl",
    "SetDefaultTariff",
    "SetDisplayMessage",
    "SetMonitoringBase",
    "SetMonitoringLevel",
    "SetNetworkProfile",
    "SetVariableMonitoring",
    "SetVariables",
    "SignedUpdateFirmware",
    "TriggerMessage",
    "UnlockConnector",
    "UnpublishFirmware",
    "UpdateDynamicSchedule",
    "UpdateFirmware",
    "UsePriorityCharging",
];

/// The direction a CALL of `action` travels, if the action tells.
pub fn call_direction(action: &str) -> Option<Dir> {
    if action == "DataTransfer" {
        None
    } else if CP_ACTIONS.contains(&action) {
        Some(Dir::FromCp)
    } else if CSMS_ACTIONS.contains(&action) {
        Some(Dir::ToCp)
    } else {
        None
    }
}

fn is_known(action: &str) -> bool {
    CP_ACTIONS.contains(&action) || CSMS_ACTIONS.contains(&action)
}

/// Where a frame's line came from, and what the caller knows about it.
#[derive(Debug, Clone)]
pub struct LineContext<'a> {
    pub file: u32,
    pub line: u64,
    /// `--cp`, or the charge point id taken from the file name.
    pub cp: Option<&'a Arc<str>>,
    pub proto: Option<Proto>,
    /// Zone of log timestamps without an offset (`--tz`).
    pub tz: Option<Tz>,
}

/// Interns charge point ids so millions of frames share a few strings.
pub use crate::intern::Interner;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(alias = "timestamp", alias = "time", alias = "LogTime")]
    ts: Option<String>,
    #[serde(
        alias = "chargeBoxId",
        alias = "stationId",
        alias = "charge_point_id",
        alias = "ChargePointId"
    )]
    cp: Option<String>,
    #[serde(alias = "direction", alias = "origin")]
    dir: Option<String>,
    #[serde(alias = "protocol")]
    proto: Option<String>,
    #[serde(borrow, alias = "message", alias = "frame", alias = "Message")]
    msg: &'a RawValue,
}

fn parse_dir(s: &str) -> Option<Dir> {
    match s.trim().to_ascii_lowercase().as_str() {
        "in"
        | "rx"
        | "recv"
        | "received"
        | "receive"
        | "cs"
        | "cp"
        | "cs->csms"
        | "cp->csms"
        | "cs->cpo"
        | "chargepoint>centralsystem"
        | "request"
        | "->" => Some(Dir::FromCp),
        "out"
        | "tx"
        | "send"
        | "sent"
        | "sending"
        | "csms"
        | "cpo"
        | "csms->cs"
        | "csms->cp"
        | "centralsystem>chargepoint"
        | "<-" => Some(Dir::ToCp),
        _ => None,
    }
}

fn instant(text: &str, tz: Option<Tz>) -> Result<DateTime<Utc>, String> {
    match timeutil::parse_timestamp(&text.replace(',', "."), DateOrder::Ymd)? {
        Stamp::Absolute(t) => Ok(t),
        Stamp::Naive(n) => match tz {
            Some(z) => timeutil::resolve_local(z, n, None, DstPolicy::default()).map_err(|e| e.to_string()),
            None => Err(format!(
                "log timestamp '{text}' has no time zone: pass --tz ZONE (the zone the logging server ran in)"
            )),
        },
    }
}

/// Why a line is not a usable frame.
#[derive(Debug, Clone, PartialEq)]
pub enum LineError {
    /// Blank or a comment: not counted.
    Skip,
    /// A log line without a frame (other log output): not counted.
    NotAFrame,
    /// A frame that cannot be read: a reject.
    Bad(String),
    /// The whole file cannot be read this way (e.g. naive timestamps without --tz).
    Fatal(String),
}

/// Parse one line of a JSON Lines envelope dump.
pub fn parse_envelope_line(
    text: &str,
    ctx: &LineContext,
    interner: &mut Interner,
) -> Result<Frame, LineError> {
    let text = text.trim().trim_start_matches('\u{feff}');
    if text.is_empty() {
        return Err(LineError::Skip);
    }
    if text.starts_with('[') {
        // A bare frame per line: the charge point and time come from elsewhere.
        return Err(LineError::Bad(
            "a bare frame without an envelope: read the file with --format ocpp-log".into(),
        ));
    }
    let env: Envelope = serde_json::from_str(text)
        .map_err(|e| LineError::Bad(format!("not a JSON envelope: {e}")))?;
    let cp = match (ctx.cp, env.cp.as_deref()) {
        (_, Some(cp)) if !cp.trim().is_empty() => interner.get(cp.trim()),
        (Some(cp), _) => cp.clone(),
        _ => {
            return Err(LineError::Bad(
                "no charge point id (\"cp\"); pass --cp ID".into(),
            ))
        }
    };
    let ts = env
        .ts
        .as_deref()
        .ok_or_else(|| LineError::Bad("no \"ts\" in the envelope".into()))?;
    let recv = instant(ts, ctx.tz).map_err(|e| {
        if e.contains("--tz") {
            LineError::Fatal(e)
        } else {
            LineError::Bad(format!("ts: {e}"))
        }
    })?;
    let dir = env.dir.as_deref().and_then(parse_dir);
    let proto = env.proto.as_deref().and_then(Proto::parse).or(ctx.proto);
    // `msg` may be the frame itself or a string holding it.
    let raw = env.msg.get();
    let owned;
    let frame_text = if raw.starts_with('"') {
        owned =
            serde_json::from_str::<String>(raw).map_err(|e| LineError::Bad(format!("msg: {e}")))?;
        owned.as_str()
    } else {
        raw
    };
    parse_frame(frame_text, ctx, cp, recv, dir, proto)
}

/// Parse one raw log line: a timestamp, a direction, then the frame.
pub fn parse_log_line(
    text: &str,
    ctx: &LineContext,
    interner: &mut Interner,
) -> Result<Frame, LineError> {
    let text = text.trim_end().trim_start_matches('\u{feff}');
    if text.trim().is_empty() || text.trim_start().starts_with('#') {
        return Err(LineError::Skip);
    }
    let start = frame_start(text).ok_or(LineError::NotAFrame)?;
    let prefix = &text[..start];
    let ts_text = find_timestamp(prefix)
        .ok_or_else(|| LineError::Bad("no timestamp before the frame".into()))?;
    let recv = instant(ts_text, ctx.tz).map_err(|e| {
        if e.contains("--tz") {
            LineError::Fatal(e)
        } else {
            LineError::Bad(e)
        }
    })?;
    let dir = log_direction(prefix);
    let cp = match cp_in_prefix(prefix) {
        Some(cp) => interner.get(cp),
        None => match ctx.cp {
            Some(cp) => cp.clone(),
            None => {
                return Err(LineError::Fatal(
                    "no charge point id in the log: pass --cp ID".into(),
                ))
            }
        },
    };
    parse_frame(text[start..].trim(), ctx, cp, recv, dir, ctx.proto)
}

/// Byte offset of an OCPP-J frame (`[2,` `[3,` `[4,` ...) in a log line.
fn frame_start(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find('[') {
        let at = i + off;
        let mut j = at + 1;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if j < b.len() && (b'2'..=b'6').contains(&b[j]) {
            let mut k = j + 1;
            while k < b.len() && b[k] == b' ' {
                k += 1;
            }
            if k < b.len() && b[k] == b',' {
                return Some(at);
            }
        }
        i = at + 1;
    }
    None
}

/// The first `YYYY-MM-DD[T ]HH:MM:SS[.,fff][Z|±hh:mm]` in `s`.
fn find_timestamp(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let digit = |i: usize| i < b.len() && b[i].is_ascii_digit();
    for i in 0..b.len() {
        let date_ok = (0..4).all(|k| digit(i + k))
            && b.get(i + 4) == Some(&b'-')
            && digit(i + 5)
            && digit(i + 6)
            && b.get(i + 7) == Some(&b'-')
            && digit(i + 8)
            && digit(i + 9)
            && matches!(b.get(i + 10), Some(b'T' | b' '))
            && digit(i + 11)
            && digit(i + 12)
            && b.get(i + 13) == Some(&b':');
        if !date_ok {
            continue;
        }
        let mut end = i + 19.min(b.len() - i);
        if matches!(b.get(end), Some(b'.' | b',')) {
            end += 1;
            while digit(end) {
                end += 1;
            }
        }
        if b.get(end) == Some(&b'Z') {
            end += 1;
        } else if matches!(b.get(end), Some(b'+' | b'-')) && digit(end + 1) && digit(end + 2) {
            end += 3;
            if b.get(end) == Some(&b':') && digit(end + 1) {
                end += 3;
            } else if digit(end) && digit(end + 1) {
                end += 2;
            }
        }
        return Some(&s[i..end.min(b.len())]);
    }
    None
}

/// Direction words in a log prefix, read from the back-office's side
/// (SteVe `Received:`/`Sending:`, python-ocpp `receive message`/`send`).
fn log_direction(prefix: &str) -> Option<Dir> {
    let p = prefix.to_ascii_lowercase();
    if p.contains("->") {
        return Some(Dir::FromCp);
    }
    if p.contains("<-") {
        return Some(Dir::ToCp);
    }
    let words: Vec<&str> = p
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for w in words.iter().rev() {
        match *w {
            "in" | "received" | "receive" | "recv" | "rx" => return Some(Dir::FromCp),
            "out" | "sending" | "send" | "sent" | "tx" => return Some(Dir::ToCp),
            _ => {}
        }
    }
    None
}

/// A charge point id written in the log line itself: SteVe's
/// `chargeBoxId=ID`, or python-ocpp's `ID: receive message` / `ID: send`.
fn cp_in_prefix(prefix: &str) -> Option<&str> {
    if let Some(i) = prefix.find("chargeBoxId=") {
        let rest = &prefix[i + "chargeBoxId=".len()..];
        let end = rest.find([',', ']', ' ']).unwrap_or(rest.len());
        return Some(&rest[..end]).filter(|s| !s.is_empty());
    }
    for marker in [": receive message", ": send"] {
        if let Some(i) = prefix.find(marker) {
            let before = &prefix[..i];
            let start = before.rfind([' ', ':', ']']).map_or(0, |j| j + 1);
            return Some(&before[start..]).filter(|s| !s.is_empty());
        }
    }
    None
}

fn hash_text(s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn id_text(raw: &RawValue) -> Result<String, LineError> {
    let v: serde_json::Value =
        serde_json::from_str(raw.get()).map_err(|e| LineError::Bad(e.to_string()))?;
    match v {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(LineError::Bad(format!(
            "message id {other} is not a string"
        ))),
    }
}

/// Parse an OCPP-J frame array.
pub fn parse_frame(
    text: &str,
    ctx: &LineContext,
    cp: Arc<str>,
    recv: DateTime<Utc>,
    dir: Option<Dir>,
    proto: Option<Proto>,
) -> Result<Frame, LineError> {
    let parts: Vec<&RawValue> = serde_json::from_str(text)
        .map_err(|e| LineError::Bad(format!("not an OCPP-J frame (a JSON array): {e}")))?;
    let type_id: u8 = parts
        .first()
        .and_then(|p| p.get().trim().parse().ok())
        .ok_or_else(|| {
            LineError::Bad("the frame does not start with a MessageTypeId (2, 3 or 4)".into())
        })?;
    let arity = |n: usize, name: &str| -> Result<(), LineError> {
        if parts.len() == n {
            Ok(())
        } else {
            Err(LineError::Bad(format!(
                "a {name} frame has {n} elements, this one has {}",
                parts.len()
            )))
        }
    };
    let body = match type_id {
        // 6 is OCPP 2.1's SEND: a CALL without a response.
        2 | 6 => {
            arity(4, if type_id == 2 { "CALL" } else { "SEND" })?;
            let action: String = serde_json::from_str(parts[2].get())
                .map_err(|_| LineError::Bad("the action is not a string".into()))?;
            if !is_known(&action) {
                return Err(LineError::Bad(format!("unknown action '{action}'")));
            }
            let call = parse_call(&action, parts[3].get())?;
            Body::Call {
                action: intern(&action),
                call,
            }
        }
        3 => {
            arity(3, "CALLRESULT")?;
            let info: ResultInfo = serde_json::from_str(parts[2].get()).unwrap_or_default();
            Body::Result((info != ResultInfo::default()).then(|| Box::new(info)))
        }
        // 5 is OCPP 2.1's CALLRESULTERROR.
        4 | 5 => {
            if parts.len() < 4 {
                return Err(LineError::Bad(format!(
                    "a CALLERROR frame has 5 elements, this one has {}",
                    parts.len()
                )));
            }
            let code: String = serde_json::from_str(parts[2].get()).unwrap_or_default();
            let description: String = serde_json::from_str(parts[3].get()).unwrap_or_default();
            Body::Error { code, description }
        }
        other => return Err(LineError::Bad(format!("unknown MessageTypeId {other}"))),
    };
    let id = id_text(parts[1])?;
    let dir = match &body {
        Body::Call { action, .. } => call_direction(action).or(dir),
        _ => dir,
    };
    Ok(Frame {
        file: ctx.file,
        line: ctx.line,
        recv,
        cp,
        dir,
        proto,
        id,
        body,
        hash: hash_text(text),
    })
}

fn typed<'a, T: Deserialize<'a>>(action: &str, payload: &'a str) -> Result<T, LineError> {
    serde_json::from_str(payload).map_err(|e| LineError::Bad(format!("{action}: {e}")))
}

/// Normalise a message's sampled values now and drop their raw form: a
/// value that is not a number refuses the frame rather than half-using it.
fn compact(action: &str, values: &mut Vec<MeterValue>) -> Result<Samples, LineError> {
    let samples =
        normalise_all(values).map_err(|why| LineError::Bad(format!("{action}: {why}")))?;
    *values = Vec::new();
    Ok(samples)
}

fn parse_call(action: &str, payload: &str) -> Result<Call, LineError> {
    Ok(match action {
        "StartTransaction" => {
            let s: StartTransaction = typed(action, payload)?;
            if s.meter_start.value().is_none() {
                return Err(LineError::Bad(format!(
                    "StartTransaction: meterStart '{}' is not a number",
                    s.meter_start.text()
                )));
            }
            Call::StartTransaction(Box::new(s))
        }
        "StopTransaction" => {
            let mut s: StopTransaction = typed(action, payload)?;
            if s.meter_stop.value().is_none() {
                return Err(LineError::Bad(format!(
                    "StopTransaction: meterStop '{}' is not a number",
                    s.meter_stop.text()
                )));
            }
            s.samples = compact(action, &mut s.transaction_data)?;
            Call::StopTransaction(Box::new(s))
        }
        "MeterValues" => {
            let mut m: MeterValues = typed(action, payload)?;
            m.samples = compact(action, &mut m.meter_value)?;
            Call::MeterValues(Box::new(m))
        }
        "TransactionEvent" => {
            let mut t: TransactionEvent = typed(action, payload)?;
            t.samples = compact(action, &mut t.meter_value)?;
            Call::TransactionEvent(Box::new(t))
        }
        "StatusNotification" => Call::StatusNotification(Box::new(typed(action, payload)?)),
        "Authorize" => Call::Authorize(Box::new(typed(action, payload)?)),
        "BootNotification" => Call::BootNotification(Box::new(typed(action, payload)?)),
        "Heartbeat" => Call::Heartbeat,
        "NotifyEvent" => Call::NotifyEvent(Box::new(typed(action, payload)?)),
        _ => Call::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> LineContext<'static> {
        LineContext {
            file: 0,
            line: 1,
            cp: None,
            proto: None,
            tz: None,
        }
    }

    #[test]
    fn envelope_lines() {
        let mut i = Interner::default();
        let f = parse_envelope_line(
            r#"{"ts":"2024-01-30T14:29:16.767Z","cp":"CP001","dir":"in","proto":"ocpp1.6","msg":[2,"585855959","StopTransaction",{"meterStop":2259988,"timestamp":"2024-01-30T14:29:16Z","idTag":"XXXXXX","transactionData":[],"reason":"Local","transactionId":1706601047}]}"#,
            &ctx(),
            &mut i,
        )
        .unwrap();
        assert_eq!(&*f.cp, "CP001");
        assert_eq!(f.dir, Some(Dir::FromCp));
        assert_eq!(f.proto, Some(Proto::V16));
        assert!(
            matches!(&f.body, Body::Call { call: Call::StopTransaction(s), .. } if s.transaction_id.0 == "1706601047")
        );
        // msg as a string holding the frame, CitrineOS-style keys.
        let f = parse_envelope_line(
            r#"{"timestamp":"2024-01-30T14:29:17Z","stationId":"CP9","origin":"csms","protocol":"ocpp2.0.1","message":"[3,\"a1\",{}]"}"#,
            &ctx(),
            &mut i,
        )
        .unwrap();
        assert_eq!(
            (&*f.cp, f.dir, f.proto),
            ("CP9", Some(Dir::ToCp), Some(Proto::V201))
        );
    }

    #[test]
    fn bad_frames_say_why() {
        let mut i = Interner::default();
        let mut bad = |line: &str| match parse_envelope_line(line, &ctx(), &mut i) {
            Err(LineError::Bad(why)) => why,
            other => panic!("{line}: {other:?}"),
        };
        assert!(
            bad(r#"{"ts":"2024-01-30T14:29:16Z","cp":"A","msg":[2,"1","Heartbeat"]}"#)
                .contains("4 elements")
        );
        assert!(
            bad(r#"{"ts":"2024-01-30T14:29:16Z","cp":"A","msg":[2,"1","Frobnicate",{}]}"#)
                .contains("unknown action")
        );
        assert!(
            bad(r#"{"ts":"2024-01-30T14:29:16Z","cp":"A","msg":[9,"1",{}]}"#)
                .contains("MessageTypeId 9")
        );
        assert!(bad(r#"{"ts":"2024-01-30T14:29:16Z","cp":"A","msg":[2,"1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2024-01-30T14:29:16Z","sampledValue":[{"value":"abc"}]}]}]}"#).contains("'abc' is not a number"));
        assert!(bad(r#"{"ts":"2024-01-30T14:29:16Z","cp":"A","msg":[2,"1","StartTransaction",{"connectorId":1}]}"#).contains("missing field"));
        assert!(
            bad(r#"{"ts":"2024-01-30T14:29:16Z","cp":"A","msg":[2,"1","#)
                .contains("not a JSON envelope")
        );
        assert_eq!(
            parse_envelope_line("   ", &ctx(), &mut i).unwrap_err(),
            LineError::Skip
        );
    }

    #[test]
    fn log_lines_of_several_servers() {
        let mut i = Interner::default();
        let cp: Arc<str> = Arc::from("FILE-CP");
        let mut c = ctx();
        c.cp = Some(&cp);
        let f = parse_log_line(r#"2026-10-26T07:00:00.040Z -> [2,"1","BootNotification",{"chargePointModel":"WiFi-v1","chargePointVendor":"OpenEVSE"}]"#, &c, &mut i).unwrap();
        assert_eq!((&*f.cp, f.dir), ("FILE-CP", Some(Dir::FromCp)));
        let f = parse_log_line(r#"2026-10-26T07:00:00.080Z <- [3,"1",{"status":"Accepted","currentTime":"x","interval":60}]"#, &c, &mut i).unwrap();
        assert_eq!(f.dir, Some(Dir::ToCp));
        let f = parse_log_line("2026-10-26T07:00:00Z out [4,\"9\",\"FormationViolation\",\"Unable to process action\",{}]", &c, &mut i).unwrap();
        assert!(matches!(f.body, Body::Error { ref code, .. } if code == "FormationViolation"));
        // SteVe: server-local time with a comma, charge point in the line.
        c.tz = Some("Europe/Berlin".parse().unwrap());
        let f = parse_log_line(r#"[INFO ] 2022-05-02 11:56:00,461 de.rwth.idsg.steve.ocpp.ws.WebSocketLogger - [chargeBoxId=lesbos_left, sessionId=d450611f] Received: [2,"8e35","Authorize",{"idTag":"1ec11c60"}]"#, &c, &mut i).unwrap();
        assert_eq!((&*f.cp, f.dir), ("lesbos_left", Some(Dir::FromCp)));
        assert_eq!(timeutil::format_utc(f.recv), "2022-05-02T09:56:00.461Z");
        // Home Assistant / python-ocpp, with spaces after commas.
        let f = parse_log_line(r#"2024-01-30 15:29:16.767 INFO (MainThread) [ocpp] YYYY: receive message [2, "585855959", "Heartbeat", {}]"#, &c, &mut i).unwrap();
        assert_eq!(&*f.cp, "YYYY");
        // Other log output is not a frame; naive times without --tz are fatal.
        assert_eq!(
            parse_log_line("2024-01-30 15:29:16 INFO started", &c, &mut i).unwrap_err(),
            LineError::NotAFrame
        );
        c.tz = None;
        assert!(matches!(
            parse_log_line(
                r#"2024-01-30 15:29:16 -> [2,"1","Heartbeat",{}]"#,
                &c,
                &mut i
            ),
            Err(LineError::Fatal(_))
        ));
    }

    #[test]
    fn protocol_names() {
        assert_eq!(Proto::parse("ocpp1.6"), Some(Proto::V16));
        assert_eq!(Proto::parse("OCPP2.0.1"), Some(Proto::V201));
        assert_eq!(Proto::parse("1.6"), Some(Proto::V16));
        assert_eq!(Proto::parse("ocpp9"), None);
    }
}
