"""Meter values ([SPEC] §3.16, §4.7; [ERRATA] 3.9, 3.13-3.16, 3.76, 3.86, 3.91, 4.25).

* Sampled: every MeterValueSampleInterval seconds from the transaction's
  start, one MeterValues (context Sample.Periodic) with one sampledValue per
  MeterValuesSampledData measurand; the timer steps by the interval from the
  start, so samples never drift.
* Clock-aligned: every ClockAlignedDataInterval seconds aligned to midnight
  (UTC), context Sample.Clock, MeterValuesAlignedData measurands, for each
  connector with a running transaction (with its transactionId). The metering
  chapter that [ERRATA] 3.13 inserts (§3.14) reports both kinds of values "in
  standalone MeterValues.req messages (during a transaction)"; an idle
  connector sends none, which also keeps unsolicited requests out of the
  CSMS's fixed sequences (spec §2.10). Connector 0 would report a main meter;
  this station's hardware has no separate grid meter, so it sends none.
* Both are transaction-related messages: persisted, queued offline, in order.
* Both always go out when their interval is > 0 ([ERRATA] 3.15): when none of
  the configured measurands can be read (SoC only, EV unplugged) the message
  carries the default measurand, the energy register.
* StopTransaction.transactionData: StopTxnSampledData values at the start
  (Transaction.Begin), at each sample and at the end (Transaction.End), plus
  StopTxnAlignedData values at each clock-aligned instant; at most
  StopTransactionMaxMeterValues entries — intermediate ones are thinned out,
  Begin and End are always kept ([ERRATA] 3.91). Empty lists: no data.
* Energy is the meter's register, never rebased to 0 ([ERRATA] 3.9).
* Register saves: while a transaction is open, its record takes the
  register value and its time every ``meter_save_interval`` seconds
  (settings; ``[station] meter_save_interval``), whatever the sample
  interval, in one commit with the simulated meter's own state. A power cut
  then costs at most that many seconds of the session: the StopTransaction
  (PowerLoss) sent at the next boot ([SPEC] §4.10) carries the last saved
  value and its time (docs/persistence.md).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ...core.clock import iso
from ...core.connector import Transaction
from ...hardware.base import MeterSample
from ..base import Feature

_UNITS = {
    "Energy.Active.Import.Register": "Wh",
    "Energy.Active.Export.Register": "Wh",
    "Power.Active.Import": "W",
    "Power.Offered": "W",
    "Current.Import": "A",
    "Current.Offered": "A",
    "Voltage": "V",
    "SoC": "Percent",
    "Frequency": None,  # [ERRATA] 3.86: no unit in 1.6 (Hz implied)
}


DEFAULT_MEASURAND = "Energy.Active.Import.Register"  # [SPEC] §7.31: the default of SampledValue.measurand


def sampled_value(item: str, s: MeterSample, context: str) -> dict[str, Any] | None:
    measurand, phase = item, None
    if item not in _UNITS:
        measurand, _, phase = item.rpartition(".")
    if measurand == "Energy.Active.Import.Register":
        value = str(int(s.energy_wh))
    elif measurand == "Energy.Active.Export.Register":
        if s.energy_export_wh is None:
            return None
        value = str(int(s.energy_export_wh))
    elif measurand == "Power.Active.Import":
        value = f"{s.power_w:.1f}"
    elif measurand == "Power.Offered":
        value = f"{s.power_offered_w:.1f}"
    elif measurand == "Current.Import":
        value = f"{s.currents.get(phase, s.current_a) if phase else s.current_a:.2f}"
    elif measurand == "Current.Offered":
        value = f"{s.current_offered_a:.2f}"
    elif measurand == "Voltage":
        value = f"{s.voltages.get(phase, s.voltage_v) if phase else s.voltage_v:.1f}"  # L1-L2: phase to phase
    elif measurand == "Frequency":
        value = f"{s.frequency_hz:.2f}"
    elif measurand == "SoC":
        if s.soc is None:
            return None
        value = f"{s.soc:.1f}"
    else:
        return None
    sv: dict[str, Any] = {"value": value, "context": context, "format": "Raw", "measurand": measurand}
    unit = _UNITS.get(measurand)
    if unit:
        sv["unit"] = unit
    if phase:
        sv["phase"] = phase
    sv["location"] = "EV" if measurand == "SoC" else "Outlet"
    return sv


def meter_value(items: list[str], s: MeterSample, context: str, wall: float) -> dict[str, Any] | None:
    values = [v for v in (sampled_value(i, s, context) for i in items) if v is not None]
    if not values:
        return None
    return {"timestamp": iso(wall), "sampledValue": values}


def interval_value(items: list[str], s: MeterSample, context: str, wall: float) -> dict[str, Any]:
    """The meterValue of a sampled or clock-aligned MeterValues. [ERRATA] 3.15: with an interval > 0 it SHALL be
    sent; an empty list means the default measurand (spec §2.3, TC_070), and so does a list none of whose
    measurands can be read now (SoC only, EV unplugged): the message carries the energy register ([SPEC] §7.31)
    rather than being skipped (a meterValue needs at least one sampledValue)."""
    mv = meter_value(items or [DEFAULT_MEASURAND], s, context, wall)
    if mv is None:
        mv = meter_value([DEFAULT_MEASURAND], s, context, wall)
    assert mv is not None  # the register can always be read
    return mv


class Metering(Feature):
    def __init__(self, station) -> None:
        super().__init__(station)
        station.config.on_change("ClockAlignedDataInterval").append(self._interval_changed)
        self._now_hint = 0.0  # last `now` seen, to re-arm the aligned timer after a key change
        self._rearm = False  # ClockAlignedDataInterval changed by a CSMS CALL: re-arm from that CALL's `now`
        station.config.on_change("MeterValueSampleInterval").append(self._sample_interval_changed)
        self._resample = False  # MeterValueSampleInterval changed: re-arm running transactions' sampling
        self._sample_interval = station.config["MeterValueSampleInterval"]  # the interval the timers run on
        # register saves driven by the caller (see _arm_register_save): called with each newly armed save's time
        self.save_armed: Callable[[float], None] | None = None
        self._save_due: dict[int, float] = {}  # with save_armed: connector id -> when its next save is due
        # the aligned instants are wall-clock instants: re-arm when Heartbeat.conf or BootNotification.conf moves the
        # clock, so values fall on (and are stamped with) the next aligned instant of the new clock ([SPEC] §4.7)
        station.clock.on_change.append(self._arm_clock)

    @property
    def tx(self):
        return self.station.feature["Transactions"]

    # -- StopTransaction.transactionData ------------------------------------------------------

    def _stop_items(self, key: str) -> list[str]:
        return self.station.config[key]

    def begin(self, tx: Transaction, now: float) -> None:
        items = self._stop_items("StopTxnSampledData")
        if items:
            mv = meter_value(items, self.station.hardware.read(tx.connector_id, now), "Transaction.Begin",
                             self.station.clock.wall(now))
            self._keep(tx, mv)

    def end(self, tx: Transaction, now: float) -> dict[str, Any] | None:
        items = self._stop_items("StopTxnSampledData")
        if not items:
            return None
        return meter_value(items, self.station.hardware.read(tx.connector_id, now), "Transaction.End",
                           self.station.clock.wall(now))

    def _keep(self, tx: Transaction, entry: dict[str, Any] | None) -> None:
        if entry is None:
            return
        store = self.station.store
        tx.stop_data.append((store.queue_append(tx.stop_data_queue, entry), entry))
        cap = self.station.config["StopTransactionMaxMeterValues"] - 1  # one place kept for Transaction.End
        if len(tx.stop_data) > cap:
            # [ERRATA] 3.91: thin out the intermediate values evenly; the first (Transaction.Begin) stays
            first, rest = tx.stop_data[:1], tx.stop_data[1:]
            for seq, _ in rest[0::2]:
                store.queue_delete(tx.stop_data_queue, seq)
            tx.stop_data[:] = first + rest[1::2]

    def load(self, tx: Transaction) -> None:
        """Read back a transaction's transactionData entries (after a power cut)."""
        tx.stop_data = self.station.store.queue_items(tx.stop_data_queue)

    def forget(self, tx: Transaction) -> None:
        for seq, _ in tx.stop_data:
            self.station.store.queue_delete(tx.stop_data_queue, seq)
        tx.stop_data = []

    def transaction_data(self, tx: Transaction, end_sample: dict[str, Any] | None) -> list[dict[str, Any]]:
        data = [entry for _, entry in tx.stop_data]
        if end_sample is not None:
            data.append(end_sample)
        return data

    # -- sampled values -----------------------------------------------------------------------

    def started(self, tx: Transaction, now: float) -> None:
        self._arm_sample(tx.connector_id, now)
        self._arm_register_save(tx.connector_id, now)

    # -- register saves (the bound on what a power cut loses) ----------------------------------

    # The saves run on the station's named timers, or, with ``save_armed`` set, on the caller's own scheduler:
    # a simulator of many stations calls :meth:`save_registers` when the earliest due save comes (``save_armed``
    # tells it when, :meth:`next_register_save` after a pass), without a timer input through the station
    # (nothing else of the station changes with a save: no frame, no command, no other deadline). Same
    # instants, same writes either way.

    def _arm_register_save(self, cid: int, since: float) -> None:
        due = since + self.station.settings.meter_save_interval
        if self.save_armed is not None:
            self._save_due[cid] = due
            self.save_armed(due)
            return
        self.station.timers.set(f"register:{cid}", due, lambda t: self._save_register(cid, due, t))

    def stop_register_saves(self, cid: int) -> None:
        """The connector's transaction ended: no more saves of its register."""
        self.station.timers.cancel(f"register:{cid}")
        self._save_due.pop(cid, None)

    def next_register_save(self) -> float | None:
        """With ``save_armed``: when the earliest save is due (None: no transaction open)."""
        return min(self._save_due.values()) if self._save_due else None

    def save_registers(self, now: float) -> None:
        """With ``save_armed``: every save due at ``now``, each re-armed on its grid (``save_armed`` again)."""
        due = self._save_due
        for cid in [c for c, d in due.items() if d <= now]:
            self._save_register(cid, due.pop(cid), now)

    def _save_register(self, cid: int, due: float, now: float) -> None:
        st = self.station
        tx = self.tx.cond[cid].tx
        if tx is None:
            return
        # on the grid of the start (no drift with the event loop's latency); after a long stall, from now
        late = due + st.settings.meter_save_interval <= now
        self._arm_register_save(cid, now if late else due)
        with st.store.batch():  # the record and the meter's own state: one commit
            tx.last_meter, tx.last_meter_at = int(st.hardware.energy_wh(cid, now)), st.clock.wall(now)
            self.tx.persist(tx)

    def _arm_sample(self, cid: int, since: float) -> None:
        interval = self.station.config["MeterValueSampleInterval"]
        if interval > 0:
            self.station.timers.set(f"sample:{cid}", since + interval, lambda t, d=since + interval: self._sample(cid, d, t))

    def _sample(self, cid: int, due: float, now: float) -> None:
        st = self.station
        tx = self.tx.cond[cid].tx
        if tx is None:
            return
        self._arm_sample(cid, due)
        s = st.hardware.read(cid, now)
        wall = st.clock.wall(now)
        tx.last_meter, tx.last_meter_at = int(s.energy_wh), wall
        mv = interval_value(st.config["MeterValuesSampledData"], s, "Sample.Periodic", wall)  # [ERRATA] 3.15
        stop_items = self._stop_items("StopTxnSampledData")
        with st.store.batch():  # the sample, the last meter value and the message: one commit
            if stop_items:
                self._keep(tx, meter_value(stop_items, s, "Sample.Periodic", wall))
            self.tx.persist(tx)
            self._queue(cid, tx, mv)

    def _queue(self, cid: int, tx: Transaction | None, mv: dict[str, Any]) -> None:
        payload: dict[str, Any] = {"connectorId": cid, "meterValue": [mv]}
        if tx is not None:
            # [ERRATA] 3.16: the transaction ongoing at the sample moment; -1 until StartTransaction.conf
            payload["transactionId"] = tx.transaction_id if tx.transaction_id is not None else -1
        self.station.send_transaction_message("MeterValues", payload, tx.local_id if tx else "")

    # -- clock-aligned values ---------------------------------------------------------------------

    def on_start(self, now: float) -> None:
        self._arm_clock(now)

    def on_accepted(self, now: float) -> None:
        self._arm_clock(now)  # the clock may have moved with currentTime

    def on_call_sent(self, now: float) -> None:
        self._now_hint = now

    def _interval_changed(self, _name: str, _value) -> None:
        self._rearm = True
        self._arm_clock(None)

    def _sample_interval_changed(self, _name: str, value) -> None:
        if value != self._sample_interval:
            self._sample_interval = value
            self._resample = True

    def after_call(self, action: str, now: float) -> None:
        # ChangeConfiguration Accepted = effective now (spec §2.3): a running transaction samples at the new
        # interval from now on, and 0 stops sampling at once ([ERRATA] 3.13, 3.15)
        if self._resample:
            self._resample = False
            for cid, cond in self.tx.cond.items():
                if cond.tx is not None:
                    self.station.timers.cancel(f"sample:{cid}")
                    self._arm_sample(cid, now)
        # the key change armed the timer from the last `now` seen (maybe long past: a value stamped with a stale
        # instant); re-arm from the real `now` so values fall on the next aligned instant ([SPEC] §4.7, TC_071)
        if self._rearm:
            self._rearm = False
            self._now_hint = now
            self._arm_clock(now)

    def _arm_clock(self, now: float | None) -> None:
        st = self.station
        if now is None:
            now = self._now_hint
        interval = st.config["ClockAlignedDataInterval"]
        if interval <= 0:
            st.timers.cancel("clock-aligned")
            return
        wall = st.clock.wall(now)
        next_wall = (math.floor(wall / interval) + 1) * interval  # aligned to midnight UTC: days divide evenly
        st.timers.set("clock-aligned", st.clock.to_now(next_wall), lambda t, w=next_wall: self._aligned(w, t))

    def _aligned(self, wall: float, now: float) -> None:
        st = self.station
        self._now_hint = now
        self._arm_clock(now + 0.001)
        items = st.config["MeterValuesAlignedData"]
        stop_items = self._stop_items("StopTxnAlignedData")
        with st.store.batch():
            for cid, cond in self.tx.cond.items():
                tx = cond.tx
                if tx is None:
                    continue  # [ERRATA] 3.13 (§3.14): standalone MeterValues during a transaction only
                s = st.hardware.read(cid, now)
                tx.last_meter, tx.last_meter_at = int(s.energy_wh), wall
                if stop_items:
                    self._keep(tx, meter_value(stop_items, s, "Sample.Clock", wall))
                self.tx.persist(tx)
                # [ERRATA] 3.15; the values are stamped with the aligned instant
                self._queue(cid, tx, interval_value(items, s, "Sample.Clock", wall))
