"""Authorization at core level: Authorize.req, the authorization cache, ClearCache ([SPEC] §3.5, §4.1, §5.3;
[ERRATA] 3.4, 3.23, 3.77/3.89; spec §2.3 Authorize/ClearCache, §2.7 offline rules). OCTT cases TC_007_1/_2,
TC_061_1/_2, TC_023_4/_5 (TC_007, TC_061, TC_023 in the 2025-06 draft: the local variants)."""

import pytest
from charging import (
    ACCEPTED, booted, card, configure, expect_status, plug, respond_unordered, run, sn, start_charging, start_confs,
    unplug,
)

from harness import CoreHarness

from ocpp_station.store import MemoryStore


def _cache(h, tag):
    return h.station.feature["Authorization"].cached(tag)


def _prime_cache(h, tag="TAG1"):
    """Memory state 'valid idTag cached': an Authorize Accepted, then the same card again cancels (Available)."""
    card(h, tag)
    h.respond("Authorize", ACCEPTED)
    expect_status(h, 1, "Preparing")
    card(h, tag)
    expect_status(h, 1, "Available")
    h.no_call()
    assert _cache(h, tag) == {"status": "Accepted"}


def test_tc_007_1_cs_start_charging_session_cached_id_local():
    """TC_007_1_CS (TC_007_CS) Start Charging Session - Cached Id, local start: AuthorizationCacheEnabled=true, LocalPreAuthorize=true, idTag
    cached: presenting it gives Preparing without Authorize.req; plug -> StartTransaction + Charging ([SPEC] §3.5)."""
    h = booted()
    configure(h, AuthorizationCacheEnabled=True, LocalPreAuthorize=True)
    _prime_cache(h)
    card(h, "TAG1")
    expect_status(h, 1, "Preparing")
    h.no_call()
    plug(h)
    got = start_confs(h, 1, 4)
    assert got["StartTransaction"].payload["idTag"] == "TAG1"
    h.no_call()
    assert [c.payload["idTag"] for c in h.log if c.action == "Authorize"] == ["TAG1"]  # only the priming one


def test_tc_061_1_cs_clear_authorization_cache_local():
    """TC_061_1_CS (TC_061_CS) Clear Authorization Data in Authorization Cache, local: Authorized -> Preparing, ConnectionTimeOut ->
    Available; ClearCache Accepted; the same idTag then triggers Authorize.req ([ERRATA] 3.23; spec §2.3)."""
    h = booted()
    configure(h, AuthorizationCacheEnabled=True, LocalPreAuthorize=True, ConnectionTimeOut=15)
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    expect_status(h, 1, "Preparing")
    h.advance(15)
    expect_status(h, 1, "Available")
    h.no_call()
    assert _cache(h, "TAG1") is not None
    assert h.csms_conf("ClearCache", {}) == {"status": "Accepted"}
    assert _cache(h, "TAG1") is None
    card(h, "TAG1")
    assert h.respond("Authorize", ACCEPTED).payload == {"idTag": "TAG1"}
    expect_status(h, 1, "Preparing")
    h.no_call()


def test_tc_023_4_cs_start_charging_session_authorize_invalid_local():
    """TC_023_4_CS (TC_023_CS) Start Charging Session - Authorize invalid, local: MinimumStatusDuration=10, LocalPreAuthorize=true;
    Authorize.conf Invalid; plug -> Preparing (after MSD); no StartTransaction ([SPEC] §4.1; spec §2.3)."""
    h = booted()
    configure(h, MinimumStatusDuration=10, LocalPreAuthorize=True)
    card(h, "BADTAG")
    assert h.respond("Authorize", {"idTagInfo": {"status": "Invalid"}}).payload == {"idTag": "BADTAG"}
    h.advance(20)
    h.no_call()  # no Preparing for a refused card
    plug(h)
    t = h.now
    h.advance(9.999)
    h.no_call()
    h.advance(0.001)
    prep = expect_status(h, 1, "Preparing")
    assert prep.at == t + 10
    h.advance(20)
    h.no_call()
    assert all(c.action != "StartTransaction" for c in h.log)
    # Invalid is remembered: a second swipe with LocalPreAuthorize still asks (not valid locally)
    assert _cache(h, "BADTAG") == {"status": "Invalid"}


def _remote_start(h, tag: str) -> None:
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": tag}) == {"status": "Accepted"}


@pytest.mark.parametrize("artr", [True, False])
def test_tc_007_2_cs_start_charging_session_cached_id_remote(artr):
    """TC_007_2_CS Start Charging Session - Cached Id, remote start: AuthorizationCacheEnabled=true,
    LocalPreAuthorize=true, idTag cached: RemoteStartTransaction Accepted, Preparing without Authorize.req (whatever
    AuthorizeRemoteTxRequests says: the cached idTag is pre-authorized); plug -> StartTransaction with that idTag +
    Charging ([SPEC] §3.5, §5.11)."""
    h = booted()
    configure(h, AuthorizationCacheEnabled=True, LocalPreAuthorize=True, AuthorizeRemoteTxRequests=artr)
    _prime_cache(h)
    _remote_start(h, "TAG1")
    expect_status(h, 1, "Preparing")
    h.no_call()
    plug(h)
    got = start_confs(h, 1, 5)
    assert got["StartTransaction"].payload["idTag"] == "TAG1"
    h.no_call()
    assert [c.payload["idTag"] for c in h.log if c.action == "Authorize"] == ["TAG1"]  # only the priming one


def test_tc_061_2_cs_clear_authorization_cache_remote():
    """TC_061_2_CS Clear Authorization Data in Authorization Cache, remote: AuthorizeRemoteTxRequests=true; a remote
    start authorizes the idTag (Authorize.req, Preparing), ConnectionTimeOut -> Available; ClearCache Accepted; the
    same idTag in a new RemoteStartTransaction then triggers Authorize.req again ([ERRATA] 3.23; spec §2.3)."""
    h = booted()
    configure(h, AuthorizationCacheEnabled=True, LocalPreAuthorize=True, AuthorizeRemoteTxRequests=True,
              ConnectionTimeOut=15)
    _remote_start(h, "TAG1")
    assert h.respond("Authorize", ACCEPTED).payload == {"idTag": "TAG1"}
    expect_status(h, 1, "Preparing")
    h.advance(15)
    expect_status(h, 1, "Available")
    h.no_call()
    assert _cache(h, "TAG1") == {"status": "Accepted"}
    assert h.csms_conf("ClearCache", {}) == {"status": "Accepted"}
    assert _cache(h, "TAG1") is None
    _remote_start(h, "TAG1")
    assert h.respond("Authorize", ACCEPTED).payload == {"idTag": "TAG1"}
    expect_status(h, 1, "Preparing")
    h.no_call()


def test_tc_023_5_cs_start_charging_session_authorize_invalid_remote():
    """TC_023_5_CS Start Charging Session - Authorize invalid, remote: MinimumStatusDuration=10,
    LocalPreAuthorize=true, AuthorizeRemoteTxRequests=true: RemoteStartTransaction Accepted (a start will be tried,
    [ERRATA] 3.32), Authorize.conf Invalid: no Preparing; plug -> Preparing (after MSD); no StartTransaction
    ([SPEC] §4.1, §5.11; spec §2.3)."""
    h = booted()
    configure(h, MinimumStatusDuration=10, LocalPreAuthorize=True, AuthorizeRemoteTxRequests=True)
    _remote_start(h, "BADTAG")
    assert h.respond("Authorize", {"idTagInfo": {"status": "Invalid"}}).payload == {"idTag": "BADTAG"}
    h.advance(20)
    h.no_call()  # no Preparing for a refused idTag
    plug(h)
    t = h.now
    h.advance(9.999)
    h.no_call()
    h.advance(0.001)
    assert expect_status(h, 1, "Preparing").at == t + 10
    h.advance(20)
    h.no_call()
    assert all(c.action != "StartTransaction" for c in h.log)
    assert _cache(h, "BADTAG") == {"status": "Invalid"}


def test_cache_updated_from_authorize_start_and_stop_confs_and_persisted():
    """The cache takes every IdTagInfo (Authorize, StartTransaction, StopTransaction confs) and survives a
    reboot ([SPEC] §3.5.1; [ERRATA] 3.4; spec §2.3)."""
    store = MemoryStore()
    h = booted(store=store)
    configure(h, AuthorizationCacheEnabled=True, LocalPreAuthorize=True)
    plug(h)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    h.respond("Authorize", {"idTagInfo": {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00Z"}})
    assert _cache(h, "TAG1") == {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00Z"}
    start_confs(h, 1, 1, {"status": "Accepted", "parentIdTag": "P1"})
    assert _cache(h, "TAG1") == {"status": "Accepted", "parentIdTag": "P1"}
    card(h, "TAG1")
    got = respond_unordered(h, {"StopTransaction": {"idTagInfo": {"status": "Accepted", "parentIdTag": "P2"}},
                                "StatusNotification": {}})
    assert got["StopTransaction"].payload["idTag"] == "TAG1"
    assert _cache(h, "TAG1") == {"status": "Accepted", "parentIdTag": "P2"}
    unplug(h)
    expect_status(h, 1, "Available")

    h2 = booted(store=store)
    assert _cache(h2, "TAG1") == {"status": "Accepted", "parentIdTag": "P2"}
    card(h2, "tag1")  # case-insensitive; pre-authorized from the persisted cache
    expect_status(h2, 1, "Preparing")
    h2.no_call()


def test_stop_conf_blocked_updates_cache_next_card_asks():
    """A StopTransaction.conf with idTagInfo Blocked updates the cache: the next swipe is not pre-authorized."""
    h = booted()
    configure(h, LocalPreAuthorize=True)
    start_charging(h, tag="TAG1")
    card(h, "TAG1")
    got = respond_unordered(h, {"StopTransaction": {"idTagInfo": {"status": "Blocked"}}, "StatusNotification": {}})
    assert got["StopTransaction"].payload["reason"] == "Local"
    assert _cache(h, "TAG1") == {"status": "Blocked"}
    unplug(h)
    expect_status(h, 1, "Available")
    card(h, "TAG1")
    h.respond("Authorize", {"idTagInfo": {"status": "Blocked"}})
    h.no_call()


def test_clear_cache_then_next_card_triggers_authorize():
    """ClearCache -> Accepted; a previously cached idTag is asked for again with Authorize.req."""
    h = booted(LocalPreAuthorize=True)
    _prime_cache(h)
    assert h.csms_conf("ClearCache", {}) == {"status": "Accepted"}
    card(h, "TAG1")
    assert h.take("Authorize").payload == {"idTag": "TAG1"}


def test_cache_disabled_no_cache_entries():
    """AuthorizationCacheEnabled=false: nothing is cached, every swipe asks."""
    h = booted(LocalPreAuthorize=True)
    configure(h, AuthorizationCacheEnabled=False)
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    expect_status(h, 1, "Preparing")
    card(h, "TAG1")
    expect_status(h, 1, "Available")
    card(h, "TAG1")
    h.respond("Authorize", ACCEPTED)
    expect_status(h, 1, "Preparing")
    run(h, 1)
    h.no_call()


@pytest.mark.parametrize("allow_unknown, status", [(True, "Charging"), (False, "Preparing")])
def test_authorize_queued_when_the_link_drops_is_decided_offline_at_once(allow_unknown, status):
    """An Authorize.req waiting behind another CALL when the link drops leaves the queue and is decided by the
    offline rules right away (spec §2.7): an unknown idTag charges with AllowOfflineTxForUnknownId=true, is refused
    otherwise; nothing is asked when the link comes back."""
    h = booted(AllowOfflineTxForUnknownId=allow_unknown, MeterValueSampleInterval=0)
    plug(h)
    assert sn(h.take("StatusNotification")) == (1, "Preparing", "NoError")  # in flight, never answered
    card(h, "TAG1")
    h.advance(5)
    h.no_call()  # the Authorize.req waits behind it: one CALL in flight
    h.disconnect()  # at 00:00:05
    assert h.station.connector(1).status.value == status
    assert h.hardware.connectors[1].relay_closed == allow_unknown
    h.advance(30)
    h.connect()
    if allow_unknown:
        got = respond_unordered(h, {"StatusNotification": {}, "StartTransaction": {
            "transactionId": 3, "idTagInfo": {"status": "Accepted"}}})
        assert sn(got["StatusNotification"]) == (1, "Charging", "NoError")
        start = got["StartTransaction"].payload
        assert start["idTag"] == "TAG1" and start["timestamp"] == "2026-01-01T00:00:05.000Z"  # decided then
    else:
        assert sn(h.respond("StatusNotification", {})) == (1, "Preparing", "NoError")  # never acknowledged
    h.no_call()
    assert [c.action for c in h.log].count("Authorize") == 0


@pytest.mark.parametrize("answer_after, started", [(29.999, True), (30, False)])
def test_authorization_decided_after_connection_timeout_is_ignored(answer_after, started):
    """An Authorize.conf that comes once ConnectionTimeOut has passed since the card was presented is ignored: the
    incipient session is over ([ERRATA] 3.77/3.89); just before it, the card is accepted as usual."""
    h = booted(MessageTimeout=120)
    configure(h, ConnectionTimeOut=30)
    card(h, "TAG1")
    a = h.take("Authorize")
    h.advance(answer_after)
    h.reply(a, ACCEPTED)
    if started:
        expect_status(h, 1, "Preparing")
        plug(h)
        start_confs(h, 1, 9)
    else:
        h.no_call()
        assert h.station.connector(1).status.value == "Available"
        plug(h)
        expect_status(h, 1, "Preparing")  # no authorized idTag waits: no StartTransaction
        h.no_call()
    assert _cache(h, "TAG1") == {"status": "Accepted"}  # the answer still updates the cache


@pytest.mark.parametrize("registration", ["Pending", "Rejected"])
def test_station_never_accepted_refuses_charging(registration):
    """A station never Accepted by a CSMS lets nobody charge, even with AllowOfflineTxForUnknownId=true (spec §2.7:
    deny charging before the first Accepted boot): no Authorize.req (only BootNotification may go before Accepted),
    no relay, no StartTransaction, then or after the registration is Accepted."""
    h = CoreHarness(AllowOfflineTxForUnknownId=True, LocalAuthorizeOffline=True, HeartbeatInterval=0)
    h.start()
    h.reply(h.take("BootNotification"), h.boot_conf(registration, interval=30))
    plug(h)
    card(h, "TAG1")
    h.no_call()
    assert h.station.connector(1).status.value == "Preparing"
    assert not h.hardware.connectors[1].relay_closed
    assert len(h.station.tx_queue) == 0
    h.advance(10)
    h.no_call()
    h.advance(20)
    h.reply(h.take("BootNotification"), h.boot_conf("Accepted", interval=0))
    assert [sn(h.respond("StatusNotification", {})) for _ in range(2)] == [
        (0, "Available", "NoError"), (1, "Preparing", "NoError")]
    h.no_call()
    assert not h.hardware.connectors[1].relay_closed


def test_station_never_accepted_and_never_connected_refuses_charging():
    """Powered on with no link at all, never Accepted: a card does not start a transaction (spec §2.7)."""
    h = CoreHarness(AllowOfflineTxForUnknownId=True)
    h.start(connect=False)
    plug(h)
    card(h, "TAG1")
    assert h.station.connector(1).status.value == "Preparing"
    assert not h.hardware.connectors[1].relay_closed
    assert len(h.station.tx_queue) == 0


@pytest.mark.parametrize("registration", ["Pending", "Rejected"])
def test_station_accepted_before_uses_the_offline_rules_while_pending_or_rejected(registration):
    """Accepted once (in an earlier boot), then Pending or Rejected: the offline rules decide (spec §2.7), so an
    unknown idTag charges with AllowOfflineTxForUnknownId=true; the StartTransaction goes once Accepted."""
    store = MemoryStore()
    booted(store=store)
    h = CoreHarness(store=store, AllowOfflineTxForUnknownId=True, HeartbeatInterval=0, MeterValueSampleInterval=0)
    h.start()
    h.reply(h.take("BootNotification"), h.boot_conf(registration, interval=60))
    plug(h)
    card(h, "TAG1")
    h.no_call()
    assert h.station.connector(1).status.value == "Charging"
    assert h.hardware.connectors[1].relay_closed
    h.advance(60)
    h.reply(h.take("BootNotification"), h.boot_conf("Accepted", interval=0))
    assert [sn(h.respond("StatusNotification", {})) for _ in range(2)] == [
        (0, "Available", "NoError"), (1, "Charging", "NoError")]
    start = h.respond("StartTransaction", {"transactionId": 5, "idTagInfo": {"status": "Accepted"}})
    assert start.payload["idTag"] == "TAG1"
    h.no_call()


# -- the offline rules: every combination of the two keys, for every kind of idTag --------------------------------

OFFLINE_KINDS = ["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx", "expired by time", "unknown"]
# which kinds charge offline, per (LocalAuthorizeOffline, AllowOfflineTxForUnknownId)
OFFLINE_CHARGES = {
    (True, False): {"Accepted", "ConcurrentTx"},
    (True, True): {"Accepted", "ConcurrentTx", "unknown"},
    (False, False): set(),
    # the cache authorizes nothing offline: a valid cached idTag is as good as unknown ([SPEC] §3.5.4)
    (False, True): {"Accepted", "ConcurrentTx", "unknown"},
}


def _learn(h, tag, kind):
    """Put ``tag`` in the cache the way the station learns it: an Authorize.conf with that status."""
    if kind == "unknown":
        return
    card(h, tag)
    if kind == "expired by time":
        h.respond("Authorize", {"idTagInfo": {"status": "Accepted", "expiryDate": "2026-01-01T00:10:00.000Z"}})
    else:
        h.respond("Authorize", {"idTagInfo": {"status": kind}})
    if kind in ("Accepted", "expired by time"):
        expect_status(h, 1, "Preparing")
        card(h, tag)  # the same card again cancels
        expect_status(h, 1, "Available")
    h.no_call()
    assert _cache(h, tag)["status"] == ("Accepted" if kind == "expired by time" else kind)


@pytest.mark.parametrize("kind", OFFLINE_KINDS)
@pytest.mark.parametrize("local_offline, unknown_offline", list(OFFLINE_CHARGES))
def test_offline_authorization_matrix(local_offline, unknown_offline, kind):
    """Offline, a card starts a transaction or not by LocalAuthorizeOffline x AllowOfflineTxForUnknownId and what
    the cache holds ([SPEC] §3.5.4; spec §2.7): an idTag known as not valid (Blocked, Expired, Invalid, or Accepted
    past its expiryDate) is always refused; a valid one (Accepted, and ConcurrentTx, which [SPEC] §3.5.2 counts as
    valid) charges with LocalAuthorizeOffline, and without it counts as unknown, like a never-seen idTag that
    charges only with AllowOfflineTxForUnknownId."""
    h = booted(MeterValueSampleInterval=0)
    configure(h, AuthorizationCacheEnabled=True, LocalAuthorizeOffline=local_offline,
              AllowOfflineTxForUnknownId=unknown_offline)
    _learn(h, "TAG1", kind)
    h.advance(3600)  # an expiryDate of 00:10 is past
    h.disconnect()
    plug(h)
    card(h, "TAG1")
    charges = kind in OFFLINE_CHARGES[(local_offline, unknown_offline)]
    assert h.station.connector(1).status.value == ("Charging" if charges else "Preparing")
    assert h.hardware.connectors[1].relay_closed is charges
    assert [m.action for m in h.station.tx_queue] == (["StartTransaction"] if charges else [])


def test_cached_concurrent_tx_is_not_pre_authorized_online():
    """Online, a cached ConcurrentTx is asked again with Authorize.req even with LocalPreAuthorize: only the CSMS
    knows whether the other transaction has ended ([SPEC] §3.5.1: a not-Accepted entry is checked online)."""
    h = booted(LocalPreAuthorize=True)
    _learn(h, "TAG1", "ConcurrentTx")
    card(h, "TAG1")
    assert h.respond("Authorize", ACCEPTED).payload == {"idTag": "TAG1"}
    expect_status(h, 1, "Preparing")
    h.no_call()
