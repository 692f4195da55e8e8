"""The root certificate store ([SEC] M03-M05): InstallCertificate, GetInstalledCertificateIds, DeleteCertificate.

The two PEM bundles (``csms_root_ca``, ``manufacturer_root_ca`` in :mod:`.files`) are the store; the
CentralSystemRootCertificates are the only CAs a profile 2 or 3 link trusts.
"""

from __future__ import annotations

import logging
from typing import Any

from . import certificates as certs
from .profiles import uses_tls

log = logging.getLogger("ocpp_station.features.security")

# certificateType -> the file item that holds that type
ROOT_ITEM = {"CentralSystemRootCertificate": "csms_root_ca", "ManufacturerRootCertificate": "manufacturer_root_ca"}


class RootStore:
    def __init__(self, owner: Any) -> None:
        self.owner = owner  # the Security feature: files, events, the station, the profile, the clock

    def certificates(self, item: str) -> list:
        text = self.owner.files.read(item)
        if not text.strip():
            return []
        try:
            return certs.load_chain(text)
        except certs.CertificateError:
            log.error("security: %s holds a malformed certificate; none of it is trusted", self.owner.files.path(item))
            return []

    def install_certificate(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        kind = payload["certificateType"]
        item = ROOT_ITEM[kind]
        try:
            cert = certs.load_one(payload["certificate"])
            certs.check_root(cert, self.owner._wall(now))
        except certs.CertificateError as exc:
            # M05.FR.03: an invalid certificate is Rejected (EVerest's TC_078 variant); the event says why
            if kind == "CentralSystemRootCertificate":
                self.owner.events.raise_event("InvalidCentralSystemCertificate", now, f"InstallCertificate: {exc}")
            else:
                self.owner.events.log(now, f"InstallCertificate {kind} rejected: {exc}")
            return {"status": "Rejected"}
        roots = self.owner._roots(item)
        if any(r == cert for r in roots):
            return {"status": "Accepted"}  # already installed
        total = sum(len(self.owner._roots(i)) for i in ROOT_ITEM.values())
        if total >= self.owner.station.config["CertificateStoreMaxLength"]:
            return {"status": "Rejected"}  # M05.FR.06: the store is full
        try:
            self.owner.files.write(item, "".join(certs.pem(c) for c in roots + [cert]))
        except OSError as exc:
            log.error("security: cannot write %s: %s", self.owner.files.path(item), exc)
            return {"status": "Failed"}  # M05.FR.05: a valid certificate the station could not store
        self.owner.events.log(now, f"{kind} {cert.subject.rfc4514_string()} installed")
        return {"status": "Accepted"}

    def get_installed_certificate_ids(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        roots = self.owner._roots(ROOT_ITEM[payload["certificateType"]])
        if not roots:
            return {"status": "NotFound"}  # M03.FR.02; the array has minItems 1 (libocpp PR #1035)
        return {"status": "Accepted", "certificateHashData": [certs.hash_data(c, certs.issuer_of(c, roots)) for c in roots]}

    def delete_certificate(self, payload: dict[str, Any], now: float) -> dict[str, Any]:
        wanted = payload["certificateHashData"]
        algorithm = wanted["hashAlgorithm"]
        for kind, item in ROOT_ITEM.items():
            roots = self.owner._roots(item)
            for cert in roots:
                if not certs.same_hash_data(certs.hash_data(cert, certs.issuer_of(cert, roots), algorithm), wanted):
                    continue
                rest = [c for c in roots if c != cert]
                if kind == "CentralSystemRootCertificate" and uses_tls(self.owner.security_profile) and not rest:
                    return {"status": "Failed"}  # M04.FR.06: it validates the current connection
                try:
                    self.owner.files.write(item, "".join(certs.pem(c) for c in rest))
                except OSError:
                    return {"status": "Failed"}
                self.owner.events.log(now, f"{kind} {cert.subject.rfc4514_string()} deleted")
                return {"status": "Accepted"}
        return {"status": "NotFound"}
