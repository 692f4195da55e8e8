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


def test_frequent_hooks_reach_the_features_that_override_them_in_order():
    """on_event, on_call_sent and after_call go only to the features that override the base's no-op, in the
    features' hook order; a feature overriding none of them is left out of all three."""
    from ocpp_station.core.events import CardPresented
    from ocpp_station.core.settings import StationSettings
    from ocpp_station.core.station import Station
    from ocpp_station.features import default_features
    from ocpp_station.features.base import Feature
    from ocpp_station.hardware.simulated import SimulatedHardware

    seen: list[tuple[str, str]] = []

    class Quiet(Feature):
        pass

    class Listening(Feature):
        def on_event(self, event, now):
            seen.append(("event", type(event).__name__))

        def on_call_sent(self, now):
            seen.append(("sent", ""))

        def after_call(self, action, now):
            seen.append(("after", action))

    st = Station(StationSettings(), MemoryStore(), SimulatedHardware(), default_features() + [Quiet, Listening])
    quiet, listening = st.features[-2:]
    for hooks in (st._on_event, st._on_call_sent, st._after_call):
        owners = [getattr(h, "__self__", h) for h in hooks]
        assert quiet not in owners and owners[-1] is listening
        assert owners == [f for f in st.features if f in owners]  # hook order kept
    hb = st.feature["Heartbeat"]
    assert hb in [h.__self__ for h in st._on_call_sent] and hb not in st._on_event
    st.start(0.0)
    st.connection_made(0.0)
    assert seen == [("sent", "")]  # the BootNotification
    st.handle_event(CardPresented("TAG", 1), 0.0)
    assert seen[-1] == ("event", "CardPresented")
    [boot] = [orjson.loads(f) for f in st.data_to_send()]
    st.receive(orjson.dumps([3, boot[1], {"status": "Accepted", "interval": 60,
                                          "currentTime": "2026-01-01T00:00:00Z"}]).decode(), 0.5)
    st.receive(orjson.dumps([2, "x1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}]).decode(), 1.0)
    assert ("after", "ChangeConfiguration") in seen
