"""A real PostgreSQL server for tests and benchmarks: Debian's binaries, a cluster in a temporary
folder, listening on 127.0.0.1 only, stopped and deleted at the end.

PostgreSQL refuses to run as root; run as root (CI), the server runs as the `postgres` user
that Debian's package creates.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.harness.ports import free_port

SERVER_USER = "postgres"  # who runs the server when the tests run as root
SETTINGS = (  # a throwaway cluster: durability traded for speed
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    " -c listen_addresses=127.0.0.1 -c shared_buffers=64MB"
)


def binaries() -> Path:
    """The folder of initdb and pg_ctl (Debian puts them under /usr/lib/postgresql/<v>/bin)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parent.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: `apt-get install postgresql` "
                           "(.ci/run does it)")
    return Path(versions[-1]).parent


class PostgresServer:
    """One cluster; `database()` gives each test a fresh, empty database on it."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        self._names = itertools.count(1)
        self._bin = binaries()
        self._shared: str | None = None

    def _command(self, *args: str) -> list[str]:
        command = [str(self._bin / args[0]), *args[1:]]
        return ["runuser", "-u", SERVER_USER, "--", *command] if self._as_root else command

    def start(self) -> PostgresServer:
        if self._as_root:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True}
        subprocess.run(self._command("initdb", "-D", str(self.data), "-A", "trust", "-U", "bot",
                                     "--no-sync", "-E", "UTF8"), **quiet)
        options = f"-p {self.port} -k {self.folder} {SETTINGS}"
        subprocess.run(self._command("pg_ctl", "-D", str(self.data), "-o", options, "-w",
                                     "-l", str(self.folder / "server.log"), "start"), **quiet)
        return self

    @property
    def url(self) -> str:
        """The server's maintenance database."""
        return self.url_of("postgres")

    def url_of(self, name: str) -> str:
        return f"postgresql://bot@127.0.0.1:{self.port}/{name}"

    def database(self) -> str:
        """A new empty database; its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url_of(name)

    def schema(self) -> str:
        """A URL on a new, empty schema of one shared database: as good as a new database to
        the store (its tables, its migrations), made in milliseconds rather than the 0.4 s a
        new database costs."""
        if self._shared is None:
            self._shared = self.database()
        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self._shared, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{name}"')
        return f"{self._shared}?options=-csearch_path%3D{name}"

    def stop(self) -> None:
        subprocess.run(self._command("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
