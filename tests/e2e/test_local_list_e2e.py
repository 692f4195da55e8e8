"""Local Authorization List Management end to end (OCTT TC_008_1, TC_008_2, TC_042_1, TC_042_2, TC_043,
TC_043_1, TC_043_2, TC_043_3) with a real ``ocpp-station run`` process, websocket, SQLite file and control API."""

from __future__ import annotations

import pytest
from e2e_steps import SN, configure, split, status

from ocpp_station.csms.server import CallErrorReceived

CORE_ONLY = {"profiles": ["Core"]}


def full(version, *tags, status_="Accepted"):
    return {
        "listVersion": version,
        "updateType": "Full",
        "localAuthorizationList": [{"idTag": t, "idTagInfo": {"status": status_}} for t in tags],
    }


async def _start_without_authorize(st, link, tag):
    """Present a listed id: Preparing with no Authorize.req, then plug: StartTransaction + Charging."""
    await st.card(tag)
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")  # expect() fails on an Authorize first
    await st.plug_in()
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    assert got["StartTransaction"].payload["idTag"] == tag
    assert status(got[SN]) == (1, "Charging", "NoError")


async def test_tc_008_1_cs_start_local_id_in_local_authorization_list_e2e(booted):
    """TC_008_1_CS: LocalPreAuthorize=true, AuthorizationCacheEnabled=false, LocalAuthListEnabled=true;
    GetLocalListVersion, SendLocalList Accepted; the listed id gives Preparing with no Authorize.req."""
    st, link = await booted()
    await configure(link, LocalPreAuthorize=True, AuthorizationCacheEnabled=False, LocalAuthListEnabled=True)
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": 0}
    assert await link.call("SendLocalList", full(1, "LISTED01")) == {"status": "Accepted"}
    await _start_without_authorize(st, link, "LISTED01")
    assert await st.stop() == 0


async def test_tc_008_2_cs_start_remote_id_in_local_authorization_list_e2e(booted):
    """TC_008_2_CS: as TC_008_1 with RemoteStartTransaction: no Authorize.req for the listed id."""
    st, link = await booted()
    await configure(link, LocalPreAuthorize=True, AuthorizationCacheEnabled=False, LocalAuthListEnabled=True,
                    AuthorizeRemoteTxRequests=True)
    assert await link.call("SendLocalList", full(1, "LISTED01")) == {"status": "Accepted"}
    assert await link.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "LISTED01"}) == {"status": "Accepted"}
    assert status(await link.expect(SN)) == (1, "Preparing", "NoError")
    await st.plug_in()
    got = split(await link.expect_unordered(["StartTransaction", SN]))
    assert got["StartTransaction"].payload["idTag"] == "LISTED01"
    assert await st.stop() == 0


async def test_tc_042_1_cs_get_local_list_version_not_supported_e2e(booted):
    """TC_042_1_CS: without the profile (or with LocalAuthListEnabled=false) listVersion is -1."""
    st, link = await booted(station=CORE_ONLY)
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": -1}
    assert await st.stop() == 0


async def test_tc_042_1_cs_get_local_list_version_disabled_e2e(booted):
    st, link = await booted()
    await configure(link, LocalAuthListEnabled=False)
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": -1}
    assert await st.stop() == 0


async def test_tc_042_2_cs_get_local_list_version_empty_e2e(booted):
    """TC_042_2_CS: SendLocalList(Full, v1, no list) Accepted; GetLocalListVersion 0."""
    st, link = await booted()
    assert await link.call("SendLocalList", {"listVersion": 1, "updateType": "Full"}) == {"status": "Accepted"}
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": 0}
    assert await st.stop() == 0


async def test_tc_043_cs_send_local_authorization_list_e2e(booted):
    """TC_043_CS: a Full then a Differential update, both Accepted; the control API shows the list."""
    st, link = await booted()
    assert await link.call("SendLocalList", full(1, "AAA", "BBB")) == {"status": "Accepted"}
    diff = {"listVersion": 2, "updateType": "Differential",
            "localAuthorizationList": [{"idTag": "CCC", "idTagInfo": {"status": "Blocked"}}, {"idTag": "AAA"}]}
    assert await link.call("SendLocalList", diff) == {"status": "Accepted"}
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": 2}
    listing = await st.ok("GET", "/api/local-list")
    assert listing["listVersion"] == 2
    assert [(e["idTag"], e["idTagInfo"]["status"]) for e in listing["entries"]] == [("BBB", "Accepted"), ("CCC", "Blocked")]
    assert (await st.state())["localList"] == {"enabled": True, "listVersion": 2, "size": 2}
    assert await st.stop() == 0


async def test_tc_043_1_cs_send_local_list_not_supported_e2e(booted):
    """TC_043_1_CS: a station without the profile answers CALLERROR NotSupported."""
    st, link = await booted(station=CORE_ONLY)
    with pytest.raises(CallErrorReceived) as exc:
        await link.call("SendLocalList", full(1, "AAA"))
    assert exc.value.code == "NotSupported"
    code, _ = await st.api("GET", "/api/local-list")
    assert code == 404
    assert await st.stop() == 0


async def test_tc_043_2_cs_send_local_list_version_mismatch_e2e(booted):
    """TC_043_2_CS: v2 -> 2; v5 -> 5; Differential v4 -> VersionMismatch, version stays 5."""
    st, link = await booted()
    assert await link.call("SendLocalList", full(2, "AAA")) == {"status": "Accepted"}
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": 2}
    assert await link.call("SendLocalList", full(5, "AAA")) == {"status": "Accepted"}
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": 5}
    diff = {"listVersion": 4, "updateType": "Differential", "localAuthorizationList": [{"idTag": "BBB", "idTagInfo": {"status": "Accepted"}}]}
    assert await link.call("SendLocalList", diff) == {"status": "VersionMismatch"}
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": 5}
    assert await st.stop() == 0


async def test_tc_043_3_cs_send_local_list_failed_e2e(booted):
    """TC_043_3_CS: the tester forces the store to fail (control API): Failed, the old list and version stay."""
    st, link = await booted()
    assert await link.call("SendLocalList", full(1, "OLD")) == {"status": "Accepted"}
    await st.ok("POST", "/api/local-list/fail-next", {})
    assert await link.call("SendLocalList", full(2, "NEW")) == {"status": "Failed"}
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": 1}
    assert [e["idTag"] for e in (await st.ok("GET", "/api/local-list"))["entries"]] == ["OLD"]
    assert await st.stop() == 0


async def test_local_list_survives_sigkill_e2e(csms, station_factory, tmp_path):
    """The list and its version are in the SQLite file: after kill -9 and a restart they are still there."""
    data = tmp_path / "data"
    st = await station_factory(data_dir=data)
    link = await csms.wait_connected(st.identity)
    await link.expect("BootNotification")
    await link.expect_unordered([SN, SN])
    assert await link.call("SendLocalList", full(3, "KEPT")) == {"status": "Accepted"}
    await st.kill()
    st2 = await station_factory(data_dir=data, config_name="again.toml")
    await link.expect("BootNotification")
    await link.expect_unordered([SN, SN])
    assert await link.call("GetLocalListVersion", {}) == {"listVersion": 3}
    assert [e["idTag"] for e in (await st2.ok("GET", "/api/local-list"))["entries"]] == ["KEPT"]
    assert await st2.stop() == 0
