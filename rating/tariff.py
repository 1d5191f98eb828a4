"""Tariffs as data: a TOML document with effective-dated versions, validated all at once.

The file format is documented in docs/tariffs.md. :func:`parse_tariff` takes the document's text
and returns a :class:`Tariff` or raises :class:`TariffInvalid` listing every problem with its path.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from rating.charges import CHARGE_KINDS, Charge
from rating.errors import NoTariffVersion, Problem, TariffInvalid
from rating.money import MINOR_UNITS

SERVICES = ("electric", "water", "gas")
BILLING_UNITS = {"electric": ("kWh", "Wh"), "water": ("kgal", "gal", "CCF"), "gas": ("therm", "CCF")}


@dataclass(frozen=True)
class TariffVersion:
    tariff_code: str
    effective_from: date
    charges: tuple[Charge, ...]
    therms_per_ccf: Decimal | None = None

    @property
    def label(self) -> str:
        return f"{self.tariff_code}@{self.effective_from.isoformat()}"


@dataclass(frozen=True)
class Tariff:
    code: str
    name: str
    service: str
    currency: str
    billing_unit: str
    versions: tuple[TariffVersion, ...]  # sorted by effective_from

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
    known = {"code", "name", "service", "currency", "billing_unit", "versions", "description"}
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
                  versions=tuple(sorted(versions, key=lambda v: v.effective_from)))


def _read_version(reader: Reader, raw: object, path: str, tariff_code: str,
                  billing_unit: str | None) -> TariffVersion | None:
    if not isinstance(raw, dict):
        reader.problem(path.rstrip("."), "not_a_table", "each version is a table")
        return None
    before = len(reader.problems)
    effective_from = reader.day(raw, "effective_from", path)
    therms_per_ccf = None
    if billing_unit == "therm":
        therms_per_ccf = reader.decimal(raw, "therms_per_ccf", path)
    charges: list[Charge] = []
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
        charge = CHARGE_KINDS[kind].from_table(reader, raw_charge, charge_path)
        if charge is not None:
            if charge.code in codes:
                reader.problem(f"{charge_path}code", "duplicate_charge", f"charge code {charge.code!r} repeats")
            codes.add(charge.code)
            charges.append(charge)
    if len(reader.problems) > before or effective_from is None:
        return None
    return TariffVersion(tariff_code, effective_from, tuple(charges), therms_per_ccf)
