#!/usr/bin/env python3
"""Time evmon against DuckDB and Python Polars on the same generated data.

    python3 bench/bench.py --evmon target/release/evmon --python venv/bin/python \
        --work bench/work [--runs 3] [--warmup 1] SIZE...

SIZE is small (100k sessions), medium (1M) or large (10M), or a number of
sessions. For each size the session CSV is generated once (bench/gen_sessions.py,
deterministic), then every task runs --warmup times unmeasured and --runs times
measured per tool (as hyperfine --warmup: on a VM the first run after another
large process pays the kernel for zeroed pages, which is the machine's state,
not the tool's); the table shows the median wall time and the peak RSS (from /usr/bin/time) and evmon's ratio to the
best reference engine. The reference work is in bench/reference.py.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
WARMUP = 1
SIZES = {"small": 100_000, "medium": 1_000_000, "large": 10_000_000}
# The generator starts on 2025-11-01; bill one full month of it and look for
# anomalies and profiles over the whole span of the data.
PERIOD = "2026-03"
OUTLIERS = "outlier_energy,outlier_duration,outlier_power"


def timed(cmd, env=None, stdout=subprocess.DEVNULL):
    """(seconds, peak RSS in MiB) of one run; exits on failure."""
    with tempfile.NamedTemporaryFile("r") as t:
        full = ["/usr/bin/time", "-f", "%e %M", "-o", t.name] + cmd
        r = subprocess.run(full, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
        secs, kb = t.read().split()[-2:]
        return float(secs), int(kb) / 1024


def measure(name, cmd, runs, prepare=None, env=None):
    results = []
    for n in range(WARMUP + runs):
        if prepare:
            prepare()
        r = timed(cmd, env)
        if n >= WARMUP:
            results.append(r)
    secs = statistics.median(r[0] for r in results)
    rss = max(r[1] for r in results)
    print(f"  {name:<28} {secs:8.2f} s {rss:8.0f} MiB", file=sys.stderr, flush=True)
    return secs, rss


def data_span(python, csv):
    """First and last day with a session start (ISO dates)."""
    code = (
        "import polars as pl, sys; d = pl.scan_csv(sys.argv[1]).select("
        "pl.col('start').str.slice(0, 10).min(), pl.col('start').str.slice(0, 10).max().alias('l')).collect();"
        "print(d.item(0, 0), d.item(0, 1))"
    )
    out = subprocess.run([python, "-c", code, csv], capture_output=True, text=True, check=True)
    first, last = out.stdout.split()
    return first, last


def fresh(path):
    def f():
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)

    return f


def run_size(a, size):
    n = SIZES.get(size) or int(size)
    work = os.path.join(a.work, f"{n}")
    os.makedirs(work, exist_ok=True)
    csv = os.path.join(work, "sessions.csv")
    if not os.path.exists(csv):
        print(f"generating {n} sessions into {csv}", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, "gen_sessions.py"), str(n), csv + ".tmp"], check=True)
        os.rename(csv + ".tmp", csv)
    mib = os.path.getsize(csv) / 2**20
    print(f"\n== {size}: {n} sessions, {mib:.0f} MiB of CSV", file=sys.stderr, flush=True)
    first, last = data_span(a.python, csv)
    # "Now" is just after the last session, as for a cron run on live data.
    env = dict(os.environ, NO_COLOR="1", EVMON_NOW=f"{last}T23:59:59Z")
    span = ["--since", first, "--until", f"{last}T23:59:59Z"]
    ev = [a.evmon, "--data", os.path.join(work, "evmon"), "-q"]
    tariff = os.path.join(HERE, "tariff.toml")
    ref = [a.python, os.path.join(HERE, "reference.py")]
    rows = {}
    rows["read input (cat)"] = {"raw": measure("cat > /dev/null", ["cat", csv], a.runs)}
    tasks = {
        "ingest": (
            ev + ["ingest", csv],
            lambda e: ref + [e, "ingest", "--csv", csv, "--store", os.path.join(work, e)],
        ),
        "profile": (
            ev + ["profile", *span, "--format", "csv"],
            lambda e: ref + [e, "profile", "--store", os.path.join(work, e)],
        ),
        "anomalies (outliers)": (
            ev + ["anomalies", *span, "--kinds", OUTLIERS, "--format", "csv"],
            lambda e: ref + [e, "anomalies", "--store", os.path.join(work, e)],
        ),
        "bill (3-band TOU, month)": (
            ev + ["bill", "--tariff", tariff, "--period", PERIOD, "--by", "id-tag", "--format", "csv"],
            lambda e: ref + [e, "bill", "--store", os.path.join(work, e), "--period", PERIOD],
        ),
    }
    for task, (ev_cmd, ref_cmd) in tasks.items():
        print(f" {task}", file=sys.stderr, flush=True)
        row = {}
        prep = fresh(os.path.join(work, "evmon")) if task == "ingest" else None
        row["evmon"] = measure("evmon", ev_cmd, a.runs, prep, env)
        for e in a.engines:
            prep = fresh(os.path.join(work, e)) if task == "ingest" else None
            row[e] = measure(e, ref_cmd(e), a.runs, prep)
        rows[task] = row
    # Partition pruning: a cron run on the last 7 days against the whole
    # store. "Now" is a year after the first session, where the generated
    # data is dense (its tail thins out).
    print(" pruning", file=sys.stderr, flush=True)
    year = str(int(first[:4]) + 1) + first[4:]
    cron_env = dict(env, EVMON_NOW=f"{year}T00:00:00Z")
    rows["anomalies --since 7d"] = {
        "evmon": measure("evmon --since 7d", ev + ["anomalies", "--since", "7d", "--format", "csv"], a.runs, None, cron_env)
    }
    rows["anomalies, whole store"] = {
        "evmon": measure("evmon whole store", ev + ["anomalies", *span, "--format", "csv"], a.runs, None, env)
    }
    return n, mib, rows


def fmt(cell):
    return f"{cell[0]:7.2f} s {cell[1]:6.0f} MiB" if cell else ""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("sizes", nargs="+")
    p.add_argument("--evmon", required=True)
    p.add_argument("--python", required=True, help="a Python with duckdb and polars")
    p.add_argument("--work", default=os.path.join(HERE, "work"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1, help="unmeasured runs before each measured set")
    p.add_argument("--engines", default="duckdb,polars")
    a = p.parse_args()
    global WARMUP
    WARMUP = a.warmup
    a.engines = [e for e in a.engines.split(",") if e]
    versions = subprocess.run(
        [a.python, "-c", "import duckdb, polars; print('duckdb', duckdb.__version__, '/ polars', polars.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    evv = subprocess.run([a.evmon, "--version"], capture_output=True, text=True).stdout.strip()
    results = [run_size(a, s) for s in a.sizes]
    cols = ["evmon"] + a.engines
    print(f"# {evv} vs {versions}; {os.cpu_count()} cores; median of {a.runs} runs after {a.warmup} warm-up, peak RSS of any measured run")
    for n, mib, rows in results:
        print(f"\n## {n} sessions ({mib:.0f} MiB CSV)\n")
        print("| task | " + " | ".join(cols) + " | evmon / best |")
        print("|---|" + "---|" * len(cols) + "---|")
        for task, row in rows.items():
            if "raw" in row:
                print(f"| {task} | {fmt(row['raw'])} |" + " |" * (len(cols) - 1) + " |")
                continue
            best = min((row[e][0] for e in a.engines if e in row), default=None)
            ratio = f"{row['evmon'][0] / best:.2f}" if best else ""
            print(f"| {task} | " + " | ".join(fmt(row.get(c)) for c in cols) + f" | {ratio} |")
        raw = rows["read input (cat)"]["raw"][0]
        print(f"\nCSV ingest / raw read: {rows['ingest']['evmon'][0] / max(raw, 0.01):.1f}x")
    if len(results) > 1:
        print("\n## evmon seconds by size (linearity)\n")
        tasks = [t for t in results[0][2] if "evmon" in results[0][2][t]]
        print("| sessions | " + " | ".join(tasks) + " |")
        print("|---|" + "---|" * len(tasks))
        for n, _, rows in results:
            print(f"| {n} | " + " | ".join(f"{rows[t]['evmon'][0]:.2f}" for t in tasks) + " |")


if __name__ == "__main__":
    main()
