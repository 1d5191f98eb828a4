"""Staff pages for tariffs: the list with versions and effective dates, and one tariff as its structure
(charges by version, the time-of-use calendar as a 12 x 24 grid by day type) beside its TOML text,
which staff edit with every problem shown at its path as they type; the diff against the published
revision, the impact on the stored usage before publishing, and the publish itself (a supervisor, with
the effective date and why, after a confirmation); the revisions with who and why. A URDB or OWRS file
uploads into a draft. The data and the actions are the staff API's (``portal.staff_api``,
``portal.tariffs_api``)."""
from __future__ import annotations

from datetime import date
from importlib import resources

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from config.errors import M2CError
from portal import staff_api, tariffs_api
from portal.auth import Principal
from portal.deps import optional_principal
from portal.errors import RequestRefused
from portal.order_pages import _local
from portal.pages import _page, _same_origin, _staff, refusal
from portal.problems import Problem
from storage.db_errors import first_line

router = APIRouter(include_in_schema=False)
COLOURS = ("#2f6db5", "#d9822b", "#3a9d5d", "#9b59b6", "#c0392b", "#7f8c8d")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@router.get("/static/tariff_editor.js", include_in_schema=False)
def editor_script() -> Response:
    """The editor's script, served from this site (the pages' content security policy allows no inline script)."""
    text = resources.files("portal").joinpath("static", "tariff_editor.js").read_text()
    return Response(text, media_type="text/javascript", headers={"Cache-Control": "max-age=300"})


@router.get("/staff/tariffs", response_class=HTMLResponse)
def tariffs_page(request: Request, who: Principal | None = Depends(optional_principal)):
    who = _staff(who)
    found = tariffs_api.list_tariffs(request, who)
    zone = request.app.state.settings.utility_zone
    rows = [{**t, "published_at": _local(t["published_at"], zone)} for t in found["tariffs"]]
    return _page(request, "staff_tariffs.html", who, title="Tariffs", tariffs=rows, total=found["total"])


def _editor(request: Request, who: Principal, code: str | None, document: str, status: int = 200,
            message: str | None = None, error: M2CError | None = None, confirm: dict | None = None,
            diff: str | None = None, impact: dict | None = None, problems: list | None = None,
            form: dict | None = None) -> HTMLResponse:
    shown = None
    if code is not None:
        try:
            shown = tariffs_api.show_tariff(request, code, who)
        except Problem:
            shown = None  # a draft of a tariff not published yet
    zone = request.app.state.settings.utility_zone
    if shown:
        for revision in shown["revisions"]:
            revision["published_at"] = _local(revision["published_at"], zone)
    return _page(request, "staff_tariff.html", who, status, title=f"Tariff {code or 'draft'}", tariff=shown,
                 code=code, document=document, message=message, confirm=confirm, diff=diff, impact=impact,
                 problems=problems or [], colours=COLOURS, months=MONTHS, form=form or {},
                 can_publish=who.at_least("supervisor"),
                 error=None if error is None else {"code": error.code, "message": first_line(error)})


@router.get("/staff/tariffs/{code}", response_class=HTMLResponse)
def tariff_page(request: Request, code: str = Path(pattern=r"^[A-Za-z0-9_.\-]{1,64}$"),
                who: Principal | None = Depends(optional_principal)):
    who = _staff(who)
    shown = tariffs_api.show_tariff(request, code, who)
    return _editor(request, who, code, shown["document"])


@router.post("/staff/tariffs/draft", response_class=HTMLResponse)
async def upload_draft(request: Request, file: UploadFile = File(), who: Principal | None = Depends(optional_principal)):
    """A URDB or OWRS file converted into a draft in the editor (nothing is published)."""
    _same_origin(request)
    who = _staff(who)
    try:
        converted = await tariffs_api.convert(request, file, who)
    except Problem as problem:
        listed = list(getattr(problem, "extra", {}).get("problems", []))
        return _editor(request, who, None, "", problem.status_code,
                       error=RequestRefused(problem.detail, code=problem.code), problems=listed)
    checked = staff_api.validate_tariff(staff_api.TariffText(document=converted["document"]), who)
    return _editor(request, who, checked["code"], converted["document"],
                   message=f"{converted['file']} ({converted['format']}) converted to a draft: check it, see its "
                           f"impact, then publish it.", problems=checked["problems"])


@router.post("/staff/tariffs/edit", response_class=HTMLResponse)
def edit_form(request: Request, document: str = Form(max_length=200_000), action: str = Form(max_length=8),
              period_start: str = Form("", max_length=10), period_end: str = Form("", max_length=10),
              effective_from: str = Form("", max_length=10), why: str = Form("", max_length=500),
              confirmed: str = Form("", max_length=8), who: Principal | None = Depends(optional_principal)):
    """check, diff, impact or publish the edited text (publish: first what it will do, then it)."""
    _same_origin(request)
    who = _staff(who)
    form = {"period_start": period_start, "period_end": period_end, "effective_from": effective_from, "why": why}
    checked = staff_api.validate_tariff(staff_api.TariffText(document=document), who) if len(document) >= 10 \
        else {"valid": False, "code": None, "problems": [{"path": "", "code": "empty", "message": "no tariff"}]}
    code = checked["code"]
    try:
        if action not in ("check", "diff", "impact", "publish"):
            raise RequestRefused(f"no action {action!r}")
        if not checked["valid"]:
            return _editor(request, who, code, document, 422, problems=checked["problems"], form=form,
                           error=RequestRefused(f"{len(checked['problems'])} problem(s): nothing done",
                                                code="tariff_invalid"))
        if action == "check":
            return _editor(request, who, code, document, message="No problems.", form=form)
        if action == "diff":
            found = staff_api.diff_tariff(request, staff_api.TariffText(document=document), who)
            return _editor(request, who, code, document, diff=found["diff"] or "no differences", form=form)
        if action == "impact":
            body = tariffs_api.Impact(document=document, period_start=date.fromisoformat(period_start),
                                      period_end=date.fromisoformat(period_end))
            found = tariffs_api._impact(request, body)
            return _editor(request, who, code, document, impact=_impact_view(found), form=form)
        body = staff_api.Publish(document=document, why=why,
                                 effective_from=date.fromisoformat(effective_from) if effective_from else None)
        if not who.at_least("supervisor"):
            raise Problem(403, "role_required", "publishing a tariff needs a supervisor")
        if not confirmed:
            found = staff_api.diff_tariff(request, staff_api.TariffText(document=document), who)
            return _editor(request, who, code, document, diff=found["diff"] or "no differences", form=form, confirm={
                "text": f"This will publish tariff {code} as a new revision (the changes below), its newest "
                        f"version taking effect on {checked['versions'][-1]}, because “{why}”; bills of periods "
                        f"from then on are priced by it."})
        done = staff_api.publish_tariff(request, body, who)
    except (Problem, M2CError, ValueError) as error:  # refused: said on the page
        refused = refusal(error)
        return _editor(request, who, code, document, refused.status, error=refused, form=form)
    return _editor(request, who, code, document, message=f"Tariff {code} published as revision {done['revision']}.")


def _impact_view(found: dict) -> dict:
    top = max((b["bills"] for b in found["histogram"]), default=0) or 1
    bars = [{**b, "width": round(300 * b["bills"] / top)} for b in found["histogram"]]
    return {**found, "bars": bars}
