"""Notices rendered from the billing entity's templates and delivered by channel, on the real
PostgreSQL and a real SMTP server: a bill posted to the portal sends a bill-ready e-mail with its due
date; a payment confirmation goes by e-mail or the portal and never as a letter; an entity's own
template replaces the default one; a turned-off notice is recorded as not sent, a required one is not
held back."""
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from billing.bill_run import find_period, run_bill_run
from billing.delivery import DeliveryConfig, deliver_pending
from billing.entities import load_entities
from billing.payments import PaymentIn, receive_payment
from cis import notices
from cis.preferences import BadPreference, change
from storage.tariffs import current_tariffs
from streams.pipeline import BatchProcessor
from tests.integration.town_fixtures import CYCLE, block, customer, days, noon

pytestmark = pytest.mark.integration


def account_id(conn, account_no: str) -> int:
    return conn.execute("select id from accounts where account_no = %s", (account_no,)).fetchone()[0]


def deliveries(conn, account_no: str) -> list[tuple[str, str, str]]:
    """(notice kind or 'bill', channel, status) of the account's delivery attempts, in order."""
    return conn.execute(
        "select coalesce(n.kind, 'bill'), d.channel, d.status from deliveries d left join notices n "
        "on n.id = d.notice_id join accounts a on a.id = d.account_id where a.account_no = %s order by d.id",
        (account_no,)).fetchall()


def test_a_bill_posted_to_the_portal_sends_a_bill_ready_email_with_its_amount_and_due_date(
        town, capsys, smtp_server, tmp_path):
    conn, settings = town
    entities = load_entities()
    kim, _ = customer(capsys, "Kim Lane", "60 Elm St", "NT-E1")
    lou, _ = customer(capsys, "Lou Moss", "62 Elm St", "NT-E2")  # portal, no e-mail: nothing to send
    change(conn, kim, "kim", "self-service", email="kim@example.test", delivery="portal", paperless=True)
    change(conn, lou, "lou", "self-service", delivery="portal")
    BatchProcessor(settings, conn, cache=None).process(
        [block(m, d, np.full(24, 2000)) for m in ("NT-E1", "NT-E2") for d in days(date(2026, 9, 1), date(2026, 10, 1))])
    run_bill_run(conn, find_period(conn, CYCLE), current_tariffs(conn), entities=entities,
                 clock=lambda: noon(date(2026, 10, 1)))
    config = DeliveryConfig(tmp_path, "127.0.0.1", smtp_server.port)
    summary = deliver_pending(conn, entities, config, noon(date(2026, 10, 2)))
    assert summary.portal >= 2 and summary.failed == 0
    ready = [m for m in smtp_server.messages if "is ready" in m["Subject"]]
    assert len(ready) == 1 and ready[0]["To"] == "kim@example.test"
    text = ready[0].get_body(("plain",)).get_content()
    # 1,440 kWh at $0.10 + $10.00; due 21 days after delivery on 2 October
    assert "154.00 USD" in text and "2026-10-23" in text and "2026-09-01 to 2026-09-30" in text
    assert ("bill_ready", "email", "sent") in deliveries(conn, kim)
    assert not [d for d in deliveries(conn, lou) if d[0] == "bill_ready"]
    assert deliver_pending(conn, entities, config, noon(date(2026, 10, 3))).emailed == 0  # once


def test_a_payment_confirmation_goes_by_email_or_the_portal_never_as_a_letter_and_can_be_turned_off(
        town, capsys, smtp_server, tmp_path):
    conn, _ = town
    entities = load_entities()
    mae, _ = customer(capsys, "Mae North", "70 Elm St", "NT-E3")  # bills by post, no e-mail
    ned, _ = customer(capsys, "Ned Oak", "72 Elm St", "NT-E4")
    ora, _ = customer(capsys, "Ora Pike", "74 Elm St", "NT-E5")
    change(conn, ned, "ned", "self-service", email="ned@example.test")  # still by post, but has an e-mail
    change(conn, ora, "ora", "self-service", email="ora@example.test", notices_off=["payment_received"])
    for number, account_no in enumerate((mae, ned, ora)):
        receive_payment(conn, PaymentIn("portal", f"PR-{number}", Decimal("12.50"), date(2026, 9, 10), account_no,
                                        method="card"), noon(date(2026, 9, 10)), entities)
    config = DeliveryConfig(tmp_path, "127.0.0.1", smtp_server.port)
    deliver_pending(conn, entities, config, noon(date(2026, 9, 10)))
    assert ("payment_received", "portal", "sent") in deliveries(conn, mae)
    assert ("payment_received", "email", "sent") in deliveries(conn, ned)
    assert ("payment_received", "email", "suppressed") in deliveries(conn, ora)
    assert not [d for a in (mae, ned, ora) for d in deliveries(conn, a) if d[:2] == ("payment_received", "print")]
    sent = [m for m in smtp_server.messages if m["Subject"].endswith("Payment received: 12.50 USD")]
    assert [m["To"] for m in sent] == ["ned@example.test"]


def test_each_billing_entity_renders_its_own_template_and_a_required_notice_is_never_held_back(
        town, capsys, tmp_path):
    conn, _ = town
    pat, _ = customer(capsys, "Pat Quinn", "80 Elm St", "NT-E6")
    rae, _ = customer(capsys, "Rae Stone", "82 Elm St", "NT-E7")
    conn.execute("update accounts set billing_entity = 'north' where account_no = %s", (rae,))
    with pytest.raises(BadPreference):  # a final notice cannot be turned off
        change(conn, rae, "rae", "self-service", notices_off=["final_notice"])
    conn.execute("update customers set preferences = jsonb_set(preferences, '{notices_off}', '[\"final_notice\"]') "
                 "where id = (select customer_id from accounts where account_no = %s)", (rae,))  # forced in
    values = {"bill_id": 7, "past_due_minor": 4_321, "disconnect_after_days": 7, "phone": "555-0190"}
    for account_no in (pat, rae):
        notices.send(conn, account_id(conn, account_no), "final_notice", values)
    said = dict(conn.execute("select a.account_no, n.subject || ' / ' || n.body from notices n join accounts a on "
                             "a.id = n.account_id where n.kind = 'final_notice'").fetchall())
    assert said[pat].startswith("Final notice: bill 7 / 43.21 USD is past due")
    assert said[rae].startswith("FINAL NOTICE: bill 7, service may be disconnected / North Valley Water & Light")
    assert "medical certificate" in said[rae] and "43.21 USD" in said[rae]
    deliver_pending(conn, load_entities(), DeliveryConfig(tmp_path, "127.0.0.1", 1), noon(date(2026, 9, 10)))
    assert ("final_notice", "print", "sent") in deliveries(conn, rae)
