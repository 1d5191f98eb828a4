"""The notice templates: every one parses, says how it may go and whether it is required; an entity's
own template never makes a required notice optional; a missing value is an error, not a blank."""
from importlib import resources
from pathlib import Path

import pytest

from cis import notices

FOLDER = Path(str(resources.files("cis").joinpath("notice_templates")))


def test_every_template_of_every_entity_parses_and_an_override_keeps_the_default_rules():
    defaults = notices.catalogue()
    assert {"bill_ready", "payment_received", "reminder", "final_notice", "disconnect_scheduled", "reconnected",
            "case_closed", "arrangement_broken"} <= set(defaults)
    for folder in FOLDER.iterdir():
        for path in folder.glob("*.toml"):
            own = notices.template(folder.name, path.stem)
            assert path.stem in defaults, f"{path}: no default template for this kind"
            assert own.required >= defaults[path.stem].required, f"{path}: makes a required notice optional"


def test_required_notices_cannot_be_turned_off_and_the_optional_ones_have_titles():
    optional = notices.optional_kinds()
    assert "final_notice" not in optional and "disconnected" not in optional
    assert optional["reminder"] == "payment reminders"
    assert notices.required("final_notice") and not notices.required("reminder")
    assert notices.required("a_kind_without_template")  # never held back for want of a template


def test_a_channel_text_replaces_the_body_and_money_is_in_the_accounts_currency():
    values = {"bill_id": 3, "due_on": "2026-10-23", "open_minor": 15_400, "fee_minor": 500, "phone": "555-0100"}
    subject, letter = notices.render("default", "USD", "reminder", "print", values)
    _, email = notices.render("default", "USD", "reminder", "email", values)
    assert subject == "Reminder: bill 3 is past due"
    assert "154.00 USD is unpaid" in letter and "customer portal" in email and letter != email
    _, yen = notices.render("default", "JPY", "reminder", "print", {**values, "open_minor": 15_400})
    assert "15,400 JPY is unpaid" in yen


def test_a_missing_value_is_an_error_and_an_unknown_kind_has_no_template():
    with pytest.raises(notices.NoticeTemplateError, match="due_on. is undefined"):
        notices.render("default", "USD", "reminder", "print", {"bill_id": 3})
    with pytest.raises(notices.NoticeTemplateError):
        notices.template("default", "no_such_notice")


def test_a_bad_template_file_names_its_problems(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('title = "x"\nchannels = ["fax"]\nsubject = "{{ oops"\nbody = "b"\nsms = "c"\n')
    with pytest.raises(notices.NoticeTemplateError) as error:
        notices._parse(path, "bad")
    text = str(error.value)
    assert "required missing" in text and "unknown 'fax'" in text and "sms: not a channel" in text
