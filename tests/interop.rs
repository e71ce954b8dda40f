//! Other engines read the store with no export step: DuckDB (its Python
//! package, installed once from PyPI into a cached venv) opens the Parquet
//! files and must count the same sessions and energy as `evmon sessions`.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{python_with, sum, testdata, Env};

/// DuckDB's version, pinned like the benchmark's.
const DUCKDB: &str = "duckdb==2.0.1";

/// A Python that can `import duckdb`: `$EVMON_TEST_PYTHON`, else a venv
/// under ~/.cache made on first use.
fn python_with_duckdb() -> PathBuf {
    match std::env::var_os("EVMON_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => python_with("evmon-test-duckdb", DUCKDB, "duckdb"),
    }
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
    assert!(out.status.success(), "{}", crate::util::stderr(&out));
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
