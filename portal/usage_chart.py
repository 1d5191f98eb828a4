"""The account page's usage chart, laid out for a customer to read: each service's use by day in the
unit its bills speak (kWh, not Wh; gallons; ccf; therms for gas billed in therms), a slot for every day of the period (a day
without reads yet is an empty slot that says so), a y axis with the unit and a x axis with dates, a
value on hover for each day, and the same days of last year as dots where there is data."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Callable

# the meter's unit -> (the customer's unit, factor, decimals shown)
CUSTOMER_UNITS = {"Wh": ("kWh", Decimal("0.001"), 1), "kWh": ("kWh", Decimal(1), 1),
                  "gal": ("gallons", Decimal(1), 0), "ft3": ("ccf", Decimal("0.01"), 2),
                  "CCF": ("ccf", Decimal(1), 2), "therm": ("therms", Decimal(1), 1)}
LEFT, TOP, PLOT_H, STEP, RIGHT, BOTTOM = 56, 22, 140, 14, 12, 24


def in_customer_unit(quantity: str, unit: str) -> tuple[Decimal, str, int]:
    """(the quantity, its unit, decimals to show) as the customer reads it."""
    shown, factor, places = CUSTOMER_UNITS.get(unit, (unit, Decimal(1), 2))
    return Decimal(quantity) * factor, shown, places


def nice_top(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above ``value`` (the y axis' top)."""
    if value <= 0:
        return Decimal(1)
    power = Decimal(10) ** (value.adjusted())
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _shown(value: Decimal, places: int) -> str:
    return f"{value:,.{places}f}"


def _last_year(day: date) -> date | None:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February: last year had none
        return None


def charts(usage: list[dict], last_year: list[dict], first: date, end: date,
           therms_per_ccf: Callable[[str, date], Decimal | None] = lambda service, day: None) -> list[dict]:
    """One chart per service in ``usage`` (the usage API's day rows of [first, end)); ``last_year``: the
    rows of the same days a year before; ``therms_per_ccf``: the heating value in force on a day for a
    service billed in therms (None: not billed in therms), so gas is shown as its bill counts it."""
    days = [first + timedelta(days=n) for n in range((end - first).days)]

    def shown(row: dict) -> tuple[Decimal, str, int]:
        day = date.fromisoformat(row["day"])
        quantity, unit, places = in_customer_unit(row["quantity"], row["unit"])
        heat = therms_per_ccf(row["service"], day) if unit == "ccf" else None
        return (quantity * heat, "therms", 1) if heat is not None else (quantity, unit, places)

    before = {(r["service"], date.fromisoformat(r["day"])): shown(r) for r in last_year}
    services: dict[str, dict[date, tuple[Decimal, str, int]]] = {}
    for row in usage:
        services.setdefault(row["service"], {})[date.fromisoformat(row["day"])] = shown(row)
    return [_chart(service, values, before, days) for service, values in services.items()]


def _chart(service: str, values: dict, before: dict, days: list[date]) -> dict:
    unit, places = next(iter(values.values()))[1:]
    earlier = {day: before.get((service, _last_year(day))) for day in days}
    earlier = {day: v for day, v in earlier.items() if v is not None and v[1] == unit}
    top = nice_top(max([v[0] for v in values.values()] + [v[0] for v in earlier.values()], default=Decimal(0)))
    width = LEFT + len(days) * STEP + RIGHT

    def y(value: Decimal) -> int:
        return TOP + PLOT_H - int(value / top * PLOT_H)

    slots = []
    for n, day in enumerate(days):
        x = LEFT + n * STEP
        value = values.get(day, (None,))[0]
        then = earlier.get(day, (None,))[0]
        said = f"{day:%a %d %b %Y}: " + (f"{_shown(value, places)} {unit}" if value is not None else "no reads yet")
        if then is not None:
            said += f" · last year {_shown(then, places)} {unit}"
        slots.append({"x": x, "w": STEP - 2, "day": day.isoformat(), "title": said,
                      "bar": None if value is None else {"y": y(value), "h": TOP + PLOT_H - y(value)},
                      "dot": None if then is None else {"cx": x + (STEP - 2) / 2, "cy": y(then)}})
    ticks = [{"y": y(top * k / 4), "label": _shown(top * k / 4, places if top < 4 else 0)} for k in range(5)]
    labels = [{"x": LEFT + n * STEP + (STEP - 2) / 2, "text": f"{day:%b} {day.day}"}
              for n, day in enumerate(days) if n % 7 == 0 or n == len(days) - 1 and n % 7 > 3]
    return {"service": service, "unit": unit, "width": width, "height": TOP + PLOT_H + BOTTOM, "left": LEFT,
            "top": TOP, "bottom": TOP + PLOT_H, "right": width - RIGHT, "slots": slots, "ticks": ticks,
            "labels": labels, "has_last_year": bool(earlier),
            "total": _shown(sum((v[0] for v in values.values()), Decimal(0)), places)}
