"""A Modbus meter's register map, as data: which register holds which measurand, in which type, word order
and scale. Maps are TOML files (docs/hardware.md); the ones shipped with the station live in ``maps/``.

A map file::

    name = "Eastron SDM630"
    table = "input"           # default of every register: "input" (function 04) or "holding" (function 03)
    type = "float32"          # default type
    word_order = "big"        # default: "big" (high word first) or "little"

    [registers]
    "Energy.Active.Import.Register" = { address = 0x0048, scale = 1000.0 }   # kWh -> Wh
    "Frequency" = { address = 0x0046 }

The value the station uses is ``raw × scale`` in the OCPP unit (Wh, W, A, V, Hz).
"""

from __future__ import annotations

import math
import struct
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

TYPES = {  # type -> (registers, struct format of the big-endian bytes)
    "uint16": (1, ">H"),
    "int16": (1, ">h"),
    "uint32": (2, ">I"),
    "int32": (2, ">i"),
    "uint64": (4, ">Q"),
    "int64": (4, ">q"),
    "float32": (2, ">f"),
    "float64": (4, ">d"),
}
TABLES = ("input", "holding")
WORD_ORDERS = ("big", "little")
MAX_READ = 125  # registers one Modbus read may return

# the measurands a map may name, each optionally with a phase
MEASURANDS = {
    "Energy.Active.Import.Register": (),
    "Energy.Active.Export.Register": (),
    "Power.Active.Import": (),
    "Frequency": (),
    "Current.Import": ("", "L1", "L2", "L3", "N"),
    "Voltage": ("", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"),
}
REQUIRED = "Energy.Active.Import.Register"
BUILTIN = {"sdm630": "sdm630.toml", "em340": "em340.toml"}  # meter_map names of the shipped maps


class MapError(ValueError):
    """A register map that cannot be used; ``str()`` says what is wrong in one line."""


@dataclass(frozen=True, slots=True)
class Register:
    address: int
    type: str
    word_order: str
    scale: float
    table: str

    @property
    def count(self) -> int:
        return TYPES[self.type][0]

    def decode(self, words: Sequence[int]) -> float:
        """The value in the OCPP unit from the register's words as read (``count`` of them)."""
        if len(words) != self.count:
            raise ValueError(f"expected {self.count} registers, got {len(words)}")
        ordered = list(words) if self.word_order == "big" else list(reversed(words))
        raw = struct.unpack(TYPES[self.type][1], b"".join(w.to_bytes(2, "big") for w in ordered))[0]
        value = float(raw) * self.scale
        if not math.isfinite(value):
            raise ValueError(f"register {self.address:#06x} holds no number ({raw!r})")
        return value

    def encode(self, value: float) -> list[int]:
        """The words that decode to ``value`` (for simulators and tests)."""
        raw: Any = value / self.scale
        if not self.type.startswith("float"):
            raw = round(raw)
        data = struct.pack(TYPES[self.type][1], raw)
        words = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
        return words if self.word_order == "big" else list(reversed(words))


@dataclass(frozen=True, slots=True)
class RegisterMap:
    name: str
    registers: Mapping[str, Register]  # "Voltage.L1-N" -> where it is

    def blocks(self) -> list[tuple[str, int, int]]:
        """(table, first address, count): the reads that fetch every register, as few as fit in MAX_READ each."""
        out: list[tuple[str, int, int]] = []
        for table in TABLES:
            regs = sorted((r for r in self.registers.values() if r.table == table), key=lambda r: r.address)
            start = end = None
            for r in regs:
                if start is not None and r.address + r.count - start <= MAX_READ:
                    end = max(end, r.address + r.count)
                    continue
                if start is not None:
                    out.append((table, start, end - start))
                start, end = r.address, r.address + r.count
            if start is not None:
                out.append((table, start, end - start))
        return out

    def decode(self, blocks: Mapping[tuple[str, int], Sequence[int]]) -> dict[str, float]:
        """Every measurand's value from the words of :meth:`blocks` (keyed by (table, first address))."""
        values: dict[str, float] = {}
        for item, r in self.registers.items():
            for (table, start), words in blocks.items():
                if table == r.table and start <= r.address and r.address + r.count <= start + len(words):
                    values[item] = r.decode(words[r.address - start : r.address - start + r.count])
                    break
            else:
                raise ValueError(f"no words read for {item}")
        return values


def parse(doc: Mapping[str, Any], name: str) -> RegisterMap:
    unknown = set(doc) - {"name", "table", "type", "word_order", "scale", "registers"}
    if unknown:
        raise MapError(f"unknown key {sorted(unknown)[0]!r} (expected name, table, type, word_order, registers)")
    defaults = {k: doc.get(k, d) for k, d in (("table", "input"), ("type", "float32"), ("word_order", "big"),
                                              ("scale", 1.0))}
    regs_doc = doc.get("registers")
    if not isinstance(regs_doc, dict) or not regs_doc:
        raise MapError("no [registers] table")
    registers: dict[str, Register] = {}
    for item, spec in regs_doc.items():
        base, _, phase = item.rpartition(".") if item not in MEASURANDS else (item, "", "")
        if base not in MEASURANDS or (phase and phase not in MEASURANDS[base]):
            raise MapError(f"registers.{item!r}: not a measurand a meter map can name "
                           f"({', '.join(MEASURANDS)}, with a phase for Current.Import and Voltage)")
        if not isinstance(spec, dict) or set(spec) - {"address", "type", "word_order", "scale", "table"}:
            raise MapError(f"registers.{item!r}: expected {{ address = N, type, word_order, scale, table }}")
        r = {**defaults, **spec}
        address = r.get("address")
        if isinstance(address, bool) or not isinstance(address, int) or not 0 <= address <= 0xFFFF:
            raise MapError(f"registers.{item!r}.address: expected an integer from 0 to 65535, got {address!r}")
        if r["type"] not in TYPES:
            raise MapError(f"registers.{item!r}.type: expected one of {', '.join(TYPES)}, got {r['type']!r}")
        if r["word_order"] not in WORD_ORDERS:
            raise MapError(f"registers.{item!r}.word_order: expected \"big\" or \"little\", got {r['word_order']!r}")
        if r["table"] not in TABLES:
            raise MapError(f"registers.{item!r}.table: expected \"input\" or \"holding\", got {r['table']!r}")
        scale = r["scale"]
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale == 0:
            raise MapError(f"registers.{item!r}.scale: expected a non-zero number, got {scale!r}")
        registers[item] = Register(address, r["type"], r["word_order"], float(scale), r["table"])
    if REQUIRED not in registers:
        raise MapError(f"no register for {REQUIRED} (the transaction's meter values need it)")
    return RegisterMap(str(doc.get("name", name)), registers)


def load(ref: str, base: Path | None = None) -> RegisterMap:
    """A shipped map by name (``sdm630``, ``em340``) or a TOML file (relative to ``base``)."""
    if ref in BUILTIN:
        text = resources.files(__package__).joinpath("maps", BUILTIN[ref]).read_text(encoding="utf-8")
    else:
        p = Path(ref).expanduser()
        p = p if p.is_absolute() or base is None else base / p
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise MapError(f"expected {', '.join(repr(n) for n in BUILTIN)} or a TOML register map, "
                           f"got {ref!r} ({e.strerror or e})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MapError(f"{ref}: {e}") from None
    return parse(doc, ref)
