#!/usr/bin/env python3
"""The benchmark's reference work in DuckDB and Python Polars.

    python3 bench/reference.py ENGINE TASK --csv IN.csv --store DIR [--period YYYY-MM]

ENGINE is duckdb or polars; TASK is one of:

  ingest     read the session CSV, parse times, drop duplicate session ids,
             write Parquet partitioned by month (zstd) into DIR
  profile    per station: sessions, kWh (total, mean, p95), mean duration,
             charging and idle hours, peak power, first and last session
  anomalies  robust per-station outliers of energy, plugged-in duration and
             mean charging power: median and MAD x 1.4826 (at least 5% of
             the median), |z| > 3.5, stations with 10+ values (evmon's
             outlier_* rule)
  bill       one month, three time-of-use bands (weekday 17-21 peak 0.42,
             23-07 night 0.21, else 0.29 EUR/kWh, UTC), energy split pro
             rata by time from start to the end of charging, per id tag:
             net per band rounded half-up to cents, VAT 21%

This is the work `bench/run.sh` times against `evmon ingest`, `evmon profile`,
`evmon anomalies --kinds outlier_energy,outlier_duration,outlier_power` and
`evmon bill --tariff bench/tariff.toml --by id-tag`. Results go to stdout as
CSV so each engine does the full computation (nothing is left lazy).
"""
import argparse
import glob
import os
import sys

PEAK, NIGHT, DAY = 0.42, 0.21, 0.29


def duck(task, a):
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = f"read_parquet('{a.store}/*/*.parquet', hive_partitioning = true)"
    if task == "ingest":
        con.execute(
            f"""
            COPY (
              SELECT * EXCLUDE (rn), strftime(start, '%Y-%m') AS month FROM (
                SELECT *, row_number() OVER (PARTITION BY session_id) AS rn
                FROM read_csv('{a.csv}', header = true,
                  columns = {{'session_id': 'VARCHAR', 'station_id': 'VARCHAR',
                    'connector_id': 'INTEGER', 'id_tag': 'VARCHAR',
                    'start': 'TIMESTAMPTZ', 'stop': 'TIMESTAMPTZ',
                    'charging_end': 'TIMESTAMPTZ', 'energy_kwh': 'DOUBLE',
                    'max_power_kw': 'DOUBLE', 'stop_reason': 'VARCHAR'}})
              ) WHERE rn = 1
            ) TO '{a.store}' (FORMAT parquet, PARTITION_BY (month),
              COMPRESSION zstd, OVERWRITE_OR_IGNORE)
            """
        )
        return None
    if task == "profile":
        q = f"""
            SELECT station_id, count(*) AS sessions, sum(energy_kwh) AS kwh,
              avg(energy_kwh) AS mean_kwh,
              quantile_cont(energy_kwh, 0.95) AS p95_kwh,
              avg(epoch(stop - start)) / 3600 AS mean_hours,
              sum(epoch(coalesce(charging_end, stop) - start)) / 3600 AS charging_h,
              sum(epoch(stop - coalesce(charging_end, stop))) / 3600 AS idle_h,
              max(max_power_kw) AS peak_kw, min(start) AS first, max(start) AS last
            FROM {files} GROUP BY station_id ORDER BY station_id"""
    elif task == "anomalies":
        q = f"""
            WITH s AS (
              SELECT session_id, station_id, energy_kwh,
                epoch(stop - start) / 3600 AS hours,
                coalesce(nullif(greatest(epoch(charging_end - start), 0), 0),
                         nullif(greatest(epoch(stop - start), 0), 0)) / 3600 AS charging_hours
              FROM {files}),
            v AS (
              SELECT session_id, station_id, 'energy' AS metric, energy_kwh AS v FROM s WHERE energy_kwh IS NOT NULL
              UNION ALL SELECT session_id, station_id, 'duration', hours FROM s WHERE hours IS NOT NULL
              UNION ALL SELECT session_id, station_id, 'power', energy_kwh / charging_hours FROM s
                WHERE energy_kwh IS NOT NULL AND charging_hours IS NOT NULL),
            m AS (SELECT station_id, metric, count(*) AS n, median(v) AS med FROM v GROUP BY 1, 2),
            d AS (
              SELECT station_id, metric, any_value(n) AS n, any_value(med) AS med,
                greatest(1.4826 * median(abs(v - med)), 0.05 * abs(any_value(med)), 1e-9) AS scale
              FROM v JOIN m USING (station_id, metric) GROUP BY 1, 2)
            SELECT * FROM (
              SELECT session_id, station_id, metric, v, (v - med) / scale AS z
              FROM v JOIN d USING (station_id, metric) WHERE n >= 10)
            WHERE abs(z) > 3.5 ORDER BY station_id, session_id, metric"""
    elif task == "bill":
        y, m = map(int, a.period.split("-"))
        lo = f"{y:04d}-{m:02d}-01"
        hi = f"{y + (m == 12):04d}-{m % 12 + 1:02d}-01"
        q = f"""
            WITH s AS (
              SELECT id_tag, start, coalesce(charging_end, stop) AS stop, energy_kwh,
                epoch(coalesce(charging_end, stop) - start) AS secs
              FROM {files}
              WHERE start >= TIMESTAMPTZ '{lo}' AND start < TIMESTAMPTZ '{hi}'
                AND stop IS NOT NULL AND coalesce(charging_end, stop) > start),
            h AS (
              SELECT id_tag, energy_kwh, secs, start, stop,
                unnest(generate_series(date_trunc('hour', start), stop, INTERVAL 1 HOUR)) AS hr
              FROM s),
            p AS (
              SELECT id_tag,
                CASE WHEN isodow(hr) <= 5 AND hour(hr) BETWEEN 17 AND 20 THEN 'peak'
                     WHEN hour(hr) >= 23 OR hour(hr) < 7 THEN 'night' ELSE 'day' END AS band,
                energy_kwh * epoch(least(stop, hr + INTERVAL 1 HOUR) - greatest(start, hr)) / secs AS kwh
              FROM h WHERE hr < stop),
            l AS (
              SELECT id_tag, band, sum(kwh) AS kwh,
                round(CAST(sum(kwh * CASE band WHEN 'peak' THEN {PEAK} WHEN 'night' THEN {NIGHT} ELSE {DAY} END)
                  AS DECIMAL(18, 6)), 2) AS net
              FROM p GROUP BY 1, 2)
            SELECT id_tag, sum(kwh) AS kwh, sum(net) AS net,
              round(sum(net) * 0.21, 2) AS vat, sum(net) + round(sum(net) * 0.21, 2) AS gross
            FROM l GROUP BY 1 ORDER BY 1"""
    else:
        raise SystemExit(f"unknown task {task}")
    # Written by DuckDB itself (no pandas needed), fully materialized.
    con.execute(f"COPY ({q}) TO '/dev/stdout' (FORMAT csv, HEADER)")
    return None


def pol(task, a):
    import polars as pl

    if task == "ingest":
        ts = pl.Datetime("us", "UTC")
        df = (
            pl.scan_csv(
                a.csv,
                schema_overrides={"connector_id": pl.Int32, "session_id": pl.Utf8, "id_tag": pl.Utf8},
            )
            .with_columns(
                [pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC").cast(ts) for c in ("start", "stop", "charging_end")]
            )
            .unique(subset=["session_id"], keep="first", maintain_order=True)
            .with_columns(pl.col("start").dt.strftime("%Y-%m").alias("month"))
            .collect()
        )
        df.write_parquet(a.store, partition_by="month", compression="zstd")
        return None
    lf = pl.scan_parquet(os.path.join(a.store, "*", "*.parquet"), hive_partitioning=True)
    hours = (pl.col("stop") - pl.col("start")).dt.total_seconds() / 3600
    if task == "profile":
        end = pl.coalesce("charging_end", "stop")
        return (
            lf.group_by("station_id")
            .agg(
                pl.len().alias("sessions"),
                pl.col("energy_kwh").sum().alias("kwh"),
                pl.col("energy_kwh").mean().alias("mean_kwh"),
                pl.col("energy_kwh").quantile(0.95, "linear").alias("p95_kwh"),
                hours.mean().alias("mean_hours"),
                ((end - pl.col("start")).dt.total_seconds().sum() / 3600).alias("charging_h"),
                ((pl.col("stop") - end).dt.total_seconds().sum() / 3600).alias("idle_h"),
                pl.col("max_power_kw").max().alias("peak_kw"),
                pl.col("start").min().alias("first"),
                pl.col("start").max().alias("last"),
            )
            .sort("station_id")
            .collect()
        )
    if task == "anomalies":
        secs = lambda a, b: (pl.col(b) - pl.col(a)).dt.total_seconds() / 3600  # noqa: E731
        positive = lambda e: pl.when(e > 0).then(e)  # noqa: E731
        charging = pl.coalesce(positive(secs("start", "charging_end")), positive(hours))
        base = lf.select("session_id", "station_id", "energy_kwh", hours.alias("hours"), charging.alias("charging"))
        v = pl.concat(
            [
                base.select("session_id", "station_id", pl.lit("energy").alias("metric"), pl.col("energy_kwh").alias("v")),
                base.select("session_id", "station_id", pl.lit("duration").alias("metric"), pl.col("hours").alias("v")),
                base.select("session_id", "station_id", pl.lit("power").alias("metric"), (pl.col("energy_kwh") / pl.col("charging")).alias("v")),
            ]
        ).drop_nulls("v")
        key = ["station_id", "metric"]
        med = pl.col("v").median().over(key)
        scale = pl.max_horizontal((pl.col("v") - med).abs().median().over(key) * 1.4826, med.abs() * 0.05, pl.lit(1e-9))
        return (
            v.filter(pl.len().over(key) >= 10)
            .with_columns(((pl.col("v") - med) / scale).alias("z"))
            .filter(pl.col("z").abs() > 3.5)
            .sort("station_id", "session_id", "metric")
            .collect()
        )
    if task == "bill":
        from datetime import datetime, timezone

        y, m = map(int, a.period.split("-"))
        lo = datetime(y, m, 1, tzinfo=timezone.utc)
        hi = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=timezone.utc)
        secs = (pl.col("stop") - pl.col("start")).dt.total_seconds()
        hr = pl.col("hr")
        overlap = (
            pl.min_horizontal(pl.col("stop"), hr + pl.duration(hours=1))
            - pl.max_horizontal(pl.col("start"), hr)
        ).dt.total_seconds()
        band = (
            pl.when((hr.dt.weekday() <= 5) & hr.dt.hour().is_between(17, 20))
            .then(pl.lit("peak"))
            .when((hr.dt.hour() >= 23) | (hr.dt.hour() < 7))
            .then(pl.lit("night"))
            .otherwise(pl.lit("day"))
        )
        price = pl.when(band == "peak").then(PEAK).when(band == "night").then(NIGHT).otherwise(DAY)
        lines = (
            lf.filter((pl.col("start") >= lo) & (pl.col("start") < hi) & pl.col("stop").is_not_null())
            .with_columns(pl.coalesce("charging_end", "stop").alias("stop"))
            .filter(pl.col("stop") > pl.col("start"))
            .select("id_tag", "start", "stop", "energy_kwh", secs.alias("secs"))
            .with_columns(pl.datetime_ranges(pl.col("start").dt.truncate("1h"), pl.col("stop"), "1h").alias("hr"))
            .explode("hr")
            .filter(pl.col("hr") < pl.col("stop"))
            .with_columns((pl.col("energy_kwh") * overlap / pl.col("secs")).alias("kwh"), band.alias("band"), price.alias("price"))
            .group_by("id_tag", "band")
            .agg(pl.col("kwh").sum(), (pl.col("kwh") * pl.col("price")).sum().alias("net"))
            .with_columns(pl.col("net").cast(pl.Decimal(18, 6)).round(2))
        )
        return (
            lines.group_by("id_tag")
            .agg(pl.col("kwh").sum(), pl.col("net").sum())
            .with_columns((pl.col("net") * pl.lit(0.21).cast(pl.Decimal(18, 2))).round(2).alias("vat"))
            .with_columns((pl.col("net") + pl.col("vat")).alias("gross"))
            .sort("id_tag")
            .collect()
        )
    raise SystemExit(f"unknown task {task}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("engine", choices=["duckdb", "polars"])
    p.add_argument("task", choices=["ingest", "profile", "anomalies", "bill"])
    p.add_argument("--csv")
    p.add_argument("--store", required=True)
    p.add_argument("--period", default="2026-03")
    a = p.parse_args()
    if a.task == "ingest":
        for f in glob.glob(os.path.join(a.store, "*", "*.parquet")):
            os.remove(f)
    out = (duck if a.engine == "duckdb" else pol)(a.task, a)
    if out is not None:
        out.write_csv(sys.stdout)


if __name__ == "__main__":
    main()
