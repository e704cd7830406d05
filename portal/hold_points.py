"""Hold points: named places where a test can stop a real worker (or web server) process, to
SIGKILL it there or to send a concurrent request meanwhile.

A test starts a worker with ``PORTAL_TEST_HOLD_AT=<point>``. The first process to reach that
point pushes its pid to the Redis list ``test-hold:<point>:reached`` and waits (at most
``HOLD_SECONDS``) for an item in ``test-hold:<point>:release``; every later arrival passes
straight through, so a worker that survives (or a new one) finishes the work normally.

Only the test configuration honours it: the app must run with ``ENV_NAME == "test"`` and
``TESTING`` on (``PORTAL_ENV=test``), which production never does; anywhere else a hold
point is a no-op, whatever the environment says.
"""

from __future__ import annotations

import os
import time

from flask import Flask

from portal.queues import get_redis

AFTER_GATEWAY_CALL = "after-gateway-call"  # cards charged, outcomes not yet recorded
CHECKOUT_BEFORE_COMMIT = "checkout-before-commit"  # a checkout charged, its order uncommitted
HOLD_SECONDS = 120


def reached_key(point: str) -> str:
    return f"test-hold:{point}:reached"


def release_key(point: str) -> str:
    return f"test-hold:{point}:release"


def hold_point(app: Flask, point: str) -> None:
    if app.config.get("TEST_HOLD_AT") != point or not (app.testing and app.config["ENV_NAME"] == "test"):
        return
    redis = get_redis(app)
    if not redis.set(f"test-hold:{point}:taken", os.getpid(), nx=True):
        return
    redis.rpush(reached_key(point), os.getpid())
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:  # short waits: the connection has a socket timeout
        if redis.blpop([release_key(point)], timeout=1) is not None:
            return
