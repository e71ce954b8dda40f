//! Reliability: SIGKILL at random points during ingest, concurrent ingests
//! and readers, a crashed writer's lock, a full disk, ingest order and
//! splitting, and the bad-input corpus in testdata/bad.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use crate::util::{json_lines, stderr, testdata, Env};

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A generic session CSV of `rows` sessions spread over 14 months, with a
/// few bad rows; session ids are `prefix-N`.
fn sessions_csv(path: &Path, prefix: &str, rows: usize, seed: u64) {
    let mut rng = Rng(seed | 1);
    let mut out = String::from("session_id,station_id,connector_id,id_tag,start,stop,energy_kwh\n");
    for i in 0..rows {
        let day = rng.below(420) as i64;
        let minute = rng.below(1440) as i64;
        let start = chrono::DateTime::parse_from_rfc3339("2025-09-01T00:00:00Z").unwrap()
            + chrono::Duration::minutes(day * 1440 + minute);
        let stop = start + chrono::Duration::minutes(20 + rng.below(300) as i64);
        let energy = if i % 997 == 0 {
            "oops".to_string()
        } else {
            format!("{}.{:03}", rng.below(60), rng.below(1000))
        };
        out += &format!(
            "{prefix}-{i},ST{:03},{},04{:08X},{},{},{energy}\n",
            rng.below(40),
            1 + rng.below(2),
            rng.below(1 << 30),
            start.format("%Y-%m-%dT%H:%M:%SZ"),
            stop.format("%Y-%m-%dT%H:%M:%SZ"),
        );
    }
    std::fs::write(path, out).unwrap();
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("evmon")
}

fn evmon_at(data: &Path) -> StdCommand {
    let mut c = StdCommand::new(bin());
    c.env("EVMON_DATA", data)
        .env("NO_COLOR", "1")
        .env_remove("EVMON_TZ");
    c
}

/// (sessions, total energy in Wh) as `evmon sessions` reports them.
fn totals(data: &Path) -> (usize, f64) {
    let out = evmon_at(data)
        .args(["sessions", "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sessions failed: {}",
        crate::util::stderr(&out)
    );
    let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = rdr.headers().unwrap().clone();
    let e = headers.iter().position(|h| h == "energy_wh").unwrap();
    let mut n = 0;
    let mut wh = 0.0;
    for r in rdr.records() {
        let r = r.unwrap();
        n += 1;
        wh += r.get(e).unwrap_or("").parse::<f64>().unwrap_or(0.0);
    }
    (n, wh)
}

fn check_ok(data: &Path) {
    let out = evmon_at(data)
        .args(["check", "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check found errors:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        crate::util::stderr(&out)
    );
}

#[test]
fn sigkill_at_random_points_leaves_a_sound_store() {
    let env = Env::new();
    let files: Vec<PathBuf> = (0..3)
        .map(|k| env.dir.path().join(format!("part{k}.csv")))
        .collect();
    for (k, f) in files.iter().enumerate() {
        sessions_csv(f, &format!("K{k}"), 20_000, 7 + k as u64);
    }
    let names: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();

    // The reference: one clean run.
    let clean = env.dir.path().join("clean");
    let started = Instant::now();
    let status = evmon_at(&clean)
        .arg("ingest")
        .arg("-q")
        .args(&names)
        .status()
        .unwrap();
    assert!(status.success());
    let full_run = started.elapsed();
    let want = totals(&clean);

    // The victim: a first file already stored, then the rest killed at
    // random points of the ingest (parse, merge, write, commit).
    let data = env.dir.path().join("victim");
    assert!(evmon_at(&data)
        .args(["ingest", "-q", names[0]])
        .status()
        .unwrap()
        .success());
    let before = totals(&data);
    let mut rng = Rng(20261125);
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(90);
    while kills < 12 && Instant::now() < deadline {
        let delay = Duration::from_millis(rng.below(full_run.as_millis().max(50) as u64 + 200));
        // Odd runs stage rows on disk as they read (as a large input
        // does), so kills also land between staging and merging.
        let spill = if kills % 2 == 1 { "4000" } else { "200000" };
        let mut child: Child = evmon_at(&data)
            .args(["ingest", "-q", "--stage-memory", "0", "--spill-rows", spill])
            .args(&names[1..])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        kills += 1;
        // Readable, consistent, and in the old or the new state.
        check_ok(&data);
        let now = totals(&data);
        assert!(
            now.0 == before.0 || now.0 == want.0,
            "after a kill at {delay:?}: {} sessions (old {}, new {})",
            now.0,
            before.0,
            want.0
        );
    }
    assert!(kills >= 5, "only {kills} kills in the time allowed");
    let status = evmon_at(&data)
        .arg("ingest")
        .arg("-q")
        .args(&names[1..])
        .status()
        .unwrap();
    assert!(status.success());
    let got = totals(&data);
    assert_eq!(got.0, want.0, "sessions after recovery");
    // The recovering writer cleared whatever killed runs had staged.
    assert!(!data.join(".staging").exists());
    assert!(
        (got.1 - want.1).abs() < 1e-6,
        "energy after recovery: {} vs {}",
        got.1,
        want.1
    );
    check_ok(&data);
    eprintln!("crash test: {kills} SIGKILLs over a {full_run:?} ingest; the store recovered to {} sessions", got.0);
}

#[test]
fn concurrent_ingests_and_readers_see_consistent_snapshots() {
    let env = Env::new();
    let data = env.dir.path().join("store");
    // A store must exist before readers start.
    assert!(evmon_at(&data)
        .args([
            "ingest",
            "-q",
            "--stations",
            &crate::util::repo()
                .join(testdata("stations/stations.toml"))
                .to_string_lossy()
        ])
        .status()
        .unwrap()
        .success());
    let sizes = [3000usize, 2000, 1000];
    let files: Vec<PathBuf> = (0..3)
        .map(|k| env.dir.path().join(format!("c{k}.csv")))
        .collect();
    for (k, f) in files.iter().enumerate() {
        sessions_csv(f, &format!("C{k}"), sizes[k], 100 + k as u64);
    }
    // The counts a consistent reader may see: any subset of the files.
    let valid: Vec<usize> = files
        .iter()
        .map(|f| {
            let d = env
                .dir
                .path()
                .join(format!("one-{}", f.file_name().unwrap().to_string_lossy()));
            assert!(evmon_at(&d)
                .args(["ingest", "-q", f.to_str().unwrap()])
                .status()
                .unwrap()
                .success());
            totals(&d).0
        })
        .collect();
    let mut allowed = BTreeSet::new();
    for mask in 0..8usize {
        allowed.insert(
            (0..3)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| valid[i])
                .sum::<usize>(),
        );
    }
    let ingests: Vec<Child> = files
        .iter()
        .map(|f| {
            evmon_at(&data)
                .args(["ingest", "-q", f.to_str().unwrap()])
                .spawn()
                .unwrap()
        })
        .collect();
    let mut seen = Vec::new();
    let until = Instant::now() + Duration::from_secs(60);
    let mut ingests = ingests;
    loop {
        seen.push(totals(&data).0);
        let done = ingests.iter_mut().all(|c| c.try_wait().unwrap().is_some());
        if done || Instant::now() > until {
            break;
        }
    }
    for mut c in ingests {
        assert!(c.wait().unwrap().success());
    }
    for n in &seen {
        assert!(
            allowed.contains(n),
            "a reader saw {n} sessions, not a state the store was ever in ({allowed:?})"
        );
    }
    assert_eq!(totals(&data).0, valid.iter().sum::<usize>());
    // A reader of each kind works against the final store.
    for args in [
        vec![
            "anomalies",
            "--since",
            "2025-01-01",
            "--until",
            "2027-01-01",
        ],
        vec!["profile", "--since", "2025-01-01", "--until", "2027-01-01"],
    ] {
        let out = evmon_at(&data)
            .args(&args)
            .args(["--format", "csv"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            crate::util::stderr(&out)
        );
    }
    check_ok(&data);
    eprintln!(
        "concurrency test: 3 ingests + {} reader runs at once",
        seen.len()
    );
}

#[test]
fn a_crashed_writer_releases_the_lock_and_is_reported() {
    let env = Env::new();
    let data = env.data();
    let mut holder = evmon_at(&data)
        .args(["ingest", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !std::fs::read_to_string(data.join(".lock")).is_ok_and(|t| t.contains("pid")) {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.kill().unwrap();
    let _ = holder.wait();
    let out = env
        .evmon()
        .args([
            "ingest",
            &testdata("csv/generic.csv"),
            "--lock-timeout",
            "0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ended without finishing"),
        "{}",
        stderr(&out)
    );
    check_ok(&data);
}

#[test]
fn a_full_disk_fails_cleanly_and_keeps_the_store() {
    let env = Env::new();
    env.ingest(&[&testdata("csv/generic.csv")]);
    let before = totals(&env.data());
    let big = env.dir.path().join("big.csv");
    sessions_csv(&big, "BIG", 20_000, 5);
    // Files may not grow past 16 KiB (each month of BIG is ~20 KiB): writes fail with EFBIG (SIGXFSZ ignored).
    let script = format!(
        "trap '' XFSZ; ulimit -f 16; exec {} ingest {}",
        bin().display(),
        big.display()
    );
    let out = StdCommand::new("bash")
        .args(["-c", &script])
        .env("EVMON_DATA", env.data())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", crate::util::stderr(&out));
    let err = crate::util::stderr(&out);
    assert!(
        err.contains("evmon: cannot store the sessions table")
            && err.to_lowercase().contains("file too large"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    assert_eq!(totals(&env.data()), before);
    check_ok(&env.data());
}

#[test]
fn order_and_splitting_give_identical_results() {
    let env = Env::new();
    let all = env.dir.path().join("all.csv");
    sessions_csv(&all, "S", 3000, 42);
    let text = std::fs::read_to_string(&all).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let rows: Vec<&str> = body.lines().collect();
    let reference = {
        let d = env.dir.path().join("ref");
        assert!(evmon_at(&d)
            .args(["ingest", "-q", all.to_str().unwrap()])
            .status()
            .unwrap()
            .success());
        d
    };
    let outputs = |d: &Path| -> Vec<String> {
        [
            vec!["sessions"],
            vec![
                "anomalies",
                "--since",
                "2025-01-01",
                "--until",
                "2027-01-01",
            ],
            vec![
                "bill",
                "--tariff",
                "examples/tariff.toml",
                "--since",
                "2025-01-01",
                "--until",
                "2027-01-01",
                "--lines",
            ],
        ]
        .iter()
        .map(|args| {
            let out = evmon_at(d)
                .current_dir(crate::util::repo())
                .args(args)
                .args(["--format", "csv"])
                .env("EVMON_NOW", "2027-01-01T00:00:00Z")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                crate::util::stderr(&out)
            );
            // Where a row came from (file name, line) legitimately differs
            // between a split and a whole ingest; everything else must not.
            let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
            let headers = rdr.headers().unwrap().clone();
            let keep: Vec<usize> = (0..headers.len())
                .filter(|&i| !matches!(&headers[i], "source_file" | "source_line"))
                .collect();
            let row = |r: &csv::StringRecord| {
                keep.iter()
                    .map(|&i| r.get(i).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut lines = vec![row(&headers)];
            lines.extend(rdr.records().map(|r| row(&r.unwrap())));
            lines.join("\n")
        })
        .collect()
    };
    let want = outputs(&reference);
    let mut rng = Rng(99);
    for case in 0..4 {
        // Cut the rows into 2-4 files (with overlaps), ingest them in a
        // random order, in one or several runs.
        let parts = 2 + rng.below(3) as usize;
        let mut files = Vec::new();
        for p in 0..parts {
            let path = env.dir.path().join(format!("case{case}-part{p}.csv"));
            let mut f = std::fs::File::create(&path).unwrap();
            writeln!(f, "{header}").unwrap();
            for (i, r) in rows.iter().enumerate() {
                if i % parts == p || rng.below(10) == 0 {
                    writeln!(f, "{r}").unwrap();
                }
            }
            files.push(path);
        }
        for i in (1..files.len()).rev() {
            files.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let d = env.dir.path().join(format!("case{case}"));
        // Large inputs stream through staging files: spilling every few
        // rows must not change anything either.
        let spill = if case % 2 == 0 { "97" } else { "200000" };
        if rng.below(2) == 0 {
            let names: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
            assert!(evmon_at(&d)
                .args(["ingest", "-q", "--stage-memory", "0", "--spill-rows", spill])
                .args(&names)
                .status()
                .unwrap()
                .success());
        } else {
            for f in &files {
                assert!(evmon_at(&d)
                    .args([
                        "ingest",
                        "-q",
                        "--stage-memory",
                        "0",
                        "--spill-rows",
                        spill,
                        f.to_str().unwrap()
                    ])
                    .status()
                    .unwrap()
                    .success());
            }
        }
        for (got, want) in outputs(&d).iter().zip(&want) {
            if got != want {
                let diff: Vec<String> = got
                    .lines()
                    .zip(want.lines())
                    .filter(|(a, b)| a != b)
                    .take(3)
                    .map(|(a, b)| format!("got  {a}\nwant {b}"))
                    .collect();
                panic!(
                    "case {case} ({parts} parts): output differs ({} vs {} lines):\n{}",
                    got.lines().count(),
                    want.lines().count(),
                    diff.join("\n")
                );
            }
        }
    }
}

#[test]
fn the_bad_input_corpus_never_panics_and_accounts_for_every_row() {
    let env = Env::new();
    let dir = crate::util::repo().join("testdata/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.ends_with("README.md"))
        .collect();
    // A line of 2 MiB, made here rather than committed.
    let huge = env.dir.path().join("huge-line.csv");
    std::fs::write(&huge, format!("station_id,start,stop,energy_kwh\nCP9,2026-10-01T08:00:00Z,2026-10-01T09:00:00Z,5\n{}\nCP9,2026-10-02T08:00:00Z,2026-10-02T09:00:00Z,6\n", "x".repeat(2 << 20))).unwrap();
    files.push(huge);
    files.sort();
    for f in &files {
        let d = env
            .dir
            .path()
            .join(format!("s-{}", f.file_name().unwrap().to_string_lossy()));
        let out = evmon_at(&d)
            .args(["ingest", f.to_str().unwrap()])
            .output()
            .unwrap();
        let err = crate::util::stderr(&out);
        assert!(!err.contains("panicked"), "{}: {err}", f.display());
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}: {err}",
            f.display()
        );
        assert!(err.starts_with("evmon: "), "{}: {err}", f.display());
        if let Some(line) = err.lines().find(|l| l.contains(" rows, ")) {
            let num = |marker: &str| -> u64 {
                let end = line.find(marker).unwrap();
                let start = line[..end]
                    .rfind(|c: char| !c.is_ascii_digit())
                    .map_or(0, |i| i + 1);
                line[start..end].parse().unwrap()
            };
            assert_eq!(
                num(" rows"),
                num(" sessions,") + num(" rejected"),
                "{}: {line}",
                f.display()
            );
        }
        // Every reject keeps its line number, its reason and the raw row,
        // so nothing is lost (the over-long line is kept as a prefix).
        if d.join("manifest.json").exists() {
            let out = evmon_at(&d)
                .args(["rejects", "--format", "json"])
                .output()
                .unwrap();
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                let r: serde_json::Value = serde_json::from_str(l).unwrap();
                assert!(
                    r["line"].as_u64().is_some_and(|n| n > 0),
                    "{}: {r}",
                    f.display()
                );
                assert!(
                    !r["reason"].as_str().unwrap_or("").is_empty(),
                    "{}: {r}",
                    f.display()
                );
                assert!(
                    !r["raw"].as_str().unwrap_or("").is_empty(),
                    "{}: {r}",
                    f.display()
                );
            }
        }
    }
    // The long line is a reject with its reason, the rows around it go in.
    let d = env.dir.path().join("s-huge-line.csv");
    let out = evmon_at(&d)
        .args(["rejects", "--format", "csv"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("longer than 1048576 bytes"));
    assert_eq!(totals(&d).0, 2);
}

#[test]
fn check_finds_a_damaged_partition_and_repair_lets_ingest_restore_it() {
    let env = Env::new();
    let input = env.dir.path().join("year.csv");
    sessions_csv(&input, "Y", 3_000, 11);
    let data = env.data();
    let status = evmon_at(&data)
        .args(["ingest", "-q", input.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let want = totals(&data);

    // Cut one month's sessions file short, as a bad disk or a careless
    // copy would.
    let month = data.join("sessions").join("month=2026-01");
    let file = std::fs::read_dir(&month)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();

    // check names the damaged partition and fails.
    let out = evmon_at(&data)
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = json_lines(&out.stdout);
    assert!(
        rows.iter().any(|r| r["table"] == "sessions"
            && r["partition"] == "month=2026-01"
            && r["level"] == "error"
            && r["damaged"] == true),
        "{rows:?}"
    );
    // Readers fail with advice instead of wrong numbers.
    let out = evmon_at(&data).args(["sessions"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("evmon check"), "{}", stderr(&out));

    // --repair drops the partition; the rest reads again.
    let out = evmon_at(&data)
        .args(["check", "--repair", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let note = stderr(&out);
    assert!(
        note.contains("sessions/month=2026-01") && note.contains("ingest --force"),
        "{note}"
    );
    check_ok(&data);
    let (n, _) = totals(&data);
    assert!(n > 0 && n < want.0, "{n} vs {want:?}");

    // Re-ingesting with --force restores exactly the original store.
    let status = evmon_at(&data)
        .args(["ingest", "-q", "--force", input.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let got = totals(&data);
    assert_eq!(got.0, want.0);
    assert!((got.1 - want.1).abs() < 1e-6, "{got:?} vs {want:?}");
    check_ok(&data);
}
