"""Firmware Management: GetDiagnostics and DiagnosticsStatusNotification ([SPEC] §4.4, §5.9, §6.25-6.26,
§7.24; [ERRATA] 3.31, 3.50).

GetDiagnostics is answered with the ``fileName`` of the one archive that will be uploaded to ``location``
(a directory: the file goes to ``location/fileName``). Then::

    Uploading   once; the runtime builds the archive (station log and OCPP frame log between startTime
                and stopTime, the configuration, the store's queue summary) and uploads it
    Uploaded    the upload succeeded
    UploadFailed  every attempt failed: 1 + ``retries`` ([ERRATA] 3.50: retries are re-tries, so
                  retries 0 is one attempt, and Uploading still goes first; OCTT TC_045_2)

``Idle`` only in answer to TriggerMessage when no upload is under way ([SPEC] §4.4, §7.24). A second
GetDiagnostics replaces the one under way and starts the whole cycle again (its results are ignored).

The job is persisted (namespace ``diagnostics``, key ``job``) before the conf goes out: after a restart the
upload is attempted again once the new boot is Accepted (Uploading told again). A location whose scheme
``SupportedFileTransferProtocols`` does not list fails at once: Uploading, UploadFailed, the cause logged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

from ..core.clock import iso, parse_iso
from ..core.commands import UploadDiagnostics
from ..core.events import DiagnosticsUploaded, Event
from ..core.outbox import Request
from ..ocpp.rpc import ErrorCode, OcppError
from .base import Feature
from .firmware import PROFILE, scheme_of, supported_schemes

log = logging.getLogger(__name__)

NS = "diagnostics"
DEFAULT_RETRIES = 1  # re-tries when GetDiagnostics gives none ([SPEC] §6.25: the charge point's choice)
DEFAULT_RETRY_INTERVAL = 30  # s
TIMER = "diagnostics"


def upload_request(payload: dict[str, Any], window: dict[str, Any], names: tuple[str, str]) -> tuple[
        list[float | None], int | None, float | None]:
    """The time window (``names`` in ``window``) and the retries of a GetDiagnostics or GetLog request, each
    checked: a date-time that cannot be read or a negative count is CALLERROR PropertyConstraintViolation and
    nothing starts."""
    times = []
    for name in names:
        try:
            times.append(parse_iso(window[name]) if name in window else None)
        except ValueError:
            raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"{name} is not a date-time") from None
    retries, interval = payload.get("retries"), payload.get("retryInterval")
    if (retries is not None and retries < 0) or (interval is not None and interval < 0):
        raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "retries and retryInterval must be >= 0")
    return times, retries, interval


@dataclass(slots=True)
class DiagnosticsJob:
    job: str
    location: str
    file_name: str
    retries: int
    retry_interval: int
    start_time: float | None = None  # wall-clock epoch seconds
    stop_time: float | None = None
    attempt: int = 0


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


class Diagnostics(Feature):
    profile = PROFILE

    def __init__(self, station) -> None:
        super().__init__(station)
        self.job: DiagnosticsJob | None = None
        self._resume = False
        self.last_result: str | None = None  # Uploaded | UploadFailed of the last job (for the HMI)
        self._counter = 0

    def handlers(self):
        return {"GetDiagnostics": self.get_diagnostics}

    def on_start(self, now: float) -> None:
        rec = self.station.store.get(NS, "job")
        if rec is not None:
            self.job = DiagnosticsJob(**rec)
            self._resume = True

    def on_accepted(self, now: float) -> None:
        if self._resume and self.job is not None:
            self._resume = False
            log.info("diagnostics upload %s: attempted again after the restart", self.job.job)
            self._status("Uploading")
            self._attempt(now)

    def get_diagnostics(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        st = self.station
        times, retries, interval = upload_request(payload, payload, ("startTime", "stopTime"))
        if self.job is not None:
            log.info("diagnostics upload %s replaced by a new GetDiagnostics", self.job.job)
            st.timers.cancel(TIMER)
        self._counter += 1
        wall = st.clock.wall(now)
        stamp = iso(wall).replace("-", "").replace(":", "").split(".")[0] + "Z"
        job = DiagnosticsJob(
            job=f"diag-{int(wall)}-{self._counter}",
            location=payload["location"],
            file_name=f"diagnostics-{_safe(st.settings.identity)}-{stamp}.zip",  # CiString255 ([SPEC] §6.26)
            retries=DEFAULT_RETRIES if retries is None else retries,
            retry_interval=DEFAULT_RETRY_INTERVAL if interval is None else interval,
            start_time=times[0],
            stop_time=times[1],
        )
        self.job = job
        self.last_result = None
        st.store.put(NS, "job", asdict(job))  # persisted before the conf goes out
        log.info("diagnostics %s to %s (retries %s, every %s s)", job.file_name, job.location, job.retries,
                 job.retry_interval)
        self._status("Uploading")  # queued behind the conf; once per upload (libocpp #459)
        if scheme_of(job.location) not in supported_schemes(st):
            log.warning("diagnostics upload %s failed: the protocol of %s is not in SupportedFileTransferProtocols",
                        job.job, job.location)
            self._finish("UploadFailed")
        else:
            self._attempt(now)
        return {"fileName": job.file_name}

    def _attempt(self, now: float) -> None:
        job = self.job
        if job is None:
            return
        job.attempt += 1
        self.station.store.put(NS, "job", asdict(job))
        log.info("diagnostics upload %s: attempt %s of %s", job.job, job.attempt, job.retries + 1)
        self.station.command(UploadDiagnostics(job.job, job.location, job.file_name, job.start_time, job.stop_time))

    def on_event(self, event: Event, now: float) -> None:
        job = self.job
        if not isinstance(event, DiagnosticsUploaded) or job is None or event.job != job.job:
            return
        if event.ok:
            log.info("diagnostics upload %s: Uploaded %s", job.job, job.file_name)
            self._finish("Uploaded")
            return
        log.warning("diagnostics upload %s: attempt %s failed: %s", job.job, job.attempt, event.error)
        if job.attempt <= job.retries:
            self.station.timers.set(TIMER, now + job.retry_interval, self._attempt)
            return
        self._finish("UploadFailed")

    def _finish(self, status: str) -> None:
        self.station.timers.cancel(TIMER)
        self.station.store.delete(NS, "job")
        self.job = None
        self.last_result = status
        self._status(status)

    def _status(self, status: str, triggered: bool = False) -> None:
        self.station.send(Request("DiagnosticsStatusNotification", {"status": status},
                                  allowed_before_accepted=triggered))

    # -- TriggerMessage -------------------------------------------------------------------------------

    def trigger_status(self, what: str) -> str | None:
        if what != "DiagnosticsStatusNotification":
            return None
        return "Uploading" if self.job is not None else "Idle"  # [SPEC] §4.4

    def send_status(self, what: str, now: float) -> None:
        status = self.trigger_status(what)
        if status is not None:
            self._status(status, triggered=True)

    def describe(self, doc: dict[str, Any], now: float) -> None:
        job = self.job
        entry: dict[str, Any] = {"status": self.trigger_status("DiagnosticsStatusNotification")}
        if self.last_result is not None:
            entry["lastResult"] = self.last_result
        if job is not None:
            entry.update(job=job.job, location=job.location, fileName=job.file_name, attempt=job.attempt,
                         attempts=job.retries + 1)
            when = self.station.timers.deadline(TIMER)
            if when is not None:
                entry["nextAttemptIn"] = max(0.0, round(when - now, 3))
        doc["diagnostics"] = entry
