"""The Station facade at core level: what the registration state lets through (spec §2.2, [SPEC] §4.2)."""

import orjson
import pytest

from harness import CoreHarness

from ocpp_station.core.station import Registration

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
