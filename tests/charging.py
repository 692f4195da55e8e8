"""Shared steps of the core-level conformance tests (OCTT reusable states Booted / Authorized / Charging).

Everything steps `now` through :class:`harness.CoreHarness`; nothing sleeps.
The station keeps one CALL in flight ([OCPPJ] §4.1.1), so two messages a case
allows in either order are taken one after the other with
:func:`respond_unordered` (the second is only sent once the first is answered).
"""

from __future__ import annotations

from typing import Any

from harness import CoreHarness

from ocpp_station.core.events import CardPresented
from ocpp_station.core.settings import StationSettings

ACCEPTED = {"idTagInfo": {"status": "Accepted"}}
HB = 3600  # heartbeat interval used by these tests, so heartbeats never interleave


def socket(connectors: int = 1) -> StationSettings:
    """A station with sockets (cable not fixed) and a cable lock."""
    return StationSettings(fixed_cable=False, connector_lock=True, connectors=connectors)


def booted(settings: StationSettings | None = None, store=None, **ocpp: Any) -> CoreHarness:
    """Reusable state Booted: BootNotification Accepted, every StatusNotification answered."""
    h = CoreHarness(settings, store=store, **ocpp)
    h.boot(interval=HB)
    return h


def configure(h: CoreHarness, **keys: Any) -> None:
    """Configuration State as the OCTT tool sets it: ChangeConfiguration per key, expecting Accepted."""
    for k, v in keys.items():
        value = ("true" if v else "false") if isinstance(v, bool) else str(v)
        assert h.csms_conf("ChangeConfiguration", {"key": k, "value": value}) == {"status": "Accepted"}, k


def sn(call) -> tuple:
    """(connectorId, status, errorCode) of a StatusNotification."""
    assert call.action == "StatusNotification", (call.action, call.payload)
    return call.payload["connectorId"], call.payload["status"], call.payload["errorCode"]


def expect_status(h: CoreHarness, cid: int, status: str, error: str = "NoError"):
    """Take the next CALL: StatusNotification(cid, status, error); answer it."""
    c = h.respond("StatusNotification", {})
    assert sn(c) == (cid, status, error), c.payload
    return c


def respond_unordered(h: CoreHarness, answers: dict[str, dict[str, Any]]) -> dict:
    """Take and answer the next len(answers) CALLs, whose actions may come in any order."""
    return h.respond_unordered(answers)


def plug(h: CoreHarness, cid: int = 1) -> None:
    h.feed(h.hardware.plug_in(cid, h.now))


def unplug(h: CoreHarness, cid: int = 1, side: str = "ev") -> None:
    h.feed(h.hardware.plug_out(cid, side, h.now))


def card(h: CoreHarness, tag: str, cid: int | None = 1) -> None:
    h.event(CardPresented(tag, cid))


def start_confs(h: CoreHarness, cid: int, tx_id: int, info: dict[str, Any] | None = None) -> dict:
    """StartTransaction + StatusNotification(Charging), either order ([OCPPLAB] TC_003 steps 5/6)."""
    got = respond_unordered(
        h,
        {"StartTransaction": {"transactionId": tx_id, "idTagInfo": info or {"status": "Accepted"}},
         "StatusNotification": {}},
    )
    assert sn(got["StatusNotification"]) == (cid, "Charging", "NoError")
    assert got["StartTransaction"].payload["connectorId"] == cid
    return got


def start_charging(
    h: CoreHarness, cid: int = 1, tag: str = "TAG1", tx_id: int = 1, parent: str | None = None
) -> dict:
    """Reusable state Charging: plug -> Preparing; card -> Authorize Accepted -> StartTransaction + Charging."""
    plug(h, cid)
    expect_status(h, cid, "Preparing")
    card(h, tag, cid)
    info = {"status": "Accepted", **({"parentIdTag": parent} if parent else {})}
    a = h.respond("Authorize", {"idTagInfo": info})
    assert a.payload == {"idTag": tag}
    got = start_confs(h, cid, tx_id)
    assert got["StartTransaction"].payload["idTag"] == tag
    h.no_call()
    return got


def stop_confs(h: CoreHarness, cid: int, reason: str, status: str = "Finishing") -> Any:
    """StopTransaction(reason) + StatusNotification(status), either order; returns the StopTransaction."""
    got = respond_unordered(h, {"StopTransaction": {}, "StatusNotification": {}})
    assert sn(got["StatusNotification"]) == (cid, status, "NoError")
    assert got["StopTransaction"].payload["reason"] == reason
    return got["StopTransaction"]


def run(h: CoreHarness, seconds: float, answer: tuple[str, ...] = ("MeterValues",)) -> list:
    """Step `now` by ``seconds``, answering every CALL of the ``answer`` actions as it comes (the CSMS keeps up);
    any other CALL stays in ``h.calls`` and stops the answering. Returns the calls answered."""
    end = h.now + seconds
    done = []
    while True:
        while h.calls and h.calls[0].action in answer:
            c = h.take()
            h.reply(c, {"currentTime": h.station.timestamp(h.now)} if c.action == "Heartbeat" else {})
            done.append(c)
        if h.calls:
            break
        t = h.station.get_timer()
        if t is None or t > end:
            break
        h.now = max(h.now, t)
        h.station.handle_timer(h.now)
        h._collect()
    if h.now < end and not h.calls:
        h.advance(end - h.now)
        while h.calls and h.calls[0].action in answer:
            c = h.take()
            h.reply(c, {})
            done.append(c)
    return done
