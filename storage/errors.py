"""Storage's errors: a stored fact that breaks what the code relies on, or a change the stored state
refuses. (Database outages and their classes are in ``storage.db_errors``.)"""
from __future__ import annotations

from config.errors import M2CError


class StorageError(M2CError):
    code = "storage_error"


class NullHourlySum(StorageError):
    """A day row's hourly sums with a NULL element: written by a defect, never by the merge."""

    code = "null_hourly_sum"
    status = 500


class ExceptionActionRefused(StorageError, ValueError):
    """A VEE exception-queue action the exception's state refuses (not open, meter not installed)."""

    code = "exception_action_refused"
    status = 409
