"""The billing staff's commands on a billed cycle: account, bills, payments, ledger, collections."""
import json
import re
import psycopg
import pypdf
import pytest

from billing.bill_run import find_period, run_bill_run
from meter2cash.cli import main
from simulators.headend import generate
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from storage.tariffs import current_tariffs
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration


@pytest.fixture
def billed(settings, monkeypatch, tmp_path):
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("M2C_OUTPUT_DIR", str(tmp_path / "out"))
    utility = make_utility(meters=10, seed=8, zone=settings.utility_zone)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    load_directory(conn, utility)
    conn.execute("update accounts set delivery_channel = 'print'")
    BatchProcessor(settings, conn, cache=None).process([RawMessage(m.value) for m in generate(utility, block_hours=24)])
    run_bill_run(conn, find_period(conn, utility.cycle_code), current_tariffs(conn))
    yield conn, utility
    conn.close()


def test_staff_work_a_cycle_from_the_command_line(billed, tmp_path, capsys):
    conn, utility = billed
    account = utility.accounts[0].account_no
    bill_id, due = conn.execute("select b.id, b.total_due_minor from bills b join accounts a on a.id = b.account_id "
                                "where a.account_no = %s", (account,)).fetchone()
    assert main(["bills", "deliver"]) == 0
    assert "delivered:" in capsys.readouterr().out
    pdf = tmp_path / "bill.pdf"
    assert main(["bills", "show", str(bill_id), "--pdf", str(pdf)]) == 0
    assert account in pypdf.PdfReader(pdf).pages[0].extract_text()
    lockbox = tmp_path / "lockbox.csv"
    lockbox.write_text("reference,received_on,account_no,invoice_no,amount,method\n"
                       f"CLI-1,2026-11-25,{account},{bill_id},{due / 100:.2f},check\n"
                       "CLI-2,2026-11-25,NOBODY,,9.99,check\nCLI-3,2026-13-01,X,,1,check\n")
    assert main(["payments", "import", str(lockbox)]) == 1  # a line was rejected
    out = capsys.readouterr().out
    assert "1 applied" in out and "1 to the payment-exception queue" in out and "line 4:" in out
    unmatched = conn.execute("select id from payments where status = 'unmatched'").fetchone()[0]
    assert main(["payments", "match", "--payment", str(unmatched), "--account", account, "--why", "phoned in"]) == 0
    capsys.readouterr()
    assert main(["payments", "refund", "--account", account, "--amount", "10.00", "--why", "too much"]) == 2
    assert re.match(r"error: [a-z_]+: ", capsys.readouterr().err)  # more than the credit: one line, a code
    assert main(["payments", "refund", "--account", account, "--amount", "9.99", "--why", "paid twice"]) == 0
    assert main(["ledger", "adjust", account, "2.50", "--why", "meter test fee"]) == 0
    assert main(["ledger", "adjust", account, "-2.50", "--why", "waived"]) == 0
    assert main(["account", "show", account]) == 0
    assert "balance 0.00 USD" in capsys.readouterr().out
    assert main(["account", "show", account, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    bill = next(b for b in shown["bills"] if b["id"] == bill_id)
    stored = conn.execute("select period_start, period_end, total_minor, kind from bills where id = %s",
                          (bill_id,)).fetchone()
    assert (bill["period_start"], bill["period_end"], bill["charges_minor"], bill["kind"]) == \
        (stored[0].isoformat(), stored[1].isoformat(), stored[2], stored[3])
    assert sum(line["amount_minor"] for line in bill["lines"]) == stored[2] and bill["lines"][0]["code"]
    assert shown["balance_minor"] == 0 and shown["account_no"] == account and shown["customer_id"]
    assert main(["bills", "rebill", str(bill_id), "--why", "meter re-read"]) == 0
    assert "rebill" in capsys.readouterr().out
    assert main(["ledger", "trial-balance"]) == 0
    assert "debits equal credits" in capsys.readouterr().out
    assert main(["collections", "run", "--date", "2027-03-01"]) == 0
    assert main(["bills", "cancel", str(bill_id), "--why", "again"]) == 2  # cancelled already: a mistake
    assert "not_issued" in capsys.readouterr().err
