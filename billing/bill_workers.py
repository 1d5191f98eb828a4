"""Where a bill run's chunks are billed: in the calling process when there is one chunk or one worker,
else in worker processes with a connection each. Rating is Python, so threads would share one core;
processes bill chunks side by side on every core while PostgreSQL works for the others.

A worker dies with the process that started it (``PR_SET_PDEATHSIG`` on Linux): a bill run killed
mid-way leaves nothing writing behind it, and its chunks in flight roll back with their transactions.
"""
from __future__ import annotations

import ctypes
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from multiprocessing import get_context

import psycopg

from billing.bill_chunk import bill_chunk

_PR_SET_PDEATHSIG = 1
_worker: dict = {}


class InProcess:
    """Bills each chunk on the run's own connection as it is submitted."""

    def __init__(self, conn: psycopg.Connection, tariffs, entities):
        self._conn, self._tariffs, self._entities = conn, tariffs, entities

    def submit(self, run_id: int, billing_period_id: int, chunk: list[int], issued_at: datetime) -> Future:
        future: Future = Future()
        try:
            future.set_result(bill_chunk(self._conn, run_id, billing_period_id, chunk, self._tariffs,
                                         self._entities, issued_at))
        except Exception as error:
            future.set_exception(error)
        return future

    def close(self) -> None:
        pass


class WorkerProcesses:
    """``workers`` processes (started fresh: no connection or lock of the caller is inherited)."""

    def __init__(self, conn: psycopg.Connection, workers: int, tariffs, entities):
        self._executor = ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_start_worker,
            initargs=(conn.info.dsn, conn.info.password, os.getpid(), tariffs, entities))

    def submit(self, run_id: int, billing_period_id: int, chunk: list[int], issued_at: datetime) -> Future:
        return self._executor.submit(_bill_in_worker, run_id, billing_period_id, chunk, issued_at)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def chunk_billing(conn: psycopg.Connection, workers: int, chunks: int, tariffs, entities):
    """Worker processes when there is work for more than one, else the calling process."""
    workers = min(workers, chunks)
    if workers <= 1:
        return InProcess(conn, tariffs, entities)
    return WorkerProcesses(conn, workers, tariffs, entities)


def _start_worker(dsn: str, password: str | None, parent: int, tariffs, entities) -> None:
    _die_with_parent(parent)
    _worker.update(conn=psycopg.connect(dsn, password=password, autocommit=True), tariffs=tariffs,
                   entities=entities)


def _bill_in_worker(run_id: int, billing_period_id: int, chunk: list[int], issued_at: datetime) -> list[tuple]:
    return bill_chunk(_worker["conn"], run_id, billing_period_id, chunk, _worker["tariffs"], _worker["entities"],
                      issued_at)


def _die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (AttributeError, OSError):  # not Linux: the pool's own checks end an orphaned worker
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
