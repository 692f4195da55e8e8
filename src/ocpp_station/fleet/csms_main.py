"""The fleet's builtin CSMS: the development CSMS, made deterministic, with seeded CSMS faults.

``python -m ocpp_station.fleet.csms_main --port 0 --boot-interval N [--seed S --error-rate E
--silence-rate Q]`` prints the same ``CSMS listening on ws://.../<identity>`` line as
``ocpp-station csms``. The differences:

* a StartTransaction's transactionId is derived from the CALL's message id (itself drawn from the
  station's seeded random generator) instead of one counter shared by every station, so a station's
  transaction ids do not depend on the order in which the CSMS happened to read the stations' sockets.
  (The stations ignore currentTime in virtual time, see :class:`~.sim.VirtualClock`.)
* the scenario's ``[csms] error_rate`` / ``silence_rate`` (:class:`CsmsFaults`): a seeded fraction of
  the CALLs is answered CALLERROR InternalError, or not at all (see :mod:`.faults`).
* the scenario's ``[fleet] security_profile`` (``--security-profile``, ``--pki-dir``): Basic auth with each
  station's seeded AuthorizationKey (1, 2), wss:// with the fleet CA's certificate (2, 3), client
  certificates required (3); see :mod:`.security`.
* it is one process (for more stations than one process holds, run ``ocpp-station csms --workers N``
  and give the fleet its URL; the ``[csms]`` keys then do not apply).
* the scenario's ``[csms] local_list_fraction`` / ``reservation_fraction`` / ``smart_charging_fraction``
  (:class:`Pushes`): after a seeded fraction of the stations' first Accepted boot, the CSMS sends them a
  local authorization list (SendLocalList Full), a reservation (ReserveNow) and a charging profile
  (SetChargingProfile, a daily step list), to show those profiles at scale.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pathlib import Path

from ..csms.pki import server_context
from ..csms.server import DevCsms, StationLink
from ..csms.stats import CsmsStats
from ..ocpp.codec import encode
from ..ocpp.rpc import Call, CallError, ErrorCode
from .faults import FAULT_DESCRIPTION, CsmsFaults
from .security import SeededKeys


def transaction_id(unique_id: str) -> int:
    """A positive int32 from the StartTransaction's message id (retries keep the id: same answer)."""
    return zlib.crc32(unique_id.encode()) % 2_000_000_000 + 1


@dataclass
class Pushes:
    """What the CSMS sends a seeded fraction of the stations after their first Accepted boot."""

    seed: Any = 1
    local_list_fraction: float = 0.0  # SendLocalList Full v1 to this fraction of the stations
    local_list_size: int = 50  # entries: the driver's id_tags, then LIST00001...
    reservation_fraction: float = 0.0  # ReserveNow(connector 1, id_tags[0]) to this fraction
    reservation_duration: float = 300.0  # s until the reservation expires
    id_tags: list[str] = field(default_factory=list)
    smart_charging_fraction: float = 0.0  # SetChargingProfile to this fraction
    smart_charging_purpose: str = "TxDefaultProfile"  # ChargePointMaxProfile or TxDefaultProfile
    smart_charging_unit: str = "W"  # chargingRateUnit
    smart_charging_periods: list[tuple[int, float]] = field(default_factory=list)  # (startPeriod s, limit), daily
    smart_charging_stagger: float = 0.0  # s: each station's schedule starts a seeded 0..stagger s after midnight

    def __bool__(self) -> bool:
        return self.local_list_fraction > 0 or self.reservation_fraction > 0 or self.smart_charging_fraction > 0

    def draw(self, identity: str, what: str) -> float:
        """A number in [0, 1) from ``"<seed>/<identity>/<what>"``: the same for the same seed, whatever the
        order in which the stations boot."""
        h = hashlib.blake2b(f"{self.seed}/{identity}/{what}".encode(), digest_size=8).digest()
        return int.from_bytes(h, "big") / 2.0**64

    def chosen(self, identity: str, what: str, fraction: float) -> bool:
        return self.draw(identity, what) < fraction

    def stagger_s(self, identity: str) -> int:
        """Whole seconds the station's daily schedule starts after midnight UTC (0..stagger)."""
        return int(self.draw(identity, "smart-charging-stagger") * (self.smart_charging_stagger + 1))

    def charging_profile(self, identity: str) -> dict[str, Any]:
        """SetChargingProfile.req: connector 0 (the whole station: ChargePointMaxProfile; every connector:
        TxDefaultProfile), stackLevel 0, Recurring Daily from 2025-01-01T00:00:00Z (the start of virtual time)
        plus the station's stagger, the scenario's daily periods."""
        start = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=self.stagger_s(identity))
        return {"connectorId": 0, "csChargingProfiles": {
            "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": self.smart_charging_purpose,
            "chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
            "chargingSchedule": {
                "duration": 86400, "startSchedule": start.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "chargingRateUnit": self.smart_charging_unit,
                "chargingSchedulePeriod": [{"startPeriod": s, "limit": limit} for s, limit in self.smart_charging_periods],
            }}}

    def local_list(self) -> dict[str, Any]:
        tags = self.id_tags[: self.local_list_size]
        tags += [f"LIST{i:05d}" for i in range(1, self.local_list_size - len(tags) + 1)]
        return {"listVersion": 1, "updateType": "Full",
                "localAuthorizationList": [{"idTag": t, "idTagInfo": {"status": "Accepted"}} for t in tags]}

    def reservation(self, identity: str) -> dict[str, Any]:
        expiry = datetime.now(timezone.utc) + timedelta(seconds=self.reservation_duration)
        return {"connectorId": 1, "expiryDate": expiry.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "idTag": self.id_tags[0] if self.id_tags else "FLEET001",
                "reservationId": zlib.crc32(f"{self.seed}/{identity}".encode()) % 2_000_000_000 + 1}


class FleetCsms(DevCsms):
    """The development CSMS with :class:`CsmsFaults` in front of its answers and :class:`Pushes` after boots."""

    def __init__(self, *args: Any, faults: CsmsFaults | None = None, pushes: Pushes | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults = faults if faults else None
        self.pushes = pushes if pushes else None
        self._pushed: set[str] = set()  # identities already sent their pushes (once per run)
        self._push_tasks: set[asyncio.Task] = set()

    def _answer(self, link: StationLink, ws: Any, call: Call) -> str | None:
        if self.faults is not None:
            fault = self.faults.decide(link.identity, call.unique_id)
            if fault == "error":
                return encode(CallError(call.unique_id, ErrorCode.INTERNAL_ERROR, FAULT_DESCRIPTION))
            if fault == "silence":
                return None
        answer = super()._answer(link, ws, call)
        if (self.pushes is not None and call.action == "BootNotification" and link.identity not in self._pushed
                and answer is not None and '"Accepted"' in answer):
            self._pushed.add(link.identity)
            task = asyncio.get_running_loop().create_task(self._push(link))  # after the conf has gone out
            self._push_tasks.add(task)
            task.add_done_callback(self._push_tasks.discard)
        return answer

    async def _push(self, link: StationLink) -> None:
        p = self.pushes
        assert p is not None
        calls = []
        if p.chosen(link.identity, "local-list", p.local_list_fraction):
            calls.append(("SendLocalList", p.local_list()))
        if p.chosen(link.identity, "reservation", p.reservation_fraction):
            calls.append(("ReserveNow", p.reservation(link.identity)))
        if p.chosen(link.identity, "smart-charging", p.smart_charging_fraction):
            calls.append(("SetChargingProfile", p.charging_profile(link.identity)))
        for action, payload in calls:
            try:
                answer = await link.call(action, payload, timeout=60)
                logging.getLogger(__name__).info("%s: %s -> %s", link.identity, action, answer)
            except Exception as exc:  # the station went away or refused: the run goes on
                logging.getLogger(__name__).info("%s: %s not delivered: %s", link.identity, action, exc)


async def serve(host: str, port: int, boot_interval: int, faults: CsmsFaults | None = None,
                pushes: Pushes | None = None, security_profile: int = 0, pki_dir: str | None = None,
                seed: Any = "1") -> None:
    ssl_ctx = None
    if security_profile >= 2:  # [SEC] A00: TLS with the fleet CA's server certificate; 3: client certificates
        assert pki_dir is not None
        d = Path(pki_dir)
        ssl_ctx = server_context(d / "csms-cert.pem", d / "csms-key.pem", (d / "fleet-ca.pem").read_text(),
                                 require_client_cert=security_profile == 3)
    basic_auth = SeededKeys(seed) if security_profile in (1, 2) else None  # each station's own key
    csms = FleetCsms(host, port, boot_interval=boot_interval, log_frames=False, keep_history=False, faults=faults,
                     pushes=pushes, ssl=ssl_ctx, basic_auth=basic_auth)

    def on_start(call: Any) -> dict[str, Any]:
        return {"transactionId": transaction_id(call.unique_id), "idTagInfo": csms.id_tag_info(call.payload["idTag"])}

    csms.on_call(None, "StartTransaction", on_start)
    csms.stats = CsmsStats(csms)
    async with csms:
        # freezes the long-lived objects after connection bursts: short gc pauses (see csms/stats.py)
        housekeeping = asyncio.ensure_future(csms.stats.housekeeping())
        print(f"CSMS listening on {csms.url}/<identity>", flush=True)
        try:
            await asyncio.Future()
        finally:
            housekeeping.cancel()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m ocpp_station.fleet.csms_main")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--boot-interval", type=int, default=60)
    p.add_argument("--seed", default="1", help="seed of the CSMS faults")
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction of CALLs answered CALLERROR InternalError")
    p.add_argument("--silence-rate", type=float, default=0.0, help="fraction of CALLs left unanswered")
    p.add_argument("--local-list-fraction", type=float, default=0.0, help="fraction of stations sent a local list")
    p.add_argument("--local-list-size", type=int, default=50, help="entries of that list")
    p.add_argument("--reservation-fraction", type=float, default=0.0, help="fraction of stations sent a reservation")
    p.add_argument("--reservation-duration", type=float, default=300.0, help="s until that reservation expires")
    p.add_argument("--id-tags", default="[]", help="the driver's id_tags (JSON list): the list's first entries")
    p.add_argument("--smart-charging-fraction", type=float, default=0.0,
                   help="fraction of stations sent a charging profile")
    p.add_argument("--smart-charging-purpose", default="TxDefaultProfile", help="its chargingProfilePurpose")
    p.add_argument("--smart-charging-unit", default="W", help="its chargingRateUnit")
    p.add_argument("--smart-charging-periods", default="[]", help="its daily periods: JSON [[startPeriod, limit], ...]")
    p.add_argument("--smart-charging-stagger", type=float, default=0.0, help="s: seeded shift of each station's schedule")
    p.add_argument("--security-profile", type=int, choices=(0, 1, 2, 3), default=0,
                   help="1, 2: check each station's seeded AuthorizationKey (Basic auth); 2, 3: serve wss:// "
                   "(3: client certificates required) (default: 0)")
    p.add_argument("--pki-dir", help="the fleet CA's directory (fleet/security.py), for profiles 2 and 3")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args()
    logging.basicConfig(level=getattr(logging, args.log_level, logging.WARNING))
    pushes = Pushes(args.seed, args.local_list_fraction, args.local_list_size, args.reservation_fraction,
                    args.reservation_duration, json.loads(args.id_tags), args.smart_charging_fraction,
                    args.smart_charging_purpose, args.smart_charging_unit,
                    [(int(a), float(b)) for a, b in json.loads(args.smart_charging_periods)], args.smart_charging_stagger)
    try:
        asyncio.run(serve(args.host, args.port, args.boot_interval,
                          CsmsFaults(args.seed, args.error_rate, args.silence_rate), pushes,
                          args.security_profile, args.pki_dir, args.seed))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
