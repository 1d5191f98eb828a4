"""Rating's exceptions: one root, codes that a user or an operator can act on."""
from __future__ import annotations

from dataclasses import dataclass

from config.errors import M2CError


class RatingError(M2CError):
    """Root of every error raised by ``rating``."""

    code = "rating_error"


@dataclass(frozen=True)
class Problem:
    path: str  # where in the tariff document, e.g. "versions[0].charges[1].tiers[2].price"
    code: str  # stable machine-readable code, e.g. "not_a_decimal"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.code}: {self.message}"


class TariffInvalid(RatingError):
    """A tariff document with one or more problems; all of them are listed, not only the first."""

    code = "tariff_invalid"

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{listing}")


class NoTariffVersion(RatingError):
    code = "no_tariff_version"


class UnitMismatch(RatingError):
    code = "unit_mismatch"


class MissingAttribute(RatingError):
    """A charge depends on a customer attribute (meter size, class, household size) that is absent."""

    code = "missing_attribute"


class NeedsHistory(RatingError):
    """A charge looks back (demand ratchet, winter average) and the history is not known."""

    code = "needs_history"


class NeedsIntervals(RatingError):
    """A time-of-use or demand charge was asked to price usage known only as a total."""

    code = "needs_interval_data"


class NotWritable(RatingError):
    """A value a tariff file cannot hold (a converted record carrying a float where a number must be exact)."""

    code = "not_writable"
