//! `evmon ingest` on one fixture per preset: the sessions that come out,
//! to the second, and the rows that are rejected, with their reasons.

use serde_json::Value;

use crate::util::{stderr, testdata, Env};

fn by_start<'a>(rows: &'a [Value], start: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["start"] == start).collect()
}

fn one<'a>(rows: &'a [Value], start: &str) -> &'a Value {
    let found = by_start(rows, start);
    assert_eq!(found.len(), 1, "sessions starting {start}: {found:?}");
    found[0]
}

fn ingest_one(file: &str, extra: &[&str]) -> (Env, Vec<Value>, Vec<Value>) {
    let env = Env::new();
    let path = testdata(file);
    let mut args = vec![path.as_str()];
    args.extend_from_slice(extra);
    env.ingest(&args);
    let sessions = env.json(&["sessions"]);
    let rejects = env.json(&["rejects"]);
    (env, sessions, rejects)
}

#[test]
fn palo_alto_local_times_and_dst() {
    let (_env, s, rejects) = ingest_one("csv/paloalto.csv", &[]);
    assert_eq!(s.len(), 6);
    // 7/29/2011 20:17 PDT, charging 1:54:03.
    let first = one(&s, "2011-07-30T03:17:00Z");
    assert_eq!(first["stop"], "2011-07-30T06:20:00Z");
    assert_eq!(first["charging_end"], "2011-07-30T05:11:03Z");
    assert_eq!(first["energy_wh"], 6249.46);
    assert_eq!(first["connector_id"], 2);
    assert_eq!(first["id_tag"], "3284");
    assert_eq!(first["station_id"], "PALO ALTO CA / HAMILTON #1");
    // 11/6/2016 1:30 happens twice: the PDT/PST column decides.
    assert_eq!(
        one(&s, "2016-11-06T08:30:00Z")["stop"],
        "2016-11-06T09:50:00Z"
    );
    assert_eq!(
        one(&s, "2016-11-06T09:30:00Z")["stop"],
        "2016-11-06T11:10:00Z"
    );
    // 3/13/2016 2:30 does not exist: moved forward to 3:30 PDT.
    assert_eq!(
        one(&s, "2016-03-13T10:30:00Z")["stop"],
        "2016-03-13T11:45:00Z"
    );
    // Longer than a day, across New Year.
    assert_eq!(
        one(&s, "2020-01-01T06:05:00Z")["stop"],
        "2020-01-02T07:20:00Z"
    );
    // Empty end date, 0:00:00 duration: a zero-length session.
    let zero = one(&s, "2020-06-02T16:12:00Z");
    assert_eq!(zero["stop"], "2020-06-02T16:12:00Z");
    assert_eq!(zero["energy_wh"], 0.0);
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["line"], 8);
    assert_eq!(rejects[0]["field"], "Start Date");
    assert!(rejects[0]["reason"]
        .as_str()
        .unwrap()
        .contains("13/45/2016"));
    assert!(rejects[0]["raw"]
        .as_str()
        .unwrap()
        .starts_with("PALO ALTO CA / WEBSTER #2,"));
}

#[test]
fn boulder_duplicates_sentinels_and_mixed_formats() {
    let env = Env::new();
    let out = env.ingest(&[&testdata("csv/boulder.csv")]);
    let err = stderr(&out);
    assert!(
        err.contains("7 rows, 7 sessions, 0 rejected; stored 6 new sessions (1 already stored)"),
        "{err}"
    );
    assert!(err.contains("838:59:59"), "{err}");
    let s = env.json(&["sessions"]);
    assert_eq!(s.len(), 6);
    assert_eq!(one(&s, "2018-01-02T00:49:00Z")["energy_wh"], 6504.0);
    // 838:59:59 with no end time: kept open, not a 35-day session.
    assert_eq!(one(&s, "2019-04-09T14:00:00Z")["stop"], Value::Null);
    // ISO rows from June 2023, naive and with +00.
    assert_eq!(
        one(&s, "2023-06-01T14:00:00Z")["stop"],
        "2023-06-01T17:31:10Z"
    );
    assert_eq!(
        one(&s, "2023-06-02T15:00:00Z")["stop"],
        "2023-06-02T16:00:00Z"
    );
    // 11/4/2018 1:40 MST: the second 1:40 of the fall-back night.
    assert_eq!(
        one(&s, "2018-11-04T08:40:00Z")["stop"],
        "2018-11-04T08:55:00Z"
    );
    assert_eq!(one(&s, "2018-03-11T09:15:00Z")["energy_wh"], 5203.0);
}

#[test]
fn dundee_day_first_dates_decimal_comma_and_fall_back() {
    let (_env, s, rejects) = ingest_one("csv/dundee.csv", &[]);
    assert_eq!(s.len(), 6);
    assert_eq!(one(&s, "2021-07-03T08:12:00Z")["transaction_id"], "6401275");
    assert_eq!(
        one(&s, "2021-10-30T23:50:00Z")["stop"],
        "2021-10-31T03:25:00Z"
    );
    // 01:30 on 31/10/2021 is ambiguous: the earlier (BST) reading by default.
    assert_eq!(
        one(&s, "2021-10-31T00:30:00Z")["stop"],
        "2021-10-31T02:50:00Z"
    );
    // No end: the duration gives it.
    assert_eq!(
        one(&s, "2021-12-24T22:40:00Z")["stop"],
        "2021-12-25T06:55:00Z"
    );
    assert_eq!(one(&s, "2022-01-15T12:00:00Z")["energy_wh"], 7250.0);
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["field"], "CP ID");
}

#[test]
fn dst_policy_flags_change_ambiguous_times() {
    let (_env, s, _) = ingest_one("csv/dundee.csv", &["--dst-ambiguous", "latest"]);
    assert_eq!(
        one(&s, "2021-10-31T01:30:00Z")["stop"],
        "2021-10-31T02:50:00Z"
    );
    let (_env, s, rejects) = ingest_one("csv/dundee.csv", &["--dst-ambiguous", "reject"]);
    assert_eq!(s.len(), 5);
    assert!(rejects
        .iter()
        .any(|r| r["reason"].as_str().unwrap().contains("happens twice")));
    let (_env, _, rejects) = ingest_one("csv/pkc.csv", &["--dst-gap", "reject"]);
    assert!(rejects
        .iter()
        .any(|r| r["reason"].as_str().unwrap().contains("does not exist")));
}

#[test]
fn perth_kinross_separate_date_time_columns() {
    let (_env, s, rejects) = ingest_one("csv/pkc.csv", &[]);
    assert_eq!(s.len(), 5);
    assert_eq!(
        one(&s, "2017-09-01T07:05:00Z")["stop"],
        "2017-09-01T08:40:00Z"
    );
    assert_eq!(
        one(&s, "2017-09-01T22:10:00Z")["stop"],
        "2017-09-02T05:55:00Z"
    );
    // ISO date and time columns from a later file; 01:30 on the spring-forward day.
    assert_eq!(
        one(&s, "2018-03-25T01:30:00Z")["stop"],
        "2018-03-25T02:30:00Z"
    );
    let reasons: Vec<&str> = rejects
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(rejects.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("-1.26 kWh is negative")));
    assert!(reasons.iter().any(|r| r.contains("has 7 fields")));
}

#[test]
fn dundee_2017_export() {
    let (_env, s, rejects) = ingest_one("csv/dundee-2017.csv", &[]);
    assert_eq!(s.len(), 4);
    assert!(rejects.is_empty());
    assert_eq!(one(&s, "2017-06-14T06:58:00Z")["connector_id"], 1);
    assert_eq!(one(&s, "2017-06-15T17:00:00Z")["stop"], Value::Null);
}

#[test]
fn acn_json_download_and_csv() {
    let (env, s, rejects) = ingest_one("csv/acn.json", &[]);
    assert!(rejects.is_empty());
    assert_eq!(s.len(), 3);
    let first = one(&s, "2018-04-25T11:08:04Z");
    assert_eq!(first["station_id"], "2-39-78-362");
    assert_eq!(first["energy_wh"], 7932.0);
    assert_eq!(first["id_tag"], Value::Null);
    assert_eq!(
        first["transaction_id"],
        "2_39_78_362_2018-04-25 11:08:04.400812"
    );
    assert_eq!(one(&s, "2018-04-25T13:45:42Z")["id_tag"], "000000561");
    // doneChargingTime after the disconnect is clamped to the disconnect.
    assert_eq!(
        one(&s, "2019-11-03T08:30:00Z")["charging_end"],
        "2019-11-03T09:30:00Z"
    );
    let stations = env.json(&["stations"]);
    assert!(stations
        .iter()
        .all(|st| st["timezone"] == "America/Los_Angeles" && st["origin"] == "inferred"));

    let (_env, s, _) = ingest_one("csv/acn.csv", &[]);
    assert_eq!(s.len(), 2);
    assert_eq!(
        one(&s, "2020-01-02T13:08:54Z")["charging_end"],
        "2020-01-02T17:31:35Z"
    );
}

#[test]
fn norway_semicolons_and_decimal_commas() {
    let (_env, s, _) = ingest_one("csv/norway.csv", &[]);
    assert_eq!(s.len(), 4);
    let first = one(&s, "2018-12-21T09:20:00Z");
    assert_eq!(first["energy_wh"], 300.0);
    assert_eq!(first["id_tag"], "AdO3-4");
}

#[test]
fn steve_transactions_meter_values_and_null_tokens() {
    let (_env, s, rejects) = ingest_one("csv/steve.csv", &[]);
    assert_eq!(s.len(), 3);
    let first = one(&s, "2023-12-31T11:47:54Z");
    assert_eq!(first["energy_wh"], 14710.0);
    assert_eq!(first["meter_start_wh"], 2145278.0);
    assert_eq!(first["connector_id"], 1);
    let open = one(&s, "2024-01-30T15:00:00Z");
    assert_eq!(open["stop"], Value::Null);
    assert_eq!(open["energy_wh"], Value::Null);
    assert_eq!(rejects.len(), 1);
    assert!(rejects[0]["reason"]
        .as_str()
        .unwrap()
        .contains("meter went backwards"));
}

#[test]
fn generic_offsets_and_open_sessions() {
    let (_env, s, _) = ingest_one("csv/generic.csv", &[]);
    assert_eq!(s.len(), 4);
    let local = one(&s, "2026-10-01T05:30:00Z");
    assert_eq!(local["max_power_w"], 7200.0);
    assert_eq!(local["session_uid"], "csv:CP001/tx-1002");
    assert_eq!(one(&s, "2026-10-26T17:00:00Z")["stop"], Value::Null);
}

#[test]
fn station_metadata_gives_the_zone_and_tz_overrides_it() {
    let env = Env::new();
    let file = env.write(
        "naive.csv",
        "station_id,start,stop,energy_kwh\nCP001,2026-10-01 08:00,2026-10-01 09:00,5\n",
    );
    let file = file.to_str().unwrap();
    // Without a zone the row is refused, with the way out in the reason.
    env.ingest(&[file]);
    let rejects = env.json(&["rejects"]);
    assert!(rejects[0]["reason"].as_str().unwrap().contains("--tz"));
    assert!(env.json(&["sessions"]).is_empty());

    let env = Env::new();
    env.ingest(&[file, "--stations", &testdata("stations/stations.toml")]);
    let s = env.json(&["sessions"]);
    assert_eq!(s[0]["start"], "2026-10-01T06:00:00Z");

    let env = Env::new();
    env.ingest(&["--stations", &testdata("stations/stations.toml")]);
    env.ingest(&[file, "--tz", "America/New_York"]);
    let s = env.json(&["sessions"]);
    assert_eq!(s[0]["start"], "2026-10-01T12:00:00Z");
    let stations = env.json(&["stations"]);
    assert_eq!(stations.len(), 2);
    assert_eq!(stations[0]["rated_power_kw"], 11.0);
    assert_eq!(stations[0]["origin"], "metadata");
}

#[test]
fn map_reads_any_header() {
    let env = Env::new();
    let file = env.write(
        "custom.csv",
        "Ladepunkt;Beginn;Ende;kWh geladen;Karte\nWB-7;01.10.2026 18:00;01.10.2026 21:30;14,2;DE*ABC*1\n",
    );
    let file = file.to_str().unwrap();
    let out = env.evmon().args(["ingest", file]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("custom.csv: the CSV header matches no known export"),
        "{err}"
    );
    assert!(err.contains("--map"), "{err}");

    env.ingest(&[
        file,
        "--map",
        "station_id=Ladepunkt",
        "--map",
        "start=Beginn",
        "--map",
        "stop=Ende",
        "--map",
        "energy_kwh=kWh geladen",
        "--map",
        "id_tag=Karte",
        "--tz",
        "Europe/Berlin",
        "--date-order",
        "dmy",
    ]);
    let s = env.json(&["sessions"]);
    assert_eq!(s[0]["start"], "2026-10-01T16:00:00Z");
    assert_eq!(s[0]["energy_wh"], 14200.0);
    assert_eq!(s[0]["id_tag"], "DE*ABC*1");
}

#[test]
fn strict_stores_nothing_when_a_row_is_rejected() {
    let env = Env::new();
    let out = env
        .evmon()
        .args(["ingest", &testdata("csv/pkc.csv"), "--strict"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("pkc.csv:4: `Total kWh` energy -1.26 kWh is negative"),
        "{err}"
    );
    assert!(err.contains("--strict"), "{err}");
    // The store exists but holds nothing.
    assert!(env.json(&["sessions"]).is_empty());
    // Without a reject, --strict is silent.
    env.ingest(&[&testdata("csv/generic.csv"), "--strict"]);
    assert_eq!(env.json(&["sessions"]).len(), 4);
}

#[test]
fn a_whole_directory_in_one_run() {
    let env = Env::new();
    let out = env.ingest(&[&testdata("csv")]);
    let err = stderr(&out);
    assert!(err.contains("read 10 files: 49 rows, 44 sessions"), "{err}");
    assert!(err.contains("5 rejected"), "{err}");
    assert_eq!(env.json(&["sessions"]).len(), 43);
    assert_eq!(env.json(&["rejects"]).len(), 5);
    assert!(out.stdout.is_empty(), "ingest writes no data to stdout");
}

#[test]
fn glob_patterns_and_stdin() {
    let env = Env::new();
    env.ingest(&["testdata/csv/d*.csv"]);
    assert_eq!(env.json(&["sessions"]).len(), 10);

    let env = Env::new();
    let data = std::fs::read(testdata("csv/generic.csv")).unwrap();
    env.evmon()
        .args(["ingest", "-"])
        .write_stdin(data)
        .assert()
        .success();
    let s = env.json(&["sessions"]);
    assert_eq!(s.len(), 4);
    assert_eq!(s[0]["source_file"], "<stdin>");
}
