"""A whole run on the real services, for the demo, the end-to-end tests and the benchmarks: a fresh
database, fresh topics and a Redis database of its own; worker processes; publish; wait; bill.

Generate, load and check are separate steps, as in the simulators.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from config.settings import Settings
from simulators.headend import FaultPlan, Truth, generate
from streams.producer import publish
from simulators.utility import Utility, make_utility
from streams.topics import ensure_topics
from storage import scenario_checks as checks


@dataclass
class Progress:
    stored_reads: int
    flagged_reads: int
    dlq_messages: int


def start_worker(settings: Settings, metrics_port: int, log_path: str,
                 close_cycles_every: float = 0) -> subprocess.Popen:
    """A streams worker in its own process (and process group), configured by ``settings``. Scenarios
    close their cycle themselves, step by step, so the worker's cycle scheduler is off unless asked."""
    return subprocess.Popen(
        [sys.executable, "-m", "meter2cash.cli", "worker", "--metrics-port", str(metrics_port),
         "--close-cycles-every", str(close_cycles_every)],
        env={**os.environ, **settings.to_env()}, stdout=subprocess.DEVNULL, stderr=open(log_path, "w"),
        start_new_session=True)


def wait_until_serving(url: str, timeout: float = 30.0) -> None:
    """Until ``url`` answers (a server just started); raises TimeoutError if it does not in time."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer in {timeout:.0f} s: {error}") from None
            time.sleep(0.2)


def stop_worker(worker: subprocess.Popen, timeout: float = 30.0) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class Scenario:
    def __init__(self, base: Settings, name: str, meters: int = 1000, seed: int = 7, redis_db: int = 1,
                 **settings_overrides):
        self.name = name
        self.run_id = f"{name}.{int(time.time())}"
        self.base = base
        self.settings = replace(
            base,
            database_url=_with_database(base.database_url, f"m2c_{name}"),
            redis_url=urlunsplit(urlsplit(base.redis_url)._replace(path=f"/{redis_db}")),
            topic_raw=f"{self.run_id}.ami.reads.raw",
            topic_exceptions=f"{self.run_id}.ami.reads.exceptions",
            topic_dlq=f"{self.run_id}.ami.reads.dlq",
            app_id=f"{self.run_id}.streams",
            **settings_overrides,
        )
        self.utility: Utility = make_utility(meters=meters, seed=seed, zone=base.utility_zone)
        self.truth = Truth()
        self.workers: list[subprocess.Popen] = []

    # ------------------------------------------------------------------ set-up
    def prepare(self) -> None:
        """Fresh database (migrated, tariffs published, utility loaded), fresh topics, empty Redis db."""
        from storage.tariffs import publish_builtin_tariffs
        from storage.bulk_load import load_directory
        from storage.schema import migrate

        database = urlsplit(self.settings.database_url).path.lstrip("/")
        with psycopg.connect(self.base.database_url, autocommit=True) as admin:
            checks.recreate_database(admin, database)
        with psycopg.connect(self.settings.database_url) as conn:
            migrate(conn)
            conn.autocommit = True
            publish_builtin_tariffs(conn)
            load_directory(conn, self.utility)
        self._drop_old_topics()
        ensure_topics(self.settings)
        redis.Redis.from_url(self.settings.redis_url).flushdb()

    def _drop_old_topics(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap})
        old = [t for t in admin.list_topics(timeout=30).topics if t.startswith(f"{self.name}.")]
        if old:
            for future in admin.delete_topics(old, operation_timeout=30).values():
                try:
                    future.result(30)
                except Exception:  # already gone
                    pass

    # ------------------------------------------------------------------ workers
    def start_workers(self, count: int = 1, first_metrics_port: int = 9318) -> None:
        for number in range(count):
            self.workers.append(start_worker(self.settings, first_metrics_port + number,
                                             f"/tmp/{self.run_id}.worker{number}.log"))

    def stop_workers(self, timeout: float = 30.0) -> None:
        for worker in self.workers:
            stop_worker(worker, timeout)
        self.workers.clear()

    # ------------------------------------------------------------------ load
    def publish(self, block_hours: int = 6, faults: FaultPlan = FaultPlan(), json_share: float = 0.0,
                seed: int = 11, on_progress=None, transform=None) -> int:
        """Publish the period's messages; ``transform`` (messages -> messages) changes them on the way."""
        messages = generate(self.utility, block_hours=block_hours, faults=faults, json_share=json_share,
                            seed=seed, truth=self.truth)
        if transform is not None:
            messages = transform(messages)
        return publish(self.settings.kafka_bootstrap, self.settings.topic_raw, messages, on_progress)

    # ------------------------------------------------------------------ check
    def progress(self) -> Progress:
        with psycopg.connect(self.settings.database_url) as conn:
            stored, flagged = checks.stored_and_flagged(conn)
        return Progress(stored, flagged, self.dlq_count())

    def dlq_count(self) -> int:
        consumer = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap, "group.id": f"{self.run_id}.probe"})
        try:
            metadata = consumer.list_topics(self.settings.topic_dlq, timeout=10).topics[self.settings.topic_dlq]
            total = 0
            for partition in metadata.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(self.settings.topic_dlq, partition), timeout=10)
                total += high - low
            return total
        finally:
            consumer.close()

    def wait_until_processed(self, timeout: float = 600.0, poll: float = 0.5) -> Progress:
        """Until every published read is stored or flagged and every undecodable message is in the DLQ."""
        deadline = time.monotonic() + timeout
        while True:
            progress = self.progress()
            if (progress.stored_reads + progress.flagged_reads >= self.truth.reads
                    and progress.dlq_messages >= self.truth.dlq_messages):
                return progress
            for worker in self.workers:
                if worker.poll() is not None:
                    raise RuntimeError(f"worker exited with {worker.returncode}; see /tmp/{self.run_id}.worker*.log")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not processed within {timeout}s: {progress} of {self.truth}")
            time.sleep(poll)

    def estimates_total(self) -> tuple[int, int, int]:
        """(accounts with an estimate, sum of bill-to-date, sum of projected) from Redis."""
        from storage.cache import EstimateCache

        with psycopg.connect(self.settings.database_url) as conn:
            cache = EstimateCache.for_database(self.settings.redis_url, conn)
            accounts = checks.account_ids(conn)
        bodies = [cache.read(a) for a in accounts]
        present = [b for b in bodies if b is not None]
        return (len(present), sum(b["bill_to_date_minor"] for b in present),
                sum(b["projected_minor"] for b in present))
