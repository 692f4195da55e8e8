"""The fleet's security profiles ([fleet] security_profile, OCPP 1.6 security whitepaper [SEC] A00).

* 0: ws://, no authentication.
* 1: ws:// and HTTP Basic auth: user = the identity, password = the station's own AuthorizationKey,
  40 hex digits drawn from ``"<seed>/<identity>/authorization-key"`` (the same seed gives the same keys;
  the builtin CSMS derives them the same way and checks them).
* 2: wss:// and Basic auth: the builtin CSMS serves TLS with a certificate from the fleet CA made at
  start-up; the stations trust that CA (or ``--ca-file`` for an external CSMS).
* 3: wss:// with client certificates: each station's EC P-256 key and certificate (CN = its identity) are
  made at start-up (:func:`make_station_files`), signed by the fleet CA; the builtin CSMS requires them.

The fleet CA's files are written to one directory (``--pki-dir``, default a temporary one):
``fleet-ca.pem`` (what a CSMS under test trusts for profile 3), ``fleet-ca-key.pem``, ``csms-cert.pem`` /
``csms-key.pem`` (the builtin CSMS's) and ``stations/<identity>-cert.pem`` / ``-key.pem``.
"""

from __future__ import annotations

import asyncio.sslproto
import base64
import hashlib
import ssl
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..csms.pki import DevCa, _key_pem, _pem

PROFILES = (0, 1, 2, 3)
# asyncio's TLS transport allocates (and zero-fills) a read buffer of SSLProtocol.max_size per connection:
# 256 KiB, i.e. 2.5 GiB of RSS for 10,000 stations. One TLS record holds at most 16 KiB of plaintext
# (RFC 8446 §5.1), so reads of that size lose nothing; the fleet process sets it when its stations use TLS.
TLS_READ_BUFFER = 16 * 1024


def authorization_key(seed: Any, identity: str) -> str:
    """The station's AuthorizationKey: 40 hex digits (20 bytes, [SEC] A00.FR.204: 16..20 bytes)."""
    return hashlib.blake2b(f"{seed}/{identity}/authorization-key".encode(), digest_size=20).hexdigest()


def basic_auth_header(identity: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{identity}:{key}".encode()).decode()


class SeededKeys(dict):
    """identity -> the expected Basic-auth password (bytes) for any identity, as the CSMS's ``basic_auth``."""

    def __init__(self, seed: Any) -> None:
        super().__init__()
        self.seed = seed

    def get(self, identity: str, default: Any = None) -> bytes:  # type: ignore[override]
        return authorization_key(self.seed, identity).encode()


def make_pki(directory: Path | str | None, host: str = "127.0.0.1") -> Path:
    """The fleet CA and the builtin CSMS's server certificate for ``host``, as files in ``directory``. A CA
    already there (``fleet-ca.pem`` + ``fleet-ca-key.pem``) is kept, with the stations' certificates it signed,
    so that a CSMS under test trusts it once; a new CA removes the stations' certificates of the old one."""
    d = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="ocpp-fleet-pki-"))
    d.mkdir(parents=True, exist_ok=True)
    (d / "stations").mkdir(exist_ok=True)
    c, k = d / "fleet-ca.pem", d / "fleet-ca-key.pem"
    if c.exists() and k.exists():
        ca = DevCa.load(c, k)
    else:
        ca = DevCa("ocpp-station fleet CA")
        for old in (d / "stations").glob("*.pem"):
            old.unlink()
        c.write_text(ca.pem)
        k.touch(mode=0o600)
        k.write_text(_key_pem(ca.key))
    ca.server_files(host, d)
    return d


def make_station_files(pki_dir: Path | str, identities: list[str]) -> int:
    """Profile 3 at start-up: every station's key and certificate (those not in ``pki_dir`` yet); how many
    were made. Done before the ramp so that no handshake waits while the event loop signs certificates."""
    sec = FleetSecurity(3, None, str(pki_dir))
    d = Path(pki_dir) / "stations"
    missing = [i for i in identities if not (d / f"{_file_name(i)}-cert.pem").exists()]
    for identity in missing:
        sec.station_files(identity)
    return len(missing)


def _file_name(identity: str) -> str:
    return identity.replace("/", "_")


class FleetSecurity:
    """What a worker's stations need to connect at a profile: headers and TLS contexts."""

    def __init__(self, profile: int, seed: Any, pki_dir: str | None = None, ca_file: str | None = None,
                 builtin: bool = True) -> None:
        self.profile = profile
        self.builtin = builtin  # the builtin CSMS: its certificate is from the fleet CA
        self.seed = seed
        self.pki_dir = Path(pki_dir) if pki_dir else None
        self.ca_file = ca_file  # the external CSMS's root (PEM); None: the fleet CA
        self._ca: DevCa | None = None
        self._shared_ctx: ssl.SSLContext | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}  # profile 3: one per station, for the run

    def headers(self, identity: str) -> dict[str, str]:
        if self.profile in (1, 2):
            return {"Authorization": basic_auth_header(identity, authorization_key(self.seed, identity))}
        return {}

    def _base_context(self) -> ssl.SSLContext:
        # not create_default_context: it would load the whole system trust store into every station's context
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and the host name
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.ca_file:
            ctx.load_verify_locations(cafile=self.ca_file)
        elif not self.builtin:  # an external CSMS with a certificate the system trusts
            ctx.load_default_certs()
        else:
            assert self.pki_dir is not None
            ctx.load_verify_locations(cafile=str(self.pki_dir / "fleet-ca.pem"))
        return ctx

    def ssl_context(self, identity: str) -> ssl.SSLContext | None:
        if self.profile < 2:
            return None
        asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER  # type: ignore[attr-defined]
        if self.profile == 2:
            if self._shared_ctx is None:
                self._shared_ctx = self._base_context()
            return self._shared_ctx
        ctx = self._contexts.get(identity)
        if ctx is None:
            cert, key = self.station_files(identity)
            ctx = self._base_context()
            ctx.load_cert_chain(str(cert), str(key))
            self._contexts[identity] = ctx
        return ctx

    def station_files(self, identity: str) -> tuple[Path, Path]:
        """The station's key and certificate signed by the fleet CA (made once per run)."""
        assert self.pki_dir is not None
        d = self.pki_dir / "stations"
        safe = _file_name(identity)
        c, k = d / f"{safe}-cert.pem", d / f"{safe}-key.pem"
        if c.exists() and k.exists():
            return c, k
        if self._ca is None:
            self._ca = DevCa.load(self.pki_dir / "fleet-ca.pem", self.pki_dir / "fleet-ca-key.pem")
        key = ec.generate_private_key(ec.SECP256R1())
        cert: x509.Certificate = self._ca._issue(key.public_key(), identity, None, ExtendedKeyUsageOID.CLIENT_AUTH)
        d.mkdir(parents=True, exist_ok=True)
        k.touch(mode=0o600)
        k.write_text(_key_pem(key))
        c.write_text(_pem(cert))
        return c, k
