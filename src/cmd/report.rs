//! `evmon report`: gather a month's profile, picture, anomalies and revenue
//! from the other capabilities and write them as one page.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Duration, Months};
use rust_decimal::Decimal;

use super::{anomalies, bill, note};
use crate::anomaly::{self, Severity};
use crate::cli::{
    BillArgs, BillBy, GlobalArgs, OutputArgs, OutputFormat, ReportArgs, ReportFormat, WindowArgs,
};
use crate::exit;
use crate::plot;
use crate::profile::{self, Co2Factors, GroupBy, HintRules};
use crate::report::{self, Report, Revenue};
use crate::store::Store;
use crate::timeutil;

fn severity_index(s: Severity) -> usize {
    match s {
        Severity::Critical => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}

pub fn run(args: &ReportArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&global.data)?;
    let snapshot = store.snapshot()?;
    let now = timeutil::now();
    let first = args.period;
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    let since = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let until = next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let period = first.format("%Y-%m").to_string();

    // Profile and picture.
    let co2 = Co2Factors::default();
    let input = super::profile::input(&snapshot, since, until, Vec::new())?;
    let prof = profile::build(&input, GroupBy::Station, &HintRules::default(), &co2)?;
    let picture_svg = plot::render_svg(&prof, args.top, &format!("evmon {period}"))?;

    // Anomalies, all kinds.
    let rules = crate::config::load(global.config.as_deref())?.anomalies;
    let history = since - Duration::days(rules.baseline_days);
    let ainput = anomalies::load(
        &snapshot,
        &[],
        history,
        since,
        until,
        now,
        None,
        true,
        anomalies::Before::All,
    )?;
    let findings = anomaly::detect(&ainput, &rules, &[]);
    let mut by_kind: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    let mut by_station: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for f in &findings {
        by_kind.entry(f.kind.to_string()).or_default()[severity_index(f.severity)] += 1;
        by_station.entry(f.station_id.clone()).or_default()[severity_index(f.severity)] += 1;
    }
    let mut anomalies_by_station: Vec<(String, [u64; 3])> = by_station.into_iter().collect();
    anomalies_by_station.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

    // Revenue per tariff band, priced exactly as `evmon bill` does.
    let (revenue, unbilled) = match &args.tariff {
        None => (
            Err(
                "No tariff given (--tariff, or `tariff` in evmon.toml): revenue is not computed."
                    .to_string(),
            ),
            Vec::new(),
        ),
        Some(t) => {
            let bargs = BillArgs {
                tariff: Some(t.clone()),
                period: Some(first),
                window: WindowArgs {
                    since: None,
                    until: None,
                    station: Vec::new(),
                },
                id_tag: Vec::new(),
                customers: None,
                by: BillBy::Customer,
                lines: false,
                include_unbillable: false,
                cdr_out: None,
                output: OutputArgs {
                    format: OutputFormat::Auto,
                    output: None,
                    max_rows: 0,
                },
            };
            let (set, path) = bill::load_tariffs(&bargs)?;
            let priced = bill::price(&bargs, &path, &set, global, |b, _| b)?;
            let mut bands: BTreeMap<(String, String, String), (Decimal, Decimal)> = BTreeMap::new();
            for b in priced.bills.iter().flatten() {
                for l in &b.lines {
                    let e = bands
                        .entry((
                            b.tariff_id.to_string(),
                            b.currency.to_string(),
                            l.label.to_string(),
                        ))
                        .or_default();
                    if l.unit == "kWh" {
                        e.0 += l.quantity;
                    }
                    e.1 += l.amount;
                }
            }
            let reasons = bill::reason_counts(&priced.unbillable);
            (
                Ok(bands
                    .into_iter()
                    .map(|((tariff, currency, band), (kwh, net))| Revenue {
                        tariff,
                        currency,
                        band,
                        kwh,
                        net,
                    })
                    .collect()),
                reasons.into_iter().collect(),
            )
        }
    };

    let page = Report {
        window: format!(
            "{} to {} (UTC)",
            timeutil::format_utc(since),
            timeutil::format_utc(until)
        ),
        period,
        generated: timeutil::format_utc(now),
        store: global.data.display().to_string(),
        co2_basis: format!(
            "Grid {} g CO2e/kWh (EEA, EU-27 2023); a petrol car emits {} g CO2/km; the EV uses {} kWh/km.",
            co2.grid_g_per_kwh, co2.petrol_g_per_km, co2.ev_kwh_per_km
        ),
        fleet: prof.fleet.clone(),
        stations: prof.table.clone(),
        picture_svg,
        anomalies_by_kind: by_kind.into_iter().collect(),
        anomalies_by_station,
        revenue,
        unbilled,
        hints: prof
            .hints
            .iter()
            .map(|h| (h.station_id.clone(), h.hint.to_string(), h.evidence.clone()))
            .collect(),
    };
    let markdown = match args.format {
        ReportFormat::Md => true,
        ReportFormat::Html => false,
        ReportFormat::Auto => args
            .output
            .as_ref()
            .and_then(|p| p.extension())
            .is_some_and(|e| e.eq_ignore_ascii_case("md")),
    };
    let text = if markdown {
        report::markdown(&page)
    } else {
        report::html(&page)
    };
    match &args.output {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            note(
                global,
                &format!(
                    "wrote {} ({} KiB): {} stations, {} sessions, {} findings",
                    path.display(),
                    text.len() / 1024,
                    page.fleet.stations,
                    page.fleet.sessions,
                    findings.len()
                ),
            );
        }
        _ => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(ExitCode::from(exit::OK))
}
