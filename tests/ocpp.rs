//! OCPP ingest against the generator's own record: fixtures in
//! testdata/ocpp16 and testdata/ocpp201 were produced by the `ocpp` Python
//! package talking to a back-office over loopback (testdata/ocpp/generate.py),
//! which wrote down every session it played in testdata/ocpp/expected.json.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::util::{stderr, testdata, Env};

fn expected() -> Vec<Value> {
    let text =
        std::fs::read_to_string(crate::util::repo().join(testdata("ocpp/expected.json"))).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["sessions"].as_array().unwrap().clone()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn ingest_all() -> (Env, String) {
    let env = Env::new();
    let out = env.ingest(&[&testdata("ocpp16"), &testdata("ocpp201")]);
    (env, stderr(&out))
}

#[test]
fn every_session_matches_the_generator() {
    let (env, err) = ingest_all();
    assert!(err.contains("8 sessions (2 open)"), "{err}");
    assert!(err.contains("2 duplicates, 0 rejected"), "{err}");
    let sessions = env.json(&["sessions"]);
    let expected = expected();
    assert_eq!(sessions.len(), expected.len());
    for want in &expected {
        let got = sessions
            .iter()
            .find(|s| {
                s["station_id"] == want["cp"] && s["transaction_id"] == want["transaction_id"]
            })
            .unwrap_or_else(|| panic!("no session for {want}"));
        let what = format!("{} tx {}", want["cp"], want["transaction_id"]);
        assert_eq!(
            got["energy_wh"].as_f64(),
            want["energy_wh"].as_f64(),
            "{what}: energy"
        );
        assert_eq!(got["start"], want["start"], "{what}: start");
        assert_eq!(got["stop"], want["stop"], "{what}: stop");
        assert_eq!(
            got["connector_id"], want["connector_id"],
            "{what}: connector"
        );
        assert_eq!(got["id_tag"], want["id_tag"], "{what}: id tag");
        assert_eq!(got["source"], want["proto"], "{what}: source");
        // Charging end: within one sampling interval of the truth, never before it.
        let step = want["sample_step_s"].as_i64().unwrap();
        let late = (time(&got["charging_end"]) - time(&want["charging_end"])).num_seconds();
        assert!(
            (0..step).contains(&late),
            "{what}: charging_end {} vs {}",
            got["charging_end"],
            want["charging_end"]
        );
        assert!(got["energy_wh"].as_f64().unwrap() >= 0.0);
    }
}

#[test]
fn authorization_answers_and_units() {
    let (env, _) = ingest_all();
    let sessions = env.json(&["sessions"]);
    let by_tx = |tx: &str| {
        sessions
            .iter()
            .find(|s| s["transaction_id"] == tx)
            .unwrap()
            .clone()
    };
    // Authorize said Blocked / Invalid, and the charger charged anyway.
    assert_eq!(by_tx("103")["auth_status"], "Blocked");
    assert_eq!(by_tx("103")["stop_reason"], "DeAuthorized");
    assert_eq!(
        by_tx("c0ffee00-0000-4000-8000-000000000002")["auth_status"],
        "Invalid"
    );
    assert_eq!(by_tx("101")["auth_status"], "Accepted");
    // kWh registers (tx 102) and Wh with multiplier 3 (2.0.1) come out in Wh.
    assert_eq!(by_tx("102")["meter_start_wh"], 880_000.0);
    assert_eq!(
        by_tx("c0ffee00-0000-4000-8000-000000000001")["meter_stop_wh"],
        1_285_900.0
    );
    // Per-phase power summed once, per-phase registers not added to the total.
    assert_eq!(
        by_tx("c0ffee00-0000-4000-8000-000000000001")["max_power_w"],
        21_999.9
    );
    assert_eq!(by_tx("101")["max_power_w"], 11_000.0);

    let authorize = env.json(&["events", "--kind", "authorize"]);
    assert!(authorize
        .iter()
        .any(|e| e["id_tag"] == "DEADBEEF01" && e["auth_status"] == "Blocked"));
    assert!(authorize
        .iter()
        .any(|e| e["id_tag"] == "DEADBEEF01" && e["auth_status"] == "Invalid"));
}

#[test]
fn events_faults_boots_and_silences() {
    let (env, _) = ingest_all();
    let faults: Vec<Value> = env
        .json(&["events", "--kind", "status"])
        .into_iter()
        .filter(|e| e["status"] == "Faulted")
        .collect();
    assert_eq!(faults.len(), 3, "{faults:?}");
    let f = &faults[0];
    assert_eq!(
        (f["station_id"].as_str(), f["connector_id"].as_i64()),
        (Some("AMS-CP16-01"), Some(2))
    );
    assert_eq!(f["error_code"], "GroundFailure");
    assert_eq!(f["ts"], "2026-10-25T04:20:00Z");
    assert!(f["info"].as_str().unwrap().contains("E-GF-17"));
    let notify = env.json(&["events", "--kind", "notify_event"]);
    assert_eq!(notify[0]["error_code"], "OverCurrentFailure");
    let boots = env.json(&["events", "--kind", "boot"]);
    assert_eq!(boots.len(), 3);
    assert!(boots.iter().all(|b| b["status"] == "Accepted"));
    let gaps = env.json(&[
        "events",
        "--kind",
        "heartbeat_gap",
        "--station",
        "AMS-CP16-01",
    ]);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(gaps[0]["info"].as_str().unwrap().contains("3h17m"));
}

#[test]
fn meter_values_are_normalised_and_attributed() {
    let (env, _) = ingest_all();
    // Session 102 sent MeterValues without a transactionId: still its samples.
    let sessions = env.json(&["sessions"]);
    assert!(sessions
        .iter()
        .all(|s| s["session_uid"].as_str().unwrap().starts_with("ocpp:")));
    let out = env
        .evmon()
        .args(["ingest", &testdata("ocpp16"), "--force"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("stored 0 new sessions"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.json(&["sessions"]),
        sessions,
        "re-ingest changes nothing"
    );
}

#[test]
fn split_logs_in_any_order_give_the_same_sessions() {
    let full =
        std::fs::read_to_string(crate::util::repo().join(testdata("ocpp16/AMS-CP16-01.jsonl")))
            .unwrap();
    let lines: Vec<&str> = full.lines().collect();
    // Cut in the middle of session 101, between a CALL and its CALLRESULT's successor.
    let cut = lines
        .iter()
        .position(|l| l.contains("\"2026-10-25T00:00:00Z\"") && l.contains("MeterValues"))
        .unwrap()
        + 2;
    let one = Env::new();
    one.ingest(&[&testdata("ocpp16/AMS-CP16-01.jsonl")]);
    let want = one.json(&["sessions"]);
    for order in [[0, 1], [1, 0]] {
        let env = Env::new();
        let parts = [
            env.write("a.jsonl", lines[..cut].join("\n") + "\n"),
            env.write("b.jsonl", lines[cut..].join("\n") + "\n"),
        ];
        for i in order {
            env.ingest(&[parts[i].to_str().unwrap()]);
        }
        let got = env.json(&["sessions"]);
        let strip = |rows: &[Value]| -> Vec<Value> {
            rows.iter()
                .map(|r| {
                    let mut r = r.clone();
                    let o = r.as_object_mut().unwrap();
                    o.remove("source_file");
                    o.remove("source_line");
                    r
                })
                .collect()
        };
        assert_eq!(strip(&got), strip(&want), "order {order:?}");
    }
}

#[test]
fn raw_log_lines_with_the_charge_point_from_the_file_name() {
    let env = Env::new();
    let out = env.ingest(&[&testdata("ocpp16/AMS-CP16-02.log")]);
    assert!(
        stderr(&out).contains("1 sessions (0 open)"),
        "{}",
        stderr(&out)
    );
    let s = env.json(&["sessions"]);
    assert_eq!(s[0]["station_id"], "AMS-CP16-02");
    assert_eq!(s[0]["energy_wh"], 5400.0);
    // --cp names the charge point instead.
    let env = Env::new();
    env.ingest(&[&testdata("ocpp16/AMS-CP16-02.log"), "--cp", "OPENEVSE-7"]);
    assert_eq!(env.json(&["sessions"])[0]["station_id"], "OPENEVSE-7");
}

#[test]
fn bad_frames_are_rejected_with_reasons() {
    let env = Env::new();
    let out = env.ingest(&[&testdata("bad/ocpp-bad-frames.jsonl")]);
    assert!(
        stderr(&out).contains("12 OCPP frames (0 duplicates, 8 rejected)"),
        "{}",
        stderr(&out)
    );
    let rejects = env.json(&["rejects"]);
    let reason = |line: i64| {
        rejects
            .iter()
            .find(|r| r["line"] == line)
            .map(|r| r["reason"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert!(reason(3).contains("not a JSON envelope"));
    assert!(reason(4).contains("4 elements"));
    assert!(reason(5).contains("unknown action 'FrobnicateConnector'"));
    assert!(reason(6).contains("answers no CALL"));
    assert!(reason(7).contains("'12O4880' is not a number"));
    assert!(reason(8).contains("meterStart"));
    assert!(reason(9).contains("MessageTypeId 7"));
    assert!(reason(10).contains("not a time"));
    assert_eq!(rejects.len(), 8);
}

#[test]
fn csv_and_ocpp_sessions_side_by_side() {
    let env = Env::new();
    env.ingest(&[&testdata("ocpp201"), &testdata("csv/generic.csv")]);
    let sources: std::collections::BTreeSet<String> = env
        .json(&["sessions"])
        .iter()
        .map(|s| s["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sources.into_iter().collect::<Vec<_>>(),
        vec!["csv", "ocpp2.0.1"]
    );
}

#[test]
fn a_stop_stamped_before_its_start_takes_the_receive_time() {
    // The charger lost its clock in a power cut and stamped the stop 1970.
    let env = Env::new();
    env.ingest(&[&testdata("ocpp-edge/clock-reset.jsonl")]);
    let sessions = env.json(&["sessions"]);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let s = &sessions[0];
    assert_eq!(time(&s["start"]).to_rfc3339(), "2026-10-01T08:02:10+00:00");
    // The back-office's receive time of the StopTransaction.
    assert_eq!(
        time(&s["stop"]).to_rfc3339(),
        "2026-10-01T09:47:31.020+00:00"
    );
    assert_eq!(s["energy_wh"].as_f64(), Some(18350.0));
}

/// Dumps too large for memory go through bucket files of charge points on
/// disk (forced here with `--ocpp-memory 0`): the store must come out the
/// same as when every frame is rebuilt in memory, rejects and their raw
/// lines included.
#[test]
fn frames_set_aside_on_disk_rebuild_the_same_store() {
    let inputs = [
        testdata("ocpp16"),
        testdata("ocpp201"),
        testdata("ocpp-edge"),
        testdata("bad/ocpp-bad-frames.jsonl"),
    ];
    let args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let memory = Env::new();
    let disk = Env::new();
    let in_memory = stderr(&memory.ingest(&args));
    let mut spilled_args = vec!["--ocpp-memory", "0"];
    spilled_args.extend(&args);
    let spilled = stderr(&disk.ingest(&spilled_args));
    let summary = |s: &str| {
        s.lines()
            .filter(|l| l.contains("sessions") || l.contains("frames"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&in_memory), summary(&spilled));
    assert!(!spilled.is_empty());
    for what in [
        &["sessions", "--since", "1970-01-01"][..],
        &["events", "--since", "1970-01-01"][..],
        &["rejects"][..],
    ] {
        // When the run happened is the only difference allowed.
        let rows = |env: &Env| {
            let mut rows = env.json(what);
            for r in &mut rows {
                if let Some(o) = r.as_object_mut() {
                    o.remove("ingested_at");
                }
            }
            rows
        };
        let (a, b) = (rows(&memory), rows(&disk));
        assert!(!a.is_empty(), "{what:?}: nothing to compare");
        assert_eq!(a, b, "{what:?}");
    }
    // Meter values have no listing command: compare the stored tables.
    let table = |env: &Env| {
        let store = evmon::store::Store::open(env.data()).unwrap();
        let snapshot = store.snapshot().unwrap();
        snapshot
            .scan(
                evmon::schema::Table::MeterValues,
                &evmon::timeutil::TimeRange::default(),
            )
            .unwrap()
            .collect()
            .unwrap()
    };
    let (a, b) = (table(&memory), table(&disk));
    assert!(a.height() > 100, "{}", a.height());
    assert!(a.equals_missing(&b));
    // The buckets went with the transaction.
    assert!(!disk.data().join(".staging").exists());
}
