"""Firmware installers, chosen in the station file's ``[firmware]`` table.

``installer = "simulated"`` (the default) runs nothing: an empty file is refused (InstallationFailed);
a small JSON *manifest* (the dev CSMS's firmware files, see docs/firmware.md)::

    {"firmwareVersion": "2.0.1"}                          installed: the new version is 2.0.1
    {"firmwareVersion": "2.0.1", "installable": false}    refused: InstallationFailed

and any other non-empty file is installed with the version unchanged.

``installer = "command"`` runs the station maker's program ``command = ["/path/to/install", "--flag"]``
with the firmware file's path appended, at most ``install_timeout`` seconds. Exit status 0 means
Installed, anything else (or the time running out) InstallationFailed. Each line it writes goes to the
log; a line ``firmwareVersion=<version>`` names the new version. Only the program the owner configured
is ever run: nothing in the firmware file or from the CSMS chooses what is executed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST_MAX = 64 * 1024  # bytes: a file this small is looked at as a manifest


@dataclass(slots=True)
class InstallerSettings:
    kind: str = "simulated"  # "simulated" | "command"
    command: list[str] = field(default_factory=list)  # the program and its first arguments ("command")
    install_timeout: float = 300.0  # s the program may take


@dataclass(slots=True)
class InstallResult:
    ok: bool
    version: str | None = None  # the new firmwareVersion, when known
    error: str | None = None  # why not, for the log


def read_manifest(path: Path) -> dict | None:
    """The manifest in the file, or None when it is not one."""
    try:
        if path.stat().st_size > MANIFEST_MAX:
            return None
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("firmwareVersion"), str):
        return doc
    return None


async def install(settings: InstallerSettings, path: Path) -> InstallResult:
    if settings.kind == "command":
        return await _command(settings, path)
    return _simulated(path)


def _simulated(path: Path) -> InstallResult:
    try:
        size = path.stat().st_size
    except OSError as exc:
        return InstallResult(False, error=f"cannot read the firmware file: {exc.strerror or exc}")
    if size == 0:
        return InstallResult(False, error="the firmware file is empty")
    manifest = read_manifest(path)
    if manifest is None:
        return InstallResult(True)
    version = manifest["firmwareVersion"][:50]  # BootNotification.firmwareVersion is CiString50
    if manifest.get("installable", True) is False:
        return InstallResult(False, error=f"image {version} refused by the installer (manifest: installable false)")
    return InstallResult(True, version=version)


async def _command(settings: InstallerSettings, path: Path) -> InstallResult:
    argv = [*settings.command, str(path)]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL
        )
    except OSError as exc:
        return InstallResult(False, error=f"cannot run {settings.command[0]}: {exc.strerror or exc}")
    version: str | None = None

    async def read() -> None:
        nonlocal version
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            log.info("installer: %s", line)
            if line.startswith("firmwareVersion="):
                version = line.partition("=")[2].strip()[:50] or None

    try:
        async with asyncio.timeout(settings.install_timeout):
            await asyncio.gather(read(), proc.wait())
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return InstallResult(False, error=f"installer still running after {settings.install_timeout:g} s: killed")
    if proc.returncode != 0:
        return InstallResult(False, error=f"installer exited with status {proc.returncode}")
    return InstallResult(True, version=version)
