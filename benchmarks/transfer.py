"""Firmware and diagnostics transfers on 127.0.0.1: download 64 MiB over HTTP and over FTP, upload 16 MiB by
HTTP PUT, HTTP POST multipart and FTP STOR, with runtime/transfer.py against the dev CSMS's file server
(csms/files.py: aiohttp and pyftpdlib). Prints MiB/s and the process's CPU time per transfer, best of N runs.

    .venv/bin/python benchmarks/transfer.py [--runs 3] [--download-mib 64] [--upload-mib 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ocpp_station.csms.files import FileServer  # noqa: E402
from ocpp_station.runtime.transfer import TransferSettings, download, upload  # noqa: E402

MIB = 1024 * 1024


async def main(runs: int, down_mib: int, up_mib: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "served"
        root.mkdir()
        (root / "fw.bin").write_bytes(os.urandom(down_mib * MIB))
        src = Path(tmp) / "diag.zip"
        src.write_bytes(os.urandom(up_mib * MIB))
        srv = FileServer(root)
        await srv.start_http("127.0.0.1", 0)
        ftp_port = srv.start_ftp("127.0.0.1", 0, "ocpp", "ocpp")
        http = srv.http_url
        ftp = f"ftp://ocpp:ocpp@127.0.0.1:{ftp_port}"
        s = TransferSettings(timeout=30)
        post = TransferSettings(timeout=30, http_upload="POST")
        cases = [
            (f"download {down_mib} MiB HTTP", down_mib,
             lambda i: download(f"{http}/firmware/fw.bin", Path(tmp) / f"h{i}.bin", s, resume=False)),
            (f"download {down_mib} MiB FTP", down_mib,
             lambda i: download(f"{ftp}/fw.bin", Path(tmp) / f"f{i}.bin", s, resume=False)),
            (f"upload {up_mib} MiB HTTP PUT", up_mib, lambda i: upload(f"{http}/diagnostics", f"p{i}.zip", src, s)),
            (f"upload {up_mib} MiB HTTP POST multipart", up_mib,
             lambda i: upload(f"{http}/diagnostics", f"m{i}.zip", src, post)),
            (f"upload {up_mib} MiB FTP STOR", up_mib, lambda i: upload(f"{ftp}/diagnostics", f"s{i}.zip", src, s)),
        ]
        try:
            for name, mib, fn in cases:
                best = None
                for i in range(runs):
                    c0, t0 = time.process_time(), time.perf_counter()
                    await fn(i)
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    if best is None or wall < best[0]:
                        best = (wall, cpu)
                wall, cpu = best
                # CPU time is the whole process's: client and server run in it (threads included)
                print(f"{name:36s} {mib / wall:8.1f} MiB/s  {wall * 1000:8.0f} ms  cpu {cpu * 1000:6.0f} ms "
                      "(client + server)")
        finally:
            await srv.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--download-mib", type=int, default=64)
    ap.add_argument("--upload-mib", type=int, default=16)
    a = ap.parse_args()
    asyncio.run(main(a.runs, a.download_mib, a.upload_mib))
