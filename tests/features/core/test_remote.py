"""RemoteStartTransaction / RemoteStopTransaction at core level ([SPEC] §5.11, §5.12; [ERRATA] 3.32, 3.33, 3.77/3.89;
spec §2.3). OCTT cases TC_010, TC_011_1, TC_011_2, TC_012, TC_026, TC_027, TC_028."""

import pytest
from charging import (
    ACCEPTED, booted, card, configure, expect_status, plug, run, start_charging, start_confs, stop_confs, unplug,
)


def _artr(h) -> bool:
    """The OCTT reads AuthorizeRemoteTxRequests first to know whether an Authorize.req is due."""
    conf = h.csms_conf("GetConfiguration", {"key": ["AuthorizeRemoteTxRequests"]})
    return conf["configurationKey"][0]["value"] == "true"


@pytest.mark.parametrize("artr", [True, False])
def test_tc_010_cs_remote_start_cable_plugged_in_first(artr):
    """TC_010_CS Remote Start - Cable Plugged in First: Preparing; RemoteStart Accepted; Authorize.req only if
    AuthorizeRemoteTxRequests=true; StartTransaction with the remote idTag + Charging ([SPEC] §5.11)."""
    h = booted()
    configure(h, AuthorizeRemoteTxRequests=artr)
    assert _artr(h) is artr
    plug(h)
    expect_status(h, 1, "Preparing")
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE1"}) == {"status": "Accepted"}
    if artr:
        assert h.respond("Authorize", ACCEPTED).payload == {"idTag": "REMOTE1"}
    got = start_confs(h, 1, 21)
    assert got["StartTransaction"].payload["idTag"] == "REMOTE1"
    h.no_call()
    assert sum(c.action == "Authorize" for c in h.log) == (1 if artr else 0)


@pytest.mark.parametrize("artr", [True, False])
def test_tc_011_1_cs_remote_start_remote_start_first(artr):
    """TC_011_1_CS Remote Start - Remote Start First: Accepted, [Authorize], Preparing before the cable;
    plug -> StartTransaction + Charging ([SPEC] §5.11; spec §2.3)."""
    h = booted()
    configure(h, AuthorizeRemoteTxRequests=artr)
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE1"}) == {"status": "Accepted"}
    if artr:
        h.respond("Authorize", ACCEPTED)
    expect_status(h, 1, "Preparing")
    h.no_call()
    h.advance(10)
    plug(h)
    got = start_confs(h, 1, 22)
    assert got["StartTransaction"].payload["idTag"] == "REMOTE1"
    h.no_call()


def test_tc_011_2_cs_remote_start_time_out():
    """TC_011_2_CS Remote Start - Time Out: Accepted, [Authorize], Preparing; no cable within ConnectionTimeOut
    -> Available exactly at the timeout ([ERRATA] 3.77/3.89; spec §2.3 RemoteStartTransaction)."""
    h = booted()
    configure(h, ConnectionTimeOut=25)
    artr = _artr(h)
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE1"}) == {"status": "Accepted"}
    if artr:
        h.respond("Authorize", ACCEPTED)
    prep = expect_status(h, 1, "Preparing")
    h.advance(24.999)
    h.no_call()
    h.advance(0.001)
    avail = expect_status(h, 1, "Available")
    assert avail.at - prep.at == 25
    h.no_call()


def test_tc_012_cs_remote_stop_charging_session():
    """TC_012_CS Remote Stop Charging Session: RemoteStop(current transactionId) Accepted; StopTransaction(Remote)
    + Finishing in either order; the socket is unlocked ([SPEC] §5.12; [ERRATA] 3.33)."""
    h = booted()
    start_charging(h, tx_id=31)
    run(h, 45)
    h.no_call()
    assert h.csms_conf("RemoteStopTransaction", {"transactionId": 31}) == {"status": "Accepted"}
    stop = stop_confs(h, 1, "Remote")
    assert stop.payload["transactionId"] == 31 and "idTag" not in stop.payload
    assert stop.payload["meterStop"] == int(h.hardware.read(1, h.now).energy_wh)
    h.no_call()
    unplug(h)
    expect_status(h, 1, "Available")


def test_remote_stop_unlocks_socket():
    """Remote stop (TC_012_CS family) on a socket station: the cable is unlocked by the remote stop ([ERRATA] 3.33)."""
    from charging import socket

    h = booted(socket())
    start_charging(h, tx_id=32)
    assert h.hardware.connectors[1].locked
    assert h.csms_conf("RemoteStopTransaction", {"transactionId": 32}) == {"status": "Accepted"}
    stop_confs(h, 1, "Remote")
    assert not h.hardware.connectors[1].locked
    unplug(h, side="both")
    expect_status(h, 1, "Available")


def test_tc_026_cs_remote_start_rejected():
    """TC_026_CS Remote Start - Rejected: LocalPreAuthorize=false, a transaction runs on the connector:
    RemoteStartTransaction.conf Rejected, nothing else sent ([SPEC] §5.11)."""
    h = booted()
    configure(h, LocalPreAuthorize=False)
    start_charging(h)
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "OTHER"}) == {"status": "Rejected"}
    h.no_call()


def test_tc_027_cs_remote_start_connector_id_zero():
    """TC_027_CS Remote start - connector id shall not be 0: Rejected, nothing else sent ([SPEC] §5.11)."""
    h = booted()
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 0, "idTag": "REMOTE1"}) == {"status": "Rejected"}
    h.advance(5)
    h.no_call()


def test_tc_028_cs_remote_stop_transaction_rejected():
    """TC_028_CS Remote Stop Transaction - Rejected: unknown transactionId -> Rejected; the running transaction
    is untouched (no StopTransaction) ([SPEC] §5.12; [ERRATA] 3.33)."""
    h = booted()
    start_charging(h, tx_id=40)
    assert h.csms_conf("RemoteStopTransaction", {"transactionId": 41}) == {"status": "Rejected"}
    h.no_call()
    run(h, 60)
    h.no_call()
    assert h.station.feature["Transactions"].cond[1].tx.transaction_id == 40
    assert all(c.action != "StopTransaction" for c in h.log)


def test_remote_start_without_connector_and_on_unavailable():
    """Without connectorId the station picks a free connector; an Unavailable connector is Rejected."""
    h = booted()
    assert h.csms_conf("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {"status": "Accepted"}
    expect_status(h, 1, "Unavailable")
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "R"}) == {"status": "Rejected"}
    assert h.csms_conf("RemoteStartTransaction", {"idTag": "R"}) == {"status": "Rejected"}
    assert h.csms_conf("ChangeAvailability", {"connectorId": 1, "type": "Operative"}) == {"status": "Accepted"}
    expect_status(h, 1, "Available")
    configure(h, AuthorizeRemoteTxRequests=False)
    assert h.csms_conf("RemoteStartTransaction", {"idTag": "R"}) == {"status": "Accepted"}
    expect_status(h, 1, "Preparing")
    card(h, "R")  # the driver may cancel the remote start with the same card
    expect_status(h, 1, "Available")
    h.no_call()


@pytest.mark.parametrize("answer_after, started", [(29.999, True), (30, False)])
def test_remote_start_authorization_decided_after_connection_timeout_is_ignored(answer_after, started):
    """With AuthorizeRemoteTxRequests, an Authorize.conf that comes once ConnectionTimeOut has passed since the
    RemoteStartTransaction is ignored, as for a card ([ERRATA] 3.77/3.89): no Preparing, no StartTransaction."""
    h = booted(MessageTimeout=120)
    configure(h, AuthorizeRemoteTxRequests=True, ConnectionTimeOut=30)
    assert h.csms_conf("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE1"}) == {"status": "Accepted"}
    a = h.take("Authorize")
    h.advance(answer_after)
    h.reply(a, ACCEPTED)
    if started:
        expect_status(h, 1, "Preparing")
        plug(h)
        assert start_confs(h, 1, 23)["StartTransaction"].payload["idTag"] == "REMOTE1"
    else:
        h.no_call()
        assert h.station.connector(1).status.value == "Available"
