"""Money: Decimal in, rounded once per bill line, integer minor units out."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor-unit exponents of the currencies a utility here bills in
MINOR_UNITS = {"USD": 2, "CAD": 2, "EUR": 2, "GBP": 2, "AUD": 2, "NZD": 2, "MXN": 2, "JPY": 0}
ROUNDING = ROUND_HALF_UP  # the documented rounding mode of every bill line


WHOLE = Decimal(1)  # the quantum of a whole minor unit


def round_minor(amount: Decimal, exponent: int) -> int:
    """Round ``amount`` half-up to units of 10^-``exponent`` and return it as an integer."""
    return int(amount.scaleb(exponent).quantize(WHOLE, rounding=ROUNDING))


def to_minor(amount: Decimal, currency: str) -> int:
    """Round ``amount`` half-up to the currency's minor unit and return it as an integer."""
    return round_minor(amount, MINOR_UNITS[currency])


def format_minor(amount_minor: int, currency: str) -> str:
    exponent = MINOR_UNITS[currency]
    return f"{Decimal(amount_minor).scaleb(-exponent):,.{exponent}f}"
