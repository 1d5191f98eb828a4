"""Tariffs in the staff workspace's API, besides validate, diff and publish (``portal.staff_api``): the
list with each tariff's versions and effective dates, one tariff with its text, its charges and
time-of-use calendar by version and its revisions with who and why, a URDB or OWRS file converted to a
TOML draft, and a proposed tariff's impact on the stored usage (``billing.rate_impact``)."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, File, Path, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from portal.auth import Principal
from portal.deps import staff
from portal.problems import Problem

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
CODE = Path(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
CONVERT_LIMIT = 2 * 1024 * 1024
MAX_IMPACT_DAYS = 92


def _version(version) -> dict:
    calendar = version.calendar
    return {"effective_from": version.effective_from.isoformat(), "therms_per_ccf": str(version.therms_per_ccf)
            if version.therms_per_ccf is not None else None,
            "charges": [{"code": getattr(rule.charge, "code", ""), "kind": type(rule.charge).__name__,
                         "months": sorted(rule.months) if rule.months else None,
                         "only_for": {k: list(v) for k, v in rule.only_for}} for rule in version.rules],
            "tou": None if calendar is None else {"periods": list(calendar.periods),
                                                  "weekday": calendar.weekday.tolist(),
                                                  "weekend": calendar.weekend.tolist(),
                                                  "holidays": sorted(d.isoformat() for d in calendar.holidays)}}


@router.get("/tariffs")
def list_tariffs(request: Request, who: Principal = Depends(staff("clerk"))) -> dict:
    from storage.tariffs import tariff_summaries

    with request.app.state.pool.connection() as conn:
        published = request.app.state.tariffs(conn)
        summaries = tariff_summaries(conn)
    return {"total": len(summaries), "tariffs": [
        {"code": code, "service": service, "revisions": count, "revision": latest, "published_at": at.isoformat(),
         "name": published[code].tariff.name if code in published else code,
         "versions": [v.effective_from.isoformat() for v in published[code].tariff.versions]
         if code in published else []} for code, service, count, latest, at in summaries]}


@router.get("/tariffs/{code}")
def show_tariff(request: Request, code: str = CODE, who: Principal = Depends(staff("clerk"))) -> dict:
    from rating.tariff import parse_tariff
    from storage.tariffs import revisions, tariff_document

    with request.app.state.pool.connection() as conn:
        row = tariff_document(conn, code)
        if row is None:
            raise Problem(404, "no_such_tariff", f"no published tariff {code}")
        history = revisions(conn, code)
    tariff = parse_tariff(row[1], f"tariff_revisions/{row[0]}")
    today = date.today()
    in_force = max((v for v in tariff.versions if v.effective_from <= today), key=lambda v: v.effective_from,
                   default=None)
    return {"code": code, "name": tariff.name, "service": tariff.service, "currency": tariff.currency,
            "billing_unit": tariff.billing_unit, "revision": row[0], "document": row[1],
            "in_force": in_force.effective_from.isoformat() if in_force else None,
            "versions": [_version(v) for v in tariff.versions],
            "revisions": [{"revision": r, "published_at": at.isoformat(), "by": by, "why": why}
                          for r, at, by, why in history]}


@router.post("/tariffs/convert")
async def convert(request: Request, file: UploadFile = File(description="a URDB JSON or OWRS YAML tariff"),
                  who: Principal = Depends(staff("clerk"))) -> dict:
    """A published tariff format converted to this project's TOML: a draft to edit, validate and publish."""
    from rating.errors import TariffInvalid
    from rating.importers import detect_format, document_from_text
    from rating.tariff import tariff_from_document
    from rating.toml_out import dumps

    data = await file.read(CONVERT_LIMIT + 1)
    if len(data) > CONVERT_LIMIT:
        raise Problem(413, "file_too_large", "a tariff file is at most 2 MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "not_text", "a tariff file is UTF-8 text") from None
    name = (file.filename or "upload")[:200]
    fmt = detect_format(text, name)
    try:
        document = document_from_text(text, name, fmt)
        tariff_from_document(document, name)
        draft = dumps(document)
    except TariffInvalid as error:
        raise Problem(422, "tariff_invalid", f"{len(error.problems)} problem(s) in {name}",
                      problems=[{"path": p.path, "code": p.code, "message": p.message} for p in error.problems]) \
            from None
    except (TypeError, ValueError) as error:
        raise Problem(422, "tariff_invalid", f"{name}: {error}") from None
    return {"file": name, "format": fmt, "document": draft}


class Impact(BaseModel):
    document: str = Field(min_length=10, max_length=200_000, description="the proposed tariff in TOML")
    period_start: date
    period_end: date = Field(description="the first day after the period")
    top: int = Field(10, ge=1, le=100)


@router.post("/tariffs/impact")
async def rate_impact(request: Request, body: Impact, who: Principal = Depends(staff("clerk"))) -> dict:
    """The proposed tariff against the one of its code in force, on the stored usage of every agreement
    on it for the period: revenue, the distribution of bill changes and the largest changes."""
    if not body.period_start < body.period_end or (body.period_end - body.period_start).days > MAX_IMPACT_DAYS:
        raise Problem(422, "bad_range", f"a period of 1 to {MAX_IMPACT_DAYS} days, start before end")
    return await run_in_threadpool(_impact, request, body)


def _impact(request: Request, body: Impact) -> dict:
    from billing.rate_impact import histogram, stored_impact
    from rating.errors import TariffInvalid
    from rating.tariff import parse_tariff

    try:
        proposed = parse_tariff(body.document, "proposed")
    except TariffInvalid as error:
        raise Problem(422, "tariff_invalid", f"{len(error.problems)} problem(s) in the tariff",
                      problems=[{"path": p.path, "code": p.code, "message": p.message} for p in error.problems]) \
            from None
    zone = request.app.state.settings.utility_zone
    with request.app.state.pool.connection() as conn:
        published = request.app.state.tariffs(conn)
        if proposed.code not in published:
            raise Problem(404, "no_such_tariff", f"no published tariff {proposed.code} to compare with")
        report = stored_impact(conn, published[proposed.code].tariff, proposed, body.period_start, body.period_end,
                               zone, top=body.top)
    return {"code": proposed.code, "currency": proposed.currency, "agreements": report.customers,
            "current_revenue_minor": report.current_revenue_minor,
            "proposed_revenue_minor": report.proposed_revenue_minor,
            "revenue_difference_minor": report.revenue_difference_minor,
            "percentiles": report.percentiles, "histogram": histogram(report),
            "largest": [{"agreement": c.key, "current_minor": c.current_minor, "proposed_minor": c.proposed_minor,
                         "difference_minor": c.difference_minor, "percent": c.percent} for c in report.largest],
            "failed": report.failed}
