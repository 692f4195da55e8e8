"""[hardware] meter and rfid: the parts are chosen per key, and a part that cannot be used is one line naming
the file and the key (missing device, permission denied, bad map, missing address)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocpp_station import config
from ocpp_station.assembly import station_hardware
from ocpp_station.hardware.composite import CompositeHardware
from ocpp_station.hardware.modbus import ModbusMeter
from ocpp_station.hardware.rfid import SerialCardReader
from ocpp_station.hardware.simulated import SimulatedHardware


def load(tmp_path: Path, hardware: str) -> config.RunSettings:
    p = tmp_path / "station.toml"
    p.write_text(f"[hardware]\n{hardware}\n")
    return config.load_settings(p)


def error(tmp_path: Path, hardware: str) -> str:
    with pytest.raises(config.ConfigError) as e:
        load(tmp_path, hardware)
    text = str(e.value)
    prefix = f"{tmp_path / 'station.toml'}: "
    assert text.startswith(prefix) and "\n" not in text, text
    return text.removeprefix(prefix)


def test_every_part_is_simulated_by_default(tmp_path):
    run = load(tmp_path, "")
    assert run.hardware.simulated
    assert isinstance(station_hardware(run), SimulatedHardware)


def test_a_modbus_meter_and_a_serial_reader_beside_the_simulated_parts(tmp_path):
    master, slave = os.openpty()
    try:
        dev = os.ttyname(slave)
        run = load(tmp_path, f'connectors = 2\nmeter = "modbus-tcp"\nmeter_host = "10.0.0.5"\nmeter_unit = [1, 2]\n'
                             f'meter_map = "em340"\nrfid = "serial"\nrfid_device = "{dev}"\nrfid_format = "hex"\n'
                             'rfid_connector = 2\nrfid_debounce = 1.5')
        m, r = run.hardware.meter, run.hardware.rfid
        assert (m.kind, m.host, m.port, m.units, m.map) == ("modbus-tcp", "10.0.0.5", 502, [1, 2], "em340")
        assert (r.kind, r.device, r.format, r.connector, r.debounce) == ("serial", dev, "hex", 2, 1.5)
        hw = station_hardware(run)
        assert isinstance(hw, CompositeHardware) and isinstance(hw.sim, SimulatedHardware)
        assert [type(d) for d in hw.devices] == [ModbusMeter, SerialCardReader]
        assert hw.meter.units == {1: 1, 2: 2}
        # the measurands are the meter's: the EM340 map has no neutral current; the offer is the station's
        assert hw.supports_measurand("Voltage.L2-L3") and hw.supports_measurand("Power.Offered")
        assert not hw.supports_measurand("Current.Import.N") and not hw.supports_measurand("SoC")
    finally:
        os.close(master)
        os.close(slave)


def test_the_ocpp_measurands_are_checked_against_the_configured_meter(tmp_path):
    text = error(tmp_path, 'meter = "modbus-tcp"\nmeter_host = "h"\n[ocpp]\nMeterValuesSampledData = "SoC"')
    assert text.startswith("ocpp.MeterValuesSampledData: ") and "unsupported item(s): SoC" in text
    run = load(tmp_path, 'meter = "modbus-tcp"\nmeter_host = "h"\n[ocpp]\n'
                         'MeterValuesSampledData = "Energy.Active.Export.Register,Current.Import.N"')
    assert run.station.ocpp["MeterValuesSampledData"] == "Energy.Active.Export.Register,Current.Import.N"


@pytest.mark.parametrize("hardware, expected", [
    ('meter = "modbus"', 'hardware.meter: expected "simulated" or "modbus-tcp" or "modbus-rtu", got "modbus"'),
    ('meter = "modbus-tcp"', "hardware.meter_host: meter = \"modbus-tcp\" needs the meter's address (meter_host)"),
    ('meter = "modbus-rtu"', 'hardware.meter_device: meter = "modbus-rtu" needs the serial port (meter_device)'),
    ('meter = "modbus-rtu"\nmeter_device = "/dev/ttyNOPE0"',
     'hardware.meter_device: expected a device path, got "/dev/ttyNOPE0" (no such device)'),
    ('meter = "modbus-tcp"\nmeter_host = "h"\nmeter_map = "nope.toml"',
     "hardware.meter_map: expected 'sdm630', 'em340' or a TOML register map, got 'nope.toml' (No such file or directory)"),
    ('connectors = 2\nmeter = "modbus-tcp"\nmeter_host = "h"',
     "hardware.meter_unit: a station of several connectors needs a list of unit ids, one per connector's meter"),
    ('meter_unit = 300', "hardware.meter_unit: expected a Modbus unit id from 1 to 247, or a list of them (one per "
                         "connector), got 300"),
    ('rfid = "nfc"', 'hardware.rfid: expected "simulated" or "serial" or "evdev", got "nfc"'),
    ('rfid = "serial"', 'hardware.rfid_device: rfid = "serial" needs the reader\'s device (rfid_device)'),
    ('rfid = "serial"\nrfid_device = "/dev/ttyNOPE1"',
     'hardware.rfid_device: expected a device path, got "/dev/ttyNOPE1" (no such device)'),
    ('rfid_format = "octal"', 'hardware.rfid_format: expected "text" or "hex" or "decimal", got "octal"'),
    ('rfid_connector = 2', "hardware.rfid_connector: expected an integer from 1 to 1, got 2"),
])
def test_a_part_that_cannot_be_used_is_one_line_naming_the_key(tmp_path, hardware, expected):
    assert error(tmp_path, hardware) == expected


def test_a_bad_register_map_file_names_meter_map(tmp_path):
    (tmp_path / "m.toml").write_text('[registers]\n"Frequency" = { address = 1 }\n')
    assert error(tmp_path, 'meter = "modbus-tcp"\nmeter_host = "h"\nmeter_map = "m.toml"') == (
        "hardware.meter_map: no register for Energy.Active.Import.Register (the transaction's meter values need it)")


def test_permission_denied_on_a_device_is_one_line(tmp_path, monkeypatch):
    p = tmp_path / "ttyFAKE"
    p.write_text("")
    p.chmod(0o400)
    if os.geteuid() == 0:  # root may open anything: the access check answers as for another user
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: str(path) != str(p) and real(path, mode, **kw))
    assert error(tmp_path, f'rfid = "serial"\nrfid_device = "{p}"').endswith("(permission denied: add the user to "
                                                                          "the device's group, e.g. dialout or input)")


@pytest.mark.skipif(__import__("importlib.util").util.find_spec("evdev") is not None, reason="evdev is installed")
def test_evdev_without_the_package_is_one_line(tmp_path):
    assert error(tmp_path, 'rfid = "evdev"\nrfid_device = "/dev/null"') == (
        'hardware.rfid: rfid = "evdev" needs the evdev package (pip install evdev)')


def test_an_evse_board_beside_a_modbus_meter_on_the_same_gateway(tmp_path):
    run = load(tmp_path, 'connectors = 2\nvoltage = 220\nmax_current = 20\nmeter = "modbus-tcp"\n'
                         'meter_host = "10.0.0.5"\nmeter_unit = [1, 2]\nev = "modbus-tcp"\nev_host = "10.0.0.5"\n'
                         'ev_unit = [11, 12]\nev_phases = 1\nev_poll_interval = 0.5')
    e = run.hardware.ev
    assert (e.kind, e.host, e.port, e.units, e.phases, e.poll_interval, e.map) == (
        "modbus-tcp", "10.0.0.5", 502, [11, 12], 1, 0.5, "evse-din")
    hw = station_hardware(run)
    assert isinstance(hw, CompositeHardware) and hw.ev in hw.devices
    assert hw.ev.units == {1: 11, 2: 12} and hw.ev.settings.voltage == 220 and hw.ev.cap == 20
    hw.set_limit(2, None, 0.0)
    assert hw.ev._wanted[2] == 20  # the board's maximum, capped by [hardware] max_current


@pytest.mark.parametrize("hardware, expected", [
    ('ev = "cp"', 'hardware.ev: expected "simulated" or "modbus-tcp" or "modbus-rtu", got "cp"'),
    ('ev = "modbus-tcp"', "hardware.ev_host: ev = \"modbus-tcp\" needs the EVSE board's address (ev_host)"),
    ('ev = "modbus-rtu"', 'hardware.ev_device: ev = "modbus-rtu" needs the serial port (ev_device)'),
    ('ev = "modbus-rtu"\nev_device = "/dev/ttyNOPE2"',
     'hardware.ev_device: expected a device path, got "/dev/ttyNOPE2" (no such device)'),
    ('ev = "modbus-tcp"\nev_host = "h"\nev_map = "nope.toml"', "hardware.ev_map: cannot read the board map 'nope.toml'"),
    ('connectors = 2\nev = "modbus-tcp"\nev_host = "h"',
     "hardware.ev_unit: a station of several connectors needs a list of unit ids, one per connector's EVSE board"),
    ('ev_phases = 2', "hardware.ev_phases: expected 1 or 3, got 2"),
])
def test_an_evse_board_that_cannot_be_used_is_one_line(tmp_path, hardware, expected):
    assert error(tmp_path, hardware).startswith(expected)
