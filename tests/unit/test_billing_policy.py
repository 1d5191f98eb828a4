"""Billing entities: every mistake in the file reported with its path; fees computed exactly."""
from decimal import Decimal
from importlib import resources

import pytest

from billing.errors import PolicyError
from billing.entities import load_entities, parse_entities, template_names


def test_packaged_entities_load_and_name_existing_templates():
    entities = load_entities()
    assert {"default", "north"} <= set(entities)
    assert {e.template for e in entities.values()} <= template_names()
    default = entities["default"]
    assert default.late_fee_percent == Decimal("1.5")
    # 1.5 % of 1,000.00 is 15.00; of 100.00 it is 1.50, below the 5.00 minimum
    assert default.late_fee_minor(100_000) == 1_500
    assert default.late_fee_minor(10_000) == 500
    assert default.late_fee_minor(33_333) == 500  # 5.00 minimum beats 4.99995
    assert default.late_fee_minor(40_001) == 600  # 6.00015 rounds half-up to 6.00


def test_every_error_is_reported_with_its_path():
    text = '''
[entities.a]
name = ""
template = "nope"
remit_to = "x"
phone = "1"
payment_terms_days = -1
grace_days = 5
late_fee_percent = "abc"
late_fee_minimum = "5.001"
final_notice_after_days = 1
disconnect_after_days = 1
disconnect_minimum = "1"
disconnect_services = ["steam"]
nsf_fee = "20"
budget_true_up_periods = 0
colour = "blue"
'''
    with pytest.raises(PolicyError) as caught:
        parse_entities(text, template_names())
    paths = {path for path, _, _ in caught.value.errors}
    assert paths == {"entities.a.name", "entities.a.template", "entities.a.payment_terms_days",
                     "entities.a.late_fee_percent", "entities.a.late_fee_minimum", "entities.a.disconnect_services",
                     "entities.a.budget_true_up_periods", "entities.a.colour"}


def test_a_file_that_is_not_toml_says_so():
    with pytest.raises(PolicyError) as caught:
        parse_entities("[entities.a\nname=")
    assert caught.value.errors[0][1] == "toml_syntax"


def test_deposit_policies_and_what_they_require():
    from billing.deposits import required

    good = load_entities()["default"]
    assert good.deposit_policy("water") == ("fixed", Decimal(5000))
    assert good.deposit_policy("electric") == ("average_bills", Decimal(2))
    assert good.deposit_policy("gas") is None
    assert required(good.deposit_policy("electric"), 9_137) == (18_274, None)
    assert required(("average_bills", Decimal("1.5")), 1_001) == (1_502, None)  # half up
    assert required(good.deposit_policy("electric"), None)[0] == 0  # no history: none
    assert required(None, 9_137) == (0, "the billing entity asks no deposit for this service")
    text = resources.files("billing").joinpath("entities.toml").read_text()
    bad = text.replace('water = "50.00"', 'water = "50.001"\nsteam = "1x"\ngas = "-2x"').replace(
        "refund_after_months = 12", "refund_after_months = 0")
    with pytest.raises(PolicyError) as caught:
        parse_entities(bad, template_names())
    assert {(p, c) for p, c, _ in caught.value.errors} == {
        ("entities.default.deposit.water", "bad_deposit"), ("entities.default.deposit.steam", "bad_service"),
        ("entities.default.deposit.gas", "bad_deposit"), ("entities.default.deposit.refund_after_months", "bad_integer")}
