"""Throttling of password and token guessing: after a few failures each further attempt from the same
user name or client address waits twice as long as the one before, and a user name that keeps failing
is locked for a while.

The policy (:class:`Policy`) is pure; :class:`PgThrottle` keeps the counts in PostgreSQL so that every
portal process sees the same ones, :class:`MemoryThrottle` in the process (the push endpoint, which
has no database). Keys are whatever was typed - a user name that does not exist is throttled exactly
like one that does, so the answers say nothing about which names exist.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg


@dataclass(frozen=True)
class Policy:
    free_failures: int = 3  # failures before any wait
    max_wait_s: float = 300.0  # the longest wait between two attempts
    lock_after: int = 10  # failures in a row that lock the key ...
    lock_s: float = 900.0  # ... for this long

    def wait_s(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row: 0, 0, 0, 1, 2, 4, ..."""
        if failures < self.free_failures:
            return 0.0
        return min(2.0 ** (failures - self.free_failures), self.max_wait_s)

    def locks(self, failures: int, locked_until: datetime | None, now: datetime) -> bool:
        """Whether the ``failures``-th failure in a row locks a key that is not locked now."""
        return failures >= self.lock_after and (locked_until is None or locked_until <= now)


USER = Policy()
# an address may be many people behind one NAT: it waits only after many more failures, and locks much later
ADDRESS = Policy(free_failures=20, lock_after=100)


@dataclass(frozen=True)
class Verdict:
    retry_after_s: float  # 0: the attempt may go ahead

    @property
    def allowed(self) -> bool:
        return self.retry_after_s <= 0


def _verdict(policy: Policy, failures: int, last: datetime, locked_until: datetime | None, now: datetime) -> Verdict:
    if locked_until is not None and locked_until > now:
        return Verdict((locked_until - now).total_seconds())
    ready = last + timedelta(seconds=policy.wait_s(failures))
    return Verdict(max(0.0, (ready - now).total_seconds()))


class PgThrottle:
    """Counts per (scope, key) in ``login_throttle``, shared by every process on the database."""

    def __init__(self, policies: dict[str, Policy]):
        self.policies = policies

    def check(self, conn: psycopg.Connection, keys: list[tuple[str, str]], now: datetime) -> Verdict:
        """The longest wait any of ``keys`` imposes on an attempt now."""
        rows = conn.execute(
            "select scope, failures, last_failure_at, locked_until from login_throttle "
            "where (scope, key) in (select * from unnest(%s::text[], %s::text[]))",
            ([s for s, _ in keys], [k for _, k in keys])).fetchall()
        verdicts = [_verdict(self.policies[s], n, last, locked, now) for s, n, last, locked in rows]
        return max(verdicts, key=lambda v: v.retry_after_s, default=Verdict(0.0))

    def fail(self, conn: psycopg.Connection, keys: list[tuple[str, str]], now: datetime) -> list[str]:
        """Count a failure against every key; returns the scopes whose key this failure locked."""
        newly_locked = []
        for scope, key in keys:
            policy = self.policies[scope]
            failures, locked_until = conn.execute(
                "insert into login_throttle as t (scope, key, failures, last_failure_at) values (%s, %s, 1, %s) "
                "on conflict (scope, key) do update set failures = t.failures + 1, last_failure_at = excluded.last_failure_at "
                "returning failures, locked_until", (scope, key, now)).fetchone()
            if policy.locks(failures, locked_until, now):
                conn.execute("update login_throttle set locked_until = %s, failures = 0 where scope = %s and key = %s",
                             (now + timedelta(seconds=policy.lock_s), scope, key))
                newly_locked.append(scope)
        return newly_locked

    def succeed(self, conn: psycopg.Connection, keys: list[tuple[str, str]]) -> None:
        conn.execute("delete from login_throttle where (scope, key) in (select * from unnest(%s::text[], %s::text[]))",
                     ([s for s, _ in keys], [k for _, k in keys]))


class MemoryThrottle:
    """The same counts in this process only, bounded in size (the oldest keys are dropped first)."""

    def __init__(self, policy: Policy, max_keys: int = 100_000):
        self.policy = policy
        self.max_keys = max_keys
        self._state: dict[str, tuple[int, datetime, datetime | None]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, now: datetime) -> Verdict:
        with self._lock:
            found = self._state.get(key)
        return Verdict(0.0) if found is None else _verdict(self.policy, *found, now)

    def fail(self, key: str, now: datetime) -> bool:
        """Count a failure; True if it locked the key."""
        with self._lock:
            failures, _, locked_until = self._state.pop(key, (0, now, None))
            failures += 1
            locked = self.policy.locks(failures, locked_until, now)
            if locked:
                failures, locked_until = 0, now + timedelta(seconds=self.policy.lock_s)
            self._state[key] = (failures, now, locked_until)
            while len(self._state) > self.max_keys:
                self._state.pop(next(iter(self._state)))
            return locked

    def succeed(self, key: str) -> None:
        with self._lock:
            self._state.pop(key, None)
