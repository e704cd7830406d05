"""The embedded Redis (portal/embedded_redis.py) starts and stops without waiting on redis-py's
retry back-off, which otherwise kept every CLI command alive seconds after its work."""

from __future__ import annotations

import redis.retry

from portal import embedded_redis


def test_starting_and_stopping_the_embedded_redis_takes_no_retry_back_off(tmp_path, monkeypatch):
    back_offs: list[float] = []
    monkeypatch.setattr(redis.retry, "sleep", back_offs.append)  # record instead of waiting

    server = embedded_redis.start(tmp_path, persist=False)
    assert embedded_redis.running_url(tmp_path) == server.url
    server.stop()

    assert server.process.returncode is not None
    assert embedded_redis.running_url(tmp_path) is None
    assert back_offs == []
