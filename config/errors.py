"""The project's root error. Every package's errors derive from it through a small hierarchy of their
own (``rating.errors``, ``billing.errors``, ``meterdata.errors``, ``storage.errors``,
``vee.errors``, ``cis.errors``, ``streams.errors``, ``portal.errors``, ``migration.errors``), each class with a stable ``code`` and
the HTTP ``status`` a client's request that raised it is answered with.

The command line prints any of them as ``error: <code>: <message>`` and exits 2; the portal answers
them as RFC 9457 problem details with that code and status."""
from __future__ import annotations


class M2CError(Exception):
    """Root of every error meter2cash raises on purpose."""

    code = "error"
    status = 422  # a request the server understood and cannot act on, unless a class says otherwise

    def __init__(self, message: str = "", *, code: str | None = None):
        super().__init__(message)
        if code is not None:  # a family of codes under one class (a codec's reasons, say)
            self.code = code


class ReasonRequired(M2CError):
    """A staff or customer change without who made it and why: every package's changes need both."""

    code = "who_and_why"


def require_who_and_why(actor: str | None, reason: str | None, message: str) -> None:
    """Raise ``ReasonRequired(message)`` unless both who and why are given (not blank)."""
    if not (actor or "").strip() or not (reason or "").strip():
        raise ReasonRequired(message)

