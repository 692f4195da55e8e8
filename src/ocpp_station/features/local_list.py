"""Local Authorization List Management ([SPEC] §3.5.2, §5.10, §5.15, §6.27-6.28, §6.41-6.42, §7.1, §9.2).

Theory of operation
-------------------
The list is a set of idTag -> IdTagInfo entries with a version, both kept in
the store (namespaces ``local_list`` and ``local_list_meta``) and mirrored in
memory for lookups. Only SendLocalList changes it.

* ``Full`` replaces the whole list; ``Differential`` adds or updates entries
  that carry an idTagInfo and removes those that do not ([SPEC] §6.41, §7.1).
* An update is checked whole before anything is written, and written in one
  store batch: a refused or failed update leaves the old entries and version
  ([SPEC] §7.47 Failed; TC_043_3).
* ``VersionMismatch``: a Differential whose listVersion is not newer than the
  current one; a Full update is taken whatever its version (TC_043_2).
* GetLocalListVersion answers 0 while the list is empty (TC_042_2), -1 while
  LocalAuthListEnabled is false ([SPEC] §5.10, TC_042_1).
* The Authorization feature asks :meth:`LocalAuthList.lookup` before the
  cache; a listed idTag never enters the cache, and an IdTagInfo from the CSMS
  that contradicts the list keeps the list and raises a LocalListConflict
  StatusNotification on connector 0 ([SPEC] §3.5.2, §7.6).
"""

from __future__ import annotations

import logging
from typing import Any

from ..core.configuration import KeySpec
from ..core.outbox import Request
from ..core.settings import StationSettings
from .base import Feature
from .core.authorization import tag_key

log = logging.getLogger(__name__)

NS = "local_list"  # idTag (upper case) -> {"idTag": as sent, "idTagInfo": {...}}
META = "local_list_meta"  # "version" -> int
PROFILE = "LocalAuthListManagement"


class LocalListStoreError(Exception):
    """The list could not be written (a real store error, or one forced by a test lab for TC_043_3)."""


class LocalAuthList(Feature):
    profile = PROFILE

    def __init__(self, station) -> None:
        super().__init__(station)
        self.entries: dict[str, dict[str, Any]] = {}  # idTag (upper case) -> {"idTag", "idTagInfo"}
        self.version = 0  # listVersion of the last accepted update
        self.fail_next_update = False  # the next SendLocalList fails while storing (TC_043_3)

    @staticmethod
    def keys(settings: StationSettings) -> list[KeySpec]:
        # [SPEC] §9.2
        return [
            KeySpec("LocalAuthListEnabled", "bool", "true", profile=PROFILE),
            KeySpec("LocalAuthListMaxLength", "int", "10000", readonly=True, minimum=1, profile=PROFILE),
            KeySpec("SendLocalListMaxLength", "int", "2000", readonly=True, minimum=1, profile=PROFILE),
        ]

    def handlers(self):
        return {"GetLocalListVersion": self.get_local_list_version, "SendLocalList": self.send_local_list}

    @property
    def enabled(self) -> bool:
        return self.station.config["LocalAuthListEnabled"]

    def on_start(self, now: float) -> None:
        auth = self.station.feature["Authorization"].local_lists
        if self not in auth:
            auth.append(self)
        store = self.station.store
        self.entries = store.items(NS)
        self.version = store.get(META, "version") or 0

    # -- lookups (called by Authorization) ---------------------------------------------------------

    def lookup(self, id_tag: str, now: float) -> dict[str, Any] | None:
        """The listed IdTagInfo of ``id_tag`` (case-insensitive, [SPEC] §3.5.1), or None."""
        if not self.enabled:
            return None
        entry = self.entries.get(tag_key(id_tag))
        return entry["idTagInfo"] if entry is not None else None

    def conflict(self, id_tag: str, info: dict[str, Any], now: float) -> None:
        """The CSMS answered ``info`` for a listed idTag with another status: keep the list, report it."""
        listed = self.lookup(id_tag, now)
        if listed is None or listed.get("status") == info.get("status"):
            return
        st = self.station
        c0 = st.connector(0)
        log.warning("idTag %s: the CSMS says %s, the local list %s (LocalListConflict)", id_tag, info.get("status"), listed.get("status"))
        # [SPEC] §3.5.2, §7.6: the list stays as the CSMS sent it; the conflict is reported on connector 0
        st.send(Request("StatusNotification", {
            "connectorId": 0,
            "errorCode": "LocalListConflict",
            "status": c0.status.value,
            "timestamp": st.timestamp(now),
            "info": f"idTag {id_tag}"[:50],
        }))

    # -- CSMS actions --------------------------------------------------------------------------------

    def get_local_list_version(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        if not self.enabled:
            return {"listVersion": -1}  # [SPEC] §5.10: not in use
        return {"listVersion": self.version if self.entries else 0}  # TC_042_2: empty list => 0

    def send_local_list(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        if not self.enabled:
            return {"status": "NotSupported"}  # [SPEC] §7.47: the list is switched off
        version = payload["listVersion"]
        full = payload["updateType"] == "Full"
        update = payload.get("localAuthorizationList") or []
        cfg = self.station.config
        if not full and version <= self.version:
            return {"status": "VersionMismatch"}  # [SPEC] §7.47; TC_043_2
        if len(update) > cfg["SendLocalListMaxLength"]:
            log.warning("SendLocalList Failed: %d entries, SendLocalListMaxLength is %d", len(update), cfg["SendLocalListMaxLength"])
            return {"status": "Failed"}
        keys = [tag_key(e["idTag"]) for e in update]
        if len(set(keys)) != len(keys):
            log.warning("SendLocalList Failed: an idTag appears twice ([SPEC] §6.41: idTags must be unique)")
            return {"status": "Failed"}
        if full and any("idTagInfo" not in e for e in update):
            log.warning("SendLocalList Failed: a Full update entry without idTagInfo ([SPEC] §6.41)")
            return {"status": "Failed"}
        new = {} if full else dict(self.entries)
        for key, e in zip(keys, update):
            if "idTagInfo" in e:
                new[key] = {"idTag": e["idTag"], "idTagInfo": e["idTagInfo"]}
            else:
                new.pop(key, None)  # removing an idTag the list does not hold changes nothing ([SPEC] §6.41)
        if len(new) > cfg["LocalAuthListMaxLength"]:
            log.warning("SendLocalList Failed: %d entries, LocalAuthListMaxLength is %d", len(new), cfg["LocalAuthListMaxLength"])
            return {"status": "Failed"}
        # [ERRATA] 3.52 forbids the CS to send listVersion 0 or -1, but a tester has been seen sending 0: kept as sent
        try:
            self._write(new if full else None, keys, update, version)
        except Exception as exc:  # the store refused: the batch rolled back, the old list stands
            log.error("SendLocalList Failed: the list could not be stored: %s", exc)
            self.on_start(now)  # memory follows what the store holds
            return {"status": "Failed"}
        self.entries, self.version = new, version
        log.info("local list %s update v%d: %d entries", payload["updateType"], version, len(new))
        return {"status": "Accepted"}

    def _write(self, full: dict[str, Any] | None, keys: list[str], update: list[dict[str, Any]], version: int) -> None:
        store = self.station.store
        with store.batch():
            if full is not None:
                store.clear(NS)
                for key, entry in full.items():
                    store.put(NS, key, entry)
            else:
                for key, e in zip(keys, update):
                    if "idTagInfo" in e:
                        store.put(NS, key, {"idTag": e["idTag"], "idTagInfo": e["idTagInfo"]})
                    else:
                        store.delete(NS, key)
            if self.fail_next_update:
                self.fail_next_update = False
                raise LocalListStoreError("storage failure forced for this update")
            store.put(META, "version", version)

    # -- views ------------------------------------------------------------------------------------------

    def listing(self) -> dict[str, Any]:
        """The list as the CSMS sent it (GET /api/local-list)."""
        return {
            "enabled": self.enabled,
            "listVersion": self.version if self.entries else 0,
            "entries": [{"idTag": e["idTag"], "idTagInfo": e["idTagInfo"]} for _k, e in sorted(self.entries.items())],
        }

    def describe(self, doc: dict[str, Any], now: float) -> None:
        doc["localList"] = {
            "enabled": self.enabled,
            "listVersion": self.version if self.entries else 0,
            "size": len(self.entries),
        }


class LocalListAbsent(Feature):
    """A station without LocalAuthListManagement: GetLocalListVersion answers -1 ([SPEC] §5.10, TC_042_1).

    SendLocalList is left without a handler: CALLERROR NotSupported, which TC_043_1 accepts.
    """

    def handlers(self):
        return {"GetLocalListVersion": lambda _p, _now: {"listVersion": -1}}
