import signal
import subprocess
import sys
import time

import pytest

from portal import PROJECT_ROOT
from tests.conftest import CARD_DATA_LOG, burst_worker, worker_env

# Short debounce for workers under test: a run starts 0.3 s after the last request.
WORKER_SETTINGS = {"PORTAL_PLANNING_QUIET_SECONDS": "0.3", "PORTAL_PLANNING_MAX_DELAY_SECONDS": "5",
                   "PORTAL_PLANNING_LOCK_SECONDS": "60"}


def _worker_env(app) -> dict:
    return worker_env(app, **WORKER_SETTINGS)


@pytest.fixture
def run_worker(app):
    """Run a real RQ worker process in burst mode, with the short debounce."""
    return burst_worker(app, **WORKER_SETTINGS)


@pytest.fixture
def start_worker(app):
    """Start real RQ worker processes that keep running (not burst) until the test ends, or
    until ``stop`` is called on them; each is stopped warmly (it finishes its job first)."""
    started: list[subprocess.Popen] = []

    def start(*queues: str, burst: bool = False) -> subprocess.Popen:
        command = [sys.executable, "-m", "jobs.worker", *queues] + (["--burst"] if burst else [])
        process = subprocess.Popen(command, env=_worker_env(app), cwd=PROJECT_ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_worker(process)


def stop_worker(process: subprocess.Popen, timeout: float = 30) -> str:
    """Warm shutdown: the worker finishes its current job, then exits. Returns its output."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    CARD_DATA_LOG.scan_output(output or "", "of a worker process")
    return output or ""


def wait_until(condition, timeout: float = 60, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)
