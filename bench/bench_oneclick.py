"""The single-action (1-Click) endpoint under real HTTP load, beside a trivial endpoint.

On PostgreSQL (the only database): 200 synthetic people (``seed_synthetic``: a Home address and a sandbox Visa each),
each with 1-Click on in a browser of their own, and the 30 demo products in stock. The portal
runs in gunicorn (``--workers 4 --threads 4``, gthread) on 127.0.0.1 against the scratch
database and the bench Redis; the load generator is a bounded, self-stopping Python client:
``CLIENT_PROCESSES`` processes of ``CLIENT_THREADS`` threads, each thread one keep-alive
connection (http.client) shared by its share of the 200 browsers (each with its own session
cookie, CSRF token and client identifier); every request comes from one of the thread's
browsers at random. At the maximum each browser presses several times a second (the hourly cap
is lifted), so its hourly count and open order grow past anything real use gives them: a
press can only get dearer for it, not cheaper.

For each endpoint, ``GET /healthz`` (the stack's ceiling: routing, hooks, one tiny response)
and ``POST /1-click/buy`` (htmx, so the answer is the confirmation fragment):

1. the maximum: every thread sends back to back (closed loop) for a fixed time;
2. 50% and 90% of that maximum as an open loop at a fixed rate for a fixed time; a request's
   latency runs from the moment it was due, so a stalled server cannot hide its queue.
3. for the 1-Click POST, 100 presses/s as an open loop for the same time (a peak well above
   any direct-selling company's; above the maximum on a busy machine, which then shows).

Every 1-Click press has a fresh idempotency key, except one in ten, which repeats an earlier
press of the same browser (a double click, a retry). After the run the database must hold
exactly one request row and one order line per distinct key that succeeded, and every repeat
must have named the same order as its original: "duplicates" counts every difference.
"""

from __future__ import annotations

import http.client
import math
import multiprocessing
import os
import queue
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.seeding import demo_products, payers

SEED = 11
PEOPLE = 200
CLIENT_PROCESSES = 2
CLIENT_THREADS = 12
REPEAT_EVERY = 10  # every 10th press repeats an earlier one of the same browser
GUNICORN_ARGS = ["--workers", "4", "--threads", "4", "--worker-class", "gthread"]
ORDER_NUMBER = re.compile(rb"SO\d{8}")


def run(ctx: Any) -> list[dict]:
    durations = (4.0, 5.0) if ctx.quick else (10.0, 20.0)  # (maximum, each fixed load)
    if "postgresql" not in ctx.backends:
        return []
    return measure_backend(ctx, "postgresql", *durations)


# --- Setting up: data, server, browsers ----------------------------------------------------------

def seed(app) -> tuple[list[tuple[int, str]], list[int]]:
    """People with 1-Click on (person id, client token) and in-stock product ids, committed."""
    from portal.clock import utcnow
    from portal.extensions import db
    from portal.oneclick.identifiers import hash_token, new_token
    from portal.oneclick.models import ClientIdentifier, OneClickSetting
    from portal.seed.synthetic import seed_synthetic

    with app.app_context():
        session = db.session
        seed_synthetic(session, count=PEOPLE, seed=SEED)
        products = demo_products(session, bv_share=Decimal(1), on_hand=10_000_000)
        people = []
        now = utcnow()
        for user_id, address_id, card_id in payers(session):
            token = new_token()
            client = ClientIdentifier(token_hash=hash_token(token), label="bench", created_at=now)
            session.add(client)
            session.flush()
            session.add(OneClickSetting(client_id=client.id, user_id=user_id, address_id=address_id,
                                        payment_method_id=card_id, enabled_at=now))
            people.append((user_id, token))
        product_ids = [product.id for product in products]
        session.commit()
        db.session.remove()
    return people, product_ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(ctx: Any, database_url: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    project = Path(__file__).resolve().parent.parent
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=ctx.redis_url,
               PORTAL_ENV="production", SECRET_KEY="bench-only-not-secret",
               PORTAL_BASE_URL=f"http://127.0.0.1:{port}",
               PORTAL_INSTANCE_PATH=str(ctx.tmp / "instance"),
               PORTAL_ONECLICK_MAX_PER_HOUR="100000000")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *GUNICORN_ARGS, "--bind", f"127.0.0.1:{port}",
         "--backlog", "2048", "--log-level", "warning", "wsgi:app"],
        env=env, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_server(process)
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class KeepAlive:
    """One keep-alive HTTP connection to the server (each client thread has its own)."""

    def __init__(self, port: int):
        self.port = port
        self.connection: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, headers: dict,
             body: str | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.headers, response.read()
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class Browser:
    """One person's browser: the session cookie and CSRF token of a product page it loaded,
    and its client identifier; it talks over its client thread's keep-alive connection."""

    def __init__(self, line: KeepAlive, person_id: int, token: str, product_id: int):
        self.line, self.person_id = line, person_id
        status, headers, body = line.send("GET", f"/shop/products/{product_id}",
                                          {"Cookie": f"oneclick_client={token}"})
        if status != 200:
            raise RuntimeError(f"product page answered {status}")
        session_cookie = next(h.split(";", 1)[0] for h in headers.get_all("Set-Cookie") or []
                              if h.startswith("session="))
        self.cookie = f"oneclick_client={token}; {session_cookie}"
        self.csrf = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
        self.pressed: list[tuple[str, int]] = []  # (key, product id) of this browser's presses

    def press(self, rng: random.Random, product_ids: list[int]) -> tuple[int, bytes, str, bool]:
        repeat = bool(self.pressed) and rng.randrange(REPEAT_EVERY) == 0
        if repeat:
            key, product_id = rng.choice(self.pressed)
        else:
            key, product_id = secrets.token_urlsafe(18), rng.choice(product_ids)
            self.pressed.append((key, product_id))
        body = (f"csrf_token={self.csrf}&product_id={product_id}&unit=each&quantity=1"
                f"&person={self.person_id}&idempotency_key={key}")
        status, _, answer = self.line.send("POST", "/1-click/buy", {
            "Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded",
            "HX-Request": "true"}, body)
        return status, answer, key, repeat

    def health(self) -> tuple[int, bytes]:
        status, _, answer = self.line.send("GET", "/healthz", {"Cookie": self.cookie})
        return status, answer


# --- The load generator (runs in CLIENT_PROCESSES processes) -----------------------------------

def client_process(port: int, people: list[tuple[int, str]], product_ids: list[int],
                   commands: multiprocessing.Queue, results: multiprocessing.Queue,
                   seed_: int) -> None:
    """Set up one browser per thread, then run the phases the parent sends, one at a time:
    ("max", endpoint, seconds) or ("rate", endpoint, seconds, requests per second)."""
    rng = random.Random(seed_)
    lines = [KeepAlive(port) for _ in range(CLIENT_THREADS)]
    clients = [[Browser(line, person_id, token, rng.choice(product_ids))
                for person_id, token in people[i::CLIENT_THREADS]]
               for i, line in enumerate(lines)]
    results.put(("ready", sum(map(len, clients))))
    while True:
        command = commands.get()
        if command[0] == "stop":
            return
        results.put(("done", run_phase(clients, product_ids, rng, *command)))


def run_phase(clients: list[list[Browser]], product_ids: list[int], rng: random.Random, mode: str,
              endpoint: str, seconds: float, rate: float = 0.0) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    answers: list[tuple[str, bytes, bool]] = []  # (key, order number, repeat)
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds
    due: queue.Queue[float | None] = queue.Queue()

    def one(browsers: list[Browser], thread_rng: random.Random, since: float) -> None:
        browser = thread_rng.choice(browsers)
        try:
            if endpoint == "oneclick":
                status, body, key, repeat = browser.press(thread_rng, product_ids)
                found = ORDER_NUMBER.search(body) if status == 200 else None
                outcome = (key, found.group(0) if found else b"", repeat)
            else:
                status, body = browser.health()
                outcome = None
            finished = time.perf_counter()
            with lock:
                if status != 200:
                    errors.append(f"{status}: {body[:200]!r}")
                else:
                    latencies.append((finished - since) * 1000)
                    if outcome is not None:
                        answers.append(outcome)
        except Exception as error:  # noqa: BLE001 - counted as an error of the run
            with lock:
                errors.append(repr(error)[:200])

    def closed_loop(browsers: list[Browser], index: int) -> None:
        thread_rng = random.Random(rng.random() + index)
        while time.perf_counter() < deadline:
            one(browsers, thread_rng, time.perf_counter())

    def open_loop(browsers: list[Browser], index: int) -> None:
        thread_rng = random.Random(rng.random() + index)
        while True:
            when = due.get()
            if when is None:
                return
            pause = when - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            one(browsers, thread_rng, when)

    worker = closed_loop if mode == "max" else open_loop
    threads = [threading.Thread(target=worker, args=(b, i), daemon=True) for i, b in enumerate(clients)]
    for thread in threads:
        thread.start()
    if mode == "rate":
        interval, n = 1.0 / rate, 0
        while True:
            when = started + n * interval
            if when >= deadline:
                break
            now = time.perf_counter()
            if when > now + 0.05:
                time.sleep(when - now - 0.05)
            due.put(when)
            n += 1
        for _ in threads:
            due.put(None)
    for thread in threads:
        thread.join(timeout=seconds + 60)  # bounded: a stuck server cannot hang the run
    elapsed = max(time.perf_counter() - started, seconds)
    with lock:
        return {"latencies": list(latencies), "errors": list(errors), "answers": list(answers),
                "elapsed": elapsed}


class LoadGenerator:
    def __init__(self, port: int, people: list[tuple[int, str]], product_ids: list[int]):
        context = multiprocessing.get_context("spawn")
        self.results = context.Queue()
        self.commands = [context.Queue() for _ in range(CLIENT_PROCESSES)]
        self.processes = [
            context.Process(target=client_process, daemon=True,
                            args=(port, people[i::CLIENT_PROCESSES], product_ids, self.commands[i],
                                  self.results, SEED + i))
            for i in range(CLIENT_PROCESSES)]
        for process in self.processes:
            process.start()
        for _ in self.processes:
            kind, _count = self.results.get(timeout=120)
            assert kind == "ready"

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def phase(self, mode: str, endpoint: str, seconds: float, rate: float = 0.0,
              meter: CpuMeter | None = None) -> dict:
        before = meter.snapshot() if meter else None
        load_before = os.getloadavg()[0]
        for commands in self.commands:
            commands.put((mode, endpoint, seconds, rate / CLIENT_PROCESSES))
        merged = {"latencies": [], "errors": [], "answers": [], "elapsed": seconds}
        for _ in self.processes:
            kind, part = self.results.get(timeout=seconds + 180)
            for name in ("latencies", "errors", "answers"):
                merged[name] += part[name]
            merged["elapsed"] = max(merged["elapsed"], part["elapsed"])
        merged["cpu"] = meter.used(before, meter.snapshot()) if meter else {}
        merged["load"] = (load_before, os.getloadavg()[0])
        return merged

    def close(self) -> None:
        for commands in self.commands:
            commands.put(("stop",))
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


# --- Where the CPU goes ---------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (gunicorn's master and workers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


class CpuMeter:
    """CPU seconds spent over a phase by the server (gunicorn and its workers), the load
    generator's processes and the PostgreSQL backends serving the benchmark's database. Other work on the machine is not counted,
    so CPU per request is comparable across runs even when the machine is busy."""

    def __init__(self, server_pid: int, generator_pids: list[int], database_url: str | None):
        self.server_pid, self.generator_pids = server_pid, generator_pids
        self.dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1) \
            if database_url and database_url.startswith("postgresql") else None

    def _database_pids(self) -> list[int]:
        if self.dsn is None:
            return []
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            return [pid for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")]

    def snapshot(self) -> dict[str, dict[int, float]]:
        groups = {"server": process_tree(self.server_pid), "generator": self.generator_pids,
                  "database": self._database_pids()}
        return {name: {pid: seconds for pid in pids if (seconds := cpu_seconds(pid)) is not None}
                for name, pids in groups.items()}

    @staticmethod
    def used(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds per group between two snapshots (a process new since ``before`` counts
        from its start)."""
        return {name: sum(seconds - before[name].get(pid, 0.0) for pid, seconds in after[name].items())
                for name in after}


# --- Measuring ------------------------------------------------------------------------------------

ENDPOINTS = ("healthz", "oneclick")
SLICE_SECONDS = 2.0  # the maxima alternate between the endpoints in slices this long
FIXED_RATE = 100  # presses per second: a peak well above any direct-selling company's


def measure_backend(ctx: Any, backend: str, max_seconds: float, load_seconds: float) -> list[dict]:
    database_url = ctx.database_url(backend, "oneclick")
    app = ctx.make_app(database_url)
    people, product_ids = seed(app)
    ctx.log(f"oneclick [{backend}]: {len(people)} people with 1-Click on; starting gunicorn")
    server, port = start_server(ctx, database_url)
    try:
        load = LoadGenerator(port, people, product_ids)
        meter = CpuMeter(server.pid, load.pids, database_url)
        try:
            found: dict[str, dict] = {endpoint: {"warmup": load.phase("max", endpoint, 2.0)}
                                      for endpoint in ENDPOINTS}
            for endpoint, peak in interleaved_maxima(load, meter, max_seconds).items():
                maximum = len(peak["latencies"]) / peak["elapsed"]
                ctx.log(f"oneclick [{backend}] {endpoint}: maximum {maximum:.0f}/s, "
                        f"{len(peak['errors'])} errors; {cpu_note(peak)}; "
                        f"load average {load_note(peak)}")
                found[endpoint].update(max=maximum, peak=peak)
            for endpoint in ENDPOINTS:
                for share in (0.5, 0.9):
                    phase = load.phase("rate", endpoint, load_seconds,
                                       found[endpoint]["max"] * share)
                    found[endpoint][share] = phase
                    ctx.log(f"oneclick [{backend}] {endpoint} at {share:.0%}: "
                            f"p50 {percentile(phase['latencies'], 0.5):.1f} ms, "
                            f"p99 {percentile(phase['latencies'], 0.99):.1f} ms, "
                            f"{len(phase['errors'])} errors")
            phase = found["oneclick"][FIXED_RATE] = load.phase("rate", "oneclick", load_seconds,
                                                               FIXED_RATE)
            ctx.log(f"oneclick [{backend}] oneclick at {FIXED_RATE}/s: "
                    f"p50 {percentile(phase['latencies'], 0.5):.1f} ms, "
                    f"p99 {percentile(phase['latencies'], 0.99):.1f} ms, "
                    f"{len(phase['errors'])} errors")
        finally:
            load.close()
    finally:
        stop_server(server)
    duplicates, checked = count_duplicates(
        app, [found["oneclick"][k] for k in ("warmup", "peak", 0.5, 0.9, FIXED_RATE)])
    return rows_for(backend, found, duplicates, checked, max_seconds, load_seconds)


def interleaved_maxima(load: LoadGenerator, meter: CpuMeter, seconds: float) -> dict[str, dict]:
    """Each endpoint's closed-loop maximum over ``seconds``, measured in alternating slices
    (healthz, 1-Click, healthz, ...): on a shared machine whose load changes from minute to
    minute, both endpoints then see the same machine, and their ratio means something."""
    slices = max(1, round(seconds / SLICE_SECONDS))
    parts: dict[str, list[dict]] = {endpoint: [] for endpoint in ENDPOINTS}
    for _ in range(slices):
        for endpoint in ENDPOINTS:
            parts[endpoint].append(load.phase("max", endpoint, seconds / slices, meter=meter))
    return {endpoint: {
        "latencies": [x for part in phases for x in part["latencies"]],
        "errors": [x for part in phases for x in part["errors"]],
        "answers": [x for part in phases for x in part["answers"]],
        "elapsed": sum(part["elapsed"] for part in phases),
        "cpu": {name: sum(part["cpu"][name] for part in phases) for name in phases[0]["cpu"]},
        "load": (min(part["load"][0] for part in phases), max(part["load"][1] for part in phases)),
    } for endpoint, phases in parts.items()}


def cpu_note(phase: dict) -> str:
    """CPU milliseconds per answered request, by where it was spent."""
    answered = max(len(phase["latencies"]), 1)
    parts = [f"{name} {seconds * 1000 / answered:.2f}"
             for name, seconds in phase["cpu"].items()
             if name != "database" or seconds * 1000 / answered >= 0.005]
    return "CPU ms per request: " + ", ".join(parts)


def cpu_share(trivial: dict, oneclick: dict) -> float:
    def per_request(phase: dict) -> float:
        return sum(phase["cpu"].values()) / max(len(phase["latencies"]), 1)

    return per_request(trivial) / per_request(oneclick) if per_request(oneclick) else 0.0


def load_note(phase: dict) -> str:
    """The machine's 1-minute load average over a phase, lowest to highest seen (2 cores:
    above 2, other work competed for them)."""
    return f"{phase['load'][0]:.1f}-{phase['load'][1]:.1f}"


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile, as the runner's ``ctx.percentile``."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def count_duplicates(app, phases: list[dict]) -> tuple[int, int]:
    """Every difference between the answers and the database: request rows and order lines
    beyond one per distinct key answered, and repeats that named another order."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.oneclick.models import OneClickRequest
    from portal.orders.models import Order, OrderLine

    first: dict[str, bytes] = {}
    mismatched = 0
    for phase in phases:
        for key, number, _repeat in phase["answers"]:
            if first.setdefault(key, number) != number:
                mismatched += 1
    with app.app_context():
        requests = db.session.scalar(select(func.count()).select_from(OneClickRequest))
        lines = db.session.scalar(select(func.count()).select_from(OrderLine).join(Order)
                                  .where(Order.source == "oneclick"))
        db.session.remove()
    return mismatched + abs(requests - len(first)) + abs(lines - requests), len(first)


def rows_for(backend: str, found: dict, duplicates: int, checked: int, max_seconds: float,
             load_seconds: float) -> list[dict]:
    trivial, oneclick = found["healthz"], found["oneclick"]
    share = oneclick["max"] / trivial["max"] if trivial["max"] else 0.0
    errors = sum(len(oneclick[k]["errors"]) for k in ("warmup", "peak", 0.5, 0.9, FIXED_RATE))
    trivial_errors = sum(len(trivial[k]["errors"]) for k in ("warmup", "peak", 0.5, 0.9))
    where = (f"gunicorn {' '.join(GUNICORN_ARGS[1::2])} (workers, threads, class); "
             f"{CLIENT_PROCESSES}x{CLIENT_THREADS} keep-alive clients, {PEOPLE} browsers")
    rows = [
        {"name": "healthz (trivial): max throughput", "backend": backend,
         "value": round(trivial["max"], 1), "unit": "req/s",
         "notes": f"{where}; closed loop {max_seconds:.0f} s in {SLICE_SECONDS:.0f} s slices "
                  f"alternating with the 1-Click POST; {trivial_errors} errors in all phases; "
                  f"{cpu_note(trivial['peak'])}; load average {load_note(trivial['peak'])}"},
        {"name": "1-Click POST: max throughput", "backend": backend,
         "value": round(oneclick["max"], 1), "unit": "orders/s",
         "notes": f"{share:.0%} of the trivial endpoint (goal >= 15%); htmx confirmation fragment; "
                  f"1 in {REPEAT_EVERY} presses repeats a key; {cpu_note(oneclick['peak'])}; "
                  f"load average {load_note(oneclick['peak'])}"},
        {"name": "1-Click POST: CPU share of healthz", "backend": backend,
         "value": round(cpu_share(trivial["peak"], oneclick["peak"]) * 100, 1), "unit": "%",
         "notes": "CPU per healthz request / CPU per press (server, database, load generator): "
                  "the throughput share on two cores with nothing else on them"},
    ]
    for endpoint, label, unit in (("healthz", "healthz", "ms p99"), ("oneclick", "1-Click POST", "ms p99")):
        for fraction in (0.5, 0.9):
            phase = found[endpoint][fraction]
            achieved = len(phase["latencies"]) / phase["elapsed"]
            goal = "; goal p99 < 100 ms" if endpoint == "oneclick" and fraction == 0.5 else ""
            rows.append({
                "name": f"{label} at {fraction:.0%} of max", "backend": backend,
                "value": round(percentile(phase["latencies"], 0.99), 1), "unit": unit,
                "notes": f"p50 {percentile(phase['latencies'], 0.5):.1f} ms; "
                         f"{achieved:.0f}/s for {load_seconds:.0f} s (open loop, latency from "
                         f"the due time); {len(phase['errors'])} errors{goal}"})
    phase = oneclick[FIXED_RATE]
    rows.append({
        "name": f"1-Click POST at {FIXED_RATE}/s", "backend": backend,
        "value": round(percentile(phase["latencies"], 0.99), 1), "unit": "ms p99",
        "notes": f"p50 {percentile(phase['latencies'], 0.5):.1f} ms; "
                 f"{len(phase['latencies']) / phase['elapsed']:.0f}/s answered for "
                 f"{load_seconds:.0f} s (open loop, latency from the due time); "
                 f"{len(phase['errors'])} errors; goal p99 < 100 ms"})
    rows.append({"name": "1-Click: duplicates and errors", "backend": backend,
                 "value": duplicates + errors, "unit": "count",
                 "notes": f"{duplicates} duplicates (db request rows and order lines vs "
                          f"{checked:,} distinct keys answered; repeats named the same order), "
                          f"{errors} errors; goal 0"})
    return rows


if __name__ == "__main__":  # standalone: python -m bench.bench_oneclick [--quick]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.__main__ import BenchContext, machine_description, start_redis

    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="bench-oneclick-"))
    os.environ["PORTAL_INSTANCE_PATH"] = str(tmp / "instance")
    servers: list = []
    ctx = BenchContext(quick="--quick" in sys.argv, backends=["postgresql"], tmp=tmp,
                       redis_url=start_redis(tmp, servers), machine=machine_description(),
                       postgres_server_url="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    try:
        for row in run(ctx):
            print(row)
    finally:
        ctx.close()
        for server in servers:
            server.stop()
