"""The config file (TOML) and the ``run`` options, turned into typed settings.

The file format is the one of docs/configuration.md: tables ``[station]``,
``[hardware]``, ``[ocpp]``, ``[control]`` and ``[logging]``. Options given on the command
line (``--csms``, ``--identity``, ``--data-dir``, ``--control``) win over the
file. Every mistake raises :class:`ConfigError`, whose text is one line naming
the file (or the option), the dotted key and what was expected, e.g.::

    station.toml: hardware.connectors: expected an integer from 1 to 32, got "two"
    --control: expected HOST:PORT, got "abc"

The ``[ocpp]`` table is checked against the same key registry the station
builds (core keys for this hardware shape plus the keys of the features), so
a value the station would refuse is refused here, before anything starts.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .core.configuration import ConfigValueError, KeySpec
from .core.keys import core_keys
from .core.settings import StationSettings
from .hardware.parts import HardwareParts

__all__ = ["ConfigError", "RunSettings", "did_you_mean", "load_settings", "parse_host_port", "ocpp_key_specs"]

DEFAULT_IDENTITY = "CP001"
DEFAULT_CSMS_URL = "ws://127.0.0.1:9000/ocpp"
MAX_CONNECTORS = 32

# BootNotification field lengths ([SPEC] §6.2: CiString20/25/50)
_STRING_LIMITS = {"vendor": 20, "model": 20, "serial_number": 25, "firmware_version": 50}

# [ocpp] keys the file may not set: they follow the hardware and the code
_DERIVED_KEYS = {
    "NumberOfConnectors": "may not be set in [ocpp]; it follows hardware.connectors",
    "SupportedFeatureProfiles": "may not be set in [ocpp]; it follows the feature profiles the station implements",
    "SecurityProfile": "may not be set in [ocpp]; set security.profile",
}

# the CLI option that carries each override (named in error messages instead of the file)
_OPTIONS = {"csms_url": "--csms", "identity": "--identity", "data_dir": "--data-dir", "control": "--control"}

_TABLES = ("station", "hardware", "ocpp", "control", "logging", "firmware", "security")
_STATION_KEYS = (
    "identity",
    "csms_url",
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "data_dir",
    "boot_retry_interval",
    "profiles",
    "max_frame_bytes",
    "reconnect_min_delay",
    "reconnect_max_delay",
    "authorization_key_encoding",
    "meter_save_interval",
    "stop_grace",
    "ca_file",
)
_HARDWARE_KEYS = (
    "connectors", "fixed_cable", "connector_lock", "meter_start_wh", "voltage", "max_current",
    # the real parts (docs/hardware.md)
    "meter", "meter_map", "meter_host", "meter_port", "meter_device", "meter_baudrate", "meter_parity", "meter_unit",
    "meter_poll_interval", "meter_timeout",
    "ev", "ev_map", "ev_host", "ev_port", "ev_device", "ev_baudrate", "ev_parity", "ev_unit", "ev_poll_interval",
    "ev_timeout", "ev_phases",
    "rfid", "rfid_device", "rfid_baudrate", "rfid_prefix", "rfid_suffix", "rfid_format", "rfid_debounce",
    "rfid_connector",
    "relay", "lock", "gpio_chip", "relay_lines", "relay_feedback_lines", "lock_lines", "lock_feedback_lines",
    "gpio_active_low",
)
VOLTAGE_RANGE = (100, 480)  # V, nominal phase-to-neutral voltages of the world's grids and more
MAX_CURRENT_RANGE = (1, 1000)  # A per phase
MAX_METER_START_WH = 2**31 - 1  # meterStart is an integer; many CSMSs keep it in 32 bits
_CONTROL_KEYS = ("listen",)
_LOGGING_KEYS = ("frame_log", "frame_log_max_bytes", "frame_log_backups")
_FIRMWARE_KEYS = ("installer", "command", "install_timeout", "transfer_timeout", "http_upload")
_INSTALLERS = ("simulated", "command")
_ENCODINGS = ("raw", "hex")
_SECURITY_KEYS = ("profile", "tls_csms_url", "csms_root_ca", "manufacturer_root_ca", "cert", "key", "log",
                  "legacy_update_firmware")
# [security] file items -> their default name under <data_dir>/security/ (docs/security.md)
_SECURITY_FILES = {
    "csms_root_ca": "csms-root-ca.pem",
    "manufacturer_root_ca": "manufacturer-root-ca.pem",
    "cert": "station-cert.pem",
    "key": "station-key.pem",
    "log": "security.log",
}

_MAX_SHOWN = 80  # characters of an offending value quoted in a message


class ConfigError(Exception):
    """A bad config file or option; ``str()`` is one line naming the file or option, the key and the expectation."""


@dataclass(slots=True)
class RunSettings:
    station: StationSettings  # what the core needs (identity, boot data, hardware shape, [ocpp] values)
    csms_url: str  # ws:// or wss:// URL; "/<identity>" is appended to it
    data_dir: Path | None  # persistent state directory (None: state kept in memory)
    control_listen: tuple[str, int] | None  # control API + HMI address, None = disabled
    config_path: Path | None  # the file the settings came from, None without one
    reconnect_min: float = 1.0  # s, first reconnect delay ([station] reconnect_min_delay)
    reconnect_max: float = 30.0  # s, cap of the reconnect back-off ([station] reconnect_max_delay)
    basic_auth_password_encoding: str = "raw"  # AuthorizationKey as Basic-auth password: "raw" or "hex"
    meter_start_wh: int = 1000  # Wh, the simulated meter's register on a new data_dir ([hardware] meter_start_wh)
    stop_grace: float = 5.0  # s a graceful stop waits for its StopTransactions to reach the CSMS ([station] stop_grace)
    ca_file: Path | None = None  # PEM file of the CAs trusted for wss:// ([station] ca_file); None: the system's
    frame_log: Path | None = None  # every OCPP frame to this rotating file ([logging] frame_log); None: off
    frame_log_max_bytes: int = 10 * 1024 * 1024  # size at which the frame log rotates
    frame_log_backups: int = 5  # rotated frame logs kept (<file>.1 ... <file>.N)
    installer: str = "simulated"  # [firmware] installer: "simulated" | "command"
    install_command: list[str] = field(default_factory=list)  # [firmware] command: the maker's install program
    install_timeout: float = 300.0  # s the install program may run ([firmware] install_timeout)
    transfer_timeout: float = 30.0  # s for connecting and each read of a transfer ([firmware] transfer_timeout)
    http_upload: str = "PUT"  # diagnostics over HTTP(S): "PUT" to location/fileName or "POST" multipart
    tls_csms_url: str | None = None  # the wss:// URL of security profiles 2 and 3; None: csms_url as wss://
    hardware: HardwareParts = field(default_factory=HardwareParts)  # [hardware] meter, rfid: real or simulated parts


# -- small helpers -----------------------------------------------------------------------


def _show(value: Any) -> str:
    """A value as the file would spell it, on one line and not too long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = repr(value) if math.isfinite(value) else str(value)
    elif isinstance(value, str):
        text = json.dumps(value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…", ensure_ascii=False)
    elif isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        text = value.isoformat()
    elif isinstance(value, list):
        text = "an array"
    elif isinstance(value, dict):
        text = "a table"
    else:  # pragma: no cover - tomllib gives nothing else
        text = type(value).__name__
    return text


def did_you_mean(name: str, candidates: Any, cutoff: float = 0.8) -> str:
    """`` (did you mean X?)`` naming the candidate closest to a misspelt ``name``, or ``""`` when none is close
    (used for config and fleet scenario keys)."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]}?)" if close else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Where:
    """Builds the ``<file>: <key>: ...`` prefix of messages."""

    def __init__(self, source: str) -> None:
        self.source = source  # file name, or the option for overrides

    def error(self, key: str | None, message: str) -> ConfigError:
        parts = [self.source] + ([key] if key else []) + [message]
        return ConfigError(_one_line(": ".join(parts)))

    def expected(self, key: str | None, what: str, value: Any) -> ConfigError:
        return self.error(key, f"expected {what}, got {_show(value)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    if minimum is not None:
        return f"an integer >= {minimum}"
    if maximum is not None:
        return f"an integer <= {maximum}"
    return "an integer"


def parse_host_port(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[::1]:8180"`` for IPv6) -> ``(host, port)``; ValueError("expected HOST:PORT, got ...")."""
    bad = ValueError(f"expected HOST:PORT, got {_show(text)}")
    if not isinstance(text, str):
        raise bad
    s = text.strip()
    if s.startswith("["):  # [v6-address]:port
        end = s.find("]")
        if end < 0 or s[end + 1 : end + 2] != ":":
            raise bad
        host, port_text = s[1:end], s[end + 2 :]
    else:
        host, sep, port_text = s.rpartition(":")
        if not sep or ":" in host:  # no port, or a bare IPv6 address
            raise bad
    if not host or any(c.isspace() for c in host):
        raise bad
    if not (port_text.isascii() and port_text.isdigit()):
        raise bad
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"expected HOST:PORT with a port from 0 to 65535, got {_show(text)}")
    return host, port


# -- the OCPP key registry -----------------------------------------------------------------


def ocpp_key_specs(
    settings: StationSettings, features: list[type] | None = None, parts: HardwareParts | None = None
) -> dict[str, KeySpec]:
    """The key specs the station will have (core keys for this hardware shape + feature keys), by name; the
    measurands are those of ``parts``' meter (the simulated one by default)."""
    from .features import features_of
    from .hardware.simulated import SimulatedHardware

    hardware: Any = SimulatedHardware(settings.connectors, settings.fixed_cable)
    if parts is not None and parts.meter.kind != "simulated":
        from .hardware import registermap
        from .hardware.composite import CompositeHardware
        from .hardware.modbus import ModbusMeter

        meter = ModbusMeter(parts.meter, registermap.load(parts.meter.map, parts.meter.map_base), settings.connectors)
        hardware = CompositeHardware(hardware, meter)
    specs = core_keys(
        connectors=settings.connectors,
        fixed_cable=settings.fixed_cable,
        measurand_ok=hardware.supports_measurand,
        feature_profiles="Core",
    )
    for cls in features if features is not None else features_of(settings):
        specs.extend(cls.keys(settings))
    return {s.name: s for s in specs}


def _spec_expectation(spec: KeySpec) -> str:
    if spec.kind == "int":
        return _int_range_text(spec.minimum, spec.maximum)
    if spec.kind == "bool":
        return "true or false"
    if spec.kind == "csl":
        what = "a comma-separated list"
        if spec.max_items is not None:
            what += f" of at most {spec.max_items}"
            what += " supported items" if spec.item_check is not None else " items"
        elif spec.item_check is not None:
            what += " of supported items"
        return what
    if spec.name == "AuthorizationKey":
        return "16 to 20 bytes as 32 to 40 hex digits (an even number)"
    return "a valid value" if spec.check is not None else "a string"


def _ocpp_value(where: _Where, spec: KeySpec, raw: Any, settings: StationSettings) -> str:
    key = f"ocpp.{spec.name}"
    if spec.name in _DERIVED_KEYS:
        raise where.error(key, _DERIVED_KEYS[spec.name])
    expectation = _spec_expectation(spec)

    def fail(detail: str | None) -> ConfigError:
        if spec.write_only:  # a secret: never echo it
            return where.error(key, f"expected {expectation}; the value given is not (not shown)")
        got = f"got {_show(raw)}"
        if detail and spec.kind in ("csl", "str"):
            got += f" ({detail})"
        return where.error(key, f"expected {expectation}, {got}")

    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, (int, str)):
        text = str(raw)
    else:  # float, array, table, date
        raise fail(None)
    try:
        value = spec.normalise(text)
    except ConfigValueError as e:
        raise fail(str(e)) from None
    if spec.name == "UnlockConnectorOnEVSideDisconnect" and settings.fixed_cable and value != "false":
        # [ERRATA] 3.84/3.85: with a fixed cable it is always false
        raise where.error(key, f"expected false with hardware.fixed_cable = true, got {_show(raw)}")
    return value


# -- the file ------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    where = _Where(str(path))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise where.error(None, "no such file") from None
    except IsADirectoryError:
        raise where.error(None, "is a directory, expected a TOML file") from None
    except OSError as e:
        raise where.error(None, f"cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise where.error(None, f"invalid TOML: not UTF-8 (byte {e.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise where.error(None, f"invalid TOML: {e}") from None


def _check_keys(where: _Where, table: str, body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise where.expected(table, "a table", body)
    for name in body:
        if name not in allowed:
            raise where.error(f"{table}.{name}", f"unknown key (expected one of: {', '.join(allowed)})")
    return body


def _get_str(where: _Where, key: str, value: Any, max_len: int | None = None) -> str:
    what = "a string" if max_len is None else f"a string of at most {max_len} characters"
    if not isinstance(value, str) or (max_len is not None and len(value) > max_len):
        raise where.expected(key, what, value)
    return value


def _get_int(where: _Where, key: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    if (
        not _is_int(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise where.expected(key, _int_range_text(minimum, maximum), value)
    return value


def _get_number(where: _Where, key: str, value: Any, minimum: float, maximum: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not minimum <= value <= maximum
    ):
        raise where.expected(key, f"a number from {minimum:g} to {maximum:g}", value)
    return float(value)


def _get_bool(where: _Where, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise where.expected(key, "true or false", value)
    return value


def _get_delay(where: _Where, key: str, value: Any, minimum: float, minimum_text: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
        or value < minimum
    ):
        what = "a number of seconds > 0" if minimum <= 0 else f"a number of seconds >= {minimum_text}"
        raise where.expected(key, what, value)
    return float(value)


IDENTITY_RULE = "a non-empty identity of printable characters without '/' (at most 48)"


def identity_ok(value: Any) -> bool:
    """Whether ``value`` is a usable charge point identity (see :data:`IDENTITY_RULE`)."""
    # [OCPPJ] §3.1: the identity is percent-encoded into the URL (a space becomes %20); it also names
    # the default data directory, so no '/' and no control characters
    return (
        isinstance(value, str)
        and value.strip() not in ("", ".", "..")
        and len(value) <= 48
        and all(c.isprintable() and c != "/" for c in value)
    )


def _check_identity(where: _Where, key: str | None, value: Any) -> str:
    if not identity_ok(value):
        raise where.expected(key, IDENTITY_RULE, value)
    return value


def station_url(csms_url: str, identity: str) -> str:
    """The station's endpoint: the CSMS URL's path + "/" + the percent-encoded identity (spec §2.1,
    [OCPPJ] §3.1); a query string stays at the end."""
    parts = urlsplit(csms_url)
    path = parts.path.rstrip("/") + "/" + quote(identity, safe="")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _check_url(where: _Where, key: str | None, value: Any) -> str:
    what = "a ws:// or wss:// URL"
    if not isinstance(value, str) or not value.startswith(("ws://", "wss://")):
        raise where.expected(key, what, value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise where.expected(key, what, value) from None
    if not parts.hostname or any(c.isspace() for c in value):
        raise where.expected(key, what, value)
    if parts.fragment or "#" in value:
        raise where.expected(key, f"{what} without a #fragment", value)
    if parts.username is not None or parts.password is not None:
        raise where.expected(key, f"{what} without user:password@ (AuthorizationKey gives Basic auth)", value)
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        raise where.expected(key, f"{what} with a valid host name", value) from None
    return value


def _check_profiles(where: _Where, key: str, value: Any) -> tuple[str, ...]:
    """[station] profiles: a list of OCPP feature profile names the code implements, "Core" among them."""
    from .features import PROFILE_NAMES, implemented_profiles

    implemented = implemented_profiles()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.expected(key, f"a list of profile names ({', '.join(implemented)})", value)
    for name in value:
        if name in implemented:
            continue
        if name in PROFILE_NAMES:
            raise where.error(key, f"profile {_show(name)} is not implemented (implemented: {', '.join(implemented)})")
        raise where.error(key, f"unknown feature profile {_show(name)}{did_you_mean(name, PROFILE_NAMES, 0.6)}")
    if "Core" not in value:
        raise where.error(key, 'must include "Core"')
    return tuple(p for p in implemented if p in value)


def _check_dir(where: _Where, key: str | None, value: Any, base: Path) -> Path:
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise where.expected(key, "a directory path", value)
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).absolute()


def _check_listen(where: _Where, key: str | None, value: Any) -> tuple[str, int]:
    try:
        return parse_host_port(value)
    except ValueError as e:
        raise where.error(key, str(e)) from None


def _check_ca_file(where: _Where, key: str, value: Any, base: Path) -> Path:
    """A PEM file of CA certificates, relative to the config file; loaded once here so that a wrong
    path or a file that holds no certificate is refused before anything starts."""
    import ssl

    what = "a readable PEM file of CA certificates"
    if not isinstance(value, str) or not value.strip():
        raise where.expected(key, what, value)
    p = Path(value).expanduser()
    p = p if p.is_absolute() else (base / p).absolute()
    if not p.is_file():
        raise where.error(key, f"expected {what}, got {_show(value)} ({'no such file' if not p.exists() else 'not a file'})")
    try:
        ssl.create_default_context(cafile=str(p))
    except ssl.SSLError as e:
        detail = "no PEM certificate in it" if e.reason == "NO_CERTIFICATE_OR_CRL_FOUND" else f"TLS: {e.reason or e}"
        raise where.error(key, f"expected {what}, got {_show(value)} ({detail})") from None
    except (OSError, ValueError) as e:
        detail = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise where.error(key, f"expected {what}, got {_show(value)} ({detail})") from None
    return p


def _check_log_file(where: _Where, key: str, value: Any, base: Path) -> Path:
    """A file to append to, relative to the config file; its directory must exist and be writable."""
    import os

    what = "a file path in a writable directory"
    if not isinstance(value, str) or not value.strip():
        raise where.expected(key, what, value)
    p = Path(value).expanduser()
    p = p if p.is_absolute() else (base / p).absolute()
    if p.is_dir():
        raise where.error(key, f"expected {what}, got {_show(value)} (a directory)")
    if not p.parent.is_dir():
        raise where.error(key, f"expected {what}, got {_show(value)} (no directory {str(p.parent)!r})")
    if not os.access(p.parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise where.error(key, f"expected {what}, got {_show(value)} (not writable)")
    return p


# -- loading ---------------------------------------------------------------------------------


def load_settings(path: Path | None, overrides: dict[str, Any] | None = None) -> RunSettings:
    """Settings from the TOML file at ``path`` (or the defaults without one), then the CLI overrides.

    ``overrides`` may hold ``csms_url``, ``identity``, ``data_dir`` and ``control``
    ("HOST:PORT"); ``None`` values are ignored. Raises :class:`ConfigError`.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(overrides) - set(_OPTIONS))
    if unknown:
        raise ValueError(f"unknown override(s): {', '.join(unknown)}")

    if path is not None:
        path = Path(path)
        where = _Where(str(path))
        doc = _read_toml(path)
        base = path.parent.absolute()
    else:
        where = _Where("defaults")
        doc = {}
        base = Path.cwd()

    for name in doc:
        if name not in _TABLES:
            raise where.error(None, f"unknown table [{name}] (expected {', '.join(f'[{t}]' for t in _TABLES)})")

    station_t = _check_keys(where, "station", doc.get("station", {}), _STATION_KEYS)
    hardware_t = _check_keys(where, "hardware", doc.get("hardware", {}), _HARDWARE_KEYS)
    ocpp_t = doc.get("ocpp", {})
    if not isinstance(ocpp_t, dict):
        raise where.expected("ocpp", "a table", ocpp_t)
    control_t = _check_keys(where, "control", doc.get("control", {}), _CONTROL_KEYS)
    logging_t = _check_keys(where, "logging", doc.get("logging", {}), _LOGGING_KEYS)
    firmware_t = _check_keys(where, "firmware", doc.get("firmware", {}), _FIRMWARE_KEYS)
    security_t = _check_keys(where, "security", doc["security"], _SECURITY_KEYS) if "security" in doc else None

    st = StationSettings()
    run = RunSettings(station=st, csms_url=DEFAULT_CSMS_URL, data_dir=None, control_listen=None, config_path=path)

    # [station]
    st.identity = DEFAULT_IDENTITY
    if "identity" in station_t:
        st.identity = _check_identity(where, "station.identity", station_t["identity"])
    if "csms_url" in station_t:
        run.csms_url = _check_url(where, "station.csms_url", station_t["csms_url"])
    for name, limit in _STRING_LIMITS.items():
        if name in station_t:
            setattr(st, name, _get_str(where, f"station.{name}", station_t[name], limit))
    if "boot_retry_interval" in station_t:
        st.boot_retry_interval = _get_int(where, "station.boot_retry_interval", station_t["boot_retry_interval"], 1)
    if "max_frame_bytes" in station_t:
        st.max_frame_bytes = _get_int(where, "station.max_frame_bytes", station_t["max_frame_bytes"], 1024)
    if "reconnect_min_delay" in station_t:
        run.reconnect_min = _get_delay(where, "station.reconnect_min_delay", station_t["reconnect_min_delay"], 0, "")
    if "reconnect_max_delay" in station_t:
        run.reconnect_max = _get_delay(
            where,
            "station.reconnect_max_delay",
            station_t["reconnect_max_delay"],
            run.reconnect_min,
            f"station.reconnect_min_delay ({run.reconnect_min:g})",
        )
    elif run.reconnect_min > run.reconnect_max:
        run.reconnect_max = run.reconnect_min  # a long first delay raises the default cap with it
    if "profiles" in station_t:
        st.profiles = _check_profiles(where, "station.profiles", station_t["profiles"])
    if "authorization_key_encoding" in station_t:
        enc = station_t["authorization_key_encoding"]
        if enc not in _ENCODINGS:
            raise where.expected("station.authorization_key_encoding", '"raw" or "hex"', enc)
        run.basic_auth_password_encoding = enc
    if "ca_file" in station_t:
        run.ca_file = _check_ca_file(where, "station.ca_file", station_t["ca_file"], base)

    if "meter_save_interval" in station_t:
        st.meter_save_interval = _get_delay(where, "station.meter_save_interval", station_t["meter_save_interval"], 0, "")

    if "stop_grace" in station_t:
        grace = station_t["stop_grace"]
        if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not math.isfinite(grace) or grace < 0:
            raise where.expected("station.stop_grace", "a number of seconds >= 0", grace)
        run.stop_grace = float(grace)

    # [hardware]
    if "connectors" in hardware_t:
        st.connectors = _get_int(where, "hardware.connectors", hardware_t["connectors"], 1, MAX_CONNECTORS)
    if "fixed_cable" in hardware_t:
        st.fixed_cable = _get_bool(where, "hardware.fixed_cable", hardware_t["fixed_cable"])
    if "connector_lock" in hardware_t:
        st.connector_lock = _get_bool(where, "hardware.connector_lock", hardware_t["connector_lock"])
    if "meter_start_wh" in hardware_t:
        run.meter_start_wh = _get_int(where, "hardware.meter_start_wh", hardware_t["meter_start_wh"], 0,
                                      MAX_METER_START_WH)

    if "voltage" in hardware_t:
        st.voltage = _get_number(where, "hardware.voltage", hardware_t["voltage"], *VOLTAGE_RANGE)
    if "max_current" in hardware_t:
        st.max_current = _get_number(where, "hardware.max_current", hardware_t["max_current"], *MAX_CURRENT_RANGE)
    _hardware_parts(where, hardware_t, run, base)
    # [security]: its presence makes the extension part of the station; paths are completed below
    if security_t is not None:
        from .core.settings import SecuritySettings

        st.security = SecuritySettings()
        if "profile" in security_t:
            st.security.profile = _get_int(where, "security.profile", security_t["profile"], 0, 3)
        if "legacy_update_firmware" in security_t:
            st.security.legacy_update_firmware = _get_bool(
                where, "security.legacy_update_firmware", security_t["legacy_update_firmware"])
        if "tls_csms_url" in security_t:
            run.tls_csms_url = _check_url(where, "security.tls_csms_url", security_t["tls_csms_url"])
            if not run.tls_csms_url.startswith("wss://"):
                raise where.expected("security.tls_csms_url", "a wss:// URL", security_t["tls_csms_url"])
        for item in _SECURITY_FILES:
            if item in security_t:
                setattr(st.security, item, _check_path(where, f"security.{item}", security_t[item], base))

    # [ocpp], against the registry of a station of this shape
    if ocpp_t:
        specs = ocpp_key_specs(st, parts=run.hardware)
        values: dict[str, str] = {}
        for name, raw in ocpp_t.items():
            spec = specs.get(name)
            if spec is None:
                raise where.error(f"ocpp.{name}", f"unknown OCPP configuration key{did_you_mean(name, specs)}")
            values[name] = _ocpp_value(where, spec, raw, st)
        st.ocpp = values

    # [control]
    if "listen" in control_t:
        run.control_listen = _check_listen(where, "control.listen", control_t["listen"])

    # [logging]
    if "frame_log" in logging_t:
        run.frame_log = _check_log_file(where, "logging.frame_log", logging_t["frame_log"], base)
    if "frame_log_max_bytes" in logging_t:
        run.frame_log_max_bytes = _get_int(where, "logging.frame_log_max_bytes", logging_t["frame_log_max_bytes"], 4096)
    if "frame_log_backups" in logging_t:
        run.frame_log_backups = _get_int(where, "logging.frame_log_backups", logging_t["frame_log_backups"], 1, 1000)

    # [firmware]
    if "installer" in firmware_t:
        if firmware_t["installer"] not in _INSTALLERS:
            raise where.expected("firmware.installer", '"simulated" or "command"', firmware_t["installer"])
        run.installer = firmware_t["installer"]
    if "command" in firmware_t:
        cmd = firmware_t["command"]
        if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) and a for a in cmd):
            raise where.expected("firmware.command", "a non-empty list of strings (the program, its arguments)", cmd)
        run.install_command = list(cmd)
    if run.installer == "command" and not run.install_command:
        raise where.error("firmware.command", 'installer = "command" needs the program to run (command = [...])')
    for name in ("install_timeout", "transfer_timeout"):
        if name in firmware_t:
            v = firmware_t[name]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise where.expected(f"firmware.{name}", "a number of seconds > 0", v)
            setattr(run, name, float(v))
    if "http_upload" in firmware_t:
        if firmware_t["http_upload"] not in ("PUT", "POST"):
            raise where.expected("firmware.http_upload", '"PUT" or "POST"', firmware_t["http_upload"])
        run.http_upload = firmware_t["http_upload"]

    # command-line options win over the file
    if "identity" in overrides:
        st.identity = _check_identity(_Where(_OPTIONS["identity"]), None, overrides["identity"])
    if "csms_url" in overrides:
        run.csms_url = _check_url(_Where(_OPTIONS["csms_url"]), None, overrides["csms_url"])
    if "control" in overrides:
        run.control_listen = _check_listen(_Where(_OPTIONS["control"]), None, overrides["control"])

    # data_dir: option (relative to cwd), file (relative to the file), default ./var/<identity>
    if "data_dir" in overrides:
        run.data_dir = _check_dir(_Where(_OPTIONS["data_dir"]), None, overrides["data_dir"], Path.cwd())
    elif "data_dir" in station_t:
        run.data_dir = _check_dir(where, "station.data_dir", station_t["data_dir"], base)
    else:
        run.data_dir = (base / "var" / st.identity).absolute()
    if st.security is not None:
        _complete_security(where, st, run)
    return run


def _check_device(where: _Where, key: str, value: Any) -> str:
    """A device file the station opens read-write (a serial port, an input event device): it must exist and
    be readable and writable by this user."""
    import os

    what = "a device path"
    if not isinstance(value, str) or not value.strip():
        raise where.expected(key, what, value)
    if not os.path.exists(value):
        raise where.error(key, f"expected {what}, got {_show(value)} (no such device)")
    if not os.access(value, os.R_OK | os.W_OK):
        raise where.error(key, f"expected {what}, got {_show(value)} (permission denied: add the user to the "
                          "device's group, e.g. dialout or input)")
    return value


def _hardware_parts(where: _Where, t: dict[str, Any], run: RunSettings, base: Path) -> None:
    """[hardware] meter and rfid with their keys: which parts are real, and how to reach them."""
    from .hardware import registermap
    from .hardware.parts import EVS, METERS, RFID_FORMATS, RFIDS

    m, r = run.hardware.meter, run.hardware.rfid
    if "meter" in t:
        if t["meter"] not in METERS:
            raise where.expected("hardware.meter", " or ".join(f'"{k}"' for k in METERS), t["meter"])
        m.kind = t["meter"]
    if "meter_map" in t:
        m.map = _get_str(where, "hardware.meter_map", t["meter_map"])
    m.map_base = base
    if m.kind != "simulated":
        try:
            registermap.load(m.map, base)
        except registermap.MapError as e:
            raise where.error("hardware.meter_map", str(e)) from None
    _modbus_keys(where, t, "meter", m, run.station.connectors, "meter")

    e = run.hardware.ev
    if "ev" in t:
        if t["ev"] not in EVS:
            raise where.expected("hardware.ev", " or ".join(f'"{k}"' for k in EVS), t["ev"])
        e.kind = t["ev"]
    if "ev_map" in t:
        e.map = _get_str(where, "hardware.ev_map", t["ev_map"])
    e.map_base = base
    if e.kind != "simulated":
        from .hardware.evse import MapError, load_map

        try:
            load_map(e.map, base)
        except MapError as exc:
            raise where.error("hardware.ev_map", str(exc)) from None
    if "ev_phases" in t:
        e.phases = _get_int(where, "hardware.ev_phases", t["ev_phases"], 1, 3)
        if e.phases == 2:
            raise where.expected("hardware.ev_phases", "1 or 3", t["ev_phases"])
    _modbus_keys(where, t, "ev", e, run.station.connectors, "EVSE board")

    if "rfid" in t:
        if t["rfid"] not in RFIDS:
            raise where.expected("hardware.rfid", " or ".join(f'"{k}"' for k in RFIDS), t["rfid"])
        r.kind = t["rfid"]
    if "rfid_baudrate" in t:
        r.baudrate = _get_int(where, "hardware.rfid_baudrate", t["rfid_baudrate"], 300, 4_000_000)
    for name in ("prefix", "suffix"):
        if f"rfid_{name}" in t:
            setattr(r, name, _get_str(where, f"hardware.rfid_{name}", t[f"rfid_{name}"], 16))
    if "rfid_format" in t:
        if t["rfid_format"] not in RFID_FORMATS:
            raise where.expected("hardware.rfid_format", " or ".join(f'"{k}"' for k in RFID_FORMATS), t["rfid_format"])
        r.format = t["rfid_format"]
    if "rfid_debounce" in t:
        r.debounce = _get_number(where, "hardware.rfid_debounce", t["rfid_debounce"], 0, 3600)
    if "rfid_connector" in t:
        r.connector = _get_int(where, "hardware.rfid_connector", t["rfid_connector"], 1, run.station.connectors)
    if r.kind != "simulated":
        if "rfid_device" not in t:
            raise where.error("hardware.rfid_device", f'rfid = "{r.kind}" needs the reader\'s device (rfid_device)')
        if r.kind == "evdev":
            import importlib.util

            if importlib.util.find_spec("evdev") is None:
                raise where.error("hardware.rfid", 'rfid = "evdev" needs the evdev package (pip install evdev)')
        r.device = _check_device(where, "hardware.rfid_device", t["rfid_device"])
    elif "rfid_device" in t:
        r.device = _get_str(where, "hardware.rfid_device", t["rfid_device"])
    _gpio_parts(where, t, run)


def _modbus_keys(where: _Where, t: dict[str, Any], p: str, m: Any, connectors: int, what: str) -> None:
    """The keys a Modbus part shares (``meter_host`` ..., ``ev_host`` ...): how to reach the device."""
    if f"{p}_host" in t:
        m.host = _get_str(where, f"hardware.{p}_host", t[f"{p}_host"], 253)
    if f"{p}_port" in t:
        m.port = _get_int(where, f"hardware.{p}_port", t[f"{p}_port"], 1, 65535)
    if f"{p}_baudrate" in t:
        m.baudrate = _get_int(where, f"hardware.{p}_baudrate", t[f"{p}_baudrate"], 300, 4_000_000)
    if f"{p}_parity" in t:
        if t[f"{p}_parity"] not in ("N", "E", "O"):
            raise where.expected(f"hardware.{p}_parity", '"N", "E" or "O"', t[f"{p}_parity"])
        m.parity = t[f"{p}_parity"]
    if f"{p}_unit" in t:
        u = t[f"{p}_unit"]
        units = u if isinstance(u, list) else [u]
        if not units or not all(_is_int(x) and 1 <= x <= 247 for x in units):
            raise where.expected(f"hardware.{p}_unit", "a Modbus unit id from 1 to 247, or a list of them (one per "
                                 "connector)", u)
        if isinstance(u, list) and len(u) != connectors:
            raise where.error(f"hardware.{p}_unit", f"expected one unit id per connector ({connectors}), "
                              f"got {len(u)}")
        m.units = list(units)
    elif m.kind != "simulated" and connectors > 1:
        raise where.error(f"hardware.{p}_unit", "a station of several connectors needs a list of unit ids, one "
                          f"per connector's {what}")
    for name, lo, hi in ((f"{p}_poll_interval", 0.05, 3600), (f"{p}_timeout", 0.05, 60)):
        if name in t:
            setattr(m, name.removeprefix(f"{p}_"), _get_number(where, f"hardware.{name}", t[name], lo, hi))
    if m.kind == "modbus-tcp" and not m.host:
        raise where.error(f"hardware.{p}_host", f'{p} = "modbus-tcp" needs the {what}\'s address ({p}_host)')
    if m.kind == "modbus-rtu":
        if f"{p}_device" not in t:
            raise where.error(f"hardware.{p}_device", f'{p} = "modbus-rtu" needs the serial port ({p}_device)')
        m.device = _check_device(where, f"hardware.{p}_device", t[f"{p}_device"])
    elif f"{p}_device" in t:
        m.device = _get_str(where, f"hardware.{p}_device", t[f"{p}_device"])


def _gpio_parts(where: _Where, t: dict[str, Any], run: RunSettings) -> None:
    """[hardware] relay and lock on GPIO lines: one line per connector, feedback lines optional."""
    from .hardware.parts import RELAYS

    g = run.hardware.gpio
    n = run.station.connectors
    for part in ("relay", "lock"):
        if part in t:
            if t[part] not in RELAYS:
                raise where.expected(f"hardware.{part}", '"simulated" or "gpio"', t[part])
            setattr(g, part, t[part])
    if "gpio_active_low" in t:
        g.active_low = _get_bool(where, "hardware.gpio_active_low", t["gpio_active_low"])
    for name in ("relay_lines", "relay_feedback_lines", "lock_lines", "lock_feedback_lines"):
        if name in t:
            v = t[name]
            if not isinstance(v, list) or len(v) != n or not all(_is_int(x) and 0 <= x <= 1023 for x in v):
                raise where.expected(f"hardware.{name}", f"a list of {n} GPIO line offset(s), one per connector", v)
            setattr(g, name, list(v))
    if g.relay == "gpio" and not g.relay_lines:
        raise where.error("hardware.relay_lines", 'relay = "gpio" needs the contactor output lines (relay_lines)')
    if g.lock == "gpio" and not g.lock_lines:
        raise where.error("hardware.lock_lines", 'lock = "gpio" needs the lock output lines (lock_lines)')
    if g.lock == "gpio" and run.station.fixed_cable:
        raise where.error("hardware.lock", 'lock = "gpio" needs a socket: set fixed_cable = false and connector_lock = true')
    if "gpio_chip" in t:
        g.chip = _get_str(where, "hardware.gpio_chip", t["gpio_chip"])
    if g.relay == "gpio" or g.lock == "gpio":
        _check_device(where, "hardware.gpio_chip", g.chip)
        import importlib.util

        if importlib.util.find_spec("gpiod") is None:
            raise where.error(f"hardware.{'relay' if g.relay == 'gpio' else 'lock'}",
                              '"gpio" needs the gpiod package (pip install gpiod)')


def _check_path(where: _Where, key: str, value: Any, base: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise where.expected(key, "a file path", value)
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).absolute()


def _complete_security(where: _Where, st: StationSettings, run: RunSettings) -> None:
    """Default paths under <data_dir>/security/, and what the initial profile needs before anything starts
    ([SEC] A05.FR.02-04: no profile without its credentials)."""
    sec = st.security
    assert sec is not None
    for item, name in _SECURITY_FILES.items():
        if getattr(sec, item) is None and run.data_dir is not None:
            setattr(sec, item, run.data_dir / "security" / name)
    if sec.profile >= 2:
        from .features.security import certificates as certs

        ca = sec.csms_root_ca
        try:
            certs.load_chain(ca.read_text("ascii") if ca is not None else "")
        except (OSError, UnicodeDecodeError, certs.CertificateError) as e:
            detail = "no such file" if isinstance(e, FileNotFoundError) else str(e)
            raise where.error("security.csms_root_ca", f"security profile {sec.profile} needs the CSMS root "
                              f"certificate(s) in {str(ca)!r} ({detail})") from None
    if sec.profile == 3:
        for item in ("cert", "key"):
            path = getattr(sec, item)
            if path is None or not path.is_file():
                raise where.error(f"security.{item}", f"security profile 3 needs the station's {item} in {str(path)!r} (no such file)")
    key = sec.key
    if key is not None and key.is_file() and key.stat().st_mode & 0o077:
        # a private key readable by others is refused, as ssh does: its certificate stands for this station
        raise where.error("security.key", f"the private key {str(key)!r} is readable by others (mode "
                          f"{key.stat().st_mode & 0o777:04o}); chmod 600 it")
