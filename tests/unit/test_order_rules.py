"""Service orders' pure rules: who is never ordered for disconnection and why, the entity's terms for
it, and the running estimate after a disconnection."""
from datetime import date
from decimal import Decimal
from importlib import resources

import pytest

from billing.entities import load_entities, parse_entities, template_names
from billing.errors import PolicyError
from cis.orders import ACTIONS, disconnect_withheld
from rating.pricing import estimate
from rating.tariff import parse_tariff
from tests.unit.test_rating import ELECTRIC


@pytest.mark.parametrize("today, withheld", [
    (date(2026, 11, 30), None),
    (date(2026, 12, 1), "winter_moratorium"),
    (date(2027, 1, 15), "winter_moratorium"),
    (date(2027, 2, 28), "winter_moratorium"),
    (date(2027, 3, 1), None),  # up to, not through
    (date(2027, 7, 4), None),
])
def test_a_winter_moratorium_across_the_new_year(today, withheld):
    found = disconnect_withheld(None, ("12-01", "03-01"), today)
    assert (found and found[0]) == withheld


def test_a_moratorium_inside_one_year_and_a_medical_need_to_its_day():
    assert disconnect_withheld(None, ("06-15", "09-15"), date(2026, 7, 1))[0] == "winter_moratorium"
    assert disconnect_withheld(None, ("06-15", "09-15"), date(2026, 9, 15)) is None
    assert disconnect_withheld(date(2026, 12, 31), None, date(2026, 12, 31)) == (
        "medical_need", "a medical need is certified until 2026-12-31")
    assert disconnect_withheld(date(2026, 12, 31), None, date(2027, 1, 1)) is None
    # the medical need is said first: it outlasts a moratorium
    assert disconnect_withheld(date(2027, 6, 1), ("12-01", "03-01"), date(2026, 12, 5))[0] == "medical_need"


def test_every_action_leads_from_a_status_in_progress():
    for action, (before, after) in ACTIONS.items():
        assert after not in ("awaiting_approval",) and before, action
    assert ACTIONS["approve"] == (("awaiting_approval",), "open")
    assert "completed" not in ACTIONS["cancel"][0]


def test_reconnect_fee_and_moratorium_of_an_entity_and_their_errors():
    default = load_entities()["default"]
    assert (default.reconnect_fee_minor, default.winter_moratorium) == (3500, ("12-01", "03-01"))
    text = resources.files("billing").joinpath("entities.toml").read_text()
    bad = text.replace('reconnect_fee = "35.00"', 'reconnect_fee = "35.001"').replace(
        'winter_moratorium = ["12-01", "03-01"]', 'winter_moratorium = ["12-01", "02-30"]')
    with pytest.raises(PolicyError) as caught:
        parse_entities(bad, template_names())
    assert {(p, c) for p, c, _ in caught.value.errors} == {
        ("entities.default.reconnect_fee", "bad_amount"), ("entities.default.winter_moratorium", "bad_moratorium")}


def test_after_a_disconnection_the_estimate_projects_no_more_use():
    tariff = parse_tariff(ELECTRIC)
    start, end = date(2026, 3, 1), date(2026, 3, 31)
    running = estimate(tariff, start, end, Decimal(100), days_elapsed=10, zone="America/Chicago")
    cut = estimate(tariff, start, end, Decimal(100), days_elapsed=10, zone="America/Chicago", use_ends=date(2026, 3, 11))
    # 300 kWh projected while connected; the 100 kWh used so far once disconnected, the customer charge whole
    assert running.projected.total_minor == 1000 + 1000 + 200 * 20
    assert cut.projected.total_minor == 1000 + 1000
    assert cut.bill_to_date.total_minor == running.bill_to_date.total_minor


def test_an_arrangement_within_the_entity_s_rules_is_granted_and_what_stops_the_rest():
    from billing.arrangement_requests import decide, minimum_down

    entity = load_entities()["default"]  # at most 6 installments, 20% down
    assert minimum_down(10_001, entity) == 2_001  # rounded up to the cent
    assert decide(10_000, 3, 2_000, entity, False, False).granted
    for args, rule in (((10_000, 7, 2_000, entity, False, False), "too_many_installments"),
                       ((10_000, 3, 1_999, entity, False, False), "down_payment_too_small"),
                       ((10_000, 3, 2_000, entity, True, False), "arrangement_exists"),
                       ((10_000, 3, 2_000, entity, False, True), "broken_recently"),
                       ((10_000, 3, 10_000, entity, False, False), "nothing_to_arrange"),
                       ((0, 3, 0, entity, False, False), "nothing_owed")):
        decision = decide(*args)
        assert (decision.granted, decision.rule) == (False, rule), args
    text = resources.files("billing").joinpath("entities.toml").read_text()
    bad = text.replace("arrangement_max_installments = 6", "arrangement_max_installments = 0").replace(
        'arrangement_down_payment_percent = "20"', 'arrangement_down_payment_percent = "120"')
    with pytest.raises(PolicyError) as caught:
        parse_entities(bad, template_names())
    assert {(p, c) for p, c, _ in caught.value.errors} == {
        ("entities.default.arrangement_max_installments", "bad_integer"),
        ("entities.default.arrangement_down_payment_percent", "bad_amount")}
