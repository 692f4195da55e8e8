"""The runtime side of Firmware Management: carries out the core's transfer commands and feeds back their results.

``DownloadFirmware`` -> :func:`transfer.download` into ``<data_dir>/firmware/<job>.bin`` -> ``FirmwareDownloaded``;
``InstallFirmware`` -> the configured installer (runtime/installer.py) -> ``FirmwareInstalled``;
``VerifyFirmware`` -> the SHA-256 of the whole file, checked against the signature with the signing
certificate's key -> ``FirmwareVerified``;
``DiscardFirmware`` -> the job's files are removed;
``UploadDiagnostics`` -> the archive (runtime/diagnostics.py) in ``<data_dir>/diagnostics/`` is built and
uploaded -> ``DiagnosticsUploaded``; with ``log_type`` SecurityLog the security log (its lines within the
window) is uploaded instead.

Each runs as a task of its own; a reboot or a power cut cancels them (the core, restarted on its store,
asks again for what is still to do).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

from ..core.commands import DiscardFirmware, DownloadFirmware, InstallFirmware, UploadDiagnostics, VerifyFirmware
from ..core.events import DiagnosticsUploaded, FirmwareDownloaded, FirmwareInstalled, FirmwareVerified
from ..features.security import certificates as certs
from .diagnostics import LogRing, build_archive, build_security_log
from .installer import InstallerSettings, install
from .transfer import TransferError, TransferSettings, download, redact, upload, upload_target

log = logging.getLogger(__name__)

COMMANDS = (DownloadFirmware, InstallFirmware, DiscardFirmware, UploadDiagnostics, VerifyFirmware)


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
        elif isinstance(cmd, VerifyFirmware):
            coro = self._verify(cmd)
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

    async def _verify(self, cmd: VerifyFirmware) -> None:
        path = self.image(cmd.job)
        try:
            await asyncio.to_thread(verify_file, path, cmd.certificate, cmd.signature)
        except certs.CertificateError as exc:
            log.warning("firmware %s: signature check failed: %s", cmd.job, exc)
            self._feed(FirmwareVerified(cmd.job, False, str(exc)))
            return
        log.info("firmware %s: signature verified", cmd.job)
        self._feed(FirmwareVerified(cmd.job, True))

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
            if cmd.log_type == "SecurityLog":
                files = rt.station.feature["Security"].files
                size = await asyncio.to_thread(build_security_log, path, files.log_path, list(files.log_lines),
                                               cmd.start_time, cmd.stop_time)
            else:
                size = await asyncio.to_thread(
                    build_archive, path, rt.station, self.ring, getattr(rt.settings, "frame_log", None),
                    getattr(rt.settings, "frame_log_backups", 0), list(rt.frames.records), cmd.start_time,
                    cmd.stop_time,
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


def verify_file(path: Path, certificate: str, signature: str) -> None:
    """CertificateError unless ``signature`` (base64) signs the whole file at ``path`` (SHA-256) with the key of
    ``certificate`` ([SEC] L01.FR.04). Reads the file in chunks: an image of any size."""
    try:
        sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise certs.CertificateError("the signature is not base64") from None
    leaf = certs.load_chain(certificate)[0]
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1024 * 1024):
                h.update(chunk)
    except OSError as exc:
        raise certs.CertificateError(f"cannot read the firmware file: {exc.strerror or exc}") from None
    certs.verify_signature(leaf, h.digest(), sig)
