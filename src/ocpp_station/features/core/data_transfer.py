"""DataTransfer from the CSMS ([SPEC] §4.3/§5.6): vendor-specific messages.

This station knows no vendor extension of another vendor: any vendorId but its
own (in any letter case) gets UnknownVendorId (no data); its own vendorId with an unknown
messageId gets UnknownMessageId.
"""

from __future__ import annotations

from typing import Any

from ..base import Feature


class DataTransfer(Feature):
    def handlers(self):
        return {"DataTransfer": self.data_transfer}

    def data_transfer(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        # vendorId is a CiString255 ([SPEC] DataTransfer.req): compared case-insensitively (spec §2.3)
        if payload["vendorId"].lower() != self.station.settings.vendor.lower():
            return {"status": "UnknownVendorId"}
        return {"status": "UnknownMessageId"}
