"""One module per charge concept, each behind the :class:`Charge` interface."""
from __future__ import annotations

from rating.charges.base import Charge, Line, Usage
from rating.charges.fixed import FixedCharge
from rating.charges.tiered import TieredCharge

CHARGE_KINDS: dict[str, type] = {"fixed": FixedCharge, "tiered": TieredCharge}

__all__ = ["CHARGE_KINDS", "Charge", "FixedCharge", "Line", "TieredCharge", "Usage"]
