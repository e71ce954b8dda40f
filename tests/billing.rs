//! `evmon bill`: hand-worked invoices (testdata/billing/tariffs.toml), the
//! exact-money invariants, and a cross-check of OCPI tariffs against the
//! independent `ocpi-tariffs` crate.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::util::{json_lines, stderr, testdata, Env};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn loaded(dir: &str) -> Env {
    let env = Env::new();
    env.ingest(&[
        &testdata(&format!("{dir}/sessions.csv")),
        "--stations",
        &testdata(&format!("{dir}/stations.toml")),
    ]);
    env
}

fn bill(env: &Env, args: &[&str]) -> (Vec<Value>, String) {
    let out = env
        .evmon()
        .arg("bill")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (json_lines(&out.stdout), stderr(&out))
}

/// Every session line of October 2026 under the billing fixture's tariffs,
/// the unbillable ones included.
fn october_lines(env: &Env) -> (Vec<Value>, String) {
    let tariff = testdata("billing/tariffs.toml");
    bill(
        env,
        &[
            "--tariff",
            &tariff,
            "--period",
            "2026-10",
            "--lines",
            "--include-unbillable",
        ],
    )
}

fn money(v: &Value) -> Decimal {
    d(v.as_str()
        .unwrap_or_else(|| panic!("money as a string: {v}")))
}

fn session<'a>(rows: &'a [Value], uid: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["session_uid"] == uid)
        .unwrap_or_else(|| panic!("no {uid}"))
}

#[test]
fn hand_worked_sessions() {
    let env = loaded("billing");
    let (rows, err) = october_lines(&env);
    assert!(err.contains("1 not billed (1 never stopped)"), "{err}");

    // 16:30-18:30 Amsterdam (CEST) across the 17:00 peak start, 10 kWh
    // pro rata: 2.5 kWh x 0.20 + 7.5 kWh x 0.40 = 3.50; VAT 21% = 0.735 -> 0.74.
    let b1 = session(&rows, "csv:PEAK-1/B1");
    assert_eq!(b1["split"], "pro rata");
    assert_eq!(
        (b1["kwh_standard"].as_str(), b1["kwh_peak"].as_str()),
        (Some("2.5"), Some("7.5"))
    );
    assert_eq!(
        (money(&b1["net"]), money(&b1["vat"]), money(&b1["gross"])),
        (d("3.50"), d("0.74"), d("4.24"))
    );
    assert_eq!(b1["start_local"], "2026-10-07T16:30:00+02:00");

    // 01:30 CEST to 03:30 CET on 25 Oct 2026: the 02:00-03:00 window
    // happens twice, i.e. lasts two real hours (00:00Z-02:00Z): 20 kWh x 0.10
    // + 10 kWh x 0.30 = 5.00.
    let b2 = session(&rows, "csv:DST-1/B2");
    assert_eq!(
        (b2["kwh_early"].as_str(), b2["kwh_standard"].as_str()),
        (Some("20"), Some("10"))
    );
    assert_eq!(money(&b2["net"]), d("5.00"));
    assert_eq!(
        (b2["start_local"].as_str(), b2["stop_local"].as_str()),
        (
            Some("2026-10-25T01:30:00+02:00"),
            Some("2026-10-25T03:30:00+01:00")
        )
    );

    // Charging 1 h, plugged in 6 h: idle 5 h - 60 min grace = 4 h x 3.00 =
    // 12.00, capped at 10.00; energy 20 x 0.25 = 5.00.
    let b3 = session(&rows, "csv:IDLE-1/B3");
    assert_eq!(
        (money(&b3["energy"]), money(&b3["idle"]), money(&b3["net"])),
        (d("5.00"), d("10.00"), d("15.00"))
    );

    // 10 kWh x 0.30 + 0.35 fee = 3.35; 10% staff discount (04A1*) = 0.335 ->
    // 0.34; net 3.01; VAT 21% = 0.6321 -> 0.63; gross 3.64.
    let b4 = session(&rows, "csv:DISC-1/B4");
    assert_eq!(
        (
            money(&b4["fees"]),
            money(&b4["discounts"]),
            money(&b4["net"]),
            money(&b4["vat"]),
            money(&b4["gross"])
        ),
        (d("0.35"), d("-0.34"), d("3.01"), d("0.63"), d("3.64"))
    );

    let b5 = session(&rows, "csv:DISC-1/B5");
    assert_eq!(
        (b5["status"].as_str(), b5["detail"].as_str()),
        (Some("unbillable"), Some("never stopped"))
    );
}

#[test]
fn invoice_totals_are_the_sum_of_their_lines() {
    let env = loaded("billing");
    let tariff = testdata("billing/tariffs.toml");
    let customers = env.write(
        "customers.csv",
        "id_tag,customer\n04BB000001,Acme\n04BB000002,Acme\n04BB000003,Acme\n04A1B2C3D4,Bob\n",
    );
    let c = customers.to_str().unwrap();
    let (invoices, _) = bill(
        &env,
        &["--tariff", &tariff, "--period", "2026-10", "--customers", c],
    );
    let (lines, _) = bill(
        &env,
        &[
            "--tariff",
            &tariff,
            "--period",
            "2026-10",
            "--customers",
            c,
            "--lines",
        ],
    );
    let acme = invoices.iter().find(|i| i["customer"] == "Acme").unwrap();
    assert_eq!(acme["sessions"], 3);
    let nets: Decimal = lines
        .iter()
        .filter(|l| l["customer"] == "Acme")
        .map(|l| money(&l["net"]))
        .sum();
    assert_eq!(money(&acme["net"]), nets);
    // VAT is computed once per rate on the invoice: 23.50 x 21% = 4.935 -> 4.94
    // (the sessions' own VAT, 0.74 + 1.05 + 3.15 = 4.94, agrees here).
    assert_eq!(
        (
            money(&acme["net"]),
            money(&acme["vat"]),
            money(&acme["gross"])
        ),
        (d("23.50"), d("4.94"), d("28.44"))
    );
    for inv in &invoices {
        let parts = money(&inv["energy"])
            + money(&inv["time"])
            + money(&inv["idle"])
            + money(&inv["fees"])
            + money(&inv["discounts"])
            + money(&inv["adjustments"]);
        assert_eq!(parts, money(&inv["net"]), "{inv}");
        assert_eq!(
            money(&inv["net"]) + money(&inv["vat"]),
            money(&inv["gross"]),
            "{inv}"
        );
    }
    let (by_station, _) = bill(
        &env,
        &[
            "--tariff", &tariff, "--period", "2026-10", "--by", "station",
        ],
    );
    assert_eq!(by_station.len(), 4);
    assert!(by_station.iter().any(|i| i["station_id"] == "DST-1"));
}

#[test]
fn tariff_errors_name_the_key_and_line() {
    let env = loaded("billing");
    let bad = env.write("bad.toml", "[[tariff]]\nid = \"x\"\ncurrency = \"EUR\"\n[tariff.energy]\nprice = 0.3\n[[tariff.energy.window]]\nname = \"peak\"\nstart = \"17:00\"\nend = \"25:00\"\nprice = 0.4\n");
    let out = env
        .evmon()
        .args([
            "bill",
            "--tariff",
            bad.to_str().unwrap(),
            "--period",
            "2026-10",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("bad.toml:9:") && err.contains("25:00"),
        "{err}"
    );
    let out = env
        .evmon()
        .args(["bill", "--tariff", "nope.toml", "--period", "2026-10"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("cannot read nope.toml"));
    let out = env
        .evmon()
        .args([
            "bill",
            "--tariff",
            bad.to_str().unwrap(),
            "--period",
            "2026-13",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Price evmon's CDRs again with `ocpi-tariffs` and compare the totals.
#[test]
fn ocpi_tariffs_agree() {
    use ocpi_tariffs::{cdr, price, tariff, Version};
    let env = loaded("billing/ocpi");
    let cases = [
        "flat_energy",
        "tou",
        "parking",
        "fee_min",
        "fee_max",
        "step_size",
    ];
    let mut compared = 0;
    for case in cases {
        let file = testdata(&format!("billing/ocpi/{case}.json"));
        let cdr_path = env.dir.path().join(format!("{case}.cdr.json"));
        let (lines, err) = bill(
            &env,
            &[
                "--tariff",
                &file,
                "--period",
                "2026-10",
                "--lines",
                "--cdr-out",
                cdr_path.to_str().unwrap(),
            ],
        );
        assert!(err.contains("billed 4 sessions"), "{case}: {err}");
        let tariff_text = std::fs::read_to_string(crate::util::repo().join(&file)).unwrap();
        let cdrs: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&cdr_path).unwrap()).unwrap();
        assert_eq!(cdrs.len(), lines.len());
        for c in &cdrs {
            let text = serde_json::to_string(c).unwrap();
            let parsed = cdr::parse_with_version(&text, Version::V221)
                .unwrap_or_else(|e| panic!("{case}: {e:?}\n{text}"));
            let t = tariff::parse_with_version(&tariff_text, Version::V221).unwrap();
            let report = cdr::price(
                &parsed.cdr,
                price::TariffSource::Override(vec![t.tariff]),
                chrono_tz::Tz::Europe__Amsterdam,
            )
            .unwrap_or_else(|e| panic!("{case}: {e:?}"));
            let (report, _warnings) = report.into_parts();
            let theirs: Decimal = report
                .total_cost
                .calculated
                .map(|p| p.excl_vat.into())
                .unwrap_or_default();
            let ours = Decimal::from_str(&c["total_cost"]["excl_vat"].to_string()).unwrap();
            assert!(
                (theirs - ours).abs() <= d("0.0001"),
                "{case} {}: evmon {ours}, ocpi-tariffs {theirs}",
                c["session_id"]
            );
            // evmon's invoice line rounding stays within a cent per line of the exact total.
            let line = lines
                .iter()
                .find(|l| l["session_uid"] == c["session_id"])
                .unwrap();
            assert!(
                (money(&line["net"]) - ours).abs() <= d("0.03"),
                "{case}: net {} vs {ours}",
                line["net"]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 24);
}

/// A session that started before the month (here, in the 28 days bill
/// reads before it) still blocks its duplicate inside the month; only
/// sessions that ended before the month are left unread.
#[test]
fn a_duplicate_of_a_session_started_before_the_month_is_not_billed() {
    let env = Env::new();
    let csv = env.write(
        "sessions.csv",
        "session_id,station_id,connector_id,id_tag,start,stop,charging_end,energy_kwh,max_power_kw,stop_reason\n\
         H0,PEAK-1,2,04BB000010,2026-09-10T10:00:00Z,2026-09-10T12:00:00Z,2026-09-10T12:00:00Z,10,5,Local\n\
         H1,PEAK-1,1,04BB000011,2026-09-29T20:00:00Z,2026-10-01T04:00:00Z,2026-10-01T04:00:00Z,24,5,Local\n\
         D1,PEAK-1,1,04BB000012,2026-10-01T02:00:00Z,2026-10-01T05:00:00Z,2026-10-01T05:00:00Z,24,9,Local\n\
         D2,PEAK-1,2,04BB000013,2026-10-02T10:00:00Z,2026-10-02T12:00:00Z,2026-10-02T12:00:00Z,10,5,Local\n",
    );
    env.ingest(&[
        &csv.display().to_string(),
        "--stations",
        &testdata("billing/stations.toml"),
    ]);
    let (rows, err) = october_lines(&env);
    assert!(
        err.contains("1 not billed (1 anomaly duplicate_transaction)"),
        "{err}"
    );
    let d1 = session(&rows, "csv:PEAK-1/D1");
    assert_eq!(d1["status"], "unbillable");
    let detail = d1["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("anomaly duplicate_transaction:") && detail.contains("csv:PEAK-1/H1"),
        "{detail}"
    );
    assert_eq!(session(&rows, "csv:PEAK-1/D2")["status"], "billed");
    // Sessions that started before the month are not billed in it.
    assert!(rows.iter().all(|r| r["session_uid"] != "csv:PEAK-1/H1"));
    assert!(rows.iter().all(|r| r["session_uid"] != "csv:PEAK-1/H0"));
}
