"""Billing entities and their terms (layout, payment terms, collections, fees), read from TOML.

A file with mistakes raises :class:`PolicyError` listing every one of them with its path.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from billing.errors import PolicyError
from rating.money import MINOR_UNITS, to_minor

SERVICES = ("electric", "water", "gas")


@dataclass(frozen=True)
class Entity:
    code: str
    currency: str
    name: str
    template: str
    remit_to: str
    phone: str
    payment_terms_days: int
    grace_days: int
    late_fee_percent: Decimal
    late_fee_minimum_minor: int
    final_notice_after_days: int
    disconnect_after_days: int
    disconnect_minimum_minor: int
    disconnect_services: tuple[str, ...]
    nsf_fee_minor: int
    allow_estimated_bills: bool
    budget_true_up_periods: int
    # service -> ("fixed", minor units) or ("average_bills", multiple): the deposit starting service needs
    deposits: tuple[tuple[str, str, Decimal], ...] = ()
    deposit_refund_after_months: int = 12  # of on-time payment, then the deposit is credited back
    reconnect_fee_minor: int = 0  # billed when a reconnect order follows a disconnect for non-payment
    winter_moratorium: tuple[str, str] | None = None  # ("12-01", "03-01"): no disconnections from, up to
    # a payment arrangement a customer asks for is granted at once within these; staff decide the rest
    arrangement_max_installments: int = 6
    arrangement_down_payment_percent: Decimal = Decimal(20)  # of the balance, paid when it is granted
    arrangement_every_days: int = 30
    self_service_moves: bool = False  # a customer's stop or move request is carried out at once (else staff confirm)

    def deposit_policy(self, service: str) -> tuple[str, Decimal] | None:
        for name, kind, value in self.deposits:
            if name == service:
                return kind, value
        return None

    def late_fee_minor(self, past_due_minor: int) -> int:
        past_due = Decimal(past_due_minor).scaleb(-MINOR_UNITS[self.currency])
        percent = to_minor(past_due * self.late_fee_percent / 100, self.currency)
        return max(self.late_fee_minimum_minor, percent)


_INTS = ("payment_terms_days", "grace_days", "final_notice_after_days", "disconnect_after_days",
         "budget_true_up_periods")
_MONEY = ("late_fee_minimum", "disconnect_minimum", "nsf_fee")
_TEXT = ("name", "template", "remit_to", "phone")


def parse_entities(text: str, templates: set[str] | None = None) -> dict[str, Entity]:
    errors: list[tuple[str, str, str]] = []
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError([("", "toml_syntax", str(error))]) from None
    sections = document.get("entities")
    if not isinstance(sections, dict) or not sections:
        raise PolicyError([("entities", "missing", "at least one [entities.<code>] table is required")])
    entities = {}
    for code, section in sections.items():
        path = f"entities.{code}"
        if not isinstance(section, dict):
            errors.append((path, "not_a_table", "must be a table"))
            continue
        currency = section.get("currency", "USD")
        if currency not in MINOR_UNITS:
            errors.append((f"{path}.currency", "unknown_currency", f"not a currency billed here: {currency!r}"))
            currency = "USD"
        values: dict = {"code": code, "currency": currency}
        for key in _TEXT:
            value = section.get(key)
            if not isinstance(value, str) or not value.strip():
                errors.append((f"{path}.{key}", "required_text", "must be a non-empty string"))
            values[key] = value
        for key in _INTS:
            value = section.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "budget_true_up_periods" else 0):
                errors.append((f"{path}.{key}", "bad_integer", f"must be a whole number of days/bills, got {value!r}"))
            values[key] = value
        for key in (*_MONEY, "late_fee_percent"):
            value = section.get(key)
            amount = _decimal_text(value)
            if amount is None:
                errors.append((f"{path}.{key}", "bad_amount", f"must be a non-negative decimal string, got {value!r}"))
                amount = Decimal(0)
            elif key != "late_fee_percent" and amount != round(amount, MINOR_UNITS[currency]):
                errors.append((f"{path}.{key}", "bad_amount", f"more decimals than the currency has: {value!r}"))
            if key == "late_fee_percent":
                values[key] = amount
            else:
                values[f"{key}_minor"] = to_minor(amount, currency)
        services = section.get("disconnect_services", [])
        if not isinstance(services, list) or any(s not in SERVICES for s in services):
            errors.append((f"{path}.disconnect_services", "bad_service", f"services must be among {SERVICES}"))
            services = []
        values["disconnect_services"] = tuple(services)
        allow = section.get("allow_estimated_bills", True)
        if not isinstance(allow, bool):
            errors.append((f"{path}.allow_estimated_bills", "bad_boolean", "must be true or false"))
        values["allow_estimated_bills"] = bool(allow)
        if templates is not None and isinstance(values["template"], str) and values["template"] not in templates:
            errors.append((f"{path}.template", "unknown_template", f"no template {values['template']!r}"))
        values.update(_deposits(section.get("deposit", {}), f"{path}.deposit", currency, errors))
        values.update(_orders(section, path, currency, errors))
        known = set(_TEXT) | set(_INTS) | set(_MONEY) | {"currency", "late_fee_percent", "disconnect_services",
                                                         "allow_estimated_bills", "deposit", "reconnect_fee",
                                                         "winter_moratorium", "arrangement_max_installments",
                                                         "arrangement_down_payment_percent", "arrangement_every_days",
                                                         "self_service_moves"}
        for key in sorted(set(section) - known):
            errors.append((f"{path}.{key}", "unknown_key", "not a setting of a billing entity"))
        if not any(e[0].startswith(path + ".") or e[0] == path for e in errors):
            entities[code] = Entity(**values)
    if errors:
        raise PolicyError(errors)
    return entities


def _deposits(section, path: str, currency: str, errors: list) -> dict:
    """``[entities.X.deposit]``: per service a fixed amount ("150.00") or a multiple of the premise's
    average bill ("2x"), and ``refund_after_months``."""
    if not isinstance(section, dict):
        errors.append((path, "not_a_table", "must be a table"))
        return {}
    policies, months = [], section.get("refund_after_months", 12)
    if not isinstance(months, int) or isinstance(months, bool) or months < 1:
        errors.append((f"{path}.refund_after_months", "bad_integer", f"must be a whole number of months, got {months!r}"))
    for service, text in section.items():
        if service == "refund_after_months":
            continue
        if service not in SERVICES:
            errors.append((f"{path}.{service}", "bad_service", f"services must be among {SERVICES}"))
            continue
        try:
            if isinstance(text, str) and text.endswith("x"):
                multiple = Decimal(text[:-1])
                if not multiple.is_finite() or multiple <= 0:
                    raise InvalidOperation
                policies.append((service, "average_bills", multiple))
            elif isinstance(text, str):
                amount = Decimal(text)
                if not amount.is_finite() or amount < 0 or amount != round(amount, MINOR_UNITS[currency]):
                    raise InvalidOperation
                policies.append((service, "fixed", Decimal(to_minor(amount, currency))))
            else:
                raise InvalidOperation
        except InvalidOperation:
            errors.append((f"{path}.{service}", "bad_deposit",
                           f'a fixed amount ("150.00") or a multiple of the average bill ("2x"), got {text!r}'))
    return {"deposits": tuple(policies), "deposit_refund_after_months": months if isinstance(months, int) else 12}


def _orders(section: dict, path: str, currency: str, errors: list) -> dict:
    """``reconnect_fee`` ("35.00", default none), ``winter_moratorium`` (["12-01", "03-01"]: no
    disconnection for non-payment from the first month-day up to the second; default none) and the
    arrangements granted at once: ``arrangement_max_installments`` (6), ``arrangement_down_payment_percent``
    ("20") and ``arrangement_every_days`` (30)."""
    values: dict = {}
    fee = section.get("reconnect_fee", "0")
    amount = _decimal_text(fee)
    if amount is None or amount != round(amount, MINOR_UNITS[currency]):
        errors.append((f"{path}.reconnect_fee", "bad_amount", f"must be a non-negative decimal string, got {fee!r}"))
    else:
        values["reconnect_fee_minor"] = to_minor(amount, currency)
    for key, low, high in (("arrangement_max_installments", 1, 36), ("arrangement_every_days", 7, 92)):
        value = section.get(key, getattr(Entity, key))
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            errors.append((f"{path}.{key}", "bad_integer", f"a whole number from {low} to {high}, got {value!r}"))
        else:
            values[key] = value
    percent = section.get("arrangement_down_payment_percent", "20")
    share = _decimal_text(percent)
    if share is None or share > 100:
        errors.append((f"{path}.arrangement_down_payment_percent", "bad_amount",
                       f"a percentage from \"0\" to \"100\", got {percent!r}"))
    else:
        values["arrangement_down_payment_percent"] = share
    moves = section.get("self_service_moves", False)
    if not isinstance(moves, bool):
        errors.append((f"{path}.self_service_moves", "bad_boolean", "must be true or false"))
    else:
        values["self_service_moves"] = moves
    moratorium = section.get("winter_moratorium")
    if moratorium is not None:
        if not (isinstance(moratorium, list) and len(moratorium) == 2 and all(_month_day(d) for d in moratorium)
                and moratorium[0] != moratorium[1]):
            errors.append((f"{path}.winter_moratorium", "bad_moratorium",
                           f'two different month-days, from and up to: ["12-01", "03-01"], got {moratorium!r}'))
        else:
            values["winter_moratorium"] = (moratorium[0], moratorium[1])
    return values


def _decimal_text(value) -> Decimal | None:
    """A finite, non-negative decimal written as a string ("35.00"), or None."""
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        return None
    return amount if amount is not None and amount.is_finite() and amount >= 0 else None


def _month_day(text) -> bool:
    from datetime import date

    try:
        date.fromisoformat(f"2024-{text}")  # a leap year: 02-29 is a day
    except (TypeError, ValueError):
        return False
    return isinstance(text, str) and len(text) == 5


def template_names() -> set[str]:
    folder = resources.files("billing").joinpath("templates")
    return {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_")}


def load_entities(path: str | None = None) -> dict[str, Entity]:
    """The file at ``path`` (Settings.billing_entities, from $M2C_BILLING_ENTITIES), else the packaged
    ``billing/entities.toml``."""
    if path:
        text = Path(path).read_text()
    else:
        text = resources.files("billing").joinpath("entities.toml").read_text()
    return parse_entities(text, template_names())


def entity_for(entities: dict[str, Entity], code: str) -> Entity:
    return entities.get(code) or entities["default"]


def configured_entities(settings) -> dict[str, Entity]:
    """The billing entities a deployment's settings name (``M2C_BILLING_ENTITIES``, else the packaged file)."""
    return load_entities(settings.billing_entities or None)
