#!/usr/bin/env python3
"""Regenerate the anomaly fixtures (deterministic).

    python3 testdata/anomalies/make.py

clean.csv       four weeks of normal sessions for stations A1..A4 (no anomaly)
injected.csv    the same stations, plus one session (or burst) per injected
                anomaly and a near miss for each (just inside the threshold)
injected.jsonl  OCPP frames for what only OCPP shows: a register that goes
                down (and a near miss that stays flat), repeated faults (and
                a near miss with fewer), an Authorize answered Invalid
                followed by charging (the session's own answer lost)
labels.json     what must be found (kind, station, session id) and what must
                not (the near misses)
stations.toml   ratings and zones
The test window is 2026-10-19 .. 2026-10-26 (UTC); evmon runs with
EVMON_NOW=2026-10-26T00:00:00Z.
"""
import json
import random
from datetime import datetime, timedelta, timezone

rnd = random.Random(6)
UTC = timezone.utc
STATIONS = {"A1": 11.0, "A2": 11.0, "A3": 22.0, "A4": 50.0}
START = datetime(2026, 9, 28, tzinfo=UTC)
WINDOW = (datetime(2026, 10, 19, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC))
HEADER = "session_id,station_id,connector_id,id_tag,start,stop,charging_end,energy_kwh,max_power_kw,stop_reason\n"
TAGS = [f"04{n:08X}" for n in range(100, 120)]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def normal_sessions():
    rows = []
    n = 0
    for day in range(28):
        for station, kw in STATIONS.items():
            fast = kw >= 50
            t = START + timedelta(days=day, hours=7 + rnd.uniform(0, 1))
            for _ in range(4 if fast else 2):
                charge = timedelta(minutes=rnd.uniform(30, 45) if fast else rnd.uniform(120, 180))
                idle = timedelta(minutes=rnd.uniform(0, 10) if fast else rnd.uniform(20, 90))
                power = kw * rnd.uniform(0.85, 0.95)
                energy = power * charge.total_seconds() / 3600
                n += 1
                rows.append([f"N{n}", station, 1, rnd.choice(TAGS), t, t + charge + idle, t + charge, energy, power * 1.02])
                t = t + charge + idle + timedelta(minutes=rnd.uniform(30, 90))
    return rows


def fmt(rows):
    out = HEADER
    for r in rows:
        sid, st, c, tag, start, stop, cend, e, p = r
        out += f"{sid},{st},{c if c is not None else ''},{tag},{iso(start)},{iso(stop) if stop else ''},{iso(cend) if cend else ''},{'' if e is None else round(e, 3)},{'' if p is None else round(p, 2)},Local\n"
    return out


clean = normal_sessions()
open("clean.csv", "w").write(fmt(clean))

day = datetime(2026, 10, 21, tzinfo=UTC)  # inside the window, a Wednesday
inj = []
expect = []
near = []


def add(kind, row, found=True):
    inj.append(row)
    (expect if found else near).append({"kind": kind, "station_id": row[1], "session_id": row[0]})


# Connector 2 keeps injected sessions apart from the normal ones (connector 1).
h = lambda hh, mm=0: day + timedelta(hours=hh, minutes=mm)
add("power_spike", ["X-SPIKE", "A1", 2, TAGS[0], h(0), h(1), h(1), 8.0, 15.0])            # 15 kW on 11 kW (136%)
add("power_spike", ["N-SPIKE", "A1", 2, TAGS[0], h(2), h(3), h(3), 8.0, 11.8], False)      # 107%: within 10%
add("energy_inconsistent", ["X-ENERGY", "A2", 2, TAGS[1], h(0), h(1), h(1), 30.0, None])   # 30 kWh in 1 h on 11 kW
add("energy_inconsistent", ["N-ENERGY", "A2", 2, TAGS[1], h(2), h(3), h(3), 11.5, None], False)
add("zero_energy", ["X-ZERO", "A3", 2, TAGS[2], h(0), h(0, 30), None, 0.0, 0.0])
add("zero_energy", ["N-ZERO", "A3", 2, TAGS[2], h(1), h(1, 30), h(1, 20), 0.4, 3.0], False)  # 400 Wh: real energy
# A burst is reported once, named by its first session.
add("short_burst", ["X-BURST-0", "A4", 2, TAGS[3], h(0), h(0, 1), None, 0.0, None])           # 3 x 1 min in 20 min
inj += [[f"X-BURST-{i}", "A4", 2, TAGS[3], h(0, 10 * i), h(0, 10 * i + 1), None, 0.0, None] for i in (1, 2)]
add("short_burst", ["N-BURST-0", "A4", 3, TAGS[3], h(2), h(2, 1), None, 0.05, None], False)   # only 2: no burst
inj.append(["N-BURST-1", "A4", 3, TAGS[3], h(2, 10), h(2, 11), None, 0.05, None])
add("open_session", ["X-OPEN", "A1", 3, TAGS[4], datetime(2026, 10, 20, 8, tzinfo=UTC), None, datetime(2026, 10, 20, 10, tzinfo=UTC), 15.0, 9.0])
add("open_session", ["N-OPEN", "A2", 3, TAGS[4], datetime(2026, 10, 25, 20, tzinfo=UTC), None, datetime(2026, 10, 25, 22, tzinfo=UTC), 15.0, 9.0], False)
add("long_session", ["X-LONG", "A3", 3, TAGS[5], datetime(2026, 10, 19, 6, tzinfo=UTC), datetime(2026, 10, 21, 18, tzinfo=UTC), datetime(2026, 10, 19, 9, tzinfo=UTC), 50.0, 20.0])
add("idle_blocking", ["X-IDLE", "A2", 4, TAGS[6], h(6), h(20), h(7), 10.0, 10.0])             # 13 h idle: warning
add("idle_blocking", ["N-IDLE", "A2", 5, TAGS[6], h(6), h(9, 30), h(7), 10.0, 10.0], False)   # 2.5 h idle
add("duplicate_transaction", ["X-DUP-B", "A4", 4, TAGS[7], h(12, 1), h(12, 41), h(12, 40), 30.0, 48.0])
inj.append(["X-DUP-A", "A4", 4, TAGS[7], h(12), h(12, 40), h(12, 40), 30.0, 48.0])
add("overlap", ["X-OVER-B", "A4", 5, TAGS[8], h(14, 20), h(15), h(14, 50), 12.0, 45.0])
inj.append(["X-OVER-A", "A4", 5, TAGS[8], h(14), h(14, 40), h(14, 35), 25.0, 46.0])
add("overlap", ["N-OVER-B", "A4", 6, TAGS[8], h(14, 40), h(15, 20), h(15), 12.0, 45.0], False)  # starts as A ends
inj.append(["N-OVER-A", "A4", 6, TAGS[8], h(14), h(14, 40), h(14, 35), 25.0, 46.0])
add("clock_skew", ["X-CLOCK", "A3", 4, TAGS[9], datetime(2026, 10, 25, 22, tzinfo=UTC), datetime(2026, 10, 26, 2, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC), 20.0, 20.0])
add("outlier_energy", ["X-OUTLIER", "A3", 6, TAGS[10], h(16), h(18, 30), h(18), 2.0, 1.5])     # 2 kWh in 2 h on a ~50 kWh station
add("unknown_tag", ["X-TAG", "A1", 4, "DEADBEEF99", h(9), h(11), h(10, 50), 18.0, 10.0])

# A5: a regular station that goes quiet one day (and is merely slow the next).
for d in range(28):
    date = START + timedelta(days=d)
    if date.date() == datetime(2026, 10, 22).date():
        continue
    scale = 0.6 if date.date() == datetime(2026, 10, 23).date() else 1.0
    for k, hour in enumerate((8, 14)):
        t = date + timedelta(hours=hour, minutes=rnd.uniform(0, 20))
        charge = timedelta(hours=2.5 * scale)
        inj.append([f"A5-{d}-{k}", "A5", 1, rnd.choice(TAGS), t, t + charge + timedelta(minutes=20), t + charge,
                    10.0 * charge.total_seconds() / 3600 * rnd.uniform(0.97, 1.0), 10.2])
expect.append({"kind": "daily_drop", "station_id": "A5", "session_id": None, "day": "2026-10-22"})
near.append({"kind": "daily_drop", "station_id": "A5", "session_id": None, "day": "2026-10-23"})

open("injected.csv", "w").write(fmt(inj))
open("allow-list.csv", "w").write("id_tag\n" + "\n".join(TAGS) + "\n")

# OCPP: regression, repeated faults, Authorize rejected then charging.
frames = []
mid = [0]


def frame(cp, t, action, payload, result="{}"):
    mid[0] += 1
    m = str(mid[0])
    frames.append({"ts": iso(t), "cp": cp, "dir": "in", "proto": "ocpp1.6", "msg": [2, m, action, payload]})
    frames.append({"ts": iso(t + timedelta(milliseconds=50)), "cp": cp, "dir": "out", "proto": "ocpp1.6", "msg": [3, m, json.loads(result)]})


def session(cp, tx, t, tag, registers, status="Accepted"):
    frame(cp, t, "StartTransaction", {"connectorId": 1, "idTag": tag, "meterStart": registers[0], "timestamp": iso(t)},
          json.dumps({"transactionId": tx, "idTagInfo": {"status": status}}))
    for i, r in enumerate(registers[1:-1], 1):
        ts = t + timedelta(minutes=10 * i)
        frame(cp, ts, "MeterValues", {"connectorId": 1, "transactionId": tx,
                                      "meterValue": [{"timestamp": iso(ts), "sampledValue": [{"value": str(r)}]}]})
    end = t + timedelta(minutes=10 * (len(registers) - 1))
    frame(cp, end, "StopTransaction", {"transactionId": tx, "meterStop": registers[-1], "timestamp": iso(end)},
          json.dumps({"idTagInfo": {"status": "Accepted"}}))
    return end


frame("O1", day, "BootNotification", {"chargePointVendor": "Alfen BV", "chargePointModel": "NG920"},
      '{"status":"Accepted","currentTime":"' + iso(day) + '","interval":86400}')
session("O1", 501, h(1), TAGS[11], [100000, 101500, 103000, 2000, 3500])        # register reset mid-session
expect.append({"kind": "meter_regression", "station_id": "O1", "session_id": "501"})
session("O1", 502, h(3), TAGS[11], [3500, 5000, 5000, 5000, 6500])             # flat for a while: fine
near.append({"kind": "meter_regression", "station_id": "O1", "session_id": "502"})
for k in range(3):                                                               # 3 faults within 5 h
    ts = h(5 + 2 * k)
    frame("O2", ts, "StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted", "timestamp": iso(ts)})
    frame("O2", ts + timedelta(minutes=5), "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": iso(ts + timedelta(minutes=5))})
expect.append({"kind": "repeated_faults", "station_id": "O2", "session_id": None})
for k in range(2):                                                               # 2 faults: not repeated
    ts = h(5 + 2 * k)
    frame("O3", ts, "StatusNotification", {"connectorId": 1, "errorCode": "HighTemperature", "status": "Faulted", "timestamp": iso(ts)})
    frame("O3", ts + timedelta(minutes=5), "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": iso(ts + timedelta(minutes=5))})
near.append({"kind": "repeated_faults", "station_id": "O3", "session_id": None})
frame("O4", h(8), "Authorize", {"idTag": "BADC0FFEE1"}, '{"idTagInfo":{"status":"Invalid"}}')
session("O4", 503, h(8, 2), "BADC0FFEE1", [0, 2000, 4000, 6000], status="Accepted")
expect.append({"kind": "auth_rejected", "station_id": "O4", "session_id": "503"})
with open("injected.jsonl", "w") as f:
    for fr in frames:
        f.write(json.dumps(fr, separators=(",", ":")) + "\n")

with open("labels.json", "w") as f:
    json.dump({"window": [iso(WINDOW[0]), iso(WINDOW[1])], "expect": expect, "near_miss": near}, f, indent=1)
    f.write("\n")

with open("stations.toml", "w") as f:
    f.write("# Anomaly fixture stations (see make.py).\n")
    for s, kw in list(STATIONS.items()) + [("A5", 11.0)]:
        f.write(f'\n[[station]]\nstation_id = "{s}"\ntimezone = "Europe/Amsterdam"\nrated_power_kw = {kw}\nconnectors = 6\n')
    for s in ["O1", "O2", "O3", "O4"]:
        f.write(f'\n[[station]]\nstation_id = "{s}"\ntimezone = "Europe/Amsterdam"\nrated_power_kw = 11.0\nconnectors = 1\n')
print(len(clean), "clean sessions,", len(inj), "injected rows,", len(frames), "frames")
