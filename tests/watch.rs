//! `evmon watch` driven for real: frames are appended to a log while the
//! binary runs, with the wall clock (no EVMON_NOW), and findings are read
//! from its stdout within a time bound.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::Value;

use crate::util::{json_lines, Env};

/// OCPP 1.6J frames as a CSMS writes them, stamped `secs_ago` before now.
struct Log {
    path: PathBuf,
    cp: &'static str,
    next_id: u32,
}

impl Log {
    fn new(dir: &Path, cp: &'static str) -> Log {
        let path = dir.join(format!("{cp}.jsonl"));
        std::fs::write(&path, "").unwrap();
        Log {
            path,
            cp,
            next_id: 1,
        }
    }

    fn stamp(secs_ago: i64) -> String {
        (Utc::now() - chrono::Duration::seconds(secs_ago))
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// A CALL and its CALLRESULT, appended in one write.
    fn exchange(&mut self, secs_ago: i64, action: &str, payload: Value, answer: Value) {
        let id = self.next_id.to_string();
        self.next_id += 1;
        let ts = Log::stamp(secs_ago);
        let call = serde_json::json!({"ts": ts, "cp": self.cp, "dir": "in", "proto": "ocpp1.6", "msg": [2, id, action, payload]});
        let result = serde_json::json!({"ts": ts, "cp": self.cp, "dir": "out", "proto": "ocpp1.6", "msg": [3, id, answer]});
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .unwrap();
        writeln!(f, "{call}\n{result}").unwrap();
        f.sync_all().unwrap();
    }

    fn boot(&mut self, secs_ago: i64) {
        let now = Log::stamp(secs_ago);
        self.exchange(
            secs_ago,
            "BootNotification",
            serde_json::json!({"chargePointVendor": "Alfen BV", "chargePointModel": "NG920"}),
            serde_json::json!({"status": "Accepted", "currentTime": now, "interval": 300}),
        );
    }

    fn start(&mut self, secs_ago: i64, tx: i64, tag: &str, meter: i64) {
        self.exchange(
            secs_ago,
            "StartTransaction",
            serde_json::json!({"connectorId": 1, "idTag": tag, "meterStart": meter, "timestamp": Log::stamp(secs_ago)}),
            serde_json::json!({"idTagInfo": {"status": "Accepted"}, "transactionId": tx}),
        );
    }

    fn register(&mut self, secs_ago: i64, tx: i64, wh: i64) {
        self.exchange(
            secs_ago,
            "MeterValues",
            serde_json::json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": Log::stamp(secs_ago), "sampledValue": [{"value": wh.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}),
            serde_json::json!({}),
        );
    }

    fn status(&mut self, secs_ago: i64, status: &str, code: &str) {
        self.exchange(
            secs_ago,
            "StatusNotification",
            serde_json::json!({"connectorId": 1, "status": status, "errorCode": code, "timestamp": Log::stamp(secs_ago)}),
            serde_json::json!({}),
        );
    }
}

/// A running `evmon watch` whose stdout lines arrive on a channel.
struct Watch {
    child: Child,
    lines: Receiver<String>,
}

impl Watch {
    fn start(env: &Env, args: &[&str]) -> Watch {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("evmon"))
            .env("EVMON_DATA", env.data())
            .env("NO_COLOR", "1")
            .env_remove("EVMON_NOW")
            .args(["watch", "--interval", "0.2"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines: rx }
    }

    /// The next finding of `kind`, waiting at most `limit`.
    fn next(&self, kind: &str, limit: Duration) -> Option<Value> {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v: Value = serde_json::from_str(&line).expect("a JSON line");
                    if v["kind"] == kind {
                        return Some(v);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    /// Stop with SIGTERM; the watch exits 0 by itself.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "watch exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "watch did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_meter_regression_is_reported_within_seconds_and_once() {
    let env = Env::new();
    let mut log = Log::new(env.dir.path(), "CP-LIVE-1");
    log.boot(600);
    log.start(300, 77, "04AABBCCDD", 100_000);
    let watch = Watch::start(&env, &["--debounce", "0", log.path.to_str().unwrap()]);
    log.register(60, 77, 103_000);
    let written = Instant::now();
    log.register(30, 77, 2_000); // the register fell back: a reset
    let f = watch
        .next("meter_regression", Duration::from_secs(15))
        .expect("meter_regression within 15 s");
    let latency = written.elapsed();
    assert_eq!(f["station_id"], "CP-LIVE-1");
    assert_eq!(f["session_uid"], "ocpp:CP-LIVE-1/77");
    assert_eq!(f["severity"], "critical");
    eprintln!("watch latency: {latency:?} from frame written to finding printed");
    assert!(latency < Duration::from_secs(10), "{latency:?}");
    // Nothing is reported twice while it stays true.
    assert!(watch
        .next("meter_regression", Duration::from_secs(2))
        .is_none());
    watch.stop();

    // A restart resumes: the old finding is not repeated, new frames are read.
    let once = |path: &Path| {
        env.evmon()
            .env_remove("EVMON_NOW")
            .args(["watch", "--once", "--debounce", "0", path.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = once(&log.path);
    assert!(out.status.success());
    assert!(json_lines(&out.stdout)
        .iter()
        .all(|f| f["kind"] != "meter_regression"));
    log.start(20, 78, "04DDEEFF00", 0);
    log.register(10, 78, 50_000);
    log.register(5, 78, 10);
    let out = once(&log.path);
    let found = json_lines(&out.stdout);
    let regressions: Vec<&Value> = found
        .iter()
        .filter(|f| f["kind"] == "meter_regression")
        .collect();
    assert_eq!(regressions.len(), 1, "{found:?}");
    assert_eq!(regressions[0]["session_uid"], "ocpp:CP-LIVE-1/78");
    // Every frame was stored once: two sessions, the store is sound.
    let sessions = env.json(&["sessions", "--since", "2000-01-01", "--until", "2100-01-01"]);
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(env.evmon().arg("check").output().unwrap().status.success());
}

#[test]
fn a_fault_cleared_within_the_debounce_does_not_page() {
    let env = Env::new();
    let mut log = Log::new(env.dir.path(), "CP-LIVE-2");
    log.boot(600);
    log.status(500, "Available", "NoError");
    let watch = Watch::start(
        &env,
        &[
            "--debounce",
            "3",
            "--kinds",
            "faulted",
            log.path.to_str().unwrap(),
        ],
    );
    // Faulted, then cleared a second later: no alert.
    log.status(1, "Faulted", "GroundFailure");
    std::thread::sleep(Duration::from_millis(1000));
    log.status(0, "Available", "NoError");
    assert!(watch.next("faulted", Duration::from_secs(5)).is_none());
    // Faulted and staying so: one alert once the debounce has passed.
    let written = Instant::now();
    log.status(0, "Faulted", "HighTemperature");
    let f = watch
        .next("faulted", Duration::from_secs(15))
        .expect("a lasting fault alerts");
    assert!(
        written.elapsed() >= Duration::from_secs(2),
        "{:?}",
        written.elapsed()
    );
    assert!(f["detail"].as_str().unwrap().contains("HighTemperature"));
    assert!(watch.next("faulted", Duration::from_secs(2)).is_none());
    watch.stop();
}

#[test]
fn a_call_waits_for_its_answer_across_reads() {
    // The CALL is written, the answer only later: the watch must not store
    // the StartTransaction without the transactionId of its answer.
    let env = Env::new();
    let mut log = Log::new(env.dir.path(), "CP-LIVE-3");
    log.boot(600);
    let watch = Watch::start(&env, &["--debounce", "0", log.path.to_str().unwrap()]);
    let ts = Log::stamp(100);
    let call = serde_json::json!({"ts": ts, "cp": "CP-LIVE-3", "dir": "in", "proto": "ocpp1.6", "msg": [2, "s9", "StartTransaction", {"connectorId": 1, "idTag": "04CAFE0001", "meterStart": 0, "timestamp": ts}]});
    let answer = serde_json::json!({"ts": ts, "cp": "CP-LIVE-3", "dir": "out", "proto": "ocpp1.6", "msg": [3, "s9", {"idTagInfo": {"status": "Accepted"}, "transactionId": 901}]});
    let append = |v: &Value| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&log.path)
            .unwrap();
        writeln!(f, "{v}").unwrap();
    };
    append(&call);
    std::thread::sleep(Duration::from_millis(1200));
    append(&answer);
    std::thread::sleep(Duration::from_millis(1200));
    watch.stop();
    let sessions = env.json(&["sessions", "--since", "2000-01-01", "--until", "2100-01-01"]);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["session_uid"], "ocpp:CP-LIVE-3/901");
    let rejects = env.json(&["rejects"]);
    assert!(rejects.is_empty(), "{rejects:?}");
}

#[test]
fn exec_gets_each_finding_and_rotated_logs_are_followed() {
    let env = Env::new();
    let dir = env.dir.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let mut log = Log::new(&dir, "CP-LIVE-4");
    log.boot(900);
    log.start(800, 5, "04ABCDEF01", 0);
    log.register(700, 5, 9_000);
    let hook = env.dir.path().join("hook.jsonl");
    let once = |env: &Env| {
        let out = env
            .evmon()
            .env_remove("EVMON_NOW")
            .args([
                "watch",
                "--once",
                "--debounce",
                "0",
                "--kinds",
                "meter_regression",
            ])
            .args(["--exec", &format!("cat >> {}", hook.display())])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", crate::util::stderr(&out));
        json_lines(&out.stdout)
    };
    assert!(once(&env).is_empty());
    // The CSMS rotates its log: the old file is renamed, a new one started.
    std::fs::rename(&log.path, dir.join("CP-LIVE-4.jsonl.1")).unwrap();
    let mut log = Log::new(&dir, "CP-LIVE-4");
    log.next_id = 100;
    log.register(600, 5, 12_000);
    log.register(500, 5, 300); // a reset
    let found = once(&env);
    assert_eq!(found.len(), 1, "{found:?}");
    // The hook got the same JSON line on its stdin.
    let hooked: Vec<Value> = json_lines(&std::fs::read(&hook).unwrap());
    assert_eq!(hooked, found);
    // The renamed file kept its position (read once, not from the start
    // again), the new one was read from its start.
    let state: Value =
        serde_json::from_slice(&std::fs::read(env.data().join("watch/state.json")).unwrap())
            .unwrap();
    let lines = |name: &str| state["files"][dir.join(name).to_str().unwrap()]["lines"].as_u64();
    assert_eq!(lines("CP-LIVE-4.jsonl.1"), Some(6), "{state}");
    assert_eq!(lines("CP-LIVE-4.jsonl"), Some(4), "{state}");
    assert_eq!(state["files"].as_object().unwrap().len(), 2);
    let sessions = env.json(&["sessions", "--since", "2000-01-01", "--until", "2100-01-01"]);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(env.json(&["rejects"]).is_empty());
}
