"""Certificates with real cryptography (``cryptography``): parsing, checks, hash data, keys and CSRs.

Pure functions over PEM text and ``datetime`` values; no file, no clock ([SEC] = the OCA white paper
"Improved security for OCPP 1.6-J", edition 3).

* :func:`hash_data`: the CertificateHashDataType of edition 3 (RFC 6960 OCSP CertID): ``issuerNameHash``
  = hash of the DER issuer Name, ``issuerKeyHash`` = hash of the issuer's public key bits, ``serialNumber``
  = the serial in hex without leading zeros; every hex string in lower case (EVerest's expected values),
  compared case-insensitively (:func:`same_hash_data`). A self-signed root is its own issuer.
* :func:`check_chain`: a certificate chain (leaf first) checked against trusted roots, RFC 5280 in the
  small: every certificate within its validity period, each one signed by the next, the last one by a root.
* :func:`new_key` / :func:`make_csr`: the station's key pair (EC P-256: [SEC] A00.FR.503 asks for ≥ 224 bit
  EC or ≥ 2048 bit RSA) and its PKCS#10 request, subject CN = the serial number, O = CpoName
  ([SEC] A00.FR.511, A02.FR.13), SHA-256 ([SEC] A00.FR.504).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

HASHES = {"SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}

_BEGIN = "-----BEGIN CERTIFICATE-----"


class CertificateError(ValueError):
    """A certificate or chain that cannot be used; ``str()`` says why (for the security event's techInfo)."""


# -- PEM -------------------------------------------------------------------------------------


def load_chain(text: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text, in order; CertificateError when there is none or one is malformed."""
    if not isinstance(text, str) or _BEGIN not in text:
        raise CertificateError("no PEM certificate")
    try:
        certs = x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise CertificateError(f"malformed PEM: {exc}") from None
    if not certs:
        raise CertificateError("no PEM certificate")
    return certs


def load_one(text: str) -> x509.Certificate:
    certs = load_chain(text)
    if len(certs) != 1:
        raise CertificateError(f"expected one certificate, got {len(certs)}")
    return certs[0]


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


# -- checks ----------------------------------------------------------------------------------


def check_validity(cert: x509.Certificate, now: dt.datetime) -> None:
    """CertificateError when ``now`` (aware, UTC) is outside the certificate's validity period."""
    if now < cert.not_valid_before_utc:
        raise CertificateError(f"not yet valid (notBefore {cert.not_valid_before_utc.isoformat()})")
    if now > cert.not_valid_after_utc:
        raise CertificateError(f"expired (notAfter {cert.not_valid_after_utc.isoformat()})")


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_chain(chain: list[x509.Certificate], roots: list[x509.Certificate], now: dt.datetime,
                root_type: str = "CentralSystemRootCertificate") -> x509.Certificate:
    """Check ``chain`` (leaf first, then sub-CAs) against ``roots``; returns the root it chains to. A chain
    whose top is one of ``roots`` itself (a trust anchor used directly) passes.

    [SEC] A02.FR.06: validity period and that it chains to an installed CentralSystemRootCertificate;
    L01.FR.23 the same for a firmware signing certificate and the ManufacturerRootCertificates."""
    if not roots:
        raise CertificateError(f"no {root_type} installed")
    for cert in chain:
        check_validity(cert, now)
    for cert, issuer in zip(chain, chain[1:]):
        if not signed_by(cert, issuer):
            raise CertificateError(f"certificate {common_name(cert)!r} is not signed by the next one in the chain")
    top = chain[-1]
    for root in roots:
        if top.fingerprint(hashes.SHA256()) == root.fingerprint(hashes.SHA256()) or signed_by(top, root):
            check_validity(root, now)
            return root
    raise CertificateError(f"does not chain to an installed {root_type}")


def check_root(cert: x509.Certificate, now: dt.datetime) -> None:
    """InstallCertificate ([SEC] M05.FR.03): a root certificate within its validity period, a CA, self-signed
    or at least a CA certificate."""
    check_validity(cert, now)
    if not is_ca(cert):
        raise CertificateError("not a CA certificate (basicConstraints CA is not true)")


# -- hash data (certificateHashData) ------------------------------------------------------------


def _key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's content (without tag, length and unused-bits byte)."""
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _spki_bits(der)


def _der_len(data: bytes, i: int) -> tuple[int, int]:
    first = data[i]
    if first < 0x80:
        return first, i + 1
    n = first & 0x7F
    return int.from_bytes(data[i + 1 : i + 1 + n], "big"), i + 1 + n


def _spki_bits(der: bytes) -> bytes:
    # SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
    _, i = _der_len(der, 1)  # into the outer SEQUENCE
    alg_len, j = _der_len(der, i + 1)  # AlgorithmIdentifier
    k = j + alg_len
    assert der[k] == 0x03, "subjectPublicKey is not a BIT STRING"
    bits_len, m = _der_len(der, k + 1)
    return der[m + 1 : m + bits_len]  # skip the unused-bits byte


def hash_data(cert: x509.Certificate, issuer: x509.Certificate, algorithm: str = "SHA256") -> dict[str, str]:
    """The certificate's CertificateHashDataType ([SEC] edition 3, RFC 6960 CertID)."""
    h = HASHES[algorithm]
    name_hash = hashes.Hash(h())
    name_hash.update(cert.issuer.public_bytes())
    key_hash = hashes.Hash(h())
    key_hash.update(_key_bits(issuer))
    return {
        "hashAlgorithm": algorithm,
        "issuerNameHash": name_hash.finalize().hex(),
        "issuerKeyHash": key_hash.finalize().hex(),
        "serialNumber": format(cert.serial_number, "x"),  # no leading zeros, no 0x ([SEC] edition 3)
    }


def issuer_of(cert: x509.Certificate, candidates: list[x509.Certificate]) -> x509.Certificate:
    """The issuer among ``candidates`` (a self-signed certificate is its own issuer); the certificate itself when
    none is found (its issuerKeyHash then hashes its own key, the best that can be said)."""
    if cert.issuer == cert.subject:
        return cert
    for c in candidates:
        if signed_by(cert, c):
            return c
    return cert


def same_hash_data(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal CertificateHashData: CiStrings compared case-insensitively; serials without leading zeros."""
    if a.get("hashAlgorithm") != b.get("hashAlgorithm"):
        return False
    for k in ("issuerNameHash", "issuerKeyHash"):
        if str(a.get(k, "")).lower() != str(b.get(k, "")).lower():
            return False
    return str(a.get("serialNumber", "")).lower().lstrip("0") == str(b.get("serialNumber", "")).lower().lstrip("0")


# -- keys and CSRs -----------------------------------------------------------------------------


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh key pair ([SEC] A02.FR.02), EC P-256."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_key(text: str) -> Any:
    try:
        return serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"malformed private key: {exc}") from None


def make_csr(key: Any, common_name_: str, organization: str) -> str:
    """PKCS#10 CSR in PEM, subject CN = the station's serial number, O = CpoName, signed with SHA-256."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name_),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def same_public_key(cert: x509.Certificate, key: Any) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def check_key_strength(cert: x509.Certificate) -> None:
    """[SEC] A00.FR.503: RSA/DSA ≥ 2048 bit, EC ≥ 224 bit."""
    k = cert.public_key()
    if isinstance(k, rsa.RSAPublicKey) and k.key_size < 2048:
        raise CertificateError(f"RSA key of {k.key_size} bits (at least 2048)")
    if isinstance(k, ec.EllipticCurvePublicKey) and k.curve.key_size < 224:
        raise CertificateError(f"EC key of {k.curve.key_size} bits (at least 224)")


# -- firmware signatures (L01.FR.04) ---------------------------------------------------------------


def verify_signature(cert: x509.Certificate, digest: bytes, signature: bytes) -> None:
    """CertificateError unless ``signature`` is the signing certificate's signature over a file whose SHA-256
    is ``digest``: ECDSA for an EC key; PKCS#1 v1.5 or RSA-PSS (any salt length) for an RSA key ([SEC] L01.FR.04;
    digest §10 item 25: what EVerest verifies and what the white paper names)."""
    key = cert.public_key()
    pre = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(pre))
            return
        if isinstance(key, rsa.RSAPublicKey):
            try:
                key.verify(signature, digest, padding.PKCS1v15(), pre)
                return
            except InvalidSignature:
                pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
                key.verify(signature, digest, pss, pre)
                return
    except InvalidSignature:
        raise CertificateError("the signature does not verify with the signing certificate's key") from None
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"the signature cannot be checked: {exc}") from None
    raise CertificateError(f"signing key of type {type(key).__name__} is not supported (EC or RSA)")
