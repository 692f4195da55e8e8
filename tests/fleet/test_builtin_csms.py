"""The builtin CSMS subprocess never outlives the fleet process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")

SCRIPT = """
import sys, time
from ocpp_station.fleet.runner import BuiltinCsms
csms = BuiltinCsms()
csms.start()
print(csms.proc.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_builtin_csms_ends_when_the_fleet_process_is_killed():
    fleet = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        csms_pid = int(fleet.stdout.readline())
        assert _alive(csms_pid)
        os.kill(fleet.pid, signal.SIGKILL)
        fleet.wait(5)
        deadline = time.monotonic() + 10
        while _alive(csms_pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling a process that is not ours to wait on
        assert not _alive(csms_pid), "the builtin CSMS outlived the fleet"
    finally:
        fleet.kill()
        fleet.wait()
