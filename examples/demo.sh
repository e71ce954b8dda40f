#!/usr/bin/env bash
# The main job on the bundled sample data: ingest a month of sessions from
# six stations (CSV export) and two charge points' OCPP traffic (1.6J and
# 2.0.1 dumps) into a fresh embedded store, then report on it.
#
#   bash examples/demo.sh            (store in ./evmon-data-demo, removed first)
#
# Data goes to stdout, summaries to stderr, as with every evmon command.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/evmon-target}"
# EVMON_BIN: an evmon binary already built (CI passes the one `cargo test` built).
evmon="${EVMON_BIN:-}"
if [ -z "$evmon" ]; then
    cargo build --quiet
    evmon="$CARGO_TARGET_DIR/debug/evmon"
fi
export EVMON_DATA="${EVMON_DATA:-./evmon-data-demo}"
rm -rf "$EVMON_DATA"

echo "# evmon ingest examples/data --stations examples/stations.toml" >&2
"$evmon" ingest examples/data --stations examples/stations.toml

echo "# evmon stations" >&2
"$evmon" stations --format table

echo "# evmon sessions --since 2026-10-31 --format table" >&2
"$evmon" sessions --since 2026-10-31 --format table

echo "# evmon sessions --station AMS-CP16-01,AMS-CP201-01 --format table" >&2
"$evmon" sessions --station AMS-CP16-01,AMS-CP201-01 --format table

echo "# evmon events --kind status,heartbeat_gap,notify_event --format table" >&2
"$evmon" events --kind status,heartbeat_gap,notify_event --format table | grep -v -E "Available|Preparing|Charging|Finishing|SuspendedEV|Occupied"

# The sample month is October 2026: pin "now" just after it.
export EVMON_NOW="${EVMON_NOW:-2026-11-02T00:00:00Z}"

echo "# evmon profile --since 2026-10-01 --until 2026-11-01 --format table" >&2
"$evmon" profile --since 2026-10-01 --until 2026-11-01 --format table

echo "# evmon profile --hints --format table" >&2
"$evmon" profile --since 2026-10-01 --until 2026-11-01 --hints --format table

echo "# evmon profile --by site --plot $EVMON_DATA/profile.svg" >&2
"$evmon" profile --since 2026-10-01 --until 2026-11-01 --by site --plot "$EVMON_DATA/profile.svg" --format table

echo "# evmon anomalies --since 2026-10-24 --min-severity warning --format table" >&2
"$evmon" anomalies --since 2026-10-24 --until 2026-11-01 --min-severity warning --format table --max-rows 0

echo "# evmon bill --tariff examples/tariff.toml --period 2026-10 --format table" >&2
"$evmon" bill --tariff examples/tariff.toml --period 2026-10 --format table --cdr-out "$EVMON_DATA/cdrs.json"

echo "# evmon rejects --format table" >&2
"$evmon" rejects --format table
