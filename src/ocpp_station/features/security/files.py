"""The security extension's files: the certificate bundles, the station's certificate and key, the security log.

Each item is one file named by ``[security]`` (docs/security.md); writes are atomic (a temporary file
renamed over the old one, after fsync), private keys are created with mode 0600 and never read back into
anything but the TLS context. An item without a path lives in memory (tests, the fleet simulator).
Small synchronous writes, like the store's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ...core.settings import SecuritySettings

LOG_MAX_BYTES = 1024 * 1024  # the security log rolls over to <log>.1 at this size ([SEC] A04.FR.04 "rolling")

ITEMS = ("csms_root_ca", "manufacturer_root_ca", "cert", "key", "new_key", "next_cert")
SECRET = {"key", "new_key"}


class SecurityFiles:
    def __init__(self, settings: SecuritySettings, on_write: Callable[[], None] | None = None) -> None:
        self.on_write = on_write  # called after every write or delete (the feature's caches)
        self.paths: dict[str, Path | None] = {
            "csms_root_ca": settings.csms_root_ca,
            "manufacturer_root_ca": settings.manufacturer_root_ca,
            "cert": settings.cert,
            "key": settings.key,
            # the key of a CSR waiting for its certificate, beside the key
            "new_key": settings.key.with_name(settings.key.name + ".new") if settings.key is not None else None,
            # a signed certificate waiting for its notBefore (A02.FR.08), beside the certificate
            "next_cert": settings.cert.with_name(settings.cert.name + ".next") if settings.cert is not None else None,
        }  # item -> file, None = in memory
        self.log_path = settings.log  # the security log, None = in memory only
        self._memory: dict[str, str] = {}  # items without a path
        self.log_lines: list[str] = []  # the last lines of the security log (all of it in memory mode)

    def read(self, item: str) -> str:
        path = self.paths[item]
        if path is None:
            return self._memory.get(item, "")
        try:
            return path.read_text("ascii")
        except FileNotFoundError:
            return ""

    def write(self, item: str, text: str) -> None:
        path = self.paths[item]
        if self.on_write is not None:
            self.on_write()
        if path is None:
            self._memory[item] = text
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(path.name + ".tmp")
        mode = 0o600 if item in SECRET else 0o644
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.fchmod(fd, mode)  # an old temporary file keeps its mode otherwise
            os.write(fd, text.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def delete(self, item: str) -> None:
        path = self.paths[item]
        if self.on_write is not None:
            self.on_write()
        if path is None:
            self._memory.pop(item, None)
            return
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    def path(self, item: str) -> Path | None:
        return self.paths[item]

    def append_log(self, line: str) -> None:
        self.log_lines.append(line)
        del self.log_lines[:-200]
        if self.log_path is None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.log_path.stat().st_size > LOG_MAX_BYTES:
                os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
        except FileNotFoundError:
            pass
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
