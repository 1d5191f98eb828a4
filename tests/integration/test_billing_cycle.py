"""The billing cycle on the real PostgreSQL and a real SMTP server: bill runs with consolidated
statements, delivery (print batch, email, portal) setting due dates, payments (lockbox, partial,
over, unmatched, duplicate file, returned), collections, arrangements and cancel/rebill."""
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pypdf
import pytest

from billing.bill_run import find_period, run_bill_run
from billing.dunning import create_arrangement, run_collections
from billing.corrections import cancel_bill
from billing.delivery import DeliveryConfig, deliver_pending
from billing.invoice import build_account_bill
from billing.lockbox import import_lockbox
from billing.payments import return_payment
from billing.entities import load_entities
from billing.receivables_metrics import ReceivablesCollector
from billing.postings import account_receivable, balances
from storage.ledger_entries import trial_balance, unbalanced_transactions
from simulators.headend import generate
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from storage.tariffs import current_tariffs
from meterdata.codec import Block, encode_binary
from storage.usage import usage_for
from vee.gap_fill import fill_period
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration

P1 = (date(2026, 9, 20), date(2026, 10, 20))
P2 = (date(2026, 10, 20), date(2026, 11, 19))


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


@pytest.fixture
def utility_two_periods(settings):
    """24 meters with reads for two billing periods of one cycle."""
    conn = psycopg.connect(settings.database_url, autocommit=True)
    processor = BatchProcessor(settings, conn, cache=None)
    for start, end in (P1, P2):
        utility = make_utility(meters=24, seed=5, zone=settings.utility_zone, period_start=start, period_end=end)
        load_directory(conn, utility)
        messages = [RawMessage(m.value) for m in generate(utility, block_hours=24)]
        for first in range(0, len(messages), 500):
            processor.process(messages[first:first + 500])
    yield conn, utility
    conn.close()


def bill_of(conn, account_no: str, period_start: date):
    return conn.execute(
        "select b.id, b.total_minor, b.total_due_minor, b.previous_balance_minor, b.payments_minor, "
        "b.adjustments_minor, b.fees_minor, b.budget_minor, b.due_date from bills b join accounts a "
        "on a.id = b.account_id where a.account_no = %s and b.period_start = %s and b.status = 'issued'",
        (account_no, period_start)).fetchone()


def assert_ledger_consistent(conn):
    rows = trial_balance(conn)
    assert sum(r[1] for r in rows) == sum(r[2] for r in rows)
    assert unbalanced_transactions(conn) == []
    for account_id, balance in balances(conn).items():
        assert account_receivable(conn, account_id).balance_minor == balance
    # every statement adds up, and its total due is the ledger balance right after its bill
    for (bill_id, previous, payments, adjustments, fees, current, budget, total_due, account_id, transaction_id) in \
            conn.execute("select id, previous_balance_minor, payments_minor, adjustments_minor, fees_minor, total_minor, "
                         "budget_minor, total_due_minor, account_id, ledger_transaction_id from bills"):
        assert previous + payments + adjustments + fees + current + budget == total_due, bill_id
        ledger = conn.execute("select coalesce(sum(amount_minor), 0) from ledger_entries where account_id = %s "
                              "and ledger_account = 'receivable' and transaction_id <= %s",
                              (account_id, transaction_id)).fetchone()[0]
        assert ledger == total_due, bill_id


def test_a_billing_cycle_from_bill_run_to_collections(utility_two_periods, smtp_server, tmp_path: Path):
    conn, utility = utility_two_periods
    entities = load_entities()
    accounts = [a.account_no for a in utility.accounts]
    email_account, portal_account, partial_account, overpaid_account, arranged_account = accounts[:5]
    conn.execute("update accounts set delivery_channel = 'print', email = null, billing_entity = 'default'")
    conn.execute("update accounts set delivery_channel = 'email', email = 'c1@example.test' where account_no = %s",
                 (email_account,))
    conn.execute("update accounts set delivery_channel = 'portal' where account_no = %s", (portal_account,))
    tariffs = current_tariffs(conn)
    first = run_bill_run(conn, find_period(conn, utility.cycle_code, P1[0]), tariffs, clock=lambda: at(P1[1]),
                         entities=entities)
    assert first.accounts_billed == len(accounts) and not first.accounts_held
    statuses = conn.execute("select status, count(*) from bill_run_accounts where bill_run_id = %s group by 1",
                            (first.bill_run_id,)).fetchall()
    assert statuses == [("billed", len(accounts))]
    for account_no in accounts:
        _, current, total_due, previous, *_ = bill_of(conn, account_no, P1[0])
        assert previous == 0 and total_due == current

    # delivery: email through the SMTP server, portal, and a print batch with its manifest
    config = DeliveryConfig(tmp_path, "127.0.0.1", smtp_server.port)
    delivered_on = P1[1] + timedelta(days=1)
    summary = deliver_pending(conn, entities, config, at(delivered_on))
    assert (summary.emailed, summary.portal, summary.printed, summary.failed) == (1, 1, len(accounts) - 2, 0)
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "c1@example.test"
    bill_id, current, total_due, *_ = bill_of(conn, email_account, P1[0])
    pdf_part = next(part for part in message.iter_attachments() if part.get_content_type() == "application/pdf")
    text = pypdf.PdfReader(BytesIO(pdf_part.get_content())).pages[0].extract_text()
    assert email_account in text and f"{total_due / 100:,.2f}" in text
    batch = pypdf.PdfReader(summary.print_batch)
    manifest = summary.manifest.read_text().splitlines()
    assert len(manifest) == 1 + len(accounts) - 2
    last = manifest[-1].split(",")
    assert int(last[-2]) + int(last[-1]) - 1 == len(batch.pages)  # the manifest's pages cover the batch
    terms = timedelta(days=entities["default"].payment_terms_days)
    due_dates = {r[0] for r in conn.execute("select due_date from bills")}
    assert due_dates == {delivered_on + terms}
    assert deliver_pending(conn, entities, config, at(delivered_on)).printed == 0  # delivered once

    # payments: full, partial, overpaid, unmatched; the same file again applies nothing
    def due(account_no):
        return bill_of(conn, account_no, P1[0])[2]
    lines = ["reference,received_on,account_no,invoice_no,amount,method",
             f"LB-1,2026-10-25,{email_account},,{due(email_account) / 100:.2f},check",
             f"LB-2,2026-10-25,{partial_account},,{due(partial_account) // 2 / 100:.2f},check",
             f"LB-3,2026-10-26,{overpaid_account},,{(due(overpaid_account) + 1234) / 100:.2f},ach",
             "LB-4,2026-10-26,NOSUCH,,10.00,check",
             "LB-5,2026-10-26,,,7.00,check"]
    text = "\n".join(lines) + "\n"
    imported = import_lockbox(conn, text, "lockbox-1.csv", at(date(2026, 10, 26)))
    assert (imported.applied, imported.unmatched, imported.duplicates, imported.errors) == (3, 2, 0, [])
    again = import_lockbox(conn, text, "lockbox-1.csv", at(date(2026, 10, 27)))
    assert (again.applied, again.unmatched, again.duplicates) == (0, 0, 5)
    reasons = sorted(r[0] for r in conn.execute("select exception_reason from payments where status = 'unmatched'"))
    assert reasons == ["no_account_or_invoice", "unknown_account"]
    ids = {a: i for a, i in conn.execute("select account_no, id from accounts")}
    assert account_receivable(conn, ids[email_account]).balance_minor == 0
    overpaid = account_receivable(conn, ids[overpaid_account])
    assert overpaid.credit_minor == 1234 and overpaid.balance_minor == -1234
    partial = account_receivable(conn, ids[partial_account])
    assert partial.balance_minor == due(partial_account) - due(partial_account) // 2
    assert_ledger_consistent(conn)

    # an arrangement pauses collections for its account
    create_arrangement(conn, ids[arranged_account], 2, date(2026, 11, 15), 30, "clerk", "hardship", at(date(2026, 11, 1)))

    # collections: nothing before the due date plus grace; then late fee + reminder, once
    due_date = delivered_on + terms
    grace = timedelta(days=entities["default"].grace_days)
    assert run_collections(conn, entities, due_date + grace, at(due_date + grace)).late_fees == 0
    day = due_date + grace + timedelta(days=1)
    collected = run_collections(conn, entities, day, at(day))
    unpaid = set(accounts) - {email_account, overpaid_account, arranged_account}
    assert {s[0] for s in collected.steps} == unpaid
    assert collected.late_fees == len(unpaid) and collected.paused_by_arrangement == 1
    again = run_collections(conn, entities, day, at(day))
    assert again.late_fees == 0 and again.reminders == 0
    fee = conn.execute("select sum(amount_minor) from ledger_entries where entry_type = 'fee' "
                       "and ledger_account = 'receivable' and account_id = %s", (ids[partial_account],)).fetchone()[0]
    assert fee == entities["default"].late_fee_minor(partial.balance_minor)
    # final notice, then disconnect eligibility per service
    final_day = day + timedelta(days=entities["default"].final_notice_after_days)
    final = run_collections(conn, entities, final_day, at(final_day))
    assert final.final_notices == len(unpaid)
    # the arrangement's first installment (due 2026-11-15) was missed: broken, its account's sequence starts
    assert final.arrangements_broken == 1
    assert {(s[0], s[2]) for s in final.steps if s[0] == arranged_account} == {
        (arranged_account, "late_fee"), (arranged_account, "reminder")}
    cut_day = final_day + timedelta(days=entities["default"].disconnect_after_days)
    cut = run_collections(conn, entities, cut_day, at(cut_day))
    services = {a.account_no: set(a.services) for a in utility.accounts}
    eligible = {(s[0], s[3]) for s in cut.steps}

    def past_due_bills(account_no):  # fees are not counted towards disconnection
        return sum(i.open_minor for i in account_receivable(conn, ids[account_no]).open_items() if i.entry_type == "bill")
    expected = {(a, svc) for a in unpaid for svc in services[a]
                if past_due_bills(a) >= entities["default"].disconnect_minimum_minor}
    assert eligible == expected and expected

    # a returned payment is reversed with a fee
    payment_id = conn.execute("select id from payments where reference = 'LB-1'").fetchone()[0]
    fee = return_payment(conn, payment_id, "clerk", "NSF", at(cut_day), entities)
    assert fee == entities["default"].nsf_fee_minor
    assert account_receivable(conn, ids[email_account]).balance_minor == due(email_account) + fee

    # the next bill's statement carries the previous balance, payments, fees and the new charges
    second = run_bill_run(conn, find_period(conn, utility.cycle_code, P2[0]), tariffs, clock=lambda: at(cut_day),
                          entities=entities)
    assert second.accounts_billed == len(accounts)
    _, current, total_due, previous, payments, adjustments, fees, budget, _ = bill_of(conn, partial_account, P2[0])
    assert previous == due(partial_account) and payments == -(due(partial_account) // 2)
    assert fees > 0 and total_due == account_receivable(conn, ids[partial_account]).balance_minor
    _, current, total_due, previous, payments, *_ = bill_of(conn, email_account, P2[0])
    assert payments == 0  # paid and returned: nets to nothing
    _, current, total_due, *_ = bill_of(conn, overpaid_account, P2[0])
    assert total_due == current - 1234  # the credit carried
    assert_ledger_consistent(conn)

    # operators see the same figures on /metrics
    figures = {}
    for family in ReceivablesCollector(lambda: psycopg.connect(conn.info.dsn)).collect():
        for sample in family.samples:
            figures[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    assert figures[("m2c_payments_total", (("channel", "lockbox"),))] == 5
    assert figures[("m2c_payment_exceptions_open", ())] == 2
    assert figures[("m2c_payments_returned_total", ())] == 1
    assert figures[("m2c_collection_steps_total", (("step", "late_fee"),))] == len(unpaid) + 1
    assert figures[("m2c_deliveries_total", (("channel", "email"), ("status", "sent")))] == 1
    assert figures[("m2c_receivable_balance_minor_units", ())] == sum(balances(conn).values())


def test_cancel_and_rebill_uses_corrected_reads(utility_two_periods, settings):
    conn, utility = utility_two_periods
    entities = load_entities()
    tariffs = current_tariffs(conn)
    period_id = find_period(conn, utility.cycle_code, P1[0])
    run_bill_run(conn, period_id, tariffs, clock=lambda: at(P1[1]), entities=entities)
    meter = next(m for m in utility.meters if m.service == "water")
    bill_id, current, total_due, *_ = bill_of(conn, meter.account_no, P1[0])
    # a corrected read arrives: 30 gallons more in one interval
    start = at(date(2026, 10, 1), 12)
    original = conn.execute("select value from interval_reads r join meters m on m.id = r.meter_id "
                            "where m.meter_no = %s and r.interval_start = %s", (meter.meter_no, start)).fetchone()[0]
    block = Block(meter.meter_no, 1, int(start.timestamp()), meter.interval_s, np.array([original + 300]),
                  np.zeros(1, np.uint8))
    outcome = BatchProcessor(settings, conn, cache=None).process([RawMessage(encode_binary(block))])
    assert outcome.reads_stored == 1
    cancel_bill(conn, bill_id, "clerk", "meter re-read", at(date(2026, 10, 30)))
    with pytest.raises(Exception):
        cancel_bill(conn, bill_id, "clerk", "twice", at(date(2026, 10, 30)))
    rebill = run_bill_run(conn, period_id, tariffs, clock=lambda: at(date(2026, 10, 30)), entities=entities,
                          account_ids=[conn.execute("select id from accounts where account_no = %s",
                                                    (meter.account_no,)).fetchone()[0]])
    assert rebill.accounts_billed == 1
    new_id, new_current, new_total_due, previous, payments, adjustments, *_ = bill_of(conn, meter.account_no, P1[0])
    assert conn.execute("select kind, rebill_of from bills where id = %s", (new_id,)).fetchone() == ("rebill", bill_id)
    assert new_current > current  # more water priced
    assert previous == total_due and adjustments == -current  # the old bill, and its reversal
    assert new_total_due == new_current
    assert conn.execute("select count(*) from bills where account_id = (select account_id from bills where id = %s)",
                        (bill_id,)).fetchone()[0] == 2  # both visible
    assert_ledger_consistent(conn)


def test_accounts_with_missing_reads_are_held_and_estimates_follow_the_entity(utility_two_periods):
    conn, utility = utility_two_periods
    tariffs = current_tariffs(conn)
    held_meter, estimated_meter = utility.meters[0], utility.meters[-1]
    conn.execute("delete from interval_blocks where meter_id = (select id from meters where meter_no = %s) "
                 "and local_day = '2026-11-05'", (held_meter.meter_no,))
    conn.execute("update usage_daily set read_count = 0, quantity = 0 where local_day = '2026-11-05' and "
                 "service_point_id = (select i.service_point_id from meter_installations i join meters m on m.id = i.meter_id where m.meter_no = %s)",
                 (held_meter.meter_no,))
    conn.execute("update usage_daily set estimated_count = 3 where local_day = '2026-11-06' and "
                 "service_point_id = (select i.service_point_id from meter_installations i join meters m on m.id = i.meter_id where m.meter_no = %s)",
                 (estimated_meter.meter_no,))
    conn.execute("update accounts set billing_entity = 'north' where account_no = %s", (estimated_meter.account_no,))
    entities = load_entities()
    entities = {**entities, "north": replace(entities["north"], allow_estimated_bills=False)}
    result = run_bill_run(conn, find_period(conn, utility.cycle_code, P2[0]), tariffs, entities=entities)
    assert result.accounts_held[held_meter.account_no].startswith(f"missing_reads:{held_meter.service}:")
    assert result.accounts_held[estimated_meter.account_no] == f"estimated_reads:{estimated_meter.service}:3"
    # where the entity bills estimates, the bill is flagged as estimated
    entities = {**entities, "north": replace(entities["north"], allow_estimated_bills=True)}
    again = run_bill_run(conn, find_period(conn, utility.cycle_code, P2[0]), tariffs, entities=entities)
    assert again.accounts_billed == 1 and estimated_meter.account_no not in again.accounts_held
    assert conn.execute("select estimated from bills b join accounts a on a.id = b.account_id "
                        "where a.account_no = %s", (estimated_meter.account_no,)).fetchone() == (True,)
    held = conn.execute("select count(*) from bill_run_accounts where bill_run_id = %s and status = 'held'",
                        (again.bill_run_id,)).fetchone()[0]
    assert held == 1


def test_an_estimated_bill_is_trued_up_on_the_next_bill_once_reads_are_actual(utility_two_periods, settings):
    conn, utility = utility_two_periods
    entities = load_entities()
    tariffs = current_tariffs(conn)
    meter = next(m for m in utility.meters if m.service == "water")
    meter_id, point_id = conn.execute("select m.id, i.service_point_id from meters m join meter_installations i "
                                      "on i.meter_id = m.id where m.meter_no = %s",
                                          (meter.meter_no,)).fetchone()
    # the head-end lost a day; VEE estimates it at cycle close and the bill is estimated
    day = date(2026, 10, 5)
    quantity, reads = conn.execute("select total, read_count from interval_blocks where meter_id = %s and "
                                   "local_day = %s", (meter_id, day)).fetchone()
    conn.execute("delete from interval_blocks where meter_id = %s and local_day = %s", (meter_id, day))
    conn.execute("update usage_daily set quantity = quantity - %s, read_count = read_count - %s "
                 "where service_point_id = %s and local_day = %s and channel = 1",
                 (quantity, reads, point_id, day))
    p1 = find_period(conn, utility.cycle_code, P1[0])
    assert sum(fill_period(conn, p1).values()) == reads
    run_bill_run(conn, p1, tariffs, clock=lambda: at(P1[1]), entities=entities)
    old_id, old_charges, *_ = bill_of(conn, meter.account_no, P1[0])
    assert conn.execute("select estimated from bills where id = %s", (old_id,)).fetchone() == (True,)
    # the actual reads arrive late and replace the estimates
    zone = ZoneInfo(settings.utility_zone)
    late = [RawMessage(m.value) for m in generate(utility_for(settings, P1), datetime.combine(day, time(), zone),
                                                  datetime.combine(day + timedelta(days=1), time(), zone),
                                                  block_hours=24) if m.key == meter.meter_no.encode()]
    BatchProcessor(settings, conn, cache=None).process(late)
    assert conn.execute("select sum(estimated_count) from usage_daily where service_point_id = %s",
                        (point_id,)).fetchone()[0] == 0
    repriced = build_account_bill(*account_usage(conn, meter.account_no, p1), tariffs)
    expected = repriced.total_minor - old_charges
    run_bill_run(conn, find_period(conn, utility.cycle_code, P2[0]), tariffs, clock=lambda: at(P2[1]), entities=entities)
    new_id, *_ = bill_of(conn, meter.account_no, P2[0])
    true_up = conn.execute("select sum(amount_minor), count(*) from bill_lines where bill_id = %s and kind = 'true_up'",
                           (new_id,)).fetchone()
    assert true_up == (expected, len(repriced.services))
    assert conn.execute("select trued_up_by from bills where id = %s", (old_id,)).fetchone() == (new_id,)
    assert_ledger_consistent(conn)


def utility_for(settings, period):
    return make_utility(meters=24, seed=5, zone=settings.utility_zone, period_start=period[0], period_end=period[1])


def account_usage(conn, account_no, period_id):
    account_id = conn.execute("select id from accounts where account_no = %s", (account_no,)).fetchone()[0]
    return account_id, usage_for(conn, [(account_id, period_id)])


def test_levelized_billing_bills_the_budget_and_trues_up_when_it_ends(utility_two_periods):
    conn, utility = utility_two_periods
    entities = load_entities()
    tariffs = current_tariffs(conn)
    account = utility.accounts[0].account_no
    conn.execute("update accounts set budget_amount_minor = 5000, budget_started_on = %s, billing_entity = 'default' "
                 "where account_no = %s", (P1[0], account))
    run_bill_run(conn, find_period(conn, utility.cycle_code, P1[0]), tariffs, clock=lambda: at(P1[1]), entities=entities)
    _, charges, total_due, previous, payments, adjustments, fees, budget, _ = bill_of(conn, account, P1[0])
    assert total_due == 5000 and budget == 5000 - charges  # the customer owes the budget amount
    account_id = conn.execute("select id from accounts where account_no = %s", (account,)).fetchone()[0]
    deferred = conn.execute("select sum(amount_minor) from ledger_entries where account_id = %s and "
                            "ledger_account = 'budget_deferred'", (account_id,)).fetchone()[0]
    assert deferred == charges - 5000
    # budget billing ends: the next bill brings the deferred difference back
    conn.execute("update accounts set budget_amount_minor = null where account_no = %s", (account,))
    run_bill_run(conn, find_period(conn, utility.cycle_code, P2[0]), tariffs, clock=lambda: at(P2[1]), entities=entities)
    _, charges2, total_due2, previous2, _, _, _, budget2, _ = bill_of(conn, account, P2[0])
    assert previous2 == 5000 and budget2 == deferred and total_due2 == 5000 + charges2 + deferred
    assert conn.execute("select sum(amount_minor) from ledger_entries where account_id = %s and "
                        "ledger_account = 'budget_deferred'", (account_id,)).fetchone()[0] == 0
    assert_ledger_consistent(conn)
