//! OCPP payloads as evmon reads them: one struct per action holding the
//! fields of both 1.6 and 2.0.1 (so parsing never depends on guessing the
//! version first), and sampled values normalised to Wh / W / A / V.
//!
//! Defaults follow the specs (reference §1.2, §2.1): a missing measurand is
//! `Energy.Active.Import.Register`, a missing unit is `Wh` for energy, a
//! missing context is `Sample.Periodic`; 2.0.1 values are scaled by
//! `10^multiplier`. Values may arrive as JSON strings or numbers in either
//! version (chargers differ from the schemas).

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A number that may be sent as a JSON number or a string.
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num::Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num::Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                Ok(Num::Text(v.to_string()))
            }
            // serde_json built with `arbitrary_precision` (another crate in
            // the build may turn it on) hands numbers over as a one-entry map
            // holding the number's text.
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Num, A::Error> {
                let (_, text): (String, String) = map
                    .next_entry()?
                    .ok_or_else(|| de::Error::custom("an empty object is not a number"))?;
                Ok(text.parse().map(Num::Number).unwrap_or(Num::Text(text)))
            }
        }
        d.deserialize_any(V)
    }
}

impl Num {
    /// The value as a finite number, if it is one.
    pub fn value(&self) -> Option<f64> {
        let v = match self {
            Num::Number(n) => *n,
            Num::Text(s) => s.trim().parse().ok()?,
        };
        v.is_finite().then_some(v)
    }

    pub fn text(&self) -> String {
        match self {
            Num::Number(n) => n.to_string(),
            Num::Text(s) => s.clone(),
        }
    }
}

/// An id that may be sent as a JSON number (1.6 transactionId) or a string
/// (2.0.1 transactionId). Kept as text everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        Ok(match Num::deserialize(d)? {
            Num::Number(n) if n.fract() == 0.0 && n.abs() < 1e18 => Id(format!("{}", n as i64)),
            Num::Number(n) => Id(n.to_string()),
            Num::Text(s) => Id(s),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitOfMeasure {
    pub unit: Option<String>,
    pub multiplier: Option<i32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampledValue {
    pub value: Num,
    pub context: Option<String>,
    pub format: Option<String>,
    pub measurand: Option<String>,
    pub phase: Option<String>,
    pub location: Option<String>,
    /// 1.6
    pub unit: Option<String>,
    /// 2.0.1
    pub unit_of_measure: Option<UnitOfMeasure>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValue {
    pub timestamp: String,
    #[serde(default)]
    pub sampled_value: Vec<SampledValue>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdToken {
    pub id_token: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evse {
    pub id: i32,
    pub connector_id: Option<i32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionInfo {
    pub transaction_id: Id,
    pub charging_state: Option<String>,
    pub time_spent_charging: Option<i64>,
    pub stopped_reason: Option<String>,
}

/// 1.6 StartTransaction.req
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTransaction {
    pub connector_id: i32,
    pub id_tag: String,
    pub meter_start: Num,
    pub timestamp: String,
}

/// 1.6 StopTransaction.req
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopTransaction {
    pub transaction_id: Id,
    pub meter_stop: Num,
    pub timestamp: String,
    pub id_tag: Option<String>,
    pub reason: Option<String>,
    #[serde(default)]
    pub transaction_data: Vec<MeterValue>,
    /// `transaction_data`, normalised (the raw form is dropped after parsing).
    #[serde(skip)]
    pub samples: Samples,
}

/// MeterValues.req, 1.6 (connectorId, transactionId) or 2.0.1 (evseId).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValues {
    pub connector_id: Option<i32>,
    pub evse_id: Option<i32>,
    pub transaction_id: Option<Id>,
    #[serde(default)]
    pub meter_value: Vec<MeterValue>,
    #[serde(skip)]
    pub samples: Samples,
}

/// 2.0.1 TransactionEvent.req
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionEvent {
    pub event_type: String,
    pub timestamp: String,
    pub trigger_reason: Option<String>,
    pub seq_no: Option<i64>,
    pub transaction_info: TransactionInfo,
    pub offline: Option<bool>,
    pub evse: Option<Evse>,
    pub id_token: Option<IdToken>,
    #[serde(default)]
    pub meter_value: Vec<MeterValue>,
    #[serde(skip)]
    pub samples: Samples,
}

/// StatusNotification.req, 1.6 (status, errorCode) or 2.0.1 (connectorStatus).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusNotification {
    pub connector_id: Option<i32>,
    pub evse_id: Option<i32>,
    pub status: Option<String>,
    pub connector_status: Option<String>,
    pub error_code: Option<String>,
    pub info: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
    pub timestamp: Option<String>,
}

/// Authorize.req: 1.6 idTag or 2.0.1 idToken.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorize {
    pub id_tag: Option<String>,
    pub id_token: Option<IdToken>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingStation {
    pub model: Option<String>,
    pub vendor_name: Option<String>,
    pub firmware_version: Option<String>,
    pub serial_number: Option<String>,
}

/// BootNotification.req, both versions.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotification {
    pub charge_point_vendor: Option<String>,
    pub charge_point_model: Option<String>,
    pub firmware_version: Option<String>,
    pub charge_point_serial_number: Option<String>,
    pub reason: Option<String>,
    pub charging_station: Option<ChargingStation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    pub timestamp: String,
    pub actual_value: Option<String>,
    pub tech_code: Option<String>,
    pub tech_info: Option<String>,
    pub cleared: Option<bool>,
    pub component: Option<Component>,
    pub variable: Option<Named>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub name: String,
    pub evse: Option<Evse>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub name: String,
}

/// 2.0.1 NotifyEvent.req
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyEvent {
    #[serde(default)]
    pub event_data: Vec<EventData>,
}

/// What evmon keeps of any CALLRESULT: enough to finish the CALL it answers.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultInfo {
    /// StartTransaction.conf
    pub transaction_id: Option<Id>,
    /// idTagInfo (1.6) or idTokenInfo (2.0.1)
    pub id_tag_info: Option<TagInfo>,
    pub id_token_info: Option<TagInfo>,
    /// BootNotification.conf
    pub status: Option<serde_json::Value>,
    pub interval: Option<i64>,
    pub heartbeat_interval: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TagInfo {
    pub status: Option<String>,
}

impl ResultInfo {
    /// The authorization status the back-office answered, if any.
    pub fn auth_status(&self) -> Option<&str> {
        self.id_tag_info
            .as_ref()
            .or(self.id_token_info.as_ref())
            .and_then(|t| t.status.as_deref())
    }

    /// BootNotification.conf status (a plain string there).
    pub fn boot_status(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.as_str())
    }

    /// BootNotification.conf heartbeat interval, accepting SteVe's name.
    pub fn heartbeat_interval(&self) -> Option<i64> {
        self.interval.or(self.heartbeat_interval)
    }
}

/// A sampled value, normalised. Text fields are interned: millions of
/// samples share a handful of strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub ts: DateTime<Utc>,
    pub measurand: Arc<str>,
    pub phase: Option<Arc<str>>,
    pub context: Option<Arc<str>>,
    /// In `unit` (Wh, W, A, V, varh, var, VA, VAh, Hz, %, or as sent).
    pub value: f64,
    pub unit: Arc<str>,
}

/// The normalised samples of a message, and how many signed values
/// (which carry no plain number) were skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub values: Vec<Sample>,
    pub signed: u32,
}

thread_local! {
    static INTERNED: RefCell<HashSet<Arc<str>>> = RefCell::new(HashSet::new());
}

/// One shared copy of each distinct string.
pub fn intern(s: &str) -> Arc<str> {
    INTERNED.with(|set| {
        let mut set = set.borrow_mut();
        if let Some(a) = set.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        set.insert(a.clone());
        a
    })
}

/// Normalise every sampled value of `values`; a value that is not a number
/// fails the whole message (it is refused, not half-used).
pub fn normalise_all(values: &[MeterValue]) -> Result<Samples, String> {
    let mut out = Samples::default();
    for mv in values {
        let ts = match crate::timeutil::parse_timestamp(
            &mv.timestamp,
            crate::timeutil::DateOrder::Ymd,
        ) {
            Ok(crate::timeutil::Stamp::Absolute(t)) => t,
            // OCPP times must carry an offset; a naive one is read as UTC.
            Ok(crate::timeutil::Stamp::Naive(n)) => DateTime::from_naive_utc_and_offset(n, Utc),
            Err(e) => return Err(format!("meterValue timestamp: {e}")),
        };
        for sv in &mv.sampled_value {
            match normalise(sv, ts) {
                Ok(s) => out.values.push(s),
                Err(SampleError::Signed) => out.signed += 1,
                Err(SampleError::Bad(why)) => return Err(why),
            }
        }
    }
    Ok(out)
}

pub const ENERGY_REGISTER: &str = "Energy.Active.Import.Register";
pub const POWER_IMPORT: &str = "Power.Active.Import";

/// Why a sampled value cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleError {
    /// Signed meter data (1.6 `format: SignedData`): skipped, not an error.
    Signed,
    Bad(String),
}

/// The largest magnitude a sampled value may have in its base unit.
pub const MAX_SAMPLE: f64 = 1e12;

/// Normalise one sampled value: defaults applied, unit and multiplier
/// turned into a base unit.
pub fn normalise(sv: &SampledValue, ts: DateTime<Utc>) -> Result<Sample, SampleError> {
    if sv.format.as_deref() == Some("SignedData") {
        return Err(SampleError::Signed);
    }
    let raw = sv.value.value().ok_or_else(|| {
        SampleError::Bad(format!(
            "sampled value '{}' is not a number",
            sv.value.text()
        ))
    })?;
    let measurand = sv.measurand.as_deref().unwrap_or(ENERGY_REGISTER);
    let (unit, multiplier) = match &sv.unit_of_measure {
        Some(u) => (u.unit.as_deref(), u.multiplier.unwrap_or(0)),
        None => (sv.unit.as_deref(), 0),
    };
    let unit = unit.unwrap_or_else(|| default_unit(measurand));
    if !(-9..=9).contains(&multiplier) {
        return Err(SampleError::Bad(format!(
            "unit multiplier {multiplier} is out of range"
        )));
    }
    let (base, factor) = base_unit(unit);
    let value = raw * factor * 10f64.powi(multiplier);
    // A register of a terawatt-hour, or a terawatt, is a broken meter or a
    // corrupted frame; refusing it keeps every sum downstream finite.
    if !value.is_finite() || value.abs() > MAX_SAMPLE {
        return Err(SampleError::Bad(format!(
            "sampled value '{}' {unit} is out of range (more than 1e12 {base})",
            sv.value.text()
        )));
    }
    // Sub-mWh noise from kWh→Wh conversions helps nobody.
    let value = (value * 1000.0).round() / 1000.0;
    Ok(Sample {
        ts,
        measurand: intern(measurand),
        phase: sv.phase.as_deref().map(intern),
        context: sv.context.as_deref().map(intern),
        value,
        unit: intern(base),
    })
}

fn default_unit(measurand: &str) -> &'static str {
    if measurand.starts_with("Energy.Reactive") {
        "varh"
    } else if measurand.starts_with("Energy") {
        "Wh"
    } else if measurand.starts_with("Power.Reactive") {
        "var"
    } else if measurand.starts_with("Power.Factor") {
        ""
    } else if measurand.starts_with("Power") {
        "W"
    } else if measurand.starts_with("Current") {
        "A"
    } else if measurand.starts_with("Voltage") {
        "V"
    } else if measurand.starts_with("SoC") {
        "Percent"
    } else if measurand.starts_with("Frequency") {
        "Hertz"
    } else {
        ""
    }
}

/// The base unit and the factor to it: `kWh` -> (`Wh`, 1000).
fn base_unit(unit: &str) -> (&str, f64) {
    let (base, factor) = match unit {
        "Wh" | "WH" | "wh" => ("Wh", 1.0),
        "kWh" | "KWH" | "kwh" | "KWh" => ("Wh", 1000.0),
        "W" | "w" => ("W", 1.0),
        "kW" | "KW" | "kw" => ("W", 1000.0),
        "varh" => ("varh", 1.0),
        "kvarh" => ("varh", 1000.0),
        "var" => ("var", 1.0),
        "kvar" => ("var", 1000.0),
        "VA" => ("VA", 1.0),
        "kVA" => ("VA", 1000.0),
        "VAh" => ("VAh", 1.0),
        "kVAh" => ("VAh", 1000.0),
        "A" => ("A", 1.0),
        "V" => ("V", 1.0),
        "Percent" | "%" => ("%", 1.0),
        "Hertz" | "Hz" => ("Hz", 1.0),
        "Celcius" | "Celsius" => ("Celsius", 1.0),
        other => (other, 1.0),
    };
    (base, factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(json: &str) -> SampledValue {
        serde_json::from_str(json).unwrap()
    }

    fn t() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-10-25T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn defaults_units_and_multipliers() {
        let s = normalise(&sv(r#"{"value":"3792380"}"#), t()).unwrap();
        assert_eq!(
            (&*s.measurand, &*s.unit, s.value),
            (ENERGY_REGISTER, "Wh", 3_792_380.0)
        );
        let s = normalise(
            &sv(r#"{"value":"880.512","unit":"kWh","measurand":"Energy.Active.Import.Register"}"#),
            t(),
        )
        .unwrap();
        assert_eq!(s.value, 880_512.0);
        let s = normalise(&sv(r#"{"value":1236.4,"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"Wh","multiplier":3}}"#), t()).unwrap();
        assert_eq!(s.value, 1_236_400.0);
        let s = normalise(
            &sv(r#"{"value":"7.2","measurand":"Power.Active.Import","unit":"kW"}"#),
            t(),
        )
        .unwrap();
        assert_eq!((&*s.unit, s.value), ("W", 7200.0));
        // A number in 1.6 (OpenEVSE) is fine.
        let s = normalise(&sv(r#"{"value":52000}"#), t()).unwrap();
        assert_eq!(s.value, 52_000.0);
        assert!(matches!(
            normalise(&sv(r#"{"value":"abc"}"#), t()),
            Err(SampleError::Bad(_))
        ));
        assert_eq!(
            normalise(&sv(r#"{"value":"0A1B","format":"SignedData"}"#), t()),
            Err(SampleError::Signed)
        );
        let s = normalise(
            &sv(r#"{"value":"231.4","measurand":"Voltage","phase":"L1-N"}"#),
            t(),
        )
        .unwrap();
        assert_eq!((&*s.unit, s.phase.as_deref()), ("V", Some("L1-N")));
    }

    #[test]
    fn ids_are_text_in_both_versions() {
        let m: MeterValues =
            serde_json::from_str(r#"{"connectorId":1,"transactionId":25,"meterValue":[]}"#)
                .unwrap();
        assert_eq!(m.transaction_id, Some(Id("25".into())));
        let r: ResultInfo = serde_json::from_str(
            r#"{"transactionId":1706601047,"idTagInfo":{"status":"Blocked"}}"#,
        )
        .unwrap();
        assert_eq!(r.transaction_id, Some(Id("1706601047".into())));
        assert_eq!(r.auth_status(), Some("Blocked"));
        let r: ResultInfo = serde_json::from_str(
            r#"{"status":"Accepted","currentTime":"x","heartbeatInterval":60}"#,
        )
        .unwrap();
        assert_eq!(
            (r.boot_status(), r.heartbeat_interval()),
            (Some("Accepted"), Some(60))
        );
    }
}
