"""``ocpp-station keys``: the key list comes from the station's own registry."""

from __future__ import annotations

import random

from ocpp_station.assembly import build_station
from ocpp_station.core.settings import StationSettings
from ocpp_station.keylist import format_table, key_rows
from ocpp_station.store import MemoryStore


def test_every_key_of_the_station_registry_with_type_access_and_default():
    settings = StationSettings()
    store = MemoryStore()
    station = build_station(settings, store, rng=random.Random(0))
    rows = key_rows(settings)
    assert [r["key"] for r in rows] == list(station.config.specs)
    by_key = {r["key"]: r for r in rows}
    assert by_key["HeartbeatInterval"] == {"key": "HeartbeatInterval", "type": "integer", "access": "RW",
                                           "default": "10", "profile": "Core", "minimum": 0}
    assert by_key["NumberOfConnectors"] == {"key": "NumberOfConnectors", "type": "integer", "access": "R",
                                            "default": "1", "profile": "Core"}
    assert by_key["AuthorizationKey"]["access"] == "W"  # write-only, never read back
    assert by_key["MeterValuesSampledData"]["type"] == "CSL" and by_key["MeterValuesSampledData"]["maxItems"] == 10
    assert by_key["LightIntensity"]["maximum"] == 100
    # [ERRATA] 3.84/3.85: with a fixed cable UnlockConnectorOnEVSideDisconnect is read-only
    assert by_key["UnlockConnectorOnEVSideDisconnect"]["access"] == "R"


def test_the_hardware_shape_and_the_config_values_show():
    rows = {r["key"]: r for r in key_rows(StationSettings(connectors=2, fixed_cable=False,
                                                          ocpp={"HeartbeatInterval": "30"}))}
    assert rows["NumberOfConnectors"]["default"] == "2"
    assert rows["UnlockConnectorOnEVSideDisconnect"]["access"] == "RW"
    assert rows["HeartbeatInterval"]["value"] == "30"
    assert "value" not in rows["MeterValueSampleInterval"]


def test_table():
    text = format_table(key_rows())
    lines = text.splitlines()
    assert lines[0].split() == ["KEY", "TYPE", "ACCESS", "DEFAULT", "NOTES"]
    assert any(line.split() == ["HeartbeatInterval", "integer", "RW", "10", ">=", "0"] for line in lines)
    assert any(line.split() == ["AuthorizationKey", "string", "W", '""', "write-only"] for line in lines)
    assert all(line == line.rstrip() for line in lines)
