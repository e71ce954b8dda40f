//! Pricing one session against one tariff.
//!
//! The session is cut into periods wherever the price may change: a
//! time-of-use window opens or closes (in the tariff's or station's local
//! time, DST included), a day or season begins, an energy or duration
//! threshold is crossed, charging ends, or the idle grace runs out. Each
//! period's energy comes from the session's meter-value curve (linear
//! between readings) when there is one, else pro rata over the charging
//! time. Each dimension of each period is priced by the first element
//! whose restrictions match at the start of the period (OCPI's rule), and
//! the per-period amounts are summed into invoice lines.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use compact_str::{format_compact, CompactString};
use rust_decimal::prelude::*;
use rust_decimal::Decimal;

use super::money::{round_money, shift_point};
use super::tariff::{Component, Dimension, Element, Origin, Restrictions, Tariff};
use crate::timeutil::{resolve_local, DstPolicy};

/// A session ready to be priced.
#[derive(Debug, Clone)]
pub struct SessionInput {
    /// Inline up to 24 bytes, as a uid and an id tag are; the station's
    /// name shared with its other sessions: no allocation per session of
    /// a large month.
    pub uid: CompactString,
    pub station: Arc<str>,
    pub connector: Option<i32>,
    pub id_tag: Option<CompactString>,
    pub customer: Option<String>,
    pub start: DateTime<Utc>,
    pub stop: DateTime<Utc>,
    /// When charging ended (≤ stop); the stop when unknown.
    pub charging_end: DateTime<Utc>,
    pub energy_wh: Decimal,
    /// Energy register readings (time, Wh) during the session, if any.
    pub curve: Vec<(DateTime<Utc>, f64)>,
}

/// How energy was assigned to periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    MeterCurve,
    ProRata,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::MeterCurve => "meter curve",
            Split::ProRata => "pro rata",
        }
    }
}

/// Whether the car was charging in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Charging,
    Parking,
}

/// One priced period (an OCPI ChargingPeriod).
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub phase: Phase,
    /// Wh delivered in the period (billed, after step_size).
    pub energy_wh: Decimal,
    /// Seconds charging (TIME) or parked and billable (PARKING_TIME).
    pub time_s: Decimal,
    /// Index of the element pricing each dimension in this period.
    pub element: ByDimension<usize>,
}

/// A value per price dimension, in [`Dimension`] order: a period has at
/// most one of each, so an array rather than a map (two maps a period were
/// two allocations a period, for each of a month's sessions).
#[derive(Debug, Clone, PartialEq)]
pub struct ByDimension<T>([Option<T>; 4]);

impl<T> Default for ByDimension<T> {
    fn default() -> Self {
        ByDimension([None, None, None, None])
    }
}

impl<T> ByDimension<T> {
    const DIMENSIONS: [Dimension; 4] = [
        Dimension::Energy,
        Dimension::Time,
        Dimension::Parking,
        Dimension::Flat,
    ];

    fn slot(d: Dimension) -> usize {
        match d {
            Dimension::Energy => 0,
            Dimension::Time => 1,
            Dimension::Parking => 2,
            Dimension::Flat => 3,
        }
    }

    pub fn get(&self, d: Dimension) -> Option<&T> {
        self.0[Self::slot(d)].as_ref()
    }

    fn insert(&mut self, d: Dimension, v: T) {
        self.0[Self::slot(d)] = Some(v);
    }

    /// The dimensions that have a value, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Dimension, &T)> {
        Self::DIMENSIONS
            .into_iter()
            .zip(&self.0)
            .filter_map(|(d, v)| Some((d, v.as_ref()?)))
    }
}

/// What an invoice line is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LineKind {
    Energy,
    Time,
    Idle,
    Fee,
    Discount,
    Adjustment,
}

impl LineKind {
    pub fn name(&self) -> &'static str {
        match self {
            LineKind::Energy => "energy",
            LineKind::Time => "time",
            LineKind::Idle => "idle",
            LineKind::Fee => "fee",
            LineKind::Discount => "discount",
            LineKind::Adjustment => "adjustment",
        }
    }
}

/// One invoice line of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub kind: LineKind,
    /// `energy peak`, `idle (after 30 min grace, capped)`, ...
    /// Inline up to 24 bytes, as most labels are (one allocation less a
    /// line, for each of a month's sessions).
    pub label: CompactString,
    pub quantity: Decimal,
    /// `kWh`, `h`, `session`.
    pub unit: &'static str,
    pub unit_price: Decimal,
    /// Before rounding.
    pub exact: Decimal,
    /// Rounded half-up to the currency's minor unit.
    pub amount: Decimal,
    /// VAT percentage of the line.
    pub vat: Decimal,
}

/// A priced session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionBill {
    pub uid: CompactString,
    pub station: Arc<str>,
    pub connector: Option<i32>,
    pub id_tag: Option<CompactString>,
    pub customer: Option<String>,
    /// Inline (a tariff id or currency code is short): two allocations
    /// less for each session of a month.
    pub tariff_id: CompactString,
    pub currency: CompactString,
    pub minor_units: u32,
    pub zone: Tz,
    pub start: DateTime<Utc>,
    pub stop: DateTime<Utc>,
    pub charging_end: DateTime<Utc>,
    pub split: Split,
    pub periods: Vec<Period>,
    pub lines: Vec<Line>,
    /// kWh per energy band (element name), billed.
    pub kwh_by_band: Vec<(CompactString, Decimal)>,
    pub energy_kwh: Decimal,
    /// OCPI-style total before line rounding, after min/max (for CDRs).
    pub exact_excl: Decimal,
    pub exact_incl: Decimal,
    /// Which dimension amounts went into the CDR totals (exact).
    pub exact_by_dimension: BTreeMap<Dimension, Decimal>,
}

impl SessionBill {
    /// Net: the sum of the rounded lines.
    pub fn net(&self) -> Decimal {
        self.lines.iter().map(|l| l.amount).sum()
    }

    /// VAT of this session alone (per rate, rounded): informational, an
    /// invoice computes VAT per rate over all its lines.
    pub fn vat(&self) -> Decimal {
        let mut by_rate: BTreeMap<Decimal, Decimal> = BTreeMap::new();
        for l in &self.lines {
            *by_rate.entry(l.vat).or_default() += l.amount;
        }
        by_rate
            .iter()
            .map(|(rate, base)| round_money(base * rate / Decimal::ONE_HUNDRED, self.minor_units))
            .sum()
    }

    pub fn amount_of(&self, kind: LineKind) -> Decimal {
        self.lines
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.amount)
            .sum()
    }
}

fn dec(f: f64) -> Decimal {
    Decimal::from_f64(f).unwrap_or_default()
}

/// Seconds from `a` to `b`, to the millisecond, as dividing the
/// milliseconds by 1000 gives them (whose scale is not always the smallest:
/// 2900 ms is 2.90). Whole seconds, nearly every span of a real session,
/// skip the division (a few per period of every session).
fn seconds(a: DateTime<Utc>, b: DateTime<Utc>) -> Decimal {
    let ms = (b - a).num_milliseconds();
    if ms % 1000 == 0 {
        Decimal::from(ms / 1000)
    } else {
        Decimal::from(ms) / Decimal::from(1000)
    }
}

/// Wh as kWh.
fn kwh(wh: Decimal) -> Decimal {
    shift_point(wh, 3)
}

/// `v0 + (v1 - v0) * n / d` rounded to the mWh (half to even, as
/// `round_dp` does), in integer arithmetic: exact by construction, and
/// without the decimal division (a library call per cut of every
/// session). It gives what the decimal interpolation gave (a property test
/// compares them). `None` when the values have more than three decimals
/// or do not fit.
fn interpolate(v0: Decimal, v1: Decimal, n: i64, d: i64) -> Option<Decimal> {
    if v0.scale() > 3 || v1.scale() > 3 || d <= 0 || n < 0 || n > d {
        return None;
    }
    // Both in mWh.
    let mwh = |v: Decimal| v.mantissa().checked_mul(10i128.pow(3 - v.scale()));
    let (a, b) = (mwh(v0)?, mwh(v1)?);
    let step = (b - a).checked_mul(i128::from(n))?;
    // The machine's division when it fits (nearly always), else i128's.
    let (mut q, r) = match i64::try_from(step) {
        Ok(step) => (
            i128::from(step.div_euclid(d)),
            i128::from(step.rem_euclid(d)),
        ),
        Err(_) => (
            step.div_euclid(i128::from(d)),
            step.rem_euclid(i128::from(d)),
        ),
    };
    let d = i128::from(d);
    // 0 <= r < d: up past the half, and on it to the even total.
    if 2 * r > d || (2 * r == d && (a + q) % 2 != 0) {
        q += 1;
    }
    let total = a.checked_add(q)?;
    (total.unsigned_abs() < 1u128 << 96).then(|| Decimal::from_i128_with_scale(total, 3))
}

/// Cumulative energy delivered since the start, in Wh, at any instant.
struct Curve {
    /// (time, cumulative Wh), increasing in time; ends at the session's energy.
    points: Vec<(DateTime<Utc>, Decimal)>,
    split: Split,
}

impl Curve {
    fn build(s: &SessionInput) -> Curve {
        let total = s.energy_wh;
        let end = s.charging_end;
        // The meter curve: readings inside the session, shifted to start at
        // zero and scaled to the session's energy (the authoritative total).
        let mut readings: Vec<(DateTime<Utc>, f64)> = s
            .curve
            .iter()
            .filter(|(t, _)| *t >= s.start && *t <= s.stop)
            .copied()
            .collect();
        readings.sort_by_key(|r| r.0);
        if readings.len() >= 2 {
            let base = readings[0].1;
            let top = readings.iter().map(|r| r.1).fold(f64::MIN, f64::max) - base;
            let monotone = readings.windows(2).all(|w| w[1].1 >= w[0].1);
            if top > 0.0 && monotone {
                let mut points = vec![(s.start, Decimal::ZERO)];
                for (t, v) in &readings {
                    let share = dec((v - base) / top);
                    let wh = (total * share).round_dp(3);
                    if *t > s.start {
                        points.push((*t, wh.min(total)));
                    }
                }
                points.push((s.stop, total));
                // Keep the curve non-decreasing after rounding.
                for i in 1..points.len() {
                    if points[i].1 < points[i - 1].1 {
                        points[i].1 = points[i - 1].1;
                    }
                }
                return Curve {
                    points,
                    split: Split::MeterCurve,
                };
            }
        }
        let points = if end > s.start {
            vec![
                (s.start, Decimal::ZERO),
                (end, total),
                (s.stop.max(end), total),
            ]
        } else {
            vec![(s.start, total), (s.stop, total)]
        };
        Curve {
            points,
            split: Split::ProRata,
        }
    }

    /// Energy delivered by instant `t` (Wh).
    fn at(&self, t: DateTime<Utc>) -> Decimal {
        let p = &self.points;
        if t <= p[0].0 {
            return p[0].1;
        }
        for w in p.windows(2) {
            if t <= w[1].0 {
                let span = (w[1].0 - w[0].0).num_milliseconds();
                if span == 0 {
                    return w[1].1;
                }
                let into = (t - w[0].0).num_milliseconds();
                return interpolate(w[0].1, w[1].1, into, span).unwrap_or_else(|| {
                    let frac = Decimal::from(into) / Decimal::from(span);
                    (w[0].1 + (w[1].1 - w[0].1) * frac).round_dp(3)
                });
            }
        }
        p[p.len() - 1].1
    }

    /// The first instant the cumulative energy reaches `wh`.
    fn time_at(&self, wh: Decimal) -> Option<DateTime<Utc>> {
        for w in self.points.windows(2) {
            if w[0].1 < wh && w[1].1 >= wh {
                let frac = (wh - w[0].1) / (w[1].1 - w[0].1);
                let ms = (Decimal::from_i64((w[1].0 - w[0].0).num_milliseconds())
                    .unwrap_or_default()
                    * frac)
                    .to_i64()
                    .unwrap_or(0);
                return Some(w[0].0 + Duration::milliseconds(ms));
            }
        }
        None
    }
}

/// The local times of day where a tariff's prices may change.
type DayTimes = smallvec::SmallVec<[NaiveTime; 8]>;

/// What pricing needs of a tariff that is the same for every session,
/// worked out once per tariff rather than for each session of a month:
/// it was a tenth of the time spent pricing a large month.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Tells this plan's days apart in each thread's cache of local
    /// instants (unique for the life of the process).
    id: u64,
    /// The local times of day where a restriction starts or ends (and
    /// midnight when one reads the date), sorted, each once.
    times: DayTimes,
    /// Whether an element is restricted by energy, or by power.
    by_energy: bool,
    by_power: bool,
    /// The first VAT rate the tariff names (for lines without their own),
    /// and 1 + that rate / 100.
    main_vat: Decimal,
    main_vat_factor: Decimal,
    /// 1 + VAT / 100 of each element's component of each dimension.
    vat_factors: Vec<ByDimension<Decimal>>,
}

/// 1 + `vat` / 100: what an amount excluding VAT is multiplied by.
fn vat_factor(vat: Decimal) -> Decimal {
    Decimal::ONE + vat / Decimal::ONE_HUNDRED
}

impl Plan {
    fn of(t: &Tariff) -> Plan {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let calendar = t.elements.iter().any(|e| {
            let r = &e.restrictions;
            r.days.is_some() || r.start_date.is_some() || r.end_date.is_some() || r.months.is_some()
        });
        let mut times: DayTimes = t
            .elements
            .iter()
            .flat_map(|e| [e.restrictions.start_time, e.restrictions.end_time])
            .flatten()
            .chain(calendar.then_some(NaiveTime::MIN))
            .collect();
        times.sort_unstable();
        times.dedup();
        let main_vat = t
            .elements
            .iter()
            .flat_map(|e| &e.components)
            .find_map(|c| c.vat)
            .unwrap_or_default();
        Plan {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            times,
            by_energy: t
                .elements
                .iter()
                .any(|e| e.restrictions.min_kwh.is_some() || e.restrictions.max_kwh.is_some()),
            by_power: t.elements.iter().any(|e| {
                e.restrictions.min_power_kw.is_some() || e.restrictions.max_power_kw.is_some()
            }),
            main_vat,
            main_vat_factor: vat_factor(main_vat),
            vat_factors: t
                .elements
                .iter()
                .map(|e| {
                    let mut f = ByDimension::default();
                    // The first component of a dimension prices it (as in `lookup`).
                    for c in e.components.iter().rev() {
                        f.insert(c.dimension, vat_factor(c.vat.unwrap_or_default()));
                    }
                    f
                })
                .collect(),
        }
    }
}

/// A tariff's [`Plan`], made on first use. Derived from the tariff's
/// fields: a copy of the tariff makes its own, and two tariffs compare
/// equal whatever their cells hold.
#[derive(Debug, Default)]
pub(crate) struct PlanCell(std::sync::OnceLock<Plan>);

impl Clone for PlanCell {
    fn clone(&self) -> Self {
        PlanCell::default()
    }
}

impl PartialEq for PlanCell {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Plan {
    /// What element `element`'s price of `dim` excluding VAT is multiplied
    /// by to include it.
    fn vat_factor_of(&self, element: usize, dim: Dimension) -> Decimal {
        self.vat_factors[element]
            .get(dim)
            .copied()
            .unwrap_or(Decimal::ONE)
    }
}

impl Tariff {
    fn plan(&self) -> &Plan {
        self.plan.0.get_or_init(|| Plan::of(self))
    }
}

/// The instants of `plan`'s times on local `date` in `zone`, appended to `out`.
fn local_instants(zone: Tz, date: NaiveDate, plan: &Plan, out: &mut Vec<DateTime<Utc>>) {
    type Key = (u64, Tz, NaiveDate);
    thread_local! {
        // Sessions of a month share a few dozen days and a tariff's few
        // boundary times: each day is resolved once per thread, not per
        // session, and found with one lookup for all its times.
        static SEEN: std::cell::RefCell<rustc_hash::FxHashMap<Key, smallvec::SmallVec<[DateTime<Utc>; 8]>>> =
            Default::default();
    }
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        let instants = seen.entry((plan.id, zone, date)).or_insert_with(|| {
            plan.times
                .iter()
                .map(|time| {
                    // Earliest reading on a fold, shifted forward in a gap (see timeutil).
                    resolve_local(zone, date.and_time(*time), None, DstPolicy::default())
                        .unwrap_or_else(|_| Utc.from_utc_datetime(&date.and_time(*time)))
                })
                .collect()
        });
        out.extend_from_slice(instants);
    })
}

/// Where prices may change.
/// `start_local` is the session's start read in `zone`.
fn boundaries(
    s: &SessionInput,
    t: &Tariff,
    zone: Tz,
    start_local: chrono::NaiveDateTime,
    curve: &Curve,
) -> Vec<DateTime<Utc>> {
    let plan = t.plan();
    // The session's local days and the day before: a time of the day
    // before can fall inside the session when a DST gap shifts it past
    // midnight. A time of the day after its stop is after its stop (gaps
    // only shift forward, and folds resolve to their earliest instant).
    let first = start_local.date() - Duration::days(1);
    let last = s.stop.with_timezone(&zone).date_naive();
    let days = (last - first).num_days().max(0) as usize + 1;
    let mut out = Vec::with_capacity(4 + days * plan.times.len() + 2 * t.elements.len());
    out.extend([s.start, s.charging_end, s.stop]);
    let mut day = first;
    while day <= last {
        local_instants(zone, day, plan, &mut out);
        day += Duration::days(1);
    }
    for e in &t.elements {
        let r = &e.restrictions;
        for d in [r.min_duration_s, r.max_duration_s].into_iter().flatten() {
            out.push(s.start + Duration::seconds(d));
        }
        for kwh in [r.min_kwh, r.max_kwh].into_iter().flatten() {
            if let Some(at) = curve.time_at(kwh * Decimal::from(1000)) {
                out.push(at);
            }
        }
    }
    if t.idle_grace_s > 0 {
        out.push(s.charging_end + Duration::seconds(t.idle_grace_s));
    }
    out.retain(|b| *b >= s.start && *b <= s.stop);
    out.sort();
    out.dedup();
    out
}

/// What is known at the start of a period, to check restrictions against.
struct Snapshot {
    local: chrono::NaiveDateTime,
    kwh: Decimal,
    duration_s: i64,
    power_kw: Decimal,
}

fn time_matches(r: &Restrictions, t: NaiveTime) -> bool {
    match (r.start_time, r.end_time) {
        (Some(s), Some(e)) if e == NaiveTime::MIN => t >= s,
        (Some(s), Some(e)) if s <= e => t >= s && t < e,
        (Some(s), Some(e)) => t >= s || t < e,
        (Some(s), None) => t >= s,
        // A lone end of 00:00 bounds nothing.
        (None, Some(e)) => e == NaiveTime::MIN || t < e,
        (None, None) => true,
    }
}

fn matches(r: &Restrictions, at: &Snapshot) -> bool {
    let date = at.local.date();
    !r.reservation
        && time_matches(r, at.local.time())
        && r.start_date.is_none_or(|d| date >= d)
        && r.end_date.is_none_or(|d| date < d)
        && r.months.as_ref().is_none_or(|m| m.contains(&date.month()))
        && r.days.as_ref().is_none_or(|d| d.contains(&date.weekday()))
        && r.min_kwh.is_none_or(|k| at.kwh >= k)
        && r.max_kwh.is_none_or(|k| at.kwh < k)
        && r.min_power_kw.is_none_or(|p| at.power_kw >= p)
        && r.max_power_kw.is_none_or(|p| at.power_kw < p)
        && r.min_duration_s.is_none_or(|d| at.duration_s >= d)
        && r.max_duration_s.is_none_or(|d| at.duration_s < d)
}

/// The first element pricing `dimension` whose restrictions match.
fn lookup(elements: &[Element], dimension: Dimension, at: &Snapshot) -> Option<(usize, Component)> {
    elements.iter().enumerate().find_map(|(i, e)| {
        let c = e.components.iter().find(|c| c.dimension == dimension)?;
        matches(&e.restrictions, at).then(|| (i, c.clone()))
    })
}

fn ceil_to_step(v: Decimal, step: u32) -> Decimal {
    let step = Decimal::from(step.max(1));
    (v / step).ceil() * step
}

/// Price a stopped session. `zone` is where the tariff's times are read.
/// The session's texts move into its bill.
pub fn price_session(s: SessionInput, t: &Tariff, zone: Tz) -> SessionBill {
    let curve = Curve::build(&s);
    // The start read in the zone, once: the boundaries, the first period
    // and the flat fee all need it, and reading an instant in a zone
    // searches the zone's transitions (a fifth of the time pricing took).
    let start_local = s.start.with_timezone(&zone).naive_local();
    let cuts = boundaries(&s, t, zone, start_local, &curve);
    let grace_end = s.charging_end + Duration::seconds(t.idle_grace_s);
    let mut periods: Vec<Period> = Vec::with_capacity(cuts.len());
    let mut components: Vec<ByDimension<Component>> = Vec::with_capacity(cuts.len());
    // The energy at each cut, once; the energy and power restrictions are
    // only worked out (two divisions a period) for tariffs that have them.
    let energy_at: Vec<Decimal> = cuts.iter().map(|c| curve.at(*c)).collect();
    let plan = t.plan();
    let (by_energy, by_power) = (plan.by_energy, plan.by_power);
    for (j, w) in cuts.windows(2).enumerate() {
        let (a, b) = (w[0], w[1]);
        if b <= a {
            continue;
        }
        let phase = if a < s.charging_end {
            Phase::Charging
        } else {
            Phase::Parking
        };
        let energy = energy_at[j + 1] - energy_at[j];
        let secs = seconds(a, b);
        let snapshot = Snapshot {
            local: if a == s.start {
                start_local
            } else {
                a.with_timezone(&zone).naive_local()
            },
            kwh: if by_energy {
                kwh(energy_at[j])
            } else {
                Decimal::ZERO
            },
            duration_s: (a - s.start).num_seconds(),
            power_kw: match by_power.then(|| secs / Decimal::from(3600)) {
                Some(hours) if !hours.is_zero() => kwh(energy) / hours,
                _ => Decimal::ZERO,
            },
        };
        let mut element = ByDimension::default();
        let mut comps = ByDimension::default();
        for dim in [Dimension::Energy, Dimension::Time, Dimension::Parking] {
            if let Some((i, c)) = lookup(&t.elements, dim, &snapshot) {
                element.insert(dim, i);
                comps.insert(dim, c);
            }
        }
        let billable = match phase {
            Phase::Charging => secs,
            // Idle time inside the grace period is free.
            Phase::Parking if a >= grace_end => secs,
            Phase::Parking => Decimal::ZERO,
        };
        periods.push(Period {
            start: a,
            end: b,
            phase,
            energy_wh: energy,
            time_s: billable,
            element,
        });
        components.push(comps);
    }
    // A session with no length still has its energy (all at the start).
    if periods.is_empty() {
        let snapshot = Snapshot {
            local: start_local,
            kwh: Decimal::ZERO,
            duration_s: 0,
            power_kw: Decimal::ZERO,
        };
        let mut element = ByDimension::default();
        let mut comps = ByDimension::default();
        if let Some((i, c)) = lookup(&t.elements, Dimension::Energy, &snapshot) {
            element.insert(Dimension::Energy, i);
            comps.insert(Dimension::Energy, c);
        }
        periods.push(Period {
            start: s.start,
            end: s.stop,
            phase: Phase::Charging,
            energy_wh: s.energy_wh,
            time_s: Decimal::ZERO,
            element,
        });
        components.push(comps);
    }

    // OCPI step_size: the session total of a dimension rounded up once, the
    // extra billed in the last period that prices it. evmon TOML tariffs
    // bill exact volumes.
    if t.origin == Origin::Ocpi {
        fn last_with(
            periods: &[Period],
            components: &[ByDimension<Component>],
            dim: Dimension,
            phase: Option<Phase>,
        ) -> Option<usize> {
            (0..periods.len()).rev().find(|&i| {
                components[i].get(dim).is_some() && phase.is_none_or(|p| periods[i].phase == p)
            })
        }
        if let Some(i) = last_with(&periods, &components, Dimension::Energy, None) {
            let total: Decimal = periods.iter().map(|p| p.energy_wh).sum();
            let step = components[i]
                .get(Dimension::Energy)
                .map_or(1, |c| c.step_size);
            let billed = ceil_to_step(total, step);
            periods[i].energy_wh += billed - total;
        }
        let parking_priced = (0..periods.len()).any(|i| {
            periods[i].phase == Phase::Parking && components[i].get(Dimension::Parking).is_some()
        });
        let (dim, phase) = if parking_priced {
            (Dimension::Parking, Phase::Parking)
        } else {
            (Dimension::Time, Phase::Charging)
        };
        if let Some(i) = last_with(&periods, &components, dim, Some(phase)) {
            let total: Decimal = periods
                .iter()
                .filter(|p| p.phase == phase)
                .map(|p| p.time_s)
                .sum();
            let step = components[i].get(dim).map_or(1, |c| c.step_size);
            let billed = ceil_to_step(total, step);
            periods[i].time_s += billed - total;
        }
    }

    // Sum the periods into lines: one per dimension and element.
    let mut sums: BTreeMap<(Dimension, usize), (Decimal, Decimal, Component)> = BTreeMap::new();
    let hour = Decimal::from(3600);
    for (p, comps) in periods.iter().zip(&components) {
        for (dim, c) in comps.iter() {
            // Set with its component: always there.
            let Some(&element) = p.element.get(dim) else {
                continue;
            };
            let quantity = match (dim, p.phase) {
                (Dimension::Energy, _) => kwh(p.energy_wh),
                (Dimension::Time, Phase::Charging) => p.time_s / hour,
                (Dimension::Parking, Phase::Parking) => p.time_s / hour,
                _ => continue,
            };
            let e = sums
                .entry((dim, element))
                .or_insert((Decimal::ZERO, Decimal::ZERO, c.clone()));
            e.0 += quantity;
            e.1 += quantity * c.price;
        }
    }
    let flat = lookup(
        &t.elements,
        Dimension::Flat,
        &Snapshot {
            local: start_local,
            kwh: Decimal::ZERO,
            duration_s: 0,
            power_kw: Decimal::ZERO,
        },
    );
    let main_vat = plan.main_vat;
    let mut lines = Vec::new();
    let mut exact_by_dimension: BTreeMap<Dimension, Decimal> = BTreeMap::new();
    let mut exact_incl = Decimal::ZERO;
    let mut idle_exact = Decimal::ZERO;
    let mut kwh_by_band: Vec<(CompactString, Decimal)> = Vec::new();
    for ((dim, el), (quantity, exact, c)) in &sums {
        let name = &t.elements[*el].name;
        if quantity.is_zero() {
            continue;
        }
        let (kind, label, unit) = match dim {
            Dimension::Energy => {
                kwh_by_band.push((name.as_str().into(), *quantity));
                (LineKind::Energy, format_compact!("energy {name}"), "kWh")
            }
            Dimension::Time if t.origin == Origin::Toml => {
                (LineKind::Time, "charging time".into(), "h")
            }
            Dimension::Time => (
                LineKind::Time,
                format_compact!("charging time ({name})"),
                "h",
            ),
            Dimension::Parking => {
                idle_exact += exact;
                let grace = if t.idle_grace_s > 0 {
                    format!(" after {} min grace", t.idle_grace_s / 60)
                } else {
                    String::new()
                };
                let label = if t.origin == Origin::Toml {
                    format_compact!("idle{grace}")
                } else {
                    format_compact!("idle ({name})")
                };
                (LineKind::Idle, label, "h")
            }
            Dimension::Flat => continue,
        };
        // A dimension priced at zero: no line.
        if c.price.is_zero() {
            continue;
        }
        *exact_by_dimension.entry(*dim).or_default() += exact;
        exact_incl += exact * plan.vat_factor_of(*el, *dim);
        lines.push(Line {
            kind,
            label,
            quantity: quantity.round_dp(6),
            unit,
            unit_price: c.price,
            exact: *exact,
            amount: round_money(*exact, t.minor_units),
            vat: c.vat.unwrap_or(main_vat),
        });
    }
    // The idle cap (evmon): the idle lines together cost at most the cap.
    if let Some(cap) = t.idle_cap {
        if idle_exact > cap {
            let over = idle_exact - cap;
            let amount =
                -(round_money(idle_exact, t.minor_units) - round_money(cap, t.minor_units));
            lines.push(Line {
                kind: LineKind::Idle,
                label: format_compact!("idle fee capped at {cap}"),
                quantity: Decimal::ONE,
                unit: "session",
                unit_price: amount,
                exact: -over,
                amount,
                vat: main_vat,
            });
            *exact_by_dimension.entry(Dimension::Parking).or_default() -= over;
            exact_incl -= over * plan.main_vat_factor;
        }
    }
    if let Some((el, c)) = flat {
        *exact_by_dimension.entry(Dimension::Flat).or_default() += c.price;
        exact_incl += c.price * plan.vat_factor_of(el, Dimension::Flat);
        lines.push(Line {
            kind: LineKind::Fee,
            label: t.elements[el].name.as_str().into(),
            quantity: Decimal::ONE,
            unit: "session",
            unit_price: c.price,
            exact: c.price,
            amount: round_money(c.price, t.minor_units),
            vat: c.vat.unwrap_or(main_vat),
        });
    }
    let energy_kwh = kwh(periods.iter().map(|p| p.energy_wh).sum::<Decimal>());

    // Discounts (evmon), on the rounded lines.
    let subtotal: Decimal = lines.iter().map(|l| l.amount).sum();
    let mut discount_total = Decimal::ZERO;
    for d in &t.discounts {
        if !d.matches(s.id_tag.as_deref(), s.customer.as_deref()) {
            continue;
        }
        let exact = if let Some(p) = d.percent {
            (subtotal - discount_total) * p / Decimal::ONE_HUNDRED
        } else {
            energy_kwh * d.per_kwh.unwrap_or_default()
        };
        // A discount never makes the session pay out.
        let amount = round_money(exact, t.minor_units).min(subtotal - discount_total);
        if amount <= Decimal::ZERO {
            continue;
        }
        discount_total += amount;
        lines.push(Line {
            kind: LineKind::Discount,
            label: d.name.as_str().into(),
            quantity: Decimal::ONE,
            unit: "session",
            unit_price: -amount,
            exact: -exact,
            amount: -amount,
            vat: main_vat,
        });
    }

    // Minimum and maximum price, excluding VAT, on what is left.
    let net: Decimal = lines.iter().map(|l| l.amount).sum();
    let adjust = match (t.min_price, t.max_price) {
        (Some(min), _) if net < min => Some((
            "minimum session price",
            round_money(min, t.minor_units) - net,
        )),
        (_, Some(max)) if net > max => Some((
            "maximum session price",
            round_money(max, t.minor_units) - net,
        )),
        _ => None,
    };
    if let Some((label, amount)) = adjust {
        lines.push(Line {
            kind: LineKind::Adjustment,
            label: format_compact!(
                "{label} {}",
                if amount > Decimal::ZERO {
                    t.min_price
                } else {
                    t.max_price
                }
                .unwrap_or_default()
            ),
            quantity: Decimal::ONE,
            unit: "session",
            unit_price: amount,
            exact: amount,
            amount,
            vat: main_vat,
        });
    }
    // The CDR total (OCPI): exact dimension amounts, clamped to min/max
    // excluding and including VAT independently.
    let mut exact_excl: Decimal = exact_by_dimension.values().sum();
    let vat_factor = plan.main_vat_factor;
    if let Some(min) = t.min_price {
        if exact_excl < min {
            exact_excl = min;
        }
        if exact_incl < min * vat_factor {
            exact_incl = min * vat_factor;
        }
    }
    if let Some(max) = t.max_price {
        if exact_excl > max {
            exact_excl = max;
        }
        if exact_incl > max * vat_factor {
            exact_incl = max * vat_factor;
        }
    }

    SessionBill {
        uid: s.uid,
        station: s.station,
        connector: s.connector,
        id_tag: s.id_tag,
        customer: s.customer,
        tariff_id: t.id.as_str().into(),
        currency: t.currency.as_str().into(),
        minor_units: t.minor_units,
        zone,
        start: s.start,
        stop: s.stop,
        charging_end: s.charging_end,
        split: curve.split,
        periods,
        lines,
        kwh_by_band,
        energy_kwh,
        exact_excl,
        exact_incl,
        exact_by_dimension,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tariff::parse_toml;
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn session(start: &str, stop: &str, cend: &str, kwh: &str) -> SessionInput {
        SessionInput {
            uid: "s".into(),
            station: "CP".into(),
            connector: Some(1),
            id_tag: Some("TAG".into()),
            customer: None,
            start: t(start),
            stop: t(stop),
            charging_end: t(cend),
            energy_wh: d(kwh) * Decimal::from(1000),
            curve: Vec::new(),
        }
    }

    const PEAK: &str = r#"
[[tariff]]
id = "tou"
currency = "EUR"
vat = 21
[tariff.energy]
price = 0.20
[[tariff.energy.window]]
name = "peak"
start = "17:00"
end = "21:00"
price = 0.40
"#;

    /// `seconds` has the value and the scale of the milliseconds divided
    /// by 1000 (the scale shows in CDR volumes).
    fn assert_seconds(ms: i64) {
        let t0 = t("2026-03-01T00:00:00Z");
        let slow = Decimal::from(ms) / Decimal::from(1000);
        let fast = seconds(t0, t0 + Duration::milliseconds(ms));
        assert_eq!(
            (fast.mantissa(), fast.scale()),
            (slow.mantissa(), slow.scale()),
            "{ms}"
        );
        assert_eq!(fast.to_string(), slow.to_string(), "{ms}");
    }

    /// The interpolation as decimals, as the energy at an instant was
    /// worked out before `interpolate`.
    fn decimal_interpolation(v0: Decimal, v1: Decimal, n: i64, d: i64) -> Decimal {
        (v0 + (v1 - v0) * (Decimal::from(n) / Decimal::from(d))).round_dp(3)
    }

    #[test]
    fn interpolation_rounds_half_to_even() {
        let wh = |s: &str| Decimal::from_str(s).unwrap();
        // 0.0005 Wh and 0.0015 Wh: ties, to the even mWh.
        assert_eq!(interpolate(wh("0"), wh("0.001"), 1, 2), Some(wh("0.000")));
        assert_eq!(
            interpolate(wh("0.001"), wh("0.002"), 1, 2),
            Some(wh("0.002"))
        );
        // A third of 10 Wh, and the ends.
        assert_eq!(interpolate(wh("0"), wh("10"), 1, 3), Some(wh("3.333")));
        assert_eq!(interpolate(wh("5"), wh("27825.000"), 0, 7), Some(wh("5")));
        assert_eq!(
            interpolate(wh("5"), wh("27825.000"), 7, 7),
            Some(wh("27825"))
        );
        // 3 mWh in sixths: 0.5 mWh exactly, a tie, to the even 0.
        assert_eq!(interpolate(wh("0"), wh("0.003"), 1, 6), Some(wh("0.000")));
        for (v1, n, d) in [("0.003", 1, 6), ("0.001", 1, 2), ("0.005", 3, 10)] {
            let fast = interpolate(wh("0"), wh(v1), n, d);
            assert_eq!(fast, Some(decimal_interpolation(wh("0"), wh(v1), n, d)));
        }
        // More than three decimals: left to the decimals.
        assert_eq!(interpolate(wh("0.0001"), wh("1"), 1, 2), None);
    }

    proptest::proptest! {
        /// Exact ties are left out: there the decimal interpolation rounds
        /// a product of a 28-digit quotient, which could fall either side
        /// (none found to: see the ties above).
        #[test]
        fn interpolation_is_the_decimal_one_but_on_ties(
            a in 0i64..10i64.pow(12),
            step in 0i64..10i64.pow(9),
            d in 1i64..10i64.pow(10),
            at in 0.0f64..=1.0,
        ) {
            let n = ((d as f64) * at) as i64;
            let (v0, v1) = (Decimal::new(a, 3), Decimal::new(a + step, 3));
            let fast = interpolate(v0, v1, n, d).unwrap();
            let tie = (i128::from(step) * i128::from(n) * 2) % i128::from(d) == 0
                && (i128::from(step) * i128::from(n)) % i128::from(d) != 0;
            if !tie {
                proptest::prop_assert_eq!(fast, decimal_interpolation(v0, v1, n, d));
            }
            proptest::prop_assert!(fast >= v0 && fast <= v1);
        }
    }

    #[test]
    fn seconds_are_the_milliseconds_divided() {
        for ms in (-3000..3000).chain([86_400_000, -86_400_000_000]) {
            assert_seconds(ms);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_span_has_the_divided_seconds(ms in -10i64.pow(13)..10i64.pow(13)) {
            assert_seconds(ms);
            assert_seconds(ms / 1000 * 1000);
        }
    }

    #[test]
    fn peak_boundary_splits_pro_rata() {
        // 16:30-18:30 UTC, 10 kWh evenly: 2.5 kWh before 17:00, 7.5 after.
        let tariff = &parse_toml("t", PEAK).unwrap().tariffs[0];
        let bill = price_session(
            session(
                "2026-10-07T16:30:00Z",
                "2026-10-07T18:30:00Z",
                "2026-10-07T18:30:00Z",
                "10",
            ),
            tariff,
            chrono_tz::UTC,
        );
        assert_eq!(bill.split, Split::ProRata);
        let energy: Vec<(&str, Decimal, Decimal)> = bill
            .lines
            .iter()
            .map(|l| (l.label.as_str(), l.quantity, l.amount))
            .collect();
        assert_eq!(
            energy,
            vec![
                ("energy peak", d("7.5"), d("3.00")),
                ("energy standard", d("2.5"), d("0.50"))
            ]
        );
        assert_eq!(bill.net(), d("3.50"));
        assert_eq!(bill.vat(), d("0.74")); // 3.50 x 21% = 0.735 -> 0.74 (half-up)
    }

    #[test]
    fn meter_curve_beats_pro_rata() {
        // All energy arrives before 17:00 on the curve: no peak energy.
        let tariff = &parse_toml("t", PEAK).unwrap().tariffs[0];
        let mut s = session(
            "2026-10-07T16:30:00Z",
            "2026-10-07T18:30:00Z",
            "2026-10-07T17:00:00Z",
            "10",
        );
        s.curve = vec![
            (t("2026-10-07T16:30:00Z"), 1000.0),
            (t("2026-10-07T17:00:00Z"), 11000.0),
            (t("2026-10-07T18:30:00Z"), 11000.0),
        ];
        let bill = price_session(s, tariff, chrono_tz::UTC);
        assert_eq!(bill.split, Split::MeterCurve);
        assert_eq!(bill.kwh_by_band, vec![("standard".into(), d("10"))]);
        assert_eq!(bill.net(), d("2.00"));
    }

    #[test]
    fn a_copied_tariff_plans_from_its_own_fields() {
        let tariff = parse_toml("t", PEAK).unwrap().tariffs[0].clone();
        let priced = |t: &Tariff| {
            let s = session(
                "2026-10-07T16:30:00Z",
                "2026-10-07T18:30:00Z",
                "2026-10-07T18:30:00Z",
                "10",
            );
            price_session(s, t, chrono_tz::UTC).net()
        };
        // The original's plan is made and kept...
        assert_eq!(priced(&tariff), d("3.50"));
        // ...and a copy whose peak window moves an hour later makes its
        // own: three quarters of the session is standard, a quarter peak.
        let mut later = tariff.clone();
        for e in &mut later.elements {
            if let Some(start) = e.restrictions.start_time {
                e.restrictions.start_time = Some(start + Duration::hours(1));
            }
        }
        assert_ne!(later.elements, tariff.elements);
        assert_eq!(priced(&later), d("2.50"));
        assert_eq!(priced(&tariff), d("3.50"));
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// A price: mostly ordinary, sometimes zero, huge, tiny or wrong.
        fn money() -> impl Strategy<Value = String> {
            prop_oneof![
                8 => (0u32..100_000).prop_map(|c| format!("{}.{:02}", c / 100, c % 100)),
                1 => Just("0".to_string()),
                1 => Just("\"79228162514264337593543950335\"".to_string()),
                1 => Just("\"0.0000000000000000000000000001\"".to_string()),
                1 => Just("1e20".to_string()),
                1 => Just("\"1e-30\"".to_string()),
                1 => (0u64..u64::MAX).prop_map(|n| n.to_string()),
                1 => Just("-1.5".to_string()),
                1 => Just("\"abc\"".to_string()),
            ]
        }

        /// A time of day, including the edges (24:00, equal start and end).
        fn hhmm() -> impl Strategy<Value = String> {
            prop_oneof![
                8 => (0u32..24, 0u32..60).prop_map(|(h, m)| format!("\"{h:02}:{m:02}\"")),
                1 => Just("\"24:00\"".to_string()),
                1 => Just("\"00:00\"".to_string()),
                1 => Just("\"25:00\"".to_string()),
            ]
        }

        /// A tariff with its values drawn from the strategies above, and
        /// some lines left out.
        fn tariff_text() -> impl Strategy<Value = String> {
            (
                proptest::collection::vec(money(), 9),
                (hhmm(), hhmm()),
                prop_oneof![
                    Just("1".to_string()),
                    Just("12".to_string()),
                    Just("13".to_string()),
                    Just("".to_string())
                ],
                prop_oneof![Just(0u32), 0u32..1440, Just(u32::MAX)],
                0u32..300,
                proptest::collection::vec(any::<bool>(), 20),
            )
                .prop_map(|(m, (start, end), month, grace, vat, keep)| {
                    let lines = [
                        format!("session_fee = {}", m[0]),
                        format!("min_price = {}", m[1]),
                        format!("max_price = {}", m[2]),
                        format!("vat = {vat}"),
                        "[tariff.energy]".to_string(),
                        format!("price = {}", m[3]),
                        "[[tariff.energy.window]]".to_string(),
                        "name = \"w\"".to_string(),
                        format!("start = {start}"),
                        format!("end = {end}"),
                        format!("months = [{month}]"),
                        format!("price = {}", m[4]),
                        "[tariff.idle]".to_string(),
                        format!("price = {}", m[5]),
                        format!("grace_minutes = {grace}"),
                        format!("cap = {}", m[6]),
                        "[tariff.time]".to_string(),
                        format!("price = {}", m[7]),
                        "[[tariff.discount]]".to_string(),
                        "id_tag = \"TAG\"".to_string(),
                        format!("percent = {}", m[8]),
                    ];
                    let mut text = "[[tariff]]\nid = \"f\"\ncurrency = \"EUR\"\n".to_string();
                    for (i, l) in lines.iter().enumerate() {
                        // Headers, names and prices stay; the rest may go.
                        let required = l.starts_with('[')
                            || l.starts_with("name")
                            || l.starts_with("id_tag")
                            || l.starts_with("price");
                        if required || keep[i % keep.len()] {
                            text += l;
                            text.push('\n');
                        }
                    }
                    text
                })
        }

        proptest! {
            /// Whatever a tariff file holds, evmon either refuses it with an
            /// error or prices sessions with it: it never panics (no decimal
            /// overflow, no endless loop), and the invoice adds up.
            #[test]
            fn any_tariff_prices_without_panicking(
                text in tariff_text(),
                start_min in 0i64..(400 * 1440),
                minutes in 0i64..(5 * 1440),
                idle in 0i64..600,
                wh in prop_oneof![Just(0u64), 0u64..200_000, Just(5_000_000_000u64)],
            ) {
                let Ok(set) = parse_toml("fuzz.toml", &text) else { return Ok(()); };
                let start = t("2026-01-01T00:00:00Z") + chrono::Duration::minutes(start_min);
                let stop = start + chrono::Duration::minutes(minutes + idle);
                let s = SessionInput {
                    uid: "s".into(),
                    station: "CP".into(),
                    connector: Some(1),
                    id_tag: Some("TAG".into()),
                    customer: None,
                    start,
                    stop,
                    charging_end: start + chrono::Duration::minutes(minutes),
                    energy_wh: Decimal::from(wh),
                    curve: Vec::new(),
                };
                for tariff in &set.tariffs {
                    let bill = price_session(s.clone(), tariff, chrono_tz::Europe::Amsterdam);
                    let sum: Decimal = bill.lines.iter().map(|l| l.amount).sum();
                    prop_assert_eq!(bill.net(), sum);
                }
            }
        }
    }
}
