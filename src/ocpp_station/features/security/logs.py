"""GetLog and LogStatusNotification ([SEC] N01, §5.7-5.8; digest §7.7): the security log or the diagnostics
archive, uploaded through the transfer path of Firmware Management (the ``UploadDiagnostics`` command with a
``log_type``, the ``DiagnosticsUploaded`` event).

GetLog is answered with the ``filename`` of the one file that will be uploaded to ``remoteLocation`` (a
directory: the file goes to ``remoteLocation/filename``), then, each with the GetLog's ``requestId``
(N01.FR.01-09)::

    Uploading       once; the runtime writes the file and uploads it
    Uploaded        the upload succeeded
    PermissionDenied  every attempt failed and the last one was refused (FTP login, HTTP 401/403)
    UploadFailure   every attempt failed otherwise (1 + ``retries``, as GetDiagnostics; the schema's
                    spelling, not the text's "UploadFailed": digest §10 item 16)

A location the station cannot use fails at once, without Uploading: ``NotSupportedOperation`` when its scheme
is not in SupportedFileTransferProtocols, ``BadMessage`` when it is no URL at all (no scheme or no host).
``Idle`` (without requestId, N01.FR.12) only in answer to ExtendedTriggerMessage when no upload runs.

A GetLog while an upload runs cancels it (its result is ignored) and is answered ``AcceptedCanceled``
(N01.FR.11). The job is persisted (namespace ``security_log``) before the conf goes out; after a restart the
upload is attempted again once Accepted. The security log never holds a key, a password or a certificate;
the diagnostics archive leaves AuthorizationKey out and holds no key file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from ...core.clock import iso
from ...core.commands import UploadDiagnostics
from ...core.events import DiagnosticsUploaded
from ...core.outbox import Request
from ..diagnostics import upload_request

log = logging.getLogger("ocpp_station.features.security")

NS = "security_log"
TIMER = "security.log_upload"
DEFAULT_RETRIES = 1  # re-tries when GetLog gives none (the charge point's choice)
DEFAULT_RETRY_INTERVAL = 30  # s
_SCHEMES = ("FTP", "FTPS", "HTTP", "HTTPS")  # what the transfer path speaks


@dataclass(slots=True)
class LogJob:
    job: str
    request_id: int
    log_type: str  # DiagnosticsLog | SecurityLog
    location: str
    file_name: str
    retries: int
    retry_interval: int
    start_time: float | None = None  # wall-clock epoch seconds (oldestTimestamp)
    stop_time: float | None = None  # (latestTimestamp)
    attempt: int = 0


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def failure_status(error: str | None) -> str:
    """The LogStatusNotification status of a failed upload: the most precise one (N01.FR.10)."""
    text = error or ""
    if "login refused" in text or re.search(r"HTTP 40[13]\b", text):
        return "PermissionDenied"
    return "UploadFailure"


class LogUploads:
    def __init__(self, owner: Any) -> None:
        self.owner = owner  # the Security feature
        self.station = owner.station
        self.job: LogJob | None = None
        self._resume = False
        self._counter = 0

    # -- lifecycle (called by the Security feature's hooks) ----------------------------------------

    def on_start(self, now: float) -> None:
        rec = self.station.store.get(NS, "job")
        if rec is not None:
            self.job = LogJob(**rec)
            self._resume = True

    def on_accepted(self, now: float) -> None:
        if self._resume and self.job is not None:
            self._resume = False
            log.info("log upload %s: attempted again after the restart", self.job.job)
            self._status("Uploading")
            self._attempt(now)

    def on_event(self, event: Any, now: float) -> None:
        job = self.job
        if not isinstance(event, DiagnosticsUploaded) or job is None or event.job != job.job:
            return  # GetDiagnostics' own uploads, or an upload cancelled since
        if event.ok:
            log.info("log upload %s: Uploaded %s", job.job, job.file_name)
            self.owner.events.log(now, f"{job.log_type} uploaded as {job.file_name} (requestId {job.request_id})")
            self._finish("Uploaded")
            return
        log.warning("log upload %s: attempt %s failed: %s", job.job, job.attempt, event.error)
        if job.attempt <= job.retries:
            self.station.timers.set(TIMER, now + job.retry_interval, self._attempt)
            return
        self._finish(failure_status(event.error))

    # -- GetLog ---------------------------------------------------------------------------------------

    def get_log(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        st = self.station
        spec = payload["log"]
        times, retries, interval = upload_request(payload, spec, ("oldestTimestamp", "latestTimestamp"))
        status = "Accepted"
        if self.job is not None:
            log.info("log upload %s cancelled by a new GetLog", self.job.job)
            st.timers.cancel(TIMER)
            status = "AcceptedCanceled"  # N01.FR.11
        self._counter += 1
        wall = st.clock.wall(now)
        stamp = iso(wall).replace("-", "").replace(":", "").split(".")[0] + "Z"
        kind = payload["logType"]
        name = (f"diagnostics-{_safe(st.settings.identity)}-{stamp}.zip" if kind == "DiagnosticsLog"
                else f"securitylog-{_safe(st.settings.identity)}-{stamp}.log")
        job = LogJob(
            job=f"log-{int(wall)}-{self._counter}",
            request_id=payload["requestId"],
            log_type=kind,
            location=spec["remoteLocation"],
            file_name=name,  # CiString255
            retries=DEFAULT_RETRIES if retries is None else retries,
            retry_interval=DEFAULT_RETRY_INTERVAL if interval is None else interval,
            start_time=times[0],
            stop_time=times[1],
        )
        parts = urlsplit(job.location)
        if not parts.scheme or not parts.netloc:
            self._refuse(job, "BadMessage", f"{job.location!r} is not a URL")
            return {"status": status, "filename": name}
        if parts.scheme.upper() not in {p.upper() for p in st.config["SupportedFileTransferProtocols"]} \
                or parts.scheme.upper() not in _SCHEMES:
            self._refuse(job, "NotSupportedOperation",
                         f"the protocol of {job.location} is not in SupportedFileTransferProtocols")
            return {"status": status, "filename": name}
        self.job = job
        st.store.put(NS, "job", asdict(job))  # persisted before the conf goes out
        log.info("%s %s to %s (requestId %s)", kind, name, job.location, job.request_id)
        self._status("Uploading")  # queued behind the conf
        self._attempt(now)
        return {"status": status, "filename": name}

    def _refuse(self, job: LogJob, status: str, why: str) -> None:
        log.warning("log upload (requestId %s): %s: %s", job.request_id, status, why)
        if self.job is not None:
            self.station.store.delete(NS, "job")
            self.job = None
        self._send(status, job.request_id)

    def _attempt(self, now: float) -> None:
        job = self.job
        if job is None:
            return
        job.attempt += 1
        self.station.store.put(NS, "job", asdict(job))
        log.info("log upload %s: attempt %s of %s", job.job, job.attempt, job.retries + 1)
        self.station.command(UploadDiagnostics(job.job, job.location, job.file_name, job.start_time, job.stop_time,
                                               log_type=job.log_type))

    def _finish(self, status: str) -> None:
        job = self.job
        assert job is not None
        self.station.timers.cancel(TIMER)
        self.station.store.delete(NS, "job")
        self.job = None
        self._send(status, job.request_id)

    def _status(self, status: str) -> None:
        assert self.job is not None
        self._send(status, self.job.request_id)

    def _send(self, status: str, request_id: int | None, triggered: bool = False) -> None:
        payload: dict[str, Any] = {"status": status}
        if request_id is not None:
            payload["requestId"] = request_id  # N01.FR.05: on every status but a triggered Idle
        self.station.send(Request("LogStatusNotification", payload, allowed_before_accepted=triggered))

    def send_triggered(self, now: float) -> None:
        """ExtendedTriggerMessage(LogStatusNotification): Uploading with the requestId while an upload runs,
        else Idle without one (N01.FR.12)."""
        if self.job is not None:
            self._send("Uploading", self.job.request_id, triggered=True)
        else:
            self._send("Idle", None, triggered=True)

    def describe(self) -> dict[str, Any] | None:
        job = self.job
        if job is None:
            return None
        return {"requestId": job.request_id, "logType": job.log_type, "location": job.location,
                "filename": job.file_name, "attempt": job.attempt, "attempts": job.retries + 1}
