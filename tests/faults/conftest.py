"""Session fixtures of the fault-injection suite: the load, its clean run, the figures file."""
import json
import time

import pytest

from benchmarks.machine import describe, save
from tests.faults.harness import FaultRun, Figures, end_state, make_load


@pytest.fixture(scope="session")
def load_and_utility():
    return make_load()


@pytest.fixture(scope="session")
def load(load_and_utility):
    return load_and_utility[0]


@pytest.fixture(scope="session")
def clean(base_settings, load):
    """The load streamed without faults, closed and billed: the state every fault run must reach."""
    run = FaultRun(base_settings, "faults_clean", load, redis_db=4)
    run.publish()
    run.scenario.start_workers(1, first_metrics_port=9411)
    try:
        run.wait_for_reads(load.reads, workers=run.scenario.workers)
    finally:
        run.scenario.stop_workers()
    run.close_and_bill()
    state = end_state(run.settings)
    assert sum(n for n, _ in state["blocks"].values()) >= load.reads
    return state


@pytest.fixture(scope="session")
def figures():
    collected = Figures()
    started = time.monotonic()
    yield collected
    if collected.scenarios:
        result = {"benchmark": "faults", "machine": describe(), "scenarios": collected.scenarios,
                  **collected.summary(), "seconds": round(time.monotonic() - started, 1)}
        path = save("faults", result)
        print(f"\nfault-injection figures: {path}\n" + json.dumps({k: v for k, v in result.items()
                                                                  if k not in ("machine", "scenarios")}))
