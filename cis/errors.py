"""The customer records' errors: a change the records refuse."""
from __future__ import annotations

from config.errors import M2CError


class CisError(M2CError):
    code = "cis_error"


class BadName(CisError):
    code = "bad_name"


class BadEmail(CisError):
    code = "bad_email"


class BadDelivery(CisError):
    code = "bad_delivery"


class NoEmailForDelivery(CisError):
    """E-mail delivery (or paperless) asked for an account whose customer has no e-mail address."""

    code = "email_required"


class UnknownCycle(CisError):
    code = "unknown_cycle"
    status = 404


class UnknownCustomer(CisError):
    code = "unknown_customer"
    status = 404


class BadAddress(CisError):
    code = "bad_address"


class BadZone(CisError):
    code = "bad_zone"
