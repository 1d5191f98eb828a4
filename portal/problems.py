"""Every error the portal answers is a problem document (RFC 9457, ``application/problem+json``):
``type``, ``title``, ``status``, ``detail`` and a stable ``code`` a client can act on.

Routes raise :class:`Problem` for what only HTTP knows (a missing session, a role); any project error
(``config.errors.M2CError``: a refused payment, a tariff with problems, an exception not open) goes
through as it is and is answered with its class's ``code`` and ``status``. An ``HTTPException`` raised
without a code (the framework's own 404 and 405, say) gets the code of its status.
"""
from __future__ import annotations

from http import HTTPStatus

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from config.errors import M2CError
from storage.db_errors import first_line

MEDIA_TYPE = "application/problem+json"
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 402: "payment_declined", 403: "forbidden",
                404: "not_found", 405: "method_not_allowed", 409: "conflict", 411: "length_required",
                413: "too_large", 415: "unsupported_media_type", 422: "invalid_request", 429: "too_many_requests",
                500: "server_error", 501: "not_implemented", 503: "unavailable"}


class Problem(HTTPException):
    """An HTTP error with a stable code: ``raise Problem(404, "no_such_bill", "no bill 7")``."""

    def __init__(self, status: int, code: str, detail: str, headers: dict | None = None, **extra):
        super().__init__(status, detail, headers)
        self.code = code
        self.extra = extra


def problem_response(status: int, code: str, detail: str, headers: dict | None = None, **extra) -> JSONResponse:
    body = {"type": f"urn:meter2cash:problem:{code}", "title": HTTPStatus(status).phrase, "status": status,
            "code": code, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def install(app) -> None:
    """Answer every HTTP error and every invalid request as a problem document."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, error: StarletteHTTPException) -> JSONResponse:
        code = getattr(error, "code", None) or STATUS_CODES.get(error.status_code, f"http_{error.status_code}")
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        return problem_response(error.status_code, code, detail, getattr(error, "headers", None),
                                **getattr(error, "extra", {}))

    @app.exception_handler(M2CError)
    async def project_error(_request, error: M2CError) -> JSONResponse:
        return problem_response(error.status, error.code, first_line(error), **error_details(error))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request, error: RequestValidationError) -> JSONResponse:
        errors = [{"path": ".".join(str(p) for p in e.get("loc", ())), "code": e.get("type", "invalid"),
                   "message": e.get("msg", "")} for e in error.errors()]
        first = errors[0] if errors else {"path": "", "message": "invalid request"}
        return problem_response(422, "invalid_request", f"{first['path']}: {first['message']}", errors=errors)


def error_details(error: M2CError) -> dict:
    """Every problem an error lists (a tariff's, a policy file's, an extract's), as ``errors``."""
    listed = getattr(error, "problems", None) or getattr(error, "errors", None)
    if not listed:
        return {}
    rows = []
    for item in listed:
        if isinstance(item, tuple):
            path, code, message = item
        else:
            path, code, message = getattr(item, "path", ""), getattr(item, "code", ""), getattr(item, "message", str(item))
        rows.append({"path": str(path), "code": str(code), "message": str(message)})
    return {"errors": rows}
