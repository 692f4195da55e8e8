"""Certificates made in the tests with ``cryptography``: a CA, server and client certificates, bad ones."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


def name(cn: str, o: str = "Test CPO") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, o)])


def key_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class CA:
    def __init__(self, cn: str = "Test Root CA", not_before=None, not_after=None, issuer: "CA | None" = None,
                 serial: int | None = None) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer.cert.subject if issuer else name(cn))
            .public_key(self.key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(not_before or NOW - DAY)
            .not_valid_after(not_after or NOW + 365 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        )
        self.cert = b.sign(issuer.key if issuer else self.key, hashes.SHA256())
        self.pem = pem(self.cert)

    def issue(self, public_key, cn: str, *, server_ip: str | None = None, client: bool = False,
              not_before=None, not_after=None, serial: int | None = None) -> x509.Certificate:
        b = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(not_before or NOW - DAY)
            .not_valid_after(not_after or NOW + 30 * DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if server_ip is not None:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(server_ip))]),
                                critical=False)
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        if client:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        return b.sign(self.key, hashes.SHA256())

    def server_files(self, directory: Path, ip: str = "127.0.0.1", **kw) -> tuple[Path, Path]:
        """A server certificate for ``ip`` and its key, as PEM files; returns (cert, key)."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.issue(key.public_key(), ip, server_ip=ip, **kw)
        directory.mkdir(parents=True, exist_ok=True)
        c, k = directory / f"server-{id(cert)}.pem", directory / f"server-{id(cert)}.key"
        c.write_text(pem(cert))
        k.write_text(key_pem(key))
        return c, k

    def sign_csr(self, csr_pem: str, **kw) -> x509.Certificate:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return self.issue(csr.public_key(), kw.pop("cn", cn), client=True, **kw)


def client_files(ca: CA, directory: Path, cn: str) -> tuple[Path, Path]:
    """A station certificate (CN = ``cn``) signed by ``ca``, and its key (mode 0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(key.public_key(), cn, client=True)
    directory.mkdir(parents=True, exist_ok=True)
    c, k = directory / "station-cert.pem", directory / "station-key.pem"
    c.write_text(pem(cert))
    k.write_text(key_pem(key))
    k.chmod(0o600)
    return c, k
