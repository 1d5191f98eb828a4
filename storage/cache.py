"""Running bill estimates in Redis: a read cache that PostgreSQL can rebuild at any time.

Each key holds a JSON body, a version (the number of reads behind it) and the agreements it is of; a
writer holding an older version of the same agreements does not overwrite it, so two workers that
rate the same account concurrently cannot leave the older figure behind. An estimate of other
agreements (service started, stopped or moved) replaces the stored one whatever its version.

Every key is namespaced by the deployment (a random id its database was given at migrate time), so
two databases sharing one Redis - a test run beside a demo, say - never read each other's estimates.
"""
from __future__ import annotations

import json

import psycopg
import redis

PREFIX = "m2c"

_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'version')
local agreements = redis.call('HGET', KEYS[1], 'agreements')
if current and agreements == ARGV[3] and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'body', ARGV[2], 'agreements', ARGV[3])
return 1
"""


def deployment_namespace(conn: psycopg.Connection) -> str:
    """The deployment's id, made once by the migrations: the namespace of its cache keys."""
    return str(conn.execute("select id from deployment").fetchone()[0])


def account_key(namespace: str, account_id: int) -> str:
    return f"{PREFIX}:{namespace}:estimate:account:{account_id}"


def warm_key(namespace: str) -> str:
    """Set once every estimate was rebuilt from PostgreSQL; gone if Redis lost its data."""
    return f"{PREFIX}:{namespace}:estimate:warm"


class EstimateCache:
    def __init__(self, client: redis.Redis, namespace: str):
        self._client = client
        self.namespace = namespace
        self._set_if_newer = client.register_script(_SET_IF_NEWER)

    @classmethod
    def from_url(cls, url: str, namespace: str) -> "EstimateCache":
        return cls(redis.Redis.from_url(url), namespace)

    @classmethod
    def for_database(cls, url: str, conn: psycopg.Connection) -> "EstimateCache":
        """The cache of the deployment whose database ``conn`` is connected to."""
        return cls.from_url(url, deployment_namespace(conn))

    def write(self, entries: list[tuple[int, int, dict]]) -> None:
        """``entries``: (account id, version, body) written in one round trip."""
        if not entries:
            return
        pipe = self._client.pipeline(transaction=False)
        for account_id, version, body in entries:
            agreements = ",".join(str(a) for a in sorted(s.get("service_agreement_id", 0)
                                                         for s in body.get("services", [])))
            self._set_if_newer(keys=[account_key(self.namespace, account_id)],
                               args=[version, json.dumps(body, separators=(",", ":")), agreements], client=pipe)
        pipe.execute()

    def forget(self, account_ids: list[int]) -> None:
        """Drop the estimates of accounts that have none any more (their service ended)."""
        if account_ids:
            self._client.delete(*[account_key(self.namespace, a) for a in account_ids])

    def read(self, account_id: int) -> dict | None:
        body = self._client.hget(account_key(self.namespace, account_id), "body")
        return None if body is None else json.loads(body)

    def is_warm(self) -> bool:
        """False after Redis was flushed or restarted (it keeps nothing on disk): estimates are missing
        until rebuilt, and a reader should say so ("updating") rather than show a stale figure."""
        return bool(self._client.exists(warm_key(self.namespace)))

    def mark_warm(self) -> None:
        self._client.set(warm_key(self.namespace), "1")

    def clear(self) -> None:
        """This deployment's keys only."""
        for key in self._client.scan_iter(f"{PREFIX}:{self.namespace}:*", count=1000):
            self._client.delete(key)
