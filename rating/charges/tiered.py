"""Tiered (block) pricing of the period's quantity: inclining or declining blocks.

Each tier prices the quantity between the previous tier's boundary and its own; the last tier has no
boundary and prices the rest. Boundaries are per billing period (scaled for partial periods) and are
either fixed (``up_to``) or a percentage of a water budget (``up_to_budget_percent``), the budget
being the sum of allocations from customer attributes (household size, lot area, ...). The quantity
priced is the usage, or for sewer the winter average (``basis = "winter_average"``, capped at usage).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rating.charges.base import COMMON_KEYS, Line, Usage, no_unknown_keys
from rating.errors import MissingAttribute, NeedsHistory
from rating.usage import Share

BASES = ("usage", "winter_average")


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # None: unbounded last tier
    price: Decimal
    budget_percent: bool = False  # up_to is a percentage of the budget


@dataclass(frozen=True)
class Allocation:
    """Budget part: attribute value x per_unit (x days billed when per_day)."""

    attribute: str
    per_unit: Decimal
    per_day: bool


def read_tiers(reader, raw_tiers, path: str) -> tuple["Tier", ...] | None:
    """Tiers from ``[{up_to = "..", price = ".."}, ..., {price = ".."}]``; shared with TOU tiers."""
    if not isinstance(raw_tiers, list) or not raw_tiers:
        reader.problem(path, "missing", "at least one tier is required")
        return None
    tiers: list[Tier] = []
    ok = True
    previous = Decimal(0)
    for index, raw in enumerate(raw_tiers):
        tier_path = f"{path}[{index}]."
        if not isinstance(raw, dict):
            reader.problem(tier_path.rstrip("."), "not_a_table", "each tier is {up_to = \"...\", price = \"...\"}")
            ok = False
            continue
        last = index == len(raw_tiers) - 1
        price = reader.decimal(raw, "price", tier_path, minimum=None)
        budget = "up_to_budget_percent" in raw
        key = "up_to_budget_percent" if budget else "up_to"
        up_to = reader.decimal(raw, key, tier_path, required=not last)
        no_unknown_keys(reader, raw, tier_path, {"up_to", "up_to_budget_percent", "price"})
        if last and up_to is not None:
            reader.problem(f"{tier_path}{key}", "bounded_last_tier", "the last tier prices the rest: leave out up_to")
            ok = False
        if up_to is not None and up_to <= previous:
            reader.problem(f"{tier_path}{key}", "tiers_not_increasing",
                           f"{up_to} is not above the previous boundary {previous}")
            ok = False
        if price is None or (up_to is None and not last):
            ok = False
            continue
        if up_to is not None:
            previous = up_to
        tiers.append(Tier(up_to, price, budget))
    if ok and len({t.budget_percent for t in tiers if t.up_to is not None}) > 1:
        reader.problem(path, "mixed_boundaries", "use up_to or up_to_budget_percent, not both")
        ok = False
    return tuple(tiers) if ok else None


def price_tiers(code: str, description: str, tiers: tuple[Tier, ...], quantity: Decimal, scale: Share,
                budget: Decimal | None, billing_unit: str) -> list[Line]:
    """Lines for ``quantity`` through ``tiers``; boundaries scaled by ``scale`` (the segment's share of
    the period), budget boundaries as a percentage of ``budget``."""
    lines = []
    lower = Decimal(0)
    remaining = quantity
    for number, tier in enumerate(tiers, start=1):
        upper = None
        if tier.up_to is not None:
            upper = budget * tier.up_to / 100 if tier.budget_percent else scale.of(tier.up_to)
        width = remaining if upper is None else min(remaining, upper - lower)
        width = max(width, Decimal(0))
        if width > 0 or number == 1:
            lines.append(Line(f"{code}.tier{number}", f"{description} (tier {number})", width, billing_unit,
                              tier.price, width * tier.price))
        remaining -= width
        if upper is not None:
            lower = upper
        if remaining <= 0:
            break
    return lines


@dataclass(frozen=True)
class TieredCharge:
    code: str
    description: str
    tiers: tuple[Tier, ...]
    basis: str = "usage"
    budget: tuple[Allocation, ...] = ()

    @classmethod
    def from_table(cls, reader, table: dict, path: str) -> "TieredCharge | None":
        code = reader.text(table, "code", path)
        description = reader.text(table, "description", path, required=False) or code
        no_unknown_keys(reader, table, path, COMMON_KEYS | {"tiers", "basis", "budget"})
        basis = table.get("basis", "usage")
        if basis not in BASES:
            reader.problem(f"{path}basis", "unknown_basis", f"basis is one of {', '.join(BASES)}")
        tiers = read_tiers(reader, table.get("tiers"), f"{path}tiers")
        budget = []
        for index, raw in enumerate(table.get("budget", [])):
            part_path = f"{path}budget[{index}]."
            if not isinstance(raw, dict):
                reader.problem(part_path.rstrip("."), "not_a_table", "{attribute, per_unit, per_day}")
                continue
            attribute = reader.text(raw, "attribute", part_path)
            per_unit = reader.decimal(raw, "per_unit", part_path)
            no_unknown_keys(reader, raw, part_path, {"attribute", "per_unit", "per_day"})
            if attribute and per_unit is not None:
                budget.append(Allocation(attribute, per_unit, bool(raw.get("per_day", False))))
        if tiers and any(t.budget_percent for t in tiers) and not budget:
            reader.problem(f"{path}budget", "missing", "budget-percent tiers need a budget")
            return None
        if code is None or tiers is None or basis not in BASES:
            return None
        return cls(code, description, tiers, basis, tuple(budget))

    def price(self, usage: Usage, billing_unit: str, earlier: list[Line]) -> list[Line]:
        quantity = usage.quantity
        if self.basis == "winter_average":
            if usage.history.winter_average is None:
                raise NeedsHistory(f"charge {self.code} is billed on the winter average, which is not known")
            quantity = min(quantity, usage.tier_share.of(usage.history.winter_average))
        return price_tiers(self.code, self.description, self.tiers, quantity, usage.tier_share,
                           self._budget(usage), billing_unit)

    def _budget(self, usage: Usage) -> Decimal | None:
        if not self.budget:
            return None
        total = Decimal(0)
        for part in self.budget:
            value = usage.attributes.get(part.attribute)
            try:
                amount = Decimal(value)
            except (TypeError, ArithmeticError):
                raise MissingAttribute(f"charge {self.code} needs a number for {part.attribute}, got {value!r}") \
                    from None
            total += amount * part.per_unit * usage.days_billed if part.per_day else usage.tier_share.of(amount * part.per_unit)
        return total
