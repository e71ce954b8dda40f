#!/usr/bin/env bash
# Benchmark evmon against DuckDB and Python Polars on generated sessions.
#
#   bench/run.sh [small|medium|large|N ...]     (default: small medium)
#
# Builds evmon in release mode, installs duckdb and polars from PyPI into
# bench/.venv (once), generates the data (bench/gen_sessions.py, cached in
# bench/work/), runs every task in every tool and prints a Markdown table of
# median wall time and peak RSS with evmon's ratio to the best engine.
# Not part of the test suite. RUNS=3 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/evmon-target}
cargo build --release --locked -q
venv=bench/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import duckdb, polars' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'duckdb==2.0.1' 'polars==2.1.0'
fi
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(small medium)
exec python3 bench/bench.py --evmon "$CARGO_TARGET_DIR/release/evmon" \
    --python "$venv/bin/python" --work bench/work --runs "${RUNS:-3}" --warmup "${WARMUP:-1}" "${sizes[@]}"
