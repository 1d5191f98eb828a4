"""The portal's session cache on the real Redis: a session ended in one process leaves every
process's cache, and a cache that is not following ended sessions serves nothing."""
import os
import subprocess
import sys
import time

import psycopg
import pytest
import redis

from portal.auth import create_user, login, principal_for, token_hash
from portal.session_cache import SessionCache

pytestmark = pytest.mark.integration


def test_a_session_ended_in_one_process_leaves_every_cache(settings):
    here, there = SessionCache(ttl=60), SessionCache(ttl=60)  # as in two portal processes
    here.listen(settings.redis_url)
    there.listen(settings.redis_url)
    try:
        assert here.wait_subscribed(5) and there.wait_subscribed(5)
        for cache in (here, there):
            cache.put("hash-of-alice", "alice")
        there.put("hash-of-bob", "bob")
        here.end("hash-of-alice")
        assert here.get("hash-of-alice") is None
        deadline = time.monotonic() + 5
        while there.get("hash-of-alice") is not None:
            assert time.monotonic() < deadline, "the other process still serves an ended session"
            time.sleep(0.01)
        assert there.get("hash-of-bob") == "bob"
    finally:
        here.close()
        there.close()


def test_a_cache_that_does_not_follow_ended_sessions_serves_nothing(settings):
    idle = SessionCache(ttl=60)
    idle.put("hash-of-alice", "alice")
    assert idle.get("hash-of-alice") is None  # never subscribed: every request goes to PostgreSQL
    unreachable = SessionCache(ttl=60)
    unreachable.listen("redis://127.0.0.1:9/0")  # nothing listens there
    try:
        assert not unreachable.wait_subscribed(1.5)
        unreachable.put("hash-of-alice", "alice")
        assert unreachable.get("hash-of-alice") is None
    finally:
        unreachable.close()
    following = SessionCache(ttl=60)
    following.listen(settings.redis_url)
    try:
        assert following.wait_subscribed(5)
        following.put("hash-of-alice", "alice")
        assert following.get("hash-of-alice") == "alice"
        # the subscription drops (as when Redis restarts): what the cache held is gone, then it follows again
        redis.Redis.from_url(settings.redis_url).client_kill_filter(_type="pubsub")
        deadline = time.monotonic() + 5
        while following.get("hash-of-alice") is not None:
            assert time.monotonic() < deadline, "a cache that lost its subscription still serves"
            time.sleep(0.01)
        assert following.wait_subscribed(5)
        assert following.get("hash-of-alice") is None
    finally:
        following.close()


def test_disabling_a_user_ends_their_sessions_in_every_portal_process(settings):
    conn = psycopg.connect(settings.database_url, autocommit=True)
    create_user(conn, "clerk-leaving", "a long enough password", "clerk")
    token = login(conn, "clerk-leaving", "a long enough password").token
    portal_process = SessionCache(ttl=60)
    portal_process.listen(settings.redis_url)
    try:
        assert portal_process.wait_subscribed(5)
        portal_process.put(token_hash(token), principal_for(conn, token))
        done = subprocess.run([sys.executable, "-m", "meter2cash.cli", "portal", "user", "clerk-leaving", "--disable"],
                              env={**os.environ, **settings.to_env()}, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "1 session(s) ended" in done.stdout
        deadline = time.monotonic() + 5
        while portal_process.get(token_hash(token)) is not None:
            assert time.monotonic() < deadline, "a disabled user's session is still served"
            time.sleep(0.01)
        assert principal_for(conn, token) is None
        assert login(conn, "clerk-leaving", "a long enough password").token is None
    finally:
        portal_process.close()
        conn.close()
