"""Errors of the operator API and of the CSMS policy: a 4xx status and the field it is about."""

from __future__ import annotations

import re
from typing import Any

from ..ocpp.rpc import OcppError

_REQUIRED = re.compile(r'^"([^"]+)" is a required property')
_UNEXPECTED = re.compile(r"\('([^']+)' was unexpected\)")


class RequestError(Exception):
    """A request (or a policy) that cannot be carried out: ``status`` 400/404/409/413/422/502/504,
    ``field`` the offending field as a dotted path (``payload.connectorId``), or None."""

    def __init__(self, status: int, field: str | None, message: str, **extra: Any) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.status = status
        self.field = field
        self.message = message
        self.extra = extra

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            doc["field"] = self.field
        doc.update(self.extra)
        return doc


def schema_error(prefix: str, exc: OcppError, root: str = "payload") -> RequestError:
    """A 422 naming the field an OCPP schema check (``ocpp.validation``) found wrong.

    The check describes it as ``<path>: <message>``, the path being ``root`` for the payload
    itself (a path may start with ``root/``); a missing or unexpected property is named in the message."""
    where, _, message = exc.description.partition(": ")
    if where.startswith(root + "/"):
        where = where[len(root) + 1 :]
    path = [] if where == root else where.split("/")
    m = _REQUIRED.match(message) or _UNEXPECTED.search(message)
    if m:
        path.append(m.group(1))
    return RequestError(422, ".".join([prefix, *path]), message or exc.description, ocppErrorCode=exc.code)
