"""Running bill estimates in Redis: a read cache that PostgreSQL can rebuild at any time.

Each key holds a JSON body and a version (the number of reads behind it); a writer holding an
older version than the stored one does not overwrite it, so two workers that rate the same
account concurrently cannot leave the older figure behind.
"""
from __future__ import annotations

import json

import redis

PREFIX = "m2c:estimate"
WARM_KEY = f"{PREFIX}:warm"  # set once every estimate was rebuilt from PostgreSQL; gone if Redis lost its data

_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'body', ARGV[2])
return 1
"""


def account_key(account_id: int) -> str:
    return f"{PREFIX}:account:{account_id}"


class EstimateCache:
    def __init__(self, client: redis.Redis):
        self._client = client
        self._set_if_newer = client.register_script(_SET_IF_NEWER)

    @classmethod
    def from_url(cls, url: str) -> "EstimateCache":
        return cls(redis.Redis.from_url(url))

    def write(self, entries: list[tuple[str, int, dict]]) -> None:
        """``entries``: (key, version, body) written in one round trip."""
        if not entries:
            return
        pipe = self._client.pipeline(transaction=False)
        for key, version, body in entries:
            self._set_if_newer(keys=[key], args=[version, json.dumps(body, separators=(",", ":"))], client=pipe)
        pipe.execute()

    def read(self, key: str) -> dict | None:
        body = self._client.hget(key, "body")
        return None if body is None else json.loads(body)

    def is_warm(self) -> bool:
        """False after Redis was flushed or restarted (it keeps nothing on disk): estimates are missing
        until rebuilt, and a reader should say so ("updating") rather than show a stale figure."""
        return bool(self._client.exists(WARM_KEY))

    def mark_warm(self) -> None:
        self._client.set(WARM_KEY, "1")

    def clear(self) -> None:
        for key in self._client.scan_iter(f"{PREFIX}:*", count=1000):
            self._client.delete(key)
