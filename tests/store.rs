//! The embedded store: re-ingest adds nothing, ingest order does not
//! matter, the layout is plain Hive-partitioned Parquet, leftovers of a
//! crashed writer are ignored and cleaned, and two processes never corrupt it.

use std::io::Write;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{stderr, testdata, Env};

fn parquet_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["sessions", "meter_values", "events", "stations", "rejects"] {
        let Ok(parts) = std::fs::read_dir(root.join(table)) else {
            continue;
        };
        for part in parts.flatten() {
            for f in std::fs::read_dir(part.path()).unwrap().flatten() {
                out.push(
                    f.path()
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn reingesting_the_same_files_adds_nothing() {
    let env = Env::new();
    env.ingest(&[&testdata("csv")]);
    let sessions = env.json(&["sessions"]);
    let rejects = env.json(&["rejects"]);
    let files = parquet_files(&env.data());

    let out = env.ingest(&[&testdata("csv")]);
    assert!(
        stderr(&out).contains("10 skipped: already ingested"),
        "{}",
        stderr(&out)
    );
    // Even when forced to read every row again, nothing changes.
    let out = env.ingest(&[&testdata("csv"), "--force"]);
    assert!(
        stderr(&out).contains("stored 0 new sessions (44 already stored)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.json(&["sessions"]), sessions);
    assert_eq!(env.json(&["rejects"]), rejects);
    assert_eq!(
        parquet_files(&env.data()),
        files,
        "no partition was rewritten"
    );
}

/// Inputs are known by content: a copy under another name is skipped, in
/// the same run and in a later one, while a file of the same size with
/// other content is read.
#[test]
fn copies_are_skipped_by_content_not_by_name() {
    let env = Env::new();
    let text = std::fs::read(testdata("csv/boulder.csv")).expect("fixture");
    let a = env.write("a.csv", &text);
    let b = env.write("b.csv", &text);
    let out = env.ingest(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("1 skipped: already ingested"),
        "{}",
        stderr(&out)
    );
    let sessions = env.json(&["sessions"]).len();

    let c = env.write("c.csv", &text);
    let out = env.ingest(&[c.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("1 skipped: already ingested"),
        "{}",
        stderr(&out)
    );

    // One digit of an energy changed: same size, other content.
    let mut other = String::from_utf8(text).expect("UTF-8");
    let at = other
        .rfind(|c: char| c.is_ascii_digit() && c != '9')
        .expect("a digit");
    let digit = other.as_bytes()[at] + 1;
    other.replace_range(at..=at, &(digit as char).to_string());
    let d = env.write("d.csv", &other);
    let out = env.ingest(&[d.to_str().unwrap()]);
    assert!(!stderr(&out).contains("skipped"), "{}", stderr(&out));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(env.data().join("manifest.json")).expect("manifest"))
            .expect("JSON");
    let sources = manifest["sources"].as_object().expect("sources");
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(sources
        .values()
        .all(|s| s["bytes"] == sources.values().next().unwrap()["bytes"]));
    assert!(env.json(&["sessions"]).len() >= sessions);
}

#[test]
fn ingest_order_and_splitting_do_not_matter() {
    let files = [
        "csv/paloalto.csv",
        "csv/boulder.csv",
        "csv/dundee.csv",
        "csv/pkc.csv",
        "csv/steve.csv",
        "csv/generic.csv",
    ];
    let one = Env::new();
    let all: Vec<String> = files.iter().map(|f| testdata(f)).collect();
    let args: Vec<&str> = all.iter().map(String::as_str).collect();
    one.ingest(&args);

    let split = Env::new();
    for f in files.iter().rev() {
        split.ingest(&[&testdata(f)]);
    }
    // The same export delivered twice under another name.
    let copy = split.write(
        "boulder-again.csv",
        std::fs::read(testdata("csv/boulder.csv")).unwrap(),
    );
    split.ingest(&[copy.to_str().unwrap()]);

    let strip = |rows: Vec<Value>| -> Vec<Value> {
        rows.into_iter()
            .map(|mut r| {
                r.as_object_mut().unwrap().remove("ingested_at");
                r
            })
            .collect()
    };
    assert_eq!(
        strip(one.json(&["sessions"])),
        strip(split.json(&["sessions"]))
    );
}

#[test]
fn layout_is_hive_partitioned_parquet_with_a_manifest() {
    let env = Env::new();
    env.ingest(&[
        &testdata("csv/generic.csv"),
        "--stations",
        &testdata("stations/stations.toml"),
    ]);
    let files = parquet_files(&env.data());
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("sessions/month=2026-10/part-") && f.ends_with(".parquet")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.starts_with("stations/all/")),
        "{files:?}"
    );
    assert!(files.iter().all(|f| !f.ends_with(".tmp")));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(env.data().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], 1);
    assert_eq!(manifest["tables"]["sessions"]["month=2026-10"]["rows"], 4);
    // Parquet magic bytes at both ends of every file.
    for f in &files {
        let bytes = std::fs::read(env.data().join(f)).unwrap();
        assert_eq!(&bytes[..4], b"PAR1", "{f}");
        assert_eq!(&bytes[bytes.len() - 4..], b"PAR1", "{f}");
    }
}

#[test]
fn leftovers_of_a_crashed_writer_are_ignored_then_removed() {
    let env = Env::new();
    env.ingest(&[&testdata("csv/generic.csv")]);
    let before = env.json(&["sessions"]);
    // A crash after writing a partition but before the manifest swap.
    let part = env.data().join("sessions/month=2026-10");
    let stray = part.join("part-v00000099-dead.parquet");
    let existing = parquet_files(&env.data())
        .into_iter()
        .find(|f| f.starts_with("sessions/"))
        .unwrap();
    std::fs::copy(env.data().join(existing), &stray).unwrap();
    std::fs::write(
        part.join(".part-v00000099-dead.parquet.tmp"),
        b"half a file",
    )
    .unwrap();
    std::fs::write(env.data().join(".manifest.json.tmp"), b"{half").unwrap();
    assert_eq!(
        env.json(&["sessions"]),
        before,
        "readers see only the manifest's files"
    );
    env.ingest(&[&testdata("csv/steve.csv")]);
    assert!(!stray.exists());
    assert!(!part.join(".part-v00000099-dead.parquet.tmp").exists());
    assert_eq!(env.json(&["sessions"]).len(), before.len() + 3);
}

/// Wait until the store's writer lock is held (its holder text written).
fn wait_for_lock(data: &Path) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if std::fs::read_to_string(data.join(".lock")).is_ok_and(|t| t.contains("pid")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the first ingest never took the lock");
}

#[test]
fn concurrent_ingests_wait_or_fail_clearly() {
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin("evmon");
    // Ingest 1 reads stdin under the lock, and holds it until stdin closes.
    let mut first = StdCommand::new(&bin)
        .args(["ingest", "-"])
        .env("EVMON_DATA", env.data())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lock(&env.data());

    // Ingest 2 will not wait: it fails at once and names the holder.
    let out = env
        .evmon()
        .args(["ingest", &testdata("csv/dundee.csv"), "--lock-timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("the store is locked by pid"), "{err}");
    assert!(err.contains("--lock-timeout"), "{err}");

    // Ingest 3 waits for the lock.
    let third = StdCommand::new(&bin)
        .args(["ingest", &testdata("csv/dundee.csv")])
        .current_dir(crate::util::repo())
        .env("EVMON_DATA", env.data())
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let generic = std::fs::read(crate::util::repo().join(testdata("csv/generic.csv"))).unwrap();
    {
        let mut stdin = first.stdin.take().unwrap();
        stdin.write_all(&generic).unwrap();
    }
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let third = third.wait_with_output().unwrap();
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    assert!(
        String::from_utf8_lossy(&third.stderr).contains("waiting for the store lock held by pid")
    );

    // Both ingests landed, nothing was lost or doubled.
    let sessions = env.json(&["sessions"]);
    assert_eq!(sessions.len(), 4 + 6);
}
