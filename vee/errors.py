"""VEE's errors: an action on the exception queue that the exception's state refuses."""
from __future__ import annotations

from config.errors import M2CError


class VeeError(M2CError):
    code = "vee_error"


class ExceptionActionRefused(VeeError, ValueError):
    """An exception-queue action refused: unknown action, no who or why, not open, meter not installed,
    a position or value that cannot be."""

    code = "exception_action_refused"
    status = 409
