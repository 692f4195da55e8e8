"""Layering: ocpp_station.core and ocpp_station.ocpp are sans-I/O, and the layers import only downwards.

``core`` and ``ocpp`` must not import I/O or concurrency modules, and must not read the clock:
every entry point that needs the time takes ``now``. No layer imports a layer above it
(``LAYER_IMPORTS``): the core knows neither the feature modules nor a hardware implementation,
which the composition root (``assembly``) and the places that run a station pass in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ocpp_station

PACKAGE_DIR = Path(ocpp_station.__file__).resolve().parent
SANS_IO_PACKAGES = ["core", "ocpp"]
FORBIDDEN_MODULES = {"asyncio", "websockets", "sqlite3", "aiohttp", "time", "socket", "threading"}
CLOCK_METHODS = {"now", "utcnow", "today"}  # datetime.now(), datetime.utcnow(), date.today()
CLOCK_CLASSES = {"datetime", "date"}


# package -> the project packages (or modules) its code may import, besides itself
LAYER_IMPORTS = {
    "ocpp": set(),
    "core": {"ocpp", "store.base"},
    "store": {"core"},
    "hardware": {"core.events", "store.base"},
    "features": {"core", "ocpp", "store.base", "hardware.base"},
}


def modules() -> list[Path]:
    return sorted(p for pkg in SANS_IO_PACKAGES for p in (PACKAGE_DIR / pkg).rglob("*.py"))


def _root(name: str) -> str:
    return name.split(".")[0]


def _dotted(node: ast.AST) -> str | None:
    """'datetime.datetime' for an attribute chain of names, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def forbidden_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _root(a.name) in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and _root(node.module) in FORBIDDEN_MODULES:
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            # __import__("x") / importlib.import_module("x")
            name = _dotted(node.func)
            if name in ("__import__", "importlib.import_module", "import_module") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _root(arg.value) in FORBIDDEN_MODULES:
                    found.append(f"{name}({arg.value!r})")
    return found


def project_imports(tree: ast.AST, module: str) -> list[str]:
    """The project modules that ``module`` (dotted, below ``ocpp_station``) imports, anywhere in its code."""
    package = module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{target}.{a.name}".lstrip(".") for a in node.names]
                found += names
            elif node.module and node.module.startswith("ocpp_station."):
                found.append(node.module.removeprefix("ocpp_station."))
        elif isinstance(node, ast.Import):
            found += [a.name.removeprefix("ocpp_station.") for a in node.names if a.name.startswith("ocpp_station.")]
    return found


def layer_violations(module: str, imported: list[str]) -> list[str]:
    layer = module.split(".")[0]
    allowed = LAYER_IMPORTS[layer] | {layer}
    return [
        name for name in imported
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    ]


def layered_modules() -> list[Path]:
    return sorted(p for pkg in LAYER_IMPORTS for p in (PACKAGE_DIR / pkg).rglob("*.py"))


def _dotted_module(p: Path) -> str:
    return ".".join(p.relative_to(PACKAGE_DIR).with_suffix("").parts)


def clock_reads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            # time.time, time.monotonic, time.sleep, ... (any use of a name `time`)
            if isinstance(node.value, ast.Name) and node.value.id == "time":
                found.append(f"time.{node.attr}")
            # datetime.now(), datetime.datetime.utcnow(), date.today(), dt.datetime.now()
            if node.attr in CLOCK_METHODS:
                owner = _dotted(node.value)
                if owner is not None and owner.split(".")[-1] in CLOCK_CLASSES:
                    found.append(f"{owner}.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "datetime":
            # `from datetime import datetime` is fine, but an alias would hide `.now()` from the check above
            for a in node.names:
                if a.name in CLOCK_CLASSES and a.asname not in (None, a.name):
                    found.append(f"from datetime import {a.name} as {a.asname}")
    return found


def _rel(p: Path) -> str:
    return str(p.relative_to(PACKAGE_DIR.parent))


def test_packages_are_found():
    names = {_rel(p) for p in modules()}
    assert "ocpp_station/ocpp/session.py" in names
    assert "ocpp_station/ocpp/codec.py" in names
    assert "ocpp_station/core/station.py" in names
    assert len(names) >= 10


@pytest.mark.parametrize("path", modules(), ids=_rel)
def test_no_io_or_concurrency_imports(path):
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    assert forbidden_imports(tree) == []


@pytest.mark.parametrize("path", modules(), ids=_rel)
def test_no_clock_reads(path):
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    assert clock_reads(tree) == []


@pytest.mark.parametrize("path", layered_modules(), ids=_rel)
def test_imports_only_lower_layers(path):
    module = _dotted_module(path)
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    assert layer_violations(module, project_imports(tree, module)) == []


# -- the checks themselves catch what they should --------------------------------------------


@pytest.mark.parametrize(
    "module, src, expected",
    [
        ("core.station", "from ..features import default_features", ["features"]),
        ("core.station", "def f():\n    from ..hardware.simulated import SimulatedHardware\n", ["hardware.simulated"]),
        ("core.station", "from ocpp_station.runtime.app import StationRuntime", ["runtime.app"]),
        ("core.station", "from .. import features", ["features"]),
        ("core.station", "from .clock import iso\nfrom ..ocpp.rpc import ErrorCode\nfrom ..store.base import Store", []),
        ("features.core.metering", "from ...hardware.base import MeterSample\nfrom ..base import Feature", []),
        ("features.core.metering", "from ...hardware.simulated import SimulatedHardware", ["hardware.simulated"]),
        ("ocpp.session", "from ..core.clock import iso", ["core.clock"]),
        ("hardware.simulated", "from ..core.events import CablePlugged\nfrom .base import MeterSample", []),
    ],
)
def test_layer_check_self_test(module, src, expected):
    assert layer_violations(module, project_imports(ast.parse(src), module)) == expected



@pytest.mark.parametrize(
    "src, expected",
    [
        ("import asyncio", ["import asyncio"]),
        ("import os, socket", ["import socket"]),
        ("import websockets.asyncio.client as c", ["import websockets.asyncio.client"]),
        ("from websockets.asyncio.client import connect", ["from websockets.asyncio.client import ..."]),
        ("from aiohttp import web", ["from aiohttp import ..."]),
        ("from time import monotonic", ["from time import ..."]),
        ("def f():\n    import threading\n", ["import threading"]),
        ("try:\n    import sqlite3\nexcept ImportError:\n    pass\n", ["import sqlite3"]),
        ("x = __import__('asyncio')", ["__import__('asyncio')"]),
        ("import importlib\nm = importlib.import_module('socket')", ["importlib.import_module('socket')"]),
        ("from . import time", []),  # relative import of a sibling module, not the stdlib
        ("import timeit, datetime, asyncio_tools", []),
        ("from datetime import datetime", []),
    ],
)
def test_import_check_self_test(src, expected):
    assert forbidden_imports(ast.parse(src)) == expected


@pytest.mark.parametrize(
    "src, expected",
    [
        ("t = time.time()", ["time.time"]),
        ("t = time.monotonic()", ["time.monotonic"]),
        ("f = time.sleep", ["time.sleep"]),
        ("d = datetime.now()", ["datetime.now"]),
        ("d = datetime.now(timezone.utc)", ["datetime.now"]),
        ("d = datetime.datetime.utcnow()", ["datetime.datetime.utcnow"]),
        ("d = date.today()", ["date.today"]),
        ("f = datetime.now", ["datetime.now"]),
        ("from datetime import datetime as DT", ["from datetime import datetime as DT"]),
        ("d = datetime.fromtimestamp(ts, tz=timezone.utc)", []),
        ("d = datetime.fromisoformat(s)", []),
        ("x = self.timeout", []),
        ("x = now + 1", []),
    ],
)
def test_clock_check_self_test(src, expected):
    assert clock_reads(ast.parse(src)) == expected
