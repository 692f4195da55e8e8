"""Authorization at core level: Authorize.req, the authorization cache, ClearCache ([SPEC] §3.5, §4.1, §5.3;
[ERRATA] 3.4, 3.23; spec §2.3 Authorize/ClearCache). OCTT cases TC_007, TC_061, TC_023."""

from charging import (
    ACCEPTED, booted, card, configure, expect_status, plug, respond_unordered, run, start_charging, start_confs,
    unplug,
)

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


def test_tc_007_cs_start_charging_session_cached_id():
    """TC_007_CS Start Charging Session - Cached Id: AuthorizationCacheEnabled=true, LocalPreAuthorize=true, idTag
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


def test_tc_061_cs_clear_authorization_cache():
    """TC_061_CS Clear Authorization Data in Authorization Cache: Authorized -> Preparing, ConnectionTimeOut ->
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


def test_tc_023_cs_start_charging_session_authorize_invalid():
    """TC_023_CS Start Charging Session - Authorize invalid: MinimumStatusDuration=10, LocalPreAuthorize=true;
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
