"""Sessions looked up in the last few seconds, so a busy endpoint does not query PostgreSQL on every
request, and ended everywhere at once.

Entries are keyed by the token's SHA-256. A logout in any portal process publishes that hash on a
Redis channel; every process listens and drops the entry. The cache serves entries only while its
process is subscribed: when Redis is away, every request is checked against PostgreSQL again, so a
logout can never be missed.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis

log = logging.getLogger(__name__)
CHANNEL = "m2c:portal:sessions-ended"


class SessionCache:
    def __init__(self, ttl: float = 10.0, size: int = 50_000):
        self.ttl = ttl
        self.size = size
        self._entries: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._publisher: redis.Redis | None = None

    def get(self, token_hash: str):
        if not self._subscribed.is_set():
            return None
        entry = self._entries.get(token_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, token_hash: str, principal) -> None:
        if not self._subscribed.is_set():
            return
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[token_hash] = (time.monotonic() + self.ttl, principal)

    def forget(self, token_hash: str) -> None:
        with self._lock:
            self._entries.pop(token_hash, None)

    def end(self, token_hash: str) -> None:
        """A session ended here: forget it, and tell every other process."""
        self.forget(token_hash)
        publisher = self._publisher
        if publisher is not None:
            try:
                publisher.publish(CHANNEL, token_hash)
            except redis.RedisError:  # the others stop serving from their caches when Redis is away
                log.warning("could not announce an ended session on Redis")

    def listen(self, redis_url: str) -> None:
        """Start following the sessions other processes end (idempotent)."""
        if self._listener is not None and self._listener.is_alive():
            return
        self._stop.clear()
        self._publisher = redis.Redis.from_url(redis_url, socket_timeout=2)
        self._listener = threading.Thread(target=self._follow, args=(redis_url,), name="session-cache",
                                          daemon=True)
        self._listener.start()

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        self._listener = None
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None

    def _follow(self, redis_url: str) -> None:
        while not self._stop.is_set():
            client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
            pubsub = client.pubsub(ignore_subscribe_messages=False)
            try:
                pubsub.subscribe(CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._subscribed.set()
                    elif message["type"] == "message":
                        self.forget(message["data"].decode())
            except (redis.RedisError, OSError) as error:
                log.warning("session cache off while Redis is away: %s", error)
            finally:
                self._unsubscribed()
                pubsub.close()
                client.close()
            self._stop.wait(1.0)

    def _unsubscribed(self) -> None:
        # whatever was ended while we were not listening must not be served from here
        self._subscribed.clear()
        with self._lock:
            self._entries.clear()


def announce_ended(redis_url: str, token_hashes: list[str]) -> None:
    """Tell every portal process that these sessions ended (from outside the portal, e.g. the CLI)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        for token_hash in token_hashes:
            client.publish(CHANNEL, token_hash)
    finally:
        client.close()


SESSIONS = SessionCache()
