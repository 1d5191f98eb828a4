"""The customer-record rules that need no database: what an account request must say."""
from cis.accounts import NewAccount, check
from cis.errors import BadZone
from cis.premises import check_zone

import pytest


def test_a_complete_request_has_no_problem():
    assert check(NewAccount(cycle="C01", name="Ada", email="ada@example.org", delivery="email", paperless=True)) == []
    assert check(NewAccount(cycle="C01", customer_id=7)) == []  # an existing customer: no name needed


def test_every_problem_of_a_request_is_listed():
    problems = check(NewAccount(cycle="C01", name=" ", kind="robot", email="nope", delivery="fax"))
    assert [code for code, _ in problems] == ["bad_name", "bad_name", "bad_email", "bad_delivery"]
    assert check(NewAccount(cycle="C01", name="Bo", paperless=True)) == [
        ("bad_delivery", "a paperless account gets its bills by e-mail or in the portal")]


def test_a_premise_zone_is_an_iana_zone():
    check_zone("America/Chicago")
    for wrong in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(BadZone):
            check_zone(wrong)
