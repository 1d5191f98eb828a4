"""Random lifecycles at two premises: starts, stops, transfers and meter exchanges, some recorded before
the reads and the rest after them, over a month of random hourly reads. Whatever the order, each
agreement is billed exactly the reads of its days at its service point, every stored read is billed
once or raised, the ledger balances and no bill is issued twice."""
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from billing.bill_run import find_period, run_bill_run
from billing.final_bills import issue_final_bills
from cis import meters, service
from cis.accounts import NewAccount, open_account
from cis.premises import add_premise
from meterdata.codec import Block, encode_binary
from simulators.utility import Utility
from storage.bulk_load import load_directory
from storage.tariffs import current_tariffs, publish
from streams.pipeline import BatchProcessor, RawMessage
from tests.integration.town_fixtures import FLAT, ZONE

pytestmark = pytest.mark.integration
FIRST, END = date(2026, 9, 1), date(2026, 10, 1)
TZ = ZoneInfo(ZONE)
WHO, WHY = "property", "a random lifecycle"

event = st.tuples(st.sampled_from(["exchange", "stop", "start", "transfer"]), st.integers(2, 28),
                  st.integers(0, 23))


@dataclass
class Town:
    conn: psycopg.Connection
    prefix: str
    cycle: str
    premises: list[int]
    meter_at: list[list[tuple[datetime, str]]]  # per premise: (from, meter number), in order
    occupants: list[list[list]]  # per premise: [account, first day, end day or None, agreement id]


def _moment(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), TZ)


def _setup(conn, tag: str) -> Town:
    cycle = f"C-{tag}"
    load_directory(conn, Utility(ZONE, cycle, FIRST, END))
    premises = [add_premise(conn, f"{n} {tag} St", ZONE, WHO, WHY) for n in (1, 2)]
    town = Town(conn, tag, cycle, premises, [[], []], [[], []])
    for index, premise in enumerate(premises):
        number = f"{tag}-P{index}-0"
        meters.install(conn, meters.MeterSpec(number, "electric", "Wh", 3600), premise, _moment(FIRST), WHO, WHY)
        town.meter_at[index].append((_moment(FIRST), number))
    _start(town, 0, FIRST)
    return town


def _start(town: Town, index: int, day: date, account_no: str | None = None) -> None:
    if account_no is None:
        account_no = open_account(town.conn, NewAccount(cycle=town.cycle, name=f"Tenant {day}"), WHO, WHY).account_no
    started = service.start(town.conn, service.Start(account_no, town.premises[index], "electric", "E-FLAT", day),
                            WHO, WHY, today=END)
    town.occupants[index].append([account_no, day, None, started.agreement_id])


def _current(town: Town, index: int, day: date):
    last = town.occupants[index][-1] if town.occupants[index] else None
    return last if last is not None and last[2] is None and last[1] < day else None


def _vacant_from(town: Town, index: int, day: date) -> bool:
    return all(o[2] is not None and o[2] <= day for o in town.occupants[index])


def apply(town: Town, kind: str, day: date, hour: int) -> None:
    """Record one event, where it makes sense at that moment (others are skipped)."""
    if kind == "exchange":
        index = hour % 2
        at = _moment(day, hour)
        if town.meter_at[index][-1][0] >= at:
            return
        number = f"{town.prefix}-P{index}-{len(town.meter_at[index])}"
        meters.exchange(town.conn, town.meter_at[index][-1][1], number, at, WHO, WHY)
        town.meter_at[index].append((at, number))
    elif kind == "stop":
        current = _current(town, 0, day)
        if current is not None:
            service.stop(town.conn, current[0], town.premises[0], "electric", day, WHO, WHY)
            current[2] = day
    elif kind == "start":
        if _vacant_from(town, 0, day):
            _start(town, 0, day)
    elif kind == "transfer":
        current = _current(town, 0, day)
        if current is not None and _vacant_from(town, 1, day):
            _, started = service.transfer(town.conn, current[0], town.premises[0], town.premises[1], "electric", day,
                                          WHO, WHY, today=END)
            current[2] = day
            town.occupants[1].append([current[0], day, None, started.agreement_id])


def reads(town: Town, rng: np.random.Generator) -> tuple[list[RawMessage], dict, int]:
    """A day block a meter per day it was in place (the meter in place sends each hour), and the truth:
    Wh per (premise, local day). A removed meter keeps reporting to the end of its last day (on the
    shop's bench): those reads are outside its installation; their total is returned too."""
    messages, truth, bench = [], {}, 0
    for index in (0, 1):
        for offset in range((END - FIRST).days):
            day = FIRST + timedelta(days=offset)
            values = rng.integers(0, 3000, 24)
            truth[(index, day)] = int(values.sum())
            for number, (since, meter_no) in enumerate(town.meter_at[index]):
                until = town.meter_at[index][number + 1][0] if number + 1 < len(town.meter_at[index]) else None
                hours = [h for h in range(24) if _moment(day, h) >= since and (until is None or _moment(day, h) < until)]
                if hours:
                    start = int(_moment(day, hours[0]).timestamp())
                    messages.append(RawMessage(encode_binary(Block(
                        meter_no, 1, start, 3600, values[hours[0]:hours[-1] + 1].astype(np.int64),
                        np.zeros(len(hours), np.uint8)))))
                    after = [h for h in range(hours[-1] + 1, 24)] if until is not None else []
                    if after:
                        extra = rng.integers(1, 3000, len(after)).astype(np.int64)
                        bench += int(extra.sum())
                        messages.append(RawMessage(encode_binary(Block(
                            meter_no, 1, int(_moment(day, after[0]).timestamp()), 3600, extra,
                            np.zeros(len(after), np.uint8)))))
    return messages, truth, bench


@pytest.fixture(scope="module")
def conn_and_settings(base_settings):
    from tests.services import drop_fresh, fresh_settings

    settings = fresh_settings(base_settings, "lifeprop")
    conn = psycopg.connect(settings.database_url, autocommit=True)
    publish(conn, FLAT)
    yield conn, settings
    conn.close()
    drop_fresh(base_settings, settings)


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(event, max_size=5), st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_any_lifecycle_bills_every_read_once_or_raises_it(conn_and_settings, events, recorded_before, seed):
    conn, settings = conn_and_settings
    town = _setup(conn, uuid.uuid4().hex[:8])
    events = sorted(events, key=lambda e: (e[1], e[2]))
    # the physical truth (which meter is where when) comes from all the events; the records get the
    # first ``recorded_before`` of them before the reads and the rest after
    for kind, day_number, hour in events[:recorded_before]:
        apply(town, kind, FIRST + timedelta(days=day_number - 1), hour)
    planned = _plan(town, events[recorded_before:])
    messages, truth, bench = reads(planned, np.random.default_rng(seed))
    BatchProcessor(settings, conn, cache=None).process(messages)
    for kind, day_number, hour in events[recorded_before:]:
        apply(town, kind, FIRST + timedelta(days=day_number - 1), hour)
    assert town.meter_at == planned.meter_at

    tariffs = current_tariffs(conn)
    period = find_period(conn, town.cycle)
    first = run_bill_run(conn, period, tariffs)
    assert not first.accounts_held and not first.accounts_failed, first
    issue_final_bills(conn, tariffs)
    again = run_bill_run(conn, period, tariffs)
    assert again.accounts_billed == 0 and not [o for o in issue_final_bills(conn, tariffs) if o.bill_id]

    accounts = [o[0] for p in town.occupants for o in p]
    billed = dict(conn.execute(
        "select u.service_agreement_id, sum(u.quantity) from bill_usage u join bills b on b.id = u.bill_id "
        "join accounts a on a.id = b.account_id where a.account_no = any(%s) and b.status = 'issued' "
        "group by 1", (accounts,)).fetchall())
    for index, occupants in enumerate(town.occupants):
        for account_no, first_day, end_day, agreement_id in occupants:
            last = end_day or END
            expected = sum(truth[(index, FIRST + timedelta(days=d))] for d in range((last - FIRST).days)
                           if FIRST + timedelta(days=d) >= first_day)
            assert int(billed.get(agreement_id, 0)) == expected, (account_no, first_day, end_day)
    numbers = [m for p in town.meter_at for _, m in p]
    stored = conn.execute("select coalesce(sum(b.total), 0) from interval_blocks b join meters m on m.id = b.meter_id "
                          "where m.meter_no = any(%s) and b.channel = 1", (numbers,)).fetchone()[0]
    raised = dict(conn.execute(
        "select e.day_rule, coalesce(sum(v), 0) from vee_exceptions e, unnest(e.values, e.flags) as t(v, f) "
        "where e.meter_no = any(%s) and e.status = 'open' and f <> 0 "
        "and e.day_rule in ('outside_installation', 'unbilled_consumption') group by 1", (numbers,)).fetchall())
    outside, unbilled = raised.get("outside_installation", 0), raised.get("unbilled_consumption", 0)
    assert stored == sum(billed.values()) + outside + unbilled, (events, recorded_before, stored, billed, raised, sum(truth.values()), bench)
    assert (sum(billed.values()) + unbilled, outside) == (sum(truth.values()), bench)
    bills = conn.execute("select count(*), count(distinct (b.account_id, b.billing_period_id, b.kind, "
                         "coalesce(b.final_agreement_id, 0))) from bills b join accounts a on a.id = b.account_id "
                         "where a.account_no = any(%s) and b.status = 'issued'", (accounts,)).fetchone()
    assert bills[0] == bills[1]
    # the ledger balances: every transaction of these accounts sums to zero
    assert conn.execute(
        "select count(*), coalesce(bool_and(total = 0), true) from (select sum(e.amount_minor) as total "
        "from ledger_entries e join accounts a on a.id = e.account_id where a.account_no = any(%s) "
        "group by e.transaction_id) t", (accounts,)).fetchone() == (bills[0], True)


def _plan(town: Town, later: list) -> Town:
    """Where each meter will be when every event is recorded (meters only: agreements wait)."""
    planned = Town(town.conn, town.prefix, town.cycle, town.premises, [list(m) for m in town.meter_at],
                   town.occupants)
    for kind, day_number, hour in later:
        if kind == "exchange":
            index, at = hour % 2, _moment(FIRST + timedelta(days=day_number - 1), hour)
            if planned.meter_at[index][-1][0] < at:
                planned.meter_at[index].append((at, f"{town.prefix}-P{index}-{len(planned.meter_at[index])}"))
    return planned
