"""The answer policy of the development CSMS: BootNotification status and interval, idTag results.

The same document is read by ``PUT /api/policy`` (operator API) and by
``ocpp-station csms --policy FILE``, and written by ``GET /api/policy``::

    {"boot": {"status": "Accepted", "interval": 10},
     "defaultIdTagInfo": {"status": "Accepted"},
     "idTags": {"INVALID01": {"status": "Invalid"}, "PARENTED": {"status": "Accepted", "parentIdTag": "FLEET"}},
     "stations": {"CP002": {"boot": {"status": "Pending", "interval": 5}}}}

Every part is optional; a part given replaces what it names (``idTags`` the whole table of
idTags with their own answer, ``stations`` every per-station boot answer, ``boot`` the status
and/or interval it carries). An idTagInfo may be given as its status alone (``"Blocked"``).
Everything is checked before anything changes.
"""

from __future__ import annotations

from typing import Any

from ..ocpp import validation
from ..ocpp.rpc import OcppError
from .errors import RequestError, schema_error

# [SPEC] §7.36 RegistrationStatus
BOOT_STATUSES = ("Accepted", "Pending", "Rejected")
# [SPEC] §7.14 AuthorizationStatus
AUTHORIZATION_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
MAX_INTERVAL = 2**31 - 1  # BootNotification.conf interval is an integer (JSON schema); keep it an int32
ID_TAG_MAX = 20  # IdToken is a CiString20Type ([SPEC] §7.28)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_boot_status(value: Any, field: str) -> str:
    if value not in BOOT_STATUSES or not isinstance(value, str):
        raise RequestError(422, field, f"expected one of {', '.join(BOOT_STATUSES)}, got {_show(value)}")
    return value


def check_boot_interval(value: Any, field: str) -> int:
    # [SPEC] §4.2: the heartbeat interval when Accepted, else the wait before the next BootNotification;
    # 0 lets the station choose ([SPEC] §4.2, requirements digest §3.1)
    if not _is_int(value) or not 0 <= value <= MAX_INTERVAL:
        raise RequestError(422, field, f"expected an integer of seconds from 0 to {MAX_INTERVAL}, got {_show(value)}")
    return value


def check_id_tag(tag: Any, field: str) -> str:
    if not isinstance(tag, str) or not 1 <= len(tag) <= ID_TAG_MAX:
        raise RequestError(422, field, f"an idTag is 1 to {ID_TAG_MAX} characters (IdToken), got {_show(tag)}")
    return tag


def check_id_tag_info(info: Any, field: str) -> dict[str, Any]:
    """An IdTagInfo ([SPEC] §7.15: status, optional parentIdTag and expiryDate), or its status alone."""
    if isinstance(info, str):
        info = {"status": info}
    if not isinstance(info, dict):
        raise RequestError(422, field, f"expected an idTagInfo object or a status, got {_show(info)}")
    status = info.get("status")
    if "status" in info and status not in AUTHORIZATION_STATUSES:
        raise RequestError(
            422, f"{field}.status", f"expected one of {', '.join(AUTHORIZATION_STATUSES)}, got {_show(status)}"
        )
    try:
        validation.validate_response("Authorize", {"idTagInfo": info})
    except OcppError as exc:
        raise schema_error(field, exc, root="idTagInfo") from None
    return dict(info)


def parse_policy(doc: Any) -> dict[str, Any]:
    """Check a policy document; the normalized parts it carries (nothing applied yet)."""
    if not isinstance(doc, dict):
        raise RequestError(400, None, "the policy must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "boot":
            out["boot"] = _boot(value, "boot")
        elif key == "defaultIdTagInfo":
            out["defaultIdTagInfo"] = check_id_tag_info(value, "defaultIdTagInfo")
        elif key == "idTags":
            if not isinstance(value, dict):
                raise RequestError(422, "idTags", f"expected an object idTag -> idTagInfo, got {_show(value)}")
            tags: dict[str, dict[str, Any]] = {}
            seen: set[str] = set()
            for tag, info in value.items():
                check_id_tag(tag, f"idTags.{tag}")
                if tag.lower() in seen:  # IdToken compares case-insensitively
                    raise RequestError(422, f"idTags.{tag}", "given twice (idTags compare case-insensitively)")
                seen.add(tag.lower())
                tags[tag] = check_id_tag_info(info, f"idTags.{tag}")
            out["idTags"] = tags
        elif key == "stations":
            if not isinstance(value, dict):
                raise RequestError(422, "stations", f'expected an object identity -> {{"boot": ...}}, got {_show(value)}')
            stations: dict[str, dict[str, Any]] = {}
            for identity, entry in value.items():
                where = f"stations.{identity}"
                if not identity or len(identity) > 255:
                    raise RequestError(422, where, "expected a charge point identity of 1 to 255 characters")
                if not isinstance(entry, dict):
                    raise RequestError(422, where, f'expected an object {{"boot": ...}}, got {_show(entry)}')
                for k in entry:
                    if k != "boot":
                        raise RequestError(422, f"{where}.{k}", "unknown field; expected boot")
                stations[identity] = {"boot": _boot(entry.get("boot", {}), f"{where}.boot")}
            out["stations"] = stations
        else:
            raise RequestError(422, key, "unknown field; expected boot, defaultIdTagInfo, idTags or stations")
    return out


def _boot(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(422, where, f"expected an object with status and/or interval, got {_show(value)}")
    boot: dict[str, Any] = {}
    for k, v in value.items():
        if k == "status":
            boot["status"] = check_boot_status(v, f"{where}.status")
        elif k == "interval":
            boot["interval"] = check_boot_interval(v, f"{where}.interval")
        else:
            raise RequestError(422, f"{where}.{k}", "unknown field; expected status or interval")
    return boot


def apply_policy(csms: Any, parts: dict[str, Any]) -> None:
    """Apply what :func:`parse_policy` returned to a :class:`~ocpp_station.csms.server.DevCsms`."""
    boot = parts.get("boot")
    if boot:
        csms.set_boot(boot.get("status", csms.boot_status), boot.get("interval"))
    if "defaultIdTagInfo" in parts:
        csms.default_id_tag_info = parts["defaultIdTagInfo"]
    if "idTags" in parts:
        csms.clear_id_tags()
        for tag, info in parts["idTags"].items():
            csms.set_id_tag(tag, info)
    if "stations" in parts:
        for link in csms.links.values():
            link.boot_status = link.boot_interval = None
        for identity, entry in parts["stations"].items():
            link = csms.link(identity)  # may not have connected yet: its first BootNotification is answered so
            link.boot_status = entry["boot"].get("status")
            link.boot_interval = entry["boot"].get("interval")


def policy_of(csms: Any) -> dict[str, Any]:
    """The policy document of ``csms`` (``GET /api/policy``)."""
    return {
        "boot": {"status": csms.boot_status, "interval": csms.boot_interval},
        "defaultIdTagInfo": dict(csms.default_id_tag_info),
        "idTags": csms.id_tags,
        "stations": {
            link.identity: {"boot": {k: v for k, v in (("status", link.boot_status), ("interval", link.boot_interval))
                                     if v is not None}}
            for link in csms.links.values()
            if link.boot_status is not None or link.boot_interval is not None
        },
    }


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."
