"""Firmware Management: UpdateFirmware and FirmwareStatusNotification ([SPEC] §4.5, §5.19, §6.55-6.56, §7.25;
[ERRATA] 3.12, 3.47-3.49, 3.63, 3.90; [JERRATA] 2.5).

Theory of operation
-------------------
The core keeps the update's state machine; the runtime does the I/O it asks
for through commands (:class:`~ocpp_station.core.commands.DownloadFirmware`,
``InstallFirmware``, ``DiscardFirmware``) and reports back through events
(``FirmwareDownloaded``, ``FirmwareInstalled``)::

    UpdateFirmware.conf {}
      -> Scheduled       until retrieveDate ([ERRATA] 3.63: the earliest time; a date past means now)
      -> Downloading     FirmwareStatusNotification Downloading (once); the runtime downloads;
                         a failure is tried again ``retryInterval`` s later, ``retries`` times
                         ([SPEC] §5.19; retries 0 = one attempt), then DownloadFailed
      -> Downloaded      Downloaded; the idle connectors go Unavailable, the installation waits for the
                         running transactions to end ([ERRATA] 3.49, RECOMMENDED; a connector in use
                         goes Unavailable when its session ends)
      -> Installing      Installing; the runtime's installer runs:
                         refused: InstallationFailed, the connectors return to their availability
      -> Installed       the new version is stored, the station reboots (a hard reset) and reports
                         Installed once the new boot is Accepted ([ERRATA] 3.47; OCTT TC_044_1), its
                         BootNotification carrying the new firmwareVersion

Each status goes out once per transition ([ERRATA] 3.12/3.47: every step reported); ``Idle`` only in
answer to TriggerMessage when no update is under way ([SPEC] §4.5, §7.25).

The job is persisted (namespace ``firmware``, key ``job``) before UpdateFirmware is answered and at every
step: a restart (power cut, kill -9) in the middle resumes it once the new boot is Accepted. A download
under way is told to the CSMS again (Downloading) and continues from the partial file (the runtime
resumes by HTTP Range / FTP REST); an installation cut short starts again from the downloaded file.

A location whose scheme ``SupportedFileTransferProtocols`` does not list fails at once (Downloading,
DownloadFailed, the cause in the log): UpdateFirmware.conf has no status to refuse it with.

Signed firmware ([SEC] L01, with the security extension)
--------------------------------------------------------
``SignedUpdateFirmware`` (answered by the security feature once the signing certificate passed its check,
L01.FR.23) runs the same job with a ``requestId``: every status goes out as SignedFirmwareStatusNotification
with that requestId, and the job takes the extra steps of L01::

    DownloadScheduled  when retrieveDateTime is still ahead
    Downloading, Downloaded
    Verifying          the runtime checks the signature over the whole file (VerifyFirmware, SHA-256):
                       SignatureVerified, or InvalidSignature + the InvalidFirmwareSignature event (L01.FR.03)
    InstallScheduled   when installDateTime is still ahead (L01.FR.16), until then
    Installing         as above (the connectors held, L01.FR.06/07)
    InstallRebooting   before the reboot into the new image (L01.FR.15)
    Installed          after it, then the FirmwareUpdated security event (critical), once

A SignedUpdateFirmware while one runs cancels it (L01.FR.26: AcceptedCanceled) unless it is installing
(``Rejected``, L01.FR.27). With the security extension the legacy UpdateFirmware is answered CALLERROR
NotSupported (L01.FR.20) unless ``[security] legacy_update_firmware = true`` (docs/security.md).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from ..core.clock import iso, parse_iso
from ..core.commands import DiscardFirmware, DownloadFirmware, InstallFirmware, Reboot, VerifyFirmware
from ..core.configuration import KeySpec
from ..core.connector import Status
from ..core.events import Event, FirmwareDownloaded, FirmwareInstalled, FirmwareVerified
from ..core.outbox import Request
from ..core.settings import StationSettings
from ..ocpp.rpc import ErrorCode, OcppError
from .base import Feature

log = logging.getLogger(__name__)

PROFILE = "FirmwareManagement"
NS = "firmware"  # "job" -> the update under way; "version" -> the firmwareVersion installed last
PROTOCOLS = ("FTP", "FTPS", "HTTP", "HTTPS")  # what runtime/transfer.py speaks
DEFAULT_RETRIES = 2  # retries when UpdateFirmware gives none ([SPEC] §6.55: the charge point's choice)
DEFAULT_RETRY_INTERVAL = 60  # s between attempts when UpdateFirmware gives none
WAIT_POLL = 1.0  # s between looks at the connectors while the installation waits for transactions
REBOOT_GRACE = 10.0  # s the reboot waits for the statuses sent before it to be answered
TIMER = "firmware"
# a signed status -> the FirmwareStatusNotification status TriggerMessage reports for it
_LEGACY_STATUS = {"DownloadScheduled": "Idle", "SignatureVerified": "Downloaded", "InstallScheduled": "Downloaded",
                  "InstallRebooting": "Installing", "InvalidSignature": "Idle"}


def scheme_of(location: str) -> str:
    """The transfer protocol of a location, as SupportedFileTransferProtocols names it ("" if none)."""
    head, sep, _ = location.partition("://")
    return head.upper() if sep else ""


def _transfer_protocol(item: str) -> bool:
    return item.upper() in PROTOCOLS


def supported_schemes(station) -> set[str]:
    return {p.upper() for p in station.config["SupportedFileTransferProtocols"]}


@dataclass(slots=True)
class FirmwareJob:
    job: str  # names the transfer in commands and events
    location: str
    retrieve_at: float  # wall-clock epoch seconds
    retries: int  # attempts after the first
    retry_interval: int  # s
    attempt: int = 0  # download attempts started
    state: str = "Scheduled"  # Scheduled | Downloading | Verifying | InstallScheduled | Downloaded | Installing
    #                           | Installed
    version: str | None = None  # the new firmwareVersion, once Installed
    request_id: int | None = None  # SignedUpdateFirmware's requestId; None: a legacy UpdateFirmware
    certificate: str | None = None  # PEM: the signing certificate (signed only)
    signature: str | None = None  # base64: the file's signature (signed only)
    install_at: float | None = None  # wall-clock epoch seconds: installDateTime (signed only)


class Firmware(Feature):
    profile = PROFILE

    def __init__(self, station) -> None:
        super().__init__(station)
        self.job: FirmwareJob | None = None  # the update under way
        self.last_status: str | None = None  # the last FirmwareStatusNotification of this job
        self.version: str | None = station.store.get(NS, "version")  # installed by an update, if any
        self._resume = False  # a job found at start: carry it on once Accepted
        self._held: dict[int, str] = {}  # connector -> "now" (made Unavailable) | "later" (after its session)
        self._unanswered = 0  # statuses sent and not answered yet (the reboot waits for them)
        self._reboot_by = 0.0
        self._counter = 0
        self.last_signed: tuple[str, int] | None = None  # the last SignedFirmwareStatusNotification (status, id)

    @staticmethod
    def keys(settings: StationSettings) -> list[KeySpec]:
        # [ERRATA] 3.90 (§9.5.1): the protocols the station can use for firmware download and diagnostics upload
        return [
            KeySpec(
                "SupportedFileTransferProtocols", "csl", ",".join(PROTOCOLS), readonly=True, profile=PROFILE,
                item_check=_transfer_protocol,
            )
        ]

    def handlers(self):
        return {"UpdateFirmware": self.update_firmware}

    @property
    def firmware_version(self) -> str | None:
        """The version an update installed (BootNotification.firmwareVersion); None: the configured one."""
        return self.version

    # -- lifecycle ----------------------------------------------------------------------------------

    def on_start(self, now: float) -> None:
        rec = self.station.store.get(NS, "job")
        if rec is None:
            return
        self.job = FirmwareJob(**rec)
        log.info("firmware update %s found at start in state %s", self.job.job, self.job.state)
        if self.job.state == "Scheduled":
            self._arm(now)
        elif self.job.state == "InstallScheduled":
            self._arm_install(now)
        else:
            self._resume = True

    def on_accepted(self, now: float) -> None:
        job = self.job
        if job is None:
            return
        if job.state == "Scheduled":
            self._arm(now)  # the clock may have moved with currentTime
            return
        if job.state == "InstallScheduled":
            self._arm_install(now)
            return
        if not self._resume:
            return
        self._resume = False
        if job.state == "Downloading":
            log.info("firmware update %s: the download resumes after the restart", job.job)
            self._status("Downloading", now)  # the CSMS is told the download goes on
            self.station.command(DownloadFirmware(job.job, job.location, resume=True))
        elif job.state == "Verifying":
            log.info("firmware update %s: the signature is checked again after the restart", job.job)
            self._verify(now)
        elif job.state in ("Downloaded", "Installing"):
            log.info("firmware update %s: the installation starts again after the restart", job.job)
            self._prepare_install(now)
        elif job.state == "Installed":
            log.info("firmware update %s installed: version %s", job.job, job.version or "(unchanged)")
            self._status("Installed", now)  # [ERRATA] 3.47: after the reboot into the new image
            if job.request_id is not None:
                security = self.station.feature.get("Security")
                if security is not None:  # [SEC] L01: critical, once, after the reboot into the new image
                    security.events.raise_event("FirmwareUpdated", now, f"version {job.version or '(unchanged)'}")
            self._end(now)

    def on_event(self, event: Event, now: float) -> None:
        job = self.job
        if isinstance(event, FirmwareDownloaded):
            if job is None or event.job != job.job or job.state != "Downloading":
                return  # a result of a job replaced since
            self._downloaded(event, now)
        elif isinstance(event, FirmwareVerified):
            if job is None or event.job != job.job or job.state != "Verifying":
                return
            self._verified(event, now)
        elif isinstance(event, FirmwareInstalled):
            if job is None or event.job != job.job or job.state != "Installing":
                return
            self._installed(event, now)
        elif job is not None and job.state == "Downloaded":
            self._check_install(now)

    def after_call(self, action: str, now: float) -> None:
        if self.job is not None and self.job.state == "Downloaded":
            self._check_install(now)  # RemoteStop, Reset... may have ended the last transaction

    # -- UpdateFirmware -------------------------------------------------------------------------------

    def update_firmware(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        st = self.station
        sec = st.settings.security
        if sec is not None and not sec.legacy_update_firmware:
            # [SEC] L01.FR.20: a station with secure firmware update answers the legacy request NotSupported and
            # starts nothing (digest §10 item 23: TC_080/081 certified, not TC_044_x)
            raise OcppError(ErrorCode.NOT_SUPPORTED, "UpdateFirmware is replaced by SignedUpdateFirmware")
        try:
            retrieve_at = parse_iso(payload["retrieveDate"])
        except ValueError:
            raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "retrieveDate is not a date-time") from None
        retries = payload.get("retries")
        interval = payload.get("retryInterval")
        if (retries is not None and retries < 0) or (interval is not None and interval < 0):
            # [JERRATA] 2.5: integers; a negative count or interval has no meaning
            raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "retries and retryInterval must be >= 0")
        old = self.job
        if old is not None and old.state not in ("Scheduled",):
            # the spec names no cancellation for 1.6: the update under way finishes
            log.warning("UpdateFirmware ignored: update %s is %s", old.job, old.state)
            return {}
        if old is not None:
            st.timers.cancel(TIMER)
            log.info("firmware update %s replaced before it started", old.job)
        self._counter += 1
        job = FirmwareJob(
            job=f"fw-{int(st.clock.wall(now))}-{self._counter}",
            location=payload["location"],
            retrieve_at=retrieve_at,
            retries=DEFAULT_RETRIES if retries is None else retries,
            retry_interval=DEFAULT_RETRY_INTERVAL if interval is None else interval,
        )
        self.job = job
        self.last_status = None
        self._save()  # persisted before the conf goes out
        wall = st.clock.wall(now)
        log.info(
            "firmware update %s from %s at %s (retries %s, every %s s)", job.job, job.location,
            iso(max(retrieve_at, wall)), job.retries, job.retry_interval,
        )
        self._arm(now)
        return {}

    # -- SignedUpdateFirmware ([SEC] L01; the certificate was checked by the security feature) ----------------

    def signed_update_firmware(self, payload: dict[str, Any], retrieve_at: float, install_at: float | None,
                               now: float) -> str:
        """Start a signed update; returns SignedUpdateFirmware.conf's status."""
        st = self.station
        fw = payload["firmware"]
        status = "Accepted"
        old = self.job
        if old is not None:
            if old.state in ("Installing", "Installed"):
                log.warning("SignedUpdateFirmware rejected: update %s is %s", old.job, old.state)
                return "Rejected"  # L01.FR.27: it cannot be cancelled any more
            log.info("firmware update %s (%s) cancelled by a new SignedUpdateFirmware", old.job, old.state)
            st.timers.cancel(TIMER)
            st.command(DiscardFirmware(old.job))
            self._release(now)
            status = "AcceptedCanceled"  # L01.FR.26
        self._counter += 1
        retries, interval = payload.get("retries"), payload.get("retryInterval")
        job = FirmwareJob(
            job=f"fw-{int(st.clock.wall(now))}-{self._counter}",
            location=fw["location"],
            retrieve_at=retrieve_at,
            retries=DEFAULT_RETRIES if retries is None else retries,
            retry_interval=DEFAULT_RETRY_INTERVAL if interval is None else interval,
            request_id=payload["requestId"],
            certificate=fw["signingCertificate"],
            signature=fw["signature"],
            install_at=install_at,
        )
        self.job = job
        self.last_status = None
        self._save()  # persisted before the conf goes out
        log.info("signed firmware update %s (requestId %s) from %s at %s", job.job, job.request_id, job.location,
                 iso(max(retrieve_at, st.clock.wall(now))))
        if retrieve_at > st.clock.wall(now):
            self._status("DownloadScheduled", now)  # queued behind the conf
        self._arm(now)
        return status

    def _verify(self, now: float) -> None:
        job = self.job
        assert job is not None and job.certificate is not None and job.signature is not None
        job.state = "Verifying"
        self._save()
        self.station.command(VerifyFirmware(job.job, job.certificate, job.signature))

    def _verified(self, event: FirmwareVerified, now: float) -> None:
        job = self.job
        assert job is not None
        if not event.ok:
            # L01.FR.03: InvalidSignature and the InvalidFirmwareSignature event (sent: TC_081); nothing installed
            log.warning("firmware update %s: InvalidSignature: %s", job.job, event.error)
            self._status("InvalidSignature", now)
            security = self.station.feature.get("Security")
            if security is not None:
                security.events.raise_event("InvalidFirmwareSignature", now, event.error)
            self.station.command(DiscardFirmware(job.job))
            self._end(now)
            return
        log.info("firmware update %s: signature verified", job.job)
        self._status("SignatureVerified", now)
        if job.install_at is not None and job.install_at > self.station.clock.wall(now):
            job.state = "InstallScheduled"
            self._save()
            self._status("InstallScheduled", now)  # L01.FR.16
            self._arm_install(now)
            return
        self._prepare_install(now)

    def _arm_install(self, now: float) -> None:
        job = self.job
        assert job is not None and job.install_at is not None
        at = max(now, self.station.clock.to_now(job.install_at))
        self.station.timers.set(TIMER, at, self._install_due)

    def _install_due(self, now: float) -> None:
        if self.job is not None and self.job.state == "InstallScheduled":
            self._prepare_install(now)

    # -- the steps -----------------------------------------------------------------------------------------

    def _arm(self, now: float) -> None:
        job = self.job
        assert job is not None
        at = max(now, self.station.clock.to_now(job.retrieve_at))  # a retrieveDate past: start now
        self.station.timers.set(TIMER, at, self._start)

    def _start(self, now: float) -> None:
        job = self.job
        if job is None or job.state != "Scheduled":
            return
        job.state = "Downloading"
        self._save()
        self._status("Downloading", now)  # sent even when the download fails at once
        if scheme_of(job.location) not in supported_schemes(self.station):
            log.warning(
                "firmware update %s: download failed: the protocol of %s is not in SupportedFileTransferProtocols",
                job.job, job.location,
            )
            self._download_failed(now)
            return
        self._attempt(now)

    def _attempt(self, now: float) -> None:
        job = self.job
        if job is None or job.state != "Downloading":
            return
        job.attempt += 1
        self._save()
        log.info("firmware update %s: download attempt %s of %s", job.job, job.attempt, job.retries + 1)
        self.station.command(DownloadFirmware(job.job, job.location, resume=job.attempt > 1))

    def _downloaded(self, event: FirmwareDownloaded, now: float) -> None:
        job = self.job
        assert job is not None
        if event.ok:
            log.info("firmware update %s: downloaded", job.job)
            job.state = "Downloaded"
            self._save()
            self._status("Downloaded", now)
            if job.request_id is not None:
                self._verify(now)  # L01.FR.04: nothing is installed before the signature verifies
                return
            self._prepare_install(now)
            return
        log.warning("firmware update %s: download attempt %s failed: %s", job.job, job.attempt, event.error)
        if job.attempt <= job.retries:
            self.station.timers.set(TIMER, now + job.retry_interval, self._attempt)
            return
        self._download_failed(now)

    def _download_failed(self, now: float) -> None:
        job = self.job
        assert job is not None
        log.warning("firmware update %s: DownloadFailed; the firmware stays %s", job.job, self._current_version())
        self._status("DownloadFailed", now)
        self.station.command(DiscardFirmware(job.job))
        self._end(now)

    def _prepare_install(self, now: float) -> None:
        """[ERRATA] 3.48/3.49: install as soon as possible; charging stops during the installation, so it waits
        for the running transactions to end, the connectors not in use Unavailable meanwhile."""
        job = self.job
        assert job is not None
        job.state = "Downloaded"
        self._save()
        self._check_install(now)

    def _check_install(self, now: float) -> None:
        job = self.job
        if job is None or job.state != "Downloaded":
            return
        txs = self.station.feature["Transactions"]
        busy = []
        for cid, c in txs.cond.items():
            if self._held.get(cid) == "now":
                continue
            if c.tx is not None or not self.station.connector(cid).can_become(Status.UNAVAILABLE):
                busy.append(cid)
                self._held.setdefault(cid, "later")
                continue
            if c.operative:
                self._held[cid] = "now"
                c.operative = False
                txs.refresh(cid, now)
            else:
                self._held.setdefault(cid, "off")  # Unavailable already (ChangeAvailability): left as it is
        if busy:
            if TIMER not in self.station.timers:
                log.info("firmware update %s: the installation waits for connector(s) %s", job.job, busy)
            self.station.timers.set(TIMER, now + WAIT_POLL, self._check_install)
            return
        self.station.timers.cancel(TIMER)
        self._install(now)

    def _install(self, now: float) -> None:
        job = self.job
        assert job is not None
        job.state = "Installing"
        self._save()
        self._status("Installing", now)
        log.info("firmware update %s: installing", job.job)
        self.station.command(InstallFirmware(job.job))

    def _installed(self, event: FirmwareInstalled, now: float) -> None:
        job = self.job
        assert job is not None
        st = self.station
        if not event.ok:
            log.warning("firmware update %s: InstallationFailed: %s; the firmware stays %s", job.job, event.error,
                        self._current_version())
            self._status("InstallationFailed", now)
            st.command(DiscardFirmware(job.job))
            self._release(now)
            self._end(now)
            return
        job.state = "Installed"
        job.version = event.version
        with st.store.batch():
            if event.version:
                st.store.put(NS, "version", event.version)
            self._save()
        if event.version:
            self.version = event.version
        st.command(DiscardFirmware(job.job))
        log.info("firmware update %s: installed (version %s); rebooting", job.job, event.version or "unchanged")
        if job.request_id is not None:
            self._status("InstallRebooting", now)  # L01.FR.15
        self._reboot_by = now + REBOOT_GRACE
        st.timers.set(TIMER, now, self._reboot)

    def _reboot(self, now: float) -> None:
        st = self.station
        if self._unanswered and st.connected and now < self._reboot_by:
            st.timers.set(TIMER, min(self._reboot_by, now + 0.1), self._reboot)
            return
        st.feature["Reset"].stop_all("Reboot", now)  # none should run; a reboot never cuts one silently
        st.command(Reboot("Hard"))

    def _release(self, now: float) -> None:
        """The connectors the installation held return to their availability (the persisted one)."""
        txs = self.station.feature["Transactions"]
        saved = self.station.store.items("availability")
        held, self._held = self._held, {}
        for cid, how in held.items():
            if how != "now":
                continue
            c = txs.cond[cid]
            c.operative = txs.cp_operative and saved.get(str(cid)) != "Inoperative"
            txs.refresh(cid, now)

    def _end(self, now: float) -> None:
        self.station.timers.cancel(TIMER)
        self.station.store.delete(NS, "job")
        self.job = None
        self._held = {}

    # -- sending -----------------------------------------------------------------------------------------

    def _status(self, status: str, now: float) -> None:
        self.last_status = status
        job = self.job
        if job is not None and job.request_id is not None:
            self.last_signed = (status, job.request_id)
            self._send_signed(status, job.request_id)
            return
        self._send(status)

    def _send_signed(self, status: str, request_id: int | None, triggered: bool = False) -> None:
        self._unanswered += 1

        def done(*_args: Any) -> None:
            self._unanswered = max(0, self._unanswered - 1)

        payload: dict[str, Any] = {"status": status}
        if request_id is not None:
            payload["requestId"] = request_id  # L01.FR.10/.21: on every status but a triggered Idle
        self.station.send(Request("SignedFirmwareStatusNotification", payload, done, done,
                                  allowed_before_accepted=triggered))

    def send_signed_status(self, now: float) -> None:
        """ExtendedTriggerMessage(FirmwareStatusNotification) ([SEC] L01.FR.28/29): the last status sent again,
        Idle when it was Installed or none was sent."""
        last = self.last_signed
        if last is None or last[0] == "Installed":
            self._send_signed("Idle", None, triggered=True)
        else:
            self._send_signed(last[0], last[1], triggered=True)

    def _send(self, status: str, triggered: bool = False) -> None:
        self._unanswered += 1

        def done(*_args: Any) -> None:
            self._unanswered = max(0, self._unanswered - 1)

        # a triggered message may go out while Pending too ([SPEC] §5.17)
        self.station.send(Request("FirmwareStatusNotification", {"status": status}, done, done,
                                  allowed_before_accepted=triggered))

    def trigger_status(self, what: str) -> str | None:
        """The status TriggerMessage(FirmwareStatusNotification) reports; None for another message."""
        if what != "FirmwareStatusNotification":
            return None
        if self.job is None or self.last_status is None:
            return "Idle"  # [SPEC] §4.5: nothing under way
        return _LEGACY_STATUS.get(self.last_status, self.last_status)  # a signed job's status, in 1.6 words

    def send_status(self, what: str, now: float) -> None:
        status = self.trigger_status(what)
        if status is not None:
            self._send(status, triggered=True)

    # -- internals ------------------------------------------------------------------------------------------

    def _save(self) -> None:
        assert self.job is not None
        self.station.store.put(NS, "job", asdict(self.job))

    def _current_version(self) -> str:
        return self.version or self.station.settings.firmware_version or "(none)"

    def describe(self, doc: dict[str, Any], now: float) -> None:
        job = self.job
        entry: dict[str, Any] = {"status": self.trigger_status("FirmwareStatusNotification"),
                                 "version": self._current_version()}
        if job is not None:
            entry.update(
                job=job.job, location=job.location, state=job.state, retrieveDate=iso(job.retrieve_at),
                attempt=job.attempt, attempts=job.retries + 1,
            )
            if job.request_id is not None:
                entry.update(signed=True, requestId=job.request_id, signedStatus=self.last_status)
                if job.install_at is not None:
                    entry["installDateTime"] = iso(job.install_at)
            when = self.station.timers.deadline(TIMER)
            if job.state in ("Scheduled", "Downloading") and when is not None:
                entry["nextAttemptIn"] = max(0.0, round(when - now, 3))
            waiting = [cid for cid, how in self._held.items() if how == "later"]
            if job.state == "Downloaded" and waiting:
                entry["waitingFor"] = waiting
        doc["firmware"] = entry
