//! `evmon sessions`: filters, formats and `-o`.

use crate::util::{json_lines, stderr, sum, testdata, Env};

fn loaded() -> Env {
    let env = Env::new();
    env.ingest(&["examples/data", "--stations", "examples/stations.toml"]);
    env
}

#[test]
fn window_station_and_tag_filters() {
    let env = loaded();
    let all = env.json(&["sessions"]);
    assert_eq!(all.len(), 579 + 7, "CSV and OCPP sessions");
    // EVMON_NOW is 2026-11-01T00:00Z: the last 7 days.
    let week = env.json(&["sessions", "--since", "7d"]);
    assert!(!week.is_empty() && week.len() < all.len());
    assert!(week
        .iter()
        .all(|s| s["start"].as_str().unwrap() >= "2026-10-25T00:00:00Z"));
    let day = env.json(&["sessions", "--since", "2026-10-10", "--until", "2026-10-11"]);
    assert!(day
        .iter()
        .all(|s| s["start"].as_str().unwrap().starts_with("2026-10-10")));
    let expected = all
        .iter()
        .filter(|s| s["start"].as_str().unwrap().starts_with("2026-10-10"))
        .count();
    assert_eq!(day.len(), expected);

    let two = env.json(&["sessions", "--station", "UTR-MALL-02,UTR-MALL-03"]);
    assert!(two
        .iter()
        .all(|s| s["station_id"] == "UTR-MALL-02" || s["station_id"] == "UTR-MALL-03"));
    let tag = all[0]["id_tag"].as_str().unwrap().to_string();
    let tagged = env.json(&["sessions", "--id-tag", &tag]);
    assert!(!tagged.is_empty() && tagged.iter().all(|s| s["id_tag"] == tag.as_str()));
    let limited = env.json(&["sessions", "--limit", "5"]);
    assert_eq!(limited, all[..5].to_vec());
    // Energy is never negative.
    assert!(all
        .iter()
        .all(|s| s["energy_wh"].as_f64().is_none_or(|e| e >= 0.0)));
    assert!(sum(&all, "energy_wh") > 0.0);
}

#[test]
fn csv_when_piped_and_output_files() {
    let env = loaded();
    let out = env
        .evmon()
        .args(["sessions", "--limit", "3"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[0], "session_uid");
    assert!(header.contains(&"energy_wh".to_string()));
    assert_eq!(rdr.records().count(), 3);

    let file = env.dir.path().join("out.json");
    env.evmon()
        .args(["sessions", "--limit", "2", "-o", file.to_str().unwrap()])
        .assert()
        .success()
        .stdout("");
    let rows = json_lines(&std::fs::read(&file).unwrap());
    assert_eq!(rows.len(), 2);

    let out = env
        .evmon()
        .args(["sessions", "--format", "table", "--max-rows", "4"])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        table.contains("kWh") && table.contains("AMS-DEPOT"),
        "{table}"
    );
    assert!(
        !table.contains('\u{1b}'),
        "no colour codes when NO_COLOR is set"
    );
    assert!(stderr(&out).contains("showing 4 of 586 rows"));
}

#[test]
fn partition_pruning_keeps_results_identical() {
    let env = Env::new();
    env.ingest(&[&testdata("csv")]);
    let all = env.json(&["sessions"]);
    let recent = env.json(&["sessions", "--since", "2021-01-01"]);
    let expected: Vec<_> = all
        .iter()
        .filter(|s| s["start"].as_str().unwrap() >= "2021-01-01")
        .cloned()
        .collect();
    assert_eq!(recent, expected);
}
