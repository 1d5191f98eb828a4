"""Billing cycles on schedule: periods made ahead, due periods billed, delivered, once."""
from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import psycopg
import pytest

from billing.cycles import create_cycles, due_periods, ensure_periods
from billing.cycle_close import close_due_cycles
from simulators.headend import generate
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration


def test_twenty_cycles_get_their_periods_and_come_due_in_turn(settings):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        codes = create_cycles(conn, 20, settings.utility_zone)
        assert len(codes) == 20 and create_cycles(conn, 20, settings.utility_zone) == codes
        assert ensure_periods(conn, date(2026, 11, 28)) == 40
        assert ensure_periods(conn, date(2026, 11, 28)) == 0
        cycle = conn.execute("select id from billing_cycles where code = 'BC01'").fetchone()[0]
        conn.execute("insert into accounts (account_no, customer_name, billing_cycle_id, zone) "
                     "values ('X1', 'x', %s, 'UTC')", (cycle,))
        # only cycles with accounts come due; BC01's October period ended Nov 1, due a day later
        assert [(d.cycle_code, d.period_start) for d in due_periods(conn, date(2026, 11, 2))] == [
            ("BC01", date(2026, 10, 1))]
        assert due_periods(conn, date(2026, 11, 1)) == []


def test_the_scheduler_bills_a_due_period_once_and_delivers_it(settings, tmp_path, smtp_server):
    settings = replace(settings, output_dir=str(tmp_path), smtp_port=smtp_server.port)
    utility = make_utility(meters=12, seed=3, zone=settings.utility_zone, period_start=date(2026, 9, 20),
                           period_end=date(2026, 10, 20))
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
        processor = BatchProcessor(settings, conn, cache=None)
        processor.process([RawMessage(m.value) for m in generate(utility, block_hours=24)])
        conn.execute("update accounts set delivery_channel = 'print', email = null")
        conn.execute("update accounts set delivery_channel = 'email', email = 'a@example.test' "
                     "where account_no = %s", (utility.accounts[0].account_no,))
    zone = ZoneInfo(settings.utility_zone)
    too_early = close_due_cycles(settings, datetime.combine(date(2026, 10, 20), time(8), zone))
    assert too_early.ran and too_early.bill_runs == []
    report = close_due_cycles(settings, datetime.combine(date(2026, 10, 21), time(8), zone))
    assert [r.accounts_billed for r in report.bill_runs] == [len(utility.accounts)]
    assert report.delivery.emailed == 1 and report.delivery.printed == len(utility.accounts) - 1
    assert len(smtp_server.messages) == 1
    again = close_due_cycles(settings, datetime.combine(date(2026, 10, 22), time(8), zone))
    assert again.bill_runs == [] and again.delivery.printed == 0


def test_the_scheduler_pays_autopay_bills_on_their_due_day_before_collections(settings, tmp_path):
    from billing.autopay import enroll
    from portal.gateway import TestGateway

    settings = replace(settings, output_dir=str(tmp_path))
    utility = make_utility(meters=6, seed=4, zone=settings.utility_zone, period_start=date(2026, 9, 20),
                           period_end=date(2026, 10, 20))
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
        BatchProcessor(settings, conn, cache=None).process([RawMessage(m.value) for m in generate(utility, block_hours=24)])
        conn.execute("update accounts set delivery_channel = 'print', email = null")
        paying, declined = utility.accounts[0].account_no, utility.accounts[1].account_no
        ids = dict(conn.execute("select account_no, id from accounts").fetchall())
        enroll(conn, ids[paying], paying, "tok_approved", "customer", "self-service")
        enroll(conn, ids[declined], declined, "tok_declined", "customer", "self-service")
    zone = ZoneInfo(settings.utility_zone)
    billed = close_due_cycles(settings, datetime.combine(date(2026, 10, 21), time(8), zone), gateway=TestGateway())
    assert billed.autopay.bills == 0  # delivered today, due in 21 days
    due = close_due_cycles(settings, datetime.combine(date(2026, 11, 11), time(8), zone), gateway=TestGateway())
    assert (due.autopay.bills, due.autopay.approved, due.autopay.declined) == (2, 1, 1)
    assert close_due_cycles(settings, datetime.combine(date(2026, 11, 11), time(9), zone),
                            gateway=TestGateway()).autopay.approved == 0  # once
    with psycopg.connect(settings.database_url) as conn:
        open_minor = dict(conn.execute(
            "select a.account_no, sum(l.amount_minor) from ledger_entries l join accounts a on a.id = l.account_id "
            "where l.ledger_account = 'receivable' group by 1").fetchall())
        assert open_minor[paying] == 0 and open_minor[declined] > 0
        told = conn.execute("select n.kind from notices n join accounts a on a.id = n.account_id "
                            "where a.account_no = %s and n.kind = 'autopay_failed'", (declined,)).fetchall()
        assert told == [("autopay_failed",)]
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("select count(*), count(due_date) from bills").fetchone() == (len(utility.accounts),) * 2
        assert conn.execute("select requested_by from bill_runs").fetchall() == [("scheduler",)]
