"""The OCPP configuration-key registry ([SPEC] §9, §5.3 ChangeConfiguration, §5.8 GetConfiguration).

Values are kept as the strings OCPP exchanges and parsed on read. Precedence,
lowest first: the key's default (the seed certificate's table), the
``[ocpp]`` table of the config file, then values changed by the CSMS, which
are persisted in the store and win over the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..store.base import Store

NS = "config"


class ConfigValueError(ValueError):
    """A value that does not fit its key (type, range, list item)."""


def parse_bool(text: str) -> bool:
    t = text.strip().lower()  # booleans are case-insensitive ([SPEC] §9)
    if t == "true":
        return True
    if t == "false":
        return False
    raise ConfigValueError(f"expected true or false, got {text!r}")


def parse_int(text: str) -> int:
    t = text.strip()
    try:
        return int(t, 10)
    except ValueError:
        raise ConfigValueError(f"expected an integer, got {text!r}") from None


def parse_csl(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


@dataclass(slots=True, frozen=True)
class KeySpec:
    name: str  # the canonical OCPP key name (the CSMS may write it in any case: CiString50)
    kind: str  # "int" | "bool" | "csl" | "str"
    default: str  # default value as an OCPP string
    readonly: bool = False  # R (True) or RW (False), [SPEC] §9 / spec §2.4
    minimum: int | None = None  # for "int"
    maximum: int | None = None  # for "int"
    max_items: int | None = None  # for "csl"
    item_check: Callable[[str], bool] | None = None  # for "csl": is this item allowed?
    check: Callable[[str], bool] | None = None  # for "str"
    reboot_required: bool = False  # ChangeConfiguration answers RebootRequired
    write_only: bool = False  # never revealed by GetConfiguration (AuthorizationKey)
    profile: str = "Core"  # feature profile that defines it

    def parse(self, text: str) -> Any:
        if not isinstance(text, str):
            raise ConfigValueError(f"expected a string value, got {type(text).__name__}")
        if self.kind == "bool":
            return parse_bool(text)
        if self.kind == "int":
            v = parse_int(text)
            if self.minimum is not None and v < self.minimum:
                raise ConfigValueError(f"must be >= {self.minimum}, got {v}")
            if self.maximum is not None and v > self.maximum:
                raise ConfigValueError(f"must be <= {self.maximum}, got {v}")
            return v
        if self.kind == "csl":
            items = parse_csl(text)
            if self.max_items is not None and len(items) > self.max_items:
                raise ConfigValueError(f"at most {self.max_items} items, got {len(items)}")
            if self.item_check is not None:
                bad = [i for i in items if not self.item_check(i)]
                if bad:
                    raise ConfigValueError(f"unsupported item(s): {', '.join(bad)}")
            return items
        if self.check is not None and not self.check(text):
            raise ConfigValueError(f"invalid value {text!r}")
        return text

    def normalise(self, text: str) -> str:
        """The canonical string of a valid value (booleans as true/false, ints without padding)."""
        v = self.parse(text)
        if self.kind == "bool":
            return "true" if v else "false"
        if self.kind == "int":
            return str(v)
        if self.kind == "csl":
            return ",".join(v)
        return text


_NAMES: dict[tuple[str, ...], dict[str, str]] = {}
_SHARED: dict[KeySpec, KeySpec] = {}  # one instance per distinct spec, shared by the stations built alike
_SPECS: dict[tuple[KeySpec, ...], dict[str, KeySpec]] = {}  # the specs of a key set, shared likewise


def _plain(fn: Callable[..., Any] | None) -> bool:
    """A function that belongs to no station (not a bound method, no closure): a spec holding it may be shared."""
    return fn is None or (getattr(fn, "__self__", None) is None and not getattr(fn, "__closure__", None))


def _shared(spec: KeySpec) -> KeySpec:
    """The one shared instance equal to ``spec`` (a spec is immutable; its observers and accept rule are the
    Configuration's): a fleet's thousands of stations hold one set of specs, not ~60 each. A spec whose checks
    belong to one station (a bound method) stays its own: shared, it would keep that station alive."""
    if not (_plain(spec.item_check) and _plain(spec.check)):
        return spec
    return _SHARED.setdefault(spec, spec)


def _lower_names(names: tuple[str, ...]) -> dict[str, str]:
    """{lower-case name: name} for a key set, made once per distinct key set."""
    d = _NAMES.get(names)
    if d is None:
        d = {n.lower(): n for n in names}
        if len(d) == len(names):  # a key set with a clash is refused, not kept
            _NAMES[names] = d
    return d


class Configuration:
    """Typed access to the OCPP keys, with GetConfiguration / ChangeConfiguration semantics."""

    def __init__(self, specs: Iterable[KeySpec], store: Store, initial: dict[str, str] | None = None) -> None:
        self.specs: dict[str, KeySpec] = {}  # name -> spec, in declaration order
        for s in specs:
            if s.name in self.specs:
                raise ValueError(f"configuration key {s.name} declared twice")
            self.specs[s.name] = _shared(s)
        # per key: the observers, called with (name, parsed value) after a change (on_change), and the rule of
        # ChangeConfiguration that answers a status instead of Accepted for a parsed value (set_accept)
        self._observers: dict[str, list[Callable[[str, Any], None]]] | None = None
        self._accept: dict[str, Callable[[Any], str | None]] | None = None
        # lower-case name -> canonical name: the same key set gives the same (never changed) dict, shared by
        # every station built alike (a fleet holds thousands)
        self._names = _lower_names(tuple(self.specs))
        if len(self._names) < len(self.specs):
            seen: set[str] = set()
            for n in self.specs:
                if n.lower() in seen:
                    raise ValueError(f"configuration key {n} declared twice")
                seen.add(n.lower())
        self._store = store  # persists values changed by the CSMS
        self._values: dict[str, str] = {n: s.default for n, s in self.specs.items()}  # current strings
        self._parsed: dict[str, Any] = {}  # cache of parsed values
        for name, text in (initial or {}).items():
            self._values[name] = self.specs[name].normalise(text)  # the config loader validated them
        for name, text in store.items(NS).items():
            spec = self.specs.get(name)
            if spec is None or spec.readonly:
                continue  # a key that no longer exists, or has become read-only
            try:
                self._values[name] = spec.normalise(text)
            except ConfigValueError:
                continue  # keep the file's value over a stored value that no longer parses

        for name, spec in self.specs.items():
            # a list key's item limit is its "<key>MaxLength" key ([SPEC] §9: absent means 1 item)
            if spec.kind == "csl" and name + "MaxLength" in self.specs:
                limit = self[name + "MaxLength"]
                if spec.max_items != limit:
                    self.specs[name] = _shared(dataclasses.replace(spec, max_items=limit))
        # the same specs in the same order give the same (never changed) dict, shared by every station built
        # alike; a spec of one station's own (not shared) makes the key set its own too
        if all(_SHARED.get(s) is s for s in self.specs.values()):
            self.specs = _SPECS.setdefault(tuple(self.specs.values()), self.specs)

    def on_change(self, name: str) -> list[Callable[[str, Any], None]]:
        """The observers of key ``name``, called with (name, parsed value) after a change; append to add one."""
        if name not in self.specs:
            raise KeyError(name)
        if self._observers is None:
            self._observers = {}  # made at the first observer: most keys have none
        return self._observers.setdefault(name, [])

    def set_accept(self, name: str, rule: Callable[[Any], str | None]) -> None:
        """ChangeConfiguration of ``name`` only: ``rule(parsed value)`` answers the status to send instead of
        Accepted (e.g. "Rejected" for a SecurityProfile downgrade), or None to go ahead; set by the feature
        that owns the rule."""
        if name not in self.specs:
            raise KeyError(name)
        if self._accept is None:
            self._accept = {}
        self._accept[name] = rule

    # -- typed reads --------------------------------------------------------------------

    def __getitem__(self, name: str) -> Any:
        try:
            return self._parsed[name]
        except KeyError:
            v = self._parsed[name] = self.specs[name].parse(self._values[name])
            return v

    def text(self, name: str) -> str:
        return self._values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.specs

    def resolve(self, key: str) -> str | None:
        """The canonical name of a key as the CSMS wrote it, or None when unknown: keys are CiString50
        ([SPEC] ChangeConfiguration.req / GetConfiguration.req), compared case-insensitively (spec §2.3)."""
        return self._names.get(key.lower())

    # -- writes -------------------------------------------------------------------------

    def set_internal(self, name: str, text: str, persist: bool = True) -> None:
        """Set a value on the station's own account (e.g. HeartbeatInterval from BootNotification.conf)."""
        spec = self.specs[name]
        value = text if text == spec.default else spec.normalise(text)  # a default need not pass its check ("")
        self._values[name] = value
        self._parsed.pop(name, None)
        if persist:
            self._store.put(NS, name, value)
        if self._observers is not None:
            for cb in self._observers.get(name, ()):
                cb(name, self[name])

    def change(self, key: str, value: str) -> str:
        """ChangeConfiguration ([SPEC] §5.3): Accepted | Rejected | RebootRequired | NotSupported."""
        name = self.resolve(key)
        if name is None:
            return "NotSupported"
        spec = self.specs[name]
        if spec.readonly:
            return "Rejected"
        try:
            spec.normalise(value)
        except ConfigValueError:
            return "Rejected"  # wrong format or range, unsupported measurand: keep the old value
        accept = self._accept.get(name) if self._accept is not None else None
        if accept is not None:
            verdict = accept(spec.parse(value))
            if verdict is not None:
                return verdict  # refused by its owner's rule: nothing stored changes
        self.set_internal(name, value)
        return "RebootRequired" if spec.reboot_required else "Accepted"

    # -- GetConfiguration ------------------------------------------------------------------

    def get_configuration(self, keys: list[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
        """([SPEC] §5.8) known keys as KeyValue entries under their canonical names, unknown names in unknownKey
        as sent."""
        if not keys:
            names = [n for n, s in self.specs.items() if not s.write_only]
            return [self._key_value(n) for n in names], []
        known, unknown = [], []
        for k in keys:
            name = self.resolve(k)
            if name is not None:
                known.append(self._key_value(name))
            else:
                unknown.append(k)
        return known, unknown

    def _key_value(self, name: str) -> dict[str, Any]:
        spec = self.specs[name]
        entry: dict[str, Any] = {"key": name, "readonly": spec.readonly}
        if not spec.write_only:
            entry["value"] = self._values[name][:500]  # CiString500
        return entry
