"""Small shared steps of the end-to-end conformance tests (the dev CSMS side of an OCTT case)."""

from __future__ import annotations

SN = "StatusNotification"
SOCKET = {"fixed_cable": False, "connector_lock": True}  # a socket station with a cable lock


def status(call) -> tuple[int, str, str]:
    """(connectorId, status, errorCode) of a StatusNotification."""
    assert call.action == SN, call
    return call.payload["connectorId"], call.payload["status"], call.payload["errorCode"]


async def configure(link, **keys) -> None:
    """OCTT "Configuration State": ChangeConfiguration for each key, each Accepted."""
    for key, value in keys.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        assert await link.call("ChangeConfiguration", {"key": key, "value": text}) == {"status": "Accepted"}, key


def split(calls) -> dict[str, object]:
    """{action: call} of an expect_unordered result (each action once)."""
    out = {c.action: c for c in calls}
    assert len(out) == len(calls), [c.action for c in calls]
    return out
