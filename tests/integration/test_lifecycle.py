"""Records over time, end to end through the commands: a meter exchange at noon keyed after its reads,
a backdated move-out (a transfer to another premise), a move-in after a vacancy. Amounts are computed
by hand below; every stored read of the period is billed once or raised."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from billing.bill_run import find_period, run_bill_run
from meter2cash.cli import main
from streams.file_import import import_file
from storage.tariffs import current_tariffs, publish
from meterdata.codec import Block, encode_binary
from streams.pipeline import BatchProcessor, RawMessage
from tests.integration.town_fixtures import CYCLE, ZONE, block, days, refused, run
from vee.estimation import LIKE_DAY
from vee.gap_fill import fill_missing_reads

pytestmark = pytest.mark.integration


def test_exchange_move_out_and_move_in_bill_each_day_once(town, capsys):
    conn, settings = town
    elm = run(capsys, "premises", "add", "--address", "12 Elm St", "--zone", ZONE)["premise_id"]
    oak = run(capsys, "premises", "add", "--address", "40 Oak Ave", "--zone", ZONE)["premise_id"]
    ann = run(capsys, "accounts", "open", "--name", "Ann Archer", "--cycle", CYCLE)["account_no"]
    bob = run(capsys, "accounts", "open", "--name", "Bob Baker", "--cycle", CYCLE)["account_no"]
    for meter, premise in (("LX-E1", elm), ("LX-E3", oak)):
        run(capsys, "meters", "install", meter, "--premise", str(premise), "--service", "electric", "--unit", "Wh",
            "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00", "--by", "tech.lee", "--why", "new build")
    started = run(capsys, "service", "start", "--account", ann, "--premise", str(elm), "--service", "electric",
                  "--tariff", "E-FLAT", "--on", "2026-09-01", "--by", "clerk.kim", "--why", "moving in")
    assert started["agreement_id"] > 0
    # the same service point cannot serve two accounts at once
    assert "service_point_occupied" in refused(capsys, "service", "start", "--account", bob, "--premise", str(elm),
                                               "--service", "electric", "--tariff", "E-FLAT", "--on", "2026-09-15")

    # the reads arrive first: LX-E1 reads 1 kWh an hour (and keeps reporting all of 10 September);
    # LX-E2, installed at noon on the 10th, reads 2 kWh an hour; LX-E3 at Oak Ave 0.5 kWh an hour
    processor = BatchProcessor(settings, conn, cache=None)
    september = days(date(2026, 9, 1), date(2026, 10, 1))
    messages = [block("LX-E1", d, np.full(24, 1000)) for d in september if d <= date(2026, 9, 10)]
    messages += [block("LX-E2", date(2026, 9, 10), np.full(12, 2000), first_hour=12)]
    messages += [block("LX-E2", d, np.full(24, 2000)) for d in september if d > date(2026, 9, 10)]
    messages += [block("LX-E3", d, np.full(24, 500)) for d in september]
    processor.process(messages)

    # then the records, late: the exchange keyed days after, Ann's move to Oak Ave backdated, Bob moving in
    exchanged = run(capsys, "meters", "exchange", "LX-E1", "LX-E2", "--at", "2026-09-10T12:00:00-05:00",
                    "--by", "tech.lee", "--why", "failed display")
    assert exchanged["new"]["rolled_up_days"] > 0
    moved = run(capsys, "service", "transfer", "--account", ann, "--premise", str(elm), "--to-premise", str(oak),
                "--service", "electric", "--on", "2026-09-21", "--by", "clerk.kim", "--why", "moved to Oak Ave")
    assert moved["last_day"] == "2026-09-20"
    run(capsys, "service", "start", "--account", bob, "--premise", str(elm), "--service", "electric",
        "--tariff", "E-FLAT", "--on", "2026-09-25", "--by", "clerk.kim", "--why", "moving in")

    period = find_period(conn, CYCLE)
    result = run_bill_run(conn, period, current_tariffs(conn))
    assert result.accounts_billed == 2, result.accounts_held
    finals = run(capsys, "bills", "final")
    assert finals["issued"] == 1 and finals["final_bills"][0]["account_no"] == ann

    # Ann at Elm St, 1-20 September: LX-E1 to noon on the 10th, 9.5 days x 24 kWh = 228 kWh, then LX-E2,
    # 10.5 days x 48 kWh = 504 kWh: 732 kWh at $0.10 = $73.20, and 20/30 of the $10.00 charge = $6.67
    ann_bills = run(capsys, "account", "show", ann)["bills"]
    by_kind = {b["kind"]: b for b in ann_bills}
    assert set(by_kind) == {"regular", "final"}
    final = by_kind["final"]
    assert (final["period_start"], final["period_end"], final["charges_minor"]) == ("2026-09-01", "2026-09-21", 7987)
    # her first bill at Oak Ave, 21-30 September: 10 days x 12 kWh = 120 kWh = $12.00, plus $3.33
    regular = by_kind["regular"]
    assert (regular["period_start"], regular["period_end"], regular["charges_minor"]) == \
        ("2026-09-21", "2026-10-01", 1533)
    # Bob at Elm St, 25-30 September: 6 days x 48 kWh = 288 kWh = $28.80, plus 6/30 of $10.00
    bob_bills = run(capsys, "account", "show", bob)["bills"]
    assert [(b["kind"], b["period_start"], b["charges_minor"]) for b in bob_bills] == \
        [("regular", "2026-09-25", 3080)]

    # not billed, but raised: LX-E1 after its removal; Elm St vacant 21-24 September; Oak Ave before Ann
    raised = dict(conn.execute("select day_rule, count(*) from vee_exceptions where status = 'open' "
                               "and day_rule in ('outside_installation', 'unbilled_consumption') "
                               "group by 1").fetchall())
    assert raised == {"outside_installation": 1, "unbilled_consumption": 4 + 20}
    outside = conn.execute("select values, flags from vee_exceptions where day_rule = 'outside_installation'").fetchone()
    assert sum(1 for f in outside[1] if f) == 12  # the afternoon of the 10th
    # LX-E2's reads came before it was in the directory: held as unknown_meter, stored at its install
    assert exchanged["new"]["held_reads_stored"] == 12 + 20 * 24
    assert conn.execute("select count(*), bool_and(status = 'resolved') from vee_exceptions where meter_no = 'LX-E2' "
                        "and 'unknown_meter' = any(rules)").fetchone() == (21, True)

    # every stored kWh of the period is billed once or raised
    stored = conn.execute("select sum(total) from interval_blocks").fetchone()[0]
    billed = conn.execute("select sum(quantity) from bill_usage u join bills b on b.id = u.bill_id "
                          "where b.status = 'issued'").fetchone()[0]
    raised_wh = conn.execute("select coalesce(sum(v), 0) from vee_exceptions e, unnest(e.values, e.flags) as t(v, f) "
                             "where e.day_rule in ('outside_installation', 'unbilled_consumption') and f <> 0 "
                             "and e.status = 'open'").fetchone()[0]
    assert stored == billed + raised_wh
    # issuing again bills nothing twice
    assert run(capsys, "bills", "final")["issued"] == 0
    assert conn.execute("select count(*) from bills where status = 'issued'").fetchone()[0] == 3
    # who and why of each change
    kinds = [r[0] for r in conn.execute("select kind from cis_events where actor in ('tech.lee', 'clerk.kim') "
                                        "order by id")]
    assert kinds == ["meter_installed", "meter_installed", "service_started", "meter_exchanged",
                     "service_transferred", "service_started"]


WATER = '''currency = "USD"
code = "W-FLAT"
service = "water"
billing_unit = "kgal"
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "5.00"
  [[versions.charges]]
  kind = "tiered"
  code = "water"
  tiers = [{ price = "4.00" }]
'''


def test_a_deposit_is_billed_held_and_applied_to_the_final_bill_with_the_credit_paid_back(town, capsys):
    conn, settings = town
    publish(conn, WATER)
    home = run(capsys, "premises", "add", "--address", "3 Pine Ct", "--zone", ZONE)["premise_id"]
    cora = run(capsys, "accounts", "open", "--name", "Cora Diaz", "--cycle", CYCLE)["account_no"]
    dana = run(capsys, "accounts", "open", "--name", "Dana Eve", "--cycle", CYCLE)["account_no"]
    run(capsys, "meters", "install", "LX-W1", "--premise", str(home), "--service", "water", "--unit", "gal",
        "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00")
    # the default entity asks $50.00 for water service: billed as an open item, held as a liability
    started = run(capsys, "service", "start", "--account", cora, "--premise", str(home), "--service", "water",
                  "--tariff", "W-FLAT", "--on", "2026-09-01", "--by", "clerk.kim", "--why", "moving in")
    assert started["deposit"] == {"status": "held", "amount_minor": 5000, "reason": None}
    shown = run(capsys, "account", "show", cora)
    assert [(i["entry_type"], i["open_minor"]) for i in shown["open_items"]] == [("deposit", 5000)]
    assert conn.execute("select sum(amount_minor) from ledger_entries where ledger_account = 'deposits'"
                        ).fetchone()[0] == -5000
    # she pays $200.00 ahead; 100 gal an hour for 14 days, then she moves out
    assert main(["payments", "post", "--account", cora, "--amount", "200.00", "--reference", "chk-1001"]) == 0
    capsys.readouterr()
    processor = BatchProcessor(settings, conn, cache=None)
    processor.process([block("LX-W1", d, np.full(24, 100)) for d in days(date(2026, 9, 1), date(2026, 9, 15))])
    run(capsys, "service", "stop", "--account", cora, "--premise", str(home), "--service", "water",
        "--on", "2026-09-15", "--why", "moved away")
    final = run(capsys, "bills", "final")["final_bills"]
    # 14 days x 2,400 gal = 33.6 kgal at $4.00 = $134.40, plus 14/30 of $5.00 = $2.33
    assert [(f["account_no"], f["charges_minor"], f["deposit_applied_minor"]) for f in final] == [(cora, 13673, 5000)]
    # paid 200.00 against the deposit and the bill: 200.00 - 50.00 - 136.73 + 50.00 applied = 63.27 paid back
    shown = run(capsys, "account", "show", cora)
    assert (shown["balance_minor"], shown["credit_minor"]) == (0, 0)
    assert [d["status"] for d in shown["deposits"]] == ["applied"]
    refunds = conn.execute("select sum(e.amount_minor) from ledger_entries e join accounts a on a.id = e.account_id "
                           "where a.account_no = %s and e.entry_type = 'refund' and e.ledger_account = 'receivable'",
                           (cora,)).fetchone()[0]
    assert refunds == 20000 - 5000 - 13673 + 5000
    assert conn.execute("select sum(amount_minor) from ledger_entries where ledger_account = 'deposits'"
                        ).fetchone()[0] == 0
    # waived with a reason: recorded, nothing billed
    waived = run(capsys, "service", "start", "--account", dana, "--premise", str(home), "--service", "water",
                 "--tariff", "W-FLAT", "--on", "2026-09-20", "--waive-deposit", "letter of credit from her bank",
                 "--why", "moving in")
    assert waived["deposit"] == {"status": "waived", "amount_minor": 5000, "reason": "letter of credit from her bank"}
    assert run(capsys, "account", "show", dana)["open_items"] == []


def test_a_deposit_is_credited_back_after_a_year_paid_on_time(town, capsys):
    conn, _ = town
    publish(conn, WATER)
    home = run(capsys, "premises", "add", "--address", "8 Ash Ln", "--zone", ZONE)["premise_id"]
    erin = run(capsys, "accounts", "open", "--name", "Erin Fox", "--cycle", CYCLE)["account_no"]
    run(capsys, "meters", "install", "LX-W2", "--premise", str(home), "--service", "water", "--unit", "gal",
        "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00")
    run(capsys, "service", "start", "--account", erin, "--premise", str(home), "--service", "water",
        "--tariff", "W-FLAT", "--on", "2026-09-01", "--why", "moving in")
    assert run(capsys, "deposits", "review")["credited"] == []  # not a year yet
    credited = run(capsys, "deposits", "review", "--date", "2028-01-01")["credited"]
    assert [c["amount_minor"] for c in credited] == [5000]
    shown = run(capsys, "account", "show", erin)
    assert shown["balance_minor"] == 0 and [d["status"] for d in shown["deposits"]] == ["refunded"]
    assert run(capsys, "deposits", "review", "--date", "2028-01-01")["credited"] == []


def test_a_final_bill_waits_for_its_reads_then_estimates_them_after_the_cycles_wait(town, capsys):
    from billing.final_bills import issue_final_bills

    conn, settings = town
    home = run(capsys, "premises", "add", "--address", "2 Elm Ct", "--zone", ZONE)["premise_id"]
    gail = run(capsys, "accounts", "open", "--name", "Gail Hunt", "--cycle", CYCLE)["account_no"]
    run(capsys, "meters", "install", "LX-E9", "--premise", str(home), "--service", "electric", "--unit", "Wh",
        "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00")
    run(capsys, "service", "start", "--account", gail, "--premise", str(home), "--service", "electric",
        "--tariff", "E-FLAT", "--on", "2026-09-01", "--why", "moving in")
    # 1 kWh an hour for 9 days; the 10th, her last, loses its last six hours
    blocks = [block("LX-E9", d, np.full(24, 1000)) for d in days(date(2026, 9, 1), date(2026, 9, 10))]
    BatchProcessor(settings, conn, cache=None).process(blocks + [block("LX-E9", date(2026, 9, 10), np.full(18, 1000))])
    run(capsys, "service", "stop", "--account", gail, "--premise", str(home), "--service", "electric",
        "--on", "2026-09-11", "--why", "moved away")
    tariffs, zone = current_tariffs(conn), ZoneInfo(ZONE)
    waiting = issue_final_bills(conn, tariffs, clock=lambda: datetime(2026, 9, 11, 12, tzinfo=zone))
    assert [(o.status, o.reason) for o in waiting] == [("waiting", "missing_reads:electric:6")]
    # the cycle waits one day for late reads; then VEE estimates the six hours and the bill goes out
    billed = issue_final_bills(conn, tariffs, clock=lambda: datetime(2026, 9, 12, 12, tzinfo=zone))
    assert [o.status for o in billed] == ["billed"]
    estimated, = conn.execute("select estimated from bills where id = %s", (billed[0].bill_id,)).fetchone()
    reads = conn.execute("select read_count from bill_usage where bill_id = %s", (billed[0].bill_id,)).fetchone()[0]
    assert estimated and reads == 10 * 24


def _exchanged_point(conn, capsys, settings, old_days, at: str):
    """Meter PH-A at a new premise from 1 September, its reads of ``old_days`` (hour h reads
    100 x (h + 1) Wh), exchanged for PH-B at ``at``."""
    premise = run(capsys, "premises", "add", "--address", "7 Birch Rd", "--zone", ZONE)["premise_id"]
    run(capsys, "meters", "install", "PH-A", "--premise", str(premise), "--service", "electric", "--unit", "Wh",
        "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00", "--by", "tech.lee", "--why", "new build")
    processor = BatchProcessor(settings, conn, cache=None)
    processor.process([block("PH-A", d, 100 * np.arange(1, 25)) for d in old_days])
    run(capsys, "meters", "exchange", "PH-A", "PH-B", "--at", at, "--by", "tech.lee", "--why", "failed display")
    return processor


def test_a_new_meter_s_gap_is_estimated_from_the_days_of_the_meter_it_replaced(town, capsys):
    conn, settings = town
    # PH-A read every weekday of 1-14 September; PH-B, from midnight on Tuesday the 15th, reads only
    # from noon: its first twelve hours are a gap at the day's edge, longer than linear fill covers
    processor = _exchanged_point(conn, capsys, settings, days(date(2026, 9, 1), date(2026, 9, 15)),
                                 "2026-09-15T00:00:00-05:00")
    processor.process([block("PH-B", date(2026, 9, 15), np.full(12, 5000), first_hour=12)])
    new_meter = conn.execute("select id from meters where meter_no = 'PH-B'").fetchone()[0]

    done = fill_missing_reads(conn, [new_meter], date(2026, 9, 15), date(2026, 9, 16))

    # the like days are PH-A's weekdays at the same service point: hour h estimated as 100 x (h + 1)
    assert done["like_day"] == 12 and done["linear"] == done["flat"] == 0
    values, quality = conn.execute("select values, quality from interval_blocks where meter_id = %s "
                                   "and local_day = '2026-09-15'", (new_meter,)).fetchone()
    assert values == [100 * (h + 1) for h in range(12)] + [5000] * 12
    assert quality == [LIKE_DAY] * 12 + [0] * 12


def test_a_new_meter_s_hour_far_above_the_service_point_s_history_is_raised(town, capsys):
    conn, settings = town
    # PH-A's Tuesdays 1 and 8 September are the like days of PH-B's first Tuesday, the 15th
    processor = _exchanged_point(conn, capsys, settings, days(date(2026, 9, 1), date(2026, 9, 15)),
                                 "2026-09-15T00:00:00-05:00")
    # hour 18: 30 kWh against PH-A's 1.9 kWh (the limit: 4 x 1.9 kWh + a tenth of the 50 kWh hourly limit)
    first_day = 100 * np.arange(1, 25)
    first_day[18] = 30_000
    processor.process([block("PH-B", date(2026, 9, 15), first_day)])
    rules = [r[0] for r in conn.execute(
        "select e.day_rule from vee_exceptions e join meters m on m.id = e.meter_id "
        "where m.meter_no = 'PH-B' and e.day_rule is not null")]
    assert "high_history" in rules


def test_a_hand_read_meter_s_final_read_at_the_stop_bills_the_customer_to_the_gallon(town, capsys, tmp_path):
    conn, settings = town
    publish(conn, WATER)
    home = run(capsys, "premises", "add", "--address", "2 Route Rd", "--zone", ZONE)["premise_id"]
    fay = run(capsys, "accounts", "open", "--name", "Fay Gill", "--cycle", CYCLE)["account_no"]
    run(capsys, "meters", "install", "LX-R1", "--premise", str(home), "--service", "water", "--unit", "gal",
        "--interval-s", "86400", "--at", "2026-09-01T00:00:00-05:00", "--why", "route meter")
    run(capsys, "service", "start", "--account", fay, "--premise", str(home), "--service", "water",
        "--tariff", "W-FLAT", "--on", "2026-09-01", "--waive-deposit", "long-time customer", "--why", "moving in")
    route = tmp_path / "route.csv"
    route.write_text("meter_id,start,value,kind\nLX-R1,2026-09-01 08:30,48210,register\n")
    assert import_file(conn, settings.kafka_bootstrap, settings.topic_raw, "csv", str(route)).registers == 1
    stop = ("service", "stop", "--account", fay, "--premise", str(home), "--service", "water", "--on", "2026-09-15",
            "--why", "moved away")
    # a read below the route's, or not a number, refuses the stop: nothing recorded
    assert "register_backwards" in refused(capsys, *stop, "--final-read", "47000")
    assert "bad_read" in refused(capsys, *stop, "--final-read", "lots")
    assert conn.execute("select count(*) from service_agreements where end_date is not null").fetchone()[0] == 0

    stopped = run(capsys, *stop, "--final-read", "49610")
    # read at midnight starting the 15th: 1,400 gal over the 14 days since the route read, 100 a day
    assert stopped["final_read"] == {"meter": "LX-R1", "at": "2026-09-15T05:00:00+00:00", "unit": "gal",
                                     "value": 49610, "daily_reads": 14, "spread_quantity": 1400}
    event = conn.execute("select details, actor, reason from cis_events where kind = 'service_stopped'").fetchone()
    assert event[0]["final_read"] == stopped["final_read"] and event[2] == "moved away"
    stored = conn.execute("select b.local_day, b.values, b.quality from interval_blocks b join meters m "
                          "on m.id = b.meter_id where m.meter_no = 'LX-R1' order by b.local_day").fetchall()
    assert [(d, v, q) for d, v, q in stored] == [(day, [100], [4]) for day in days(date(2026, 9, 1),
                                                                                   date(2026, 9, 15))]
    assert conn.execute("select count(*) from register_reads").fetchone()[0] == 2
    final = run(capsys, "bills", "final")["final_bills"]
    # 1.4 kgal at $4.00 = $5.60, plus 14/30 of $5.00 = $2.33
    assert [(f["account_no"], f["charges_minor"]) for f in final] == [(fay, 793)]


def test_a_move_out_backdated_past_an_issued_bill_comes_out_as_if_recorded_first(town, capsys):
    conn, settings = town
    people = {}
    for name, address, meter in (("Ann Lee", "1 Late Ln", "LX-L1"), ("Bob Roe", "2 Early Ln", "LX-L2")):
        premise = run(capsys, "premises", "add", "--address", address, "--zone", ZONE)["premise_id"]
        account = run(capsys, "accounts", "open", "--name", name, "--cycle", CYCLE)["account_no"]
        run(capsys, "meters", "install", meter, "--premise", str(premise), "--service", "electric", "--unit", "Wh",
            "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00")
        run(capsys, "service", "start", "--account", account, "--premise", str(premise), "--service", "electric",
            "--tariff", "E-FLAT", "--on", "2026-09-01", "--why", "moving in")
        people[name] = (account, premise)
    # both read 1 kWh an hour all September (the premises stay in use after the move-outs: raised, not billed)
    BatchProcessor(settings, conn, cache=None).process(
        [block(m, d, np.full(24, 1000)) for m in ("LX-L1", "LX-L2") for d in days(date(2026, 9, 1), date(2026, 10, 1))])
    ann, ann_premise = people["Ann Lee"]
    bob, bob_premise = people["Bob Roe"]
    stop = ("service", "stop", "--service", "electric", "--on", "2026-09-21", "--why", "moved out on the 20th")
    run(capsys, *stop, "--account", bob, "--premise", str(bob_premise))  # recorded in time
    result = run_bill_run(conn, find_period(conn, CYCLE), current_tariffs(conn))
    regular = conn.execute("select b.id, b.total_minor from bills b join accounts a on a.id = b.account_id "
                           "where a.account_no = %s and b.kind = 'regular'", (ann,)).fetchone()
    assert result.accounts_billed == 1 and regular[1] == 72_00 + 10_00  # Ann's whole month: 720 kWh
    run(capsys, *stop, "--account", ann, "--premise", str(ann_premise))  # keyed after her bill went out

    finals = {f["account_no"]: f for f in run(capsys, "bills", "final")["final_bills"]}
    assert finals[bob]["status"] == "billed"
    assert finals[ann]["status"] == "waiting"
    assert finals[ann]["reason"].startswith(f"bill {regular[0]} took days to 2026-10-01 after the last day served "
                                            f"(2026-09-20): cancel it")
    assert main(["bills", "rebill", str(regular[0]), "--why", "moved out on the 20th"]) == 0
    assert "nothing else of the account to bill" in capsys.readouterr().out
    finals = {f["account_no"]: f for f in run(capsys, "bills", "final")["final_bills"]}
    # 20 days: 480 kWh at $0.10 and 20/30 of $10.00, for both, however late the move-out was keyed
    assert finals[ann]["status"] == "billed" and finals[ann]["charges_minor"] == 48_00 + 6_67
    bob_final = run(capsys, "account", "show", bob)
    ann_final = run(capsys, "account", "show", ann)
    assert ann_final["balance_minor"] == bob_final["balance_minor"] == 54_67
    assert [b["charges_minor"] for b in ann_final["bills"] if b["kind"] == "final"] == \
        [b["charges_minor"] for b in bob_final["bills"] if b["kind"] == "final"]


def test_a_stop_at_the_end_of_a_billed_period_still_applies_the_deposit(town, capsys):
    conn, settings = town
    publish(conn, WATER)
    home = run(capsys, "premises", "add", "--address", "5 Even Rd", "--zone", ZONE)["premise_id"]
    gus = run(capsys, "accounts", "open", "--name", "Gus Hale", "--cycle", CYCLE)["account_no"]
    run(capsys, "meters", "install", "LX-W9", "--premise", str(home), "--service", "water", "--unit", "gal",
        "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00")
    run(capsys, "service", "start", "--account", gus, "--premise", str(home), "--service", "water",
        "--tariff", "W-FLAT", "--on", "2026-09-01", "--why", "moving in")
    BatchProcessor(settings, conn, cache=None).process(
        [block("LX-W9", d, np.full(24, 10)) for d in days(date(2026, 9, 1), date(2026, 10, 1))])
    assert run_bill_run(conn, find_period(conn, CYCLE), current_tariffs(conn)).accounts_billed == 1
    run(capsys, "service", "stop", "--account", gus, "--premise", str(home), "--service", "water",
        "--on", "2026-10-01", "--why", "moved away")
    final = run(capsys, "bills", "final")["final_bills"]
    # the regular bill took every day served: no final bill, but the $50.00 deposit goes to the account
    assert [(f["status"], f["deposit_applied_minor"]) for f in final] == [("covered", 5000)]
    assert conn.execute("select sum(amount_minor) from ledger_entries where ledger_account = 'deposits'"
                        ).fetchone()[0] == 0
    assert [d["status"] for d in run(capsys, "account", "show", gus)["deposits"]] == ["applied"]


def test_an_exchange_to_a_meter_of_another_interval_bills_both_to_the_interval(town, capsys):
    conn, settings = town
    home = run(capsys, "premises", "add", "--address", "9 Quarter Hour Way", "--zone", ZONE)["premise_id"]
    kay = run(capsys, "accounts", "open", "--name", "Kay Lund", "--cycle", CYCLE)["account_no"]
    run(capsys, "meters", "install", "LX-I1", "--premise", str(home), "--service", "electric", "--unit", "Wh",
        "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00")
    run(capsys, "service", "start", "--account", kay, "--premise", str(home), "--service", "electric",
        "--tariff", "E-FLAT", "--on", "2026-09-01", "--why", "moving in")
    # the new meter reads every 15 minutes; one counting in tens of Wh would mix units at the point
    assert "point_unit_mismatch" in refused(capsys, "meters", "exchange", "LX-I1", "LX-I9", "--at",
                                      "2026-09-16T00:00:00-05:00", "--power-of-ten", "1", "--why", "upgrade")
    run(capsys, "meters", "exchange", "LX-I1", "LX-I2", "--at", "2026-09-16T00:00:00-05:00", "--interval-s", "900",
        "--why", "upgrade to 15-minute data")
    quarter = []
    for d in days(date(2026, 9, 16), date(2026, 10, 1)):
        start = int(datetime.combine(d, datetime.min.time(), ZoneInfo(ZONE)).timestamp())
        values = np.full(96, 250, dtype=np.int64)
        quarter.append(RawMessage(encode_binary(Block("LX-I2", 1, start, 900, values, np.zeros(96, np.uint8)))))
    BatchProcessor(settings, conn, cache=None).process(
        [block("LX-I1", d, np.full(24, 1000)) for d in days(date(2026, 9, 1), date(2026, 9, 16))] + quarter)
    result = run_bill_run(conn, find_period(conn, CYCLE), current_tariffs(conn))
    # 15 days x 24 hourly reads and 15 days x 96 quarter-hour reads: every interval there, nothing held;
    # 720 kWh at $0.10 + $10.00
    assert result.accounts_billed == 1 and not result.accounts_held
    bill = run(capsys, "account", "show", kay)["bills"][0]
    assert bill["charges_minor"] == 72_00 + 10_00
