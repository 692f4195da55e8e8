"""The test cards: one definition for the dev CSMS, the demo and the HMI's saved cards.

Every idTag not listed here is answered ``Accepted`` by the development CSMS
(its default idTagInfo); these answer what their names say, so ``INVALID01``
is invalid whether it is presented in the demo, on a station run against
``ocpp-station csms`` or through the operator API's policy.
"""

from __future__ import annotations

from typing import Any

DEMO_CARD = "04A2B3C4D5"  # the card of the demo's scripted session: Accepted (not listed below)

TEST_CARDS: dict[str, dict[str, Any]] = {
    "INVALID01": {"status": "Invalid"},
    "BLOCKED01": {"status": "Blocked"},
    "EXPIRED01": {"status": "Expired"},
}
"""idTag -> idTagInfo ([SPEC] §7.15 IdTagInfo, §7.14 AuthorizationStatus); every other idTag: Accepted."""


def default_id_tags() -> dict[str, dict[str, Any]]:
    """A fresh copy of :data:`TEST_CARDS` (callers may change theirs)."""
    return {tag: dict(info) for tag, info in TEST_CARDS.items()}
