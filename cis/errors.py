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


class UnknownPremise(CisError):
    code = "unknown_premise"
    status = 404


class UnknownAccount(CisError):
    """No account with that number (the ledger's own refusal is ``unknown_account``)."""

    code = "account_not_found"
    status = 404


class UnknownMeter(CisError):
    code = "unknown_meter"
    status = 404


class UnknownTariff(CisError):
    code = "unknown_tariff"
    status = 404


class BadMeter(CisError):
    """A meter's service, unit, interval or power of ten that cannot be."""

    code = "bad_meter"


class BadService(CisError):
    code = "bad_service"


class MeterInstalled(CisError):
    """The meter is installed already (exchange or remove it first)."""

    code = "meter_installed"
    status = 409


class NotInstalled(CisError):
    code = "meter_not_installed"
    status = 409


class PointOccupied(CisError):
    """Another meter is installed, or another agreement serves, at the service point then."""

    code = "service_point_occupied"
    status = 409


class NoAgreement(CisError):
    code = "no_agreement"
    status = 404


class BadDate(CisError):
    code = "bad_date"


class PointUnitMismatch(CisError):
    """A meter whose unit or power of ten differs from what its service point's meters counted in."""

    code = "point_unit_mismatch"
    status = 409
