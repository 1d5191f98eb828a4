"""Tariffs as data: a TOML document with effective-dated versions, validated all at once.

The file format is documented in docs/tariffs.md. :func:`parse_tariff` takes the document's text
and returns a :class:`Tariff` or raises :class:`TariffInvalid` listing every problem with its path.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from rating.calendar import TouCalendar, from_rules
from rating.charges import CHARGE_KINDS, Charge
from rating.errors import NoTariffVersion, Problem, TariffInvalid
from rating.money import MINOR_UNITS

SERVICES = ("electric", "water", "gas")
BILLING_UNITS = {"electric": ("kWh", "Wh"), "water": ("kgal", "gal", "CCF"), "gas": ("therm", "CCF")}
NETTING = ("none", "monthly")


@dataclass(frozen=True)
class ChargeRule:
    """A charge and when it applies: customer attributes (``only_for``), months (seasons) and a date
    range (a surcharge switched on and off by date)."""

    charge: Charge
    only_for: tuple[tuple[str, tuple[str, ...]], ...] = ()
    months: frozenset[int] | None = None
    active_from: date | None = None
    active_until: date | None = None  # excluded

    def applies_to(self, attributes: dict[str, str]) -> bool:
        return not self.only_for or all(attributes.get(name) in allowed for name, allowed in self.only_for)

    def active_on(self, day: date) -> bool:
        if self.months is None and self.active_from is None and self.active_until is None:
            return True
        return ((self.months is None or day.month in self.months)
                and (self.active_from is None or day >= self.active_from)
                and (self.active_until is None or day < self.active_until))


@dataclass(frozen=True)
class TariffVersion:
    tariff_code: str
    effective_from: date
    rules: tuple[ChargeRule, ...]
    therms_per_ccf: Decimal | None = None
    calendar: TouCalendar | None = None
    netting: str = "none"

    @property
    def charges(self) -> tuple[Charge, ...]:
        return tuple(rule.charge for rule in self.rules)

    def switch_days(self) -> set[date]:
        """Dates on which some charge starts or stops applying (for splitting a period)."""
        days = set()
        for rule in self.rules:
            days.update(d for d in (rule.active_from, rule.active_until) if d is not None)
        return days

    @property
    def demand_window_s(self) -> int | None:
        """The demand window of this version's demand charges (one for all), None for the data's interval."""
        windows = {getattr(rule.charge, "window_minutes", None) for rule in self.rules
                   if type(rule.charge).__name__ == "DemandCharge"}
        window = next(iter(windows), None)
        return None if window is None else window * 60

    @property
    def needs_intervals(self) -> bool:
        """Time-of-use, demand or export pricing: a total per period is not enough."""
        return self.calendar is not None or any(
            type(rule.charge).__name__ in ("DemandCharge", "ExportCreditCharge") for rule in self.rules)

    @property
    def seasonal(self) -> bool:
        return any(rule.months is not None for rule in self.rules)

    @property
    def label(self) -> str:
        label = self.__dict__.get("_label")
        if label is None:
            label = f"{self.tariff_code}@{self.effective_from.isoformat()}"
            object.__setattr__(self, "_label", label)
        return label


@dataclass(frozen=True)
class Tariff:
    code: str
    name: str
    service: str
    currency: str
    billing_unit: str
    versions: tuple[TariffVersion, ...]  # sorted by effective_from
    proration: str = "days"  # how usage is split where a period is cut: "days" or "consumption"

    @property
    def needs_intervals(self) -> bool:
        found = self.__dict__.get("_needs_intervals")  # immutable: worked out once (a bill run asks per agreement)
        if found is None:
            found = any(version.needs_intervals for version in self.versions)
            object.__setattr__(self, "_needs_intervals", found)
        return found

    def version_on(self, day: date) -> TariffVersion:
        """The version in force on ``day`` (the latest one that took effect on or before it)."""
        chosen = None
        for version in self.versions:
            if version.effective_from <= day:
                chosen = version
        if chosen is None:
            raise NoTariffVersion(f"tariff {self.code} has no version in force on {day.isoformat()}")
        return chosen


class Reader:
    """Collects problems while reading a document, so that all of them are reported together."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def text(self, table: dict, key: str, path: str, required: bool = True) -> str | None:
        if key not in table:
            if required:
                self.problem(f"{path}{key}", "missing", "is required")
            return None
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{path}{key}", "not_text", "must be a non-empty string")
            return None
        return value

    def decimal(self, table: dict, key: str, path: str, required: bool = True,
                minimum: Decimal | None = Decimal(0)) -> Decimal | None:
        if key not in table:
            if required:
                self.problem(f"{path}{key}", "missing", "is required")
            return None
        value = table[key]
        if not isinstance(value, str):
            # prices are written as strings so that no binary float ever touches money
            self.problem(f"{path}{key}", "not_a_decimal_string", f"write it as a string, e.g. \"{value}\"")
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            self.problem(f"{path}{key}", "not_a_decimal", f"{value!r} is not a decimal number")
            return None
        if not number.is_finite():
            self.problem(f"{path}{key}", "not_finite", "must be a finite number")
            return None
        if minimum is not None and number < minimum:
            self.problem(f"{path}{key}", "negative", f"must be at least {minimum}")
            return None
        return number

    def day(self, table: dict, key: str, path: str) -> date | None:
        if key not in table:
            self.problem(f"{path}{key}", "missing", "is required")
            return None
        value = table[key]
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problem(f"{path}{key}", "not_a_date", f"{value!r} is not YYYY-MM-DD")
            return None


def parse_tariff(text: str, source: str = "<tariff>") -> Tariff:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TariffInvalid(source, [Problem("", "not_toml", str(error))]) from None
    return tariff_from_document(document, source)


def tariff_from_document(document: dict, source: str = "<tariff>") -> Tariff:
    reader = Reader()
    code = reader.text(document, "code", "")
    name = reader.text(document, "name", "", required=False) or code or ""
    service = reader.text(document, "service", "")
    if service is not None and service not in SERVICES:
        reader.problem("service", "unknown_service", f"{service!r} is not one of {', '.join(SERVICES)}")
        service = None
    currency = reader.text(document, "currency", "")
    if currency is not None and currency not in MINOR_UNITS:
        reader.problem("currency", "unknown_currency", f"{currency!r} is not one of {', '.join(MINOR_UNITS)}")
    billing_unit = reader.text(document, "billing_unit", "")
    if service and billing_unit and billing_unit not in BILLING_UNITS[service]:
        reader.problem("billing_unit", "unknown_unit",
                       f"{billing_unit!r} is not a {service} unit ({', '.join(BILLING_UNITS[service])})")
    known = {"code", "name", "service", "currency", "billing_unit", "versions", "description", "source", "proration"}
    proration = document.get("proration", "days")
    if proration not in ("days", "consumption"):
        reader.problem("proration", "unknown_proration", "proration is days or consumption")
    for key in document:
        if key not in known:
            reader.problem(key, "unknown_key", "is not part of the tariff format")

    versions: list[TariffVersion] = []
    raw_versions = document.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        reader.problem("versions", "missing", "at least one [[versions]] table is required")
        raw_versions = []
    for index, raw in enumerate(raw_versions):
        version = _read_version(reader, raw, f"versions[{index}].", code or "?", billing_unit)
        if version is not None:
            versions.append(version)
    seen: set[date] = set()
    for index, version in enumerate(versions):
        if version.effective_from in seen:
            reader.problem(f"versions[{index}].effective_from", "duplicate_version",
                           f"two versions take effect on {version.effective_from.isoformat()}")
        seen.add(version.effective_from)
    if reader.problems:
        raise TariffInvalid(source, reader.problems)
    return Tariff(code=code, name=name, service=service, currency=currency, billing_unit=billing_unit,
                  versions=tuple(sorted(versions, key=lambda v: v.effective_from)), proration=proration)


def _read_version(reader: Reader, raw: object, path: str, tariff_code: str,
                  billing_unit: str | None) -> TariffVersion | None:
    if not isinstance(raw, dict):
        reader.problem(path.rstrip("."), "not_a_table", "each version is a table")
        return None
    before = len(reader.problems)
    effective_from = reader.day(raw, "effective_from", path)
    for key in raw:
        if key not in {"effective_from", "therms_per_ccf", "charges", "tou", "netting", "note"}:
            reader.problem(f"{path}{key}", "unknown_key", "is not part of a tariff version")
    therms_per_ccf = None
    if billing_unit == "therm":
        therms_per_ccf = reader.decimal(raw, "therms_per_ccf", path)
    netting = raw.get("netting", "none")
    if netting not in NETTING:
        reader.problem(f"{path}netting", "unknown_netting", f"netting is one of {', '.join(NETTING)}")
    calendar = None
    if "tou" in raw:
        if isinstance(raw["tou"], dict):
            calendar = from_rules(reader, raw["tou"], f"{path}tou.")
        else:
            reader.problem(f"{path}tou", "not_a_table", "tou is a table")
    rules: list[ChargeRule] = []
    raw_charges = raw.get("charges")
    if not isinstance(raw_charges, list) or not raw_charges:
        reader.problem(f"{path}charges", "missing", "at least one [[versions.charges]] table is required")
        raw_charges = []
    codes: set[str] = set()
    for index, raw_charge in enumerate(raw_charges):
        charge_path = f"{path}charges[{index}]."
        if not isinstance(raw_charge, dict):
            reader.problem(charge_path.rstrip("."), "not_a_table", "each charge is a table")
            continue
        kind = reader.text(raw_charge, "kind", charge_path)
        if kind is None:
            continue
        if kind not in CHARGE_KINDS:
            reader.problem(f"{charge_path}kind", "unknown_charge_kind",
                           f"{kind!r} is not one of {', '.join(sorted(CHARGE_KINDS))}")
            continue
        charge = CHARGE_KINDS[kind](reader, raw_charge, charge_path)
        rule = _read_rule(reader, raw_charge, charge_path, charge)
        if charge is None or rule is None:
            continue
        if charge.code in codes:
            reader.problem(f"{charge_path}code", "duplicate_charge", f"charge code {charge.code!r} repeats")
        codes.add(charge.code)
        _check_periods(reader, charge, calendar, charge_path)
        rules.append(rule)
    windows = {getattr(rule.charge, "window_minutes", None) for rule in rules
               if type(rule.charge).__name__ == "DemandCharge"}
    if len(windows) > 1:
        reader.problem(f"{path}charges", "mixed_demand_windows", "the demand charges of a version share one window")
    if len(reader.problems) > before or effective_from is None:
        return None
    return TariffVersion(tariff_code, effective_from, tuple(rules), therms_per_ccf, calendar, netting)


def _read_rule(reader: Reader, table: dict, path: str, charge) -> ChargeRule | None:
    only_for = []
    raw_only = table.get("only_for", {})
    if not isinstance(raw_only, dict):
        reader.problem(f"{path}only_for", "not_a_table", "only_for maps attribute names to lists of values")
        return None
    for name, values in raw_only.items():
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            reader.problem(f"{path}only_for.{name}", "not_a_list", "a list of attribute values")
            return None
        only_for.append((name, tuple(values)))
    months = table.get("months")
    if months is not None and (not isinstance(months, list) or not months
                               or not all(isinstance(m, int) and 1 <= m <= 12 for m in months)):
        reader.problem(f"{path}months", "bad_months", "months are numbers 1-12")
        return None
    active_from = reader.day(table, "active_from", path) if "active_from" in table else None
    active_until = reader.day(table, "active_until", path) if "active_until" in table else None
    if active_from and active_until and active_until <= active_from:
        reader.problem(f"{path}active_until", "empty_range", "active_until must be after active_from")
        return None
    if charge is None:
        return None
    return ChargeRule(charge, tuple(only_for), frozenset(months) if months else None, active_from, active_until)


def _check_periods(reader: Reader, charge, calendar: TouCalendar | None, path: str) -> None:
    wanted = list(getattr(charge, "prices", {}) or {}) if hasattr(charge, "periods") else []
    if getattr(charge, "period", None):
        wanted.append(charge.period)
    if not wanted:
        return
    if calendar is None:
        reader.problem(path.rstrip("."), "no_tou_calendar", "time-of-use charges need a [versions.tou] calendar")
        return
    for period in wanted:
        if period not in calendar.periods:
            reader.problem(f"{path}period" if getattr(charge, "period", None) == period else f"{path}prices.{period}",
                           "unknown_period", f"{period!r} is not a period of the version's calendar")
