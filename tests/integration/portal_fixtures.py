"""A billed utility with portal users, shared by the portal's tests."""
from dataclasses import dataclass

import psycopg
import pytest

from billing.bill_run import find_period, run_bill_run
from portal.auth import create_user
from simulators.headend import FaultPlan, generate
from simulators.utility import make_utility
from storage.cache import EstimateCache
from storage.bulk_load import load_directory
from storage.tariffs import current_tariffs
from vee.gap_fill import fill_period
from streams.pipeline import BatchProcessor, RawMessage

PASSWORD = "correct horse battery staple"


@dataclass
class Portal:
    settings: object
    conn: object
    utility: object
    alice: str  # account numbers
    bob: str


@pytest.fixture
def portal_data(settings):
    utility = make_utility(meters=8, seed=8, zone=settings.utility_zone)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    load_directory(conn, utility)
    cache = EstimateCache.for_database(settings.redis_url, conn)
    faults = FaultPlan(negative=0.02)
    BatchProcessor(settings, conn, cache=cache).process(
        [RawMessage(m.value) for m in generate(utility, block_hours=24, faults=faults, seed=3)])
    alice, bob = utility.accounts[0].account_no, utility.accounts[1].account_no
    create_user(conn, "alice", PASSWORD, "customer", [alice])
    create_user(conn, "bob", PASSWORD, "customer", [bob])
    for role in ("clerk", "supervisor", "admin"):
        create_user(conn, role, PASSWORD, role)
    yield Portal(settings, conn, utility, alice, bob)
    conn.close()


def bill_the_period(portal: Portal) -> None:
    """Close the period as the cycle close does: estimate what VEE held back, then bill."""
    conn = portal.conn
    period_id = find_period(conn, portal.utility.cycle_code)
    fill_period(conn, period_id)
    conn.execute("update vee_exceptions set status = 'released' where status = 'open'")
    run_bill_run(conn, period_id, current_tariffs(conn))
