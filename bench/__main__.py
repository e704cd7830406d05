"""``make bench``: run every ``bench/bench_*.py`` and record the results.

    python -m bench [--quick] [--only NAME ...] [--keep]

Each module has ``run(ctx) -> list[dict]``, rows of ``{"name", "backend", "value", "unit",
"notes"}``. A module that raises is reported as a row with no value and the error in the notes;
the others still run. The results go to ``bench/results.json`` and to the table between the
``bench`` markers in ``BENCHMARKS.md``. Rows of modules or backends not run this time are kept
from the previous results, each with the date and mode it was measured in.

Scratch databases are ``bench_<name>`` on the PostgreSQL server of ``BENCH_POSTGRES_URL``
(default: postgres@127.0.0.1:5432), with a temporary folder for files; Redis is
``BENCH_REDIS_URL`` (default: database 5 on 127.0.0.1:6379), or an embedded server when that
does not answer. Everything scratch is removed at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import redis

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
RESULTS_PATH = BENCH_DIR / "results.json"
REPORT_PATH = PROJECT_ROOT / "BENCHMARKS.md"
BEGIN_MARKER = "<!-- bench:begin -->"
END_MARKER = "<!-- bench:end -->"
BACKENDS = ("postgresql",)
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"


@dataclass
class BenchContext:
    """What a benchmark module gets: the mode, the backends to use (PostgreSQL, the only one)
    and scratch resources."""

    quick: bool
    backends: list[str]
    tmp: Path
    redis_url: str
    machine: str
    postgres_server_url: str
    keep: bool = False
    _databases: list[str] = field(default_factory=list)
    _apps: list[Any] = field(default_factory=list)

    @staticmethod
    def time_calls(fn, *, repeat: int, warmup: int = 5) -> list[float]:
        """Wall times of ``repeat`` calls of ``fn`` in milliseconds, after ``warmup`` calls."""
        for _ in range(warmup):
            fn()
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    @staticmethod
    def percentile(samples: list[float], fraction: float) -> float:
        """Nearest-rank percentile: the median is ``percentile(samples, 0.5)``."""
        ordered = sorted(samples)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]

    def log(self, message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    def postgres_url(self, name: str) -> str:
        """The URL of a new, empty database ``bench_<name>`` (dropped at the end of the run)."""
        dbname = "bench_" + re.sub(r"[^a-z0-9_]", "_", name.lower())
        with _maintenance_connection(self.postgres_server_url) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{dbname}"')
        if dbname not in self._databases:
            self._databases.append(dbname)
        return _with_database(self.postgres_server_url, dbname)

    def database_url(self, backend: str, name: str) -> str:
        """A new, empty database for ``name`` on ``backend`` (PostgreSQL, the only one)."""
        if backend != "postgresql":
            raise ValueError(f"unknown backend {backend!r}: the portal runs on PostgreSQL only")
        return self.postgres_url(name)

    def make_app(self, database_url: str):
        """The portal on ``database_url`` and the bench Redis, with the schema migrated."""
        from flask_migrate import upgrade

        from portal import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": self.redis_url,
                          "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-not-secret"})
        with app.app_context():
            upgrade(revision="heads")  # parallel branches of work may each add a head
        self._apps.append(app)
        return app

    def close(self) -> None:
        from portal.extensions import db

        for app in self._apps:
            with app.app_context():
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()
        self._apps.clear()
        if self.keep:
            self.log(f"kept scratch databases {self._databases} and folder {self.tmp}")
            return
        if self._databases:
            with _maintenance_connection(self.postgres_server_url) as connection:
                for dbname in self._databases:
                    connection.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_database(server_url: str, dbname: str) -> str:
    base, _, query = server_url.partition("?")
    base = base.rsplit("/", 1)[0] if base.count("/") > 2 else base
    return f"{base}/{dbname}" + (f"?{query}" if query else "")


def _maintenance_connection(server_url: str) -> psycopg.Connection:
    return psycopg.connect(_plain_dsn(server_url), autocommit=True, connect_timeout=5)


def postgres_version(server_url: str) -> str | None:
    try:
        with _maintenance_connection(server_url) as connection:
            return connection.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        return None


def machine_description() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs{memory}, {platform.system()} {platform.release()}"


def start_redis(tmp: Path, stack: list) -> str:
    url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
        return url
    except (redis.ConnectionError, redis.TimeoutError):
        from portal import embedded_redis

        server = embedded_redis.start(tmp / "redis", persist=False, announce=False)
        stack.append(server)
        return server.url


def discover(only: list[str] | None) -> list[str]:
    names = sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))
    if not only:
        return names
    wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in only}
    unknown = wanted - set(names)
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(sorted(unknown))}; "
                         f"available: {', '.join(n.removeprefix('bench_') for n in names)}")
    return [name for name in names if name in wanted]


def run_module(module_name: str, ctx: BenchContext) -> list[dict]:
    short = module_name.removeprefix("bench_")
    ctx.log(f"{short}: start")
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"bench.{module_name}")
        rows = [dict(row) for row in module.run(ctx)]
    except Exception as error:  # noqa: BLE001 - one broken benchmark must not stop the others
        traceback.print_exc()
        rows = [{"name": short, "backend": "-", "value": None, "unit": "",
                 "notes": f"failed: {type(error).__name__}: {error}"[:500]}]
    ctx.log(f"{short}: done in {time.perf_counter() - started:.1f} s")
    for row in rows:
        row["bench"] = short
        ctx.log(f"  {row['name']} [{row['backend']}]: {format_value(row['value'])} {row['unit']}"
                f"  {row.get('notes', '')}")
    return rows


def format_value(value: Any) -> str:
    if value is None:
        return "failed"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:.2f}"


def merge_rows(previous: list[dict], fresh: list[dict], modules: list[str],
               backends: list[str]) -> list[dict]:
    """Fresh rows, plus earlier rows of the modules and backends this run left out."""
    ran = {name.removeprefix("bench_") for name in modules}
    kept = [row for row in previous if row.get("bench") != "runner"
            and row.get("backend") != "sqlite"  # a database the portal no longer runs on
            and (row.get("bench") not in ran
                 or (row.get("backend") in BACKENDS and row.get("backend") not in backends))]
    order = {name: index for index, name in enumerate(sorted({r.get("bench", "") for r in kept + fresh}))}
    return sorted(kept + fresh, key=lambda row: order[row.get("bench", "")])


def markdown_table(results: dict) -> str:
    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    machines: dict[str, str] = {}  # machine description -> its letter in the table
    for row in results["rows"]:
        machines.setdefault(row.get("machine", results["machine"]), chr(ord("A") + len(machines)))
    lines = [f"Last run {results['date']} ({results['mode']}): Python {results['python']}; "
             f"PostgreSQL {results.get('postgresql') or 'not available'}. "
             f"Machines (the letter in the Measured column):", "",
             *(f"- {letter}: {machine}" for machine, letter in machines.items()), "",
             "| Benchmark | Backend | Result | Unit | Notes | Measured |",
             "|---|---|---:|---|---|---|"]
    for row in results["rows"]:
        machine = machines[row.get("machine", results["machine"])]
        lines.append(f"| {cell(row.get('bench', ''))}: {cell(row['name'])} | {cell(row['backend'])} "
                     f"| {format_value(row['value'])} | {cell(row['unit'])} "
                     f"| {cell(row.get('notes', ''))} | {row.get('mode', '')} {row.get('date', '')} "
                     f"on {machine} |")
    return "\n".join(lines)


def write_report(results: dict) -> None:
    table = f"{BEGIN_MARKER}\n{markdown_table(results)}\n{END_MARKER}"
    text = REPORT_PATH.read_text() if REPORT_PATH.exists() else "# Benchmarks\n\n"
    if BEGIN_MARKER in text and END_MARKER in text:
        head, _, rest = text.partition(BEGIN_MARKER)
        _, _, tail = rest.partition(END_MARKER)
        text = head + table + tail
    else:
        text = text.rstrip("\n") + "\n\n" + table + "\n"
    REPORT_PATH.write_text(text)


def write_results(results: dict) -> None:
    temporary = RESULTS_PATH.with_name(RESULTS_PATH.name + ".tmp")
    temporary.write_text(json.dumps(results, indent=2, default=str) + "\n")
    temporary.replace(RESULTS_PATH)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this benchmark (genealogy, checkout, planner, ...); repeatable")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch databases and folder for a look afterwards")
    args = parser.parse_args(argv)

    modules = discover(args.only)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    # The portal must not touch the project's instance/ folder during a run.
    os.environ["PORTAL_INSTANCE_PATH"] = str(tmp / "instance")
    postgres_server_url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    pg_version = postgres_version(postgres_server_url)
    backends = list(BACKENDS)
    skipped_rows = []
    if "postgresql" in backends and pg_version is None:
        print(f"PostgreSQL at {re.sub(r'//[^@]*@', '//', postgres_server_url)} does not answer: "
              "skipping the postgresql backend", file=sys.stderr)
        backends.remove("postgresql")
        skipped_rows.append({"bench": "runner", "name": "postgresql backend", "backend": "postgresql",
                             "value": None, "unit": "", "notes": "server not reachable; skipped"})
    servers: list = []
    ctx = BenchContext(quick=args.quick, backends=backends, tmp=tmp,
                       redis_url=start_redis(tmp, servers), machine=machine_description(),
                       postgres_server_url=postgres_server_url, keep=args.keep)
    sys.path.insert(0, str(PROJECT_ROOT))
    started = datetime.now(timezone.utc)
    fresh: list[dict] = list(skipped_rows)
    try:
        for module_name in modules:
            fresh.extend(run_module(module_name, ctx))
    finally:
        ctx.close()
        for server in servers:
            server.stop()

    mode = "quick" if args.quick else "full"
    for row in fresh:
        row.setdefault("mode", mode)
        row.setdefault("date", f"{started:%Y-%m-%d}")
    for row in fresh:
        row.setdefault("machine", ctx.machine)
    earlier = json.loads(RESULTS_PATH.read_text()) if RESULTS_PATH.exists() else {}
    previous = earlier.get("rows", [])
    for row in previous:  # rows from before machines were recorded per row
        row.setdefault("machine", earlier.get("machine", "unknown"))
    results = {"machine": ctx.machine, "date": started.isoformat(timespec="seconds"), "mode": mode,
               "python": platform.python_version(), "postgresql": pg_version,
               "rows": merge_rows(previous, fresh, modules, backends)}
    write_results(results)
    write_report(results)
    ctx.log(f"wrote {RESULTS_PATH.relative_to(PROJECT_ROOT)} and {REPORT_PATH.name}")
    return 1 if any(row["value"] is None for row in fresh) else 0


if __name__ == "__main__":
    sys.exit(main())
