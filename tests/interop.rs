//! Other engines read the store with no export step: DuckDB (its Python
//! package, installed once from PyPI into a cached venv) opens the Parquet
//! files and must count the same sessions and energy as `evmon sessions`.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{sum, testdata, Env};

/// DuckDB's version, pinned like the benchmark's.
const DUCKDB: &str = "duckdb==2.0.1";

/// A Python that can `import duckdb`: `$EVMON_TEST_PYTHON`, else a venv
/// under ~/.cache made on first use.
fn python_with_duckdb() -> PathBuf {
    let works = |py: &PathBuf| {
        Command::new(py)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Some(p) = std::env::var_os("EVMON_TEST_PYTHON").map(PathBuf::from) {
        assert!(
            works(&p),
            "EVMON_TEST_PYTHON={} cannot import duckdb",
            p.display()
        );
        return p;
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let venv = home.join(".cache/evmon-test-duckdb");
    let py = venv.join("bin/python");
    if !works(&py) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        let installed = made
            && Command::new(&py)
                .args(["-m", "pip", "install", "-q", DUCKDB])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            installed && works(&py),
            "this test needs DuckDB's Python package: it could not install {DUCKDB} into {} (python3 -m venv and PyPI). Set EVMON_TEST_PYTHON to a python that has it.",
            venv.display()
        );
    }
    py
}

#[test]
fn duckdb_reads_the_store_and_agrees_with_evmon() {
    let env = Env::new();
    env.ingest(&[&testdata("csv"), &testdata("ocpp16"), &testdata("ocpp201")]);
    let ours = env.json(&["sessions", "--since", "2000-01-01", "--until", "2100-01-01"]);
    assert!(ours.len() > 20, "{}", ours.len());
    let wh = sum(&ours, "energy_wh");
    // The README's one-line query, on the store's files.
    let glob = env.data().join("sessions/*/*.parquet");
    let query = format!(
        "SELECT count(*), sum(energy_wh) FROM read_parquet('{}', hive_partitioning = true)",
        glob.display()
    );
    let out = Command::new(python_with_duckdb())
        .args([
            "-c",
            "import duckdb, sys; n, wh = duckdb.sql(sys.argv[1]).fetchall()[0]; print(n, wh)",
        ])
        .arg(&query)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let n: usize = parts.next().unwrap().parse().unwrap();
    let duck_wh: f64 = parts.next().unwrap().parse().unwrap();
    assert_eq!(n, ours.len());
    assert!(
        (duck_wh - wh).abs() < 1e-6 * wh.max(1.0),
        "{duck_wh} vs {wh}"
    );
    // The declared types come through: times as UTC timestamps.
    let out = Command::new(python_with_duckdb())
        .args([
            "-c",
            "import duckdb, sys; print(duckdb.sql(sys.argv[1]).fetchall())",
        ])
        .arg(format!(
            "SELECT DISTINCT typeof(start) FROM read_parquet('{}')",
            glob.display()
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("TIMESTAMP WITH TIME ZONE"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
