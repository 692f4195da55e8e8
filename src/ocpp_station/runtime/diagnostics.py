"""The diagnostics archive GetDiagnostics uploads: a zip file with

* ``station.log``: the station's log lines (every level from DEBUG, kept in memory, the last
  ``LogRing.size``) between startTime and stopTime;
* ``frames.log``: the OCPP frames between startTime and stopTime, from the rotating frame log
  (``[logging] frame_log``) when there is one, else from the recent frames kept in memory;
* ``configuration.json``: every OCPP configuration key and its value (AuthorizationKey left out), the
  station's settings;
* ``queue.json``: the transaction-message queue (action, attempts, transaction of each message) and how
  many records each store namespace holds.

No private key and no password is in it: AuthorizationKey is left out, no key file is read.
:func:`build_security_log` writes the file GetLog(SecurityLog) uploads: the security log's lines (its
rolled-over part first) within the window.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


class LogRing(logging.Handler):
    """The station's recent log records in memory (wall time, formatted line)."""

    def __init__(self, size: int = 20000) -> None:
        super().__init__(logging.DEBUG)
        self.size = size
        self.records: deque[tuple[float, str]] = deque(maxlen=size)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append((record.created, self.format(record)))
        except Exception:  # noqa: BLE001 - logging must never fail the station
            self.handleError(record)

    def lines(self, start: float | None, stop: float | None) -> list[str]:
        return [f"{_stamp(t)} {text}" for t, text in list(self.records) if _within(t, start, stop)]


def _stamp(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _within(t: float, start: float | None, stop: float | None) -> bool:
    return (start is None or t >= start) and (stop is None or t <= stop)


def _parse_stamp(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def frame_lines(frame_file: Path | None, backups: int, recent: list[Any], start: float | None,
                stop: float | None) -> list[str]:
    """The frames between start and stop: from the rotating file and its backups (oldest first) if there is
    one, else the records kept in memory."""
    if frame_file is not None:
        files = [Path(f"{frame_file}.{i}") for i in range(backups, 0, -1)] + [Path(frame_file)]
        out = []
        for f in files:
            try:
                text = f.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                t = _parse_stamp(line.partition(" ")[0])
                if t is not None and _within(t, start, stop):
                    out.append(line)
        return out
    return [f"{_stamp(r.time)} {r.direction} {r.text}" for r in recent if _within(r.time, start, stop)]


def queue_summary(station: Any) -> dict[str, Any]:
    store = station.store
    namespaces = {}
    for ns in ("config", "availability", "auth_cache", "local_list", "transactions", "finishing", "reservations",
               "registration", "firmware", "diagnostics", "security", "security_log"):
        try:
            namespaces[ns] = len(store.items(ns))
        except Exception:  # noqa: BLE001 - a namespace the store does not know
            continue
    return {
        "transactionMessages": [
            {"action": m.action, "uniqueId": m.unique_id, "transaction": m.tx, "attempts": m.attempts}
            for m in station.tx_queue
        ],
        "storeRecords": namespaces,
    }


def configuration(station: Any) -> dict[str, Any]:
    keys = {}
    for name, spec in sorted(station.config.specs.items()):
        if spec.write_only:
            continue
        keys[name] = {"value": station.config.text(name), "readonly": spec.readonly, "profile": spec.profile}
    s = station.settings
    return {
        "identity": s.identity,
        "vendor": s.vendor,
        "model": s.model,
        "firmwareVersion": station.feature["Boot"].payload().get("firmwareVersion"),
        "connectors": s.connectors,
        "keys": keys,
    }


def build_archive(dest: Path, station: Any, ring: LogRing | None, frame_file: Path | None, backups: int,
                  recent: list[Any], start: float | None, stop: float | None) -> int:
    """Write the archive to ``dest`` (through a temporary name); returns its size."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    window = {"startTime": _stamp(start) if start else None, "stopTime": _stamp(stop) if stop else None}
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("station.log", "\n".join(ring.lines(start, stop) if ring else []) + "\n")
        z.writestr("frames.log", "\n".join(frame_lines(frame_file, backups, recent, start, stop)) + "\n")
        z.writestr("configuration.json", json.dumps(configuration(station), indent=2))
        z.writestr("queue.json", json.dumps({**queue_summary(station), "window": window}, indent=2))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    return dest.stat().st_size


def build_security_log(dest: Path, log_path: Path | None, memory: list[str], start: float | None,
                       stop: float | None) -> int:
    """Write the security log's lines between start and stop to ``dest``; returns its size. From the file (and
    its rolled-over ``.1``) when there is one, else the lines kept in memory. A line is ``<timestamp> <text>``."""
    if log_path is not None:
        lines: list[str] = []
        for f in (log_path.with_name(log_path.name + ".1"), log_path):
            try:
                lines += f.read_text(encoding="utf-8", errors="replace").splitlines()
            except FileNotFoundError:
                continue
    else:
        lines = list(memory)
    kept = []
    for line in lines:
        t = _parse_stamp(line.partition(" ")[0])
        if t is None or _within(t, start, stop):
            kept.append(line)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in kept))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    return dest.stat().st_size
