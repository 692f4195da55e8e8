"""The runtime side of Firmware Management: carries out the core's transfer commands and feeds back their results.

``DownloadFirmware`` -> :func:`transfer.download` into ``<data_dir>/firmware/<job>.bin`` -> ``FirmwareDownloaded``;
``InstallFirmware`` -> the configured installer (runtime/installer.py) -> ``FirmwareInstalled``;
``DiscardFirmware`` -> the job's files are removed;
``UploadDiagnostics`` -> the archive (runtime/diagnostics.py) in ``<data_dir>/diagnostics/`` is built and
uploaded -> ``DiagnosticsUploaded``.

Each runs as a task of its own; a reboot or a power cut cancels them (the core, restarted on its store,
asks again for what is still to do).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

from ..core.commands import DiscardFirmware, DownloadFirmware, InstallFirmware, UploadDiagnostics
from ..core.events import DiagnosticsUploaded, FirmwareDownloaded, FirmwareInstalled
from .diagnostics import LogRing, build_archive
from .installer import InstallerSettings, install
from .transfer import TransferError, TransferSettings, download, redact, upload, upload_target

log = logging.getLogger(__name__)

COMMANDS = (DownloadFirmware, InstallFirmware, DiscardFirmware, UploadDiagnostics)


class FileJobs:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        s = runtime.settings
        data_dir = getattr(s, "data_dir", None)
        self._tmp: str | None = None
        if data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="ocpp-station-files-")
            data_dir = Path(self._tmp)
        self.firmware_dir = Path(data_dir) / "firmware"
        self.diagnostics_dir = Path(data_dir) / "diagnostics"
        ca = getattr(s, "ca_file", None)
        self.transfer = TransferSettings(
            timeout=getattr(s, "transfer_timeout", 30.0),
            http_upload=getattr(s, "http_upload", "PUT"),
            ssl_context=ssl.create_default_context(cafile=str(ca) if ca is not None else None),
        )
        self.installer = InstallerSettings(
            kind=getattr(s, "installer", "simulated"),
            command=list(getattr(s, "install_command", []) or []),
            install_timeout=getattr(s, "install_timeout", 300.0),
        )
        self.ring = LogRing()
        self.tasks: set[asyncio.Task] = set()
        self.progress: dict[str, Any] = {}  # job -> {"bytes": n, "total": t} of a download under way

    def attach(self) -> None:
        logging.getLogger().addHandler(self.ring)

    def close(self) -> None:
        logging.getLogger().removeHandler(self.ring)
        self.cancel()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def cancel(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        self.progress.clear()

    def handle(self, cmd: Any) -> None:
        if isinstance(cmd, DiscardFirmware):
            self._discard(cmd.job)
            return
        if isinstance(cmd, DownloadFirmware):
            coro = self._download(cmd)
        elif isinstance(cmd, InstallFirmware):
            coro = self._install(cmd)
        else:
            coro = self._upload(cmd)
        task = asyncio.get_running_loop().create_task(coro, name=type(cmd).__name__)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _feed(self, event: Any) -> None:
        self.rt.feed([event])

    def image(self, job: str) -> Path:
        return self.firmware_dir / f"{job}.bin"

    async def _download(self, cmd: DownloadFirmware) -> None:
        dest = self.image(cmd.job)
        if cmd.resume and dest.exists():
            self._feed(FirmwareDownloaded(cmd.job, True))  # complete before the restart
            return
        self._discard_others(cmd.job)

        def progress(got: int, total: int | None) -> None:
            self.progress[cmd.job] = {"bytes": got, "total": total}

        log.info("firmware %s: downloading %s%s", cmd.job, redact(cmd.location), " (resuming)" if cmd.resume else "")
        try:
            size = await download(cmd.location, dest, self.transfer, resume=True, progress=progress)
        except TransferError as exc:
            log.warning("firmware %s: download failed: %s", cmd.job, exc)
            self._feed(FirmwareDownloaded(cmd.job, False, str(exc)))
            return
        finally:
            self.progress.pop(cmd.job, None)
        log.info("firmware %s: downloaded %d bytes", cmd.job, size)
        self._feed(FirmwareDownloaded(cmd.job, True))

    async def _install(self, cmd: InstallFirmware) -> None:
        path = self.image(cmd.job)
        log.info("firmware %s: installing %s with the %s installer", cmd.job, path, self.installer.kind)
        result = await install(self.installer, path)
        if not result.ok:
            log.warning("firmware %s: installation failed: %s", cmd.job, result.error)
        self._feed(FirmwareInstalled(cmd.job, result.ok, result.version, result.error))

    def _discard(self, job: str) -> None:
        for p in (self.image(job), self.image(job).with_name(self.image(job).name + ".part")):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("firmware %s: cannot remove %s: %s", job, p, exc)

    def _discard_others(self, job: str) -> None:
        """Files of earlier jobs (replaced, or left by a crash) go before a new download takes the disk."""
        if not self.firmware_dir.is_dir():
            return
        for p in self.firmware_dir.iterdir():
            if not p.name.startswith(f"{job}."):
                p.unlink(missing_ok=True)

    async def _upload(self, cmd: UploadDiagnostics) -> None:
        path = self.diagnostics_dir / cmd.file_name
        rt = self.rt
        try:
            size = await asyncio.to_thread(
                build_archive, path, rt.station, self.ring, getattr(rt.settings, "frame_log", None),
                getattr(rt.settings, "frame_log_backups", 0), list(rt.frames.records), cmd.start_time, cmd.stop_time,
            )
        except OSError as exc:
            log.warning("diagnostics %s: cannot build the archive: %s", cmd.job, exc)
            self._feed(DiagnosticsUploaded(cmd.job, False, f"cannot build the archive: {exc}"))
            return
        target = upload_target(cmd.location, cmd.file_name)
        log.info("diagnostics %s: uploading %s (%d bytes) to %s", cmd.job, cmd.file_name, size, redact(target))
        try:
            await upload(cmd.location, cmd.file_name, path, self.transfer)
        except TransferError as exc:
            log.warning("diagnostics %s: upload failed: %s", cmd.job, exc)
            self._feed(DiagnosticsUploaded(cmd.job, False, str(exc)))
            return
        path.unlink(missing_ok=True)
        log.info("diagnostics %s: uploaded", cmd.job)
        self._feed(DiagnosticsUploaded(cmd.job, True))
