"""Service orders end to end through the commands: a bill goes unpaid -> late fee -> final notice ->
disconnect ordered, approved, scheduled, completed -> payment in full -> reconnect order with the
entity's fee -> completed, with the notices each step sends; a customer with a certified medical need
is never ordered; a start at a disconnected service point orders the connection."""
from datetime import date

import numpy as np
import psycopg
import pytest
from prometheus_client import CollectorRegistry

from billing.bill_run import find_period, run_bill_run
from billing.delivery import DeliveryConfig, deliver_pending
from billing.dunning import run_collections
from billing.entities import load_entities
from billing.receivables_metrics import OrdersCollector
from meter2cash.cli import main
from storage.ledger_entries import trial_balance, unbalanced_transactions
from storage.tariffs import current_tariffs
from streams.pipeline import BatchProcessor
from tests.integration.town_fixtures import CYCLE, ZONE, block, customer, days, noon, notices, refused, run

pytestmark = pytest.mark.integration


def test_unpaid_to_disconnected_to_paid_to_reconnected_with_the_notices_of_each_step(town, capsys, tmp_path):
    conn, settings = town
    entities = load_entities()
    ann, ann_premise = customer(capsys, "Ann Archer", "12 Elm St", "SO-E1")
    ben, _ = customer(capsys, "Ben Baker", "14 Elm St", "SO-E2")
    run(capsys, "orders", "protect", "--account", ben, "--until", "2027-03-31", "--why", "oxygen concentrator, "
        "doctor's certificate on file")
    # 2 kWh an hour in September: 1,440 kWh at $0.10 + $10.00 = $154.00 each
    BatchProcessor(settings, conn, cache=None).process(
        [block(m, d, np.full(24, 2000)) for m in ("SO-E1", "SO-E2") for d in days(date(2026, 9, 1), date(2026, 10, 1))])
    billed = run_bill_run(conn, find_period(conn, CYCLE), current_tariffs(conn), entities=entities,
                          clock=lambda: noon(date(2026, 10, 1)))
    assert billed.accounts_billed == 2
    deliver_pending(conn, entities, DeliveryConfig(tmp_path, "127.0.0.1", 1), noon(date(2026, 10, 2)))
    # due 21 days after delivery (23 October), 5 days' grace; then 15 days to the final notice, 10 more
    for day in (date(2026, 10, 29), date(2026, 11, 13)):
        run_collections(conn, entities, day, noon(day))
    cut = run_collections(conn, entities, date(2026, 11, 23), noon(date(2026, 11, 23)))
    assert (cut.disconnect_eligible, cut.disconnects_ordered, cut.disconnects_withheld) == (2, 1, 1)
    withheld = conn.execute("select details->>'rule', reason from cis_events where kind = 'disconnect_withheld' "
                            "and subject = %s", (ben,)).fetchall()
    assert withheld == [("medical_need", "a medical need is certified until 2027-03-31")]
    # running collections again orders nothing twice and records the withholding once
    again = run_collections(conn, entities, date(2026, 11, 24), noon(date(2026, 11, 24)))
    assert again.disconnects_ordered == 0
    assert conn.execute("select count(*) from cis_events where kind = 'disconnect_withheld'").fetchone()[0] == 1

    queue = run(capsys, "orders", "list", "--status", "awaiting_approval")
    assert queue["total"] == 1
    order = queue["orders"][0]
    assert (order["kind"], order["account_no"], order["source"]) == ("disconnect", ann, "collections")
    assert order["reason"].startswith("non-payment: 154.00 USD past due on bill ")
    order_id = str(order["id"])
    # nothing happens in the field before a supervisor approves it
    assert "order_refused" in refused(capsys, "orders", "schedule", order_id, "--on", "2026-11-25", "--why", "route")
    run(capsys, "orders", "approve", order_id, "--why", "past due 30 days, no contact", "--by", "sup.ray")
    scheduled = run(capsys, "orders", "schedule", order_id, "--on", "2026-11-25", "--why", "north route")
    assert (scheduled["status"], scheduled["field_reference"]) == ("scheduled", f"FW-{order_id}")
    done = run(capsys, "orders", "complete", order_id, "--at", "2026-11-25T10:00:00-06:00", "--read", "1440000",
               "--notes", "meter sealed", "--why", "disconnected at the meter")
    assert (done["status"], done["point_state"]) == ("completed", "disconnected")
    assert done["completion"] == {"notes": "meter sealed", "read": "1440000", "point_state": "disconnected"}
    assert conn.execute("select r.value from register_reads r join meters m on m.id = r.meter_id "
                        "where m.meter_no = 'SO-E1'").fetchone()[0] == 1440000
    sent = conn.execute("select action, reference from field_work_requests where order_id = %s order by id",
                        (int(order_id),)).fetchall()
    assert sent == [("schedule", f"FW-{order_id}")]

    # paid in full (the bill and its late fee): the reconnect order at once, with the entity's $35.00 fee
    owed = run(capsys, "account", "show", ann)["balance_minor"]
    assert owed == 15400 + entities["default"].late_fee_minor(15400)
    assert main(["payments", "post", "--account", ann, "--amount", f"{owed / 100:.2f}", "--reference", "PAY-1"]) == 0
    capsys.readouterr()
    reconnects = run(capsys, "orders", "list", "--kind", "reconnect", "--account", ann)["orders"]
    assert [(o["status"], o["fee_minor"], o["source"]) for o in reconnects] == [("open", 3500, "payment")]
    assert run(capsys, "account", "show", ann)["balance_minor"] == 3500
    run(capsys, "orders", "complete", str(reconnects[0]["id"]), "--why", "seal cut, service on")
    state = conn.execute("select sp.state from service_points sp join premises p on p.id = sp.premise_id "
                         "where p.id = %s", (ann_premise,)).fetchone()[0]
    assert state == "connected"
    assert notices(conn, ann) == ["reminder", "final_notice", "disconnect_eligible", "disconnect_scheduled",
                                  "disconnected", "payment_received", "reconnect_ordered", "reconnected"]
    assert "disconnect_scheduled" not in notices(conn, ben)
    history = run(capsys, "orders", "show", order_id)["history"]
    assert [(h["status"], h["actor"]) for h in history] == [
        ("awaiting_approval", "collections"), ("open", "sup.ray"), ("scheduled", history[2]["actor"]),
        ("completed", history[3]["actor"])]
    rows = trial_balance(conn)
    assert sum(r[1] for r in rows) == sum(r[2] for r in rows) and unbalanced_transactions(conn) == []
    # operators see the same on /metrics
    registry = CollectorRegistry()
    registry.register(OrdersCollector(lambda: psycopg.connect(conn.info.dsn)))
    assert registry.get_sample_value("m2c_service_orders", {"kind": "disconnect", "status": "completed"}) == 1
    assert registry.get_sample_value("m2c_service_orders", {"kind": "reconnect", "status": "completed"}) == 1
    assert registry.get_sample_value("m2c_disconnects_awaiting_approval") == 0


def test_a_start_at_a_disconnected_service_point_orders_its_connection(town, capsys):
    conn, _ = town
    account, premise = customer(capsys, "Cy Dale", "20 Oak Ave", "SO-E3")
    run(capsys, "service", "stop", "--account", account, "--premise", str(premise), "--service", "electric",
        "--on", "2026-09-10", "--why", "moved away")
    cut = run(capsys, "orders", "create", "--kind", "disconnect", "--premise", str(premise), "--why", "vacant")
    assert cut["status"] == "open"
    run(capsys, "orders", "complete", str(cut["id"]), "--why", "vacant premise made safe")
    newcomer = run(capsys, "accounts", "open", "--name", "Di Eve", "--cycle", CYCLE)["account_no"]
    started = run(capsys, "service", "start", "--account", newcomer, "--premise", str(premise), "--service",
                  "electric", "--tariff", "E-FLAT", "--on", "2026-09-20", "--waive-deposit", "test", "--why", "moving in")
    assert started["connect_needed"] and started["connect_order_id"]
    order = run(capsys, "orders", "show", str(started["connect_order_id"]))
    assert (order["kind"], order["status"], order["account_no"], order["source"]) == \
        ("connect", "open", newcomer, "lifecycle")
    # one connect order in progress at a time
    assert "order_refused" in refused(capsys, "orders", "create", "--kind", "connect", "--premise", str(premise),
                                      "--why", "again")
    run(capsys, "orders", "complete", str(order["id"]), "--why", "connected")
    assert "connected" in notices(conn, newcomer)
    listed = run(capsys, "orders", "list", "--account", newcomer)
    assert listed["total"] == 1 and listed["orders"][0]["point_state"] == "connected"


def test_a_disputed_bill_is_held_from_collections_while_its_case_is_open(town, capsys, tmp_path):
    conn, settings = town
    entities = load_entities()
    eve, _ = customer(capsys, "Eve Fox", "30 Elm St", "SO-E4")
    BatchProcessor(settings, conn, cache=None).process(
        [block("SO-E4", d, np.full(24, 2000)) for d in days(date(2026, 9, 1), date(2026, 10, 1))])
    run_bill_run(conn, find_period(conn, CYCLE), current_tariffs(conn), entities=entities,
                 clock=lambda: noon(date(2026, 10, 1)))
    deliver_pending(conn, entities, DeliveryConfig(tmp_path, "127.0.0.1", 1), noon(date(2026, 10, 2)))
    bill_id = run(capsys, "account", "show", eve)["bills"][0]["id"]
    run(capsys, "contacts", "log", "--account", eve, "--channel", "phone", "--reason", "high_bill",
        "--notes", "says September cannot be 1,440 kWh", "--by", "clerk.kim")
    case = run(capsys, "cases", "open", "--account", eve, "--kind", "billing_dispute", "--summary",
               "disputes the September bill", "--bill", str(bill_id), "--owner", "clerk.kim", "--channel", "phone")
    assert (case["status"], case["links"], case["owner"]) == ("open", [{"kind": "bill", "id": bill_id}], "clerk.kim")
    # a bill of another account is not the case's to link
    assert "bad_case" in refused(capsys, "cases", "update", str(case["id"]), "--bill", "999999", "--why", "link it")

    held = run_collections(conn, entities, date(2026, 10, 29), noon(date(2026, 10, 29)))
    assert (held.late_fees, held.held_by_dispute) == (0, 1)
    run(capsys, "cases", "update", str(case["id"]), "--set-status", "in_progress", "--why", "meter test ordered")
    closed = run(capsys, "cases", "close", str(case["id"]), "--resolution",
                 "meter tested accurate; the bill stands")
    assert closed["status"] == "closed" and closed["resolution"] == "meter tested accurate; the bill stands"
    assert "case_closed" in refused(capsys, "cases", "update", str(case["id"]), "--why", "too late")
    # closed: collections take their course, and the customer was told by their channel
    after = run_collections(conn, entities, date(2026, 10, 30), noon(date(2026, 10, 30)))
    assert (after.late_fees, after.held_by_dispute) == (1, 0)
    assert notices(conn, eve)[-2:] == ["case_closed", "reminder"]
    contacts = run(capsys, "contacts", "list", "--account", eve)["contacts"]
    assert [(c["reason"], c["case_id"]) for c in contacts] == [("dispute", case["id"]), ("high_bill", None)]
    history = run(capsys, "cases", "show", str(case["id"]))["history"]
    assert [h["change"] for h in history] == ["opened", "linked", "changed", "closed"]
    assert run(capsys, "cases", "list", "--account", eve)["total"] == 0  # not closed ones by default


def test_a_notice_turned_off_is_recorded_not_sent_and_required_ones_always_go(town, capsys, tmp_path):
    from cis.errors import BadDelivery, NoEmailForDelivery
    from cis.preferences import BadPreference, change
    from cis import notices

    conn, _ = town
    gil, _ = customer(capsys, "Gil Hart", "40 Elm St", "SO-E5")
    with pytest.raises(BadPreference):  # a final notice cannot be turned off
        change(conn, gil, "gil", "self-service", notices_off=["final_notice"])
    with pytest.raises(NoEmailForDelivery):
        change(conn, gil, "gil", "self-service", delivery="email")
    with pytest.raises(BadDelivery):
        change(conn, gil, "gil", "self-service", paperless=True)
    after, changed = change(conn, gil, "gil", "self-service", notices_off=["reminder", "case_closed"])
    assert after.opted_out == ("case_closed", "reminder") and set(changed) == {"notices_off"}
    assert change(conn, gil, "gil", "self-service", notices_off=["case_closed", "reminder"])[1] == {}  # no change
    account_id = conn.execute("select id from accounts where account_no = %s", (gil,)).fetchone()[0]
    values = {"bill_id": 1, "due_on": date(2026, 9, 20), "open_minor": 4200, "fee_minor": 500, "phone": "555-0100",
              "past_due_minor": 4200, "disconnect_after_days": 10}
    notices.send(conn, account_id, "reminder", values)
    notices.send(conn, account_id, "final_notice", values)
    summary = deliver_pending(conn, load_entities(), DeliveryConfig(tmp_path, "127.0.0.1", 1), noon(date(2026, 10, 2)))
    assert summary.suppressed == 1
    sent = conn.execute("select n.kind, d.status, d.detail from deliveries d join notices n on n.id = d.notice_id "
                        "where d.account_id = %s order by n.id", (account_id,)).fetchall()
    assert [(k, s) for k, s, _ in sent] == [("preferences_changed", "sent"), ("reminder", "suppressed"),
                                            ("final_notice", "sent")]
    assert sent[1][2] == "the customer turned off reminder notices"
    assert deliver_pending(conn, load_entities(), DeliveryConfig(tmp_path, "127.0.0.1", 1),
                           noon(date(2026, 10, 3))).suppressed == 0  # handled once


def test_autopay_pays_each_bill_on_its_due_day_once_and_tells_the_customer_when_declined(town, capsys, tmp_path):
    from billing.autopay import enroll, run_autopay
    from portal.gateway import TestGateway

    conn, settings = town
    entities = load_entities()
    hal, _ = customer(capsys, "Hal Ives", "50 Elm St", "SO-E6")
    ivy, _ = customer(capsys, "Ivy Judd", "52 Elm St", "SO-E7")
    ids = {n: conn.execute("select id from accounts where account_no = %s", (n,)).fetchone()[0] for n in (hal, ivy)}
    enroll(conn, ids[hal], hal, "tok_approved", "hal", "self-service")
    enroll(conn, ids[ivy], ivy, "tok_declined", "ivy", "self-service")
    BatchProcessor(settings, conn, cache=None).process(
        [block(m, d, np.full(24, 2000)) for m in ("SO-E6", "SO-E7") for d in days(date(2026, 9, 1), date(2026, 10, 1))])
    run_bill_run(conn, find_period(conn, CYCLE), current_tariffs(conn), entities=entities,
                 clock=lambda: noon(date(2026, 10, 1)))
    deliver_pending(conn, entities, DeliveryConfig(tmp_path, "127.0.0.1", 1), noon(date(2026, 10, 2)))
    # nothing before the due day (23 October)
    assert run_autopay(conn, TestGateway(), entities, date(2026, 10, 22), noon(date(2026, 10, 22))).bills == 0
    paid = run_autopay(conn, TestGateway(), entities, date(2026, 10, 23), noon(date(2026, 10, 23)))
    assert (paid.bills, paid.approved, paid.approved_minor, paid.declined, paid.declined_accounts) == \
        (2, 1, 15400, 1, [ivy])
    assert run(capsys, "account", "show", hal)["balance_minor"] == 0
    assert run(capsys, "account", "show", ivy)["balance_minor"] == 15400
    assert notices(conn, ivy)[-1] == "autopay_failed"
    channel = conn.execute("select channel, method from payments where account_id = %s", (ids[hal],)).fetchone()
    assert channel == ("autopay", "card")
    # a rerun charges nobody again
    again = run(capsys, "autopay", "run", "--date", "2026-10-24")
    assert (again["bills"], again["approved"], again["declined"]) == (0, 0, 0)
    # autopay off: recorded and confirmed
    assert enroll(conn, ids[hal], hal, None, "hal", "self-service") is False
    said = conn.execute("select subject from notices where account_id = %s and kind = 'autopay_changed' order by id",
                        (ids[hal],)).fetchall()
    assert [s for s, in said] == ["Autopay is on", "Autopay is off"]


def test_a_customer_s_stop_waits_for_staff_and_a_move_goes_at_once_where_the_entity_allows(town, capsys):
    from cis.service_requests import ask

    conn, _ = town
    today = date(2026, 9, 10)
    jo, jo_premise = customer(capsys, "Jo Kim", "60 Elm St", "SO-E8")
    # the default entity: staff confirm a stop
    asked = ask(conn, jo, "stop", "electric", date(2026, 9, 20), "jo", today=today)
    assert asked["done"] is None
    case = run(capsys, "cases", "show", str(asked["case_id"]))
    assert (case["kind"], case["status"], case["summary"]) == ("move_request", "open",
                                                              "stop electric at 60 Elm St from 2026-09-20")
    assert conn.execute("select end_date from service_agreements where premise_id = %s",
                        (jo_premise,)).fetchone()[0] is None
    done = run(capsys, "cases", "confirm", str(asked["case_id"]), "--why", "checked the account", "--by", "clerk.kim")
    assert done["done"]["last_day"] == "2026-09-19"
    closed = run(capsys, "cases", "show", str(asked["case_id"]))
    assert closed["status"] == "closed" and closed["resolution"].startswith("service stopped: your last day served")
    assert "request_refused" in refused(capsys, "cases", "confirm", str(asked["case_id"]), "--why", "again")
    # an entity that allows it: the move is the lifecycle's transfer at once, the new address a premise
    kai = run(capsys, "accounts", "open", "--name", "Kai Moss", "--cycle", CYCLE, "--entity", "north")["account_no"]
    premise = run(capsys, "premises", "add", "--address", "70 Elm St", "--zone", ZONE)["premise_id"]
    run(capsys, "meters", "install", "SO-E9", "--premise", str(premise), "--service", "electric", "--unit", "Wh",
        "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00")
    run(capsys, "service", "start", "--account", kai, "--premise", str(premise), "--service", "electric",
        "--tariff", "E-FLAT", "--on", "2026-09-01", "--waive-deposit", "test", "--why", "moving in")
    moved = ask(conn, kai, "move", "electric", date(2026, 9, 15), "kai", today=today, to_address="  9  Birch   Way ",
                zone=ZONE, at_once=True)
    assert moved["done"]["agreement_id"] and moved["request"]["to_address"] == "9 Birch Way"
    rows = conn.execute("select p.address, sa.start_date::text, coalesce(sa.end_date::text, '') from service_agreements sa "
                        "join premises p on p.id = sa.premise_id join accounts a on a.id = sa.account_id "
                        "where a.account_no = %s order by sa.id", (kai,)).fetchall()
    assert rows == [("70 Elm St", "2026-09-01", "2026-09-15"), ("9 Birch Way", "2026-09-15", "")]
    with pytest.raises(Exception) as past:
        ask(conn, kai, "stop", "electric", date(2026, 9, 1), "kai", today=today)
    assert getattr(past.value, "code", "") == "bad_date"


def test_a_customer_asks_to_start_service_at_another_address_as_well(town, capsys):
    from cis.service_requests import ask

    conn, _ = town
    today = date(2026, 9, 10)
    lea, lea_premise = customer(capsys, "Lea Voss", "90 Elm St", "SO-E10")
    asked = ask(conn, lea, "start", "electric", date(2026, 9, 20), "lea", today=today, to_address="5 Lake Rd",
                zone=ZONE)
    assert asked["done"] is None and asked["request"]["tariff"] == "E-FLAT"  # the account's own tariff
    assert run(capsys, "cases", "show", str(asked["case_id"]))["summary"] == "start electric at 5 Lake Rd on 2026-09-20"
    done = run(capsys, "cases", "confirm", str(asked["case_id"]), "--why", "second home", "--by", "clerk.kim")["done"]
    assert done["tariff"] == "E-FLAT" and done["deposit"]["status"] == "none"  # the deposit rule was asked
    rows = conn.execute("select p.address, sa.start_date::text, sa.end_date from service_agreements sa "
                        "join premises p on p.id = sa.premise_id join accounts a on a.id = sa.account_id "
                        "where a.account_no = %s order by sa.id", (lea,)).fetchall()
    assert rows == [("90 Elm St", "2026-09-01", None), ("5 Lake Rd", "2026-09-20", None)]  # nothing stopped
    # an account that never had the service: even where the entity allows it at once, staff pick the tariff
    max_ = run(capsys, "accounts", "open", "--name", "Max Ng", "--cycle", CYCLE, "--entity", "north")["account_no"]
    waiting = ask(conn, max_, "start", "electric", date(2026, 9, 12), "max", today=today, to_address="7 Lake Rd",
                  zone=ZONE, at_once=True)
    assert waiting["done"] is None and waiting["request"]["tariff"] is None
    assert "request_refused" in refused(capsys, "cases", "confirm", str(waiting["case_id"]), "--why", "ok")
    started = run(capsys, "cases", "confirm", str(waiting["case_id"]), "--why", "ok", "--tariff", "E-FLAT")["done"]
    assert started["agreement_id"] and started["tariff"] == "E-FLAT"
    with pytest.raises(Exception) as no_address:
        ask(conn, max_, "start", "electric", date(2026, 9, 12), "max", today=today)
    assert getattr(no_address.value, "code", "") == "request_refused"
