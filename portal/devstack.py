"""``make run``: the whole portal in one terminal on the embedded default.

Starts the embedded PostgreSQL (unless DATABASE_URL is set) and the embedded Redis (unless
REDIS_URL is set), migrates, seeds demo data into an empty database, then runs the web server,
one RQ worker and the RQ cron scheduler, prints the URL and the demo logins, and on Ctrl-C
stops them: the clients first, then Redis, then PostgreSQL. Every child runs in its own
session, so the terminal's Ctrl-C reaches only this process, which stops them in that order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from portal import PROJECT_ROOT, embedded_postgres, embedded_redis


def _stop(signum, frame):
    raise KeyboardInterrupt


def child_environment(environ: Mapping[str, str], port: int) -> dict[str, str]:
    """The environment of the servers we start. Links in mail written by the worker and the
    scheduler (no request to take a host from) point at the port the web server serves, unless
    PORTAL_BASE_URL chooses otherwise."""
    env = dict(environ, PYTHONUNBUFFERED="1")
    env.setdefault("PORTAL_BASE_URL", f"http://127.0.0.1:{port}")
    return env


def main() -> int:
    # Set both explicitly: a shell that starts us in the background hands us SIGINT ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    port = int(os.environ.get("PORT", "5000"))
    instance = Path(os.environ.get("PORTAL_INSTANCE_PATH", PROJECT_ROOT / "instance"))
    env = child_environment(os.environ, port)
    if (not env.get("DATABASE_URL") and embedded_postgres.running_url(instance / "postgres")) or \
            (not env.get("REDIS_URL") and embedded_redis.running_url(instance / "redis")):
        print("Another `make run` is using this instance folder; stop it first.", file=sys.stderr)
        return 1
    servers: list = []  # stopped in the reverse order
    children: list[subprocess.Popen] = []
    try:
        if not env.get("DATABASE_URL"):
            servers.append(embedded_postgres.start(instance / "postgres"))
            env["DATABASE_URL"] = servers[-1].url
        if not env.get("REDIS_URL"):
            servers.append(embedded_redis.start(instance / "redis"))
            env["REDIS_URL"] = servers[-1].url
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade", "heads"], env=env, check=True, cwd=PROJECT_ROOT)
        subprocess.run([*flask, "seed", "demo", "--if-empty"], env=env, check=True, cwd=PROJECT_ROOT)
        commands = [[*flask, "run", "--port", str(port), "--host", "127.0.0.1", "--with-threads"],
                    [sys.executable, "-m", "jobs.worker"], [sys.executable, "-m", "jobs.cron"]]
        children = [subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                                     preexec_fn=embedded_redis.die_with_parent,
                                     start_new_session=True)
                    for command in commands]
        from portal.seed.demo import DEMO_LOGINS, DEMO_PASSWORD
        time.sleep(1.5)
        print(f"\n  Standing Order is running at http://127.0.0.1:{port}/\n"
              f"  Demo logins (password: {DEMO_PASSWORD}):")
        for role, email in DEMO_LOGINS:
            print(f"    {role:<26} {email}")
        print("  Press Ctrl-C to stop the web server, the worker, the cron scheduler, Redis and "
              "PostgreSQL.\n", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1  # one of them stopped by itself
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children:
            if child.poll() is None:
                child.terminate()  # SIGTERM: a warm shutdown for the worker and the scheduler
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        for server in reversed(servers):
            server.stop()
        print("Stopped.")


if __name__ == "__main__":
    sys.exit(main())
