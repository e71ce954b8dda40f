#!/usr/bin/env python3
"""Generate a large session CSV in evmon's generic format, deterministically.

    python3 bench/gen_sessions.py ROWS OUT.csv [--stations N] [--seed S]

Stations get realistic ratings (11, 22, 50, 150 kW) and each connector's
sessions follow one another in time without overlap; arrival hours, durations
and energies follow the daily shape of public charging. About 0.5% of rows
are deliberately awkward (open sessions, zero energy).
"""
import argparse
import random
from datetime import datetime, timedelta


def main():
    p = argparse.ArgumentParser()
    p.add_argument("rows", type=int)
    p.add_argument("out")
    p.add_argument("--stations", type=int, default=1000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", default="2025-11-01")
    a = p.parse_args()
    rnd = random.Random(a.seed)
    ratings = [11.0, 22.0, 50.0, 150.0]
    stations = [(f"ST{i:05d}", rnd.choice(ratings), rnd.choice([1, 2, 2, 4])) for i in range(a.stations)]
    clock = {}
    t0 = datetime.fromisoformat(a.start)
    per_connector = max(1, a.rows // sum(c for _, _, c in stations))
    # Spread the sessions of each connector over a year.
    gap_h = 365 * 24 / per_connector
    with open(a.out, "w") as f:
        f.write("session_id,station_id,connector_id,id_tag,start,stop,charging_end,energy_kwh,max_power_kw,stop_reason\n")
        n = 0
        while n < a.rows:
            sid, kw, conns = stations[rnd.randrange(len(stations))]
            c = rnd.randint(1, conns)
            key = (sid, c)
            t = clock.get(key, t0 + timedelta(hours=rnd.uniform(0, 24)))
            start = t + timedelta(hours=rnd.expovariate(1 / gap_h))
            fast = kw >= 50
            charge_h = rnd.uniform(0.2, 1.0) if fast else rnd.uniform(0.5, 6.0)
            idle_h = rnd.uniform(0, 0.3) if fast else rnd.expovariate(1 / 2.0)
            power = kw * rnd.uniform(0.4, 0.95)
            stop = start + timedelta(hours=charge_h + idle_h)
            clock[key] = stop
            n += 1
            odd = rnd.random()
            energy = f"{power * charge_h:.3f}"
            stop_s = stop.strftime("%Y-%m-%dT%H:%M:%SZ")
            if odd < 0.002:
                stop_s = ""
            elif odd < 0.005:
                energy = "0"
            f.write(
                f"TX{n},{sid},{c},04{rnd.randrange(1 << 32):08X},{start.strftime('%Y-%m-%dT%H:%M:%SZ')},"
                f"{stop_s},{(start + timedelta(hours=charge_h)).strftime('%Y-%m-%dT%H:%M:%SZ')},{energy},"
                f"{power * 1.05:.2f},{rnd.choice(['EVDisconnected', 'Local', 'Remote'])}\n"
            )


if __name__ == "__main__":
    main()
