"""The development central system (CSMS) used by tests, the demo and ``ocpp-station csms``."""

from .server import NO_ANSWER, CallErrorReceived, DevCsms, ReceivedCall, StationLink, serve_forever

__all__ = ["NO_ANSWER", "CallErrorReceived", "DevCsms", "ReceivedCall", "StationLink", "serve_forever"]
