"""The portal's own errors: user administration and requests only the portal takes. Routes let any
project error through; ``portal.problems`` answers it as a problem document with its code and status."""
from __future__ import annotations

from config.errors import M2CError


class PortalError(M2CError):
    code = "portal_error"


class PasswordPolicy(PortalError, ValueError):
    code = "password_policy"


class BadRole(PortalError, ValueError):
    code = "bad_role"


class NoAccounts(PortalError, ValueError):
    code = "no_accounts"


class NoSuchAccount(PortalError, ValueError):
    code = "no_such_account"
    status = 404


class NoSuchUser(PortalError, ValueError):
    code = "no_such_user"
    status = 404


class BadRange(PortalError, ValueError):
    code = "bad_range"


class RequestRefused(PortalError):
    """A form field the request cannot take as given (too short, not one of the choices)."""

    code = "invalid_request"


class RoleRequired(PortalError):
    """A staff page action the signed-in role may not take."""

    code = "role_required"
    status = 403
