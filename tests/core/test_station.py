"""The Station facade at core level: what the registration state lets through (spec §2.2, [SPEC] §4.2)."""

import orjson
import pytest

from harness import CoreHarness

from ocpp_station.core.station import Registration
from ocpp_station.store import MemoryStore

# frames that get a CALLERROR from the session whenever CALLs are answered
BAD_FRAMES = [
    ('[2, "r-1", "FlyToTheMoon", {}]', "r-1", "NotImplemented"),
    ('[2, "r-2", "BootNotification", {}]', "r-2", "NotSupported"),
    ('[2, "r-3", "ChangeAvailability", {"connectorId": 1}]', "r-3", "ProtocolError"),
    ("this is not json", "-1", "GenericError"),
    ('{"id": "r-4"}', "-1", "FormationViolation"),
]


def _rejected(interval: int = 20) -> tuple[CoreHarness, float]:
    h = CoreHarness()
    h.start()
    boot1 = h.take("BootNotification")
    h.reply(boot1, h.boot_conf("Rejected", interval=interval))
    assert h.station.registration == Registration.REJECTED
    return h, boot1.at


def _send(h: CoreHarness, data: str) -> list[list]:
    before = len(h.raw_out)
    h.station.receive(data, h.now)
    h._collect()
    return h.raw_out[before:]


@pytest.mark.parametrize("data, uid, code", BAD_FRAMES, ids=[c for _, _, c in BAD_FRAMES])
def test_rejected_station_answers_no_bad_frame_until_the_interval_expires(data, uid, code):
    """spec §2.2: while Rejected "send nothing and answer nothing until the interval expires" —
    a malformed or unknown CALL gets no CALLERROR either; after the interval it is answered again."""
    h, boot_at = _rejected(interval=20)
    assert _send(h, data) == []
    assert _send(h, orjson.dumps([2, "ok-1", "GetConfiguration", {}]).decode()) == []
    h.advance(19.999)
    assert _send(h, data) == []
    h.no_call()
    h.advance(0.001)
    boot2 = h.take("BootNotification")
    assert boot2.at == boot_at + 20
    assert h.station.registration == Registration.UNKNOWN
    (frame,) = _send(h, data)
    assert frame[:3] == [4, uid, code]


def test_rejected_station_answers_again_after_accepted():
    h, _ = _rejected(interval=5)
    h.advance(5)
    h.respond("BootNotification", h.boot_conf("Accepted"))
    h.answer_all("StatusNotification")
    (frame,) = _send(h, '[2, "r-9", "FlyToTheMoon", {}]')
    assert frame[:3] == [4, "r-9", "NotImplemented"]
    assert h.csms_conf("ClearCache", {}) == {"status": "Accepted"}


def test_message_ids_differ_across_a_reboot():
    """Message ids are unique per sender across reconnections and reboots ([JERRATA] 3.1/3.7): a station rebuilt
    on the same store (a reboot) draws a new id prefix, so none of its CALLs reuses an id of the earlier boot,
    except a queued transaction message sent again, which keeps its own id (a retry may)."""
    from charging import ACCEPTED, booted, card, plug, start_confs

    store = MemoryStore()
    h = booted(store=store, MeterValueSampleInterval=0)
    plug(h)
    h.respond("StatusNotification", {})
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    start_confs(h, 1, 7)
    h.disconnect()
    card(h, "TAG1")  # stopped offline: the StopTransaction waits in the store with its id
    (stop_id,) = [m.unique_id for m in h.station.tx_queue if m.action == "StopTransaction"]
    first_boot = {c.unique_id for c in h.log} | {stop_id}

    h2 = CoreHarness(store=store, now=h.now + 10)
    h2.start()
    boot = h2.respond("BootNotification", h2.boot_conf("Accepted", interval=3600))
    assert h2.station.session.id_prefix != h.station.session.id_prefix
    h2.answer_all("StatusNotification")
    stop = h2.respond("StopTransaction", {})
    assert stop.unique_id == stop_id
    assert boot.unique_id not in first_boot
    assert [c.unique_id for c in h2.log if c.unique_id in first_boot] == [stop_id]
