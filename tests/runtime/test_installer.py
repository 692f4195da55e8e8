"""runtime/installer.py: the simulated installer (empty file, manifest, any other image) and the command
installer (exit status, firmwareVersion= line, output to the log, the timeout)."""

from __future__ import annotations

import logging
import sys

from ocpp_station.csms.files import manifest
from ocpp_station.runtime.installer import InstallerSettings, install


async def test_simulated_refuses_an_empty_file(tmp_path):
    f = tmp_path / "fw.bin"
    f.write_bytes(b"")
    r = await install(InstallerSettings(), f)
    assert (r.ok, r.error) == (False, "the firmware file is empty")


async def test_simulated_takes_the_version_of_a_manifest_and_honours_installable_false(tmp_path):
    f = tmp_path / "fw.json"
    f.write_bytes(manifest("2.0.1"))
    r = await install(InstallerSettings(), f)
    assert (r.ok, r.version) == (True, "2.0.1")
    f.write_bytes(manifest("2.0.2", installable=False))
    r = await install(InstallerSettings(), f)
    assert not r.ok and "2.0.2 refused" in r.error


async def test_simulated_installs_any_other_image_with_the_version_unchanged(tmp_path):
    f = tmp_path / "fw.bin"
    f.write_bytes(b"\x7fELF" + b"\0" * 1000)
    r = await install(InstallerSettings(), f)
    assert (r.ok, r.version) == (True, None)


async def test_command_exit_status_and_version_line_and_log(tmp_path, caplog):
    script = tmp_path / "inst.py"
    script.write_text("import sys\nprint('checking', sys.argv[1])\nprint('firmwareVersion=9.1')\n"
                      "sys.exit(int(open(sys.argv[1]).read()))\n")
    f = tmp_path / "fw.bin"
    f.write_text("0")
    caplog.set_level(logging.INFO, "ocpp_station.runtime.installer")
    r = await install(InstallerSettings("command", [sys.executable, str(script)], 10), f)
    assert (r.ok, r.version) == (True, "9.1")
    assert f"installer: checking {f}" in caplog.text
    f.write_text("3")
    r = await install(InstallerSettings("command", [sys.executable, str(script)], 10), f)
    assert (r.ok, r.error) == (False, "installer exited with status 3")


async def test_command_timeout_kills_the_program(tmp_path):
    f = tmp_path / "fw.bin"
    f.write_text("x")
    r = await install(InstallerSettings("command", [sys.executable, "-c", "import time; time.sleep(30)"], 0.5), f)
    assert not r.ok and "killed" in r.error


async def test_command_that_cannot_run(tmp_path):
    f = tmp_path / "fw.bin"
    f.write_text("x")
    r = await install(InstallerSettings("command", [str(tmp_path / "nope")], 5), f)
    assert not r.ok and r.error.startswith("cannot run")
