"""The Station: the sans-I/O charge point that the runtime, the simulator and the tests drive.

Theory of operation
-------------------
Inputs, each with ``now``: :meth:`start` (power on), :meth:`connection_made`,
:meth:`connection_lost`, :meth:`receive` (a websocket frame),
:meth:`handle_event` (hardware), :meth:`handle_timer`.
Outputs: :meth:`data_to_send` (frames to write), :meth:`commands` (for the
runtime: reboot, ping interval...), :meth:`get_timer` (when to call
:meth:`handle_timer` next).

The facade owns the shared machinery (configuration, connectors, timers, the
RPC session and both send queues) and routes everything else to the feature
modules in ``features/``: each declares its configuration keys, the CSMS
actions it answers, and reacts to hooks (started, connected, accepted,
hardware event...). After every input the facade *pumps*: while the link is
up and no CALL is in flight it sends the next request the registration state
allows ([SPEC] §4.2: nothing but BootNotification before Accepted).
"""

from __future__ import annotations

import logging
import random
from typing import Any, Callable

from ..ocpp import session as rpc_session
from ..ocpp.rpc import CallError, ErrorCode, OcppError
from ..store.base import Store
from .clock import Clock, iso
from .commands import Command
from .configuration import Configuration
from .connector import Connector
from .events import Event
from .keys import core_keys
from .outbox import Request, Requests, TransactionQueue, TxMessage
from .settings import StationSettings
from .timers import Timers

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], float], dict[str, Any]]


class Registration:
    UNKNOWN = "Unknown"  # no BootNotification answered since this boot
    PENDING = "Pending"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class Station:
    def __init__(
        self,
        settings: StationSettings,
        store: Store,
        hardware: Any,
        features: list[type],
        rng: random.Random | None = None,
    ) -> None:
        # the core imports neither the feature modules nor a hardware implementation: the caller
        # (assembly.build_station, the runtime, the fleet, the tests) passes both in
        self.settings = settings  # identity, boot data, hardware shape
        self.store = store  # persistence (SQLite or memory)
        self.rng = rng or random.Random()  # every random choice (ids, jitter) comes from here
        self.hardware = hardware  # meter, lock, relay (hardware.base protocols)
        self.clock = Clock()  # wall clock = now + offset from the CSMS
        self.timers = Timers()  # named timers of the facade and the features
        self.connectors = [Connector(i) for i in range(settings.connectors + 1)]  # 0 = the charge point
        self.connected = False  # websocket up
        self._registration = Registration.UNKNOWN  # last BootNotification answer since this boot
        self.requests = Requests()  # non-transaction messages waiting to be sent
        self.tx_queue = TransactionQueue(store)  # persisted transaction messages
        self.handlers: dict[str, Handler] = {}  # CSMS action -> handler
        self.frames_in = 0  # frames received (counters for the control API and the fleet)
        self.frames_out = 0  # frames sent
        self._commands: list[Command] = []  # commands for the runtime
        self._out: list[str] = []  # frames for the runtime

        feature_classes = features
        profiles = ["Core"] + sorted(
            {c.profile for c in feature_classes if c.profile != "Core"}, key=_PROFILE_ORDER.index
        )
        keys = core_keys(
            connectors=settings.connectors,
            fixed_cable=settings.fixed_cable,
            measurand_ok=self.hardware.supports_measurand,
            feature_profiles=",".join(profiles),
        )
        for cls in feature_classes:
            keys.extend(cls.keys(settings))
        self.config = Configuration(keys, store, settings.ocpp)  # OCPP configuration keys
        self.session = rpc_session.Session(  # OCPP-J RPC: one CALL in flight, deadlines
            id_prefix=f"{self.rng.getrandbits(32):08x}",
            message_timeout=self.config["MessageTimeout"],
            max_frame_bytes=settings.max_frame_bytes,
        )
        self.config.on_change("MessageTimeout").append(
            lambda _n, v: setattr(self.session, "message_timeout", v)
        )
        self.features = [cls(self) for cls in feature_classes]  # in hook order
        self.feature = {type(f).__name__: f for f in self.features}  # by class name
        # the hooks of every CALL sent and every CSMS CALL answered, bound once, of the features that define
        # them (the others' are empty): the pump runs after every input
        self._on_call_sent = _overrides(self.features, "on_call_sent")
        self._after_call = _overrides(self.features, "after_call")
        # the features that react to hardware events (the features themselves: a bound method each would cost
        # every station ~64 bytes, for an input far rarer than a CALL)
        self._on_event = tuple(h.__self__ for h in _overrides(self.features, "on_event"))
        for f in self.features:
            for action, handler in f.handlers().items():
                if action in self.handlers:
                    raise ValueError(f"two features answer {action}")
                self.handlers[action] = handler

    # -- inputs -------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Power on: restore persisted state; the boot sequence starts when the link is up."""
        for f in self.features:
            f.on_start(now)
        self._pump(now)

    def connection_made(self, now: float) -> None:
        self.connected = True
        for f in self.features:
            f.on_connected(now)
        self._pump(now)

    def connection_lost(self, now: float) -> None:
        if not self.connected:
            return
        self.connected = False
        lost = self.session.connection_lost()
        if lost is not None and isinstance(lost.context, Request) and lost.context.on_failure:
            lost.context.on_failure(None, now)
        # a lost transaction message stays at the head of the queue: offline never counts as an attempt
        for f in self.features:
            f.on_disconnected(now)

    def receive(self, data: str | bytes, now: float) -> None:
        self.frames_in += 1
        for ev in self.session.receive(data, now):
            if isinstance(ev, rpc_session.CallReceived):
                self._dispatch(ev.call, now)
            elif isinstance(ev, rpc_session.CallAnswered):
                self._answered(ev.request, ev.payload, now)
            elif isinstance(ev, rpc_session.CallFailed):
                self._failed(ev.request, ev.error, now)
        self._pump(now)

    def handle_event(self, event: Event, now: float) -> None:
        for f in self._on_event:
            f.on_event(event, now)
        self._pump(now)

    def handle_timer(self, now: float) -> None:
        for ev in self.session.handle_timer(now):
            assert isinstance(ev, rpc_session.CallTimedOut)
            log.warning("%s %s timed out", ev.request.action, ev.request.unique_id)
            self._failed(ev.request, None, now)
        self.timers.fire_due(now)
        self._pump(now)

    # -- outputs ----------------------------------------------------------------------

    def data_to_send(self) -> list[str]:
        out = self._out
        out.extend(self.session.data_to_send())
        self._out = []
        self.frames_out += len(out)
        return out

    def commands(self) -> list[Command]:
        out, self._commands = self._commands, []
        return out

    def get_timer(self) -> float | None:
        best = self.timers.next_deadline()
        t = self.session.get_timer()
        if t is not None and (best is None or t < best):
            best = t
        if self.connected and not self.session.busy and self.registration == Registration.ACCEPTED:
            t = self.tx_queue.next_retry()
            if t is not None and (best is None or t < best):
                best = t
        return best

    # -- services for the features ----------------------------------------------------

    def command(self, cmd: Command) -> None:
        self._commands.append(cmd)

    def send(self, request: Request) -> None:
        """Queue a non-transaction request (sent when the link and the registration allow)."""
        self.requests.append(request)

    def send_transaction_message(
        self, action: str, payload: dict[str, Any], tx: str, connector_id: int | None = None
    ) -> TxMessage:
        """Persist a transaction message; it is in the store when this returns."""
        return self.tx_queue.append(self.session.new_id(), action, payload, tx, connector_id)

    def timestamp(self, now: float) -> str:
        return iso(self.clock.wall(now))

    @property
    def registration(self) -> str:
        return self._registration

    @registration.setter
    def registration(self, value: str) -> None:
        self._registration = value
        # spec §2.2, [SPEC] §4.2: while Rejected answer nothing, not even a CALLERROR for a bad frame
        self.session.drop_calls = value == Registration.REJECTED

    @property
    def accepted(self) -> bool:
        return self.registration == Registration.ACCEPTED

    def connector(self, connector_id: int) -> Connector:
        return self.connectors[connector_id]

    def pump(self, now: float) -> None:
        self._pump(now)

    # -- internals -----------------------------------------------------------------------

    def _dispatch(self, call: Any, now: float) -> None:
        # while Rejected the session drops CALLs before they get here (see the registration setter)
        handler = self.handlers.get(call.action)
        if handler is None:
            self.session.send_error(call.unique_id, ErrorCode.NOT_SUPPORTED, f"{call.action} is not supported")
            return
        try:
            payload = handler(call.payload, now)
            self.session.send_result(call.unique_id, call.action, payload)
        except OcppError as exc:
            self.session.send_error(call.unique_id, exc.code, exc.description, exc.details)
        except Exception as exc:  # a bug must not stop the station: answer InternalError, keep going
            log.exception("handler of %s failed", call.action)
            self.session.send_error(call.unique_id, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}")
        for hook in self._after_call:
            hook(call.action, now)

    def _answered(self, req: rpc_session.OutgoingCall, payload: dict[str, Any], now: float) -> None:
        ctx = req.context
        if isinstance(ctx, TxMessage):
            self.tx_queue.answered(ctx, payload, now)
        elif isinstance(ctx, Request) and ctx.on_answer:
            ctx.on_answer(payload, now)

    def _failed(self, req: rpc_session.OutgoingCall, error: CallError | None, now: float) -> None:
        ctx = req.context
        if error is not None:
            log.warning("%s %s failed: %s %s", req.action, req.unique_id, error.error_code, error.description)
        if isinstance(ctx, TxMessage):
            self.tx_queue.failed(
                ctx, now, self.config["TransactionMessageAttempts"], self.config["TransactionMessageRetryInterval"]
            )
        elif isinstance(ctx, Request) and ctx.on_failure:
            ctx.on_failure(error, now)

    def _pump(self, now: float) -> None:
        session = self.session
        while self.connected and not session.busy:
            accepted = self.accepted
            req = self.requests.pop(accepted)
            if req is not None:
                try:
                    session.send_call(req.action, req.payload, now, context=req)
                except OcppError as exc:  # our own payload broke the schema: a bug, log it and go on
                    log.error("not sending %s: %s", req.action, exc)
                    continue
            elif accepted and (msg := self.tx_queue.head(now)) is not None:
                try:
                    session.send_call(msg.action, msg.payload, now, unique_id=msg.unique_id, context=msg)
                except OcppError as exc:
                    log.error("dropping invalid %s: %s", msg.action, exc)
                    self.tx_queue.failed(msg, now, 1, 0)
                    continue
            else:
                return
            for hook in self._on_call_sent:
                hook(now)

    # -- the control API's view ------------------------------------------------------------

    def state(self, now: float) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "identity": self.settings.identity,
            "registration": self.registration,
            "connected": self.connected,
            "time": self.timestamp(now),
            "queuedTransactionMessages": len(self.tx_queue),
            "connectors": [],
        }
        for c in self.connectors:
            entry: dict[str, Any] = {
                "connectorId": c.id,
                "status": c.status.value,
                "errorCode": c.error_code,
                "info": c.info,
            }
            for f in self.features:
                f.describe_connector(c.id, entry, now)
            doc["connectors"].append(entry)
        for f in self.features:
            f.describe(doc, now)
        return doc


def _overrides(features: list[Any], hook: str) -> list[Callable[..., None]]:
    """The bound ``hook`` methods of the features, in hook order, without those marked ``empty_hook`` (the
    feature base class's hooks that do nothing)."""
    return [getattr(f, hook) for f in features if not getattr(getattr(type(f), hook, None), "empty_hook", False)]


_PROFILE_ORDER = ["Core", "FirmwareManagement", "LocalAuthListManagement", "Reservation", "SmartCharging", "RemoteTrigger", "Security"]
