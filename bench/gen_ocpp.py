#!/usr/bin/env python3
"""Generate a large OCPP dump (JSON Lines envelopes), deterministically.

    python3 bench/gen_ocpp.py FRAMES OUT_DIR [--cps N] [--seed S]

Charge points speak 1.6J (70%) or 2.0.1 (30%). Each session is the traffic a
real one makes: Authorize, StatusNotification, StartTransaction or
TransactionEvent Started, MeterValues every 5 minutes (register and power),
a stop, and every CALL answered by a CALLRESULT; heartbeats in between. One
file per charge point and day, as a CSMS that rotates logs would write.
Writes OUT_DIR.expected.csv (beside the directory) with each session's true energy in Wh.
"""
import argparse
import os
import random
from datetime import datetime, timedelta, timezone


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def iso_s(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("frames", type=int)
    p.add_argument("out")
    p.add_argument("--cps", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    ms = timedelta(milliseconds=40)
    cps = []
    for i in range(a.cps):
        proto = "ocpp2.0.1" if rnd.random() < 0.3 else "ocpp1.6"
        cps.append({"id": f"CP{i:05d}", "proto": proto, "kw": rnd.choice([7.4, 11.0, 22.0]),
                    "t": datetime(2026, 9, 1, tzinfo=timezone.utc) + timedelta(minutes=rnd.uniform(0, 600)),
                    "reg": rnd.randint(100_000, 5_000_000), "mid": 0, "tx": 0})
    handles = {}
    written = 0
    expected = open(a.out.rstrip("/") + ".expected.csv", "w")
    expected.write("cp,transaction_id,start,energy_wh\n")

    def out(cp, t):
        key = (cp["id"], t.date())
        f = handles.get(key)
        if f is None:
            # Close the previous day's file of this charge point.
            for k in [k for k in handles if k[0] == cp["id"]]:
                handles.pop(k).close()
            f = open(os.path.join(a.out, f"{cp['id']}-{t.date()}.jsonl"), "a")
            handles[key] = f
        return f

    def call(cp, t, action, payload, result="{}"):
        nonlocal written
        cp["mid"] += 1
        m = cp["mid"]
        f = out(cp, t)
        f.write(f'{{"ts":"{iso(t)}","cp":"{cp["id"]}","dir":"in","proto":"{cp["proto"]}","msg":[2,"{m}","{action}",{payload}]}}\n')
        f.write(f'{{"ts":"{iso(t + ms)}","cp":"{cp["id"]}","dir":"out","proto":"{cp["proto"]}","msg":[3,"{m}",{result}]}}\n')
        written += 2

    while written < a.frames:
        cp = cps[rnd.randrange(len(cps))]
        t = cp["t"] + timedelta(minutes=rnd.expovariate(1 / 240))
        # Heartbeats while idle.
        while cp["t"] + timedelta(minutes=30) < t:
            cp["t"] += timedelta(minutes=30)
            call(cp, cp["t"], "Heartbeat", "{}", f'{{"currentTime":"{iso_s(cp["t"])}"}}')
        tag = f"04{rnd.randrange(1 << 32):08X}"
        charge = timedelta(minutes=rnd.uniform(20, 180))
        idle = timedelta(minutes=rnd.uniform(0, 60))
        conn = rnd.randint(1, 2)
        kw = cp["kw"] * rnd.uniform(0.6, 1.0)
        start_reg = cp["reg"]
        if cp["proto"] == "ocpp1.6":
            call(cp, t, "Authorize", f'{{"idTag":"{tag}"}}', '{"idTagInfo":{"status":"Accepted"}}')
            cp["tx"] += 1
            tx = cp["tx"]
            call(cp, t, "StartTransaction",
                 f'{{"connectorId":{conn},"idTag":"{tag}","meterStart":{start_reg},"timestamp":"{iso_s(t)}"}}',
                 f'{{"transactionId":{tx},"idTagInfo":{{"status":"Accepted"}}}}')
            call(cp, t, "StatusNotification",
                 f'{{"connectorId":{conn},"errorCode":"NoError","status":"Charging","timestamp":"{iso_s(t)}"}}')
        else:
            tx = f"{cp['id']}-{cp['tx'] + 1:08d}"
            cp["tx"] += 1
            call(cp, t, "TransactionEvent",
                 f'{{"eventType":"Started","timestamp":"{iso_s(t)}","triggerReason":"CablePluggedIn","seqNo":0,'
                 f'"transactionInfo":{{"transactionId":"{tx}","chargingState":"EVConnected"}},"evse":{{"id":{conn},"connectorId":1}},'
                 f'"idToken":{{"idToken":"{tag}","type":"ISO14443"}},'
                 f'"meterValue":[{{"timestamp":"{iso_s(t)}","sampledValue":[{{"value":{start_reg / 1000:.3f},"context":"Transaction.Begin","measurand":"Energy.Active.Import.Register","unitOfMeasure":{{"unit":"kWh"}}}}]}}]}}',
                 '{"idTokenInfo":{"status":"Accepted"}}')
        end = t + charge + idle
        s = t + timedelta(minutes=5)
        seq = 1
        while s < end:
            done = min(s, t + charge)
            reg = round(start_reg + kw * 1000 * (done - t).total_seconds() / 3600)
            power = round(kw * 1000) if s <= t + charge else 0
            if cp["proto"] == "ocpp1.6":
                call(cp, s, "MeterValues",
                     f'{{"connectorId":{conn},"transactionId":{tx},"meterValue":[{{"timestamp":"{iso_s(s)}","sampledValue":['
                     f'{{"value":"{reg}","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","unit":"Wh"}},'
                     f'{{"value":"{power}","context":"Sample.Periodic","measurand":"Power.Active.Import","unit":"W"}}]}}]}}')
            else:
                call(cp, s, "TransactionEvent",
                     f'{{"eventType":"Updated","timestamp":"{iso_s(s)}","triggerReason":"MeterValuePeriodic","seqNo":{seq},'
                     f'"transactionInfo":{{"transactionId":"{tx}"}},"meterValue":[{{"timestamp":"{iso_s(s)}","sampledValue":['
                     f'{{"value":{reg},"measurand":"Energy.Active.Import.Register","unitOfMeasure":{{"unit":"Wh"}}}},'
                     f'{{"value":{power},"measurand":"Power.Active.Import","unitOfMeasure":{{"unit":"W"}}}}]}}]}}')
                seq += 1
            s += timedelta(minutes=5)
        final = round(start_reg + kw * 1000 * charge.total_seconds() / 3600)
        if cp["proto"] == "ocpp1.6":
            call(cp, end, "StopTransaction",
                 f'{{"transactionId":{tx},"meterStop":{final},"timestamp":"{iso_s(end)}","reason":"EVDisconnected"}}',
                 '{"idTagInfo":{"status":"Accepted"}}')
            call(cp, end, "StatusNotification",
                 f'{{"connectorId":{conn},"errorCode":"NoError","status":"Available","timestamp":"{iso_s(end)}"}}')
        else:
            call(cp, end, "TransactionEvent",
                 f'{{"eventType":"Ended","timestamp":"{iso_s(end)}","triggerReason":"EVDeparted","seqNo":{seq},'
                 f'"transactionInfo":{{"transactionId":"{tx}","stoppedReason":"EVDisconnected"}},'
                 f'"meterValue":[{{"timestamp":"{iso_s(end)}","sampledValue":[{{"value":{final / 1000:.3f},"context":"Transaction.End","measurand":"Energy.Active.Import.Register","unitOfMeasure":{{"unit":"kWh"}}}}]}}]}}')
        expected.write(f"{cp['id']},{tx},{iso_s(t)},{final - start_reg}\n")
        cp["reg"] = final
        cp["t"] = end
    for f in handles.values():
        f.close()
    expected.close()
    print(written, "frames")


if __name__ == "__main__":
    main()
