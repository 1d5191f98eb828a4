"""Migration's errors: a legacy extract that cannot be loaded as given."""
from __future__ import annotations

from config.errors import M2CError


class MigrationError(M2CError):
    code = "migration_error"


class ExtractInvalid(MigrationError):
    """An extract with problems; every one of them is listed (``problems``), not only the first."""

    code = "extract_invalid"

    def __init__(self, problems: list):
        super().__init__(f"{len(problems)} problems in the extract")
        self.problems = problems
