"""The security extension's costs: a connection's TLS handshake (profile 2 and 3, the station's own context
against the dev CSMS's), a new key pair with its CSR, the checks of a CertificateSigned, one certificateHashData.

Run: .venv/bin/python benchmarks/security.py
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path

from ocpp_station.csms.pki import DevCa, server_context
from ocpp_station.features.security import certificates as certs
from ocpp_station.features.security.profiles import CIPHERS


def best(fn, n: int) -> float:
    """The best of three means over ``n`` calls, in seconds."""
    out = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t) / n)
    return min(out)


def handshake_cost(ca: DevCa, directory: Path, mutual: bool, n: int = 100) -> float:
    cert, key = ca.server_files("127.0.0.1", directory)
    srv = server_context(cert, key, ca.pem, require_client_cert=mutual)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        for _ in range(3 * n):
            conn, _ = listener.accept()
            try:
                srv.wrap_socket(conn, server_side=True).close()
            except OSError:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    client = ssl.create_default_context(cadata=ca.pem)
    client.minimum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers(CIPHERS)
    if mutual:
        key_obj = certs.new_key()
        leaf = ca.sign_csr(certs.make_csr(key_obj, "CP001", "Bench CPO"))
        (directory / "c.pem").write_text(leaf)
        (directory / "k.pem").write_text(certs.key_pem(key_obj))
        client.load_cert_chain(directory / "c.pem", directory / "k.pem")

    def one() -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            client.wrap_socket(s, server_hostname="127.0.0.1").close()

    return best(one, n)


def main() -> None:
    ca = DevCa()
    d = Path(tempfile.mkdtemp())
    key = certs.new_key()
    csr = certs.make_csr(key, "CP001", "Bench CPO")
    chain = certs.load_chain(ca.sign_csr(csr))
    roots = [ca.cert]
    now = dt.datetime.now(dt.timezone.utc)
    rows = {
        "TLS handshake, profile 2 (client and server in this process)": handshake_cost(ca, d / "p2", False),
        "TLS handshake, profile 3 (mutual)": handshake_cost(ca, d / "p3", True),
        "new key pair + CSR": best(lambda: certs.make_csr(certs.new_key(), "CP001", "Bench CPO"), 200),
        "CertificateSigned checks (parse, chain, key match)": best(
            lambda: (certs.check_chain(certs.load_chain(certs.pem(chain[0])), roots, now),
                     certs.same_public_key(chain[0], key)), 500),
        "certificateHashData (SHA256)": best(lambda: certs.hash_data(ca.cert, ca.cert), 2000),
    }
    for what, seconds in rows.items():
        print(f"{what}: {seconds * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
