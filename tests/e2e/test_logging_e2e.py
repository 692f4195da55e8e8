"""``run``'s log at INFO: each session step, how links end and why attempts fail, and the frame log file.

A real station process; its stderr is read line by line."""

from __future__ import annotations

import re

import orjson

SESSION = r"INFO ocpp_station\.session: "


async def test_each_session_step_is_logged_at_info(csms, booted, tmp_path):
    csms.set_id_tag("INVALID01", "Invalid")
    frames = tmp_path / "frames.log"
    st, link = await booted(logging={"frame_log": str(frames)})

    await st.plug_in()
    await st.line(SESSION + r"connector 1: cable plugged in$")
    await st.line(SESSION + r"connector 1: Preparing$")

    await st.card("INVALID01")
    await st.line(SESSION + r"card INVALID01 presented$")
    await st.line(SESSION + r"card INVALID01: Invalid \(Authorize\)$")

    await st.card("04A2B3C4")
    await st.line(SESSION + r"card 04A2B3C4: Accepted \(Authorize\)$")
    await st.line(SESSION + r"connector 1: idTag 04A2B3C4 authorized$")
    start = await link.expect("StartTransaction", ignore=("StatusNotification", "Authorize"))
    tx = link.last_transaction_id
    await st.line(SESSION + rf"connector 1: transaction {tx} started for idTag 04A2B3C4 \(Accepted\), "
                  rf"meterStart {start.payload['meterStart']} Wh$")
    await st.line(SESSION + r"connector 1: Charging$")

    await st.card("04A2B3C4")
    stop = await link.expect("StopTransaction", ignore=("MeterValues", "StatusNotification", "Authorize"))
    await st.line(SESSION + rf"transaction {tx}: StopTransaction sent, reason Local, "
                  rf"meterStop {stop.payload['meterStop']} Wh$")
    await st.line(SESSION + rf"transaction {tx}: stop acknowledged by the CSMS$")
    await st.line(SESSION + r"connector 1: session of idTag 04A2B3C4 over$")
    await st.line(SESSION + r"connector 1: Finishing$")

    # the CSMS closes the link with a code and a reason: both are in the log, then the reconnect
    before = link.connections
    await csms.disconnect("CP001", code=1001, reason="maintenance")
    await st.line(r"INFO ocpp_station\.runtime\.app: disconnected from ws://127\.0\.0\.1:\d+/ocpp/CP001: "
                  r"closed by the CSMS, code 1001 \(going away\), reason 'maintenance'$")
    await st.line(r"INFO ocpp_station\.runtime\.app: reconnecting in \d+\.\d s$")
    await csms.wait_connected("CP001", after=before)

    # the control API drops the link
    before = link.connections
    await st.ok("POST", "/api/network/disconnect")
    await st.line(r"INFO ocpp_station\.runtime\.app: disconnected from ws://127\.0\.0\.1:\d+/ocpp/CP001: "
                  r"cut on purpose \(network down\), no close frame$")
    await st.ok("POST", "/api/network/connect")
    await csms.wait_connected("CP001", after=before)

    # a fault, as a warning
    await st.ok("POST", "/api/connectors/1/fault", {"errorCode": "GroundFailure", "info": "leak"})
    await st.line(r"WARNING ocpp_station\.session: connector 1: fault GroundFailure \(leak\)$")
    await st.line(r"WARNING ocpp_station\.session: connector 1: Faulted, GroundFailure \(leak\)$")
    assert await st.stop() == 0

    # the frame log holds every frame, in full, in order: "<time> <in|out> <frame>"
    lines = frames.read_text().splitlines()
    parsed = []
    for line in lines:
        m = re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (in|out) (\[.*\])$", line)
        assert m, line
        parsed.append((m.group(1), orjson.loads(m.group(2))))
    assert parsed[0][0] == "out" and parsed[0][1][2] == "BootNotification"
    starts = [f for d, f in parsed if d == "out" and f[0] == 2 and f[2] == "StartTransaction"]
    assert [f[3] for f in starts] == [start.payload]
    answer = next(f for d, f in parsed if d == "in" and f[0] == 3 and f[1] == starts[0][1])
    assert answer[2]["transactionId"] == tx


async def test_a_failed_connection_attempt_names_its_cause(station_factory, tmp_path):
    """Nothing listens at the CSMS URL: the warning says so instead of ending with an empty reason."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: the connection is refused
    st = await station_factory(station={"csms_url": f"ws://127.0.0.1:{port}/ocpp"})
    line = await st.line(r"WARNING ocpp_station\.runtime\.app: connection to ")
    assert line.rstrip("\n").endswith(
        f"connection to ws://127.0.0.1:{port}/ocpp/CP001 failed: connection refused (nothing listens on that "
        "host and port)"), line
    assert await st.stop() == 0
