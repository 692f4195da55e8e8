"""``ocpp-station keys``: every OCPP configuration key the station accepts, with type, access and default.

The list is read from the registry of a station built with the given settings (core keys for this
hardware shape plus the keys of every feature), the same one GetConfiguration and ChangeConfiguration
use, so it cannot drift from what the station does.
"""

from __future__ import annotations

import random
from typing import Any

from .core.configuration import KeySpec
from .core.settings import StationSettings

_TYPES = {"int": "integer", "bool": "boolean", "csl": "CSL", "str": "string"}


def _access(spec: KeySpec) -> str:
    if spec.write_only:
        return "W"  # never revealed by GetConfiguration
    return "R" if spec.readonly else "RW"


def key_rows(settings: StationSettings | None = None) -> list[dict[str, Any]]:
    """One dict per key, in the registry's order: key, type, access, default, profile, and when they
    apply minimum, maximum, maxItems, rebootRequired, and value (the config file's [ocpp] value)."""
    from .assembly import build_station
    from .store import MemoryStore

    settings = settings or StationSettings()
    store = MemoryStore()
    station = build_station(settings, store, rng=random.Random(0))
    rows = []
    for name, spec in station.config.specs.items():
        row: dict[str, Any] = {
            "key": name,
            "type": _TYPES.get(spec.kind, spec.kind),
            "access": _access(spec),
            "default": spec.default,
            "profile": spec.profile,
        }
        if spec.minimum is not None:
            row["minimum"] = spec.minimum
        if spec.maximum is not None:
            row["maximum"] = spec.maximum
        if spec.max_items is not None:
            row["maxItems"] = spec.max_items
        if spec.reboot_required:
            row["rebootRequired"] = True
        if name in settings.ocpp and not spec.write_only:
            row["value"] = station.config.text(name)
        rows.append(row)
    store.close()
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table: KEY TYPE ACCESS DEFAULT NOTES (range, list length, the config file's value)."""
    lines = [("KEY", "TYPE", "ACCESS", "DEFAULT", "NOTES")]
    for r in rows:
        notes = []
        if "minimum" in r and "maximum" in r:
            notes.append(f"{r['minimum']}..{r['maximum']}")
        elif "minimum" in r:
            notes.append(f">= {r['minimum']}")
        elif "maximum" in r:
            notes.append(f"<= {r['maximum']}")
        if "maxItems" in r:
            notes.append(f"at most {r['maxItems']} item{'s' if r['maxItems'] != 1 else ''}")
        if r.get("rebootRequired"):
            notes.append("reboot required")
        if r["access"] == "W":
            notes.append("write-only")
        if "value" in r:
            notes.append(f"config file: {r['value']}")
        if r["profile"] != "Core":
            notes.append(f"profile {r['profile']}")
        default = r["default"] if r["default"] != "" else '""'
        lines.append((r["key"], r["type"], r["access"], default, "; ".join(notes)))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "".join(
        ("  ".join(cell.ljust(w) for cell, w in zip(line[:4], widths)) + "  " + line[4]).rstrip() + "\n"
        for line in lines
    )
