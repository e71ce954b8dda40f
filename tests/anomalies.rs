//! `evmon anomalies` on testdata/anomalies (made by its make.py): a clean
//! month yields nothing; each injected anomaly is found and each near miss
//! is not; exit codes for cron; thresholds from evmon.toml.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::{json_lines, stderr, testdata, Env};

const NOW: &str = "2026-10-26T00:00:00Z";
const WINDOW: [&str; 4] = ["--since", "2026-10-19", "--until", "2026-10-26"];

fn env_with(files: &[&str]) -> Env {
    let env = Env::new();
    let stations = testdata("anomalies/stations.toml");
    let mut args: Vec<String> = files.iter().map(|f| testdata(f)).collect();
    args.push("--stations".into());
    args.push(stations);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.evmon()
        .env("EVMON_NOW", NOW)
        .arg("ingest")
        .args(&args)
        .assert()
        .success();
    env
}

fn anomalies(env: &Env, extra: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let out = env
        .evmon()
        .env("EVMON_NOW", NOW)
        .arg("anomalies")
        .args(WINDOW)
        .args(extra)
        .args(["--format", "json"])
        .output()
        .unwrap();
    (out.status.code(), json_lines(&out.stdout), stderr(&out))
}

fn labels() -> Value {
    let text = std::fs::read_to_string(crate::util::repo().join(testdata("anomalies/labels.json")))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn matches(f: &Value, label: &Value) -> bool {
    f["kind"] == label["kind"]
        && f["station_id"] == label["station_id"]
        && label["day"]
            .as_str()
            .is_none_or(|d| f["detail"].as_str().is_some_and(|t| t.contains(d)))
        && match label["session_id"].as_str() {
            Some(id) => f["session_uid"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("/{id}"))),
            None => true,
        }
}

#[test]
fn a_clean_month_has_no_findings() {
    let env = env_with(&["anomalies/clean.csv"]);
    let (code, findings, err) = anomalies(&env, &["--fail-on", "warning"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(findings.is_empty(), "{findings:#?}");
    assert!(err.contains("0 findings"), "{err}");
}

#[test]
fn injected_anomalies_found_near_misses_not() {
    let env = env_with(&[
        "anomalies/clean.csv",
        "anomalies/injected.csv",
        "anomalies/injected.jsonl",
    ]);
    let allow = testdata("anomalies/allow-list.csv");
    let (code, findings, err) = anomalies(&env, &["--allow-list", &allow]);
    assert_eq!(
        code,
        Some(0),
        "no --fail-on: exit 0 whatever is found; {err}"
    );
    let labels = labels();
    let expect = labels["expect"].as_array().unwrap();
    let near = labels["near_miss"].as_array().unwrap();

    // Per kind: true positives, misses, false alarms on near misses.
    let mut table: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    for l in expect {
        let e = table.entry(l["kind"].as_str().unwrap().into()).or_default();
        if findings.iter().any(|f| matches(f, l)) {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for l in near {
        if findings.iter().any(|f| matches(f, l)) {
            table
                .entry(l["kind"].as_str().unwrap().into())
                .or_default()
                .2 += 1;
        }
    }
    let (tp, missed, false_alarms) = table
        .values()
        .fold((0, 0, 0), |a, v| (a.0 + v.0, a.1 + v.1, a.2 + v.2));
    let recall = tp as f64 / (tp + missed) as f64;
    let precision = tp as f64 / (tp + false_alarms) as f64;
    eprintln!(
        "anomaly fixtures: recall {recall:.2}, precision {precision:.2} over {} kinds: {table:?}",
        table.len()
    );
    assert_eq!(missed, 0, "missed: {table:?}\n{findings:#?}");
    assert_eq!(false_alarms, 0, "near misses flagged: {table:?}");

    // Rows carry every documented field.
    for f in &findings {
        for key in [
            "ts",
            "station_id",
            "connector_id",
            "session_uid",
            "kind",
            "severity",
            "score",
            "detail",
        ] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
        assert!(["info", "warning", "critical"].contains(&f["severity"].as_str().unwrap()));
    }
    let spike = findings
        .iter()
        .find(|f| f["kind"] == "power_spike")
        .unwrap();
    assert_eq!(spike["detail"], "peak 15.0 kW is 136% of the rated 11.0 kW");
}

#[test]
fn ocpp_faults_silences_and_stuck_connectors() {
    let env = Env::new();
    env.ingest(&[&testdata("ocpp16"), &testdata("ocpp201")]);
    let out = env
        .evmon()
        .env("EVMON_NOW", "2026-10-27T00:00:00Z")
        .args(["anomalies", "--since", "2026-10-24", "--format", "json"])
        .output()
        .unwrap();
    let findings = json_lines(&out.stdout);
    let kinds: Vec<&str> = findings
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "faulted",
        "station_silent",
        "auth_rejected",
        "stuck_status",
        "open_session",
    ] {
        assert!(kinds.contains(&kind), "{kind} not in {kinds:?}");
    }
    let faulted = findings.iter().find(|f| f["kind"] == "faulted").unwrap();
    assert_eq!(
        faulted["detail"],
        "Faulted: GroundFailure (vendorErrorCode=E-GF-17; vendorId=com.alfen; info=RCD tripped)"
    );
    assert_eq!(
        findings
            .iter()
            .filter(|f| f["kind"] == "auth_rejected")
            .count(),
        2
    );
}

#[test]
fn exit_codes_filters_and_stability() {
    let env = env_with(&[
        "anomalies/clean.csv",
        "anomalies/injected.csv",
        "anomalies/injected.jsonl",
    ]);
    let (code, all, _) = anomalies(&env, &["--fail-on", "critical"]);
    assert_eq!(code, Some(3));
    let (code, only, _) = anomalies(
        &env,
        &[
            "--kinds",
            "power_spike,zero_energy",
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(code, Some(0), "no critical among these kinds");
    assert!(only
        .iter()
        .all(|f| f["kind"] == "power_spike" || f["kind"] == "zero_energy"));
    let (_, warn, _) = anomalies(&env, &["--min-severity", "warning"]);
    assert!(warn.iter().all(|f| f["severity"] != "info"));
    assert!(warn.len() < all.len());
    // Same data, same findings, in the same order; a forced re-ingest changes nothing.
    let (_, again, _) = anomalies(&env, &[]);
    let (_, first, _) = anomalies(&env, &[]);
    assert_eq!(again, first);
    env.evmon()
        .env("EVMON_NOW", NOW)
        .args([
            "ingest",
            "--force",
            "-q",
            &testdata("anomalies/injected.csv"),
            &testdata("anomalies/injected.jsonl"),
        ])
        .assert()
        .success();
    let (_, after, _) = anomalies(&env, &[]);
    assert_eq!(after, first);
    let out = env
        .evmon()
        .args(["anomalies", "--kinds", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn thresholds_from_evmon_toml() {
    let env = env_with(&["anomalies/clean.csv", "anomalies/injected.csv"]);
    let (_, before, _) = anomalies(&env, &["--kinds", "idle_blocking"]);
    assert!(before.iter().any(|f| f["session_uid"] == "csv:A2/X-IDLE"));
    let config = env.write("evmon.toml", "[anomalies]\nidle_hours = 20.0\n");
    let (_, after, err) = anomalies(
        &env,
        &[
            "--kinds",
            "idle_blocking",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert!(
        after.iter().all(|f| f["session_uid"] != "csv:A2/X-IDLE"),
        "{after:?}"
    );
    assert!(err.contains("thresholds from"), "{err}");
    let bad = env.write("bad.toml", "[anomalies]\nidle_hour = 20.0\n");
    let (code, _, err) = anomalies(&env, &["--config", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("bad.toml:2:") && err.contains("idle_hour"),
        "{err}"
    );
}
