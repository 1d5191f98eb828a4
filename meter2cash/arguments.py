"""Argument types that turn a mistyped value into the parser's one-line error (exit 2)."""
from __future__ import annotations

import argparse
from datetime import date

from config.errors import M2CError


def day(text: str) -> str:
    """A day as YYYY-MM-DD; kept as the text it was given (the commands parse it where they use it)."""
    try:
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None
    return text


class UsageError(M2CError):
    """A command given something it cannot use: said in one line with ``code`` (exit 2) by ``m2c``."""

    code = "bad_usage"

    def __init__(self, code: str, message: str):
        super().__init__(message, code=code)
