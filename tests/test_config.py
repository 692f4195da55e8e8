"""The config file and the run options (INTERFACE.md: "Config file", "Command line")."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_station.config import ConfigError, RunSettings, load_settings, parse_host_port
from ocpp_station.core.settings import StationSettings

FULL = """
[station]
identity = "CP042"
csms_url = "wss://csms.example.com:8443/ocpp"
vendor = "ACME"
model = "Box-22"
serial_number = "SN-0001"
firmware_version = "1.2.3"
data_dir = "state"
boot_retry_interval = 15
max_frame_bytes = 65536
reconnect_min_delay = 0.5
reconnect_max_delay = 60
authorization_key_encoding = "hex"

[hardware]
connectors = 2
fixed_cable = false
connector_lock = true

[ocpp]
HeartbeatInterval = 300
MeterValueSampleInterval = 60
LocalPreAuthorize = true
StopTransactionOnInvalidId = false
MeterValuesSampledData = "Energy.Active.Import.Register,Power.Active.Import,Voltage.L1"
ConnectionTimeOut = "90"

[control]
listen = "127.0.0.1:8180"
"""


def write(tmp_path: Path, text: str, name: str = "station.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error_of(path: Path | None, overrides: dict | None = None) -> str:
    with pytest.raises(ConfigError) as exc:
        load_settings(path, overrides or {})
    msg = str(exc.value)
    assert "\n" not in msg, msg  # one line
    return msg


# -- defaults, tables, overrides -----------------------------------------------------------


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(None, {})
    assert isinstance(s, RunSettings)
    assert s.station == StationSettings()  # identity CP001, the certified station's boot data and shape
    assert s.station.identity == "CP001"
    assert s.csms_url == "ws://127.0.0.1:9000/ocpp"
    assert s.data_dir == tmp_path / "var" / "CP001"
    assert s.control_listen is None
    assert s.config_path is None
    assert (s.reconnect_min, s.reconnect_max) == (1.0, 30.0)
    assert s.basic_auth_password_encoding == "raw"
    assert s.meter_start_wh == 1000


def test_voltage_and_max_current(tmp_path):
    """[hardware] voltage and max_current: the nominal voltage and per-phase current of charging limits."""
    s = load_settings(None, {}).station
    assert (s.voltage, s.max_current) == (230.0, 32.0)
    s = load_settings(write(tmp_path, "[hardware]\nvoltage = 110\nmax_current = 16.5\n"), {}).station
    assert (s.voltage, s.max_current) == (110.0, 16.5)


def test_meter_start_wh(tmp_path):
    assert load_settings(write(tmp_path, "[hardware]\nmeter_start_wh = 123456\n"), {}).meter_start_wh == 123456
    assert load_settings(write(tmp_path, "[hardware]\nmeter_start_wh = 0\n", "z.toml"), {}).meter_start_wh == 0


def test_meter_save_interval(tmp_path):
    assert StationSettings().meter_save_interval == 5.0
    s = load_settings(write(tmp_path, "[station]\nmeter_save_interval = 1\n"), {})
    assert s.station.meter_save_interval == 1.0 and isinstance(s.station.meter_save_interval, float)
    assert load_settings(write(tmp_path, "[station]\nmeter_save_interval = 0.5\n", "h.toml"), {}).station.meter_save_interval == 0.5


def test_stop_grace(tmp_path):
    assert load_settings(None, {}).stop_grace == 5.0
    assert load_settings(write(tmp_path, "[station]\nstop_grace = 0\n"), {}).stop_grace == 0.0
    assert load_settings(write(tmp_path, "[station]\nstop_grace = 2.5\n", "g.toml"), {}).stop_grace == 2.5


def test_empty_file_gives_defaults_with_data_dir_next_to_it(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    p = write(tmp_path, "")
    s = load_settings(p, {})
    assert s.station == StationSettings()
    assert s.data_dir == tmp_path / "var" / "CP001"
    assert s.config_path == p


def test_every_table_parsed(tmp_path):
    p = write(tmp_path, FULL)
    s = load_settings(p, {})
    st = s.station
    assert st.identity == "CP042"
    assert s.csms_url == "wss://csms.example.com:8443/ocpp"
    assert (st.vendor, st.model, st.serial_number, st.firmware_version) == ("ACME", "Box-22", "SN-0001", "1.2.3")
    assert s.data_dir == tmp_path / "state"
    assert st.boot_retry_interval == 15
    assert st.max_frame_bytes == 65536
    assert (s.reconnect_min, s.reconnect_max) == (0.5, 60.0)
    assert isinstance(s.reconnect_max, float)
    assert s.basic_auth_password_encoding == "hex"
    assert (st.connectors, st.fixed_cable, st.connector_lock) == (2, False, True)
    assert st.ocpp == {
        "HeartbeatInterval": "300",
        "MeterValueSampleInterval": "60",
        "LocalPreAuthorize": "true",
        "StopTransactionOnInvalidId": "false",
        "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,Voltage.L1",
        "ConnectionTimeOut": "90",
    }
    assert s.control_listen == ("127.0.0.1", 8180)


def test_interface_md_example(tmp_path):
    p = write(
        tmp_path,
        """
[station]
identity = "CP001"
csms_url = "ws://127.0.0.1:9000/ocpp"
vendor = "..."
model = "..."
serial_number = "..."
firmware_version = "..."
data_dir = "./var/CP001"

[hardware]
connectors = 1
fixed_cable = true
connector_lock = false

[ocpp]
HeartbeatInterval = 10
MeterValueSampleInterval = 20

[control]
listen = "127.0.0.1:8180"
""",
    )
    s = load_settings(p, {})
    assert s.data_dir == tmp_path / "var" / "CP001"
    assert s.station.ocpp == {"HeartbeatInterval": "10", "MeterValueSampleInterval": "20"}


def test_overrides_win(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = write(tmp_path, FULL)
    s = load_settings(
        p,
        {"csms_url": "ws://10.0.0.1:9000/x", "identity": "CP999", "data_dir": "other", "control": "0.0.0.0:9999"},
    )
    assert s.csms_url == "ws://10.0.0.1:9000/x"
    assert s.station.identity == "CP999"
    assert s.data_dir == tmp_path / "other"  # relative to the cwd, not the file
    assert s.control_listen == ("0.0.0.0", 9999)
    assert s.station.vendor == "ACME"  # the rest still from the file


def test_none_overrides_are_ignored(tmp_path):
    p = write(tmp_path, FULL)
    s = load_settings(p, {"csms_url": None, "identity": None, "data_dir": None, "control": None})
    assert s.station.identity == "CP042"
    assert s.control_listen == ("127.0.0.1", 8180)


def test_identity_override_moves_default_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(None, {"identity": "CP7"})
    assert s.data_dir == tmp_path / "var" / "CP7"


def test_data_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    sub = tmp_path / "etc"
    sub.mkdir()
    rel = write(sub, '[station]\ndata_dir = "../data/cp"\n')
    assert load_settings(rel, {}).data_dir == sub / ".." / "data" / "cp"
    absolute = write(sub, f'[station]\ndata_dir = "{tmp_path / "abs"}"\n', "abs.toml")
    assert load_settings(absolute, {}).data_dir == tmp_path / "abs"
    default = write(sub, '[station]\nidentity = "CPX"\n', "default.toml")
    assert load_settings(default, {}).data_dir == sub / "var" / "CPX"


def test_data_dir_relative_to_file_given_by_relative_path(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf", '[station]\ndata_dir = "d"\n')
    monkeypatch.chdir(tmp_path)
    s = load_settings(Path("conf/station.toml"), {})
    assert s.data_dir == tmp_path / "conf" / "d"
    assert s.data_dir.is_absolute()


def test_reconnect_min_above_default_max_raises_cap(tmp_path):
    s = load_settings(write(tmp_path, "[station]\nreconnect_min_delay = 45\n"), {})
    assert (s.reconnect_min, s.reconnect_max) == (45.0, 45.0)


# -- [ocpp] conversion and validation ------------------------------------------------------------


def test_ocpp_bool_and_int_conversion(tmp_path):
    p = write(
        tmp_path,
        """
[ocpp]
AuthorizeRemoteTxRequests = false
LocalAuthorizeOffline = true
AllowOfflineTxForUnknownId = "TRUE"
HeartbeatInterval = 0
WebSocketPingInterval = "030"
""",
    )
    assert load_settings(p, {}).station.ocpp == {
        "AuthorizeRemoteTxRequests": "false",
        "LocalAuthorizeOffline": "true",
        "AllowOfflineTxForUnknownId": "true",
        "HeartbeatInterval": "0",
        "WebSocketPingInterval": "30",
    }


def test_ocpp_readonly_keys_may_be_set_by_the_maker(tmp_path):
    p = write(tmp_path, "[ocpp]\nGetConfigurationMaxKeys = 30\nStopTransactionMaxMeterValues = 100\n")
    assert load_settings(p, {}).station.ocpp == {"GetConfigurationMaxKeys": "30", "StopTransactionMaxMeterValues": "100"}


def test_ocpp_values_feed_the_station(tmp_path):
    from ocpp_station.assembly import build_station
    from ocpp_station.store.memory import MemoryStore

    p = write(tmp_path, "[hardware]\nconnectors = 3\n[ocpp]\nHeartbeatInterval = 120\nLocalPreAuthorize = true\n")
    s = load_settings(p, {})
    station = build_station(s.station, MemoryStore())
    assert station.config["HeartbeatInterval"] == 120
    assert station.config["LocalPreAuthorize"] is True
    assert station.config["NumberOfConnectors"] == 3


@pytest.mark.parametrize(
    "line, key, expectation",
    [
        ("MeterValueSampleInterval = -1", "ocpp.MeterValueSampleInterval", "expected an integer >= 0, got -1"),
        ("HeartbeatInterval = true", "ocpp.HeartbeatInterval", "expected an integer >= 0, got true"),
        ("HeartbeatInterval = 1.5", "ocpp.HeartbeatInterval", "expected an integer >= 0, got 1.5"),
        ("HeartbeatInterval = [1]", "ocpp.HeartbeatInterval", "expected an integer >= 0, got an array"),
        ("LightIntensity = 101", "ocpp.LightIntensity", "expected an integer from 0 to 100, got 101"),
        ("LocalPreAuthorize = 1", "ocpp.LocalPreAuthorize", "expected true or false, got 1"),
        ("LocalPreAuthorize = \"yes\"", "ocpp.LocalPreAuthorize", 'expected true or false, got "yes"'),
        (
            'MeterValuesSampledData = "Foo.Bar"',
            "ocpp.MeterValuesSampledData",
            'expected a comma-separated list of at most 10 supported items, got "Foo.Bar"'
            " (unsupported item(s): Foo.Bar)",
        ),
        (
            'ConnectorPhaseRotation = "XYZ"',
            "ocpp.ConnectorPhaseRotation",
            'expected a comma-separated list of supported items, got "XYZ" (unsupported item(s): XYZ)',
        ),
    ],
)
def test_invalid_ocpp_value_rejected(tmp_path, line, key, expectation):
    msg = error_of(write(tmp_path, f"[ocpp]\n{line}\n"))
    assert msg == f"{tmp_path / 'station.toml'}: {key}: {expectation}"


def test_unsupported_measurand_is_named(tmp_path):
    msg = error_of(write(tmp_path, '[ocpp]\nMeterValuesSampledData = "Energy.Active.Import.Register,Foo.Bar"\n'))
    assert "ocpp.MeterValuesSampledData" in msg and "Foo.Bar" in msg


def test_exact_message_for_negative_sample_interval(tmp_path):
    p = write(tmp_path, "[ocpp]\nMeterValueSampleInterval = -1\n")
    assert error_of(p) == f"{p}: ocpp.MeterValueSampleInterval: expected an integer >= 0, got -1"


def test_unknown_ocpp_key_rejected(tmp_path):
    p = write(tmp_path, "[ocpp]\nFooBar = 1\n")
    assert error_of(p) == f"{p}: ocpp.FooBar: unknown OCPP configuration key"


def test_unknown_ocpp_key_suggests_the_close_one(tmp_path):
    p = write(tmp_path, "[ocpp]\nHeartBeatInterval = 10\n")
    assert error_of(p) == f"{p}: ocpp.HeartBeatInterval: unknown OCPP configuration key (did you mean HeartbeatInterval?)"


@pytest.mark.parametrize("key, value", [("NumberOfConnectors", "2"), ("SupportedFeatureProfiles", '"Core"')])
def test_derived_ocpp_keys_may_not_be_set(tmp_path, key, value):
    p = write(tmp_path, f"[ocpp]\n{key} = {value}\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}: ocpp.{key}: may not be set in [ocpp]; it follows ")


def test_unlock_on_ev_disconnect_with_fixed_cable(tmp_path):
    p = write(tmp_path, "[ocpp]\nUnlockConnectorOnEVSideDisconnect = true\n")
    assert error_of(p) == (
        f"{p}: ocpp.UnlockConnectorOnEVSideDisconnect: expected false with hardware.fixed_cable = true, got true"
    )
    ok = write(tmp_path, "[hardware]\nfixed_cable = false\n[ocpp]\nUnlockConnectorOnEVSideDisconnect = true\n", "b.toml")
    assert load_settings(ok, {}).station.ocpp == {"UnlockConnectorOnEVSideDisconnect": "true"}


def test_authorization_key_is_checked_but_never_echoed(tmp_path):
    ok = write(tmp_path, '[ocpp]\nAuthorizationKey = "0123456789abcdef0123456789abcdef"\n', "ok.toml")
    assert load_settings(ok, {}).station.ocpp == {"AuthorizationKey": "0123456789abcdef0123456789abcdef"}
    short = write(tmp_path, '[ocpp]\nAuthorizationKey = "0123456789abcdef"\n', "short.toml")  # 8 bytes: [SEC] A00.FR.205
    assert error_of(short).startswith(f"{short}: ocpp.AuthorizationKey: expected 16 to 20 bytes as 32 to 40 hex digits")
    p = write(tmp_path, '[ocpp]\nAuthorizationKey = "my-secret-password"\n')
    msg = error_of(p)
    assert msg.startswith(f"{p}: ocpp.AuthorizationKey: expected 16 to 20 bytes as 32 to 40 hex digits")
    assert "my-secret-password" not in msg


# -- other error cases: exact one-line messages -------------------------------------------------


@pytest.mark.parametrize(
    "text, tail",
    [
        ('[hardware]\nconnectors = "two"\n', 'hardware.connectors: expected an integer from 1 to 32, got "two"'),
        ("[hardware]\nconnectors = 0\n", "hardware.connectors: expected an integer from 1 to 32, got 0"),
        ("[hardware]\nconnectors = 33\n", "hardware.connectors: expected an integer from 1 to 32, got 33"),
        ("[hardware]\nconnectors = true\n", "hardware.connectors: expected an integer from 1 to 32, got true"),
        ('[hardware]\nfixed_cable = "yes"\n', 'hardware.fixed_cable: expected true or false, got "yes"'),
        ("[hardware]\nconnector_lock = 1\n", "hardware.connector_lock: expected true or false, got 1"),
        ("[hardware]\nmeter_start_wh = -1\n", "hardware.meter_start_wh: expected an integer from 0 to 2147483647, got -1"),
        ("[hardware]\nmeter_start_wh = 2147483648\n",
         "hardware.meter_start_wh: expected an integer from 0 to 2147483647, got 2147483648"),
        ("[hardware]\nmeter_start_wh = 1.5\n", "hardware.meter_start_wh: expected an integer from 0 to 2147483647, got 1.5"),
        ('[hardware]\nmeter_start_wh = "5"\n', 'hardware.meter_start_wh: expected an integer from 0 to 2147483647, got "5"'),
        ("[hardware]\nvoltage = 99\n", "hardware.voltage: expected a number from 100 to 480, got 99"),
        ('[hardware]\nvoltage = "230"\n', 'hardware.voltage: expected a number from 100 to 480, got "230"'),
        ("[hardware]\nmax_current = 0\n", "hardware.max_current: expected a number from 1 to 1000, got 0"),
        ("[hardware]\nmax_current = true\n", "hardware.max_current: expected a number from 1 to 1000, got true"),
        (
            '[station]\ncsms_url = "http://x/ocpp"\n',
            'station.csms_url: expected a ws:// or wss:// URL, got "http://x/ocpp"',
        ),
        ('[station]\ncsms_url = "ws://"\n', 'station.csms_url: expected a ws:// or wss:// URL, got "ws://"'),
        ("[station]\ncsms_url = 5\n", "station.csms_url: expected a ws:// or wss:// URL, got 5"),
        (
            '[station]\ncsms_url = "ws://h/ocpp#f"\n',
            'station.csms_url: expected a ws:// or wss:// URL without a #fragment, got "ws://h/ocpp#f"',
        ),
        (
            '[station]\ncsms_url = "ws://user@h/ocpp"\n',
            "station.csms_url: expected a ws:// or wss:// URL without user:password@ (AuthorizationKey gives Basic "
            'auth), got "ws://user@h/ocpp"',
        ),
        (
            '[station]\ncsms_url = "ws://a..b/ocpp"\n',
            'station.csms_url: expected a ws:// or wss:// URL with a valid host name, got "ws://a..b/ocpp"',
        ),
        (
            '[station]\nidentity = "a/b"\n',
            "station.identity: expected a non-empty identity of printable characters without '/' (at most 48), got \"a/b\"",
        ),
        (
            '[station]\nidentity = ""\n',
            "station.identity: expected a non-empty identity of printable characters without '/' (at most 48), got \"\"",
        ),
        (
            '[station]\nvendor = "ABCDEFGHIJKLMNOPQRSTU"\n',
            'station.vendor: expected a string of at most 20 characters, got "ABCDEFGHIJKLMNOPQRSTU"',
        ),
        ("[station]\nmodel = 7\n", "station.model: expected a string of at most 20 characters, got 7"),
        (
            f'[station]\nserial_number = "{"S" * 26}"\n',
            f'station.serial_number: expected a string of at most 25 characters, got "{"S" * 26}"',
        ),
        (
            f'[station]\nfirmware_version = "{"1" * 51}"\n',
            f'station.firmware_version: expected a string of at most 50 characters, got "{"1" * 51}"',
        ),
        ('[station]\ndata_dir = ""\n', 'station.data_dir: expected a directory path, got ""'),
        ("[station]\nboot_retry_interval = 0\n", "station.boot_retry_interval: expected an integer >= 1, got 0"),
        ("[station]\nmax_frame_bytes = 1023\n", "station.max_frame_bytes: expected an integer >= 1024, got 1023"),
        ("[station]\nreconnect_min_delay = 0\n", "station.reconnect_min_delay: expected a number of seconds > 0, got 0"),
        ("[station]\nstop_grace = -1\n", "station.stop_grace: expected a number of seconds >= 0, got -1"),
        ('[station]\nstop_grace = "5"\n', 'station.stop_grace: expected a number of seconds >= 0, got "5"'),
        ("[station]\nstop_grace = nan\n", "station.stop_grace: expected a number of seconds >= 0, got nan"),
        ("[station]\nmeter_save_interval = 0\n", "station.meter_save_interval: expected a number of seconds > 0, got 0"),
        ('[station]\nmeter_save_interval = "5s"\n', 'station.meter_save_interval: expected a number of seconds > 0, got "5s"'),
        ("[station]\nmeter_save_interval = inf\n", "station.meter_save_interval: expected a number of seconds > 0, got inf"),
        (
            "[station]\nreconnect_min_delay = 5\nreconnect_max_delay = 2\n",
            "station.reconnect_max_delay: expected a number of seconds >= station.reconnect_min_delay (5), got 2",
        ),
        (
            '[station]\nauthorization_key_encoding = "base64"\n',
            'station.authorization_key_encoding: expected "raw" or "hex", got "base64"',
        ),
        ('[control]\nlisten = "abc"\n', 'control.listen: expected HOST:PORT, got "abc"'),
        ('[control]\nlisten = "127.0.0.1:99999"\n', 'control.listen: expected HOST:PORT with a port from 0 to 65535, got "127.0.0.1:99999"'),
        ("[control]\nlisten = 8180\n", "control.listen: expected HOST:PORT, got 8180"),
        ("[station]\ncolour = \"red\"\n", "station.colour: unknown key (expected one of: "),
        ("[hardware]\nrelays = 2\n", "hardware.relays: unknown key (expected one of: connectors, fixed_cable, connector_lock, meter_start_wh, "
         "voltage, max_current, meter, meter_map, "),
        ('[control]\nport = 1\n', "control.port: unknown key (expected one of: listen)"),
        ("[station.sub]\nx = 1\n", "station.sub: unknown key"),
        ("station = 1\n", "station: expected a table, got 1"),
        ("ocpp = \"x\"\n", 'ocpp: expected a table, got "x"'),
        ("[network]\nx = 1\n", "unknown table [network] (expected [station], [hardware], [ocpp], [control], [logging], [firmware], [security])"),
    ],
)
def test_file_errors(tmp_path, text, tail):
    p = write(tmp_path, text)
    msg = error_of(p)
    assert msg.startswith(f"{p}: {tail}"), msg
    assert msg.startswith(str(p))


def test_message_names_the_file_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[hardware]\nconnectors = "two"\n')
    assert error_of(Path("station.toml")) == 'station.toml: hardware.connectors: expected an integer from 1 to 32, got "two"'


def test_invalid_toml(tmp_path):
    p = write(tmp_path, "[station]\nidentity = \n")
    msg = error_of(p)
    assert msg.startswith(f"{p}: invalid TOML: ")
    assert "line 2" in msg and "column" in msg


def test_duplicate_key_is_invalid_toml(tmp_path):
    p = write(tmp_path, "[hardware]\nconnectors = 1\nconnectors = 2\n")
    assert error_of(p).startswith(f"{p}: invalid TOML: ")


def test_not_utf8(tmp_path):
    p = tmp_path / "station.toml"
    p.write_bytes(b'[station]\nvendor = "\xff"\n')
    assert error_of(p).startswith(f"{p}: invalid TOML: not UTF-8")


def test_missing_file(tmp_path):
    p = tmp_path / "nope.toml"
    assert error_of(p) == f"{p}: no such file"


def test_directory_instead_of_file(tmp_path):
    assert error_of(tmp_path) == f"{tmp_path}: is a directory, expected a TOML file"


def test_long_values_are_shortened_in_messages(tmp_path):
    p = write(tmp_path, f'[station]\nvendor = "{"V" * 500}"\n')
    msg = error_of(p)
    assert len(msg) < len(str(p)) + 200
    assert "station.vendor" in msg


def test_newline_in_value_stays_one_line(tmp_path):
    p = write(tmp_path, '[station]\nidentity = "a\\nb"\n')
    assert error_of(p).endswith('got "a\\nb"')


# -- CLI overrides: the option is named instead of the file ----------------------------------------


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"control": "abc"}, '--control: expected HOST:PORT, got "abc"'),
        ({"control": "host:"}, '--control: expected HOST:PORT, got "host:"'),
        ({"csms_url": "http://x"}, '--csms: expected a ws:// or wss:// URL, got "http://x"'),
        ({"identity": "a\tb"}, "--identity: expected a non-empty identity of printable characters without '/' (at most 48), got \"a\\tb\""),
        ({"data_dir": ""}, '--data-dir: expected a directory path, got ""'),
    ],
)
def test_override_errors(tmp_path, overrides, expected):
    assert error_of(None, overrides) == expected
    assert error_of(write(tmp_path, FULL), overrides) == expected


def test_override_fixes_nothing_in_a_bad_file(tmp_path):
    # a bad file is reported even when the option would replace the key
    p = write(tmp_path, '[station]\ncsms_url = "http://x"\n')
    assert error_of(p, {"csms_url": "ws://ok/ocpp"}).startswith(f"{p}: station.csms_url: ")


def test_unknown_override_is_a_programming_error():
    with pytest.raises(ValueError):
        load_settings(None, {"colour": "red"})


# -- parse_host_port ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("127.0.0.1:8180", ("127.0.0.1", 8180)),
        ("localhost:0", ("localhost", 0)),
        ("0.0.0.0:65535", ("0.0.0.0", 65535)),
        ("[::1]:8180", ("::1", 8180)),
        (" example.org:80 ", ("example.org", 80)),
    ],
)
def test_parse_host_port(text, expected):
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["abc", ":8180", "host:", "host:x", "::1:8180", "[::1]8180", "h:65536", "h:-1", "a b:1", ""])
def test_parse_host_port_rejects(text):
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_host_port(text)


@pytest.mark.parametrize(
    "csms_url, identity, url",
    [
        ("ws://127.0.0.1:9000/ocpp", "CP001", "ws://127.0.0.1:9000/ocpp/CP001"),
        ("ws://127.0.0.1:9000/ocpp/", "CP001", "ws://127.0.0.1:9000/ocpp/CP001"),
        ("wss://csms.example.com", "CP 1#A", "wss://csms.example.com/CP%201%23A"),
        ("ws://h:1/ocpp?token=abc", "CP1", "ws://h:1/ocpp/CP1?token=abc"),  # the query stays at the end
    ],
)
def test_station_url_appends_the_percent_encoded_identity_to_the_path(csms_url, identity, url):
    """spec §2.1 / [OCPPJ] §3.1: the endpoint is the CSMS URL + "/" + the identity."""
    from ocpp_station.config import station_url

    assert station_url(csms_url, identity) == url


@pytest.mark.parametrize(
    "value, message",
    [
        ('["Core", "RemoteTriger"]', 'station.profiles: unknown feature profile "RemoteTriger" (did you mean RemoteTrigger?)'),
        ('["Core", "Firmware"]', 'station.profiles: unknown feature profile "Firmware"'),
        ('["RemoteTrigger"]', 'station.profiles: must include "Core"'),
        ('"Core"', 'station.profiles: expected a list of profile names'),
        ('["Core", 3]', 'station.profiles: expected a list of profile names'),
    ],
)
def test_bad_profiles_name_the_key(tmp_path, value, message):
    p = write(tmp_path, f"[station]\nprofiles = {value}\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(p, {})
    assert message in str(exc.value)
    assert str(exc.value).startswith(str(p))


def test_profiles_select_the_station_features(tmp_path):
    from ocpp_station.assembly import build_station
    from ocpp_station.store.memory import MemoryStore

    p = write(tmp_path, '[station]\nprofiles = ["RemoteTrigger", "Core"]\n[ocpp]\nLocalPreAuthorize = true\n')
    s = load_settings(p, {})
    assert s.station.profiles == ("Core", "RemoteTrigger")
    station = build_station(s.station, MemoryStore())
    assert station.config["SupportedFeatureProfiles"] == ["Core", "RemoteTrigger"]
    p = write(tmp_path, '[station]\nprofiles = ["Core"]\n[ocpp]\nLocalAuthListEnabled = true\n')
    with pytest.raises(ConfigError, match="ocpp.LocalAuthListEnabled: unknown OCPP configuration key"):
        load_settings(p, {})


# -- TLS trust and the frame log -------------------------------------------------------------


def test_ca_file_relative_to_the_file(tmp_path):
    import trustme

    trustme.CA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    s = load_settings(write(tmp_path, '[station]\ncsms_url = "wss://csms.example/ocpp"\nca_file = "ca.pem"\n'))
    assert s.ca_file == tmp_path / "ca.pem"
    assert load_settings(write(tmp_path, "")).ca_file is None  # the system's trust store


@pytest.mark.parametrize(
    "value, detail",
    [
        ('"nope.pem"', '"nope.pem" (no such file)'),
        ('"."', '"." (not a file)'),
        ('"station.toml"', '"station.toml" (no PEM certificate in it)'),
        ("1", "1"),
    ],
)
def test_bad_ca_file_names_the_key(tmp_path, value, detail):
    p = write(tmp_path, f"[station]\nca_file = {value}\n")
    assert error_of(p) == f"{p}: station.ca_file: expected a readable PEM file of CA certificates, got {detail}"


def test_logging_table(tmp_path):
    (tmp_path / "log").mkdir()
    s = load_settings(write(tmp_path, '[logging]\nframe_log = "log/frames.log"\nframe_log_max_bytes = 100000\n'
                                      "frame_log_backups = 3\n"))
    assert (s.frame_log, s.frame_log_max_bytes, s.frame_log_backups) == (tmp_path / "log" / "frames.log", 100000, 3)
    s = load_settings(write(tmp_path, ""))
    assert (s.frame_log, s.frame_log_max_bytes, s.frame_log_backups) == (None, 10 * 1024 * 1024, 5)


@pytest.mark.parametrize(
    "text, tail",
    [
        ('frame_log = "missing/frames.log"', 'logging.frame_log: expected a file path in a writable directory, got '
                                             '"missing/frames.log" (no directory '),
        ('frame_log = "."', 'logging.frame_log: expected a file path in a writable directory, got "." (a directory)'),
        ("frame_log_max_bytes = 10", "logging.frame_log_max_bytes: expected an integer >= 4096, got 10"),
        ("frame_log_backups = 0", "logging.frame_log_backups: expected an integer from 1 to 1000, got 0"),
        ("level = 1", "logging.level: unknown key (expected one of: frame_log, frame_log_max_bytes, frame_log_backups)"),
    ],
)
def test_bad_logging_keys(tmp_path, text, tail):
    p = write(tmp_path, f"[logging]\n{text}\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}: {tail}"), msg


def test_firmware_table(tmp_path):
    s = load_settings(write(tmp_path, '[firmware]\ninstaller = "command"\ncommand = ["/opt/maker/flash", "--yes"]\n'
                                      'install_timeout = 600\ntransfer_timeout = 5\nhttp_upload = "POST"\n'))
    assert (s.installer, s.install_command, s.install_timeout, s.transfer_timeout, s.http_upload) == (
        "command", ["/opt/maker/flash", "--yes"], 600.0, 5.0, "POST")
    s = load_settings(write(tmp_path, ""))
    assert (s.installer, s.install_command, s.install_timeout, s.transfer_timeout, s.http_upload) == (
        "simulated", [], 300.0, 30.0, "PUT")


@pytest.mark.parametrize(
    "text, tail",
    [
        ('installer = "flash"', 'firmware.installer: expected "simulated" or "command", got "flash"'),
        ('installer = "command"', 'firmware.command: installer = "command" needs the program to run'),
        ('command = "flash.sh"', "firmware.command: expected a non-empty list of strings"),
        ("install_timeout = 0", "firmware.install_timeout: expected a number of seconds > 0, got 0"),
        ('http_upload = "GET"', 'firmware.http_upload: expected "PUT" or "POST", got "GET"'),
        ("shell = true", "firmware.shell: unknown key"),
    ],
)
def test_bad_firmware_keys(tmp_path, text, tail):
    p = write(tmp_path, f"[firmware]\n{text}\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}: {tail}"), msg
