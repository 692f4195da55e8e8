"""Security profiles ([SEC] §2, A00, A01, A05): the rules, without I/O.

=======  ==================================  ======================  =========
profile  the station authenticates with      the CSMS authenticates  channel
=======  ==================================  ======================  =========
0        nothing                             nothing                 ws://
1        HTTP Basic (AuthorizationKey)       nothing                 ws://
2        HTTP Basic (AuthorizationKey)       its TLS certificate     wss://
3        its TLS client certificate          its TLS certificate     wss://
=======  ==================================  ======================  =========

* The profile only goes up over OCPP (A00.FR.005, A05.FR.01): a requested value at or below the current
  one is Rejected and changes nothing (TC_084).
* Going up needs its credentials first (A05.FR.02-04): 1 and 2 a valid AuthorizationKey, 2 and 3 an
  installed CentralSystemRootCertificate, 3 the station's own certificate.
* AuthorizationKey is 16 to 20 bytes written as 32 to 40 hex digits (A00.FR.205/304, digest §10 item 20).
* TLS ≥ 1.2 only, and the cipher suites of A00.FR.318: the ECDHE-ECDSA AES-GCM pair and the static RSA
  AES-GCM pair (which OpenSSL's default list leaves out), plus ECDHE-RSA; no compression (.320).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ...core.keys import authorization_key_ok  # the one rule of the key, declared with it in the Core keys

PROFILES = (0, 1, 2, 3)

# [SEC] A00.FR.318/.422 (TLS 1.2 names in OpenSSL's spelling); TLS 1.3 suites are all AEAD and stay on
CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    ]
)

__all__ = ["authorization_key_ok", "basic_auth_header", "profile_change", "Credentials", "CIPHERS"]


def basic_auth_header(identity: str, key: str, encoding: str = "raw") -> str:
    """``Basic base64(<identity>:<password>)`` ([SEC] A00.FR.202-204): the password is the key's bytes
    (``raw``, what OCTT TC_085 and libocpp send) or its hex text (``hex``, for CSMSs that compare that)."""
    password = bytes.fromhex(key) if encoding == "raw" else key.encode()
    return "Basic " + base64.b64encode(identity.encode() + b":" + password).decode()


def uses_basic_auth(profile: int) -> bool:
    return profile in (1, 2)


def uses_tls(profile: int) -> bool:
    return profile in (2, 3)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a new profile needs, as the station holds it now."""

    authorization_key: bool  # a valid AuthorizationKey is set
    csms_root: bool  # at least one CentralSystemRootCertificate is installed
    station_cert: bool  # the station has a certificate and its key (profile 3)


def profile_change(current: int, requested: int, have: Credentials) -> tuple[str, str]:
    """ChangeConfiguration(SecurityProfile): (status, why) with status Accepted or Rejected."""
    if requested not in PROFILES:
        return "Rejected", f"no security profile {requested}"
    if requested <= current:
        return "Rejected", f"profile {requested} is not above the current {current} (A05.FR.01)"
    if uses_basic_auth(requested) and not have.authorization_key:
        return "Rejected", "no valid AuthorizationKey (A05.FR.02)"
    if uses_tls(requested) and not have.csms_root:
        return "Rejected", "no CentralSystemRootCertificate installed (A05.FR.03)"
    if requested == 3 and not have.station_cert:
        return "Rejected", "no Charge Point certificate (A05.FR.04)"
    return "Accepted", ""
