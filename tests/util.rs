//! Helpers: a scratch store per test, the binary with a fixed clock, and
//! JSON Lines parsing of stdout.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// The fixed "now" of every test run, so `--since 7d` is reproducible.
pub const NOW: &str = "2026-11-01T00:00:00Z";

/// A scratch directory with a store path inside it.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `evmon` with this env's store, no colour, and the fixed clock.
    pub fn evmon(&self) -> Command {
        let mut cmd = Command::cargo_bin("evmon").expect("evmon binary");
        cmd.env("EVMON_DATA", self.data())
            .env("EVMON_NOW", NOW)
            .env("NO_COLOR", "1")
            .env_remove("EVMON_TZ")
            .current_dir(repo());
        cmd
    }

    /// Write a file into the scratch directory and return its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write fixture");
        path
    }

    /// Ingest `args` and assert success.
    pub fn ingest(&self, args: &[&str]) -> std::process::Output {
        let out = self.evmon().arg("ingest").args(args).output().expect("run");
        assert!(
            out.status.success(),
            "ingest {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `evmon <args> --format json`, parsed.
    pub fn json(&self, args: &[&str]) -> Vec<Value> {
        let out = self
            .evmon()
            .args(args)
            .args(["--format", "json"])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_lines(&out.stdout)
    }
}

/// The repository root (tests run with it as the working directory).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn testdata(rel: &str) -> String {
    Path::new("testdata")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Sum of a numeric JSON field over rows.
pub fn sum(rows: &[Value], field: &str) -> f64 {
    rows.iter().filter_map(|r| r[field].as_f64()).sum()
}

/// A Python that can import `module`: a venv under ~/.cache named `venv`,
/// made on first use with `requirement` from PyPI.
pub fn python_with(venv: &str, requirement: &str, module: &str) -> PathBuf {
    use std::process::Command as Std;
    let works = |py: &PathBuf| {
        Std::new(py)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = home.join(".cache").join(venv);
    let py = dir.join("bin/python");
    if !works(&py) {
        let made = Std::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        let installed = made
            && Std::new(&py)
                .args(["-m", "pip", "install", "-q", requirement])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            installed && works(&py),
            "this test needs the Python package {requirement}: it could not be installed into {} (python3 -m venv and PyPI)",
            dir.display()
        );
    }
    py
}
