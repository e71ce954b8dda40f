//! `evmon profile`: read the window's sessions, events and station
//! metadata, compute the profile, and write the table (or the hints), the
//! fleet summary on stderr, and the picture.

use std::process::ExitCode;

use anyhow::Context;
use polars::prelude::*;

use super::{note, write_output};
use crate::cli::{GlobalArgs, ProfileArgs, ProfileBy};
use crate::exit;
use crate::output::TableStyle;
use crate::profile::{self, Co2Factors, GroupBy, HintRules, ProfileInput};
use crate::schema::Table;
use crate::store::Store;
use crate::timeutil::{self, TimeRange};

/// Days a profile covers when `--since` is not given.
const DEFAULT_DAYS: i64 = 30;

pub fn run(args: &ProfileArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open(&global.data)?;
    let snapshot = store.snapshot()?;
    let until = args.window.until.unwrap_or_else(timeutil::now);
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
    let mut co2 = Co2Factors::default();
    if let Some(g) = args.grid_intensity {
        co2.grid_g_per_kwh = g;
    }
    if let Some(p) = args.petrol_g_per_km {
        co2.petrol_g_per_km = p;
    }
    if let Some(e) = args.ev_kwh_per_km {
        anyhow::ensure!(e > 0.0, "--ev-kwh-per-km must be above 0");
        co2.ev_kwh_per_km = e;
    }
    if let Some(path) = &args.grid_intensity_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        co2.hourly = Some(profile::read_intensity_csv(
            &path.display().to_string(),
            &text,
        )?);
    }
    let rules = HintRules {
        low_power_ratio: args.hint_low_power,
        peer_power_ratio: args.hint_peer_power,
        min_sessions: args.hint_min_sessions,
        fault_count: args.hint_faults,
        silent_days: args.hint_silent_days,
        drift_ratio: args.hint_drift,
        idle_share: args.hint_idle_share,
    };
    let mut input = input(&snapshot, since, until, args.window.station.clone())?;
    // Daily energy per station is only drawn.
    input.daily = args.plot.is_some();
    let by = match args.by {
        ProfileBy::Station => GroupBy::Station,
        ProfileBy::Site => GroupBy::Site,
        ProfileBy::Connector => GroupBy::Connector,
        ProfileBy::Day => GroupBy::Day,
        ProfileBy::HourOfWeek => GroupBy::HourOfWeek,
    };
    // Hints are judged per station, whatever the grouping shown.
    let profile = profile::build(&input, by, &rules, &co2)?;
    let hints = if by == GroupBy::Station {
        profile.hints.clone()
    } else {
        profile::build(&input, GroupBy::Station, &rules, &co2)?.hints
    };

    if let Some(path) = &args.plot {
        let title = format!(
            "evmon profile {} to {}",
            since.format("%Y-%m-%d"),
            until.format("%Y-%m-%d")
        );
        crate::plot::draw(&profile, path, args.plot_top, &title)?;
        note(global, &format!("drew {}", path.display()));
    }

    let f = &profile.fleet;
    let mut summary = format!(
        "{} to {}: {} stations charged, {} sessions, {:.1} kWh; grid CO2 {:.1} kg, CO2 avoided vs petrol {:.1} kg (grid {} g/kWh, petrol {} g/km, EV {} kWh/km)",
        timeutil::format_utc(since),
        timeutil::format_utc(until),
        f.stations,
        f.sessions,
        f.kwh,
        f.co2_grid_kg,
        f.co2_avoided_kg,
        if co2.hourly.is_some() { "hourly file".to_string() } else { co2.grid_g_per_kwh.to_string() },
        co2.petrol_g_per_km,
        co2.ev_kwh_per_km
    );
    if f.hours_without_intensity > 0 {
        summary += &format!(
            "; {} hours with energy had no intensity in the file and used {} g/kWh",
            f.hours_without_intensity, co2.grid_g_per_kwh
        );
    }
    if !args.hints && !hints.is_empty() {
        summary += &format!(
            "; {} maintenance hints (evmon profile --hints)",
            hints.len()
        );
    }
    note(global, &summary);

    if args.hints {
        let df = DataFrame::new(
            hints.len(),
            vec![
                Column::new(
                    "station_id".into(),
                    hints
                        .iter()
                        .map(|h| h.station_id.as_str())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "hint".into(),
                    hints.iter().map(|h| h.hint).collect::<Vec<_>>(),
                ),
                Column::new(
                    "evidence".into(),
                    hints
                        .iter()
                        .map(|h| h.evidence.as_str())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "rule".into(),
                    hints.iter().map(|h| h.rule.as_str()).collect::<Vec<_>>(),
                ),
            ],
        )?;
        write_output(&df, &args.output, |d| Ok(d.clone()), TableStyle::default())?;
    } else {
        write_output(
            &profile.table,
            &args.output,
            table_view,
            TableStyle {
                decimals: vec![
                    ("utilization %", 1),
                    ("idle %", 0),
                    ("peak/rated", 2),
                    ("CO2 avoided kg", 0),
                ],
                ..TableStyle::default()
            },
        )?;
    }
    Ok(ExitCode::from(exit::OK))
}

/// The table for people: percentages, fewer columns.
fn table_view(df: &DataFrame) -> PolarsResult<DataFrame> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    let mut exprs = Vec::new();
    for key in [
        "station_id",
        "site",
        "connector_id",
        "day",
        "weekday",
        "hour",
        "stations",
    ] {
        if has(key) {
            exprs.push(col(key));
        }
    }
    for (name, shown) in [
        ("sessions", "sessions"),
        ("kwh", "kWh"),
        ("kwh_per_day", "kWh/day"),
        ("mean_kwh", "mean kWh"),
        ("p95_kwh", "p95 kWh"),
        ("mean_duration_h", "mean h"),
        ("stations_charging", "stations charging"),
        ("mean_kw", "mean kW"),
        ("peak_kw", "peak kW"),
        ("rated_kw", "rated kW"),
        ("peak_ratio", "peak/rated"),
    ] {
        if has(name) {
            exprs.push(col(name).alias(shown));
        }
    }
    if has("idle_share") {
        exprs.push((col("idle_share") * lit(100.0)).alias("idle %"));
    }
    if has("utilization") {
        exprs.push((col("utilization") * lit(100.0)).alias("utilization %"));
    }
    for (name, shown) in [
        ("days_without_session", "idle days"),
        ("faults", "faults"),
        ("rank_kwh_per_day", "rank kWh"),
        ("co2_avoided_kg", "CO2 avoided kg"),
        ("hints", "hints"),
    ] {
        if has(name) {
            exprs.push(col(name).alias(shown));
        }
    }
    df.clone().lazy().select(exprs).collect()
}

/// What a profile of `[since, until)` reads from the store, for these
/// stations (all when empty).
pub(crate) fn input(
    snapshot: &crate::store::Snapshot,
    since: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
    only: Vec<String>,
) -> anyhow::Result<ProfileInput> {
    let range = TimeRange {
        since: Some(since),
        until: Some(until),
    };
    Ok(ProfileInput {
        sessions: snapshot.scan(Table::Sessions, &range)?,
        events: snapshot.scan(Table::Events, &range)?,
        stations: snapshot
            .scan(Table::Stations, &TimeRange::default())?
            .collect()?,
        since,
        until,
        only,
        daily: true,
    })
}
