"""Customer records: every account belongs to a customer (existing ones converted, new ones opened by
staff), premises are added by staff, and each action is recorded with who and why."""
import json
from datetime import date

import psycopg
import pytest

from meter2cash.cli import main
from simulators.utility import make_utility
from storage.bulk_load import load_directory

pytestmark = pytest.mark.integration


@pytest.fixture
def records(settings, monkeypatch):
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    utility = make_utility(meters=4, seed=2, zone=settings.utility_zone, period_start=date(2026, 11, 1),
                           period_end=date(2026, 12, 1))
    load_directory(conn, utility)
    yield conn, utility
    conn.close()


def run(capsys, *argv) -> tuple[int, dict | str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in argv else (out if code == 0 else err))


def test_every_account_has_a_customer_of_its_own_name(records):
    conn, utility = records
    rows = conn.execute("select a.account_no, a.customer_name, c.name, c.kind from accounts a "
                        "join customers c on c.id = a.customer_id order by a.account_no").fetchall()
    assert [r[0] for r in rows] == sorted(a.account_no for a in utility.accounts)
    assert all(r[1] == r[2] and r[3] == "person" for r in rows)
    assert len({r[0] for r in rows}) == conn.execute("select count(distinct customer_id) from accounts").fetchone()[0]


def test_staff_open_accounts_for_new_and_existing_customers(records, capsys):
    conn, utility = records
    code, opened = run(capsys, "accounts", "open", "--name", "Ada Lovelace", "--cycle", utility.cycle_code,
                       "--email", "ada@example.org", "--delivery", "email", "--paperless", "--by", "clerk.kim",
                       "--why", "moving in at 12 Elm St", "--json")
    assert code == 0, opened
    assert opened["account_no"].startswith("M") and opened["paperless"] is True
    row = conn.execute("select a.customer_name, a.email, a.delivery_channel, a.paperless, c.code, cu.name, cu.created_by "
                       "from accounts a join billing_cycles c on c.id = a.billing_cycle_id "
                       "join customers cu on cu.id = a.customer_id where a.account_no = %s",
                       (opened["account_no"],)).fetchone()
    assert row == ("Ada Lovelace", "ada@example.org", "email", True, utility.cycle_code, "Ada Lovelace", "clerk.kim")
    kind, details, actor, reason = conn.execute(
        "select kind, details, actor, reason from cis_events where subject = %s", (opened["account_no"],)).fetchone()
    assert (kind, actor, reason) == ("account_opened", "clerk.kim", "moving in at 12 Elm St")
    assert details["new_customer"] is True and details["customer_id"] == opened["customer_id"]

    code, second = run(capsys, "accounts", "open", "--customer", str(opened["customer_id"]), "--cycle",
                       utility.cycle_code, "--json")
    assert code == 0 and second["customer_id"] == opened["customer_id"]
    assert second["account_no"] != opened["account_no"]
    assert conn.execute("select email from accounts where account_no = %s",
                        (second["account_no"],)).fetchone()[0] == "ada@example.org"  # the customer's, kept


@pytest.mark.parametrize("argv, code", [
    (["--name", "Bo", "--cycle", "NO-SUCH"], "unknown_cycle"),
    (["--name", "Bo", "--cycle", "{cycle}", "--delivery", "email"], "email_required"),
    (["--name", "Bo", "--cycle", "{cycle}", "--email", "not-an-address"], "bad_email"),
    (["--name", "Bo", "--cycle", "{cycle}", "--paperless"], "bad_delivery"),
    (["--cycle", "{cycle}"], "name_required"),
    (["--customer", "999999", "--cycle", "{cycle}"], "unknown_customer"),
    (["--name", "  ", "--cycle", "{cycle}"], "bad_name"),
])
def test_a_refused_account_is_one_line_with_its_code_and_nothing_is_written(records, capsys, argv, code):
    conn, utility = records
    before = conn.execute("select count(*) from accounts").fetchone()[0], \
        conn.execute("select count(*) from customers").fetchone()[0]
    status, said = run(capsys, "accounts", "open", *[a.replace("{cycle}", utility.cycle_code) for a in argv])
    assert status == 2 and said.startswith(f"error: {code}: ") and said.count("\n") == 1, said
    assert (conn.execute("select count(*) from accounts").fetchone()[0],
            conn.execute("select count(*) from customers").fetchone()[0]) == before


def test_staff_add_premises(records, capsys):
    conn, _ = records
    code, added = run(capsys, "premises", "add", "--address", "12  Elm   St, Springfield", "--zone", "America/Denver",
                      "--why", "new subdivision", "--json")
    assert code == 0
    assert conn.execute("select address, zone from premises where id = %s", (added["premise_id"],)).fetchone() == \
        ("12 Elm St, Springfield", "America/Denver")
    assert conn.execute("select kind, reason from cis_events where subject = %s",
                        (f"premise:{added['premise_id']}",)).fetchone() == ("premise_added", "new subdivision")
    code, said = run(capsys, "premises", "add", "--address", "1 Main St", "--zone", "Mars/Olympus")
    assert code == 2 and said.startswith("error: bad_zone: ")
    code, said = run(capsys, "premises", "add", "--address", "   ")
    assert code == 2 and said.startswith("error: bad_address: ")
