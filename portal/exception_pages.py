"""Staff pages for the VEE exception queue: the queue (by status, rule, severity, account, meter and age;
sorted; a page with the total) with one action on the whole filtered set, and one exception with its
evidence — the block's intervals against the meter's like days, the flagged slots marked — and its
actions by role, each with a reason and shown first as what it will change. The data and the actions
are the staff API's (``portal.staff_api``)."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from config.errors import M2CError
from portal import staff_api
from portal.auth import Principal
from portal.deps import optional_principal
from portal.errors import RequestRefused
from portal.order_pages import _local
from portal.pages import _page, _same_origin, _staff, refusal
from portal.problems import Problem
from portal.usage_chart import nice_top
from storage.db_errors import first_line

router = APIRouter(include_in_schema=False)
PAGE = 25
STATUSES = ("open", "accepted", "released", "overridden", "estimated", "all")
SEVERITIES = ("information", "issue", "blocks_billing")
SORTS = ("oldest", "newest", "severity", "meter")
FILTERS = ("status", "rule", "severity", "account_no", "meter_no", "older_than_days", "sort")
EFFECT = {"accept": "accept exception {id}: it leaves the queue and its {flagged} flagged reads stay as stored",
          "release": "release exception {id} to billing: its {flagged} flagged reads are billed as stored",
          "reestimate": "re-estimate the {flagged} flagged reads of exception {id} by the VEE rules (the meter's "
                        "like days) and close it; the old values are kept",
          "reopen": "reopen exception {id}: it returns to the queue as open",
          "override": "store {count} edited reads for exception {id} and close it: {changes}; the old values are "
                      "kept"}
ROLE = {"accept": "clerk", "release": "supervisor", "reestimate": "supervisor", "reopen": "supervisor",
        "override": "supervisor"}


def _chosen(params: dict) -> dict:
    """The queue's filters from the page's query, checked as the API checks them."""
    chosen = {k: (params.get(k) or "").strip() for k in FILTERS}
    if chosen["status"] not in ("", *STATUSES) or chosen["severity"] not in ("", *SEVERITIES) \
            or chosen["sort"] not in ("", *SORTS) or not (chosen["older_than_days"] or "1").isdigit():
        raise Problem(422, "bad_filter", "no such status, severity, sort or age")
    return chosen


def _api_filters(chosen: dict) -> dict:
    return {"status": chosen["status"] or "open", "rule": chosen["rule"] or None,
            "severity": chosen["severity"] or None, "account_no": chosen["account_no"] or None,
            "meter_no": chosen["meter_no"] or None,
            "older_than_days": int(chosen["older_than_days"]) if chosen["older_than_days"] else None}


def _queue_page(request: Request, who: Principal, chosen: dict, offset: int = 0, status: int = 200,
                message: str | None = None, error: M2CError | None = None, confirm: dict | None = None):
    filters = _api_filters(chosen)
    found = staff_api.exceptions(request, who, filters["status"], filters["rule"], filters["severity"],
                                 filters["account_no"], filters["meter_no"], PAGE, offset, chosen["sort"] or "oldest",
                                 filters["older_than_days"])
    zone = request.app.state.settings.utility_zone

    def page_url(at: int) -> str:
        return "/staff/exceptions?" + urlencode({**chosen, "offset": max(0, at)})

    rows = [{**e, "block_start": _local(e["block_start"], zone)} for e in found["exceptions"]]
    return _page(request, "staff_exceptions.html", who, status, title="VEE exceptions", exceptions=rows,
                 total=found["total"], offset=offset, limit=PAGE, chosen=chosen, statuses=STATUSES,
                 severities=SEVERITIES, sorts=SORTS, page_url=page_url, message=message, confirm=confirm,
                 can_release=who.at_least("supervisor"),
                 error=None if error is None else {"code": error.code, "message": first_line(error)})


@router.get("/staff/exceptions", response_class=HTMLResponse)
def queue_page(request: Request, offset: int = Query(0, ge=0, le=10**9),
               who: Principal | None = Depends(optional_principal)):
    return _queue_page(request, _staff(who), _chosen(dict(request.query_params)), offset)


@router.post("/staff/exceptions", response_class=HTMLResponse)
async def bulk_form(request: Request, who: Principal | None = Depends(optional_principal)):
    """One action on every exception the filters match: first what it would change, then (confirmed) it."""
    _same_origin(request)
    who = _staff(who)
    form = await request.form()
    chosen = _chosen({k: str(form.get(k, ""))[:64] for k in FILTERS})
    action, why = str(form.get("action", ""))[:16], str(form.get("why", ""))[:500]
    try:
        body = staff_api.Bulk(action=action, why=why, apply=bool(form.get("confirmed")), **_api_filters(chosen))
        done = staff_api.bulk(request, body, who)
    except (Problem, M2CError, ValueError) as error:  # refused: said on the page
        refused = refusal(error)
        return _queue_page(request, who, chosen, status=refused.status, error=refused)
    if not done["applied"]:
        if not done["matching"]:
            return _queue_page(request, who, chosen, message="No exception matches: nothing to do.")
        return _queue_page(request, who, chosen, confirm={"text": f"This will {done['will']}.", "action": action,
                                                          "why": why})
    return _queue_page(request, who, chosen, message=f"{done['moved']:,} exceptions {action}ed.")


def chart(evidence: dict, width_per_slot: int = 10) -> dict:
    """The block's slots as bars (flagged ones marked) against the like days' mean as a line."""
    slots = evidence["slots"]
    values = [Decimal(s["value"]) for s in slots if s["value"] is not None]
    values += [Decimal(str(s["like_day_mean"])) for s in slots if s["like_day_mean"] is not None]
    top = nice_top(max(values, default=Decimal(0)))
    left, plot_h, top_y = 56, 140, 14

    def y(value) -> float:
        return round(top_y + plot_h - float(Decimal(str(value)) / top) * plot_h, 1)

    bars, line = [], []
    for k, s in enumerate(slots):
        x = left + k * width_per_slot
        if s["value"] is not None:
            at = min(y(s["value"]), top_y + plot_h - 2)  # a negative read: a sliver on the axis, flagged
            bars.append({"x": x, "y": at, "h": round(top_y + plot_h - at, 1),
                         "flagged": bool(s["flags"]), "title": f"{s['start'][11:16]}: {s['value']}"
                         + (f" (like days {s['like_day_mean']})" if s["like_day_mean"] is not None else "")
                         + (" — flagged" if s["flags"] else "")})
        if s["like_day_mean"] is not None:
            line.append(f"{x + width_per_slot / 2},{y(s['like_day_mean'])}")
    ticks = [{"y": y(top * k / 4), "label": f"{top * k / 4:,.0f}"} for k in range(5)]
    labels = [{"x": left + k * width_per_slot, "text": s["start"][11:16]} for k, s in enumerate(slots)
              if k % max(1, len(slots) // 6) == 0]
    return {"width": left + len(slots) * width_per_slot + 10, "height": top_y + plot_h + 24, "left": left,
            "bottom": top_y + plot_h, "slot_w": width_per_slot - 1, "bars": bars, "line": " ".join(line),
            "ticks": ticks, "labels": labels}


def _exception_page(request: Request, who: Principal, exception_id: int, status: int = 200,
                    message: str | None = None, error: M2CError | None = None, confirm: dict | None = None):
    shown = staff_api.exception(request, exception_id, who)
    zone = request.app.state.settings.utility_zone
    history = [{**h, "at": _local(h["at"], zone)} for h in shown["history"]]
    actions = [a for a, role in ROLE.items() if who.at_least(role)
               and (a == "reopen") == (shown["status"] != "open")]
    return _page(request, "staff_exception.html", who, status, title=f"Exception {exception_id}", e=shown,
                 chart=chart(shown["evidence"]), history=history, actions=actions, message=message,
                 confirm=confirm, block_start=_local(shown["block_start"], zone),
                 error=None if error is None else {"code": error.code, "message": first_line(error)})


@router.get("/staff/exceptions/{exception_id}", response_class=HTMLResponse)
def exception_page(request: Request, exception_id: int = Path(ge=1, le=2**62),
                   who: Principal | None = Depends(optional_principal)):
    return _exception_page(request, _staff(who), exception_id)


def _edits(text: str, slots: int) -> dict[int, int]:
    """``slot=value`` pairs, one per line or comma (slots counted from 1 as on the chart)."""
    edits = {}
    for part in text.replace(",", "\n").splitlines():
        if not part.strip():
            continue
        slot, _, value = part.partition("=")
        if not (slot.strip().isdigit() and value.strip().lstrip("-").isdigit()) or not 1 <= int(slot) <= slots:
            raise RequestRefused(f"{part.strip()!r} is not slot=value with a slot from 1 to {slots}",
                                 code="bad_override")
        edits[int(slot) - 1] = int(value)
    if not edits:
        raise RequestRefused("give at least one slot=value", code="bad_override")
    return edits


@router.post("/staff/exceptions/{exception_id}", response_class=HTMLResponse)
def exception_form(request: Request, exception_id: int = Path(ge=1, le=2**62), action: str = Form(max_length=16),
                   why: str = Form(max_length=500), values: str = Form("", max_length=20_000),
                   confirmed: str = Form("", max_length=8), who: Principal | None = Depends(optional_principal)):
    """First what the action will change, then (confirmed) the action."""
    _same_origin(request)
    who = _staff(who)
    try:
        if action not in ROLE:
            raise RequestRefused(f"no action {action!r}")
        shown = staff_api.exception(request, exception_id, who)
        edits = _edits(values, len(shown["values"])) if action == "override" else {}
        if not confirmed:
            changes = ", ".join(f"slot {k + 1} {shown['values'][k]} → {v}" for k, v in sorted(edits.items()))
            text = EFFECT[action].format(id=exception_id, flagged=shown["flagged_count"], count=len(edits),
                                         changes=changes)
            return _exception_page(request, who, exception_id, confirm={
                "text": f"This will {text}.", "fields": {"action": action, "why": why, "values": values}})
        if action == "override":
            staff_api.override(request, staff_api.Override(why=why, values=edits), exception_id, who)
        else:
            staff_api.act(request, action, staff_api.Action(why=why), exception_id, who)
    except (Problem, M2CError, ValueError) as error:  # refused: said on the page
        refused = refusal(error)
        return _exception_page(request, who, exception_id, refused.status, error=refused)
    return _exception_page(request, who, exception_id, message=f"Exception {exception_id}: {action} done.")
