"""Tiered (block) pricing of the period's quantity: inclining or declining blocks.

Each tier prices the quantity between the previous tier's ``up_to`` and its own; the last tier
has no ``up_to`` and prices the rest. Boundaries are per billing period.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rating.charges.base import Line, Usage
from rating.charges.fixed import _no_unknown_keys


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # None: unbounded last tier
    price: Decimal


@dataclass(frozen=True)
class TieredCharge:
    code: str
    description: str
    tiers: tuple[Tier, ...]

    @classmethod
    def from_table(cls, reader, table: dict, path: str) -> "TieredCharge | None":
        code = reader.text(table, "code", path)
        description = reader.text(table, "description", path, required=False) or code
        _no_unknown_keys(reader, table, path, {"kind", "code", "description", "tiers"})
        raw_tiers = table.get("tiers")
        if not isinstance(raw_tiers, list) or not raw_tiers:
            reader.problem(f"{path}tiers", "missing", "at least one tier is required")
            return None
        tiers: list[Tier] = []
        ok = code is not None
        previous = Decimal(0)
        for index, raw in enumerate(raw_tiers):
            tier_path = f"{path}tiers[{index}]."
            if not isinstance(raw, dict):
                reader.problem(tier_path.rstrip("."), "not_a_table", "each tier is {up_to = \"...\", price = \"...\"}")
                ok = False
                continue
            last = index == len(raw_tiers) - 1
            price = reader.decimal(raw, "price", tier_path, minimum=None)
            up_to = reader.decimal(raw, "up_to", tier_path, required=not last)
            _no_unknown_keys(reader, raw, tier_path, {"up_to", "price"})
            if last and up_to is not None:
                reader.problem(f"{tier_path}up_to", "bounded_last_tier", "the last tier prices the rest: leave out up_to")
                ok = False
            if up_to is not None and up_to <= previous:
                reader.problem(f"{tier_path}up_to", "tiers_not_increasing",
                               f"{up_to} is not above the previous boundary {previous}")
                ok = False
            if price is None or (up_to is None and not last):
                ok = False
                continue
            if up_to is not None:
                previous = up_to
            tiers.append(Tier(up_to, price))
        return cls(code, description, tuple(tiers)) if ok else None

    def price(self, usage: Usage, billing_unit: str) -> list[Line]:
        lines = []
        lower = Decimal(0)
        remaining = usage.quantity
        for number, tier in enumerate(self.tiers, start=1):
            width = remaining if tier.up_to is None else min(remaining, tier.up_to - lower)
            if width > 0 or number == 1:
                width = max(width, Decimal(0))
                lines.append(Line(f"{self.code}.tier{number}", f"{self.description} (tier {number})",
                                  width, billing_unit, tier.price, width * tier.price))
            remaining -= max(width, Decimal(0))
            if tier.up_to is not None:
                lower = tier.up_to
            if remaining <= 0:
                break
        return lines
