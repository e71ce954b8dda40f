#!/usr/bin/env python3
"""Regenerate examples/data/depot-sessions-2026-10.csv, the bundled sample.

A month (October 2026, which includes the 25 October DST change in
Europe/Amsterdam) of sessions at six stations on two sites, written the way a
CPO back-office export looks: naive local times (the zone comes from
examples/stations.toml), energy in kWh, a few awkward rows. Deterministic.
"""
import random
from datetime import datetime, timedelta

random.seed(20261001)
STATIONS = [
    ("AMS-DEPOT-01", 2, 11.0), ("AMS-DEPOT-02", 2, 11.0), ("AMS-DEPOT-03", 2, 22.0),
    ("UTR-MALL-01", 2, 22.0), ("UTR-MALL-02", 1, 50.0), ("UTR-MALL-03", 1, 50.0),
]
TAGS = [f"04{random.randrange(16**8):08X}" for _ in range(40)]
rows = []
tx = 5000
day0 = datetime(2026, 10, 1)
for day in range(31):
    for station, connectors, kw in STATIONS:
        fast = kw >= 50
        n = random.randint(3, 7) if fast else random.randint(1, 3)
        busy_until = {c: day0 + timedelta(days=day) for c in range(1, connectors + 1)}
        for _ in range(n):
            c = random.randint(1, connectors)
            arrive = max(busy_until[c], day0 + timedelta(days=day, hours=random.uniform(6, 21)))
            if fast:
                charge_h = random.uniform(0.3, 0.9)
                idle_h = random.uniform(0.0, 0.2)
            else:
                charge_h = random.uniform(1.0, 5.0)
                idle_h = random.uniform(0.0, 6.0)
            power = kw * random.uniform(0.55, 0.95)
            energy = round(power * charge_h, 3)
            stop = arrive + timedelta(hours=charge_h + idle_h)
            charging_end = arrive + timedelta(hours=charge_h)
            busy_until[c] = stop + timedelta(minutes=5)
            tx += 1
            rows.append([f"TX{tx}", station, c, random.choice(TAGS), arrive, stop, charging_end,
                         energy, round(power * 1.05, 2), random.choice(["EVDisconnected", "Local", "Remote"])])
rows.sort(key=lambda r: r[4])
# Awkward rows a real export has: an open session, a zero-energy plug-in,
# a time inside the DST fall-back hour, and a row with a typo in the energy.
rows.append([f"TX{tx+1}", "UTR-MALL-02", 1, TAGS[0], datetime(2026, 10, 31, 22, 10), None, None, None, None, ""])
rows.append([f"TX{tx+2}", "AMS-DEPOT-01", 1, TAGS[1], datetime(2026, 10, 12, 8, 0), datetime(2026, 10, 12, 8, 2), None, 0.0, 0.0, "EVDisconnected"])
rows.append([f"TX{tx+3}", "AMS-DEPOT-03", 2, TAGS[2], datetime(2026, 10, 25, 2, 30), datetime(2026, 10, 25, 6, 0), datetime(2026, 10, 25, 4, 30), 18.4, 14.2, "Local"])
rows.append([f"TX{tx+4}", "AMS-DEPOT-02", 1, TAGS[3], datetime(2026, 10, 14, 9, 0), datetime(2026, 10, 14, 11, 0), None, "12.o", None, "Local"])

def fmt(v):
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return str(v)

with open("data/depot-sessions-2026-10.csv", "w") as f:
    f.write("session_id,station_id,connector_id,id_tag,start,stop,charging_end,energy_kwh,max_power_kw,stop_reason\n")
    for r in rows:
        f.write(",".join(fmt(v) for v in r) + "\n")
print(len(rows), "rows")
