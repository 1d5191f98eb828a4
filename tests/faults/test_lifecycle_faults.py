"""A meter exchanged at noon mid-period, and workers killed while the days around it stream: the day is
split between the two meters to the interval, and the end state equals a run without kills."""
import time

import pytest

from cis import meters
from scenarios.demo_lifecycle import plan_for, rekeyed
from scenarios.harness import start_worker, stop_worker
from tests.faults.harness import FaultRun, connect, differences, end_state, kill

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def streamed_with_exchange(base_settings, load, plan, messages, name: str, redis_db: int, port: int, tmp_path,
                           kills: list[float]):
    run = FaultRun(base_settings, name, load, redis_db=redis_db, batch_max_messages=500)
    with connect(run.settings) as conn:
        meters.exchange(conn, plan.exchange_meter, plan.new_meter, plan.exchange_at, "fault suite", "display failed")
    run.publish(messages)
    for number, fraction in enumerate(kills):
        worker = start_worker(run.settings, port + number, str(tmp_path / f"{name}{number}.log"))
        run.wait_for_reads(int(fraction * load.reads), workers=[worker])
        kill(worker)
    worker = start_worker(run.settings, port + 9, str(tmp_path / f"{name}-last.log"))
    run.wait_for_reads(load.reads, workers=[worker])
    time.sleep(1.0)  # a redelivery in flight lands now
    stop_worker(worker)
    run.close_and_bill()
    return run


def test_a_worker_killed_on_the_day_of_a_meter_exchange(base_settings, load_and_utility, figures, tmp_path):
    started = time.monotonic()
    load, utility = load_and_utility
    plan = plan_for(utility)
    messages = list(rekeyed(load.messages, plan))
    calm = streamed_with_exchange(base_settings, load, plan, messages, "faults_exchange_calm", 2, 9490, tmp_path, [])
    # the exchange is 13.5 days into a 30-day period: kill around it
    run = streamed_with_exchange(base_settings, load, plan, messages, "faults_exchange_kill", 3, 9500, tmp_path,
                                 [0.43, 0.45, 0.47])
    expected, got = end_state(calm.settings), end_state(run.settings)
    with connect(run.settings) as conn:
        day = plan.exchange_at.date()
        split = conn.execute(
            "select m.meter_no, b.read_count from interval_blocks b join meters m on m.id = b.meter_id "
            "where m.meter_no in (%s, %s) and b.channel = 1 and b.local_day = %s order by 1",
            (plan.exchange_meter, plan.new_meter, day)).fetchall()
        rolled = conn.execute(
            "select u.read_count from usage_daily u join meter_installations i on i.service_point_id = "
            "u.service_point_id join meters m on m.id = i.meter_id where m.meter_no = %s and u.channel = 1 "
            "and u.local_day = %s", (plan.new_meter, day)).fetchone()[0]
    # the old meter read the morning, the new one the afternoon, and the service point has the whole day
    assert [n for n, _ in split] == [plan.exchange_meter, plan.new_meter]
    assert split[0][1] == split[1][1] and rolled == split[0][1] + split[1][1]
    diffs = differences(expected, got)
    figures.add("worker killed (SIGKILL) 3 times around a meter exchanged at noon", {"kills": 3},
                load.reads, diffs, time.monotonic() - started)
    assert diffs == {part: 0 for part in diffs}, diffs
