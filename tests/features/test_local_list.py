"""Local Authorization List Management at core level ([SPEC] §3.5.2, §5.10, §5.15, §6.41, §7.47; OCTT TC_042, TC_043;
update semantics and authorization precedence by stepping `now`)."""

import pytest
from charging import ACCEPTED, booted, card, configure, expect_status

from ocpp_station.features.local_list import LocalAuthList
from ocpp_station.store import MemoryStore
from ocpp_station.store.sqlite import SqliteStore


def entry(tag, status="Accepted", **info):
    return {"idTag": tag, "idTagInfo": {"status": status, **info}}


def send(h, version, update_type="Full", entries=None):
    payload = {"listVersion": version, "updateType": update_type}
    if entries is not None:
        payload["localAuthorizationList"] = entries
    return h.csms_conf("SendLocalList", payload)["status"]


def version(h):
    return h.csms_conf("GetLocalListVersion", {})["listVersion"]


def lst(h) -> LocalAuthList:
    return h.station.feature["LocalAuthList"]


def test_empty_list_reports_version_0_even_after_a_full_update_without_entries():
    h = booted()
    assert version(h) == 0
    assert send(h, 1, "Full") == "Accepted"
    assert version(h) == 0  # TC_042_2: empty list => 0


def test_full_and_differential_updates():
    h = booted()
    assert send(h, 1, "Full", [entry("AAA"), entry("BBB", "Blocked")]) == "Accepted"
    assert version(h) == 1
    assert send(h, 2, "Differential", [entry("CCC"), {"idTag": "AAA"}, entry("bbb")]) == "Accepted"
    assert version(h) == 2
    listing = lst(h).listing()
    assert [e["idTag"] for e in listing["entries"]] == ["bbb", "CCC"]
    assert listing["entries"][0]["idTagInfo"] == {"status": "Accepted"}
    assert send(h, 3, "Full", [entry("DDD")]) == "Accepted"
    assert [e["idTag"] for e in lst(h).listing()["entries"]] == ["DDD"]


def test_differential_with_empty_list_changes_nothing_but_the_version():
    h = booted()
    send(h, 1, "Full", [entry("AAA")])
    assert send(h, 2, "Differential", []) == "Accepted"
    assert version(h) == 2
    assert len(lst(h).entries) == 1


def test_version_mismatch_only_for_a_differential_not_newer():
    h = booted()
    assert send(h, 2, "Full", [entry("AAA")]) == "Accepted"
    assert version(h) == 2
    assert send(h, 5, "Full", [entry("AAA")]) == "Accepted"
    assert version(h) == 5
    assert send(h, 4, "Differential", [entry("BBB")]) == "VersionMismatch"
    assert send(h, 5, "Differential", [entry("BBB")]) == "VersionMismatch"
    assert version(h) == 5
    assert "BBB" not in lst(h).entries
    assert send(h, 3, "Full", [entry("CCC")]) == "Accepted"  # Full takes any version (TC_043_2)
    assert version(h) == 3


@pytest.mark.parametrize(
    "update_type, entries, keys",
    [
        ("Full", [entry("AAA"), entry("aaa")], {}),  # [SPEC] §6.41: idTags unique (case-insensitive CiString20)
        ("Full", [entry("AAA"), {"idTag": "BBB"}], {}),  # a Full entry needs its idTagInfo
        ("Full", [entry(f"T{i}") for i in range(4)], {"SendLocalListMaxLength": "3"}),
        ("Differential", [entry(f"T{i}") for i in range(3)], {"LocalAuthListMaxLength": "3"}),
    ],
    ids=["duplicate", "full-without-info", "over-send-max", "over-list-max"],
)
def test_failed_updates_keep_the_old_list_and_version(update_type, entries, keys):
    h = booted(**keys)
    send(h, 1, "Full", [entry("OLD")])
    assert send(h, 2, update_type, entries) == "Failed"
    assert version(h) == 1
    assert list(lst(h).entries) == ["OLD"]


def test_removing_an_absent_idtag_is_accepted_and_changes_nothing():
    h = booted()
    send(h, 1, "Full", [entry("AAA")])
    assert send(h, 2, "Differential", [{"idTag": "ZZZ"}]) == "Accepted"
    assert list(lst(h).entries) == ["AAA"]


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_a_store_failure_is_failed_and_leaves_nothing_half_written(tmp_path, store_kind):
    """TC_043_3: storage fails mid-update (forced): Failed, the old entries and version stay, in the store too."""
    store = MemoryStore() if store_kind == "memory" else SqliteStore(tmp_path / "s.sqlite")
    h = booted(store=store)
    send(h, 1, "Full", [entry("OLD1"), entry("OLD2")])
    lst(h).fail_next_update = True
    assert send(h, 2, "Full", [entry("NEW")]) == "Failed"
    assert version(h) == 1
    assert sorted(store.items("local_list")) == ["OLD1", "OLD2"]
    assert store.get("local_list_meta", "version") == 1
    assert send(h, 3, "Full", [entry("NEW")]) == "Accepted"  # the next one goes through


def test_list_and_version_survive_a_restart(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite")
    h = booted(store=store)
    send(h, 7, "Full", [entry("AAA", "Blocked", parentIdTag="P1")])
    store.close()
    h2 = booted(store=SqliteStore(tmp_path / "s.sqlite"))
    assert version(h2) == 7
    assert lst(h2).lookup("aaa", h2.now) == {"status": "Blocked", "parentIdTag": "P1"}


def test_disabled_list_reports_minus_one_and_refuses_updates():
    h = booted(LocalAuthListEnabled=False)
    assert version(h) == -1  # [SPEC] §5.10, TC_042_1
    assert send(h, 1, "Full", [entry("AAA")]) == "NotSupported"


# -- the list in authorization ----------------------------------------------------------------------


def test_tc_008_listed_id_starts_without_authorize_when_local_pre_authorize():
    h = booted(LocalPreAuthorize=True, AuthorizationCacheEnabled=False)
    send(h, 1, "Full", [entry("LISTED")])
    card(h, "listed")
    expect_status(h, 1, "Preparing")
    h.no_call()  # TC_008: no Authorize.req


def test_without_local_pre_authorize_a_listed_id_is_still_authorized_online():
    h = booted(LocalPreAuthorize=False)
    send(h, 1, "Full", [entry("LISTED")])
    card(h, "LISTED")
    h.take("Authorize")


def test_list_wins_over_cache_and_listed_ids_never_enter_the_cache():
    h = booted(LocalPreAuthorize=True)
    send(h, 1, "Full", [entry("TAG1", "Blocked")])
    h.station.store.put("auth_cache", "TAG1", {"status": "Accepted"})
    h.disconnect()
    card(h, "TAG1")  # offline: the list says Blocked, the cache Accepted: the list wins
    h.no_call()
    assert h.station.connector(1).status.value == "Available"


def test_offline_listed_entries_follow_local_authorize_offline_and_expiry():
    h = booted(LocalAuthorizeOffline=True, AllowOfflineTxForUnknownId=True, AuthorizationCacheEnabled=False)
    send(h, 1, "Full", [
        entry("GOOD"),
        entry("OLD", expiryDate="2020-01-01T00:00:00Z"),
        entry("BAD", "Invalid"),
    ])
    h.disconnect()
    card(h, "OLD")  # expired by time: refused even with AllowOfflineTxForUnknownId ([SPEC] §3.5.4)
    assert h.station.connector(1).status.value == "Available"
    card(h, "BAD")
    assert h.station.connector(1).status.value == "Available"
    card(h, "GOOD")
    assert h.station.connector(1).status.value == "Preparing"


def test_csms_answer_contradicting_the_list_keeps_the_list_and_reports_local_list_conflict():
    h = booted(LocalPreAuthorize=False)
    send(h, 1, "Full", [entry("TAG1")])
    card(h, "TAG1")
    h.respond("Authorize", {"idTagInfo": {"status": "Blocked"}})
    sn = h.take("StatusNotification")
    assert sn.payload["connectorId"] == 0
    assert sn.payload["errorCode"] == "LocalListConflict"
    assert lst(h).lookup("TAG1", h.now) == {"status": "Accepted"}
    assert h.station.feature["Authorization"].cached("TAG1") is None


def test_ten_thousand_entries_load_and_look_up(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite")
    h = booted(store=store, SendLocalListMaxLength="5000")
    assert send(h, 1, "Full", [entry(f"TAG{i:05d}") for i in range(5_000)]) == "Accepted"
    assert send(h, 2, "Differential", [entry(f"TAG{i:05d}") for i in range(5_000, 10_000)]) == "Accepted"
    h2 = booted(store=SqliteStore(tmp_path / "s.sqlite"))
    assert version(h2) == 2
    assert len(lst(h2).entries) == 10_000
    assert lst(h2).lookup("tag09999", h2.now) == {"status": "Accepted"}
