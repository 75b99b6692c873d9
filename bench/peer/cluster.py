"""A throwaway PostgreSQL cluster in a temporary directory, for `bench peer --private-cluster` and the tests.

It needs the server binaries (Debian's `postgresql` package puts them in /usr/lib/postgresql/<v>/bin),
never the system service: `initdb` into a temp dir, `pg_ctl start` on a free loopback port with the
socket in the same dir, trust authentication for one user (`zava`), stopped and deleted on exit.
PostgreSQL refuses to run as root, so under root the cluster runs as the `postgres` system user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SUPERUSER = "zava"


class ClusterUnavailable(RuntimeError):
    """No private cluster can be started here; the message says why and what to install."""


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: the newest /usr/lib/postgresql/<v>/bin, else PATH."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterUnavailable("running as root and there is no 'postgres' user to run the server as") from None
    return "postgres"


@contextlib.contextmanager
def private_cluster() -> Iterator[str]:
    """Start a cluster; yields its DSN (user `zava`, database `postgres`, 127.0.0.1)."""
    bin_dir = server_binaries()
    if bin_dir is None:
        raise ClusterUnavailable("no PostgreSQL server binaries (initdb): sudo apt-get install -y postgresql")
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="zava-peer-pg-"))
    data, log = root / "data", root / "server.log"
    if user:
        shutil.chown(root, user=user)
    port = _free_port()
    run = lambda *args: subprocess.run([str(bin_dir / args[0]), *args[1:]], user=user, check=True,  # noqa: E731
                                       capture_output=True, text=True, timeout=120)
    try:
        try:
            run("initdb", "-D", str(data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--no-sync",
                "--locale=C.UTF-8")
            # fsync off: only the load writes, and a throwaway cluster need not survive a crash; reads are unchanged.
            run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
                f"-k {root} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off", "start")
        except subprocess.CalledProcessError as exc:
            tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or [""]
            raise ClusterUnavailable(f"{Path(exc.cmd[0]).name} failed: {tail[0]}") from None
        try:
            yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], user=user,
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)
