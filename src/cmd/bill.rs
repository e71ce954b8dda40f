//! `evmon bill`: load the tariff and the period's sessions, set aside what
//! cannot be billed (with the reason), price the rest, and write invoices
//! or per-session lines (and OCPI CDRs).

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use polars::prelude::*;
use rayon::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use super::{note, write_made_rows, write_output};
use crate::anomaly::{self, Severity};

use crate::billing::money::{money_text, write_decimal, write_money};
use crate::billing::{self, Charge, GroupBy, SessionBill, SessionInput, Totals};
use crate::cli::{BillArgs, BillBy, GlobalArgs};
use crate::exit;
use crate::output::TableStyle;
use crate::schema::{col, Table};
use crate::store::Store;
use crate::timeutil::{self, TimeRange};

/// Anomalies that make a session's price untrustworthy.
const BLOCKING_KINDS: &[&str] = &[
    "meter_regression",
    "energy_inconsistent",
    "duplicate_transaction",
    "clock_skew",
    "auth_rejected",
];

/// A session that was not billed, and why.
pub(crate) struct Unbillable {
    pub session: anomaly::Session,
    pub reason: String,
}

pub fn run(args: &BillArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let (set, tariff) = load_tariffs(args)?;
    let by = match args.by {
        BillBy::Customer => GroupBy::Customer,
        BillBy::IdTag => GroupBy::IdTag,
        BillBy::Station => GroupBy::Station,
    };
    let currency = |i: usize| set.tariffs[i].currency.as_str();
    if args.lines || args.cdr_out.is_some() {
        // Whole bills are kept only when their lines or CDRs are written.
        let keep_periods = args.cdr_out.is_some();
        let Priced {
            bills,
            unbillable,
            now,
        } = price(args, &tariff, &set, global, |mut bill, i| {
            if !keep_periods {
                // Periods are only needed for CDRs; a year of sessions is a lot of them.
                bill.periods = Vec::new();
            }
            (bill, i)
        })?;
        let bills: Vec<(SessionBill, usize)> = bills.into_iter().flatten().collect();
        if let Some(path) = &args.cdr_out {
            let cdrs: Vec<serde_json::Value> = bills
                .iter()
                .map(|(b, i)| billing::cdr::cdr(b, &set.tariffs[*i], now))
                .collect();
            let text = serde_json::to_string_pretty(&cdrs).expect("CDRs serialize");
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            note(
                global,
                &format!("wrote {} CDRs to {}", cdrs.len(), path.display()),
            );
        }
        let charges: Vec<Charge<'_>> = bills
            .iter()
            .map(|(b, i)| Charge::new(b, by, currency(*i)))
            .collect();
        let invoicing = billing::Invoicing::new(vec![charges]);
        if args.lines {
            summary(global, &Totals::of(&invoicing.all()), &unbillable);
            let bills: Vec<SessionBill> = bills.into_iter().map(|(b, _)| b).collect();
            let df = lines_frame(
                &bills,
                if args.include_unbillable {
                    &unbillable
                } else {
                    &[]
                },
            )?;
            write_output(&df, &args.output, |d| Ok(d.clone()), TableStyle::default())?;
        } else {
            let totals = write_invoices(&invoicing, args)?;
            summary(global, &totals, &unbillable);
        }
    } else {
        // Invoices only: each bill is folded into its charge as soon as it
        // is priced.
        let Priced {
            bills: charges,
            unbillable,
            ..
        } = price(args, &tariff, &set, global, |bill, i| {
            Charge::of(bill, by, currency(i))
        })?;
        let totals = write_invoices(&billing::Invoicing::new(charges), args)?;
        summary(global, &totals, &unbillable);
    }
    Ok(ExitCode::from(exit::OK))
}

trait YearMonth {
    fn year_month(&self) -> (i32, u32);
}

impl YearMonth for NaiveDate {
    fn year_month(&self) -> (i32, u32) {
        use chrono::Datelike;
        (self.year(), self.month())
    }
}

/// The run's summary on stderr: what was billed, and what not and why.
fn summary(global: &GlobalArgs, totals: &Totals<'_>, unbillable: &[Unbillable]) {
    let Totals {
        by_currency,
        kwh,
        sessions,
        invoices,
    } = totals;
    let money: Vec<String> = by_currency
        .iter()
        .map(|(c, t)| {
            format!(
                "net {c} {}, VAT {}, gross {}",
                money_text(t.net, t.minor_units),
                money_text(t.vat, t.minor_units),
                money_text(t.gross, t.minor_units)
            )
        })
        .collect();
    let mut text = format!(
        "billed {} sessions ({} kWh) into {} invoices: {}",
        sessions,
        kwh.round_dp(3),
        invoices,
        if money.is_empty() {
            "nothing".to_string()
        } else {
            money.join("; ")
        }
    );
    if !unbillable.is_empty() {
        let reasons = reason_counts(unbillable);
        let mut counted: Vec<(&String, &u64)> = reasons.iter().collect();
        counted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut list: Vec<String> = counted
            .iter()
            .take(6)
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        if counted.len() > 6 {
            list.push(format!("{} other reasons", counted.len() - 6));
        }
        text += &format!(
            "; {} not billed ({}): see --lines --include-unbillable",
            unbillable.len(),
            list.join(", ")
        );
    }
    note(global, &text);
}

fn local_text(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn str_col(name: &str, values: Vec<Option<String>>) -> Column {
    Column::new(name.into(), values)
}

/// One row per session.
fn lines_frame(bills: &[SessionBill], unbillable: &[Unbillable]) -> PolarsResult<DataFrame> {
    let bands: Vec<String> = bills
        .iter()
        .flat_map(|b| b.kwh_by_band.iter().map(|(n, _)| n.to_string()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let n = bills.len() + unbillable.len();
    let mut cols: Vec<Column> = Vec::new();
    let text = |f: &dyn Fn(&SessionBill) -> Option<String>,
                g: &dyn Fn(&Unbillable) -> Option<String>|
     -> Vec<Option<String>> {
        bills
            .iter()
            .map(f)
            .chain(unbillable.iter().map(g))
            .collect()
    };
    let m = |b: &SessionBill, v: Decimal| Some(money_text(v, b.minor_units));
    cols.push(str_col(
        "session_uid",
        text(&|b| Some(b.uid.to_string()), &|u| {
            Some(u.session.uid.to_string())
        }),
    ));
    cols.push(str_col(
        "station_id",
        text(&|b| Some(b.station.to_string()), &|u| {
            Some(u.session.station.to_string())
        }),
    ));
    cols.push(Column::new(
        "connector_id".into(),
        bills
            .iter()
            .map(|b| b.connector)
            .chain(unbillable.iter().map(|u| u.session.connector))
            .collect::<Vec<_>>(),
    ));
    cols.push(str_col(
        "id_tag",
        text(&|b| b.id_tag.as_ref().map(|t| t.to_string()), &|u| {
            u.session.id_tag.as_deref().map(str::to_string)
        }),
    ));
    cols.push(str_col(
        "customer",
        text(&|b| b.customer.clone(), &|_| None),
    ));
    cols.push(str_col(
        "tariff",
        text(&|b| Some(b.tariff_id.to_string()), &|_| None),
    ));
    cols.push(str_col(
        "start_local",
        text(&|b| Some(local_text(b.start, b.zone)), &|u| {
            Some(timeutil::format_utc(u.session.start))
        }),
    ));
    cols.push(str_col(
        "stop_local",
        text(&|b| Some(local_text(b.stop, b.zone)), &|u| {
            u.session.stop.map(timeutil::format_utc)
        }),
    ));
    cols.push(str_col(
        "timezone",
        text(&|b| Some(b.zone.name().to_string()), &|_| None),
    ));
    cols.push(str_col(
        "split",
        text(&|b| Some(b.split.name().to_string()), &|_| None),
    ));
    cols.push(str_col(
        "kwh",
        text(
            &|b| Some(b.energy_kwh.round_dp(3).normalize().to_string()),
            &|u| {
                u.session
                    .energy_wh
                    .get()
                    .map(|e| format!("{:.3}", e / 1000.0))
            },
        ),
    ));
    for band in &bands {
        cols.push(str_col(
            &format!("kwh_{}", band.replace(' ', "_")),
            text(
                &|b| {
                    Some(
                        b.kwh_by_band
                            .iter()
                            .find(|(n, _)| n == band)
                            .map_or(Decimal::ZERO, |x| x.1)
                            .round_dp(3)
                            .normalize()
                            .to_string(),
                    )
                },
                &|_| None,
            ),
        ));
    }
    use billing::LineKind::*;
    for (name, kind) in [
        ("energy", Energy),
        ("time", Time),
        ("idle", Idle),
        ("fees", Fee),
        ("discounts", Discount),
        ("adjustments", Adjustment),
    ] {
        cols.push(str_col(
            name,
            text(&|b| m(b, b.amount_of(kind.clone())), &|_| None),
        ));
    }
    cols.push(str_col("net", text(&|b| m(b, b.net()), &|_| None)));
    cols.push(str_col(
        "vat_rate",
        text(
            &|b| b.lines.first().map(|l| l.vat.normalize().to_string()),
            &|_| None,
        ),
    ));
    cols.push(str_col("vat", text(&|b| m(b, b.vat()), &|_| None)));
    cols.push(str_col(
        "gross",
        text(&|b| m(b, b.net() + b.vat()), &|_| None),
    ));
    cols.push(str_col(
        "currency",
        text(&|b| Some(b.currency.to_string()), &|_| None),
    ));
    cols.push(str_col(
        "status",
        text(&|_| Some("billed".into()), &|_| Some("unbillable".into())),
    ));
    cols.push(str_col(
        "detail",
        text(
            &|b| {
                Some(
                    b.lines
                        .iter()
                        .map(|l| {
                            format!(
                                "{}: {} {} x {} = {}",
                                l.label,
                                l.quantity.round_dp(4).normalize(),
                                l.unit,
                                l.unit_price.normalize(),
                                money_text(l.amount, b.minor_units)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            },
            &|u| Some(u.reason.clone()),
        ),
    ));
    DataFrame::new(n, cols)
}

/// A register reading in Wh as an exact decimal with 3 places, as it prints
/// to the mWh. Whole Wh (most meters) skip the float formatting.
fn wh_decimal(wh: f64) -> Decimal {
    if wh.fract() == 0.0 && wh.abs() < 1e15 {
        Decimal::new(wh as i64 * 1000, 3)
    } else {
        Decimal::from_str(&format!("{wh:.3}")).unwrap_or_default()
    }
}

/// One row per invoice, written as the output options ask, and what they
/// add up to. Each block of invoices is summed as it is written (as CSV,
/// only a few blocks are ever in memory).
fn write_invoices<'t>(
    invoicing: &billing::Invoicing<'t>,
    args: &BillArgs,
) -> anyhow::Result<Totals<'t>> {
    use crate::output::RowCell::{Count, Text};
    type Inv<'a> = billing::Invoice<'a>;
    let party = match args.by {
        BillBy::Customer => "customer",
        BillBy::IdTag => "id_tag",
        BillBy::Station => "station_id",
    };
    fn money(f: fn(&Inv<'_>) -> Decimal) -> impl Fn(&mut String, &Inv<'_>) + Sync {
        move |out, i| write_money(out, f(i), i.minor_units)
    }
    let (energy, time, idle) = (money(|i| i.energy), money(|i| i.time), money(|i| i.idle));
    let (fees, discounts) = (money(|i| i.fees), money(|i| i.discounts));
    let (adjustments, net) = (money(|i| i.adjustments), money(|i| i.net));
    let (vat, gross) = (money(|i| i.vat), money(|i| i.gross));
    let vat_breakdown = |out: &mut String, i: &Inv<'_>| {
        for (n, g) in i.vat_groups.iter().enumerate() {
            if n > 0 {
                out.push_str("; ");
            }
            write_decimal(out, g.rate);
            out.push_str("%: ");
            write_money(out, g.base, i.minor_units);
            out.push_str(" -> ");
            write_money(out, g.vat, i.minor_units);
        }
    };
    let columns = [
        (
            party,
            Text(&|out: &mut String, i: &Inv<'_>| out.push_str(&i.party)),
        ),
        ("currency", Text(&|out, i| out.push_str(i.currency))),
        ("sessions", Count(|i| i.sessions)),
        (
            "kwh",
            Text(&|out, i| write_decimal(out, i.kwh.round_dp(3).normalize())),
        ),
        ("energy", Text(&energy)),
        ("time", Text(&time)),
        ("idle", Text(&idle)),
        ("fees", Text(&fees)),
        ("discounts", Text(&discounts)),
        ("adjustments", Text(&adjustments)),
        ("net", Text(&net)),
        ("vat_breakdown", Text(&vat_breakdown)),
        ("vat", Text(&vat)),
        ("gross", Text(&gross)),
    ];
    let totals = std::sync::Mutex::new(Totals::default());
    let made = |range| {
        let block = invoicing.block(range);
        let mut sums = Totals::default();
        block.iter().for_each(|i| sums.add(i));
        totals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .merge(sums);
        block
    };
    write_made_rows(
        invoicing.len(),
        &columns,
        made,
        &args.output,
        TableStyle::default(),
    )?;
    Ok(totals
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// Unbilled sessions per reason: the part of each reason before ':'.
pub(crate) fn reason_counts(unbillable: &[Unbillable]) -> BTreeMap<String, u64> {
    let mut reasons = BTreeMap::new();
    for u in unbillable {
        let short = u.reason.split(':').next().unwrap_or(&u.reason).to_string();
        *reasons.entry(short).or_default() += 1;
    }
    reasons
}

/// The tariffs of `--tariff` (or evmon.toml), with `--customers` added.
pub(crate) fn load_tariffs(
    args: &BillArgs,
) -> anyhow::Result<(billing::TariffSet, std::path::PathBuf)> {
    let tariff = args.tariff.as_deref().ok_or_else(|| {
        crate::UsageError(
            "give the tariff: --tariff FILE, or `tariff = \"FILE\"` in evmon.toml".into(),
        )
    })?;
    let mut set = billing::load(tariff)?;
    if let Some(path) = &args.customers {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        set.customers.extend(billing::tariff::parse_customers(
            &path.display().to_string(),
            &text,
        )?);
    }
    Ok((set, tariff.to_path_buf()))
}

/// Sessions of the window priced (each kept as `T`), and those that could
/// not be.
pub(crate) struct Priced<T> {
    /// In session order, in parts (as priced on each core).
    pub bills: Vec<Vec<T>>,
    pub unbillable: Vec<Unbillable>,
    pub now: DateTime<Utc>,
}

/// The sessions of a billing window (`--period` or `--since/--until`),
/// loaded once, with what sorts each into billable or not.
pub(crate) struct Window<'a> {
    args: &'a BillArgs,
    tariff: &'a std::path::Path,
    set: &'a billing::TariffSet,
    input: anomaly::Input,
    /// Station id → site, looked up for every session: Fx hashing.
    sites: FxHashMap<String, String>,
    /// Session uid → why a blocking anomaly keeps it from being billed.
    blocked: FxHashMap<String, String>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// What `classify` found a billable session has: its tariff (index in
/// the set), the zone the tariff's times are read in, and its stop and
/// energy.
#[derive(Clone, Copy)]
struct Billable {
    tariff: usize,
    zone: Tz,
    stop: DateTime<Utc>,
    energy_wh: f64,
}

impl<'a> Window<'a> {
    /// Load the window's sessions and find those a blocking anomaly keeps
    /// from being billed.
    pub(crate) fn open(
        args: &'a BillArgs,
        tariff: &'a std::path::Path,
        set: &'a billing::TariffSet,
        global: &GlobalArgs,
    ) -> anyhow::Result<Window<'a>> {
        let store = Store::open(&global.data)?;
        let snapshot = store.snapshot()?;
        let now = timeutil::now();

        // The window: a local month (read with a day's margin, then filtered
        // per station), or --since/--until.
        let (since, until) = match args.period {
            Some(first) => {
                let next = first
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(first);
                (
                    first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - Duration::days(1),
                    next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + Duration::days(1),
                )
            }
            None => {
                let until = args.window.until.unwrap_or(now);
                let since = args.window.since.ok_or_else(|| {
                    crate::UsageError(
                        "give the period to bill: --period YYYY-MM, or --since (and --until)"
                            .into(),
                    )
                })?;
                (since, until)
            }
        };
        let input = super::anomalies::load(
            &snapshot,
            &args.window.station,
            since - Duration::days(28),
            since,
            until,
            now,
            None,
            // Invoices are per id tag, and auth_rejected blocks billing.
            true,
            // Of the blocking kinds, only duplicate_transaction looks beyond a
            // session itself: at sessions of its connector that overlap it.
            super::anomalies::Before::Overlapping,
        )?;
        let stations = snapshot
            .scan(Table::Stations, &TimeRange::default())?
            .collect()?;
        let sites: FxHashMap<String, String> = {
            let ids = stations.column(col::STATION_ID)?.str()?.clone();
            let site = stations.column(col::SITE)?.str()?.clone();
            ids.iter()
                .zip(site.iter())
                .filter_map(|(i, s)| Some((i?.to_string(), s?.to_string())))
                .collect()
        };
        let rules = crate::config::load(global.config.as_deref())?.anomalies;
        let findings = anomaly::detect(
            &input,
            &rules,
            &BLOCKING_KINDS
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>(),
        );
        // A session's first finding (in time order) is its reason.
        let mut blocked: FxHashMap<String, String> = FxHashMap::default();
        for f in findings.iter().filter(|f| f.severity >= Severity::Warning) {
            if let Some(uid) = &f.session_uid {
                blocked
                    .entry(uid.clone())
                    .or_insert_with(|| format!("anomaly {}: {}", f.kind, f.detail));
            }
        }
        Ok(Window {
            args,
            tariff,
            set,
            input,
            sites,
            blocked,
            since,
            until,
            now,
        })
    }

    /// Whether a session of the window is billed (its tariff and zone),
    /// not (why), or is outside the period or the id tags asked for
    /// (`None`). Unbillable sessions are few: boxed, they keep lists of
    /// results small.
    fn classify(&self, s: &anomaly::Session) -> Option<Result<Billable, Box<Unbillable>>> {
        let (args, set) = (self.args, self.set);
        let site = self.sites.get(&*s.station).map(String::as_str);
        let tariff_idx = set
            .tariffs
            .iter()
            .position(|t| t.is_scoped() && t.covers(&s.station, site, s.start))
            .or_else(|| {
                set.tariffs
                    .iter()
                    .position(|t| !t.is_scoped() && t.covers(&s.station, site, s.start))
            });
        let zone = tariff_idx
            .and_then(|i| set.tariffs[i].timezone)
            .or_else(|| self.input.zones.get(&*s.station).copied());
        let in_period = match args.period {
            Some(first) => {
                let local: NaiveDate = zone.map_or(s.start.date_naive(), |z| {
                    s.start.with_timezone(&z).date_naive()
                });
                local.year_month() == (first.year_month())
            }
            None => s.start >= self.since && s.start < self.until,
        };
        if !in_period {
            return None;
        }
        if !args.id_tag.is_empty()
            && !s
                .id_tag
                .as_ref()
                .is_some_and(|t| args.id_tag.iter().any(|a| **a == **t))
        {
            return None;
        }
        let reason = if s.stop.is_none() {
            Some("never stopped".to_string())
        } else if s.energy_wh.get().is_none() {
            Some("no energy reading".to_string())
        } else if tariff_idx.is_none() {
            // The part before ':' is the reason the summary groups by.
            Some(format!(
                "no tariff covers the station: none in {} matches station {}",
                self.tariff.display(),
                s.station
            ))
        } else if zone.is_none() {
            Some(format!("no time zone for the station: station {} has none; give it in station metadata (--stations) or the tariff (timezone = ...)", s.station))
        } else {
            self.blocked.get(&*s.uid).cloned()
        };
        if let Some(reason) = reason {
            return Some(Err(Box::new(Unbillable {
                session: s.clone(),
                reason,
            })));
        }
        let (Some(tariff), Some(zone), Some(stop), Some(energy_wh)) =
            (tariff_idx, zone, s.stop, s.energy_wh.get())
        else {
            return None;
        };
        Some(Ok(Billable {
            tariff,
            zone,
            stop,
            energy_wh,
        }))
    }

    /// A billable session priced by its tariff in its zone.
    fn price(&self, s: &anomaly::Session, billable: Billable) -> SessionBill {
        let stop = billable.stop;
        let curve: Vec<(DateTime<Utc>, f64)> = self
            .input
            .samples
            .get(&*s.uid)
            .map(|v| v.iter().filter(|x| x.1).map(|x| (x.0, x.2)).collect())
            .unwrap_or_default();
        let customer = s
            .id_tag
            .as_ref()
            .and_then(|t| self.set.customers.get(&**t))
            .cloned();
        let session = SessionInput {
            uid: s.uid.as_str().into(),
            station: s.station.clone(),
            connector: s.connector,
            id_tag: s.id_tag.as_deref().map(Into::into),
            customer,
            start: s.start,
            stop,
            charging_end: s.charging_end.map_or(stop, |c| c.clamp(s.start, stop)),
            energy_wh: wh_decimal(billable.energy_wh),
            curve,
        };
        billing::price_session(session, &self.set.tariffs[billable.tariff], billable.zone)
    }
}

/// Price every session of the window (`--period` or `--since/--until`).
/// `keep` turns each bill and the index of its tariff in `set` into what
/// the caller keeps of it.
pub(crate) fn price<T: Send>(
    args: &BillArgs,
    tariff: &std::path::Path,
    set: &billing::TariffSet,
    global: &GlobalArgs,
    keep: impl Fn(SessionBill, usize) -> T + Sync,
) -> anyhow::Result<Priced<T>> {
    let window = Window::open(args, tariff, set, global)?;
    // The sessions are priced on every core (pricing is independent per
    // session and the bulk of the work on a month of a large fleet), in
    // runs of a few thousand, each into a list sized for the whole run
    // (pages never written are never touched), in session order: lists
    // grown as bills came were copied and faulted in again at every
    // doubling, and joined into one they were copied once more on one core.
    const RUN: usize = 4096;
    let parts: Vec<(Vec<T>, Vec<Unbillable>)> = window
        .input
        .sessions
        .par_chunks(RUN)
        .map(|run| {
            let mut bills = Vec::with_capacity(run.len());
            let mut unbillable = Vec::new();
            for s in run {
                match window.classify(s) {
                    Some(Ok(billable)) => {
                        bills.push(keep(window.price(s, billable), billable.tariff));
                    }
                    Some(Err(u)) => unbillable.push(*u),
                    None => {}
                }
            }
            (bills, unbillable)
        })
        .collect();
    let (bills, unbillable): (Vec<Vec<T>>, Vec<Vec<Unbillable>>) = parts.into_iter().unzip();
    let unbillable: Vec<Unbillable> = unbillable.into_iter().flatten().collect();
    Ok(Priced {
        bills,
        unbillable,
        now: window.now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wh_decimal_matches_the_formatted_reading() {
        for wh in [
            0.0,
            29003.0,
            -12.0,
            29002.999999999996,
            1234.5675,
            0.0005,
            7.1e14,
        ] {
            let slow = Decimal::from_str(&format!("{wh:.3}")).unwrap();
            assert_eq!(wh_decimal(wh), slow, "{wh}");
            assert_eq!(wh_decimal(wh).to_string(), slow.to_string(), "{wh}");
        }
    }
}
