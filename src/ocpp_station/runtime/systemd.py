"""systemd's notify protocol (sd_notify) for ``Type=notify`` units with a watchdog (docs/deploy.md).

Without ``NOTIFY_SOCKET`` in the environment (not started by systemd) everything here does nothing.
``READY=1`` goes out once the real parts answer and the station has started; ``WATCHDOG=1`` every half
``WATCHDOG_USEC`` while the station is healthy (the event loop runs this task, and the store answers): a
station whose store fails stops petting, and systemd restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Callable

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        addr = env.get("NOTIFY_SOCKET", "")
        if addr.startswith("@"):  # an abstract socket
            addr = "\0" + addr[1:]
        self.address = addr or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        self.watchdog = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and ours else None  # s, or None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` ("READY=1", "STATUS=...") as one datagram; False when there is nowhere to send."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.connect(self.address)
                s.sendall("\n".join(fields).encode())
            return True
        except OSError as exc:
            log.warning("sd_notify to %r failed: %s", self.address, exc)
            return False

    async def pet(self, healthy: Callable[[], bool]) -> None:
        """Send WATCHDOG=1 every half watchdog period while ``healthy()``; forever (cancel to stop)."""
        if self.watchdog is None or self.address is None:
            return
        while True:
            if healthy():
                self.notify("WATCHDOG=1")
            else:
                log.error("unhealthy: the systemd watchdog is not petted")
            await asyncio.sleep(self.watchdog / 2)
