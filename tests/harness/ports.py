"""Free TCP ports for servers a test starts on a port it must know beforehand.

The kernel hands out a port nothing listens on (bind to port 0); the port is then claimed in
a folder every test process on this machine shares (pytest-xdist workers, other checkouts'
runs), so two workers probing at the same moment never both get it before either binds.
A process drops its claims when it exits; claims older than CLAIM_KEPT (a process that was
killed) are stale and taken over.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import tempfile
import time
from pathlib import Path

CLAIMS = Path(tempfile.gettempdir()) / "bot-test-ports"
CLAIM_KEPT = 600.0  # seconds: far longer than any test keeps a server up
_claimed: list[Path] = []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now and no other test process claimed."""
    CLAIMS.mkdir(exist_ok=True)
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if _claim(CLAIMS / str(port)):
            _claimed.append(CLAIMS / str(port))
            return port


def _claim(path: Path) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        try:
            if time.time() - path.stat().st_mtime < CLAIM_KEPT:
                return False
            path.touch()  # a stale claim: ours now
            return True
        except FileNotFoundError:
            return _claim(path)


@atexit.register
def _release() -> None:
    for path in _claimed:
        with contextlib.suppress(OSError):
            path.unlink()
