"""Security tests share one world: somebody's everything, and strangers."""

from __future__ import annotations

import pytest

from tests.world import World, build_world


@pytest.fixture
def world(session, redis) -> World:
    """The world of tests/world.py, committed (tables are wiped after each test)."""
    return build_world(session, redis)
