"""The journal's native protocol against a Unix datagram socket the test listens on: the fields of a record
(identity, connector, transaction), the binary-safe form of a multi-line message, and when stderr is the
journal (JOURNAL_STREAM)."""

from __future__ import annotations

import logging
import os
import socket
import struct

import pytest

from ocpp_station.runtime.journal import JournalHandler, stderr_is_journal


@pytest.fixture
def journal(tmp_path):
    path = str(tmp_path / "journal.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(5)
    yield s, path
    s.close()


def parse(data: bytes) -> dict[str, str]:
    out = {}
    while data:
        line, sep, rest = data.partition(b"\n")
        if b"=" in line:
            k, _, v = line.partition(b"=")
            out[k.decode()] = v.decode()
            data = rest
        else:  # binary-safe: name, newline, length, bytes, newline
            (n,) = struct.unpack("<Q", rest[:8])
            out[line.decode()] = rest[8 : 8 + n].decode()
            data = rest[8 + n + 1 :]
    return out


def record(msg: str, level: int = logging.INFO, name: str = "ocpp_station.session") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


def test_a_record_goes_out_with_the_station_connector_and_transaction(journal):
    sock, path = journal
    h = JournalHandler("CP001", path)
    h.setFormatter(logging.Formatter("%(message)s"))
    h.emit(record("connector 2: transaction 42 started for idTag 04A2B3C4 (Accepted), meterStart 1000 Wh"))
    assert parse(sock.recv(65536)) == {
        "MESSAGE": "connector 2: transaction 42 started for idTag 04A2B3C4 (Accepted), meterStart 1000 Wh",
        "PRIORITY": "6", "SYSLOG_IDENTIFIER": "ocpp-station", "LOGGER": "ocpp_station.session",
        "OCPP_IDENTITY": "CP001", "OCPP_CONNECTOR": "2", "OCPP_TRANSACTION_ID": "42",
    }
    h.emit(record("meter read failed\nsecond line", logging.WARNING, "ocpp_station.hardware.modbus"))
    got = parse(sock.recv(65536))
    assert got["MESSAGE"] == "meter read failed\nsecond line" and got["PRIORITY"] == "4"
    assert "OCPP_CONNECTOR" not in got and "OCPP_TRANSACTION_ID" not in got
    h.close()


def test_stderr_is_the_journal_only_when_journal_stream_names_it(tmp_path):
    f = tmp_path / "stream"
    with open(f, "w") as fh:
        st = os.fstat(fh.fileno())
        assert stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, fh.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, fh.fileno())
        assert not stderr_is_journal({}, fh.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": "garbage"}, fh.fileno())
