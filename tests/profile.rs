//! `evmon profile` on testdata/profile, whose right answers are worked out
//! by hand in the comments.

use serde_json::Value;

use crate::util::{stderr, testdata, Env};

const WINDOW: [&str; 4] = [
    "--since",
    "2026-10-24T00:00:00Z",
    "--until",
    "2026-10-27T00:00:00Z",
];

fn loaded() -> Env {
    let env = Env::new();
    env.ingest(&[
        &testdata("profile/sessions.csv"),
        "--stations",
        &testdata("profile/stations.toml"),
    ]);
    env
}

fn row<'a>(rows: &'a [Value], id: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["station_id"] == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

fn close(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-6)
}

#[test]
fn station_profile_worked_by_hand() {
    let env = loaded();
    let mut args = vec!["profile"];
    args.extend(WINDOW);
    let rows = env.json(&args);
    assert_eq!(rows.len(), 4, "P1, P2 (no sessions), P3 (no metadata), P4");

    // P1: S1 21:00Z-03:00Z across midnight and the 01:00Z DST change,
    // charging until 23:00Z: 6 h plugged (not the 5 h a wall clock shows),
    // 2 h charging, 4 h idle. S2: 4 h, 2 h charging, 2 h idle. S0 is outside.
    let p1 = row(&rows, "P1");
    assert_eq!(p1["sessions"], 2);
    assert!(close(&p1["kwh"], 34.0));
    assert!(close(&p1["mean_kwh"], 17.0));
    assert!(close(&p1["p95_kwh"], 19.7), "{}", p1["p95_kwh"]); // 14 + 0.95 * (20 - 14)
    assert!(close(&p1["mean_duration_h"], 5.0));
    assert!(close(&p1["charging_h"], 4.0));
    assert!(close(&p1["idle_h"], 6.0));
    assert!(close(&p1["idle_share"], 0.6));
    assert!(close(&p1["utilization"], 10.0 / 72.0)); // 10 h plugged, 72 h, 1 connector
    assert!(close(&p1["peak_kw"], 10.0));
    assert!(close(&p1["peak_ratio"], 10.0 / 11.0));
    // Local days 24, 25, 26, 27 Oct (the window ends 01:00 CET on the 27th);
    // sessions started on the 24th (23:00 CEST) and the 26th.
    assert_eq!(p1["days_without_session"], 2);
    assert_eq!(p1["first_session"], "2026-10-24T21:00:00Z");
    assert!(close(&p1["co2_grid_kg"], 34.0 * 0.214));
    assert!(close(
        &p1["co2_avoided_kg"],
        34.0 / 0.18 * 0.1216 - 34.0 * 0.214
    ));

    // P2: in metadata, no session in the window.
    let p2 = row(&rows, "P2");
    assert_eq!(p2["sessions"], 0);
    assert!(close(&p2["kwh"], 0.0));
    assert!(close(&p2["utilization"], 0.0));
    assert_eq!(p2["days_without_session"], 4);
    assert_eq!(p2["site"], "North");

    // P3: not in metadata: no site, no rating, UTC days, one connector.
    let p3 = row(&rows, "P3");
    assert_eq!(p3["site"], Value::Null);
    assert_eq!(p3["rated_kw"], Value::Null);
    assert_eq!(p3["peak_ratio"], Value::Null);
    assert!(close(&p3["peak_kw"], 5.0)); // no max power: 5 kWh over 1 h
    assert!(close(&p3["utilization"], 1.0 / 72.0));
    assert_eq!(p3["days_without_session"], 2);

    // Ranks by kWh/day: P4 50, P1 34, P3 5; P2 has no data.
    assert_eq!(row(&rows, "P4")["rank_kwh_per_day"], 1);
    assert_eq!(p1["rank_kwh_per_day"], 2);
    assert_eq!(p3["rank_kwh_per_day"], 3);
}

#[test]
fn hints_carry_their_evidence() {
    let env = loaded();
    let mut args = vec!["profile", "--hints"];
    args.extend(WINDOW);
    let hints = env.json(&args);
    let p4: Vec<&Value> = hints.iter().filter(|h| h["station_id"] == "P4").collect();
    assert_eq!(p4.len(), 1, "{hints:?}");
    assert_eq!(p4[0]["hint"], "underpowered");
    assert!(p4[0]["evidence"]
        .as_str()
        .unwrap()
        .contains("peak 10.0 kW over 5 sessions is 20% of the rated 50.0 kW"));
    assert!(p4[0]["rule"].as_str().unwrap().contains("--hint-low-power"));
    // A threshold the user moves changes the verdict.
    let mut args = vec!["profile", "--hints", "--hint-low-power", "0.1"];
    args.extend(WINDOW);
    assert!(env.json(&args).iter().all(|h| h["hint"] != "underpowered"));
}

#[test]
fn co2_from_an_hourly_intensity_file() {
    let env = loaded();
    let file = testdata("profile/intensity.csv");
    let mut args = vec!["profile", "--grid-intensity-file", &file, "--station", "P3"];
    args.extend(WINDOW);
    let out = env
        .evmon()
        .args(&args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = crate::util::json_lines(&out.stdout);
    // S3 delivered 5 kWh in the 10:00Z hour, at 100 g/kWh.
    assert!(close(&row(&rows, "P3")["co2_grid_kg"], 0.5));
    let mut args = vec!["profile", "--grid-intensity", "300", "--station", "P3"];
    args.extend(WINDOW);
    assert!(close(&row(&env.json(&args), "P3")["co2_grid_kg"], 1.5));
}

#[test]
fn other_groupings() {
    let env = loaded();
    let by = |g: &str| {
        let mut args = vec!["profile", "--by", g];
        args.extend(WINDOW);
        env.json(&args)
    };
    let sites = by("site");
    assert!(close(&row_by(&sites, "site", "North")["kwh"], 34.0));
    assert!(close(&row_by(&sites, "site", "(no site)")["kwh"], 5.0));
    // North: P1 (1 connector) + P2 (2): 10 h over 72 h x 3 connectors.
    assert!(close(
        &row_by(&sites, "site", "North")["utilization"],
        10.0 / 216.0
    ));
    let hours = by("hour-of-week");
    assert_eq!(hours.len(), 168);
    // S3: Sunday 25 Oct 10:00-11:00 UTC (P3 has no zone).
    let sun10 = hours
        .iter()
        .find(|h| h["weekday"] == "Sun" && h["hour"] == 10)
        .unwrap();
    assert!(sun10["kwh"].as_f64().unwrap() >= 5.0);
    let days = by("day");
    let total: f64 = days.iter().filter_map(|d| d["kwh"].as_f64()).sum();
    assert!((total - 89.0).abs() < 1e-6, "{total}"); // 34 + 5 + 50
    let connectors = by("connector");
    assert!(connectors
        .iter()
        .any(|c| c["station_id"] == "P1" && c["connector_id"] == 1));
}

fn row_by<'a>(rows: &'a [Value], key: &str, value: &str) -> &'a Value {
    rows.iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no {key}={value} in {rows:?}"))
}

#[test]
fn plot_is_an_svg_with_both_charts() {
    let env = loaded();
    let svg = env.dir.path().join("p.svg");
    let mut args = vec!["profile", "--plot", svg.to_str().unwrap(), "-q"];
    args.extend(WINDOW);
    env.evmon().args(&args).assert().success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    assert!(text.contains("Daily energy") && text.contains("hour of week"));
    assert!(text.contains("P4") && text.contains("Sun"));
    let png = env.dir.path().join("p.png");
    let out = env
        .evmon()
        .args(["profile", "--plot", png.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("evmon draws SVG"));
}
