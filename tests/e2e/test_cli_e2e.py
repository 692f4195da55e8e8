"""The command line of INTERFACE.md, end to end: real ``python -m ocpp_station`` processes."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

CLI = [sys.executable, "-m", "ocpp_station"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def stop_gracefully(proc: asyncio.subprocess.Process, sig: int) -> None:
    """SIGTERM/SIGINT: the process ends by itself with exit status 0."""
    proc.send_signal(sig)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, (err or b"").decode()


async def reap(proc: asyncio.subprocess.Process) -> None:
    """Whatever happened: the process is gone at the end of the test."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# -- --help ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, mentions",
    [
        ((), ["run", "demo", "csms", "--version"]),
        (("run",), ["--config", "--csms", "--identity", "--data-dir", "--control", "--log-level"]),
        (("demo",), ["--control", "--keep-running", "--speed", "--log-level"]),
        (("csms",), ["--host", "--port", "--boot-interval", "--quiet", "--log-level"]),
    ],
    ids=["main", "run", "demo", "csms"],
)
def test_cli_help(args, mentions):
    r = run_cli(*args, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: ocpp-station"), r.stdout
    for option in mentions:
        assert option in r.stdout, (option, r.stdout)
    assert r.stderr == ""


def _option_entries(help_text: str) -> dict[str, str]:
    """The options section of --help: option -> its help text on one line."""
    entries: dict[str, str] = {}
    current = None
    section = help_text.split("\noptions:\n", 1)[1]
    for line in section.splitlines():
        m = re.match(r"^  (-\S+)", line)
        if m:
            current = m.group(1).split(",")[0]
            entries[current] = line
        elif line.startswith("    ") and current is not None:
            entries[current] += " " + line.strip()
        else:
            current = None
    return {k: " ".join(v.split()) for k, v in entries.items()}


@pytest.mark.parametrize("command", ["run", "demo", "csms", "fleet", "keys"])
def test_cli_help_shows_every_default_and_one_log_level_default(command):
    r = run_cli(command, "--help")
    assert r.returncode == 0, r.stderr
    entries = _option_entries(r.stdout)
    required = {"fleet": {"--csms", "--count"}}.get(command, set())
    missing = [o for o, text in entries.items() if o != "-h" and o not in required and "(default: " not in text]
    assert missing == [], entries
    if command != "keys":
        assert entries["--log-level"].endswith("(default: INFO)"), entries["--log-level"]


@pytest.mark.parametrize("args", [(), ("run",)], ids=["main", "run"])
def test_cli_help_points_to_the_reference(args):
    r = run_cli(*args, "--help")
    assert "docs/reference.md" in " ".join(r.stdout.split())


def test_cli_keys_table_and_json(tmp_path):
    r = run_cli("keys")
    assert (r.returncode, r.stderr) == (0, "")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["KEY", "TYPE", "ACCESS", "DEFAULT", "NOTES"]
    assert ["HeartbeatInterval", "integer", "RW", "10", ">=", "0"] in [line.split() for line in lines]
    cfg = _write(tmp_path, "station.toml", "[hardware]\nconnectors = 2\nfixed_cable = false\n"
                 "[ocpp]\nHeartbeatInterval = 30\n")
    r = run_cli("keys", "--json", "--config", str(cfg))
    assert (r.returncode, r.stderr) == (0, "")
    rows = {row["key"]: row for row in __import__("json").loads(r.stdout)}
    assert len(rows) == len(lines) - 1
    assert rows["NumberOfConnectors"] == {"key": "NumberOfConnectors", "type": "integer", "access": "R",
                                          "default": "2", "profile": "Core"}
    assert rows["HeartbeatInterval"]["value"] == "30"
    assert rows["UnlockConnectorOnEVSideDisconnect"]["access"] == "RW"
    bad = _write(tmp_path, "bad.toml", "[ocpp]\nHeartbeatIntervall = 30\n")
    r = run_cli("keys", "--config", str(bad))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"ocpp-station: {bad}: ocpp.HeartbeatIntervall: unknown OCPP configuration key (did you mean HeartbeatInterval?)\n"


def test_cli_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("ocpp-station ")


# -- bad config file or option: exit 2, one line naming the file and the key -------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _one_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert r.stdout == ""
    return lines[0]


def test_cli_bad_config_wrong_type(tmp_path):
    cfg = _write(tmp_path, "station.toml", '[station]\nidentity = "CP1"\n[hardware]\nconnectors = "two"\n')
    line = _one_line(run_cli("run", "--config", str(cfg)))
    assert line == f'ocpp-station: {cfg}: hardware.connectors: expected an integer from 1 to 32, got "two"'


def test_cli_bad_config_unknown_key(tmp_path):
    cfg = _write(tmp_path, "station.toml", '[station]\nidentity = "CP1"\nfoo = 1\n')
    line = _one_line(run_cli("run", "--config", str(cfg)))
    assert line.startswith(f"ocpp-station: {cfg}: station.foo: unknown key"), line
    assert "identity" in line  # says what was expected


def test_cli_bad_config_unknown_ocpp_value(tmp_path):
    cfg = _write(tmp_path, "station.toml", '[ocpp]\nMeterValueSampleInterval = "x"\n')
    line = _one_line(run_cli("run", "--config", str(cfg)))
    assert line == f'ocpp-station: {cfg}: ocpp.MeterValueSampleInterval: expected an integer >= 0, got "x"'


def test_cli_bad_ca_file(tmp_path):
    cfg = _write(tmp_path, "station.toml", '[station]\ncsms_url = "wss://csms.example/ocpp"\nca_file = "ca.pem"\n')
    r = run_cli("run", "--config", str(cfg))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f'ocpp-station: {cfg}: station.ca_file: expected a readable PEM file of CA certificates, '
                        'got "ca.pem" (no such file)\n')


def test_cli_bad_config_invalid_toml(tmp_path):
    cfg = _write(tmp_path, "station.toml", "[station\nidentity =")
    line = _one_line(run_cli("run", "--config", str(cfg)))
    assert line.startswith(f"ocpp-station: {cfg}: invalid TOML: "), line
    assert "line 1" in line


def test_cli_bad_config_missing_file(tmp_path):
    cfg = tmp_path / "nope.toml"
    line = _one_line(run_cli("run", "--config", str(cfg)))
    assert line == f"ocpp-station: {cfg}: no such file"


@pytest.mark.parametrize("command", ["run", "demo"])
def test_cli_bad_control_option(tmp_path, command):
    extra = ["--data-dir", str(tmp_path / "d"), "--csms", "ws://127.0.0.1:1/ocpp"] if command == "run" else []
    line = _one_line(run_cli(command, "--control", "abc", *extra))
    assert line == 'ocpp-station: --control: expected HOST:PORT, got "abc"'


def test_cli_bad_csms_option(tmp_path):
    line = _one_line(run_cli("run", "--csms", "http://x", "--data-dir", str(tmp_path / "d")))
    assert line == 'ocpp-station: --csms: expected a ws:// or wss:// URL, got "http://x"'


def test_cli_unknown_command():
    line = _one_line(run_cli("bogus"))
    assert "invalid choice: 'bogus'" in line


# -- graceful stop ----------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_cli_run_signal_graceful_exit_0(csms, tmp_path, sig):
    """``run`` with options only (no config file): connects, boots; SIGTERM/SIGINT -> exit 0."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--csms", csms.url, "--identity", "CLI001", "--data-dir", str(tmp_path / "data"),
        "--control", f"127.0.0.1:{port}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        link = await csms.wait_connected("CLI001", timeout=15)
        await link.expect("BootNotification")
        await link.expect_unordered(["StatusNotification", "StatusNotification"])
        await stop_gracefully(proc, sig)
        await link.wait_disconnected()
        assert (tmp_path / "data").is_dir()
    finally:
        await reap(proc)


# -- data_dir ---------------------------------------------------------------------------------


async def test_cli_run_refuses_a_data_dir_in_use_by_another_station(csms, tmp_path):
    """Two processes on one store would send each other's queued transaction messages: the second ``run`` on
    a data_dir in use exits 2 with one line, and the first keeps running; once it is gone (even by SIGKILL,
    as a power cut) the data_dir is free again."""
    data = tmp_path / "data"
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "--csms", csms.url, "--identity", "CLI001", "--data-dir", str(data),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        link = await csms.wait_connected("CLI001", timeout=15)
        await link.expect("BootNotification")
        second = await asyncio.to_thread(run_cli, "run", "--csms", csms.url, "--identity", "CLI002",
                                         "--data-dir", str(data))
        assert second.returncode == 2
        assert second.stderr == (f"ocpp-station: --data-dir: {str(data)!r} is in use by another ocpp-station "
                                 "process (two stations on one store would send each other's transactions)\n")
        assert proc.returncode is None
        proc.kill()  # as a power cut
        await proc.wait()
        proc = await asyncio.create_subprocess_exec(
            *CLI, "run", "--csms", csms.url, "--identity", "CLI003", "--data-dir", str(data),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        link = await csms.wait_connected("CLI003", timeout=15)
        await link.expect("BootNotification")
        await stop_gracefully(proc, signal.SIGTERM)
    finally:
        await reap(proc)


def test_cli_run_data_dir_that_is_a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    cfg = _write(tmp_path, "station.toml", f'[station]\ndata_dir = "{f}"\n')
    r = run_cli("run", "--config", str(cfg))
    assert r.returncode == 2
    assert r.stderr.startswith(f"ocpp-station: {cfg}: station.data_dir: expected a writable directory for the "
                               f"station's store, got {str(f)!r} (")
    assert len(r.stderr.splitlines()) == 1


# -- the demo ---------------------------------------------------------------------------------


async def test_cli_demo_session(tmp_path):
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *CLI, "demo", "--speed", "4", "--control", f"127.0.0.1:{port}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 40)
    finally:
        await reap(proc)
    text = out.decode()
    assert proc.returncode == 0, (text, err.decode())
    steps = ("BootNotification", "ReserveNow", '"status":"Reserved"', "StartTransaction", "MeterValues",
             "StopTransaction", "Session done")
    for word in steps:
        assert word in text, (word, text)
    # in order
    positions = [text.index(w) for w in steps]
    assert positions == sorted(positions), text
    assert f"http://127.0.0.1:{port}/" in text
    assert '"reservationId":1' in text and "reservation 1 used." in text  # the reserved card's session


class _Lines:
    """The lines a process prints, awaited one condition at a time."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream
        self.seen: list[str] = []

    async def until(self, pattern: str, timeout: float = 20) -> str:
        async def scan() -> str:
            while True:
                raw = await self.stream.readline()
                assert raw, "the process ended; it printed:\n" + "".join(self.seen)
                line = raw.decode()
                self.seen.append(line)
                if re.search(pattern, line):
                    return line

        return await asyncio.wait_for(scan(), timeout)


async def test_cli_demo_power_cut_restarts_the_station_in_the_process(tmp_path):
    """In the demo a power cut from the page restarts the station on its store (BootNotification again,
    the open transaction stopped with PowerLoss); the dev CSMS and the page's server live on."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/api"
    proc = await asyncio.create_subprocess_exec(
        *CLI, "demo", "--speed", "10", "--keep-running", "--control", f"127.0.0.1:{port}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    out = _Lines(proc.stdout)
    try:
        await out.until(r"^Still running \(--keep-running\)", timeout=40)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/connectors/1/plug-in") as r:
                assert r.status == 200
            async with http.post(f"{base}/id-tag", json={"idTag": "04A2B3C4D5"}) as r:
                assert r.status == 200
            await out.until(r"CSMS → station  StartTransaction\.conf")
            async with http.post(f"{base}/power-cut", json={"backupPower": False}) as r:
                assert r.status == 200
            await out.until(r"station → CSMS  BootNotification ")
            stop = await out.until(r"station → CSMS  StopTransaction ")
            assert '"reason":"PowerLoss"' in stop, stop
            async with http.get(f"{base}/state") as r:  # the same process, the same page server
                assert r.status == 200
                doc = await r.json()
            assert doc["identity"] == "DEMO001"
        assert proc.returncode is None
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 10)
        assert proc.returncode == 0
    finally:
        await reap(proc)


@pytest.mark.parametrize("speed", ["0", "-1", "nan", "inf"])
def test_cli_demo_speed_must_be_positive(speed):
    r = run_cli("demo", "--speed", speed, "--control", "127.0.0.1:0")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"ocpp-station: --speed: expected a number > 0, got {float(speed):g}\n"


async def test_cli_demo_control_port_0_prints_the_port_bound_and_sigint_stops_it_at_once(tmp_path):
    """--control 127.0.0.1:0: the printed URLs carry the port the system chose (it answers); Ctrl-C in
    the middle of the session ends the demo at once with exit status 0."""
    proc = await asyncio.create_subprocess_exec(
        *CLI, "demo", "--speed", "1", "--control", "127.0.0.1:0",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    out = _Lines(proc.stdout)
    try:
        line = await out.until(r"^HMI page: ")
        port = int(re.match(r"HMI page: http://127\.0\.0\.1:(\d+)/ ", line).group(1))
        assert port != 0
        assert (await out.until(r"^Control API: ")) == f"Control API: http://127.0.0.1:{port}/api/state\n"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/api/state") as r:
                assert r.status == 200
                assert (await r.json())["identity"] == "DEMO001"
        await out.until(r"CSMS → station  StartTransaction\.conf")
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        proc.send_signal(signal.SIGINT)
        rest, err = await asyncio.wait_for(proc.communicate(), 10)
        elapsed = loop.time() - t0
        assert proc.returncode == 0, err.decode()
        assert elapsed < 3, elapsed  # not a stalled script waiting for its next frame (15 s)
        assert "Stopped before the end of the scripted session." in rest.decode()
        assert "stalled" not in err.decode()
    finally:
        await reap(proc)


@pytest.mark.parametrize("command", ["run", "demo"])
def test_cli_control_address_in_use(tmp_path, command):
    """Another program holds the control port: one line naming it, exit 2, before anything is printed."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        extra = ["--data-dir", str(tmp_path / "d"), "--csms", "ws://127.0.0.1:1/ocpp"] if command == "run" else []
        line = _one_line(run_cli(command, "--control", f"127.0.0.1:{port}", *extra))
    assert line == f"ocpp-station: --control: address 127.0.0.1:{port} is in use"


def test_cli_control_address_in_use_from_the_config_file(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        cfg = _write(tmp_path, "station.toml", f'[station]\nidentity = "CP1"\ndata_dir = "{tmp_path / "d"}"\n'
                     f'csms_url = "ws://127.0.0.1:1/ocpp"\n[control]\nlisten = "127.0.0.1:{port}"\n')
        line = _one_line(run_cli("run", "--config", str(cfg)))
    assert line == f"ocpp-station: {cfg}: control.listen: address 127.0.0.1:{port} is in use"


def test_cli_csms_port_in_use_and_out_of_range():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        r = run_cli("csms", "--port", str(port))
    assert (r.returncode, r.stderr) == (2, f"ocpp-station: --port: address 127.0.0.1:{port} is in use\n")
    r = run_cli("csms", "--port", "99999")
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1].endswith("argument --port: expected a port number from 0 to 65535, got '99999'")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_cli_csms_signal_graceful_exit_0(sig):
    proc = await asyncio.create_subprocess_exec(
        *CLI, "csms", "--port", "0", "--quiet",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert b"CSMS listening on ws://" in line
        await stop_gracefully(proc, sig)
    finally:
        await reap(proc)
