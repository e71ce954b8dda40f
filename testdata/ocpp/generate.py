#!/usr/bin/env python3
"""Generate the OCPP fixtures in testdata/ocpp16 and testdata/ocpp201.

A real OCPP implementation (the `ocpp` package, pinned in requirements.txt)
plays both sides: scripted charge points connect over a websocket on
loopback to a small back-office, and every frame the back-office receives or
sends is written down as evmon's JSON Lines envelope
{"ts","cp","dir","proto","msg"} (one charge point as a raw log instead).

Time is simulated: each step of a scenario sets the clock, the payload
timestamps use it, and the envelope `ts` is that clock plus network latency.
Message ids are counters, so the output is the same on every run.

The generator keeps its own record of every session it played (energy to
the Wh, start, stop, when charging ended) in testdata/ocpp/expected.json;
tests/ocpp.rs checks evmon's reconstruction against it.

    python3 -m venv /tmp/ocpp-venv && /tmp/ocpp-venv/bin/pip install -r testdata/ocpp/requirements.txt
    /tmp/ocpp-venv/bin/python testdata/ocpp/generate.py
"""
import asyncio
import json
import os
from datetime import datetime, timedelta, timezone

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PORT = 9316
AMS_DST_END = datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc)  # 03:00 CEST -> 02:00 CET


def iso(t, ms=True):
    if ms:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    """The simulated time of the current step."""

    def __init__(self):
        self.now = None
        self.offset_ms = 0

    def set(self, t):
        self.now = t
        self.offset_ms = 0

    def stamp(self):
        # Each frame of a step arrives a little later than the previous one.
        self.offset_ms += 40
        return self.now + timedelta(milliseconds=self.offset_ms)


CLOCK = Clock()
FRAMES = {}  # cp id -> list of (ts, dir, proto, raw)
DUPLICATE_NEXT = set()  # cp ids whose next received frame is logged twice


class Recorder:
    """Wraps the back-office side of a websocket and logs every frame."""

    def __init__(self, ws, cp_id, proto):
        self.ws, self.cp_id, self.proto = ws, cp_id, proto

    def log(self, direction, raw):
        FRAMES.setdefault(self.cp_id, []).append((CLOCK.stamp(), direction, self.proto, raw))

    async def recv(self):
        raw = await self.ws.recv()
        self.log("in", raw)
        if self.cp_id in DUPLICATE_NEXT:
            # A frame the charger re-sent with the same message id (lost ack).
            DUPLICATE_NEXT.discard(self.cp_id)
            self.log("in", raw)
        return raw

    async def send(self, raw):
        self.log("out", raw)
        await self.ws.send(raw)


# --------------------------------------------------------------------------
# Back-office (CSMS)

BLOCKED = {"DEADBEEF01": "Blocked"}
INVALID_201 = {"DEADBEEF01": "Invalid"}


class Csms16(Cp16):
    tx = 100

    def now(self):
        return iso(CLOCK.now)

    @on(Action16.boot_notification)
    def on_boot(self, **kw):
        return result16.BootNotification(current_time=self.now(), interval=1800, status="Accepted")

    @on(Action16.heartbeat)
    def on_heartbeat(self):
        return result16.Heartbeat(current_time=self.now())

    @on(Action16.status_notification)
    def on_status(self, **kw):
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, id_tag):
        return result16.Authorize(id_tag_info={"status": BLOCKED.get(id_tag, "Accepted")})

    @on(Action16.start_transaction)
    def on_start(self, id_tag, **kw):
        Csms16.tx += 1
        return result16.StartTransaction(
            transaction_id=Csms16.tx, id_tag_info={"status": BLOCKED.get(id_tag, "Accepted")}
        )

    # Some chargers send sampled values as JSON numbers (OpenEVSE); accept them.
    @on(Action16.meter_values, skip_schema_validation=True)
    def on_meter_values(self, **kw):
        return result16.MeterValues()

    @on(Action16.stop_transaction)
    def on_stop(self, **kw):
        return result16.StopTransaction(id_tag_info={"status": "Accepted"})


class Csms201(Cp201):
    def now(self):
        return iso(CLOCK.now)

    @on(Action201.boot_notification)
    def on_boot(self, **kw):
        return result201.BootNotification(current_time=self.now(), interval=1800, status="Accepted")

    @on(Action201.heartbeat)
    def on_heartbeat(self):
        return result201.Heartbeat(current_time=self.now())

    @on(Action201.status_notification)
    def on_status(self, **kw):
        return result201.StatusNotification()

    @on(Action201.notify_event)
    def on_notify_event(self, **kw):
        return result201.NotifyEvent()

    @on(Action201.authorize)
    def on_authorize(self, id_token, **kw):
        return result201.Authorize(id_token_info={"status": INVALID_201.get(id_token["id_token"], "Accepted")})

    @on(Action201.transaction_event)
    def on_transaction_event(self, event_type, id_token=None, **kw):
        if id_token is not None:
            status = INVALID_201.get(id_token["id_token"], "Accepted")
            return result201.TransactionEvent(id_token_info={"status": status})
        return result201.TransactionEvent()

    @on(Action201.meter_values)
    def on_meter_values(self, **kw):
        return result201.MeterValues()


async def serve(ws):
    path = ws.request.path.strip("/")
    proto = ws.subprotocol
    cp_id = path
    if proto == "ocpp1.6":
        csms = Csms16(cp_id, Recorder(ws, cp_id, proto))
    else:
        csms = Csms201(cp_id, Recorder(ws, cp_id, proto))
    try:
        await csms.start()
    except websockets.exceptions.ConnectionClosed:
        pass


# --------------------------------------------------------------------------
# Charge points

EXPECTED = []


class Meter:
    """A connector's energy register and what it delivered."""

    def __init__(self, wh):
        self.wh = float(wh)


class Station:
    def __init__(self, cp):
        self.cp = cp
        self.n = 0

    def mid(self):
        self.n += 1
        return str(self.n)

    async def send(self, t, payload, **kw):
        CLOCK.set(t)
        return await self.cp.call(payload, unique_id=self.mid(), **kw)


def last_sample(start, end, step):
    """The last periodic sample strictly before `end`."""
    t = start
    while t + step < end:
        t += step
    return t


def sv16(value, measurand=None, unit=None, phase=None, context=None, number=False):
    d = {"value": value if number else str(value)}
    if context:
        d["context"] = context
    if measurand:
        d["measurand"] = measurand
    if phase:
        d["phase"] = phase
    if unit:
        d["unit"] = unit
    return d


async def charge16(st, t, connector, tx, meter, kw, until, stop_at, step, kwh_units=False, with_txid=True,
                   phases=False, number_values=False):
    """Periodic MeterValues while charging at `kw` until `until`, then idle until `stop_at`."""
    t = t + step
    while t < stop_at:
        charging_until = min(t, until)
        # Register: energy added since the last sample (only while charging).
        meter.wh = meter.start + kw * 1000 * (charging_until - meter.t0).total_seconds() / 3600
        power_w = kw * 1000 if t <= until else 0.0
        wh = round(meter.wh)
        if kwh_units:
            values = [sv16(f"{wh / 1000:.3f}", "Energy.Active.Import.Register", "kWh"),
                      sv16(f"{power_w / 1000:.2f}", "Power.Active.Import", "kW")]
        else:
            values = [sv16(wh, None, None, number=number_values),  # measurand and unit omitted: the register in Wh
                      sv16(int(power_w), "Power.Active.Import", "W", number=number_values)]
        if phases:
            for i, ph in enumerate(["L1", "L2", "L3"]):
                share = [wh // 3, wh // 3, wh - 2 * (wh // 3)][i]
                values.append(sv16(share, "Energy.Active.Import.Register", "Wh", ph))
                values.append(sv16(f"{power_w / 3 / 230:.1f}", "Current.Import", "A", ph))
        payload = {"connector_id": connector,
                   "meter_value": [{"timestamp": iso(t, ms=False), "sampled_value": values}]}
        if with_txid:
            payload["transaction_id"] = tx
        await st.send(t, call16.MeterValues(**payload), skip_schema_validation=number_values)
        t += step


async def session16(st, connector, tag, start, until, stop_at, kw, meter_start, step=timedelta(minutes=5),
                    reason="EVDisconnected", stop=True, **opts):
    meter = Meter(meter_start)
    meter.start, meter.t0 = float(meter_start), start
    await st.send(start - timedelta(seconds=30),
                  call16.StatusNotification(connector_id=connector, error_code="NoError", status="Preparing",
                                            timestamp=iso(start - timedelta(seconds=30), ms=False)))
    res = await st.send(start, call16.StartTransaction(connector_id=connector, id_tag=tag, meter_start=meter_start,
                                                        timestamp=iso(start, ms=False)))
    tx = res.transaction_id
    await st.send(start + timedelta(seconds=5),
                  call16.StatusNotification(connector_id=connector, error_code="NoError", status="Charging",
                                            timestamp=iso(start + timedelta(seconds=5), ms=False)))
    end = stop_at if stop else stop_at
    await charge16(st, start, connector, tx, meter, kw, until, end, step, **opts)
    final = round(meter.start + kw * 1000 * (min(until, end) - start).total_seconds() / 3600)
    record = {"cp": st.cp.id, "proto": "ocpp1.6", "connector_id": connector, "transaction_id": str(tx),
              "id_tag": tag, "start": iso(start, ms=False), "charging_end": iso(min(until, end), ms=False),
              "energy_wh": final - meter_start, "sample_step_s": int(step.total_seconds())}
    if until < end:
        await st.send(until, call16.StatusNotification(connector_id=connector, error_code="NoError",
                                                       status="SuspendedEV", timestamp=iso(until, ms=False)))
    if stop:
        await st.send(stop_at, call16.StopTransaction(
            meter_stop=final, timestamp=iso(stop_at, ms=False), transaction_id=tx, reason=reason, id_tag=tag,
            transaction_data=[
                {"timestamp": iso(start, ms=False),
                 "sampled_value": [sv16(meter_start, "Energy.Active.Import.Register", "Wh", context="Transaction.Begin")]},
                {"timestamp": iso(stop_at, ms=False),
                 "sampled_value": [sv16(final, "Energy.Active.Import.Register", "Wh", context="Transaction.End")]},
            ]))
        await st.send(stop_at + timedelta(seconds=20),
                      call16.StatusNotification(connector_id=connector, error_code="NoError", status="Available",
                                                timestamp=iso(stop_at + timedelta(seconds=20), ms=False)))
        record["stop"] = iso(stop_at, ms=False)
    else:
        # Still charging when the log ends: the last sample is the last
        # instant energy was seen rising.
        record["stop"] = None
        last = last_sample(start, min(until, end), step)
        record["charging_end"] = iso(last, ms=False)
        record["energy_wh"] = round(meter.start + kw * 1000 * (last - start).total_seconds() / 3600) - meter_start
    EXPECTED.append(record)
    return final


async def play_cp16_01():
    """AMS-CP16-01: sessions across the DST change, kWh units, a blocked tag, a fault, a 3-hour silence,
    a session never stopped."""
    async with websockets.connect(f"ws://127.0.0.1:{PORT}/AMS-CP16-01", subprotocols=["ocpp1.6"]) as ws:
        cp = Cp16("AMS-CP16-01", ws)
        listener = asyncio.create_task(cp.start())
        st = Station(cp)
        t = datetime(2026, 10, 24, 20, 0, tzinfo=timezone.utc)
        await st.send(t, call16.BootNotification(charge_point_vendor="Alfen BV", charge_point_model="NG920-61001",
                                                 firmware_version="4.14.0", meter_type="ABB B23"))
        for c in (0, 1, 2):
            await st.send(t + timedelta(seconds=c + 1), call16.StatusNotification(
                connector_id=c, error_code="NoError", status="Available", timestamp=iso(t + timedelta(seconds=c + 1), ms=False)))
        # Heartbeats every 30 minutes, with a 3 hour silence in the night.
        beats = [t + timedelta(minutes=30 * i) for i in range(1, 12)]
        beats += [datetime(2026, 10, 25, 9, 30, tzinfo=timezone.utc) + timedelta(minutes=30 * i) for i in range(2)]

        async def beat_until(limit):
            while beats and beats[0] <= limit:
                await st.send(beats.pop(0), call16.Heartbeat())

        # Session A, connector 1: 11 kW across the DST change (01:00Z), with per-phase registers.
        start = datetime(2026, 10, 24, 22, 30, tzinfo=timezone.utc)
        await beat_until(start)
        await st.send(start - timedelta(minutes=1), call16.Authorize(id_tag="04A1B2C3D4"))
        DUPLICATE_NEXT.add("AMS-CP16-01")  # the Preparing status is re-sent with the same id
        await session16(st, 1, "04A1B2C3D4", start, datetime(2026, 10, 25, 1, 20, tzinfo=timezone.utc),
                        datetime(2026, 10, 25, 2, 10, tzinfo=timezone.utc), 11.0, 1_204_880, phases=True)
        # Session B, connector 2: kWh units, MeterValues without transactionId.
        start = datetime(2026, 10, 25, 2, 30, tzinfo=timezone.utc)
        await st.send(start - timedelta(minutes=1), call16.Authorize(id_tag="04FFEE0011"))
        await session16(st, 2, "04FFEE0011", start, datetime(2026, 10, 25, 3, 50, tzinfo=timezone.utc),
                        datetime(2026, 10, 25, 4, 0, tzinfo=timezone.utc), 7.2, 880_000, kwh_units=True, with_txid=False)
        # A fault on connector 2, cleared, and again.
        for when, status, code in [((4, 20, 0), "Faulted", "GroundFailure"), ((4, 21, 30), "Available", "NoError"),
                                   ((4, 40, 0), "Faulted", "GroundFailure"), ((5, 25, 0), "Available", "NoError")]:
            ts = datetime(2026, 10, 25, *when, tzinfo=timezone.utc)
            extra = {"vendor_id": "com.alfen", "vendor_error_code": "E-GF-17", "info": "RCD tripped"} if status == "Faulted" else {}
            await st.send(ts, call16.StatusNotification(connector_id=2, error_code=code, status=status,
                                                        timestamp=iso(ts, ms=False), **extra))
        # Session C, connector 2: the tag is Blocked, the charger starts anyway.
        start = datetime(2026, 10, 25, 5, 30, tzinfo=timezone.utc)
        await st.send(start - timedelta(minutes=1), call16.Authorize(id_tag="DEADBEEF01"))
        await session16(st, 2, "DEADBEEF01", start, datetime(2026, 10, 25, 6, 10, tzinfo=timezone.utc),
                        datetime(2026, 10, 25, 6, 12, tzinfo=timezone.utc), 7.2, 889_600, reason="DeAuthorized")
        # Then the charge point goes silent for 3 hours (no heartbeat either).
        await beat_until(datetime(2026, 10, 25, 10, 0, tzinfo=timezone.utc))
        # Session D, connector 1: never stopped before the log ends.
        start = datetime(2026, 10, 25, 10, 0, tzinfo=timezone.utc)
        await st.send(start - timedelta(minutes=1), call16.Authorize(id_tag="04A1B2C3D4"))
        await session16(st, 1, "04A1B2C3D4", start, datetime(2026, 10, 25, 12, 0, tzinfo=timezone.utc),
                        datetime(2026, 10, 25, 11, 0, tzinfo=timezone.utc), 11.0, 1_236_047, stop=False)
        listener.cancel()


async def play_cp16_02():
    """AMS-CP16-02 (written as a raw log): sampled values sent as JSON numbers."""
    async with websockets.connect(f"ws://127.0.0.1:{PORT}/AMS-CP16-02", subprotocols=["ocpp1.6"]) as ws:
        cp = Cp16("AMS-CP16-02", ws)
        listener = asyncio.create_task(cp.start())
        st = Station(cp)
        t = datetime(2026, 10, 26, 7, 0, tzinfo=timezone.utc)
        await st.send(t, call16.BootNotification(charge_point_vendor="OpenEVSE", charge_point_model="WiFi-v1"))
        await st.send(t + timedelta(seconds=1), call16.StatusNotification(
            connector_id=1, error_code="NoError", status="Available", timestamp=iso(t + timedelta(seconds=1), ms=False)))
        start = datetime(2026, 10, 26, 7, 30, tzinfo=timezone.utc)
        await session16(st, 1, "04C0FFEE00", start, datetime(2026, 10, 26, 9, 0, tzinfo=timezone.utc),
                        datetime(2026, 10, 26, 9, 30, tzinfo=timezone.utc), 3.6, 52_000,
                        step=timedelta(minutes=10), number_values=True)
        listener.cancel()


def sv201(value, measurand=None, unit=None, multiplier=None, phase=None, context=None):
    d = {"value": value}
    if context:
        d["context"] = context
    if measurand:
        d["measurand"] = measurand
    if phase:
        d["phase"] = phase
    if unit or multiplier is not None:
        u = {"unit": unit or "Wh"}
        if multiplier is not None:
            u["multiplier"] = multiplier
        d["unit_of_measure"] = u
    return d


async def session201(st, evse, tx_id, tag, start, until, stop_at, kw, register_wh, step=timedelta(minutes=5),
                     stop=True, reason="EVDisconnected"):
    seq = 0
    tx = {"transaction_id": tx_id, "charging_state": "EVConnected"}

    async def event(t, kind, trigger, charging_state=None, meter=None, token=None, **extra):
        nonlocal seq
        info = {"transaction_id": tx_id}
        if charging_state:
            info["charging_state"] = charging_state
        info.update(extra.pop("info", {}))
        payload = dict(event_type=kind, timestamp=iso(t, ms=False), trigger_reason=trigger, seq_no=seq,
                       transaction_info=info, evse={"id": evse, "connector_id": 1}, **extra)
        if meter:
            payload["meter_value"] = [{"timestamp": iso(t, ms=False), "sampled_value": meter}]
        if token:
            payload["id_token"] = {"id_token": token, "type": "ISO14443"}
        seq += 1
        return await st.send(t, call201.TransactionEvent(**payload))

    # Started on plug-in: the register in kWh.
    await event(start, "Started", "CablePluggedIn", "EVConnected",
                meter=[sv201(round(register_wh / 1000, 3), "Energy.Active.Import.Register", "kWh", context="Transaction.Begin")])
    await st.send(start + timedelta(seconds=20), call201.Authorize(id_token={"id_token": tag, "type": "ISO14443"}))
    await event(start + timedelta(seconds=25), "Updated", "Authorized", "Charging", token=tag)
    t = start + step
    wh = register_wh
    while t < stop_at:
        charging_until = min(t, until)
        wh = register_wh + kw * 1000 * (charging_until - start).total_seconds() / 3600
        per_phase_w = (kw * 1000 / 3) if t <= until else 0.0
        # The register in Wh with multiplier 3 (i.e. kWh), power per phase only.
        meter = [sv201(round(wh / 1000, 3), "Energy.Active.Import.Register", "Wh", multiplier=3)]
        meter += [sv201(round(per_phase_w, 1), "Power.Active.Import", "W", phase=p) for p in ("L1", "L2", "L3")]
        if until < t <= until + step:
            await event(until, "Updated", "ChargingStateChanged", "SuspendedEV")
        await event(t, "Updated", "MeterValuePeriodic", meter=meter)
        t += step
    final_wh = round(register_wh + kw * 1000 * (min(until, stop_at) - start).total_seconds() / 3600)
    record = {"cp": st.cp.id, "proto": "ocpp2.0.1", "connector_id": evse, "transaction_id": tx_id, "id_tag": tag,
              "start": iso(start, ms=False), "charging_end": iso(min(until, stop_at), ms=False),
              "energy_wh": final_wh - register_wh, "sample_step_s": int(step.total_seconds())}
    if stop:
        await event(stop_at, "Ended", "EVDeparted", "Idle",
                    meter=[sv201(round(final_wh / 1000, 3), "Energy.Active.Import.Register", "kWh", context="Transaction.End")],
                    info={"stopped_reason": reason,
                          "time_spent_charging": int((min(until, stop_at) - start).total_seconds())})
        record["stop"] = iso(stop_at, ms=False)
    else:
        record["stop"] = None
        last = last_sample(start, min(until, stop_at), step)
        record["charging_end"] = iso(last, ms=False)
        record["energy_wh"] = round(register_wh + kw * 1000 * (last - start).total_seconds() / 3600) - register_wh
    EXPECTED.append(record)
    return final_wh


async def play_cp201_01():
    """AMS-CP201-01: TransactionEvents across the DST change, multiplier, invalid token, fault, open session."""
    async with websockets.connect(f"ws://127.0.0.1:{PORT}/AMS-CP201-01", subprotocols=["ocpp2.0.1"]) as ws:
        cp = Cp201("AMS-CP201-01", ws)
        listener = asyncio.create_task(cp.start())
        st = Station(cp)
        t = datetime(2026, 10, 24, 21, 0, tzinfo=timezone.utc)
        await st.send(t, call201.BootNotification(reason="PowerUp", charging_station={
            "model": "Terra AC", "vendor_name": "ABB", "firmware_version": "1.6.7"}))
        for evse in (1, 2):
            await st.send(t + timedelta(seconds=evse), call201.StatusNotification(
                timestamp=iso(t + timedelta(seconds=evse), ms=False), connector_status="Available", evse_id=evse, connector_id=1))
        # Session F, EVSE 1: 22 kW across the DST change.
        DUPLICATE_NEXT.add("AMS-CP201-01")  # the Started event is re-sent with the same id
        reg = await session201(st, 1, "c0ffee00-0000-4000-8000-000000000001", "04A1B2C3D4",
                               datetime(2026, 10, 24, 23, 30, tzinfo=timezone.utc),
                               datetime(2026, 10, 25, 1, 50, tzinfo=timezone.utc),
                               datetime(2026, 10, 25, 2, 40, tzinfo=timezone.utc), 22.0, 1_234_567)
        # Session G, EVSE 2: the token is Invalid, energy flows anyway.
        await session201(st, 2, "c0ffee00-0000-4000-8000-000000000002", "DEADBEEF01",
                         datetime(2026, 10, 25, 3, 0, tzinfo=timezone.utc),
                         datetime(2026, 10, 25, 3, 40, tzinfo=timezone.utc),
                         datetime(2026, 10, 25, 3, 45, tzinfo=timezone.utc), 11.0, 400_000, reason="DeAuthorized")
        # A fault on EVSE 2, reported both ways 2.0.1 allows.
        ts = datetime(2026, 10, 25, 4, 30, tzinfo=timezone.utc)
        await st.send(ts, call201.StatusNotification(timestamp=iso(ts, ms=False), connector_status="Faulted", evse_id=2, connector_id=1))
        await st.send(ts + timedelta(seconds=1), call201.NotifyEvent(
            generated_at=iso(ts + timedelta(seconds=1), ms=False), seq_no=0,
            event_data=[{"event_id": 1, "timestamp": iso(ts, ms=False), "trigger": "Delta", "actual_value": "true",
                         "event_notification_type": "HardWiredNotification", "tech_code": "OverCurrentFailure",
                         "component": {"name": "Connector", "evse": {"id": 2, "connector_id": 1}},
                         "variable": {"name": "Problem"}}]))
        ts2 = datetime(2026, 10, 25, 5, 10, tzinfo=timezone.utc)
        await st.send(ts2, call201.StatusNotification(timestamp=iso(ts2, ms=False), connector_status="Available", evse_id=2, connector_id=1))
        # Whole-station meter values (EVSE 0): not a session.
        ts3 = datetime(2026, 10, 25, 6, 0, tzinfo=timezone.utc)
        await st.send(ts3, call201.MeterValues(evse_id=0, meter_value=[{"timestamp": iso(ts3, ms=False), "sampled_value": [
            sv201(9_812_345.0, "Energy.Active.Import.Register", "Wh")]}]))
        # Session H, EVSE 1: still open when the log ends.
        await session201(st, 1, "c0ffee00-0000-4000-8000-000000000003", "04A1B2C3D4",
                         datetime(2026, 10, 25, 7, 0, tzinfo=timezone.utc),
                         datetime(2026, 10, 25, 9, 0, tzinfo=timezone.utc),
                         datetime(2026, 10, 25, 8, 0, tzinfo=timezone.utc), 22.0, reg, stop=False)
        listener.cancel()


def write_outputs():
    os.makedirs(os.path.join(ROOT, "ocpp16"), exist_ok=True)
    os.makedirs(os.path.join(ROOT, "ocpp201"), exist_ok=True)
    for cp_id, frames in FRAMES.items():
        proto = frames[0][2]
        folder = "ocpp16" if proto == "ocpp1.6" else "ocpp201"
        if cp_id == "AMS-CP16-02":
            # Raw log lines: timestamp, arrow (-> from the charge point), frame.
            with open(os.path.join(ROOT, folder, f"{cp_id}.log"), "w") as f:
                for ts, d, _, raw in frames:
                    f.write(f"{iso(ts)} {'->' if d == 'in' else '<-'} {raw}\n")
            continue
        with open(os.path.join(ROOT, folder, f"{cp_id}.jsonl"), "w") as f:
            for ts, d, p, raw in frames:
                f.write(json.dumps({"ts": iso(ts), "cp": cp_id, "dir": d, "proto": p, "msg": json.loads(raw)},
                                   separators=(",", ":")) + "\n")
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump({"generator": "testdata/ocpp/generate.py", "sessions": EXPECTED}, f, indent=1)
        f.write("\n")


async def main():
    async with websockets.serve(serve, "127.0.0.1", PORT, subprotocols=["ocpp1.6", "ocpp2.0.1"]):
        await play_cp16_01()
        await play_cp16_02()
        await play_cp201_01()
    write_outputs()
    print(f"{sum(len(f) for f in FRAMES.values())} frames, {len(EXPECTED)} sessions")


if __name__ == "__main__":
    asyncio.run(main())
