"""Real-world rate formats to the project's tariff document: OpenEI's Utility Rate Database (URDB)
JSON for electric, the Open Water Rate Specification (OWRS) YAML for water.

Each importer takes the file's text and returns the document (the dictionary a TOML tariff file
reads as) or raises :class:`TariffInvalid` listing everything it cannot convert, with paths.
:func:`load_tariff` picks the format and returns a validated :class:`Tariff`.
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from rating.errors import Problem, TariffInvalid
from rating.tariff import Tariff, parse_tariff, tariff_from_document

FORMATS = ("toml", "urdb", "owrs")


def detect_format(text: str, source: str) -> str:
    lowered = source.lower()
    if lowered.endswith(".toml"):
        return "toml"
    if lowered.endswith(".json") or text.lstrip().startswith(("{", '"')):
        return "urdb"
    if lowered.endswith((".owrs", ".yaml", ".yml")) or "rate_structure:" in text:
        return "owrs"
    return "toml"


def document_from_text(text: str, source: str, fmt: str | None = None) -> dict:
    fmt = fmt or detect_format(text, source)
    if fmt == "urdb":
        return urdb_document(text, source)
    if fmt == "owrs":
        return owrs_document(text, source)
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TariffInvalid(source, [Problem("", "not_toml", str(error))]) from None


def load_tariff(text: str, source: str, fmt: str | None = None) -> Tariff:
    fmt = fmt or detect_format(text, source)
    if fmt == "toml":
        return parse_tariff(text, source)
    return tariff_from_document(document_from_text(text, source, fmt), source)


def _money(value) -> str:
    """A number from a JSON/YAML file as the decimal string it was written as (no float arithmetic)."""
    return format(Decimal(str(value)).normalize(), "f")


# ------------------------------------------------------------------ URDB
def urdb_document(text: str, source: str) -> dict:
    problems: list[Problem] = []
    try:
        data = json.loads(text)
        if isinstance(data, str):  # some exports encode the JSON twice
            data = json.loads(data)
    except json.JSONDecodeError as error:
        raise TariffInvalid(source, [Problem("", "not_json", str(error))]) from None
    item = data["items"][0] if isinstance(data, dict) and isinstance(data.get("items"), list) and data["items"] else data
    if not isinstance(item, dict):
        raise TariffInvalid(source, [Problem("", "not_urdb", "expected a rate object or {items: [rate]}")])
    label = str(item.get("label") or "rate")
    start = item.get("startdate")
    effective = (datetime.fromtimestamp(start, timezone.utc).date() if isinstance(start, (int, float))
                 else date(2000, 1, 1))
    charges: list[dict] = []
    version: dict = {"effective_from": effective.isoformat(), "charges": charges}
    fixed, units = item.get("fixedchargefirstmeter"), item.get("fixedchargeunits", "$/month")
    if fixed:
        if units != "$/month":
            problems.append(Problem("fixedchargeunits", "unsupported", f"{units!r}: only $/month is supported"))
        else:
            charges.append({"kind": "fixed", "code": "customer_charge", "description": "Customer charge",
                            "amount": _money(fixed)})
    structure = item.get("energyratestructure") or []
    weekday, weekend = item.get("energyweekdayschedule"), item.get("energyweekendschedule")
    if structure:
        _urdb_energy(structure, weekday, weekend, version, charges, problems)
    if item.get("demandratestructure"):
        problems.append(Problem("demandratestructure", "unsupported",
                                "time-of-use demand with its own schedule is not converted yet"))
    flat = item.get("flatdemandstructure")
    if flat:
        months = item.get("flatdemandmonths") or [0] * 12
        for number, tiers in enumerate(flat):
            in_months = [m + 1 for m, tier_index in enumerate(months) if tier_index == number]
            if len(tiers) != 1:
                problems.append(Problem(f"flatdemandstructure[{number}]", "unsupported", "tiered demand"))
                continue
            if in_months:
                charges.append({"kind": "demand", "code": f"demand_{number}", "description": "Demand charge",
                                "price": _money(Decimal(str(tiers[0].get("rate", 0))) + Decimal(str(tiers[0].get("adj", 0)))),
                                "months": in_months})
    if item.get("minmonthlycharge"):
        charges.append({"kind": "minimum", "code": "minimum_bill", "description": "Minimum bill",
                        "amount": _money(item["minmonthlycharge"])})
    if problems:
        raise TariffInvalid(source, problems)
    return {"code": f"URDB-{label[:12]}", "name": str(item.get("name", label))[:200], "service": "electric",
            "currency": "USD", "billing_unit": "kWh", "source": str(item.get("uri", "OpenEI URDB")),
            "versions": [version]}


def _urdb_energy(structure, weekday, weekend, version: dict, charges: list, problems: list) -> None:
    names = [f"period_{n}" for n in range(len(structure))]

    def tiers_of(tiers: list, key: str) -> list[dict] | str:
        if len(tiers) == 1:
            return _money(tiers[0].get(key, 0))
        out = []
        for index, tier in enumerate(tiers):
            entry = {"price": _money(tier.get(key, 0))}
            if index < len(tiers) - 1:
                if tier.get("max") is None:
                    problems.append(Problem(f"energyratestructure tier {index}", "missing", "max of a tier"))
                entry = {"up_to": _money(tier.get("max", 0)), **entry}
            out.append(entry)
        return out

    for path, matrix in (("energyweekdayschedule", weekday), ("energyweekendschedule", weekend)):
        if not (isinstance(matrix, list) and len(matrix) == 12 and all(isinstance(r, list) and len(r) == 24
                                                                       for r in matrix)):
            problems.append(Problem(path, "bad_matrix", "12 x 24 period numbers are required"))
            return
    has_adjustments = any(tier.get("adj") for tiers in structure for tier in tiers)
    if len(structure) == 1:
        charges.append({"kind": "tiered", "code": "energy", "description": "Energy",
                        "tiers": _as_tiers(tiers_of(structure[0], "rate"))})
        if has_adjustments:
            charges.append({"kind": "tiered", "code": "energy_adjustments", "description": "Energy adjustments",
                            "tiers": _as_tiers(tiers_of(structure[0], "adj"))})
        return
    version["tou"] = {"periods": names, "weekday": weekday, "weekend": weekend}
    charges.append({"kind": "tou_energy", "code": "energy", "description": "Energy",
                    "prices": {name: tiers_of(tiers, "rate") for name, tiers in zip(names, structure)}})
    if has_adjustments:
        charges.append({"kind": "tou_energy", "code": "energy_adjustments", "description": "Energy adjustments",
                        "prices": {name: tiers_of(tiers, "adj") for name, tiers in zip(names, structure)}})


def _as_tiers(value) -> list[dict]:
    return [{"price": value}] if isinstance(value, str) else value


# ------------------------------------------------------------------ OWRS
_OWRS_UNITS = {"ccf": "CCF", "kgal": "kgal", "gal": "gal"}


def owrs_document(text: str, source: str) -> dict:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise TariffInvalid(source, [Problem("", "not_yaml", str(error)[:300])]) from None
    problems: list[Problem] = []
    if not isinstance(data, dict) or not isinstance(data.get("rate_structure"), dict):
        raise TariffInvalid(source, [Problem("rate_structure", "missing", "an OWRS file has a rate_structure")])
    metadata = data.get("metadata") or {}
    effective = _owrs_date(metadata.get("effective_date"), problems)
    unit = _OWRS_UNITS.get(str(metadata.get("bill_unit", "ccf")).lower())
    if unit is None:
        problems.append(Problem("metadata.bill_unit", "unsupported", f"{metadata.get('bill_unit')!r}"))
    charges: list[dict] = []
    for customer_class, block in data["rate_structure"].items():
        path = f"rate_structure.{customer_class}"
        if not isinstance(block, dict):
            problems.append(Problem(path, "not_a_table", "a customer class maps charge names to values"))
            continue
        charges.extend(_owrs_class(str(customer_class), block, path, problems))
    if problems:
        raise TariffInvalid(source, problems)
    name = str(metadata.get("utility_name", "water utility")).strip()
    code = "OWRS-" + re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")[:30]
    return {"code": code, "name": f"{name} water rates", "service": "water", "currency": "USD",
            "billing_unit": unit or "CCF", "source": "Open Water Rate Specification",
            "versions": [{"effective_from": (effective or date(2000, 1, 1)).isoformat(), "charges": charges}]}


def _owrs_date(value, problems: list) -> date | None:
    if isinstance(value, date):
        return value
    for pattern in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(str(value), pattern).date()
        except ValueError:
            continue
    problems.append(Problem("metadata.effective_date", "not_a_date", f"{value!r}"))
    return None


def _owrs_number(value, path: str, problems: list) -> str | None:
    try:
        return _money(value)
    except (InvalidOperation, ValueError, TypeError):
        problems.append(Problem(path, "not_a_number", f"{value!r}"))
        return None


def _owrs_class(customer_class: str, block: dict, path: str, problems: list) -> list[dict]:
    prefix = re.sub(r"[^a-z0-9]+", "_", customer_class.lower()).strip("_")
    only_for = {"customer_class": [customer_class]}
    charges = []
    service = block.get("service_charge")
    if isinstance(service, dict):
        depends = service.get("depends_on") or []
        if depends != ["meter_size"]:
            problems.append(Problem(f"{path}.service_charge.depends_on", "unsupported", f"{depends!r}"))
        else:
            amounts = {str(k): _owrs_number(v, f"{path}.service_charge.values.{k}", problems)
                       for k, v in (service.get("values") or {}).items()}
            charges.append({"kind": "fixed", "code": f"{prefix}.service_charge", "description": "Service charge",
                            "by_attribute": "meter_size", "amounts": amounts, "only_for": only_for})
    elif service is not None:
        amount = _owrs_number(service, f"{path}.service_charge", problems)
        charges.append({"kind": "fixed", "code": f"{prefix}.service_charge", "description": "Service charge",
                        "amount": amount, "only_for": only_for})
    commodity = block.get("commodity_charge")
    if commodity == "Tiered":
        starts = block.get("tier_starts_commodity") or []
        prices = block.get("tier_prices_commodity") or []
        if len(starts) != len(prices) or not starts:
            problems.append(Problem(f"{path}.tier_starts_commodity", "bad_tiers", "starts and prices differ in length"))
        elif not all(isinstance(s, (int, float)) for s in starts):
            problems.append(Problem(f"{path}.tier_starts_commodity", "unsupported",
                                    "budget-based tier starts (formulas) are not converted yet"))
        else:
            tiers = []
            for index, price in enumerate(prices):
                tier = {"price": _owrs_number(price, f"{path}.tier_prices_commodity[{index}]", problems)}
                if index + 1 < len(starts):
                    tier = {"up_to": _money(starts[index + 1]), **tier}
                tiers.append(tier)
            charges.append({"kind": "tiered", "code": f"{prefix}.commodity", "description": "Water use",
                            "tiers": tiers, "only_for": only_for})
    elif isinstance(commodity, str) and commodity.replace(" ", "").startswith("flat_rate_commodity*"):
        price = _owrs_number(block.get("flat_rate_commodity"), f"{path}.flat_rate_commodity", problems)
        charges.append({"kind": "tiered", "code": f"{prefix}.commodity", "description": "Water use",
                        "tiers": [{"price": price}], "only_for": only_for})
    elif commodity is not None:
        problems.append(Problem(f"{path}.commodity_charge", "unsupported", f"{commodity!r}"))
    for key, kind, description in (("fixed_drought_surcharge", "fixed", "Drought surcharge"),
                                   ("variable_drought_surcharge", "rider", "Drought surcharge"),
                                   ("fixed_wastewater_charge", "fixed", "Wastewater charge"),
                                   ("variable_wastewater_charge", "rider", "Wastewater charge")):
        value = block.get(key)
        if value in (None, 0, "0"):
            continue
        amount = _owrs_number(value, f"{path}.{key}", problems)
        charge = {"kind": kind, "code": f"{prefix}.{key}", "description": description, "only_for": only_for}
        charge["amount" if kind == "fixed" else "per_unit"] = amount
        charges.append(charge)
    return charges
