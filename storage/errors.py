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

