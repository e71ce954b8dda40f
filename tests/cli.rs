//! The command-line contract: exit codes, one-line `evmon:` errors that
//! name the file or flag, help text, and stdout/stderr discipline.

use serde_json::Value;

use crate::util::{json_lines, stderr, testdata, Env};

fn fails(env: &Env, args: &[&str], code: i32) -> String {
    let out = env.evmon().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "{args:?} printed data on failure");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn missing_file_is_a_one_line_error() {
    let env = Env::new();
    let err = fails(&env, &["ingest", "nope.csv"], 1);
    assert_eq!(err, "evmon: nope.csv: no such file or directory\n");
    let err = fails(&env, &["ingest", "nothing-*.csv"], 1);
    assert_eq!(err, "evmon: nothing-*.csv: the pattern matches no file\n");
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    let err = fails(&env, &["ingest"], 2);
    assert!(err.contains("nothing to ingest"), "{err}");
    let err = fails(&env, &["ingest", "x.csv", "--map", "bogus=X"], 2);
    assert!(err.contains("unknown field 'bogus'"), "{err}");
    let err = fails(&env, &["ingest", "x.csv", "--tz", "Mars/Olympus"], 2);
    assert!(err.contains("Mars/Olympus"), "{err}");
    let err = fails(&env, &["ingest", "x.csv", "--preset", "nope"], 2);
    assert!(err.contains("palo-alto"), "{err}");
    let err = fails(&env, &["sessions", "--since", "yesterday"], 2);
    assert!(err.contains("7d"), "{err}");
    fails(&env, &["frobnicate"], 2);
}

#[test]
fn map_of_a_missing_column_names_it() {
    let env = Env::new();
    let err = fails(
        &env,
        &[
            "ingest",
            &testdata("csv/generic.csv"),
            "--map",
            "id_tag=Badge",
        ],
        1,
    );
    assert!(
        err.contains("generic.csv: --map id_tag=Badge: the header has no column 'Badge'"),
        "{err}"
    );
}

#[test]
fn preset_that_does_not_fit() {
    let env = Env::new();
    let err = fails(
        &env,
        &[
            "ingest",
            &testdata("csv/generic.csv"),
            "--preset",
            "palo-alto",
        ],
        1,
    );
    assert!(err.contains("lacks the Station Name"), "{err}");
}

#[test]
fn bad_station_metadata_names_file_and_line() {
    let env = Env::new();
    let err = fails(
        &env,
        &["ingest", "--stations", &testdata("stations/bad-zone.toml")],
        1,
    );
    assert!(
        err.starts_with("evmon: testdata/stations/bad-zone.toml:5:"),
        "{err}"
    );
    assert!(err.contains("Europe/Amsterdm"), "{err}");
}

#[test]
fn reading_without_a_store() {
    let env = Env::new();
    let err = fails(&env, &["sessions"], 1);
    assert!(err.contains("no evmon store at"), "{err}");
    assert!(err.contains("evmon ingest"), "{err}");
}

#[test]
fn refuses_to_write_into_a_foreign_directory() {
    let env = Env::new();
    std::fs::create_dir_all(env.data()).unwrap();
    std::fs::write(env.data().join("thesis.docx"), "precious").unwrap();
    let err = fails(&env, &["ingest", &testdata("csv/generic.csv")], 1);
    assert!(err.contains("is not an evmon store"), "{err}");
}

#[test]
fn help_has_examples() {
    let env = Env::new();
    for cmd in ["ingest", "sessions", "rejects"] {
        let out = env.evmon().args([cmd, "--help"]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Examples:"), "{cmd}: {text}");
    }
    env.evmon().arg("--version").assert().success();
}

#[test]
fn quiet_means_quiet() {
    let env = Env::new();
    let out = env
        .evmon()
        .args(["ingest", "-q", &testdata("csv/dundee.csv")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn data_dir_from_flag_and_env() {
    let env = Env::new();
    let elsewhere = env.dir.path().join("other");
    env.evmon()
        .args([
            "--data",
            elsewhere.to_str().unwrap(),
            "ingest",
            &testdata("csv/generic.csv"),
        ])
        .assert()
        .success();
    assert!(elsewhere.join("manifest.json").is_file());
    assert!(!env.data().exists());
}

#[test]
fn completions_and_man_pages_come_from_the_cli() {
    let env = Env::new();
    for (shell, marker) in [
        ("bash", "_evmon()"),
        ("zsh", "#compdef evmon"),
        ("fish", "complete -c evmon"),
    ] {
        let out = env.evmon().args(["completions", shell]).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(marker),
            "{shell}: {}",
            &text[..text.len().min(200)]
        );
        assert!(
            text.contains("anomalies") && text.contains("tariff"),
            "{shell}"
        );
    }
    let out = env.evmon().arg("man").output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH evmon 1"),
        "{page}"
    );
    let dir = env.dir.path().join("man1");
    env.evmon()
        .args(["man", "--dir", dir.to_str().unwrap()])
        .assert()
        .success();
    for page in ["evmon.1", "evmon-ingest.1", "evmon-bill.1", "evmon-watch.1"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".SH"), "{page}");
    }
}

#[test]
fn evmon_toml_sets_defaults_flags_win_and_config_show_says_where_from() {
    let env = Env::new();
    let dir = env.dir.path();
    std::fs::write(
        dir.join("evmon.toml"),
        format!(
            "data = \"store\"\nformat = \"json\"\ntariff = \"{}\"\n\n[anomalies]\nidle_hours = 2.5\n",
            crate::util::repo().join("examples/tariff.toml").display()
        ),
    )
    .unwrap();
    let evmon = || {
        let mut c = assert_cmd::Command::cargo_bin("evmon").unwrap();
        c.current_dir(dir)
            .env_remove("EVMON_DATA")
            .env_remove("EVMON_CONFIG")
            .env("EVMON_NOW", crate::util::NOW)
            .env("NO_COLOR", "1");
        c
    };
    let show = |extra: &[&str]| -> Vec<Value> {
        let out = evmon()
            .args(extra)
            .args(["config", "show", "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        json_lines(&out.stdout)
    };
    let rows = show(&[]);
    let row = |rows: &[Value], k: &str| rows.iter().find(|r| r["setting"] == k).cloned().unwrap();
    assert_eq!(row(&rows, "data")["value"], "store");
    assert_eq!(row(&rows, "data")["source"], "config evmon.toml");
    assert_eq!(row(&rows, "format")["source"], "flag");
    assert_eq!(row(&rows, "anomalies.idle_hours")["value"], "2.5");
    assert_eq!(
        row(&rows, "anomalies.idle_hours")["source"],
        "config evmon.toml"
    );
    assert_eq!(row(&rows, "anomalies.stuck_hours")["source"], "default");
    // A flag wins over the file.
    let rows = show(&["--data", "elsewhere"]);
    assert_eq!(row(&rows, "data")["value"], "elsewhere");
    assert_eq!(row(&rows, "data")["source"], "flag");
    // The file's store, format and tariff are used.
    evmon()
        .args([
            "ingest",
            "-q",
            &crate::util::repo()
                .join(testdata("csv/generic.csv"))
                .to_string_lossy(),
        ])
        .assert()
        .success();
    assert!(dir.join("store/manifest.json").is_file());
    // The tariff comes from the file (its sites do not cover these stations).
    let out = evmon()
        .args(["bill", "--period", "2026-10"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 no tariff covers the station"),
        "{}",
        stderr(&out)
    );
    let out = evmon()
        .args(["sessions", "--format", "csv"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("session_uid,"));
    // A broken file names its line and key.
    std::fs::write(dir.join("bad.toml"), "\nformat = \"yaml\"\n").unwrap();
    let out = evmon()
        .args(["--config", "bad.toml", "sessions"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("bad.toml:2: format = \"yaml\""),
        "{}",
        stderr(&out)
    );
}

/// `evmon sessions | head -1`: a reader that goes away is not an error, in
/// any output format.
#[test]
fn a_closed_pipe_is_not_an_error() {
    let env = Env::new();
    // More output than every buffer on the way holds, so writes fail too,
    // not only the final flush.
    let mut rows = String::from("session_id,station_id,start,stop,energy_kwh\n");
    for i in 0..3000 {
        rows += &format!(
            "S{i},CP{},2026-10-{:02}T08:00:00Z,2026-10-{:02}T09:30:00Z,{}.5\n",
            i % 7,
            i % 28 + 1,
            i % 28 + 1,
            i % 40
        );
    }
    let file = env.write("many.csv", rows);
    env.ingest(&[file.to_str().unwrap()]);
    for format in ["csv", "json", "table"] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("evmon"))
            .env("EVMON_DATA", env.data())
            .env("EVMON_NOW", crate::util::NOW)
            .args(["sessions", "--since", "2000-01-01", "--format", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before anything is written
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{format}: {}", stderr(&out));
    }
}
