"""The signature check of a signed firmware image (SignedUpdateFirmware, [SEC] L01.FR.04): runtime/filejobs.py's
``verify_file`` (SHA-256 of the whole file read in 1 MiB chunks, then the signature with the signing
certificate's key) for an EC P-256 (ECDSA) and an RSA 2048 (PKCS#1 v1.5) signer, and the signing certificate's
check against the ManufacturerRootCertificate that SignedUpdateFirmware makes before it answers.

    .venv/bin/python benchmarks/firmware_signature.py [MiB]   (default: 64)
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402

from ocpp_station.features.security import certificates as certs  # noqa: E402
from ocpp_station.runtime.filejobs import verify_file  # noqa: E402
from pki import CA, pem  # noqa: E402


def best(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    root = CA("Manufacturer Root")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fw.bin"
        path.write_bytes(os.urandom(mib * 1024 * 1024))
        data = path.read_bytes()
        for name, key in (("ECDSA P-256", ec.generate_private_key(ec.SECP256R1())),
                          ("RSA 2048 PKCS#1 v1.5", rsa.generate_private_key(public_exponent=65537, key_size=2048))):
            cert = pem(root.issue(key.public_key(), "Firmware Signer"))
            if isinstance(key, rsa.RSAPrivateKey):
                sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
            else:
                sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
            b64 = base64.b64encode(sig).decode()
            t = best(lambda: verify_file(path, cert, b64))
            now = dt.datetime.now(dt.timezone.utc)
            check = best(lambda: certs.check_chain([certs.load_chain(cert)[0]], [root.cert], now,
                                                   "ManufacturerRootCertificate"), 200)
            print(f"{name}: verify {mib} MiB {t * 1000:.0f} ms ({mib / t:.0f} MiB/s); "
                  f"signing certificate check {check * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
