"""``ocpp-station csms`` with its operator API and ``ocpp-station operator``, as real processes."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect

from .conftest import RawStation

CLI = [sys.executable, "-m", "ocpp_station"]
BOOT = {"chargePointVendor": "ACME", "chargePointModel": "Model-1"}


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _one_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# -- bad options: exit 2, one line naming the option -----------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--boot-interval", "-5"], "ocpp-station csms: argument --boot-interval: expected an integer of seconds "
                                    "from 0 to 2147483647, got '-5'"),
        (["--boot-interval", "1.5"], "ocpp-station csms: argument --boot-interval: expected an integer of seconds "
                                     "from 0 to 2147483647, got '1.5'"),
        (["--message-log", "-1"], "ocpp-station csms: argument --message-log: expected an integer from 0 to "
                                  "10000000, got '-1'"),
        (["--id-tag", "TAG1"], "ocpp-station csms: argument --id-tag: expected TAG=STATUS, TAG of 1 to 20 characters "
                               "and STATUS one of Accepted, Blocked, Expired, Invalid, ConcurrentTx, got 'TAG1'"),
        (["--operator-listen", "9001"], "ocpp-station: --operator-listen: expected HOST:PORT, got \"9001\" or 'off'"),
    ],
)
def test_csms_bad_option_exits_2_with_one_line(args, line) -> None:
    assert _one_line(run_cli("csms", "--port", "0", *args)) == line


def test_csms_bad_policy_file_names_the_field(tmp_path: Path) -> None:
    f = tmp_path / "policy.json"
    f.write_text('{"idTags": {"A": {"status": "Accepted", "expiryDate": "soon"}}}')
    assert _one_line(run_cli("csms", "--port", "0", "--policy", str(f))) == (
        f'ocpp-station: --policy: {f}: idTags.A.expiryDate: "soon" is not a "date-time"')
    f.write_text("{")
    assert _one_line(run_cli("csms", "--port", "0", "--policy", str(f))).startswith(
        f"ocpp-station: --policy: {f}: not valid JSON: ")
    assert _one_line(run_cli("csms", "--port", "0", "--policy", str(tmp_path / "none.json"))) == (
        f"ocpp-station: --policy: cannot read {str(tmp_path / 'none.json')!r}: No such file or directory")


def test_csms_host_that_cannot_be_bound_names_host() -> None:
    line = _one_line(run_cli("csms", "--host", "nosuchhost.invalid", "--port", "0", "--operator-listen", "off"))
    assert line.startswith("ocpp-station: --host: cannot listen on nosuchhost.invalid:0: "), line


def test_csms_operator_address_in_use() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        line = _one_line(run_cli("csms", "--port", "0", "--operator-listen", f"127.0.0.1:{port}"))
    assert line == f"ocpp-station: --operator-listen: address 127.0.0.1:{port} is in use"


def test_csms_both_addresses_in_use_names_the_port_first() -> None:
    with socket.create_server(("127.0.0.1", 0)) as ws_taken, socket.create_server(("127.0.0.1", 0)) as op_taken:
        port, op_port = ws_taken.getsockname()[1], op_taken.getsockname()[1]
        line = _one_line(run_cli("csms", "--port", str(port), "--operator-listen", f"127.0.0.1:{op_port}"))
    assert line == f"ocpp-station: --port: address 127.0.0.1:{port} is in use"


# -- a running csms and the operator command ----------------------------------------------------------


class CsmsProcess:
    def __init__(self, proc: asyncio.subprocess.Process, ws_url: str, operator_url: str | None) -> None:
        self.proc = proc
        self.ws_url = ws_url
        self.operator_url = operator_url

    async def operator(self, *args: str) -> tuple[int, str, str]:
        p = await asyncio.create_subprocess_exec(
            *CLI, "operator", "--url", self.operator_url or "", *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(p.communicate(), 30)
        assert p.returncode is not None
        return p.returncode, out.decode(), err.decode()


async def start_csms(*args: str) -> CsmsProcess:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "csms", "--port", "0", "--quiet", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    first = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
    m = re.fullmatch(r"CSMS listening on (ws://127\.0\.0\.1:\d+/ocpp)/<identity>\n", first)
    assert m, first
    operator = None
    if "off" not in args:
        second = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        m2 = re.fullmatch(r"Operator API on (http://127\.0\.0\.1:(\d+)/api)\n", second)
        assert m2 and int(m2.group(2)) > 0, second
        operator = m2.group(1)
    return CsmsProcess(proc, m.group(1), operator)


@pytest.fixture
async def running() -> AsyncIterator:
    procs: list[CsmsProcess] = []

    async def start(*args: str) -> CsmsProcess:
        c = await start_csms(*args)
        procs.append(c)
        return c

    yield start
    for c in procs:
        if c.proc.returncode is None:
            c.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(c.proc.communicate(), 10)
            assert c.proc.returncode == 0


async def test_csms_policy_options_and_operator_commands(running) -> None:
    csms = await running("--boot-status", "Pending", "--boot-interval", "7", "--id-tag", "TAG9=Blocked",
                         "--id-tag", "invalid01=Accepted")
    async with connect(f"{csms.ws_url}/CP1", subprotocols=["ocpp1.6"]) as ws:
        st = RawStation(ws)
        boot = (await st.call("BootNotification", BOOT))[2]
        assert (boot["status"], boot["interval"]) == ("Pending", 7)
        assert (await st.call("Authorize", {"idTag": "TAG9"}))[2] == {"idTagInfo": {"status": "Blocked"}}
        assert (await st.call("Authorize", {"idTag": "INVALID01"}))[2] == {"idTagInfo": {"status": "Accepted"}}
        assert (await st.call("Authorize", {"idTag": "BLOCKED01"}))[2] == {"idTagInfo": {"status": "Blocked"}}

        rc, out, err = await csms.operator("stations")
        assert (rc, err) == (0, "")
        (doc,) = json.loads(out)["stations"]
        assert (doc["identity"], doc["connected"], doc["registration"], doc["boot"]) == ("CP1", True, "Pending", BOOT)

        async def answer(payload=None, error=None):
            frame = await st.recv(timeout=15)
            await st.send([4, frame[1], *error] if error else [3, frame[1], payload])
            return frame

        answering = asyncio.create_task(answer({"status": "Accepted"}))
        rc, out, err = await csms.operator("call", "CP1", "TriggerMessage", '{"requestedMessage": "Heartbeat"}')
        assert (rc, err) == (0, "")
        assert json.loads(out) == {"messageId": "csms-1", "action": "TriggerMessage", "type": "CALLRESULT",
                                   "payload": {"status": "Accepted"}}
        assert (await answering)[2:] == ["TriggerMessage", {"requestedMessage": "Heartbeat"}]

        answering = asyncio.create_task(answer(error=["NotImplemented", "no", {}]))
        rc, out, err = await csms.operator("call", "CP1", "GetLocalListVersion")
        assert (rc, json.loads(out)["errorCode"], err) == (1, "NotImplemented", "")
        await answering

        rc, out, err = await csms.operator("call", "CP1", "Reset", '{"type": "Gentle"}')
        assert (rc, out) == (1, "")
        assert err.startswith("ocpp-station operator: HTTP 422: ") and err.endswith(" (field payload.type)\n")
        rc, out, err = await csms.operator("call", "NOPE", "ClearCache")
        assert (rc, err) == (1, "ocpp-station operator: HTTP 404: unknown station 'NOPE': it never connected "
                                "(field identity)\n")
        rc, out, err = await csms.operator("call", "CP1", "Reset", "{type")
        assert rc == 2 and err.startswith("ocpp-station operator: PAYLOAD: not valid JSON: ")

        rc, out, err = await csms.operator("messages", "CP1", "--action", "TriggerMessage")
        assert rc == 0
        msgs = json.loads(out)["messages"]
        assert [(m["from"], m["type"]) for m in msgs] == [("csms", "CALL"), ("station", "CALLRESULT")]

        rc, out, err = await csms.operator("id-tag", "TAG9", "Accepted", "--parent-id-tag", "FLEET")
        assert rc == 0 and json.loads(out)["idTags"]["TAG9"] == {"status": "Accepted", "parentIdTag": "FLEET"}
        assert (await st.call("Authorize", {"idTag": "tag9"}))[2] == {
            "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}}
        rc, out, err = await csms.operator("policy", '{"boot": {"status": "Accepted"}}')
        assert rc == 0 and json.loads(out)["boot"] == {"status": "Accepted", "interval": 7}
        assert (await st.call("BootNotification", BOOT))[2]["status"] == "Accepted"
        rc, out, err = await csms.operator("policy")
        assert rc == 0 and json.loads(out)["idTags"]["BLOCKED01"] == {"status": "Blocked"}


async def test_csms_policy_file_and_operator_off(running, tmp_path: Path) -> None:
    f = tmp_path / "policy.json"
    f.write_text(orjson.dumps({"boot": {"interval": 3}, "defaultIdTagInfo": "Invalid", "idTags": {"GOOD": "Accepted"}})
                 .decode())
    csms = await running("--policy", str(f), "--operator-listen", "off")
    assert csms.operator_url is None
    async with connect(f"{csms.ws_url}/CP1", subprotocols=["ocpp1.6"]) as ws:
        st = RawStation(ws)
        assert (await st.call("BootNotification", BOOT))[2]["interval"] == 3
        assert (await st.call("Authorize", {"idTag": "GOOD"}))[2] == {"idTagInfo": {"status": "Accepted"}}
        # idTags replaces the table: the test cards are not in it, the default answers them
        assert (await st.call("Authorize", {"idTag": "BLOCKED01"}))[2] == {"idTagInfo": {"status": "Invalid"}}


async def test_operator_cannot_reach_and_bad_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        r = run_cli("operator", "--url", f"http://127.0.0.1:{port}", "stations")
    assert r.returncode == 1 and r.stderr.startswith(f"ocpp-station operator: cannot reach http://127.0.0.1:{port}: ")
    assert len(r.stderr.splitlines()) == 1
    r = run_cli("operator", "stations", "--url", "ws://x")
    assert (r.returncode, r.stderr) == (2, "ocpp-station operator: --url: expected an http:// URL such as "
                                           "http://127.0.0.1:9001, got 'ws://x'\n")
