"""Throttling counters in Redis, for deployments that have one: one key per budget and window, read
and bumped by a Lua script so the check and the take are one atomic step on the server.

Keys carry the tenant in braces, `graphtasks:throttle:{tenant}:...`, so that on a Redis Cluster every
key of one request hashes to the same slot, as a script needs. A key expires two windows after its
window starts. Redis unreachable: ServiceUnavailable, since no throttling decision can be made and the
request has not been served yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from graphtasks.errors import ServiceUnavailable
from graphtasks.storage.outages import RETRY_AFTER_S
from graphtasks.traffic.throttling import Budget

# KEYS: the budgets' keys; ARGV[1]: seconds to keep a key; ARGV[2..]: each budget's limit.
_TAKE = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[1])
end
return 1
"""


class RedisCounterStore:
    in_process = False

    def __init__(self, url: str) -> None:
        # Short timeouts: a throttling check must never hold a request longer than Redis is worth.
        self._client: Any = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._take = self._client.register_script(_TAKE)

    def take(self, budgets: Sequence[Budget], *, window_start: int, window_s: int) -> bool:
        keys = [
            f"graphtasks:throttle:{{{b.tenant_id}}}:{b.client_id or '*'}:{b.kind}:{window_start}"
            for b in budgets
        ]
        try:
            return bool(self._take(keys=keys, args=[2 * window_s, *(b.limit for b in budgets)]))
        except redis.RedisError as error:
            raise ServiceUnavailable(
                "The throttling service is unavailable.", retry_after_s=RETRY_AFTER_S
            ) from error

    def close(self) -> None:
        self._client.close()
