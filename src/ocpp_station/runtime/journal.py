"""Logging to the systemd journal with structured fields (docs/deploy.md).

When systemd connects stderr to the journal it says so in ``JOURNAL_STREAM`` ("<device>:<inode>" of that
stream); ``ocpp-station run`` then sends its log records over the journal's native protocol instead, each
with fields a query can select on: ``OCPP_IDENTITY`` (the station), ``OCPP_CONNECTOR`` and
``OCPP_TRANSACTION_ID`` (when the line names a connector or a transaction), ``PRIORITY``, ``LOGGER``:

    journalctl -u ocpp-station OCPP_TRANSACTION_ID=42
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct

SOCKET = "/run/systemd/journal/socket"
_CONNECTOR = re.compile(r"\bconnector (\d+)\b")
_TRANSACTION = re.compile(r"\btransaction (\d+)\b")
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def stderr_is_journal(environ: dict[str, str] | None = None, fd: int = 2) -> bool:
    """True when ``fd`` is the stream systemd named in JOURNAL_STREAM."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def _field(name: str, value: str) -> bytes:
    data = value.encode("utf-8", "replace")
    if b"\n" in data:  # the binary-safe form: name, newline, 64-bit little-endian length, the bytes
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return name.encode() + b"=" + data + b"\n"


class JournalHandler(logging.Handler):
    def __init__(self, identity: str, path: str = SOCKET) -> None:
        super().__init__()
        self.identity = identity
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def fields(self, record: logging.LogRecord) -> dict[str, str]:
        message = self.format(record)
        out = {
            "MESSAGE": message,
            "PRIORITY": str(_PRIORITY.get(record.levelno, 6)),
            "SYSLOG_IDENTIFIER": "ocpp-station",
            "LOGGER": record.name,
            "OCPP_IDENTITY": self.identity,
        }
        text = record.getMessage()
        if m := _CONNECTOR.search(text):
            out["OCPP_CONNECTOR"] = m.group(1)
        if m := _TRANSACTION.search(text):
            out["OCPP_TRANSACTION_ID"] = m.group(1)
        return out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = b"".join(_field(k, v) for k, v in self.fields(record).items())
            self.sock.sendto(data, self.path)
        except Exception:  # noqa: BLE001 - logging must never stop the station
            self.handleError(record)

    def close(self) -> None:
        self.sock.close()
        super().close()


def install(identity: str, path: str = SOCKET) -> bool:
    """Send the log to the journal, with fields, when stderr is the journal; True when it does."""
    if not stderr_is_journal() or not os.path.exists(path):
        return False
    root = logging.getLogger()
    handler = JournalHandler(identity, path)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    return True
