"""``ocpp-station demo``: the development CSMS, one simulated station and a scripted charging session.

The station is the same StationRuntime that ``run`` uses (real websocket to
the dev CSMS, real features); the script acts on its simulated hardware the
way the control API does, and prints the OCPP timeline as it happens.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from .config import RunSettings
from .core.events import CardPresented
from .core.settings import StationSettings
from .csms.cards import DEMO_CARD
from .csms.server import DevCsms
from .runtime.app import ControlListenError, StationRuntime
from .runtime.framelog import FrameRecord
from .store import MemoryStore

ID_TAG = DEMO_CARD  # the HMI's saved cards are DEMO_CARD and the test cards, answered by the dev CSMS's policy
RESERVATION_ID = 1  # the CSMS reserves connector 1 for ID_TAG before the driver arrives


class Timeline:
    def __init__(self, out=None) -> None:
        self.t0 = time.time()
        self.out = out if out is not None else sys.stdout
        self.waiters: list[tuple[Any, asyncio.Future]] = []

    def frame(self, rec: FrameRecord) -> None:
        arrow = "station → CSMS" if rec.direction == "out" else "CSMS → station"
        try:
            payload = orjson.loads(rec.text)[-1 if rec.kind != "CALLERROR" else 2]
        except Exception:
            payload = rec.text
        body = orjson.dumps(payload).decode() if not isinstance(payload, str) else payload
        if len(body) > 150:
            body = body[:147] + "..."
        label = rec.action or "?"
        if rec.kind == "CALLRESULT":
            label += ".conf"
        elif rec.kind == "CALLERROR":
            label += " CALLERROR"
        print(f"  {rec.time - self.t0:7.3f}s  {arrow}  {label:<28} {body}", file=self.out, flush=True)
        for cond, fut in list(self.waiters):
            if not fut.done() and cond(rec):
                fut.set_result(rec)

    def note(self, text: str) -> None:
        print(f"  {time.time() - self.t0:7.3f}s  ── {text}", file=self.out, flush=True)

    def expect(self, cond) -> asyncio.Future:
        """Start watching for a frame before the action that causes it."""
        fut = asyncio.get_running_loop().create_future()
        self.waiters.append((cond, fut))
        fut.add_done_callback(lambda f: self.waiters.remove((cond, fut)))
        return fut

    async def wait(self, fut: asyncio.Future, timeout: float = 15.0, station: asyncio.Task | None = None) -> FrameRecord:
        """The frame ``fut`` waits for; TimeoutError after ``timeout`` s, :class:`Stopped` as soon as the
        ``station`` task ends (SIGINT/SIGTERM stopped it: no frame will come)."""
        if station is None:
            async with asyncio.timeout(timeout):
                return await fut
        done, _ = await asyncio.wait({fut, station}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if fut in done:
            return fut.result()
        if station in done:
            raise Stopped
        raise TimeoutError


class Stopped(Exception):
    """The station stopped (SIGINT/SIGTERM) while the script was playing."""


def _call(action: str, status: str | None = None):
    def cond(rec: FrameRecord) -> bool:
        if rec.direction != "out" or rec.kind != "CALL" or rec.action != action:
            return False
        if status is None:
            return True
        return orjson.loads(rec.text)[3].get("status") == status

    return cond


DEMO_KEY = "4F43415F4F4354545F61646D696E5F74657374"  # the demo's AuthorizationKey ("OCA_OCTT_admin_test")


def _demo_security(profile: int | None, ocpp: dict[str, str]) -> tuple[dict[str, Any], Any]:
    """The dev CSMS's options and the station's [security] settings of a demo at ``profile`` (None: none)."""
    if profile is None:
        return {}, None
    import tempfile
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric import ec

    from .core.settings import SecuritySettings
    from .csms.pki import DevCa, _key_pem, _pem, server_context

    directory = Path(tempfile.mkdtemp(prefix="ocpp-demo-security-"))
    sec = SecuritySettings(profile=profile, csms_root_ca=directory / "csms-root-ca.pem",
                           manufacturer_root_ca=directory / "manufacturer-root-ca.pem",
                           cert=directory / "station-cert.pem", key=directory / "station-key.pem",
                           log=directory / "security.log")
    csms: dict[str, Any] = {}
    if profile in (1, 2):
        ocpp["AuthorizationKey"] = DEMO_KEY
        csms["basic_auth"] = {"DEMO001": bytes.fromhex(DEMO_KEY)}
    if profile >= 2:
        ca = DevCa("ocpp-station demo CA")
        cert, key = ca.server_files("127.0.0.1", directory / "csms")
        sec.csms_root_ca.write_text(ca.pem)
        csms["ssl"] = server_context(cert, key, ca.pem, require_client_cert=profile == 3)
        csms["ca"] = ca
        if profile == 3:
            from cryptography.x509.oid import ExtendedKeyUsageOID

            station_key = ec.generate_private_key(ec.SECP256R1())
            sec.cert.write_text(_pem(ca._issue(station_key.public_key(), "DEMO001", None,
                                               ExtendedKeyUsageOID.CLIENT_AUTH)))
            sec.key.touch(mode=0o600)
            sec.key.write_text(_key_pem(station_key))
    return csms, sec


async def run_demo(control: tuple[str, int] | None = ("127.0.0.1", 8180), keep_running: bool = False,
                   speed: float = 1.0, stall_timeout: float = 15.0, security_profile: int | None = None) -> int:
    """Play the scripted session; 0 when it completed or was stopped (SIGINT/SIGTERM end it at once),
    1 when it stalled (a step's frame did not come within ``stall_timeout`` s), 2 when the control
    address cannot be bound. ``speed`` (> 0) divides the script's pauses.

    With ``keep_running`` the station stays up afterwards (until SIGINT/SIGTERM), also after a stall:
    the page may well have caused it (network down, a fault...). A power cut from the page restarts
    the station in the process on its store instead of ending the process (which would end the dev
    CSMS and the page's server with it).

    ``security_profile`` (0-3) gives the station the security extension at that profile: the CSMS then
    checks the demo key with Basic auth (1, 2), serves wss:// with a CA made for the demo (2, 3) and wants
    the station's certificate, signed by that CA (3). The files go to a temporary directory."""
    if not (speed > 0 and speed != float("inf")):
        raise ValueError(f"speed must be a number > 0, got {speed!r}")
    ocpp = {"MeterValueSampleInterval": "4",
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,SoC"}
    csms_args, security = _demo_security(security_profile, ocpp)
    async with DevCsms(log_frames=False, boot_interval=30, **csms_args) as csms:  # idTags: the test cards
        settings = RunSettings(
            station=StationSettings(identity="DEMO001", ocpp=ocpp, security=security),
            csms_url=csms.url,
            data_dir=None,
            control_listen=control,
            config_path=None,
            reconnect_min=0.2,
            reconnect_max=2.0,
        )
        rt = StationRuntime(settings, MemoryStore, power_cut_restarts=True)
        try:
            await rt.open_control()  # before any URL is printed: the address may belong to another program
        except ControlListenError as exc:
            rt.store.close()
            print(f"ocpp-station: --control: {exc}", file=sys.stderr)
            return 2
        tl = Timeline()
        rt.frames.listeners.append(tl.frame)
        print(f"Development CSMS on {csms.url}; station DEMO001 connecting.")
        control = rt.control_address or control  # the port actually bound (--control HOST:0 picks one)
        host = f"[{control[0]}]" if control and ":" in control[0] else control[0] if control else ""
        if control:
            print(f"HMI page: http://{host}:{control[1]}/  (watch and drive the station in a browser)", flush=True)
            print(f"Control API: http://{host}:{control[1]}/api/state", flush=True)
        booted = tl.expect(lambda r: r.direction == "out" and r.action == "StatusNotification"
                           and orjson.loads(r.text)[3]["connectorId"] == 1)
        task = asyncio.create_task(rt.run())  # SIGINT/SIGTERM stop it (its handlers); the script then ends
        wait = lambda fut: tl.wait(fut, stall_timeout, task)  # noqa: E731

        async def pause(seconds: float) -> None:  # the script's own pacing; ends early when the station stops
            await asyncio.wait({task}, timeout=seconds / speed)
            if task.done():
                raise Stopped

        try:
            await wait(booted)
            await pause(1)
            tl.note(f"the CSMS reserves connector 1 for card {ID_TAG} (Reservation profile)")
            reserved = tl.expect(_call("StatusNotification", "Reserved"))
            link = await csms.wait_connected(settings.station.identity)
            expiry = datetime.now(timezone.utc) + timedelta(minutes=15)
            await link.call("ReserveNow", {"connectorId": 1, "idTag": ID_TAG, "reservationId": RESERVATION_ID,
                                           "expiryDate": expiry.isoformat(timespec="milliseconds").replace("+00:00", "Z")})
            await wait(reserved)
            await pause(1)
            tl.note("the driver plugs the car in")
            preparing = tl.expect(_call("StatusNotification", "Preparing"))
            rt.feed(rt.hardware.plug_in(1, rt.now()))
            await wait(preparing)
            await pause(1)
            tl.note(f"the driver presents card {ID_TAG}")
            started = tl.expect(_call("StartTransaction"))
            rt.feed([CardPresented(ID_TAG, 1)])
            await wait(started)
            tl.note("charging at 11 kW; MeterValues every 4 s")
            for _ in range(2):
                await wait(tl.expect(_call("MeterValues")))
            await pause(1)
            tl.note("the car pauses (SuspendedEV), then resumes")
            suspended = tl.expect(_call("StatusNotification", "SuspendedEV"))
            rt.feed(rt.hardware.set_ev(1, False, None, rt.now()))
            await wait(suspended)
            await pause(1)
            charging = tl.expect(_call("StatusNotification", "Charging"))
            rt.feed(rt.hardware.set_ev(1, True, None, rt.now()))
            await wait(charging)
            await pause(2)
            tl.note(f"the driver presents card {ID_TAG} again to stop")
            stopped = tl.expect(_call("StopTransaction"))
            finishing = tl.expect(_call("StatusNotification", "Finishing"))
            rt.feed([CardPresented(ID_TAG, 1)])
            stop = await wait(stopped)
            await wait(finishing)
            await pause(1)
            tl.note("the driver unplugs the cable")
            available = tl.expect(_call("StatusNotification", "Available"))
            rt.feed(rt.hardware.plug_out(1, "both", rt.now()))
            await wait(available)
            p = orjson.loads(stop.text)[3]
            start = orjson.loads(next(r.text for r in rt.frames.records if r.action == "StartTransaction" and r.kind == "CALL"))[3]
            used = f", reservation {start['reservationId']} used" if "reservationId" in start else ""
            print(f"\nSession done: transaction {p['transactionId']}, {p['meterStop'] - start['meterStart']} Wh "
                  f"delivered, reason {p.get('reason', 'Local')}{used}.")
            if keep_running:
                where = f" — HMI page http://{host}:{control[1]}/" if control else ""
                print(f"Still running (--keep-running){where}; Ctrl-C to stop.")
                await task
            return 0
        except Stopped:
            print("\nStopped before the end of the scripted session.", flush=True)
            return 0
        except TimeoutError:
            if not keep_running:
                print("demo: the scripted session stalled", file=sys.stderr)
                return 1
            tl.note(f"the scripted session stalled (no frame for {stall_timeout:g} s: the station was driven "
                    "from elsewhere?); the station stays up")
            where = f" — HMI page http://{host}:{control[1]}/" if control else ""
            print(f"Still running (--keep-running){where}; Ctrl-C to stop.", flush=True)
            await task
            return 0
        finally:
            rt.stop()
            if not task.done():
                await task
