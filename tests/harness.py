"""Core-level harness: a Station with a scripted CSMS, a memory (or given) store and a manual clock.

Nothing here sleeps: time moves only through :meth:`CoreHarness.advance`,
which steps `now` from timer to timer exactly as the runtime would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from ocpp_station.core.settings import StationSettings
from ocpp_station.assembly import build_station
from ocpp_station.hardware.simulated import SimulatedHardware
from ocpp_station.store import MemoryStore

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z

# Each harness is one boot. As in the runtime (one generator for the process, a new Station per boot), every
# boot draws its own message-id prefix, so a station rebuilt on the same store (a reboot) sends ids that differ
# from the earlier boot's ([JERRATA] 3.1/3.7). Seeded: a run of the suite is reproducible.
_BOOTS = random.Random(20260101)


@dataclass
class SentCall:
    unique_id: str
    action: str
    payload: dict[str, Any]
    at: float  # `now` when the station sent it


class CoreHarness:
    def __init__(self, settings: StationSettings | None = None, store=None, now: float = T0, seed: int | None = None,
                 **ocpp: Any):
        self.settings = settings or StationSettings()
        for k, v in ocpp.items():
            self.settings.ocpp[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        self.store = store if store is not None else MemoryStore()
        self.now = now
        # the simulated hardware keeps its physical state (cables, meter) in the same store, so a station
        # built again on that store is the same station after a reboot or power cut: a cable left in stays in
        hardware = SimulatedHardware(self.settings.connectors, self.settings.fixed_cable, store=self.store,
                                     voltage=self.settings.voltage)
        self.station = build_station(self.settings, self.store, hardware=hardware, rng=random.Random(
            seed if seed is not None else _BOOTS.getrandbits(64)))
        self.hardware = self.station.hardware
        self.calls: list[SentCall] = []  # CALLs from the station not yet taken by a test
        self.log: list[SentCall] = []  # every CALL the station sent
        self.answers: dict[str, list] = {}  # id -> CALLRESULT/CALLERROR frame sent by the station
        self.raw_out: list[list] = []  # every frame the station sent, parsed

    # -- plumbing ------------------------------------------------------------------

    def _collect(self) -> None:
        for text in self.station.data_to_send():
            msg = orjson.loads(text)
            self.raw_out.append(msg)
            if msg[0] == 2:
                c = SentCall(msg[1], msg[2], msg[3], self.now)
                self.calls.append(c)
                self.log.append(c)
            else:
                self.answers[msg[1]] = msg

    def start(self, connect: bool = True) -> None:
        self.station.start(self.now)
        if connect:
            self.station.connection_made(self.now)
        self._collect()

    def connect(self) -> None:
        self.station.connection_made(self.now)
        self._collect()

    def disconnect(self) -> None:
        self.station.connection_lost(self.now)
        self._collect()

    def advance(self, seconds: float) -> None:
        """Step `now` forward, firing every timer on its exact deadline."""
        end = self.now + seconds
        while True:
            t = self.station.get_timer()
            if t is None or t > end:
                break
            self.now = max(self.now, t)
            self.station.handle_timer(self.now)
            self._collect()
        self.now = end
        self.station.handle_timer(self.now)
        self._collect()

    def advance_to_next_call(self, limit: float = 100_000) -> SentCall:
        """Step timers until the station sends a CALL; returns it (does not take it)."""
        end = self.now + limit
        while not self.calls:
            t = self.station.get_timer()
            assert t is not None and t <= end, "no CALL within the limit"
            self.now = max(self.now, t)
            self.station.handle_timer(self.now)
            self._collect()
        return self.calls[0]

    def event(self, *events: Any) -> None:
        for ev in events:
            self.station.handle_event(ev, self.now)
        self._collect()

    def feed(self, events: list) -> None:
        self.event(*events)

    # -- the CSMS side ---------------------------------------------------------------

    def take(self, action: str | None = None) -> SentCall:
        assert self.calls, f"expected {action or 'a CALL'}, the station sent nothing"
        c = self.calls.pop(0)
        if action is not None:
            assert c.action == action, f"expected {action}, got {c.action} {c.payload}"
        return c

    def take_unordered(self, *actions: str) -> dict[str, SentCall]:
        """Take the next len(actions) CALLs, which may come in any order."""
        got = [self.take() for _ in actions]
        assert sorted(c.action for c in got) == sorted(actions), [c.action for c in got]
        return {c.action: c for c in got}

    def respond_unordered(self, answers: dict[str, dict[str, Any]]) -> dict[str, SentCall]:
        """The next CALLs are these actions in any order (one at a time on the wire): answer each."""
        got: dict[str, SentCall] = {}
        while len(got) < len(answers):
            c = self.take()
            assert c.action in answers and c.action not in got, f"unexpected {c.action} {c.payload}"
            got[c.action] = c
            self.reply(c, answers[c.action])
        return got

    def no_call(self) -> None:
        assert not self.calls, f"unexpected CALLs: {[(c.action, c.payload) for c in self.calls]}"

    def reply(self, call: SentCall, payload: dict[str, Any]) -> None:
        self.station.receive(orjson.dumps([3, call.unique_id, payload]).decode(), self.now)
        self._collect()

    def reply_error(self, call: SentCall, code: str = "InternalError", description: str = "") -> None:
        self.station.receive(orjson.dumps([4, call.unique_id, code, description, {}]).decode(), self.now)
        self._collect()

    def respond(self, action: str, payload: dict[str, Any]) -> SentCall:
        """Take the next CALL (asserting its action) and answer it."""
        c = self.take(action)
        self.reply(c, payload)
        return c

    def csms_call(self, action: str, payload: dict[str, Any], unique_id: str | None = None) -> list:
        """The CSMS sends a CALL; returns the station's answer frame ([3, id, payload] or [4, id, code, ...])."""
        uid = unique_id or f"csms-{len(self.answers) + len(self.raw_out) + 1}"
        self.station.receive(orjson.dumps([2, uid, action, payload]).decode(), self.now)
        self._collect()
        return self.answers.pop(uid, None)

    def csms_conf(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        ans = self.csms_call(action, payload)
        assert ans is not None and ans[0] == 3, f"{action}: expected CALLRESULT, got {ans}"
        return ans[2]

    def boot_conf(self, status: str = "Accepted", interval: int = 10) -> dict[str, Any]:
        return {"status": status, "interval": interval, "currentTime": "2026-01-01T00:00:00.000Z"}

    def boot(self, interval: int = 10) -> None:
        """Boot and answer every StatusNotification that follows."""
        self.start()
        self.respond("BootNotification", self.boot_conf("Accepted", interval))
        for _ in range(self.settings.connectors + 1):
            self.respond("StatusNotification", {})
        self.no_call()

    def answer_all(self, action: str, payload: dict[str, Any] | None = None) -> list[SentCall]:
        out = []
        while self.calls and self.calls[0].action == action:
            out.append(self.respond(action, payload or {}))
        return out
