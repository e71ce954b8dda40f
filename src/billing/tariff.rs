//! Tariffs: evmon's TOML format and OCPI 2.2.1 (and 2.1.1) Tariff JSON, both
//! read into one model with OCPI semantics: elements in order, each with
//! price components and restrictions, looked up per dimension (the first
//! element whose restrictions match and that prices the dimension wins).
//!
//! evmon TOML adds what OCPI cannot say: an idle grace period and cap,
//! discounts, which stations a tariff covers, and customers.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::de::{self, Deserializer};
use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TariffError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Check { path: String, message: String },
}

/// What a price component charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// Per kWh.
    Energy,
    /// Per hour while charging.
    Time,
    /// Per hour plugged in after charging ended (OCPI PARKING_TIME).
    Parking,
    /// Once per session.
    Flat,
}

impl Dimension {
    pub fn ocpi(self) -> &'static str {
        match self {
            Dimension::Energy => "ENERGY",
            Dimension::Time => "TIME",
            Dimension::Parking => "PARKING_TIME",
            Dimension::Flat => "FLAT",
        }
    }

    pub const ALL: [Dimension; 4] = [
        Dimension::Energy,
        Dimension::Time,
        Dimension::Parking,
        Dimension::Flat,
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub dimension: Dimension,
    /// Per kWh, per hour, or per session; excluding VAT.
    pub price: Decimal,
    /// VAT percentage; `None` = no VAT applies.
    pub vat: Option<Decimal>,
    /// OCPI step_size: Wh for energy, seconds for time.
    pub step_size: u32,
}

/// When an element applies (all set fields must match: logical AND).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restrictions {
    pub start_time: Option<NaiveTime>,
    /// Exclusive; `end < start` wraps past midnight; 00:00 means end of day.
    pub end_time: Option<NaiveTime>,
    /// Local date, inclusive.
    pub start_date: Option<NaiveDate>,
    /// Local date, exclusive.
    pub end_date: Option<NaiveDate>,
    /// evmon seasons: months of the year (1-12).
    pub months: Option<Vec<u32>>,
    pub min_kwh: Option<Decimal>,
    pub max_kwh: Option<Decimal>,
    pub min_power_kw: Option<Decimal>,
    pub max_power_kw: Option<Decimal>,
    pub min_duration_s: Option<i64>,
    pub max_duration_s: Option<i64>,
    pub days: Option<Vec<Weekday>>,
    /// OCPI reservation elements price reservations, never sessions.
    pub reservation: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Shown on invoice lines (`peak`, `off-peak`, `element 2`).
    pub name: String,
    pub components: Vec<Component>,
    pub restrictions: Restrictions,
}

/// A discount on a session's net amount.
#[derive(Debug, Clone, PartialEq)]
pub struct Discount {
    pub name: String,
    /// Glob on the id tag (`*` and `?`).
    pub id_tag: Option<String>,
    pub customer: Option<String>,
    pub percent: Option<Decimal>,
    pub per_kwh: Option<Decimal>,
}

impl Discount {
    pub fn matches(&self, id_tag: Option<&str>, customer: Option<&str>) -> bool {
        let tag_ok = self
            .id_tag
            .as_deref()
            .is_none_or(|p| id_tag.is_some_and(|t| glob_match(p, t)));
        let customer_ok = self.customer.as_deref().is_none_or(|c| customer == Some(c));
        tag_ok && customer_ok
    }
}

/// `*` matches any run of characters, `?` any one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Where a tariff came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Toml,
    Ocpi,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tariff {
    pub id: String,
    pub origin: Origin,
    pub currency: String,
    /// Digits after the decimal point of the currency's minor unit.
    pub minor_units: u32,
    /// Zone the restrictions are read in; `None` = the station's.
    pub timezone: Option<Tz>,
    /// Station id globs this tariff covers (empty with no sites = all).
    pub stations: Vec<String>,
    pub sites: Vec<String>,
    /// OCPI validity (UTC).
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub elements: Vec<Element>,
    /// Excluding VAT.
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    /// Idle time not billed after charging ends (evmon only).
    pub idle_grace_s: i64,
    /// Most the idle part of a session can cost (evmon only).
    pub idle_cap: Option<Decimal>,
    pub discounts: Vec<Discount>,
    /// What pricing works out once from the fields above (see
    /// `engine::Plan`), on first use: a tariff changed after it has priced
    /// a session keeps its plan, so change a copy (which plans afresh).
    pub(crate) plan: super::engine::PlanCell,
}

impl Tariff {
    /// Whether the tariff covers this station and session start.
    pub fn covers(&self, station: &str, site: Option<&str>, start: DateTime<Utc>) -> bool {
        let valid = self.valid_from.is_none_or(|f| start >= f)
            && self.valid_until.is_none_or(|u| start < u);
        let scoped = !self.stations.is_empty() || !self.sites.is_empty();
        let matched = self.stations.iter().any(|p| glob_match(p, station))
            || site.is_some_and(|s| self.sites.iter().any(|x| x == s));
        valid && (!scoped || matched)
    }

    pub fn is_scoped(&self) -> bool {
        !self.stations.is_empty() || !self.sites.is_empty()
    }
}

/// Tariffs of one file, plus the id tag → customer mapping.
#[derive(Debug, Clone, Default)]
pub struct TariffSet {
    pub tariffs: Vec<Tariff>,
    pub customers: HashMap<String, String>,
}

impl TariffSet {
    /// The tariff for a session: the first scoped tariff that covers it,
    /// else the first unscoped one.
    pub fn pick(&self, station: &str, site: Option<&str>, start: DateTime<Utc>) -> Option<&Tariff> {
        self.tariffs
            .iter()
            .find(|t| t.is_scoped() && t.covers(station, site, start))
            .or_else(|| {
                self.tariffs
                    .iter()
                    .find(|t| !t.is_scoped() && t.covers(station, site, start))
            })
    }
}

/// Minor unit digits of ISO 4217 currencies (2 unless listed).
pub fn minor_units(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" | "XAF" | "XOF" | "PYG" | "UGX" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
        _ => 2,
    }
}

// ----------------------------------------------------------------------------
// Value types with checked parsing, so a wrong value is reported at its line.

/// The largest price, fee, cap, VAT rate or discount a tariff may give.
pub const MAX_AMOUNT: u64 = 1_000_000_000;

/// A non-negative amount, from a TOML/JSON number or string, exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Amount(Decimal);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            // The shortest text of a float reads back exactly (0.3, not 0.2999...).
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
                Ok(format!("{v}"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_string())
            }
            // serde_json with `arbitrary_precision` hands numbers over as a
            // one-entry map holding the number's text.
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
                let (_, v): (String, String) = map
                    .next_entry()?
                    .ok_or_else(|| de::Error::custom("empty object instead of a number"))?;
                Ok(v)
            }
        }
        let text = d.deserialize_any(V)?;
        let v = Decimal::from_str(text.trim())
            .or_else(|_| Decimal::from_scientific(text.trim()))
            .map_err(|_| de::Error::custom(format!("'{text}' is not a number")))?;
        if v.is_sign_negative() && !v.is_zero() {
            return Err(de::Error::custom(format!("{v} is negative")));
        }
        // No real price, fee, cap or rate comes near this; bounding it keeps
        // every product the engine forms far inside Decimal's 28 digits.
        if v > Decimal::from(MAX_AMOUNT) {
            return Err(de::Error::custom(format!(
                "{v} is implausibly large (evmon accepts up to {MAX_AMOUNT})"
            )));
        }
        Ok(Amount(v.normalize()))
    }
}

/// `HH:MM`; `24:00` is accepted as the end of the day.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hhmm(NaiveTime);

impl<'de> Deserialize<'de> for Hhmm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim() == "24:00" {
            return Ok(Hhmm(NaiveTime::MIN));
        }
        NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .map(Hhmm)
            .map_err(|_| {
                de::Error::custom(format!("'{s}' is not a time of day HH:MM (00:00 to 23:59)"))
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Day(Weekday);

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let day = match s.trim().to_ascii_lowercase().as_str() {
            "mon" | "monday" => Weekday::Mon,
            "tue" | "tuesday" => Weekday::Tue,
            "wed" | "wednesday" => Weekday::Wed,
            "thu" | "thursday" => Weekday::Thu,
            "fri" | "friday" => Weekday::Fri,
            "sat" | "saturday" => Weekday::Sat,
            "sun" | "sunday" => Weekday::Sun,
            _ => {
                return Err(de::Error::custom(format!(
                    "'{s}' is not a day (mon, tue, ... sun)"
                )))
            }
        };
        Ok(Day(day))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Date(NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Date)
            .map_err(|_| de::Error::custom(format!("'{s}' is not a date YYYY-MM-DD")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Zone(Tz);

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.trim().parse::<Tz>().map(Zone).map_err(|_| {
            de::Error::custom(format!(
                "'{s}' is not an IANA time zone (e.g. Europe/Amsterdam)"
            ))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Currency([u8; 3]);

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let b = s.trim().as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(Currency([b[0], b[1], b[2]]))
        } else {
            Err(de::Error::custom(format!(
                "'{s}' is not an ISO 4217 currency code (EUR, USD, GBP, ...)"
            )))
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.0).unwrap_or("???"))
    }
}

// ----------------------------------------------------------------------------
// evmon TOML

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    /// CSV `id_tag,customer` mapping tags to customers.
    customers: Option<String>,
    /// Only `half-up` (the stated rule) is accepted.
    rounding: Option<String>,
    tariff: Vec<TomlTariff>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlTariff {
    id: String,
    currency: Currency,
    /// VAT percentage for every component.
    vat: Option<Amount>,
    timezone: Option<Zone>,
    #[serde(default)]
    stations: Vec<String>,
    #[serde(default)]
    sites: Vec<String>,
    session_fee: Option<Amount>,
    min_price: Option<Amount>,
    max_price: Option<Amount>,
    energy: Option<TomlEnergy>,
    time: Option<TomlTime>,
    idle: Option<TomlIdle>,
    #[serde(default)]
    discount: Vec<TomlDiscount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlEnergy {
    /// Price per kWh outside every window.
    price: Amount,
    #[serde(default)]
    window: Vec<TomlWindow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlWindow {
    name: String,
    price: Amount,
    start: Option<Hhmm>,
    end: Option<Hhmm>,
    days: Option<Vec<Day>>,
    months: Option<Vec<u32>>,
    from: Option<Date>,
    until: Option<Date>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlTime {
    /// Per hour while charging.
    price: Amount,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlIdle {
    /// Per hour plugged in after charging ended.
    price: Amount,
    #[serde(default)]
    grace_minutes: u32,
    cap: Option<Amount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlDiscount {
    name: Option<String>,
    id_tag: Option<String>,
    customer: Option<String>,
    percent: Option<Amount>,
    per_kwh: Option<Amount>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Read a tariff file: `.json` is OCPI, anything else evmon TOML.
pub fn load(path: &Path) -> Result<TariffSet, TariffError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TariffError::Io {
        path: name.clone(),
        source,
    })?;
    let mut set = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        parse_ocpi(&name, &text)?
    } else {
        parse_toml(&name, &text)?
    };
    if let Some(file) = set.customers.remove("\u{0}file") {
        let csv_path = path.parent().unwrap_or(Path::new(".")).join(&file);
        let customers = std::fs::read_to_string(&csv_path).map_err(|source| TariffError::Io {
            path: csv_path.display().to_string(),
            source,
        })?;
        set.customers = parse_customers(&csv_path.display().to_string(), &customers)?;
    }
    Ok(set)
}

/// Read `id_tag,customer` (header row required).
pub fn parse_customers(path: &str, text: &str) -> Result<HashMap<String, String>, TariffError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let err = |line: usize, message: String| TariffError::Invalid {
        path: path.to_string(),
        line,
        message,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| err(1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let tag = header
        .iter()
        .position(|h| h == "id_tag")
        .ok_or_else(|| err(1, "no id_tag column".into()))?;
    let customer = header
        .iter()
        .position(|h| h == "customer")
        .ok_or_else(|| err(1, "no customer column".into()))?;
    let mut out = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| err(i + 2, e.to_string()))?;
        if let (Some(t), Some(c)) = (record.get(tag), record.get(customer)) {
            if !t.trim().is_empty() {
                out.insert(t.trim().to_string(), c.trim().to_string());
            }
        }
    }
    Ok(out)
}

/// Parse evmon's TOML tariff format.
pub fn parse_toml(path: &str, text: &str) -> Result<TariffSet, TariffError> {
    let file: TomlFile = toml::from_str(text).map_err(|e| TariffError::Invalid {
        path: path.to_string(),
        line: e.span().map_or(0, |s| line_of(text, s.start)),
        message: e.message().to_string(),
    })?;
    let check = |message: String| TariffError::Check {
        path: path.to_string(),
        message,
    };
    if let Some(r) = &file.rounding {
        if r != "half-up" {
            return Err(check(format!("rounding = \"{r}\": evmon rounds each line half-up to the currency's minor unit; only \"half-up\" is accepted")));
        }
    }
    if file.tariff.is_empty() {
        return Err(check("no [[tariff]] table".into()));
    }
    let mut ids = std::collections::HashSet::new();
    let mut tariffs = Vec::new();
    for t in file.tariff {
        if !ids.insert(t.id.clone()) {
            return Err(check(format!("tariff id '{}' is used twice", t.id)));
        }
        let vat = t.vat.map(|v| v.0);
        if vat.is_some_and(|v| v > Decimal::ONE_HUNDRED) {
            return Err(check(format!(
                "tariff {}: vat {} is above 100 (give the rate in percent, e.g. 21)",
                t.id,
                vat.unwrap_or_default()
            )));
        }
        let mut elements = Vec::new();
        if let Some(e) = &t.energy {
            for w in &e.window {
                if let Some(m) = w
                    .months
                    .as_ref()
                    .and_then(|m| m.iter().find(|m| !(1..=12).contains(*m)))
                {
                    return Err(check(format!(
                        "tariff {}: window {}: month {m} is not 1-12",
                        t.id, w.name
                    )));
                }
                if w.start.is_some() != w.end.is_some() {
                    return Err(check(format!(
                        "tariff {}: window {}: give both start and end (HH:MM)",
                        t.id, w.name
                    )));
                }
                elements.push(Element {
                    name: w.name.clone(),
                    components: vec![Component {
                        dimension: Dimension::Energy,
                        price: w.price.0,
                        vat,
                        step_size: 1,
                    }],
                    restrictions: Restrictions {
                        start_time: w.start.map(|h| h.0),
                        end_time: w.end.map(|h| h.0),
                        start_date: w.from.map(|d| d.0),
                        end_date: w.until.map(|d| d.0 + chrono::Duration::days(1)),
                        months: w.months.clone(),
                        days: w.days.as_ref().map(|d| d.iter().map(|x| x.0).collect()),
                        ..Restrictions::default()
                    },
                });
            }
            elements.push(Element {
                name: "standard".into(),
                components: vec![Component {
                    dimension: Dimension::Energy,
                    price: e.price.0,
                    vat,
                    step_size: 1,
                }],
                restrictions: Restrictions::default(),
            });
        }
        if let Some(time) = &t.time {
            elements.push(Element {
                name: "charging time".into(),
                components: vec![Component {
                    dimension: Dimension::Time,
                    price: time.price.0,
                    vat,
                    step_size: 1,
                }],
                restrictions: Restrictions::default(),
            });
        }
        if let Some(idle) = &t.idle {
            elements.push(Element {
                name: "idle".into(),
                components: vec![Component {
                    dimension: Dimension::Parking,
                    price: idle.price.0,
                    vat,
                    step_size: 1,
                }],
                restrictions: Restrictions::default(),
            });
        }
        if let Some(fee) = t.session_fee {
            elements.push(Element {
                name: "session fee".into(),
                components: vec![Component {
                    dimension: Dimension::Flat,
                    price: fee.0,
                    vat,
                    step_size: 1,
                }],
                restrictions: Restrictions::default(),
            });
        }
        if let (Some(lo), Some(hi)) = (t.min_price, t.max_price) {
            if lo.0 > hi.0 {
                return Err(check(format!(
                    "tariff {}: min_price {} is above max_price {}",
                    t.id, lo.0, hi.0
                )));
            }
        }
        let mut discounts = Vec::new();
        for (i, d) in t.discount.into_iter().enumerate() {
            if d.percent.is_some() == d.per_kwh.is_some() {
                return Err(check(format!(
                    "tariff {}: discount {}: give either percent or per_kwh",
                    t.id,
                    i + 1
                )));
            }
            if d.percent.is_some_and(|p| p.0 > Decimal::ONE_HUNDRED) {
                return Err(check(format!(
                    "tariff {}: discount {}: percent is above 100",
                    t.id,
                    i + 1
                )));
            }
            if d.id_tag.is_none() && d.customer.is_none() {
                return Err(check(format!(
                    "tariff {}: discount {}: give id_tag (a pattern) or customer",
                    t.id,
                    i + 1
                )));
            }
            discounts.push(Discount {
                name: d.name.unwrap_or_else(|| format!("discount {}", i + 1)),
                id_tag: d.id_tag,
                customer: d.customer,
                percent: d.percent.map(|p| p.0),
                per_kwh: d.per_kwh.map(|p| p.0),
            });
        }
        let currency = t.currency.to_string();
        tariffs.push(Tariff {
            id: t.id,
            origin: Origin::Toml,
            minor_units: minor_units(&currency),
            currency,
            timezone: t.timezone.map(|z| z.0),
            stations: t.stations,
            sites: t.sites,
            valid_from: None,
            valid_until: None,
            elements,
            min_price: t.min_price.map(|p| p.0),
            max_price: t.max_price.map(|p| p.0),
            idle_grace_s: t
                .idle
                .as_ref()
                .map_or(0, |i| i64::from(i.grace_minutes) * 60),
            idle_cap: t.idle.as_ref().and_then(|i| i.cap.map(|c| c.0)),
            discounts,
            plan: Default::default(),
        });
    }
    let mut customers = HashMap::new();
    if let Some(file) = file.customers {
        // Resolved against the tariff file's directory by `load`.
        customers.insert("\u{0}file".to_string(), file);
    }
    Ok(TariffSet { tariffs, customers })
}

// ----------------------------------------------------------------------------
// OCPI Tariff JSON (2.2.1; 2.1.1 has the same element model)

#[derive(Debug, Deserialize)]
struct OcpiTariff {
    id: String,
    currency: Currency,
    #[serde(default)]
    elements: Vec<OcpiElement>,
    min_price: Option<OcpiPrice>,
    max_price: Option<OcpiPrice>,
    start_date_time: Option<DateTime<Utc>>,
    end_date_time: Option<DateTime<Utc>>,
}

/// An OCPI Price object (2.2.1: `{excl_vat, incl_vat}`) or a plain
/// number (2.1.1).
#[derive(Debug)]
struct OcpiPrice(Decimal);

impl<'de> Deserialize<'de> for OcpiPrice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let number = match &v {
            serde_json::Value::Object(o) => o
                .get("excl_vat")
                .ok_or_else(|| de::Error::custom("a Price needs excl_vat"))?
                .clone(),
            other => other.clone(),
        };
        let text = match &number {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Decimal::from_str(text.trim())
            .or_else(|_| Decimal::from_scientific(text.trim()))
            .map(OcpiPrice)
            .map_err(|_| de::Error::custom(format!("'{text}' is not a price")))
    }
}

impl OcpiPrice {
    fn excl(&self) -> Decimal {
        self.0
    }
}

#[derive(Debug, Deserialize)]
struct OcpiElement {
    price_components: Vec<OcpiComponent>,
    restrictions: Option<OcpiRestrictions>,
}

#[derive(Debug, Deserialize)]
struct OcpiComponent {
    #[serde(rename = "type")]
    kind: String,
    price: Amount,
    vat: Option<Amount>,
    #[serde(default = "one")]
    step_size: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
struct OcpiRestrictions {
    start_time: Option<Hhmm>,
    end_time: Option<Hhmm>,
    start_date: Option<Date>,
    end_date: Option<Date>,
    min_kwh: Option<Amount>,
    max_kwh: Option<Amount>,
    min_power: Option<Amount>,
    max_power: Option<Amount>,
    min_duration: Option<i64>,
    max_duration: Option<i64>,
    day_of_week: Option<Vec<Day>>,
    reservation: Option<String>,
    min_current: Option<Amount>,
    max_current: Option<Amount>,
}

/// Parse an OCPI Tariff object (or an array of them).
pub fn parse_ocpi(path: &str, text: &str) -> Result<TariffSet, TariffError> {
    let invalid = |e: serde_json::Error| TariffError::Invalid {
        path: path.to_string(),
        line: e.line(),
        message: e.to_string(),
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let raw: Vec<OcpiTariff> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(invalid)?
    } else {
        vec![serde_json::from_str(trimmed).map_err(invalid)?]
    };
    let check = |message: String| TariffError::Check {
        path: path.to_string(),
        message,
    };
    let mut tariffs = Vec::new();
    for t in raw {
        let mut elements = Vec::new();
        for (i, e) in t.elements.iter().enumerate() {
            let mut components = Vec::new();
            for c in &e.price_components {
                let dimension = match c.kind.as_str() {
                    "ENERGY" => Dimension::Energy,
                    "TIME" => Dimension::Time,
                    "PARKING_TIME" => Dimension::Parking,
                    "FLAT" => Dimension::Flat,
                    other => {
                        return Err(check(format!(
                            "tariff {}: element {}: unknown price component type '{other}'",
                            t.id,
                            i + 1
                        )))
                    }
                };
                if c.vat.is_some_and(|v| v.0 > Decimal::ONE_HUNDRED) {
                    return Err(check(format!(
                        "tariff {}: element {}: vat is above 100 (OCPI gives it in percent)",
                        t.id,
                        i + 1
                    )));
                }
                if c.step_size == 0 {
                    return Err(check(format!(
                        "tariff {}: element {}: step_size must be at least 1",
                        t.id,
                        i + 1
                    )));
                }
                components.push(Component {
                    dimension,
                    price: c.price.0,
                    vat: c.vat.map(|v| v.0),
                    step_size: c.step_size,
                });
            }
            let r = e.restrictions.as_ref();
            if r.is_some_and(|r| r.min_current.is_some() || r.max_current.is_some()) {
                return Err(check(format!(
                    "tariff {}: element {}: min_current/max_current restrictions need per-phase current, which evmon does not price; remove them or use min_power/max_power",
                    t.id,
                    i + 1
                )));
            }
            elements.push(Element {
                name: format!("element {}", i + 1),
                components,
                restrictions: Restrictions {
                    start_time: r.and_then(|r| r.start_time.map(|h| h.0)),
                    end_time: r.and_then(|r| r.end_time.map(|h| h.0)),
                    start_date: r.and_then(|r| r.start_date.map(|d| d.0)),
                    end_date: r.and_then(|r| r.end_date.map(|d| d.0)),
                    months: None,
                    min_kwh: r.and_then(|r| r.min_kwh.map(|a| a.0)),
                    max_kwh: r.and_then(|r| r.max_kwh.map(|a| a.0)),
                    min_power_kw: r.and_then(|r| r.min_power.map(|a| a.0)),
                    max_power_kw: r.and_then(|r| r.max_power.map(|a| a.0)),
                    min_duration_s: r.and_then(|r| r.min_duration),
                    max_duration_s: r.and_then(|r| r.max_duration),
                    days: r.and_then(|r| {
                        r.day_of_week
                            .as_ref()
                            .map(|d| d.iter().map(|x| x.0).collect())
                    }),
                    reservation: r.is_some_and(|r| r.reservation.is_some()),
                },
            });
        }
        let currency = t.currency.to_string();
        tariffs.push(Tariff {
            id: t.id,
            origin: Origin::Ocpi,
            minor_units: minor_units(&currency),
            currency,
            timezone: None,
            stations: Vec::new(),
            sites: Vec::new(),
            valid_from: t.start_date_time,
            valid_until: t.end_date_time,
            elements,
            min_price: t.min_price.as_ref().map(OcpiPrice::excl),
            max_price: t.max_price.as_ref().map(OcpiPrice::excl),
            idle_grace_s: 0,
            idle_cap: None,
            discounts: Vec::new(),
            plan: Default::default(),
        });
    }
    Ok(TariffSet {
        tariffs,
        customers: HashMap::new(),
    })
}

/// The tariff as OCPI 2.2.1 JSON, for CDRs. evmon-only features (idle
/// grace and cap, discounts, seasons by month) have no OCPI form and are
/// left out.
pub fn to_ocpi_json(t: &Tariff) -> serde_json::Value {
    use serde_json::json;
    let num =
        |d: Decimal| serde_json::Value::from_str(&d.normalize().to_string()).unwrap_or(json!(0));
    let elements: Vec<serde_json::Value> = t
        .elements
        .iter()
        .map(|e| {
            let comps: Vec<serde_json::Value> = e
                .components
                .iter()
                .map(|c| {
                    let mut o = json!({"type": c.dimension.ocpi(), "price": num(c.price), "step_size": c.step_size});
                    if let Some(v) = c.vat {
                        o["vat"] = num(v);
                    }
                    o
                })
                .collect();
            let r = &e.restrictions;
            let mut rj = serde_json::Map::new();
            if let Some(x) = r.start_time {
                rj.insert("start_time".into(), json!(x.format("%H:%M").to_string()));
            }
            if let Some(x) = r.end_time {
                rj.insert("end_time".into(), json!(x.format("%H:%M").to_string()));
            }
            if let Some(x) = r.start_date {
                rj.insert("start_date".into(), json!(x.to_string()));
            }
            if let Some(x) = r.end_date {
                rj.insert("end_date".into(), json!(x.to_string()));
            }
            for (k, v) in [("min_kwh", r.min_kwh), ("max_kwh", r.max_kwh), ("min_power", r.min_power_kw), ("max_power", r.max_power_kw)] {
                if let Some(v) = v {
                    rj.insert(k.into(), num(v));
                }
            }
            for (k, v) in [("min_duration", r.min_duration_s), ("max_duration", r.max_duration_s)] {
                if let Some(v) = v {
                    rj.insert(k.into(), json!(v));
                }
            }
            if let Some(days) = &r.days {
                let names: Vec<&str> = days
                    .iter()
                    .map(|d| match d {
                        Weekday::Mon => "MONDAY",
                        Weekday::Tue => "TUESDAY",
                        Weekday::Wed => "WEDNESDAY",
                        Weekday::Thu => "THURSDAY",
                        Weekday::Fri => "FRIDAY",
                        Weekday::Sat => "SATURDAY",
                        Weekday::Sun => "SUNDAY",
                    })
                    .collect();
                rj.insert("day_of_week".into(), json!(names));
            }
            let mut o = json!({"price_components": comps});
            if !rj.is_empty() {
                o["restrictions"] = serde_json::Value::Object(rj);
            }
            o
        })
        .collect();
    let mut o = json!({
        "country_code": "NL",
        "party_id": "EVM",
        "id": t.id,
        "currency": t.currency,
        "elements": elements,
        "last_updated": "2026-01-01T00:00:00Z",
    });
    if let Some(p) = t.min_price {
        o["min_price"] = json!({"excl_vat": num(p)});
    }
    if let Some(p) = t.max_price {
        o["max_price"] = json!({"excl_vat": num(p)});
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[tariff]]
id = "depot"
currency = "EUR"
vat = 21
timezone = "Europe/Amsterdam"
session_fee = 0.35
min_price = 1.00
max_price = 60

[tariff.energy]
price = 0.30

[[tariff.energy.window]]
name = "peak"
days = ["mon", "tue", "wed", "thu", "fri"]
start = "17:00"
end = "21:00"
price = 0.45

[tariff.idle]
price = 6.0
grace_minutes = 30
cap = 12

[[tariff.discount]]
id_tag = "04A1*"
percent = 10
"#;

    #[test]
    fn toml_compiles_to_ordered_elements() {
        let set = parse_toml("t.toml", EXAMPLE).unwrap();
        let t = &set.tariffs[0];
        let names: Vec<&str> = t.elements.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["peak", "standard", "idle", "session fee"]);
        assert_eq!(
            t.elements[0].components[0].price,
            Decimal::from_str("0.45").unwrap()
        );
        assert_eq!(t.elements[0].components[0].vat, Some(Decimal::from(21)));
        assert_eq!(t.idle_grace_s, 1800);
        assert_eq!(t.minor_units, 2);
        assert!(t.discounts[0].matches(Some("04A1B2C3D4"), None));
        assert!(!t.discounts[0].matches(Some("05A1"), None));
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let line_with =
            |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let bad = EXAMPLE.replace("start = \"17:00\"", "start = \"17:75\"");
        let e = parse_toml("t.toml", &bad).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("t.toml:{}:", line_with(&bad, "17:75"))),
            "{e}"
        );
        assert!(e.contains("17:75"), "{e}");
        let bad = EXAMPLE.replace("price = 0.30", "prise = 0.30");
        let e = parse_toml("t.toml", &bad).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("t.toml:{}:", line_with(&bad, "prise"))) && e.contains("prise"),
            "{e}"
        );
        let bad = EXAMPLE.replace("\"tue\"", "\"tues-day\"");
        assert!(parse_toml("t.toml", &bad)
            .unwrap_err()
            .to_string()
            .contains("tues-day"));
        let bad = EXAMPLE.replace("price = 0.45", "price = -0.45");
        assert!(parse_toml("t.toml", &bad)
            .unwrap_err()
            .to_string()
            .contains("negative"));
        let bad = EXAMPLE.replace("currency = \"EUR\"", "currency = \"euro\"");
        assert!(parse_toml("t.toml", &bad)
            .unwrap_err()
            .to_string()
            .contains("ISO 4217"));
    }

    #[test]
    fn ocpi_tariff_json() {
        let set = parse_ocpi(
            "t.json",
            r#"{"id":"16","currency":"EUR","min_price":{"excl_vat":0.5,"incl_vat":0.55},
               "elements":[{"price_components":[{"type":"ENERGY","price":0.25,"vat":10.0,"step_size":1}]}],
               "last_updated":"2018-12-17T11:16:55Z"}"#,
        )
        .unwrap();
        let t = &set.tariffs[0];
        assert_eq!(t.min_price, Some(Decimal::from_str("0.5").unwrap()));
        assert_eq!(t.elements[0].components[0].dimension, Dimension::Energy);
        let back = to_ocpi_json(t);
        assert_eq!(
            back["elements"][0]["price_components"][0]["price"],
            serde_json::json!(0.25)
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("AMS-*", "AMS-DEPOT-01"));
        assert!(glob_match("*-0?", "UTR-MALL-01"));
        assert!(!glob_match("AMS-*", "UTR-MALL-01"));
        assert!(glob_match("*", ""));
    }
}
