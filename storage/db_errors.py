"""What a database error says about the work that raised it, by SQLSTATE.

A database that is read-only, full, shutting down, timing out or locked is never a property of the
message being stored: the work waits and is retried. Only a data error (SQLSTATE classes 22 and 23,
save a unique violation two writers can race into) can be a property of the input, and even then only
once it is proven on a single message alone.
"""
from __future__ import annotations

import time

import psycopg

TRANSIENT = "transient"  # wait and retry: the same work will succeed once the database recovers
DATA = "data"  # the input itself may be at fault: prove it on one message before dead-lettering
DATABASE = "database"  # schema or server trouble (missing table, internal error): wait, and alert

# SQLSTATE classes (first two characters) and codes whose errors pass with time
_TRANSIENT_CLASSES = {
    "08",  # connection exception
    "40",  # transaction rollback: serialization failure, deadlock
    "53",  # insufficient resources: disk full, out of memory, too many connections
    "57",  # operator intervention: query canceled (statement_timeout), admin/crash shutdown, cannot connect now
    "58",  # system error: I/O error
    "HV",  # foreign data wrapper errors (a remote server away)
}
_TRANSIENT_CODES = {
    "23505",  # unique violation: two writers inserted the same day row at once; the retry updates it
    "25006",  # read-only SQL transaction: a standby, or default_transaction_read_only
    "25P02",  # in failed transaction: the aftermath of one of these on the same transaction
    "25P03",  # idle-in-transaction session timeout
    "55P03",  # lock not available (lock_timeout)
    "55006",  # object in use
    "55000",  # object not in prerequisite state (e.g. a partition being attached)
}
_DATA_CLASSES = {"22", "23"}


def sqlstate(error: BaseException) -> str | None:
    return getattr(error, "sqlstate", None) if isinstance(error, psycopg.Error) else None


def classify(error: BaseException) -> str | None:
    """``TRANSIENT``, ``DATA`` or ``DATABASE`` for a database error; None for any other exception."""
    if not isinstance(error, psycopg.Error):
        return None
    code = sqlstate(error)
    if code is None:
        # no SQLSTATE: the connection broke, the server went away, or the client gave up waiting
        return TRANSIENT
    if code in _TRANSIENT_CODES or code[:2] in _TRANSIENT_CLASSES:
        return TRANSIENT
    if code[:2] in _DATA_CLASSES:
        return DATA
    return DATABASE


def first_line(error: BaseException) -> str:
    """An error's message in one line (psycopg's run over several), or its class where it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def label(error: BaseException) -> str:
    """A short label for metrics and logs: the SQLSTATE, or the exception's class name."""
    return sqlstate(error) or type(error).__name__


def connection_unusable(conn: psycopg.Connection) -> bool:
    return conn.closed or conn.broken


# a row lock held by someone else for longer than this shows as a retried batch on /metrics
# (SQLSTATE 55P03) instead of a worker that silently stops
WORKER_LOCK_TIMEOUT = "10s"


def connect_waiting(url: str, log, sleep=time.sleep) -> psycopg.Connection:
    """An autocommit connection for a streams worker, waiting for the database as long as it takes."""
    while True:
        try:
            return psycopg.connect(url, autocommit=True, options=f"-c lock_timeout={WORKER_LOCK_TIMEOUT}")
        except psycopg.OperationalError as error:
            log.warning("database unavailable (%s); retrying", first_line(error))
            sleep(1.0)
