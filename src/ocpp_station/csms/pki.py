"""The development CSMS's certificates: a CA it makes (or is given), its TLS server certificate, the
signing of the stations' CSRs (SignCertificate -> CertificateSigned, [SEC] A02), and a firmware signer
(:class:`FirmwareSigner`: a manufacturer root and a signing certificate for SignedUpdateFirmware, [SEC] L01).

For development and tests only: the CA key is kept in memory, or in the files given.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..features.security.profiles import CIPHERS

VALID_DAYS = 365


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocpp-station dev CSMS")])


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class DevCa:
    """A root CA: the CentralSystemRootCertificate of the stations that talk to this CSMS."""

    def __init__(self, cn: str = "ocpp-station dev CA") -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self.key = ec.generate_private_key(ec.SECP256R1())  # the CA's key, in memory only
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    @classmethod
    def load(cls, cert_file: Path | str, key_file: Path | str) -> "DevCa":
        """A CA given as PEM files (its certificate and its unencrypted private key)."""
        ca = cls.__new__(cls)
        ca.cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        ca.key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        return ca

    @property
    def pem(self) -> str:
        return _pem(self.cert)

    def _issue(self, public_key, cn: str, san: list | None = None, eku=None) -> x509.Certificate:
        now = dt.datetime.now(dt.timezone.utc)
        b = (
            x509.CertificateBuilder()
            .subject_name(_name(cn) if san else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        if eku:
            b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        return b.sign(self.key, hashes.SHA256())

    def server_files(self, host: str, directory: Path) -> tuple[Path, Path]:
        """A server certificate for ``host`` (an IP address or a DNS name) and its key, as PEM files."""
        key = ec.generate_private_key(ec.SECP256R1())
        try:
            san = [x509.IPAddress(ipaddress.ip_address(host))]
        except ValueError:
            san = [x509.DNSName(host)]
        cert = self._issue(key.public_key(), host, san, ExtendedKeyUsageOID.SERVER_AUTH)
        directory.mkdir(parents=True, exist_ok=True)
        c, k = directory / "csms-cert.pem", directory / "csms-key.pem"
        c.write_text(_pem(cert))
        k.touch(mode=0o600)
        k.write_text(_key_pem(key))
        return c, k

    def sign_csr(self, csr_pem: str) -> str:
        """The certificate chain (PEM) for a station's CSR: its subject kept, signed for client use."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError as exc:
            raise ValueError(f"malformed CSR: {exc}") from None
        if not csr.is_signature_valid:
            raise ValueError("the CSR's signature does not verify")
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not cn:
            raise ValueError("the CSR has no subject CN")
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject).issuer_name(self.cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return _pem(cert)


def server_context(cert_file: Path | str, key_file: Path | str, client_ca: str | None = None,
                   require_client_cert: bool = False) -> ssl.SSLContext:
    """The CSMS's TLS context: TLS ≥ 1.2, the cipher suites of [SEC] A00.FR.318; with ``client_ca`` (PEM) the
    stations' client certificates are verified against it (profile 3: ``require_client_cert``)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    ctx.load_cert_chain(str(cert_file), str(key_file))
    if client_ca:
        ctx.load_verify_locations(cadata=client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def dev_tls(host: str, ca: DevCa | None = None, require_client_cert: bool = False) -> tuple[DevCa, ssl.SSLContext, Path]:
    """A CA, a server certificate for ``host`` and the TLS context that serves it (client certificates signed
    by the CA verified); the files go to a temporary directory, returned third."""
    ca = ca or DevCa()
    directory = Path(tempfile.mkdtemp(prefix="ocpp-csms-tls-"))
    cert, key = ca.server_files(host, directory)
    return ca, server_context(cert, key, ca.pem, require_client_cert), directory


class FirmwareSigner:
    """A manufacturer's firmware signing key: the ManufacturerRootCertificate a station installs, the signing
    certificate it issued (sent as SignedUpdateFirmware's signingCertificate) and the signing key. Made here (EC
    P-256, or RSA 2048 with ``rsa_key``) or given (:meth:`load`). A signature is over the whole file, SHA-256:
    ECDSA for an EC key, PKCS#1 v1.5 for an RSA key ([SEC] L01.FR.04; what the station verifies)."""

    def __init__(self, cn: str = "ocpp-station dev manufacturer", rsa_key: bool = False) -> None:
        root = DevCa(f"{cn} root")
        self.root_cert = root.cert
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if rsa_key \
            else ec.generate_private_key(ec.SECP256R1())
        self.cert = root._issue(self.key.public_key(), f"{cn} firmware signing")

    @classmethod
    def load(cls, cert_pem: str, key_pem: str, root_pem: str | None = None) -> "FirmwareSigner":
        """A signer given as PEM text: the signing certificate, its unencrypted key, and the root that issued it
        (None: the certificate is its own trust anchor, to be installed as the ManufacturerRootCertificate)."""
        signer = cls.__new__(cls)
        signer.cert = x509.load_pem_x509_certificate(cert_pem.encode())
        signer.key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        signer.root_cert = x509.load_pem_x509_certificate(root_pem.encode()) if root_pem else signer.cert
        fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if signer.cert.public_key().public_bytes(*fmt) != signer.key.public_key().public_bytes(*fmt):
            raise ValueError("the signing key does not belong to the signing certificate")
        return signer

    @property
    def root_pem(self) -> str:
        return _pem(self.root_cert)

    @property
    def cert_pem(self) -> str:
        return _pem(self.cert)

    def sign(self, data: bytes) -> str:
        """The base64 signature of ``data`` (SignedUpdateFirmware's firmware.signature)."""
        if isinstance(self.key, rsa.RSAPrivateKey):
            sig = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            sig = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(sig).decode()
