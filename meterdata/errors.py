"""Meter data's errors: input that is not meter data (a message that does not decode, a head-end file
that does not parse). They are also ``ValueError``s: parsers catch them where a bad row is reported and
the rest of the file read."""
from __future__ import annotations

from config.errors import M2CError


class MeterDataError(M2CError, ValueError):
    code = "meter_data_error"


class FormatError(MeterDataError):
    """A head-end file's field that does not parse (a date, a unit, a number)."""

    code = "bad_format"
