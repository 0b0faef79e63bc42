"""The machine's Redis for tests: its URL when it answers; under CI=true an unreachable Redis is a
failure, never a skip (as for PostgreSQL, tests/support/databases.py)."""

from __future__ import annotations

import os

import pytest
import redis

from tests.support.databases import in_ci

REDIS_URL = os.environ.get("GRAPHTASKS_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        if in_ci():
            pytest.fail(f"Redis is required under CI=true but is unreachable: {error}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}")
    finally:
        client.close()
    return REDIS_URL
